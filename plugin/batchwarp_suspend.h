/*
 * The time this process did not run: stopped with its process group
 * (SIGSTOP, Ctrl-Z, a job scheduler suspending the job), then continued.
 * The monotonic clock runs on meanwhile, so a deadline measured on it alone
 * takes such a stop for the task's own time (see batchwarp_pool).
 */
#ifndef BATCHWARP_SUSPEND_H_INCLUDED
#define BATCHWARP_SUSPEND_H_INCLUDED

/* Starts watching (starts and stops nest): a thread that looks at the
 * clock every BW_SUSPEND_LOOK_SECONDS, so that a stop is measured wherever
 * the caller was then (in poll(), publishing, writing to a slow reader). */
void BWSuspendWatchStart(void);
void BWSuspendWatchStop(void);

/* Seconds this process has not run since the first watch started (never
 * less than before; 0 while nothing watches). */
double BWSuspendedSeconds(void);

#endif
