/* A worker's CPU time and run-queue time: see batchwarp_cpu_time.h. */
#include <stdio.h>
#include <time.h>

#include "batchwarp_cpu_time.h"

/* CPU time of the whole process (every thread), in seconds. */
double BWProcessCPUSeconds(void)
{
    struct timespec sTs;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &sTs) != 0)
        return 0;
    return (double)sTs.tv_sec + (double)sTs.tv_nsec / 1e9;
}

/* How long the main thread waited for a CPU while runnable (the second
 * field of /proc/self/schedstat), in seconds; 0 where the kernel keeps no
 * such count. It tells a task starved of CPU, which more workers would not
 * help, from one waiting on I/O. */
static double RunQueueSecondsOf(const char *pszSchedstat)
{
    FILE *fp = fopen(pszSchedstat, "r");
    unsigned long long nOnCPU = 0;
    unsigned long long nWaiting = 0;
    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%llu %llu", &nOnCPU, &nWaiting) != 2)
        nWaiting = 0;
    fclose(fp);
    return (double)nWaiting / 1e9;
}

double BWRunQueueSeconds(void)
{
    return RunQueueSecondsOf("/proc/self/schedstat");
}

/* The same for the calling thread (the prefetch's). */
double BWThreadRunQueueSeconds(void)
{
    return RunQueueSecondsOf("/proc/thread-self/schedstat");
}
