#include "batchwarp_concurrency.h"

#include <math.h>
#include <string.h>

void BWConcurrencyInit(BWConcurrency *psConc, int nCores, int nMax)
{
    memset(psConc, 0, sizeof(*psConc));
    psConc->nCores = nCores > 0 ? nCores : 1;
    psConc->nMax = nMax > psConc->nCores ? nMax : psConc->nCores;
    psConc->nTarget = psConc->nCores;
}

double BWConcurrencyUtilisation(const BWConcurrency *psConc)
{
    if (psConc->dfWall <= 0)
        return 1.0;
    return psConc->dfBusy / psConc->dfWall;
}

/* Workers that keep nCores busy at utilisation dfUtil (not rounded). */
static double IdealWorkers(const BWConcurrency *psConc, double dfUtil)
{
    const double dfMinUtil = (double)psConc->nCores / psConc->nMax;
    return psConc->nCores / (dfUtil > dfMinUtil ? dfUtil : dfMinUtil);
}

int BWConcurrencyAddSample(BWConcurrency *psConc, double dfCPUSeconds, double dfRunQueueSeconds,
                           double dfWallSeconds)
{
    if (!(dfWallSeconds > 0))
        return psConc->nTarget;
    /* The time the task did not wait for a core: on one, or waiting on I/O.
     * Run-queue time is left out of both sides: it says the cores are
     * taken, by other work or by this pool's own extra workers, not how
     * much of a core the task wants. Counted as busy, a pool grown just
     * enough to keep the cores busy looked CPU-bound at once and shrank,
     * and then grew again (2, 3, 2, 3... on (e), a worker spawned each time). */
    double dfNotQueued = dfWallSeconds - (dfRunQueueSeconds > 0 ? dfRunQueueSeconds : 0);
    double dfBusy = dfCPUSeconds > 0 ? dfCPUSeconds : 0;
    /* Threads can make CPU time exceed that time: that is CPU-bound. */
    if (dfBusy > dfNotQueued)
        dfNotQueued = dfBusy;
    if (!(dfNotQueued > 0))
        return psConc->nTarget;
    const int nWindow =
        psConc->nTarget > BW_CONCURRENCY_MIN_WINDOW ? psConc->nTarget : BW_CONCURRENCY_MIN_WINDOW;
    const double dfKeep = 1.0 - 1.0 / nWindow;
    psConc->dfBusy = psConc->dfBusy * dfKeep + dfBusy;
    psConc->dfWall = psConc->dfWall * dfKeep + dfNotQueued;
    psConc->nSamples++;
    if (psConc->nSamples < BW_CONCURRENCY_MIN_SAMPLES)
        return psConc->nTarget;

    const double dfUtil = BWConcurrencyUtilisation(psConc);
    const double dfIdeal = IdealWorkers(psConc, dfUtil);
    psConc->nFullyBusy = dfUtil >= BW_CONCURRENCY_FULLY_BUSY ? psConc->nFullyBusy + 1 : 0;
    /* Grow only while tasks are well below CPU-bound; shrink only when the
     * ideal count falls clearly below the current one: between the two, the
     * target stays (no flapping around a threshold). */
    if (dfUtil < BW_CPU_BOUND_UTILISATION && floor(dfIdeal) > psConc->nTarget)
    {
        const int nIdeal = dfIdeal >= psConc->nMax ? psConc->nMax : (int)floor(dfIdeal);
        const int nDouble = 2 * psConc->nTarget;
        psConc->nTarget = nIdeal < nDouble ? nIdeal : nDouble;
        if (psConc->bBusyShrunk && psConc->nBusyBackoff < 16)
            psConc->nBusyBackoff++;
        psConc->bBusyShrunk = 0;
    }
    else if (dfIdeal < BW_CONCURRENCY_SHRINK_FRACTION * psConc->nTarget)
    {
        /* Rounded to the nearest, not down: 4 workers at u = 0.79 on 2
         * cores (2.53) went straight to 2, and had to grow again. */
        const int nIdeal = (int)floor(dfIdeal + 0.5);
        const int nStep = (int)floor(BW_CONCURRENCY_SHRINK_FRACTION * psConc->nTarget);
        psConc->nTarget = nIdeal > nStep ? nIdeal : nStep;
        if (psConc->nTarget < psConc->nCores)
            psConc->nTarget = psConc->nCores;
        psConc->bBusyShrunk = 0;
    }
    else if (psConc->nTarget > psConc->nCores &&
             psConc->nFullyBusy >= (BW_CONCURRENCY_FULLY_BUSY_WINDOWS * nWindow)
                                       << psConc->nBusyBackoff)
    {
        const int nExtra = psConc->nTarget - psConc->nCores;
        psConc->nTarget -= nExtra / 3 > 1 ? nExtra / 3 : 1;
        psConc->nFullyBusy = 0;
        psConc->bBusyShrunk = 1;
    }
    return psConc->nTarget;
}
