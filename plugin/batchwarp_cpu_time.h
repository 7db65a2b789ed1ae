/*
 * What a worker did with a task's wall time: on a CPU, or waiting for one,
 * which tells a task starved of CPU from one waiting on I/O (see
 * batchwarp_concurrency).
 */
#ifndef BATCHWARP_CPU_TIME_H
#define BATCHWARP_CPU_TIME_H

/* CPU time of the whole process (every thread), in seconds. */
double BWProcessCPUSeconds(void);

/* Seconds the main thread (BWRunQueueSeconds) or the calling thread
 * (BWThreadRunQueueSeconds) waited for a CPU while runnable; 0 where the
 * kernel keeps no such count. */
double BWRunQueueSeconds(void);
double BWThreadRunQueueSeconds(void);

#endif
