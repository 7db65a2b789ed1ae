#include "batchwarp_scheduler.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>

#include "batchwarp_budget.h"

struct BWScheduler
{
    BWSchedulerOptions sOptions;
    int nItems;
    GIntBig *panSizes; /* per item */
    int *panOrder;     /* items added, largest first once handing out began */
    int nOrder;
    int nNext;
    int bSorted;
    int *panRetry; /* items waiting for another attempt (a stack) */
    int nRetry;
    int *panAttempts;     /* per item */
    int *panThreads;      /* per item: threads of its running attempt */
    int *pabAhead;        /* per item: queued behind another task, not started */
    int nRunning;         /* handed out, not ended */
    int nAhead;           /* of which queued, not started */
    int nThreadsBusy;     /* sum of panThreads over running tasks */
    GIntBig nPendingCost; /* BWTaskCost() of the tasks not handed out */
    int nStopped;
};

BWScheduler *BWSchedulerNew(const BWSchedulerOptions *psOptions, int nItems)
{
    BWScheduler *psSched = CPLCalloc(1, sizeof(BWScheduler));
    psSched->sOptions = *psOptions;
    psSched->nItems = nItems;
    const size_t n = nItems > 0 ? (size_t)nItems : 1;
    psSched->panSizes = CPLCalloc(n, sizeof(GIntBig));
    psSched->panOrder = CPLCalloc(n, sizeof(int));
    psSched->panRetry = CPLCalloc(n, sizeof(int));
    psSched->panAttempts = CPLCalloc(n, sizeof(int));
    psSched->panThreads = CPLCalloc(n, sizeof(int));
    psSched->pabAhead = CPLCalloc(n, sizeof(int));
    return psSched;
}

void BWSchedulerFree(BWScheduler *psSched)
{
    if (psSched == NULL)
        return;
    CPLFree(psSched->panSizes);
    CPLFree(psSched->panOrder);
    CPLFree(psSched->panRetry);
    CPLFree(psSched->panAttempts);
    CPLFree(psSched->panThreads);
    CPLFree(psSched->pabAhead);
    CPLFree(psSched);
}

void BWSchedulerAdd(BWScheduler *psSched, int iItem, GIntBig nSize)
{
    psSched->panSizes[iItem] = nSize;
    psSched->panOrder[psSched->nOrder++] = iItem;
    psSched->nPendingCost += BWTaskCost(nSize);
    psSched->bSorted = FALSE;
}

static int CompareBySizeDesc(const void *a, const void *b, void *pSizes)
{
    const GIntBig *panSizes = pSizes;
    const int ia = *(const int *)a;
    const int ib = *(const int *)b;
    if (panSizes[ia] != panSizes[ib])
        return panSizes[ia] > panSizes[ib] ? -1 : 1;
    return ia - ib;
}

/* Largest first, so that a big file never starts last while the other
 * workers sit idle. */
static void SortPending(BWScheduler *psSched)
{
    if (psSched->bSorted)
        return;
    qsort_r(psSched->panOrder + psSched->nNext, (size_t)(psSched->nOrder - psSched->nNext),
            sizeof(int), CompareBySizeDesc, psSched->panSizes);
    psSched->bSorted = TRUE;
}

int BWSchedulerNext(BWScheduler *psSched, int bAhead, int *piItem, int *pnThreads)
{
    SortPending(psSched);
    const int nPending = psSched->nRetry + psSched->nOrder - psSched->nNext;
    if (nPending == 0)
        return FALSE;
    const BWSchedulerOptions *psOptions = &psSched->sOptions;
    /* Queued behind a running task only while a task is left for every
     * worker after this one: in the tail, a queued task could wait while
     * another worker is idle. */
    if (bAhead && nPending <= psOptions->nWorkers)
        return FALSE;
    const int iNext = psSched->nRetry > 0 ? psSched->panRetry[psSched->nRetry - 1]
                                          : psSched->panOrder[psSched->nNext];
    const GIntBig nCost = BWTaskCost(psSched->panSizes[iNext]);
    int nThreads = 1;
    /* Beyond nThreadBudget tasks at once (more workers than -j, while tasks
     * wait on I/O: batchwarp_concurrency.h), a task runs on one thread:
     * tail threads only ever share the -j cores. */
    const int bBeyondCores = psOptions->nMaxWorkers > psOptions->nWorkers &&
                             psSched->nRunning - psSched->nAhead >= psOptions->nThreadBudget;
    if (psOptions->bTailThreads && !bAhead && !bBeyondCores)
    {
        int nIdle = psOptions->nWorkers - (psSched->nRunning - psSched->nAhead);
        if (nIdle < 0)
            nIdle = 0;
        nThreads = BWThreadsForNextTask(psOptions->nThreadBudget, psSched->nThreadsBusy, nIdle,
                                        nPending - 1, nCost, psSched->nPendingCost - nCost);
        /* Tail tasks hold the free cores: wait for one to finish. */
        if (nThreads == 0)
            return FALSE;
    }
    const int iItem = psSched->nRetry > 0 ? psSched->panRetry[--psSched->nRetry]
                                          : psSched->panOrder[psSched->nNext++];
    psSched->panAttempts[iItem]++;
    psSched->panThreads[iItem] = nThreads;
    /* A task queued ahead holds its thread only once it starts. */
    psSched->pabAhead[iItem] = bAhead;
    psSched->nAhead += bAhead != 0;
    if (!bAhead)
        psSched->nThreadsBusy += nThreads;
    psSched->nPendingCost -= nCost;
    psSched->nRunning++;
    *piItem = iItem;
    *pnThreads = nThreads;
    return TRUE;
}

static void PushAgain(BWScheduler *psSched, int iItem)
{
    psSched->panRetry[psSched->nRetry++] = iItem;
    psSched->nPendingCost += BWTaskCost(psSched->panSizes[iItem]);
}

void BWSchedulerStarted(BWScheduler *psSched, int iItem)
{
    if (!psSched->pabAhead[iItem])
        return;
    psSched->pabAhead[iItem] = FALSE;
    psSched->nAhead--;
    psSched->nThreadsBusy += psSched->panThreads[iItem];
}

BWVerdict BWSchedulerDone(BWScheduler *psSched, int iItem, BWAttemptEnd eEnd, int bStopping)
{
    psSched->nRunning--;
    if (psSched->pabAhead[iItem])
    {
        psSched->pabAhead[iItem] = FALSE;
        psSched->nAhead--;
    }
    else
        psSched->nThreadsBusy -= psSched->panThreads[iItem];
    /* A task lost while the batch is being stopped was part of the stop (a
     * signal to the whole process group reaches its worker first). */
    if (eEnd == BW_ATTEMPT_INTERRUPTED ||
        (bStopping && (eEnd == BW_ATTEMPT_LOST || eEnd == BW_ATTEMPT_NOT_STARTED)))
    {
        psSched->nStopped++;
        return BW_VERDICT_STOPPED;
    }
    if (eEnd == BW_ATTEMPT_NOT_STARTED)
    {
        psSched->panAttempts[iItem]--;
        PushAgain(psSched, iItem);
        return BW_VERDICT_REQUEUED;
    }
    if (eEnd != BW_ATTEMPT_OK && !bStopping &&
        psSched->panAttempts[iItem] <= psSched->sOptions.nRetries)
    {
        PushAgain(psSched, iItem);
        return BW_VERDICT_RETRY;
    }
    return BW_VERDICT_REPORT;
}

int BWSchedulerAttempts(const BWScheduler *psSched, int iItem)
{
    return psSched->panAttempts[iItem];
}

int BWSchedulerThreads(const BWScheduler *psSched, int iItem)
{
    return psSched->panThreads[iItem];
}

int BWSchedulerRunning(const BWScheduler *psSched)
{
    return psSched->nRunning;
}

int BWSchedulerStopped(const BWScheduler *psSched)
{
    return psSched->nStopped;
}
