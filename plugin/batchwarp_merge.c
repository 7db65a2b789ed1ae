#include "batchwarp_merge.h"

#include <stdio.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_report.h"
#include "batchwarp_report_reader.h"

static int WriteMerged(const BWReportSet *psSet, const char *pszPath, char **ppszError)
{
    BWReport *psReport = BWReportOpen(pszPath, ppszError);
    if (psReport == NULL)
        return FALSE;
    int bOk = TRUE;
    for (int i = 0; i < psSet->nRecords && bOk; ++i)
        bOk = BWReportWriteLine(psReport, psSet->pasRecords[i].pszLine, ppszError);
    if (!bOk)
    {
        char *pszCloseError = NULL;
        BWReportClose(psReport, &pszCloseError);
        CPLFree(pszCloseError);
        return FALSE;
    }
    return BWReportClose(psReport, ppszError);
}

GDALBatchWarpStatus BWMergeReports(const GDALBatchWarpOptions *psOptions, char **ppszError)
{
    BWReportSet sSet;
    BWReportSetInit(&sSet);
    int bOk = TRUE;
    for (CSLConstList papszIter = psOptions->papszSources; bOk && papszIter && *papszIter;
         ++papszIter)
        bOk = BWReportSetRead(&sSet, *papszIter, ppszError);
    if (bOk)
        bOk = WriteMerged(&sSet, psOptions->pszReport ? psOptions->pszReport : "-", ppszError);

    int nFailed = 0;
    for (int i = 0; bOk && i < sSet.nRecords; ++i)
    {
        const BWReportEntry *psEntry = &sSet.pasRecords[i].sEntry;
        nFailed += !psEntry->bOk;
        if (psOptions->pfnResult == NULL)
            continue;
        GDALBatchWarpResult sResult;
        memset(&sResult, 0, sizeof(sResult));
        sResult.pszSource = psEntry->pszSource;
        sResult.pszOutput = psEntry->pszOutput ? psEntry->pszOutput : "";
        sResult.bOk = psEntry->bOk;
        sResult.bSkipped = psEntry->bSkipped;
        sResult.pszError = psEntry->pszError;
        sResult.pszShard = psEntry->pszShard;
        psOptions->pfnResult(&sResult, psOptions->pResultData);
    }
    BWReportSetClear(&sSet);
    if (!bOk)
        return GDAL_BATCHWARP_FAILED;
    return nFailed == 0 ? GDAL_BATCHWARP_OK : GDAL_BATCHWARP_FAILED;
}
