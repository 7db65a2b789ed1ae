#include "batchwarp_stop.h"

#include <stddef.h>

void BWStopInit(BWStop *psStop, GDALProgressFunc pfnProgress, void *pProgressData)
{
    psStop->pfnProgress = pfnProgress;
    psStop->pProgressData = pProgressData;
    psStop->dfShown = 0.0;
    psStop->bStop = 0;
}

int BWStopProgress(BWStop *psStop, double dfComplete)
{
    psStop->dfShown = dfComplete;
    /* GDAL's convention: a progress callback that returns FALSE cancels. */
    if (psStop->pfnProgress != NULL && !psStop->pfnProgress(dfComplete, "", psStop->pProgressData))
        psStop->bStop = 1;
    return psStop->bStop;
}

int BWStopHeard(void *pStop)
{
    BWStop *psStop = pStop;
    return BWStopProgress(psStop, psStop->dfShown);
}
