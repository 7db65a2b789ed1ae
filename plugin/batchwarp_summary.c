#include "batchwarp_summary.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

typedef struct
{
    char *pszReason;
    int nCount;
    int iFirst; /* order of first appearance, to break ties */
} BWReasonCount;

struct BWSummary
{
    int nOk; /* done by this run */
    int nSkipped;
    int nFailed;
    BWReasonCount *pasReasons;
    int nReasons;
};

BWSummary *BWSummaryNew(void)
{
    return CPLCalloc(1, sizeof(BWSummary));
}

void BWSummaryFree(BWSummary *psSummary)
{
    if (psSummary == NULL)
        return;
    for (int i = 0; i < psSummary->nReasons; ++i)
        CPLFree(psSummary->pasReasons[i].pszReason);
    CPLFree(psSummary->pasReasons);
    CPLFree(psSummary);
}

/* pszText with every occurrence of pszFrom (if not empty) replaced by pszTo;
 * takes ownership of pszText. */
static char *Replace(char *pszText, const char *pszFrom, const char *pszTo)
{
    if (pszFrom == NULL || pszFrom[0] == '\0')
        return pszText;
    const size_t nFrom = strlen(pszFrom);
    const size_t nTo = strlen(pszTo);
    size_t nHits = 0;
    for (const char *p = strstr(pszText, pszFrom); p != NULL; p = strstr(p + nFrom, pszFrom))
        ++nHits;
    if (nHits == 0)
        return pszText;
    char *pszOut = CPLMalloc(strlen(pszText) + nHits * nTo + 1);
    char *pszDst = pszOut;
    const char *pszSrc = pszText;
    for (const char *p = strstr(pszSrc, pszFrom); p != NULL; p = strstr(pszSrc, pszFrom))
    {
        memcpy(pszDst, pszSrc, (size_t)(p - pszSrc));
        pszDst += p - pszSrc;
        memcpy(pszDst, pszTo, nTo);
        pszDst += nTo;
        pszSrc = p + nFrom;
    }
    strcpy(pszDst, pszSrc);
    CPLFree(pszText);
    return pszOut;
}

char *BWSummaryReason(const GDALBatchWarpResult *psResult)
{
    const char *pszError =
        psResult->pszError && psResult->pszError[0] ? psResult->pszError : "unknown error";
    char *pszReason = CPLStrdup(pszError);
    char *pszEnd = strchr(pszReason, '\n');
    if (pszEnd != NULL)
        *pszEnd = '\0';
    /* Whole paths first, then bare names (GDAL often says only the name). */
    pszReason = Replace(pszReason, psResult->pszSource, "<source>");
    pszReason = Replace(pszReason, psResult->pszOutput, "<output>");
    if (psResult->pszSource != NULL)
    {
        char *pszName = CPLStrdup(CPLGetFilename(psResult->pszSource));
        pszReason = Replace(pszReason, pszName, "<source>");
        CPLFree(pszName);
    }
    if (psResult->pszOutput != NULL)
    {
        char *pszName = CPLStrdup(CPLGetFilename(psResult->pszOutput));
        pszReason = Replace(pszReason, pszName, "<output>");
        CPLFree(pszName);
    }
    return pszReason;
}

void BWSummaryAdd(BWSummary *psSummary, const GDALBatchWarpResult *psResult)
{
    if (psResult->bSkipped)
    {
        psSummary->nSkipped++;
        return;
    }
    if (psResult->bOk)
    {
        psSummary->nOk++;
        return;
    }
    psSummary->nFailed++;
    char *pszReason = BWSummaryReason(psResult);
    for (int i = 0; i < psSummary->nReasons; ++i)
    {
        if (strcmp(psSummary->pasReasons[i].pszReason, pszReason) == 0)
        {
            psSummary->pasReasons[i].nCount++;
            CPLFree(pszReason);
            return;
        }
    }
    psSummary->pasReasons = CPLRealloc(psSummary->pasReasons,
                                       sizeof(BWReasonCount) * (size_t)(psSummary->nReasons + 1));
    BWReasonCount *psNew = &psSummary->pasReasons[psSummary->nReasons];
    psNew->pszReason = pszReason;
    psNew->nCount = 1;
    psNew->iFirst = psSummary->nReasons;
    psSummary->nReasons++;
}

static int CompareByCountDesc(const void *a, const void *b)
{
    const BWReasonCount *psA = a;
    const BWReasonCount *psB = b;
    if (psA->nCount != psB->nCount)
        return psA->nCount > psB->nCount ? -1 : 1;
    return psA->iFirst - psB->iFirst;
}

/* Appends the formatted text to *ppszText (CPLFree'd, reallocated). */
static void Append(char **ppszText, const char *pszMore)
{
    const size_t nOld = strlen(*ppszText);
    const size_t nMore = strlen(pszMore);
    *ppszText = CPLRealloc(*ppszText, nOld + nMore + 1);
    memcpy(*ppszText + nOld, pszMore, nMore + 1);
}

char *BWSummaryFormat(const BWSummary *psSummary, double dfElapsedSeconds, const char *pszReport,
                      int nInterrupted, int nSources, int nMaxReasons)
{
    const int nCounted = psSummary->nOk + psSummary->nSkipped + psSummary->nFailed + nInterrupted;
    /* The batch's size, not what came of it: a batch stopped early has
     * sources it never started, which a rerun does. */
    const int nTotal = nSources > nCounted ? nSources : nCounted;
    char *pszText = CPLStrdup("");
    Append(&pszText, CPLSPrintf("Batch summary: %d source%s: %d ok, %d skipped, %d failed", nTotal,
                                nTotal == 1 ? "" : "s", psSummary->nOk, psSummary->nSkipped,
                                psSummary->nFailed));
    if (nInterrupted > 0)
        Append(&pszText, CPLSPrintf(", %d interrupted", nInterrupted));
    if (nTotal > nCounted)
        Append(&pszText, CPLSPrintf(", %d not started", nTotal - nCounted));
    Append(&pszText, CPLSPrintf(", in %.1f s.\n", dfElapsedSeconds));
    if (pszReport != NULL)
        Append(&pszText, CPLSPrintf("Report: %s\n",
                                    strcmp(pszReport, "-") == 0 ? "(standard output)" : pszReport));
    if (psSummary->nReasons == 0 || nMaxReasons <= 0)
        return pszText;
    BWReasonCount *pasSorted = CPLMalloc(sizeof(BWReasonCount) * (size_t)psSummary->nReasons);
    memcpy(pasSorted, psSummary->pasReasons, sizeof(BWReasonCount) * (size_t)psSummary->nReasons);
    qsort(pasSorted, (size_t)psSummary->nReasons, sizeof(BWReasonCount), CompareByCountDesc);
    const int nShown = psSummary->nReasons < nMaxReasons ? psSummary->nReasons : nMaxReasons;
    Append(&pszText, psSummary->nReasons > nShown
                         ? CPLSPrintf("Most frequent failure reasons (%d of %d):\n", nShown,
                                      psSummary->nReasons)
                         : "Failure reasons:\n");
    for (int i = 0; i < nShown; ++i)
    {
        Append(&pszText, CPLSPrintf("  %6d x ", pasSorted[i].nCount));
        Append(&pszText, pasSorted[i].pszReason);
        Append(&pszText, "\n");
    }
    CPLFree(pasSorted);
    return pszText;
}
