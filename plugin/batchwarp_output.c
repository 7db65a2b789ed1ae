#include "batchwarp_output.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

void BWDiscardTemp(const char *pszTemp)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    VSIStatBufL sStat;
    if (VSIStatL(pszTemp, &sStat) == 0)
    {
        GDALDriverH hDriver = GDALIdentifyDriver(pszTemp, NULL);
        if (hDriver == NULL || GDALDeleteDataset(hDriver, pszTemp) != CE_None)
            VSIUnlink(pszTemp);
    }
    /* A dataset that failed half-way may not be identifiable any more, but
     * may already have a PAM sidecar. */
    VSIUnlink(CPLSPrintf("%s.aux.xml", pszTemp));
    CPLPopErrorHandler();
    CPLErrorReset();
}

int BWPublishOutput(const char *pszTemp, const char *pszOutput)
{
    VSIStatBufL sStat;
    if (VSIStatL(pszOutput, &sStat) == 0)
    {
        /* Stale sidecars of the old dataset must not attach to the new one. */
        CPLPushErrorHandler(CPLQuietErrorHandler);
        GDALDriverH hOld = GDALIdentifyDriver(pszOutput, NULL);
        if (hOld == NULL || GDALDeleteDataset(hOld, pszOutput) != CE_None)
            VSIUnlink(pszOutput);
        CPLPopErrorHandler();
        CPLErrorReset();
    }
    return GDALRenameDataset(NULL, pszOutput, pszTemp) == CE_None;
}
