#include "batchwarp_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

extern char **environ;

/* The descriptor number a worker finds its channel on. */
#define BW_WORKER_FD 3

typedef struct
{
    pid_t nPid; /* 0 when the slot has no process */
    int fd;     /* supervisor end of the socketpair */
    BWFrameDecoder *psDecoder;
    int nTasksDone;
    int bBusy;
    void *pTaskCookie;
    double dfStart;
} BWWorkerSlot;

static double Now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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

/* Waits for a worker whose channel is gone; it is exiting or already dead.
 * A worker that lingers for a second after closing its channel is killed, so
 * a misbehaving child can never hang the supervisor. */
static int ReapWorker(pid_t nPid)
{
    int nStatus = 0;
    /* 1 ms steps: a worker let go at the end of a batch exits within a few,
     * and the batch should not wait longer than that. */
    for (int i = 0; i < 1000; ++i)
    {
        const pid_t r = waitpid(nPid, &nStatus, WNOHANG);
        if (r == nPid)
            return nStatus;
        if (r < 0 && errno != EINTR)
            return 0;
        const struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(nPid, SIGKILL);
    while (waitpid(nPid, &nStatus, 0) < 0 && errno == EINTR)
    {
    }
    return nStatus;
}

static int MoveAbove(int fd, int nMin)
{
    if (fd >= nMin)
        return fd;
    const int fdNew = fcntl(fd, F_DUPFD_CLOEXEC, nMin);
    close(fd);
    return fdNew;
}

static int SpawnWorker(const BWPoolOptions *psOptions, BWWorkerSlot *psSlot, char **ppszError)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
        *ppszError = CPLStrdup(CPLSPrintf("cannot create a worker channel: %s", strerror(errno)));
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
    char *apszArgv[] = {(char *)psOptions->pszWorkerPath, (char *)"--worker-fd", szFd, NULL};
    pid_t nPid = 0;
    const int nErr =
        posix_spawn(&nPid, psOptions->pszWorkerPath, &sActions, &sAttr, apszArgv, environ);
    posix_spawn_file_actions_destroy(&sActions);
    posix_spawnattr_destroy(&sAttr);
    close(sv[1]);
    if (nErr != 0)
    {
        close(sv[0]);
        *ppszError = CPLStrdup(
            CPLSPrintf("cannot start worker %s: %s", psOptions->pszWorkerPath, strerror(nErr)));
        return FALSE;
    }
    psSlot->nPid = nPid;
    psSlot->fd = sv[0];
    psSlot->psDecoder = BWFrameDecoderNew();
    psSlot->nTasksDone = 0;
    psSlot->bBusy = FALSE;
    if (!BWMessageWrite(psSlot->fd, BW_MSG_INIT, psOptions->papszInitFields, ppszError))
    {
        /* The worker died at once; its first task will report why. */
        CPLFree(*ppszError);
        *ppszError = NULL;
    }
    return TRUE;
}

/* Closes the channel and reaps the process; returns its wait status. */
static int RetireWorker(BWWorkerSlot *psSlot, int bKill)
{
    if (bKill)
        kill(psSlot->nPid, SIGKILL);
    if (psSlot->fd >= 0)
        close(psSlot->fd);
    const int nStatus = ReapWorker(psSlot->nPid);
    BWFrameDecoderFree(psSlot->psDecoder);
    memset(psSlot, 0, sizeof(*psSlot));
    psSlot->fd = -1;
    return nStatus;
}

static void FinishTask(BWWorkerSlot *psSlot, BWPoolTaskDoneFn pfnDone, void *pUser,
                       const BWMessage *psReply, const char *pszFailure, int bInterrupted)
{
    BWTaskOutcome sOutcome;
    memset(&sOutcome, 0, sizeof(sOutcome));
    sOutcome.psReply = psReply;
    sOutcome.pszFailure = pszFailure;
    sOutcome.bInterrupted = bInterrupted;
    sOutcome.nWorkerPid = (int)psSlot->nPid;
    sOutcome.dfSeconds = Now() - psSlot->dfStart;
    void *pCookie = psSlot->pTaskCookie;
    psSlot->bBusy = FALSE;
    psSlot->pTaskCookie = NULL;
    pfnDone(pUser, pCookie, &sOutcome);
}

/* The worker is gone (channel closed, corrupt stream or killed): report its
 * task, if any, with the reason. */
static void HandleLostWorker(BWWorkerSlot *psSlot, BWPoolTaskDoneFn pfnDone, void *pUser,
                             const char *pszWhy, int bKill, int bInterrupted)
{
    const int bBusy = psSlot->bBusy;
    BWWorkerSlot sCopy = *psSlot;
    const int nStatus = RetireWorker(psSlot, bKill);
    if (!bBusy)
        return;
    char *pszStatus = BWDescribeWaitStatus(nStatus);
    char *pszFailure =
        CPLStrdup(pszWhy ? pszWhy : CPLSPrintf("worker process %d %s", (int)sCopy.nPid, pszStatus));
    sCopy.fd = -1;
    FinishTask(&sCopy, pfnDone, pUser, NULL, pszFailure, bInterrupted);
    CPLFree(pszFailure);
    CPLFree(pszStatus);
}

/*
 * Whether a worker must be replaced after this result: after its task quota
 * (bounds what a leaking driver can accumulate), when its memory grew past
 * the limit, or after a failed task, so that a retry never runs in a process
 * a failure may have left in a bad state.
 */
static int MustRecycle(const BWPoolOptions *psOptions, const BWWorkerSlot *psSlot,
                       const BWMessage *psResult)
{
    if (psOptions->nMaxTasksPerWorker > 0 && psSlot->nTasksDone >= psOptions->nMaxTasksPerWorker)
        return TRUE;
    const char *pszRSS = BWMessageGet(psResult, "RSS_KB");
    if (psOptions->nMaxResidentKB > 0 && pszRSS != NULL && atol(pszRSS) > psOptions->nMaxResidentKB)
        return TRUE;
    const char *pszOk = BWMessageGet(psResult, "OK");
    return pszOk == NULL || strcmp(pszOk, "1") != 0;
}

/* Reads what the worker sent; returns FALSE when the worker is lost. */
static int ServiceWorker(const BWPoolOptions *psOptions, BWWorkerSlot *psSlot,
                         BWPoolTaskDoneFn pfnDone, void *pUser)
{
    unsigned char abyBuf[65536];
    ssize_t n;
    do
        n = read(psSlot->fd, abyBuf, sizeof(abyBuf));
    while (n < 0 && errno == EINTR);
    if (n <= 0)
    {
        HandleLostWorker(psSlot, pfnDone, pUser, NULL, FALSE, FALSE);
        return FALSE;
    }
    BWFrameDecoderFeed(psSlot->psDecoder, abyBuf, (size_t)n);
    for (;;)
    {
        BWMessage sMsg = {0, NULL};
        char *pszError = NULL;
        const int nRet = BWFrameDecoderNext(psSlot->psDecoder, &sMsg, &pszError);
        if (nRet == 0)
            return TRUE;
        if (nRet < 0 || sMsg.eType != BW_MSG_RESULT || !psSlot->bBusy)
        {
            char *pszWhy =
                CPLStrdup(CPLSPrintf("worker process %d broke the protocol: %s", (int)psSlot->nPid,
                                     pszError ? pszError : "unexpected message"));
            BWMessageClear(&sMsg);
            HandleLostWorker(psSlot, pfnDone, pUser, pszWhy, TRUE, FALSE);
            CPLFree(pszWhy);
            CPLFree(pszError);
            return FALSE;
        }
        psSlot->nTasksDone++;
        const int bRecycle = MustRecycle(psOptions, psSlot, &sMsg);
        FinishTask(psSlot, pfnDone, pUser, &sMsg, NULL, FALSE);
        BWMessageClear(&sMsg);
        if (bRecycle)
        {
            BWMessageWrite(psSlot->fd, BW_MSG_QUIT, NULL, &pszError);
            CPLFree(pszError);
            RetireWorker(psSlot, FALSE);
            return FALSE;
        }
    }
}

static int StopRequested(const BWPoolOptions *psOptions)
{
    return psOptions->pbStopRequested && *psOptions->pbStopRequested;
}

/* Hands a task to every idle slot. Returns FALSE with *ppszError when a
 * worker cannot be started at all. */
static int Dispatch(const BWPoolOptions *psOptions, BWWorkerSlot *pasSlots, int nSlots,
                    BWPoolNextTaskFn pfnNext, BWPoolTaskDoneFn pfnDone, void *pUser,
                    char **ppszError)
{
    for (int i = 0; i < nSlots && !StopRequested(psOptions); ++i)
    {
        BWWorkerSlot *psSlot = &pasSlots[i];
        if (psSlot->bBusy)
            continue;
        void *pCookie = NULL;
        char **papszFields = NULL;
        if (!pfnNext(pUser, &pCookie, &papszFields))
            return TRUE;
        /* A worker that died while idle gets no task: it is replaced. */
        if (psSlot->nPid != 0 && waitpid(psSlot->nPid, NULL, WNOHANG) != 0)
        {
            close(psSlot->fd);
            BWFrameDecoderFree(psSlot->psDecoder);
            memset(psSlot, 0, sizeof(*psSlot));
            psSlot->fd = -1;
        }
        if (psSlot->nPid == 0 && !SpawnWorker(psOptions, psSlot, ppszError))
        {
            CSLDestroy(papszFields);
            /* The task never ran: give it back to the caller as failed so it
             * is accounted for, then stop the pool. */
            BWWorkerSlot sNone;
            memset(&sNone, 0, sizeof(sNone));
            sNone.pTaskCookie = pCookie;
            sNone.dfStart = Now();
            FinishTask(&sNone, pfnDone, pUser, NULL, *ppszError, FALSE);
            return FALSE;
        }
        psSlot->bBusy = TRUE;
        psSlot->pTaskCookie = pCookie;
        psSlot->dfStart = Now();
        char *pszError = NULL;
        const int bSent = BWMessageWrite(psSlot->fd, BW_MSG_TASK, papszFields, &pszError);
        CSLDestroy(papszFields);
        CPLFree(pszError);
        if (!bSent)
            HandleLostWorker(psSlot, pfnDone, pUser, NULL, TRUE, FALSE);
    }
    return TRUE;
}

static int PollTimeoutMs(const BWPoolOptions *psOptions, const BWWorkerSlot *pasSlots, int nSlots)
{
    /* Wake up regularly so that a stop request is seen promptly. */
    double dfWait = psOptions->pbStopRequested || psOptions->pfnTick ? 0.2 : -1;
    if (psOptions->dfTaskTimeout > 0)
    {
        const double dfNow = Now();
        for (int i = 0; i < nSlots; ++i)
        {
            if (!pasSlots[i].bBusy)
                continue;
            double dfLeft = pasSlots[i].dfStart + psOptions->dfTaskTimeout - dfNow;
            if (dfLeft < 0)
                dfLeft = 0;
            if (dfWait < 0 || dfLeft < dfWait)
                dfWait = dfLeft;
        }
    }
    return dfWait < 0 ? -1 : (int)(dfWait * 1000) + 1;
}

static void EnforceTimeouts(const BWPoolOptions *psOptions, BWWorkerSlot *pasSlots, int nSlots,
                            BWPoolTaskDoneFn pfnDone, void *pUser)
{
    if (psOptions->dfTaskTimeout <= 0)
        return;
    const double dfNow = Now();
    for (int i = 0; i < nSlots; ++i)
    {
        if (pasSlots[i].bBusy && dfNow - pasSlots[i].dfStart >= psOptions->dfTaskTimeout)
        {
            char *pszWhy = CPLStrdup(CPLSPrintf("timed out after %g s", psOptions->dfTaskTimeout));
            HandleLostWorker(&pasSlots[i], pfnDone, pUser, pszWhy, TRUE, FALSE);
            CPLFree(pszWhy);
        }
    }
}

int BWPoolRun(const BWPoolOptions *psOptions, BWPoolNextTaskFn pfnNext, BWPoolTaskDoneFn pfnDone,
              void *pUser, char **ppszError)
{
    const int nSlots = psOptions->nWorkers > 0 ? psOptions->nWorkers : 1;
    BWWorkerSlot *pasSlots = CPLCalloc((size_t)nSlots, sizeof(BWWorkerSlot));
    struct pollfd *pasPoll = CPLCalloc((size_t)nSlots, sizeof(struct pollfd));
    int *panPollSlot = CPLCalloc((size_t)nSlots, sizeof(int));
    int bOk = TRUE;

    for (;;)
    {
        if (!Dispatch(psOptions, pasSlots, nSlots, pfnNext, pfnDone, pUser, ppszError))
        {
            bOk = FALSE;
            break;
        }
        int nPoll = 0;
        int nBusy = 0;
        for (int i = 0; i < nSlots; ++i)
        {
            /* Idle workers are watched too: one that dies between tasks (the
             * OOM killer) is replaced then, not found dead by its next task. */
            if (pasSlots[i].nPid == 0)
                continue;
            nBusy += pasSlots[i].bBusy != 0;
            pasPoll[nPoll].fd = pasSlots[i].fd;
            pasPoll[nPoll].events = POLLIN;
            pasPoll[nPoll].revents = 0;
            panPollSlot[nPoll++] = i;
        }
        if (nBusy == 0)
            break;
        if (StopRequested(psOptions))
        {
            for (int i = 0; i < nSlots; ++i)
            {
                if (pasSlots[i].bBusy)
                    HandleLostWorker(&pasSlots[i], pfnDone, pUser, "interrupted", TRUE, TRUE);
            }
            break;
        }
        const int nReady = poll(pasPoll, (nfds_t)nPoll, PollTimeoutMs(psOptions, pasSlots, nSlots));
        if (nReady < 0 && errno != EINTR)
        {
            *ppszError = CPLStrdup(CPLSPrintf("poll() failed: %s", strerror(errno)));
            bOk = FALSE;
            break;
        }
        for (int k = 0; k < nPoll && nReady > 0; ++k)
        {
            if (pasPoll[k].revents != 0)
                ServiceWorker(psOptions, &pasSlots[panPollSlot[k]], pfnDone, pUser);
        }
        EnforceTimeouts(psOptions, pasSlots, nSlots, pfnDone, pUser);
        if (psOptions->pfnTick != NULL)
            psOptions->pfnTick(psOptions->pTickData);
    }

    /* Every idle worker is let go (end of stream) before any is waited for,
     * so that their exits overlap: one after the other, the end of a batch
     * on a many-core machine would wait for as many exits in a row. */
    for (int i = 0; i < nSlots; ++i)
    {
        if (pasSlots[i].nPid != 0 && !pasSlots[i].bBusy)
        {
            close(pasSlots[i].fd);
            pasSlots[i].fd = -1;
        }
    }
    for (int i = 0; i < nSlots; ++i)
    {
        if (pasSlots[i].nPid == 0)
            continue;
        if (pasSlots[i].bBusy)
            HandleLostWorker(&pasSlots[i], pfnDone, pUser, "interrupted", TRUE, TRUE);
        else
            RetireWorker(&pasSlots[i], FALSE);
    }
    CPLFree(panPollSlot);
    CPLFree(pasPoll);
    CPLFree(pasSlots);
    return bOk;
}
