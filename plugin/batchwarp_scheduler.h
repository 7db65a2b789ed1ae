/*
 * The scheduler of a batch: which task runs next and with how many threads,
 * and what becomes of a task once an attempt of it ends. It knows tasks
 * only by index and size, so it is driven by fake outcomes in the unit
 * tests; batchwarp_lib.c turns its answers into pool tasks and reports.
 *
 * - Order: largest first (ties in index order), so that a big file never
 *   starts last while the other workers sit idle.
 * - Retries: a failed attempt goes on a stack, served before new tasks, so
 *   that it runs again on a fresh worker while the batch still has others
 *   to overlap it with; at most nRetries times.
 * - Tail threads: while there is a task for every idle worker each runs
 *   single-threaded; the last tasks share the free thread budget (see
 *   BWThreadsForNextTask()).
 * - Tasks ahead: a busy worker may hold one queued task, taken only while
 *   more tasks wait than there are workers (never in the tail, where it
 *   could keep a task from a worker that is idle).
 * - Interruptions: once the batch is stopping, a lost or interrupted
 *   attempt is counted as stopped, not reported: a rerun will do it.
 */
#ifndef BATCHWARP_SCHEDULER_H_INCLUDED
#define BATCHWARP_SCHEDULER_H_INCLUDED

#include <cpl_port.h>

typedef struct
{
    int nRetries;      /* further attempts after a failed one */
    int nWorkers;      /* workers of the pool */
    int bTailThreads;  /* give idle cores to the last tasks */
    int nThreadBudget; /* threads all running tasks may use together */
    /* Most workers of the pool while tasks wait on I/O; beyond the thread
     * budget, tasks then run on one thread each (0: nWorkers). */
    int nMaxWorkers;
} BWSchedulerOptions;

/* How an attempt ended. */
typedef enum
{
    BW_ATTEMPT_OK,          /* the worker replied: success */
    BW_ATTEMPT_FAILED,      /* the worker replied: failure */
    BW_ATTEMPT_LOST,        /* no reply: the worker died, timed out or broke the protocol */
    BW_ATTEMPT_INTERRUPTED, /* killed by the stop of the batch */
    BW_ATTEMPT_NOT_STARTED  /* queued behind another task, never started */
} BWAttemptEnd;

/* What to do with the task now. */
typedef enum
{
    BW_VERDICT_REPORT,   /* final: report it (success or failure) */
    BW_VERDICT_RETRY,    /* it will be handed out again */
    BW_VERDICT_REQUEUED, /* never started: handed out again, not an attempt */
    BW_VERDICT_STOPPED   /* the batch is stopping: not reported */
} BWVerdict;

typedef struct BWScheduler BWScheduler;

/* A scheduler for task indices 0 .. nItems-1; none is to run until added. */
BWScheduler *BWSchedulerNew(const BWSchedulerOptions *psOptions, int nItems);
void BWSchedulerFree(BWScheduler *psSched);

/* Adds a task to run, with its size in bytes (0 when unknown). */
void BWSchedulerAdd(BWScheduler *psSched, int iItem, GIntBig nSize);

/* Hands out the next task: returns TRUE with *piItem and *pnThreads, or
 * FALSE when none should start now (none left, or the tail's threads are
 * all held). bAhead: the task would wait behind a busy worker's current
 * one; declined in the tail. */
int BWSchedulerNext(BWScheduler *psSched, int bAhead, int *piItem, int *pnThreads);

/* A task handed out ahead started (the one before it on its worker
 * ended): from now on it holds its thread. */
void BWSchedulerStarted(BWScheduler *psSched, int iItem);

/* An attempt of a task handed out ended. bStopping: the batch is stopping. */
BWVerdict BWSchedulerDone(BWScheduler *psSched, int iItem, BWAttemptEnd eEnd, int bStopping);

/* Attempts of a task handed out so far (the current one included). */
int BWSchedulerAttempts(const BWScheduler *psSched, int iItem);
/* Threads of the task's current (or last) attempt. */
int BWSchedulerThreads(const BWScheduler *psSched, int iItem);
/* Tasks handed out whose attempt has not ended. */
int BWSchedulerRunning(const BWScheduler *psSched);
/* Tasks left unreported because the batch stopped. */
int BWSchedulerStopped(const BWScheduler *psSched);

#endif
