#include "batchwarp_budget.h"

#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_multiproc.h>
#include <cpl_string.h>

#include "batchwarp_concurrency.h"
#include "batchwarp_option_table.h"
#include "batchwarp_worker_config.h"

static int Min(int a, int b)
{
    return a < b ? a : b;
}

int BWBudgetCompute(const GDALBatchWarpOptions *psOptions, int nTasks, int bNetworkSources,
                    BWBudget *psBudget, char **ppszError)
{
    memset(psBudget, 0, sizeof(*psBudget));
    const GIntBig nTotal =
        psOptions->nMemoryBudget > 0 ? psOptions->nMemoryBudget : BWDefaultMemoryBudget();
    psBudget->nTotalBytes = nTotal;

    const GIntBig nUserWarpMemory = psOptions->nUserWarpMemory;
    /* A worker has the -wm gdalwarp would use, never less: the warp's chunks
     * follow from it, and with them the output's pixels (GDAL's approximate
     * transformer is fitted per chunk). A tight budget runs fewer workers,
     * each with the output gdalwarp gives, whatever -j. */
    const GIntBig nWarpMemory =
        nUserWarpMemory > 0 ? nUserWarpMemory : BW_GDALWARP_WARP_MEMORY_BYTES;
    const GIntBig nMinPerWorker = BW_PROCESS_BASELINE_BYTES + BW_MIN_CACHE_BYTES + nWarpMemory;
    const GIntBig nForWorkers = nTotal - BW_PROCESS_BASELINE_BYTES;
    const GIntBig nFit = nForWorkers > 0 ? nForWorkers / nMinPerWorker : 0;
    if (nFit < 1)
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "-memory_budget of " CPL_FRMT_GIB " MB is too small: the supervisor and one worker "
            "need at least " CPL_FRMT_GIB " MB%s.",
            nTotal / (1024 * 1024), (BW_PROCESS_BASELINE_BYTES + nMinPerWorker) / (1024 * 1024),
            nUserWarpMemory > 0
                ? CPLSPrintf(" with -wm of " CPL_FRMT_GIB " MB", nUserWarpMemory / (1024 * 1024))
                : ""));
        return FALSE;
    }
    int nWorkers = Min(psOptions->nWorkers, nTasks > 0 ? nTasks : 1);
    if (nFit < nWorkers)
        nWorkers = (int)nFit;
    psBudget->nWorkers = nWorkers;

    /* Room for workers that overlap I/O waits, only where each keeps a
     * full-sized share: the -j workers of a CPU-bound batch lose nothing
     * gdalwarp would use. By default only for sources on the network: the
     * memory is split for the most workers, and a local batch, whose reads
     * seldom wait, keeps each -j worker's whole share (its cache) as it had
     * before workers beyond -j existed. */
    int nMaxWorkers = psOptions->nMaxWorkers > 0 ? psOptions->nMaxWorkers
                      : bNetworkSources          ? psOptions->nWorkers * BW_IO_WORKERS_PER_CORE
                                                 : psOptions->nWorkers;
    nMaxWorkers = Min(nMaxWorkers, nTasks > 0 ? nTasks : 1);
    const GIntBig nIOWorkerBytes = BW_PROCESS_BASELINE_BYTES + nWarpMemory + 4 * BW_MIN_CACHE_BYTES;
    const GIntBig nFitIO = nForWorkers / nIOWorkerBytes;
    if (nFitIO < nMaxWorkers)
        nMaxWorkers = (int)nFitIO;
    if (nMaxWorkers < nWorkers)
        nMaxWorkers = nWorkers;
    psBudget->nMaxWorkers = nMaxWorkers;

    /* -j is the number of cores the batch may use; idle workers' cores go to
     * the tasks still running only up to that (or the machine's count). */
    psBudget->nThreadBudget = Min(psOptions->nWorkers, CPLGetNumCPUs());
    if (psBudget->nThreadBudget < nWorkers)
        psBudget->nThreadBudget = nWorkers;
    /* Only threads that leave the output's bytes as one thread writes them:
     * the compressor's. The warper's threads change values (see README). */
    psBudget->bTailThreads = !psOptions->bUserSetWarpThreads &&
                             CPLGetConfigOption("GDAL_NUM_THREADS", NULL) == NULL &&
                             BWCompressorThreadsQualify((CSLConstList)psOptions->papszWarpArgs,
                                                        psOptions->pszOutputFormat);

    const GIntBig nShare = nForWorkers / nMaxWorkers - BW_PROCESS_BASELINE_BYTES;

    /* A GDAL_CACHEMAX of the user's is the cache of the whole batch, as the
     * README documents; otherwise the cache takes what the warp leaves. */
    if (CPLGetConfigOption("GDAL_CACHEMAX", NULL) != NULL)
    {
        /* Never more than the user set, in any worker. Workers are told in
         * bytes, which GDAL only reads as bytes from 100000 on: a smaller
         * share is rounded up to that, but never past the user's value (a
         * total below it can only be 0 MB, which GDAL reads as such). */
        const GIntBig nUser = BWTotalCacheBudget();
        psBudget->nCachePerWorker = nUser / nMaxWorkers;
        if (psBudget->nCachePerWorker < BW_GDAL_BYTES_FROM)
            psBudget->nCachePerWorker = nUser < BW_GDAL_BYTES_FROM ? 0 : BW_GDAL_BYTES_FROM;
        return TRUE;
    }
    psBudget->nCachePerWorker = nShare - nWarpMemory;
    if (psBudget->nCachePerWorker < BW_MIN_CACHE_BYTES / 4)
        psBudget->nCachePerWorker = BW_MIN_CACHE_BYTES / 4;
    return TRUE;
}

GIntBig BWTaskCost(GIntBig nSize)
{
    return (nSize > 0 ? nSize : 0) + BW_PER_FILE_COST_BYTES;
}

int BWThreadsForNextTask(int nThreadBudget, int nThreadsBusy, int nIdleWorkers, int nPendingAfter,
                         GIntBig nTaskCost, GIntBig nOtherPendingCost)
{
    const int nFree = nThreadBudget - nThreadsBusy;
    if (nFree < 1)
        return 0;
    const int bDominant = nPendingAfter > 0 && nTaskCost > nOtherPendingCost;
    const int nStartingNow = bDominant ? 1 : Min(nIdleWorkers, 1 + nPendingAfter);
    if (nStartingNow < 1)
        return 1;
    const int nThreads = nFree / nStartingNow;
    return nThreads > 1 ? nThreads : 1;
}
