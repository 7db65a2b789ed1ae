#include "batchwarp_pool.h"
#include "batchwarp_suspend.h"
#include "batchwarp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

extern char **environ;

/* The descriptor number a worker finds its channel on. */
#define BW_WORKER_FD 3
/* Bytes read from a worker's channel at a time. */
#define BW_READ_CHUNK 65536
/* How long a task sent to a worker that is not yet READY may wait for it,
 * beyond the task timeout (the task's clock starts at READY). */
#define BW_STARTUP_ALLOWANCE_SECONDS 60.0
/* Without a pidfd (old kernels), how often an exiting worker is looked at. */
#define BW_REAP_POLL_SECONDS 0.002
/* The longest poll() wait: timeouts further away are waited for in steps. */
#define BW_MAX_POLL_SECONDS 3600.0
/* A task in a slot: the running one, then at most one queued behind it. */
#define BW_MAX_SLOT_TASKS 2

typedef enum
{
    BW_SLOT_EMPTY,
    BW_SLOT_STARTING,
    BW_SLOT_IDLE,
    BW_SLOT_BUSY,
    BW_SLOT_EXITING
} BWSlotState;

/* Why a worker went to the exiting state. */
typedef enum
{
    BW_END_LET_GO,         /* the pool let it go: nothing to report */
    BW_END_DIED,           /* it died or dropped its channel: its wait status says how */
    BW_END_BROKE_PROTOCOL, /* killed: it sent what the protocol does not allow */
    BW_END_TIMED_OUT,      /* killed: its task ran past the timeout */
    BW_END_INTERRUPTED,    /* killed: the batch is being stopped */
    BW_END_RECYCLED        /* killed: to be replaced, and holding a queued task */
} BWEndReason;

typedef struct
{
    void *pCookie;
    double dfSent;  /* when it was sent */
    double dfStart; /* when it started; 0 while queued or the worker is not ready */
    int bQueued;    /* sent behind another task, which has not finished */
} BWSlotTask;

typedef struct
{
    BWSlotState eState;
    pid_t nPid;
    int fd;    /* supervisor end of the socketpair; -1 once the worker closed it */
    int fdPid; /* pidfd, readable once the process ended; -1 if unavailable */
    BWFrameDecoder *psDecoder;
    int nTasksDone;
    int bReady; /* its READY came */
    BWSlotTask asTasks[BW_MAX_SLOT_TASKS];
    int nTasks;
    /* exiting */
    BWEndReason eEnd;
    char *pszEndDetail; /* what broke the protocol */
    double dfDeadline;  /* kill it if it is still there then */
    int bKilled;
} BWWorkerSlot;

typedef struct
{
    const BWPoolOptions *psOptions;
    BWWorkerSlot *pasSlots;
    int nSlots; /* live workers plus those still exiting */
    struct pollfd *pasPoll;
    int *panPollSlot;
    int bStopping;  /* stop request or failure seen: hand out nothing more */
    char *pszError; /* why the pool itself failed */
    /* The most workers the system let start (see FeedSlot), or 0. */
    int nMostWorkers;
    double dfSuspendedSeen; /* BWSuspendedSeconds() the deadlines account for */
} BWPool;

char *BWDescribeWaitStatus(int nStatus)
{
    if (WIFSIGNALED(nStatus))
    {
        const int nSig = WTERMSIG(nStatus);
        const char *pszAbbrev = sigabbrev_np(nSig);
        return CPLStrdup(CPLSPrintf("killed by signal SIG%s (%s)", pszAbbrev ? pszAbbrev : "?",
                                    strsignal(nSig)));
    }
    if (WIFEXITED(nStatus))
        return CPLStrdup(CPLSPrintf("exited with status %d", WEXITSTATUS(nStatus)));
    return CPLStrdup("ended for an unknown reason");
}

/* Frees what the slot holds (its process must be reaped) and empties it. */
static void ResetSlot(BWWorkerSlot *psSlot)
{
    if (psSlot->fd >= 0)
        close(psSlot->fd);
    if (psSlot->fdPid >= 0)
        close(psSlot->fdPid);
    BWFrameDecoderFree(psSlot->psDecoder);
    CPLFree(psSlot->pszEndDetail);
    memset(psSlot, 0, sizeof(*psSlot));
    psSlot->eState = BW_SLOT_EMPTY;
    psSlot->fd = -1;
    psSlot->fdPid = -1;
}

static int StopRequested(const BWPool *psPool)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    return psPool->bStopping || (psOptions->pbStopRequested && *psOptions->pbStopRequested);
}

static int MoveAbove(int fd, int nMin)
{
    if (fd >= nMin)
        return fd;
    const int fdNew = fcntl(fd, F_DUPFD_CLOEXEC, nMin);
    close(fd);
    return fdNew;
}

/* Spawns a worker (path --worker-fd 3): its pid and the supervisor's end of
 * its channel. It loads GDAL's libraries, then waits for INIT. */
static int SpawnWorker(const char *pszWorkerPath, pid_t *pnPid, int *pfd, char **ppszError)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
        const int nErr = errno;
        *ppszError = CPLStrdup(CPLSPrintf("cannot create a worker channel: %s", strerror(nErr)));
        errno = nErr;
        return FALSE;
    }
    /* dup2(fd, fd) would keep FD_CLOEXEC set, so the child end must not
     * already sit on the target number. */
    sv[1] = MoveAbove(sv[1], BW_WORKER_FD + 1);

    posix_spawn_file_actions_t sActions;
    posix_spawn_file_actions_init(&sActions);
    posix_spawn_file_actions_adddup2(&sActions, sv[1], BW_WORKER_FD);
    /* stdout belongs to the supervisor's caller (reports, output lists in
     * pipelines); anything a driver prints goes to stderr instead. */
    posix_spawn_file_actions_adddup2(&sActions, STDERR_FILENO, STDOUT_FILENO);

    posix_spawnattr_t sAttr;
    posix_spawnattr_init(&sAttr);
    sigset_t sEmpty;
    sigemptyset(&sEmpty);
    posix_spawnattr_setsigmask(&sAttr, &sEmpty);
    posix_spawnattr_setflags(&sAttr, POSIX_SPAWN_SETSIGMASK);

    char szFd[16];
    snprintf(szFd, sizeof(szFd), "%d", BW_WORKER_FD);
    char *apszArgv[] = {(char *)pszWorkerPath, (char *)"--worker-fd", szFd, NULL};
    pid_t nPid = 0;
    const int nErr = posix_spawn(&nPid, pszWorkerPath, &sActions, &sAttr, apszArgv, environ);
    posix_spawn_file_actions_destroy(&sActions);
    posix_spawnattr_destroy(&sAttr);
    close(sv[1]);
    if (nErr != 0)
    {
        close(sv[0]);
        *ppszError =
            CPLStrdup(CPLSPrintf("cannot start worker %s: %s", pszWorkerPath, strerror(nErr)));
        errno = nErr;
        return FALSE;
    }
    *pnPid = nPid;
    *pfd = sv[0];
    return TRUE;
}

struct BWPrestarted
{
    int nCount;   /* spawned */
    int nAdopted; /* the first nAdopted belong to a pool now */
    pid_t *panPid;
    int *panFd;
};

BWPrestarted *BWPoolPrestart(const char *pszWorkerPath, int nWorkers)
{
    BWPrestarted *psPre = CPLCalloc(1, sizeof(BWPrestarted));
    psPre->panPid = CPLCalloc((size_t)(nWorkers > 0 ? nWorkers : 1), sizeof(pid_t));
    psPre->panFd = CPLCalloc((size_t)(nWorkers > 0 ? nWorkers : 1), sizeof(int));
    for (int i = 0; i < nWorkers; ++i)
    {
        char *pszError = NULL;
        /* A failure is the pool's to report, when it starts a worker itself. */
        if (!SpawnWorker(pszWorkerPath, &psPre->panPid[psPre->nCount], &psPre->panFd[psPre->nCount],
                         &pszError))
        {
            CPLFree(pszError);
            break;
        }
        psPre->nCount++;
    }
    return psPre;
}

void BWPoolPrestartedKeep(BWPrestarted *psPre, int nKeep)
{
    if (psPre == NULL)
        return;
    if (nKeep < psPre->nAdopted)
        nKeep = psPre->nAdopted;
    /* Never sent INIT: they hold nothing (no GDAL state, no file), so they
     * are killed rather than waited for while they finish loading. */
    for (int i = nKeep; i < psPre->nCount; ++i)
    {
        close(psPre->panFd[i]);
        kill(psPre->panPid[i], SIGKILL);
    }
    for (int i = nKeep; i < psPre->nCount; ++i)
    {
        while (waitpid(psPre->panPid[i], NULL, 0) < 0 && errno == EINTR)
        {
        }
    }
    if (nKeep < psPre->nCount)
        psPre->nCount = nKeep;
}

void BWPoolPrestartedFree(BWPrestarted *psPre)
{
    if (psPre == NULL)
        return;
    BWPoolPrestartedKeep(psPre, 0);
    CPLFree(psPre->panPid);
    CPLFree(psPre->panFd);
    CPLFree(psPre);
}

/* Starts a worker in an empty slot, which becomes starting: one spawned
 * ahead (see BWPoolPrestart) while there is one, else a new one. */
static int StartWorker(BWPool *psPool, BWWorkerSlot *psSlot)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    BWPrestarted *psPre = psOptions->psPrestarted;
    pid_t nPid = 0;
    int fd = -1;
    if (psPre != NULL && psPre->nAdopted < psPre->nCount)
    {
        nPid = psPre->panPid[psPre->nAdopted];
        fd = psPre->panFd[psPre->nAdopted];
        psPre->nAdopted++;
    }
    else if (!SpawnWorker(psOptions->pszWorkerPath, &nPid, &fd, &psPool->pszError))
        return FALSE;
    ResetSlot(psSlot);
    psSlot->eState = BW_SLOT_STARTING;
    psSlot->nPid = nPid;
    psSlot->fd = fd;
    /* Not yet reaped, so the pid is still this child's. */
    psSlot->fdPid = pidfd_open(nPid, 0);
    psSlot->psDecoder = BWFrameDecoderNew();
    char *pszError = NULL;
    /* A worker that died at once is found by the loop, which reports it. */
    BWMessageWrite(psSlot->fd, BW_MSG_INIT, psOptions->papszInitFields, &pszError);
    CPLFree(pszError);
    return TRUE;
}

/* Moves a worker to the exiting state: its channel is shut for writing (end
 * of stream, which lets a healthy worker go) and, unless it is merely let go
 * or died by itself, it is killed. The tasks it holds are reported when it
 * is reaped. */
static double ExitGrace(const BWPool *psPool)
{
    const double dfGrace = psPool->psOptions->dfExitGrace;
    return dfGrace > 0 ? dfGrace : BW_EXIT_GRACE_SECONDS;
}

static void EndWorker(BWPool *psPool, BWWorkerSlot *psSlot, BWEndReason eEnd, const char *pszDetail)
{
    if (psSlot->eState == BW_SLOT_EXITING || psSlot->eState == BW_SLOT_EMPTY)
        return;
    psSlot->eState = BW_SLOT_EXITING;
    psSlot->eEnd = eEnd;
    psSlot->pszEndDetail = pszDetail ? CPLStrdup(pszDetail) : NULL;
    psSlot->dfDeadline = BWMonotonicSeconds() + ExitGrace(psPool);
    if (eEnd != BW_END_LET_GO && eEnd != BW_END_DIED)
    {
        kill(psSlot->nPid, SIGKILL);
        psSlot->bKilled = TRUE;
    }
    if (psSlot->fd >= 0)
        shutdown(psSlot->fd, SHUT_WR);
}

static void ReportTask(BWPool *psPool, const BWWorkerSlot *psSlot, const BWSlotTask *psTask,
                       const BWMessage *psReply, const char *pszFailure, int bInterrupted,
                       int bReaped)
{
    BWTaskOutcome sOutcome;
    memset(&sOutcome, 0, sizeof(sOutcome));
    sOutcome.psReply = psReply;
    sOutcome.pszFailure = pszFailure;
    sOutcome.bInterrupted = bInterrupted;
    sOutcome.bWorkerReaped = bReaped;
    sOutcome.bNotStarted = psTask->bQueued;
    sOutcome.nWorkerPid = (int)psSlot->nPid;
    if (!psTask->bQueued)
        sOutcome.dfSeconds =
            BWMonotonicSeconds() - (psTask->dfStart > 0 ? psTask->dfStart : psTask->dfSent);
    psPool->psOptions->pfnDone(psPool->psOptions->pUser, psTask->pCookie, &sOutcome);
}

/* The worker of an exiting slot is reaped: reports the tasks it held. */
static void ReportEnd(BWPool *psPool, BWWorkerSlot *psSlot, int nStatus)
{
    char *pszFailure = NULL;
    switch (psSlot->eEnd)
    {
    case BW_END_LET_GO:
    case BW_END_DIED:
    {
        char *pszStatus = BWDescribeWaitStatus(nStatus);
        pszFailure = CPLStrdup(CPLSPrintf("worker process %d %s", (int)psSlot->nPid, pszStatus));
        CPLFree(pszStatus);
        break;
    }
    case BW_END_BROKE_PROTOCOL:
        pszFailure = CPLStrdup(CPLSPrintf("worker process %d broke the protocol: %s",
                                          (int)psSlot->nPid, psSlot->pszEndDetail));
        break;
    case BW_END_TIMED_OUT:
        pszFailure =
            CPLStrdup(CPLSPrintf("timed out after %g s", psPool->psOptions->dfTaskTimeout));
        break;
    case BW_END_INTERRUPTED:
        pszFailure = CPLStrdup("interrupted");
        break;
    case BW_END_RECYCLED: /* it held only a queued task */
        pszFailure = CPLStrdup("not started");
        break;
    }
    for (int i = 0; i < psSlot->nTasks; ++i)
    {
        const BWSlotTask *psTask = &psSlot->asTasks[i];
        const int bInterrupted = psSlot->eEnd == BW_END_INTERRUPTED;
        ReportTask(psPool, psSlot, psTask, NULL,
                   psTask->bQueued ? (bInterrupted ? "interrupted" : "not started") : pszFailure,
                   bInterrupted, TRUE);
    }
    psSlot->nTasks = 0;
    CPLFree(pszFailure);
}

/* One look at each exiting worker, without blocking: reaped ones are
 * reported and their slot emptied; late ones are killed. */
static void ReapExiting(BWPool *psPool)
{
    const double dfNow = BWMonotonicSeconds();
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState != BW_SLOT_EXITING)
            continue;
        int nStatus = 0;
        pid_t r;
        do
            r = waitpid(psSlot->nPid, &nStatus, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == psSlot->nPid || r < 0)
        {
            ReportEnd(psPool, psSlot, r < 0 ? 0 : nStatus);
            ResetSlot(psSlot);
        }
        else if (dfNow >= psSlot->dfDeadline)
        {
            kill(psSlot->nPid, SIGKILL);
            psSlot->bKilled = TRUE;
            psSlot->dfDeadline = dfNow + ExitGrace(psPool);
        }
    }
}

/*
 * Whether a worker must be replaced after this result: after its task quota
 * (bounds what a leaking driver can accumulate), when its memory grew past
 * the limit, or after a failed task, so that a retry never runs in a process
 * a failure may have left in a bad state.
 */
static int MustRecycle(const BWPool *psPool, const BWWorkerSlot *psSlot, const BWMessage *psResult)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    if (psOptions->nMaxTasksPerWorker > 0 && psSlot->nTasksDone >= psOptions->nMaxTasksPerWorker)
        return TRUE;
    const char *pszRSS = BWMessageGet(psResult, "RSS_KB");
    if (psOptions->nMaxResidentKB > 0 && pszRSS != NULL && atol(pszRSS) > psOptions->nMaxResidentKB)
        return TRUE;
    const char *pszOk = BWMessageGet(psResult, "OK");
    return pszOk == NULL || strcmp(pszOk, "1") != 0;
}

/* The live workers wanted now. */
static int TargetWorkers(const BWPool *psPool)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    const int nTarget = psOptions->psConcurrency != NULL ? psOptions->psConcurrency->nTarget
                        : psOptions->nWorkers > 0        ? psOptions->nWorkers
                                                         : 1;
    return psPool->nMostWorkers > 0 && nTarget > psPool->nMostWorkers ? psPool->nMostWorkers
                                                                      : nTarget;
}

/* A RESULT is a sample of how the task used its wall time. The time its
 * worker waited, before the task began, for the prefetch of its source to
 * finish (WAITED_SECONDS) is waiting on I/O too: without it, a worker whose
 * prefetch only half hides the store's latency looks CPU-bound, and the
 * pool never grows while its cores sit idle. */
static void AddConcurrencySample(const BWPool *psPool, const BWMessage *psResult)
{
    BWConcurrency *psConc = psPool->psOptions->psConcurrency;
    const char *pszWall = BWMessageGet(psResult, "SECONDS");
    const char *pszCPU = BWMessageGet(psResult, "CPU_SECONDS");
    if (psConc == NULL || pszWall == NULL || pszCPU == NULL)
        return;
    const char *pszRunQueue = BWMessageGet(psResult, "RUNQUEUE_SECONDS");
    const char *pszWaited = BWMessageGet(psResult, "WAITED_SECONDS");
    const double dfWaited = pszWaited ? CPLAtof(pszWaited) : 0;
    const int nBefore = psConc->nTarget;
    BWConcurrencyAddSample(psConc, CPLAtof(pszCPU), pszRunQueue ? CPLAtof(pszRunQueue) : 0,
                           CPLAtof(pszWall) + (dfWaited > 0 ? dfWaited : 0));
    if (psConc->nTarget != nBefore)
        CPLDebug("BATCHWARP", "workers: %d -> %d (recent tasks used a CPU %.0f%% of their time)",
                 nBefore, psConc->nTarget, 100 * BWConcurrencyUtilisation(psConc));
}

/* Whether the worker has exited (or been killed), without reaping it: its
 * slot reaps it once its last replies are read. */
static int HasExited(const BWWorkerSlot *psSlot)
{
    siginfo_t sInfo;
    memset(&sInfo, 0, sizeof(sInfo));
    return waitid(P_PID, (id_t)psSlot->nPid, &sInfo, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           sInfo.si_pid == psSlot->nPid;
}

/* The current task of a busy worker has its RESULT. */
static void CompleteTask(BWPool *psPool, BWWorkerSlot *psSlot, const BWMessage *psResult)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    AddConcurrencySample(psPool, psResult);
    psSlot->nTasksDone++;
    const int bRecycle = MustRecycle(psPool, psSlot, psResult);
    const BWSlotTask sDone = psSlot->asTasks[0];
    /* The worker reads its queued task as soon as it has replied, unless it
     * is gone already (killed while idle, its replies read only now): then
     * the task, sent after it died, stays queued and is reported as not
     * started, to run elsewhere, not failed as killed. */
    for (int i = 1; i < psSlot->nTasks; ++i)
        psSlot->asTasks[i - 1] = psSlot->asTasks[i];
    psSlot->nTasks--;
    if (psSlot->nTasks > 0 && !bRecycle && !HasExited(psSlot))
    {
        psSlot->asTasks[0].bQueued = FALSE;
        psSlot->asTasks[0].dfStart = BWMonotonicSeconds();
        if (psOptions->pfnStarted != NULL)
            psOptions->pfnStarted(psOptions->pUser, psSlot->asTasks[0].pCookie);
    }
    else if (psSlot->nTasks == 0)
        psSlot->eState = BW_SLOT_IDLE;
    ReportTask(psPool, psSlot, &sDone, psResult, NULL, FALSE, FALSE);
    /* A worker to replace must not run its queued task: it is killed, and
     * the task, reported as not started, runs elsewhere. */
    if (bRecycle)
        EndWorker(psPool, psSlot, psSlot->nTasks > 0 ? BW_END_RECYCLED : BW_END_LET_GO, NULL);
}

/* Handles one message; returns FALSE when the worker broke the protocol. */
static int HandleMessage(BWPool *psPool, BWWorkerSlot *psSlot, const BWMessage *psMsg)
{
    if (psMsg->eType == BW_MSG_READY && !psSlot->bReady)
    {
        psSlot->bReady = TRUE;
        if (psSlot->eState == BW_SLOT_STARTING)
            psSlot->eState = BW_SLOT_IDLE;
        /* A task sent before the worker was ready starts now: its timeout
         * does not count the worker's start-up. */
        if (psSlot->nTasks > 0)
            psSlot->asTasks[0].dfStart = BWMonotonicSeconds();
        return TRUE;
    }
    if (psMsg->eType != BW_MSG_RESULT || psSlot->eState != BW_SLOT_BUSY)
        return FALSE;
    CompleteTask(psPool, psSlot, psMsg);
    return TRUE;
}

/* Reads what the worker sent. */
static void ServiceWorker(BWPool *psPool, BWWorkerSlot *psSlot)
{
    unsigned char abyBuf[BW_READ_CHUNK];
    ssize_t n;
    do
        n = read(psSlot->fd, abyBuf, sizeof(abyBuf));
    while (n < 0 && errno == EINTR);
    if (n <= 0)
    {
        if (n < 0 && errno == EAGAIN)
            return;
        /* Its end of the channel is closed: it exited or is exiting. */
        close(psSlot->fd);
        psSlot->fd = -1;
        EndWorker(psPool, psSlot, BW_END_DIED, NULL);
        return;
    }
    if (psSlot->eState == BW_SLOT_EXITING)
        return; /* whatever a dying worker says no longer counts */
    BWFrameDecoderFeed(psSlot->psDecoder, abyBuf, (size_t)n);
    while (psSlot->eState != BW_SLOT_EXITING)
    {
        BWMessage sMsg = {0, NULL};
        char *pszError = NULL;
        const int nRet = BWFrameDecoderNext(psSlot->psDecoder, &sMsg, &pszError);
        if (nRet == 0)
            return;
        if (nRet < 0 || !HandleMessage(psPool, psSlot, &sMsg))
            EndWorker(psPool, psSlot, BW_END_BROKE_PROTOCOL,
                      pszError ? pszError : "unexpected message");
        BWMessageClear(&sMsg);
        CPLFree(pszError);
    }
}

/* Sends a task to a live worker, which becomes busy. */
static void SendTask(BWPool *psPool, BWWorkerSlot *psSlot, void *pCookie, char **papszFields)
{
    BWSlotTask *psTask = &psSlot->asTasks[psSlot->nTasks++];
    psTask->pCookie = pCookie;
    psTask->dfSent = BWMonotonicSeconds();
    psTask->bQueued = psSlot->nTasks > 1;
    psTask->dfStart = psTask->bQueued || !psSlot->bReady ? 0 : psTask->dfSent;
    psSlot->eState = BW_SLOT_BUSY;
    char *pszError = NULL;
    const int bSent = BWMessageWrite(psSlot->fd, BW_MSG_TASK, papszFields, &pszError);
    CSLDestroy(papszFields);
    CPLFree(pszError);
    if (bSent)
        return;
    if (!psSlot->bReady)
    {
        EndWorker(psPool, psSlot, BW_END_DIED, NULL);
        return;
    }
    /* A ready worker whose channel takes no task has closed its end: it
     * died (killed while idle, its death not yet seen, e.g. while this
     * process was stopped or busy). It never got the task, which is handed
     * back as not started, to run elsewhere, not failed as killed; the
     * replies it sent before are still read, then its end of stream ends
     * it. */
    BWSlotTask sTask = *psTask;
    psSlot->nTasks--;
    if (psSlot->nTasks == 0)
        psSlot->eState = BW_SLOT_IDLE;
    sTask.bQueued = TRUE;
    ReportTask(psPool, psSlot, &sTask, NULL, "not started", FALSE, FALSE);
}

static int CountLive(const BWPool *psPool)
{
    int nLive = 0;
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        const BWSlotState e = psPool->pasSlots[i].eState;
        nLive += e == BW_SLOT_STARTING || e == BW_SLOT_IDLE || e == BW_SLOT_BUSY;
    }
    return nLive;
}

/* Workers running or holding tasks, exiting ones whose tasks are not yet
 * reported included: their tasks may come back as retries. */
static int CountHoldingTasks(const BWPool *psPool)
{
    int n = 0;
    for (int i = 0; i < psPool->nSlots; ++i)
        n += psPool->pasSlots[i].nTasks > 0;
    return n;
}

static int CountInState(const BWPool *psPool, BWSlotState eState)
{
    int n = 0;
    for (int i = 0; i < psPool->nSlots; ++i)
        n += psPool->pasSlots[i].eState == eState;
    return n;
}

/* Asks for a task for the slot (a live worker, or an empty slot for a new
 * one) and hands it over. Returns 0 when no task is available, 1 when one
 * was handed over, -1 when no worker could be started for it. */
static int FeedSlot(BWPool *psPool, BWWorkerSlot *psSlot, int bAhead)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    void *pCookie = NULL;
    char **papszFields = NULL;
    if (!psOptions->pfnNext(psOptions->pUser, bAhead, &pCookie, &papszFields))
        return 0;
    /* A worker that died while idle gets no task: it is replaced. */
    if (psSlot->eState == BW_SLOT_IDLE && waitpid(psSlot->nPid, NULL, WNOHANG) != 0)
        ResetSlot(psSlot);
    if (psSlot->eState == BW_SLOT_EMPTY && !StartWorker(psPool, psSlot))
    {
        const int nErr = errno;
        CSLDestroy(papszFields);
        const int nLive = CountLive(psPool);
        if (nLive > 0 && (nErr == EAGAIN || nErr == ENOMEM || nErr == EMFILE || nErr == ENFILE))
        {
            /* The system makes no more processes or descriptors for us (a
             * container's pids limit, ulimit -u, which counts threads too):
             * the batch goes on with the workers it has, as gdalwarp would
             * run, rather than stopping them all. The task is handed back
             * not started, and no more workers are asked for. */
            CPLError(CE_Warning, CPLE_AppDefined, "%s: the batch goes on with %d worker%s",
                     psPool->pszError, nLive, nLive > 1 ? "s" : "");
            CPLFree(psPool->pszError);
            psPool->pszError = NULL;
            psPool->nMostWorkers = nLive;
            BWTaskOutcome sOutcome;
            memset(&sOutcome, 0, sizeof(sOutcome));
            sOutcome.pszFailure = "not started";
            sOutcome.bNotStarted = TRUE;
            psOptions->pfnDone(psOptions->pUser, pCookie, &sOutcome);
            return 0;
        }
        psOptions->pfnStartFailed(psOptions->pUser, pCookie, psPool->pszError);
        return -1;
    }
    SendTask(psPool, psSlot, pCookie, papszFields);
    return 1;
}

/* Lets idle workers go while more are alive than wanted (the tasks became
 * CPU-bound again): busy ones are let go once idle. */
static void RetireExtraWorkers(BWPool *psPool)
{
    int nExtra = CountLive(psPool) - TargetWorkers(psPool);
    for (int i = 0; i < psPool->nSlots && nExtra > 0; ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if ((psSlot->eState == BW_SLOT_STARTING || psSlot->eState == BW_SLOT_IDLE) &&
            psSlot->nTasks == 0)
        {
            EndWorker(psPool, psSlot, BW_END_LET_GO, NULL);
            nExtra--;
        }
    }
}

/* Hands tasks out: first to live workers without one, then to new workers,
 * then into the queues of busy workers. Returns FALSE when a worker cannot
 * be started at all. */
static int Dispatch(BWPool *psPool)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    RetireExtraWorkers(psPool);
    for (int i = 0; i < psPool->nSlots && !StopRequested(psPool); ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState != BW_SLOT_STARTING && psSlot->eState != BW_SLOT_IDLE)
            continue;
        const int nFed = FeedSlot(psPool, psSlot, FALSE);
        if (nFed <= 0)
            return nFed == 0;
    }
    const int nWorkers = TargetWorkers(psPool);
    for (int i = 0; i < psPool->nSlots && !StopRequested(psPool); ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState != BW_SLOT_EMPTY || CountLive(psPool) >= nWorkers)
            continue;
        const int nFed = FeedSlot(psPool, psSlot, FALSE);
        if (nFed <= 0)
            return nFed == 0;
    }
    /* While more workers are alive than wanted, none takes a task ahead:
     * the extra ones must run dry to be let go. */
    const int nMaxTasks =
        1 + (psOptions->nQueuedPerWorker > 0 && CountLive(psPool) <= nWorkers ? 1 : 0);
    for (int i = 0; i < psPool->nSlots && !StopRequested(psPool); ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState != BW_SLOT_BUSY || psSlot->nTasks >= nMaxTasks ||
            (psOptions->nMaxTasksPerWorker > 0 &&
             psSlot->nTasksDone + psSlot->nTasks >= psOptions->nMaxTasksPerWorker))
            continue;
        if (FeedSlot(psPool, psSlot, TRUE) == 0)
            return TRUE;
    }
    return TRUE;
}

static void StopAll(BWPool *psPool)
{
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState == BW_SLOT_BUSY)
            EndWorker(psPool, psSlot, BW_END_INTERRUPTED, NULL);
        else
            EndWorker(psPool, psSlot, BW_END_LET_GO, NULL);
    }
}

/* Every idle worker is let go (end of stream) before any is waited for, so
 * that their exits overlap: one after the other, the end of a batch on a
 * many-core machine would wait for as many exits in a row. */
static void LetIdleWorkersGo(BWPool *psPool)
{
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState == BW_SLOT_STARTING || psSlot->eState == BW_SLOT_IDLE)
            EndWorker(psPool, psSlot, BW_END_LET_GO, NULL);
    }
}

/* When the running task of a busy worker times out. */
static double TimeoutAt(const BWPool *psPool, const BWWorkerSlot *psSlot)
{
    const BWSlotTask *psTask = &psSlot->asTasks[0];
    const double dfTimeout = psPool->psOptions->dfTaskTimeout;
    if (psTask->dfStart > 0)
        return psTask->dfStart + dfTimeout;
    return psTask->dfSent + dfTimeout + BW_STARTUP_ALLOWANCE_SECONDS;
}

static void EnforceTimeouts(BWPool *psPool)
{
    const double dfTimeout = psPool->psOptions->dfTaskTimeout;
    if (dfTimeout <= 0)
        return;
    const double dfNow = BWMonotonicSeconds();
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState == BW_SLOT_BUSY && dfNow >= TimeoutAt(psPool, psSlot))
            EndWorker(psPool, psSlot, BW_END_TIMED_OUT, NULL);
    }
}

/* Seconds during which the supervisor did not run (the process group
 * stopped, then continued), wherever it was then (in poll(), publishing,
 * writing to a slow reader), are no task's time: every deadline moves on by
 * them, so that a task in flight is not failed as timed out because the
 * batch was suspended for longer than -timeout. A worker stopped on its own
 * still times out. */
static void DeferDeadlines(BWPool *psPool)
{
    const double dfSuspended = BWSuspendedSeconds();
    const double dfLost = dfSuspended - psPool->dfSuspendedSeen;
    psPool->dfSuspendedSeen = dfSuspended;
    if (dfLost <= 0)
        return;
    CPLDebug("BATCHWARP", "the batch was stopped for %.1f s: no task's time", dfLost);
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        for (int j = 0; j < psSlot->nTasks; ++j)
        {
            psSlot->asTasks[j].dfSent += dfLost;
            if (psSlot->asTasks[j].dfStart > 0)
                psSlot->asTasks[j].dfStart += dfLost;
        }
        if (psSlot->eState == BW_SLOT_EXITING)
            psSlot->dfDeadline += dfLost;
    }
}

static void WaitAtMost(double *pdfWait, double dfLeft)
{
    if (dfLeft < 0)
        dfLeft = 0;
    if (*pdfWait < 0 || dfLeft < *pdfWait)
        *pdfWait = dfLeft;
}

static void AddPoll(BWPool *psPool, int *pnPoll, int fd, int iSlot)
{
    psPool->pasPoll[*pnPoll].fd = fd;
    psPool->pasPoll[*pnPoll].events = POLLIN;
    psPool->pasPoll[*pnPoll].revents = 0;
    psPool->panPollSlot[(*pnPoll)++] = iSlot;
}

/* Fills the poll set: the channel of every worker (idle ones too: one that
 * dies between tasks, e.g. to the OOM killer, is replaced then, not found
 * dead by its next task), and the pidfd of exiting ones. Returns the poll
 * timeout in ms: the nearest task timeout or exit deadline. */
static int PreparePoll(BWPool *psPool, int *pnPoll)
{
    const BWPoolOptions *psOptions = psPool->psOptions;
    const double dfNow = BWMonotonicSeconds();
    /* Wake up regularly so that a stop request is seen promptly. */
    double dfWait = psOptions->pbStopRequested || psOptions->pfnTick ? BW_TICK_SECONDS : -1;
    *pnPoll = 0;
    for (int i = 0; i < psPool->nSlots; ++i)
    {
        const BWWorkerSlot *psSlot = &psPool->pasSlots[i];
        if (psSlot->eState == BW_SLOT_EXITING)
        {
            WaitAtMost(&dfWait, psSlot->dfDeadline - dfNow);
            if (psSlot->fdPid >= 0)
                AddPoll(psPool, pnPoll, psSlot->fdPid, -1);
            else
                WaitAtMost(&dfWait, BW_REAP_POLL_SECONDS);
        }
        else if (psSlot->eState == BW_SLOT_BUSY && psOptions->dfTaskTimeout > 0)
            WaitAtMost(&dfWait, TimeoutAt(psPool, psSlot) - dfNow);
        if (psSlot->eState != BW_SLOT_EMPTY && psSlot->fd >= 0)
            AddPoll(psPool, pnPoll, psSlot->fd, i);
    }
    /* A timeout of days (-timeout 1e12) is waited for an hour at a time: its
     * milliseconds do not fit in poll()'s int. */
    if (dfWait > BW_MAX_POLL_SECONDS)
        dfWait = BW_MAX_POLL_SECONDS;
    return dfWait < 0 ? -1 : (int)(dfWait * 1000) + 1;
}

static int RunLoop(BWPool *psPool)
{
    for (;;)
    {
        DeferDeadlines(psPool);
        ReapExiting(psPool);
        if (!StopRequested(psPool) && !Dispatch(psPool))
            psPool->bStopping = TRUE;
        if (StopRequested(psPool))
            StopAll(psPool);
        else if (CountHoldingTasks(psPool) == 0)
            LetIdleWorkersGo(psPool);
        if (CountInState(psPool, BW_SLOT_EMPTY) == psPool->nSlots)
            return psPool->pszError == NULL;
        int nPoll = 0;
        const int nTimeoutMs = PreparePoll(psPool, &nPoll);
        const int nReady = poll(psPool->pasPoll, (nfds_t)nPoll, nTimeoutMs);
        DeferDeadlines(psPool); /* before a result's seconds are taken */
        if (nReady < 0 && errno != EINTR)
        {
            psPool->pszError = CPLStrdup(CPLSPrintf("poll() failed: %s", strerror(errno)));
            psPool->bStopping = TRUE;
            continue;
        }
        for (int k = 0; k < nPoll && nReady > 0; ++k)
        {
            const int iSlot = psPool->panPollSlot[k];
            if (psPool->pasPoll[k].revents != 0 && iSlot >= 0)
                ServiceWorker(psPool, &psPool->pasSlots[iSlot]);
        }
        DeferDeadlines(psPool);
        EnforceTimeouts(psPool);
        if (psPool->psOptions->pfnTick != NULL)
            psPool->psOptions->pfnTick(psPool->psOptions->pUser);
    }
}

int BWPoolRun(const BWPoolOptions *psOptions, char **ppszError)
{
    BWPool sPool;
    memset(&sPool, 0, sizeof(sPool));
    sPool.psOptions = psOptions;
    int nWorkers = psOptions->nWorkers > 0 ? psOptions->nWorkers : 1;
    if (psOptions->psConcurrency != NULL && psOptions->psConcurrency->nMax > nWorkers)
        nWorkers = psOptions->psConcurrency->nMax;
    /* Room for a full set of live workers beside a full set of exiting
     * ones, so that a worker's teardown never holds up its replacement. */
    sPool.nSlots = 2 * nWorkers;
    sPool.pasSlots = CPLCalloc((size_t)sPool.nSlots, sizeof(BWWorkerSlot));
    for (int i = 0; i < sPool.nSlots; ++i)
    {
        sPool.pasSlots[i].fd = -1;
        sPool.pasSlots[i].fdPid = -1;
    }
    /* A channel and a pidfd per slot. */
    sPool.pasPoll = CPLCalloc((size_t)sPool.nSlots * 2, sizeof(struct pollfd));
    sPool.panPollSlot = CPLCalloc((size_t)sPool.nSlots * 2, sizeof(int));
    BWSuspendWatchStart();
    sPool.dfSuspendedSeen = BWSuspendedSeconds();
    const int bOk = RunLoop(&sPool);
    BWSuspendWatchStop();
    if (!bOk)
        *ppszError = sPool.pszError;
    else
        CPLFree(sPool.pszError);
    CPLFree(sPool.panPollSlot);
    CPLFree(sPool.pasPoll);
    CPLFree(sPool.pasSlots);
    return bOk;
}
