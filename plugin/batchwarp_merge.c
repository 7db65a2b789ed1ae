#include "batchwarp_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>

#include "batchwarp_report.h"
#include "batchwarp_report_reader.h"
#include "batchwarp_shard.h"
#include "batchwarp_stop.h"
#include "batchwarp_strbuf.h"

/* A shard: its index and the number of shards of its batch. */
typedef struct
{
    int nIndex;
    int nCount;
} BWShardId;

typedef struct
{
    BWShardId *pasIds;
    int nIds;
} BWShardIds;

static int CollectShard(void *pElt, void *pData)
{
    BWShardIds *psIds = pData;
    BWShardId *psId = &psIds->pasIds[psIds->nIds];
    if (BWShardParse(pElt, &psId->nIndex, &psId->nCount))
        psIds->nIds++;
    return TRUE;
}

static int CollectSourceCount(void *pElt, void *pData)
{
    BWShardIds *psIds = pData;
    psIds->pasIds[psIds->nIds].nCount = atoi(pElt); /* "N\nsource" */
    psIds->pasIds[psIds->nIds++].nIndex = -1;
    return TRUE;
}

static int CompareShardIds(const void *a, const void *b)
{
    const BWShardId *psA = a;
    const BWShardId *psB = b;
    if (psA->nCount != psB->nCount)
        return psA->nCount < psB->nCount ? -1 : 1;
    return psA->nIndex < psB->nIndex ? -1 : psA->nIndex > psB->nIndex;
}

/* The shards of which no report line was read although they surely had
 * sources, as "I/N, ..." (NULL if none). Only for a batch of N shards whose
 * reports hold every source merged (each has a line written by one of its
 * shards; a source with only other lines, of a retry run unsharded, say, may
 * be a missing shard's). A shard i of N is then missing when a shard j > i
 * wrote a line, or when shards of N wrote lines for N sources or more (the
 * split gives every shard a source once there are N: see BWShardAssign).
 * Otherwise, as with fewer sources than shards, the shards without a line
 * may have had nothing to do. */
static char *MissingShards(const BWReportSet *psSet, GIntBig *pnMissing)
{
    *pnMissing = 0;
    int nNamed = 0;
    const int nShards = CPLHashSetSize(psSet->hShards);
    if (nShards == 0)
        return NULL;
    BWShardIds sShards = {CPLMalloc(sizeof(BWShardId) * (size_t)nShards), 0};
    CPLHashSetForeach(psSet->hShards, CollectShard, &sShards);
    qsort(sShards.pasIds, (size_t)sShards.nIds, sizeof(BWShardId), CompareShardIds);
    const int nSources = CPLHashSetSize(psSet->hShardSources);
    BWShardIds sSources = {CPLMalloc(sizeof(BWShardId) * (size_t)(nSources + 1)), 0};
    CPLHashSetForeach(psSet->hShardSources, CollectSourceCount, &sSources);
    qsort(sSources.pasIds, (size_t)sSources.nIds, sizeof(BWShardId), CompareShardIds);

    BWStrBuf sText = BW_STRBUF_INIT;
    GIntBig nMissing = 0; /* a crafted report may claim many */
    int iSource = 0;
    for (int i = 0; i < sShards.nIds;)
    {
        const int nCount = sShards.pasIds[i].nCount;
        int iEnd = i;
        while (iEnd < sShards.nIds && sShards.pasIds[iEnd].nCount == nCount)
            ++iEnd;
        while (iSource < sSources.nIds && sSources.pasIds[iSource].nCount < nCount)
            ++iSource;
        int nWithSources = 0;
        while (iSource < sSources.nIds && sSources.pasIds[iSource].nCount == nCount)
            ++nWithSources, ++iSource;
        /* Indices below this one that have no line are missing. */
        const int nUpTo = nWithSources < psSet->nRecords ? 0
                          : nWithSources >= nCount       ? nCount
                                                         : sShards.pasIds[iEnd - 1].nIndex;
        int nPresent = 0;
        for (int k = i; k < iEnd && sShards.pasIds[k].nIndex < nUpTo; ++k)
            ++nPresent;
        /* The first few named, in as many steps as there are lines. */
        int iPresent = i;
        for (int nIndex = 0; nIndex < nUpTo && nNamed < 10; ++nIndex)
        {
            if (iPresent < iEnd && sShards.pasIds[iPresent].nIndex == nIndex)
                ++iPresent;
            else
                BWStrBufAddStr(&sText, CPLSPrintf("%s%d/%d", nNamed++ ? ", " : "", nIndex, nCount));
        }
        nMissing += nUpTo - nPresent;
        i = iEnd;
    }
    if (nMissing > nNamed)
        BWStrBufAddStr(&sText, CPLSPrintf(" and " CPL_FRMT_GIB " more", nMissing - nNamed));
    *pnMissing = nMissing;
    CPLFree(sShards.pasIds);
    CPLFree(sSources.pasIds);
    return BWStrBufDetach(&sText);
}

/* The merged lines are the merge's progress. A stop (SIGINT, SIGTERM heard
 * by the caller's progress callback) is heard where a write waits on a
 * reader that reads nothing; a merge that can write goes to its end, short
 * as it is, and leaves a whole report. */
static int WriteMerged(const GDALBatchWarpOptions *psOptions, const BWReportSet *psSet,
                       const char *pszPath, char **ppszError)
{
    BWReport *psReport = BWReportOpenReplacing(pszPath, ppszError);
    if (psReport == NULL)
        return FALSE;
    BWStop sStop;
    BWStopInit(&sStop, psOptions->pfnProgress, psOptions->pProgressData);
    BWReportSetStopCheck(psReport, BWStopHeard, &sStop);
    BWStopProgress(&sStop, 0.0);
    int bOk = TRUE;
    for (int i = 0; i < psSet->nRecords && bOk; ++i)
    {
        bOk = BWReportWriteLine(psReport, psSet->pasRecords[i].pszLine, ppszError);
        BWStopProgress(&sStop, (double)(i + 1) / psSet->nRecords);
    }
    if (!bOk)
    {
        BWReportDiscard(psReport);
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
        bOk = WriteMerged(psOptions, &sSet, psOptions->pszReport ? psOptions->pszReport : "-",
                          ppszError);

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
    GIntBig nMissing = 0;
    char *pszMissing = bOk ? MissingShards(&sSet, &nMissing) : NULL;
    if (nMissing > 0)
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "The reports merged hold no line of shard%s %s, which had sources to warp: %s "
            "missing from the merge, or %s not run, so %s sources are in no report.",
            nMissing > 1 ? "s" : "", pszMissing,
            nMissing > 1 ? "their reports are" : "its report is",
            nMissing > 1 ? "those shards have" : "that shard has", nMissing > 1 ? "their" : "its"));
        bOk = FALSE;
    }
    CPLFree(pszMissing);
    BWReportSetClear(&sSet);
    if (!bOk)
        return GDAL_BATCHWARP_FAILED;
    return nFailed == 0 ? GDAL_BATCHWARP_OK : GDAL_BATCHWARP_FAILED;
}
