/*
 * A pool of worker processes, modelled on git's run_processes_parallel():
 * this module alone owns the children; callers hand it tasks through a
 * callback and get one outcome per task back.
 *
 * Workers are started with posix_spawn() (never a bare fork() of a process
 * that has initialised GDAL) and talk over a socketpair using the framed
 * protocol of batchwarp_protocol.h. A worker that dies or hangs costs only
 * its current task: the pool reports it and starts a fresh worker.
 *
 * Each worker slot is in one of five states:
 *   empty     no process;
 *   starting  spawned and sent INIT, READY not yet received, no task;
 *   idle      READY (or a task done), no task;
 *   busy      running a task, and possibly holding one queued task behind it;
 *   exiting   let go (end of its channel), failed or killed: it is reaped
 *             without blocking (waitpid(WNOHANG) on each turn of the loop,
 *             woken by a pidfd) and killed if still there after
 *             BW_EXIT_GRACE_SECONDS; the tasks it held are reported once it
 *             is reaped, so that no retry ever runs beside a dying attempt.
 * The event loop never waits for one worker: results of the others are
 * read while a worker tears GDAL down.
 */
#ifndef BATCHWARP_POOL_H_INCLUDED
#define BATCHWARP_POOL_H_INCLUDED

#include <signal.h>

#include "batchwarp_concurrency.h"
#include "batchwarp_protocol.h"

/* How long an exiting worker may take before it is killed. */
#define BW_EXIT_GRACE_SECONDS 1.0
/* The longest the loop sleeps when a stop request or a tick must be seen. */
#define BW_TICK_SECONDS 0.2

typedef struct
{
    const BWMessage *psReply; /* the worker's RESULT, or NULL when it gave none */
    const char *pszFailure;   /* why there is no reply, when psReply is NULL */
    int bInterrupted;         /* the task was stopped by pbStopRequested */
    /* The task was queued behind another and never started: the worker
     * was lost first (then it should run again, not counting as an
     * attempt), or the batch was stopped (bInterrupted too). */
    int bNotStarted;
    int nWorkerPid;
    /* Reported as its worker was reaped: every reply it sent is read, so
     * what it left in its files is no other task's to publish. Not so for a
     * task handed back because it could not be sent (bNotStarted): replies
     * of that worker may still be unread. */
    int bWorkerReaped;
    double dfSeconds; /* wall time from the task's start to its outcome */
} BWTaskOutcome;

/* Returns TRUE and sets *ppapszFields (ownership passes to the pool) and
 * *pTaskCookie to hand out a task, FALSE when none is available now. It is
 * asked again after every outcome, so a task may be queued again (retry).
 * bAhead is TRUE when the task would wait in a busy worker's queue behind
 * its current one (see nQueuedPerWorker): the caller may decline then. */
typedef int (*BWPoolNextTaskFn)(void *pUser, int bAhead, void **ppTaskCookie, char ***ppapszFields);
/* Called exactly once for every task handed out, with what came of it. */
typedef void (*BWPoolTaskDoneFn)(void *pUser, void *pTaskCookie, const BWTaskOutcome *psOutcome);
/* A worker could not be started for a task just handed out: the task never
 * ran and is not passed to pfnDone. The pool then stops (BWPoolRun returns
 * FALSE with pszError). */
typedef void (*BWPoolStartFailedFn)(void *pUser, void *pTaskCookie, const char *pszError);
typedef void (*BWPoolTickFn)(void *pUser);
/* A task queued behind another starts: the worker replied to the one before
 * (called before pfnDone of that one). */
typedef void (*BWPoolTaskStartedFn)(void *pUser, void *pTaskCookie);

/* Workers spawned ahead of a run, e.g. while the caller builds its plan:
 * each loads GDAL's libraries meanwhile and waits for its INIT, which the
 * pool sends when it takes the worker as one it would have started. */
typedef struct BWPrestarted BWPrestarted;
/* Spawns up to nWorkers (fewer if a spawn fails: the pool then starts its
 * own and reports why that fails). */
BWPrestarted *BWPoolPrestart(const char *pszWorkerPath, int nWorkers);
/* Kills and reaps those beyond the first nKeep that no pool took yet. */
void BWPoolPrestartedKeep(BWPrestarted *psPre, int nKeep);
/* Kills and reaps the workers no pool took (they were never sent INIT and
 * hold nothing), and frees. NULL is allowed. */
void BWPoolPrestartedFree(BWPrestarted *psPre);

/* Everything a run of the pool needs, like git's run_process_parallel_opts. */
typedef struct
{
    const char *pszWorkerPath;    /* executable; run as: path --worker-fd 3 */
    int nWorkers;                 /* at most this many live children at once */
    int nMaxTasksPerWorker;       /* recycle a worker after this many tasks; 0 = never */
    double dfTaskTimeout;         /* seconds from the task's start; 0 = none */
    CSLConstList papszInitFields; /* payload of the INIT message */
    /* Tasks a busy worker may hold queued behind its current one (0 or 1):
     * it starts the next one without waiting for the supervisor. */
    int nQueuedPerWorker;
    /* When it becomes non-zero (e.g. from a signal handler), no new task is
     * handed out, running workers are killed and their tasks reported as
     * interrupted. May be NULL. */
    volatile sig_atomic_t *pbStopRequested;
    /* Replace a worker whose resident memory passed this many kB after a
     * task (from the RSS_KB field of its RESULT); 0 = never. */
    long nMaxResidentKB;
    /* Seconds an exiting worker is given before it is killed; 0 means
     * BW_EXIT_GRACE_SECONDS. */
    double dfExitGrace;
    /* When set, the number of live workers follows its target instead of
     * nWorkers (between its nCores and nMax): the pool feeds it each
     * RESULT's CPU_SECONDS, RUNQUEUE_SECONDS, SECONDS and WAITED_SECONDS, and lets idle
     * workers above the target go. May be NULL. */
    BWConcurrency *psConcurrency;
    /* Workers to take, before spawning any, when a worker is to start
     * (they must run pszWorkerPath). May be NULL. */
    BWPrestarted *psPrestarted;
    BWPoolNextTaskFn pfnNext;
    BWPoolTaskDoneFn pfnDone;
    BWPoolStartFailedFn pfnStartFailed;
    BWPoolTaskStartedFn pfnStarted; /* may be NULL */
    /* Called at least every BW_TICK_SECONDS while tasks run, e.g. to let a
     * progress callback cancel the batch by setting *pbStopRequested. May
     * be NULL. */
    BWPoolTickFn pfnTick;
    void *pUser; /* passed to every callback */
} BWPoolOptions;

/* Runs until no task is available and none is running, and every worker is
 * reaped. Returns FALSE with *ppszError when the pool itself cannot work
 * (e.g. the worker executable cannot be started); outcomes already reported
 * stay valid. */
int BWPoolRun(const BWPoolOptions *psOptions, char **ppszError);

/* "killed by signal SIGSEGV (Segmentation fault)", "exited with status 3". */
char *BWDescribeWaitStatus(int nStatus);

#endif
