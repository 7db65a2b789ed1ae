/*
 * A pool of worker processes, modelled on git's run_processes_parallel():
 * this module alone owns the children; callers hand it tasks through a
 * callback and get one outcome per task back.
 *
 * Workers are started with posix_spawn() (never a bare fork() of a process
 * that has initialised GDAL) and talk over a socketpair using the framed
 * protocol of batchwarp_protocol.h. A worker that dies or hangs costs only
 * its current task: the pool reports it and starts a fresh worker.
 */
#ifndef BATCHWARP_POOL_H_INCLUDED
#define BATCHWARP_POOL_H_INCLUDED

#include <signal.h>

#include "batchwarp_protocol.h"

typedef struct
{
    const char *pszWorkerPath;    /* executable; run as: path --worker-fd 3 */
    int nWorkers;                 /* at most this many children at once */
    int nMaxTasksPerWorker;       /* recycle a worker after this many tasks; 0 = never */
    double dfTaskTimeout;         /* seconds; 0 = none */
    CSLConstList papszInitFields; /* payload of the INIT message */
    /* When it becomes non-zero (e.g. from a signal handler), no new task is
     * handed out, running workers are killed and their tasks reported as
     * interrupted. May be NULL. */
    volatile sig_atomic_t *pbStopRequested;
    /* Replace a worker whose resident memory passed this many kB after a
     * task (from the RSS_KB field of its RESULT); 0 = never. */
    long nMaxResidentKB;
    /* Called at least every 200 ms while tasks run, e.g. to let a progress
     * callback cancel the batch by setting *pbStopRequested. May be NULL. */
    void (*pfnTick)(void *pTickData);
    void *pTickData;
} BWPoolOptions;

typedef struct
{
    const BWMessage *psReply; /* the worker's RESULT, or NULL when it gave none */
    const char *pszFailure;   /* why there is no reply, when psReply is NULL */
    int bInterrupted;         /* the task was stopped by pbStopRequested */
    int nWorkerPid;
    double dfSeconds; /* wall time from dispatch to outcome */
} BWTaskOutcome;

/* Returns TRUE and sets *ppapszFields (ownership passes to the pool) and
 * *pTaskCookie to hand out a task, FALSE when none is available now. It is
 * asked again after every outcome, so a task may be queued again (retry). */
typedef int (*BWPoolNextTaskFn)(void *pUser, void **ppTaskCookie, char ***ppapszFields);
typedef void (*BWPoolTaskDoneFn)(void *pUser, void *pTaskCookie, const BWTaskOutcome *psOutcome);

/* Runs until no task is available and none is running. Returns FALSE with
 * *ppszError when the pool itself cannot work (e.g. the worker executable
 * cannot be started); outcomes already reported stay valid. */
int BWPoolRun(const BWPoolOptions *psOptions, BWPoolNextTaskFn pfnNext, BWPoolTaskDoneFn pfnDone,
              void *pUser, char **ppszError);

/* "killed by signal SIGSEGV (Segmentation fault)", "exited with status 3". */
char *BWDescribeWaitStatus(int nStatus);

#endif
