#include "batchwarp_shard.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_budget.h"
#include "batchwarp_util.h"

/* Slurm numbers array tasks up to its MaxArraySize (at most 4000001); an
 * index in the environment is read up to this much. */
#define BW_MAX_SLURM_TASK_ID 100000000

static int ParseIndex(const char *pszValue, long nMax, int *pnOut)
{
    long nValue = 0;
    if (!BWParseLong(pszValue, 0, nMax, &nValue))
        return FALSE;
    *pnOut = (int)nValue;
    return TRUE;
}

int BWShardParse(const char *pszValue, int *pnIndex, int *pnCount)
{
    const char *pszSlash = strchr(pszValue, '/');
    if (pszSlash == NULL)
        return FALSE;
    char *pszIndex = CPLStrdup(pszValue);
    pszIndex[pszSlash - pszValue] = '\0';
    const int bOk = ParseIndex(pszIndex, BW_MAX_SHARDS, pnIndex) &&
                    ParseIndex(pszSlash + 1, BW_MAX_SHARDS, pnCount) && *pnCount >= 1 &&
                    *pnIndex < *pnCount;
    CPLFree(pszIndex);
    return bOk;
}

static int Unusable(const char *pszWhat, char **ppszError)
{
    *ppszError = CPLStrdup(CPLSPrintf("Cannot tell the shard from the environment: %s.", pszWhat));
    return -1;
}

static int FromSlurm(const char *pszId, int *pnIndex, int *pnCount, char **ppszError)
{
    int nId = 0;
    if (!ParseIndex(pszId, BW_MAX_SLURM_TASK_ID, &nId))
        return Unusable(CPLSPrintf("SLURM_ARRAY_TASK_ID='%s' is not an index", pszId), ppszError);
    const char *pszMin = CPLGetConfigOption("SLURM_ARRAY_TASK_MIN", NULL);
    const char *pszMax = CPLGetConfigOption("SLURM_ARRAY_TASK_MAX", NULL);
    const char *pszCount = CPLGetConfigOption("SLURM_ARRAY_TASK_COUNT", NULL);
    int nMin = 0;
    int nMax = 0;
    int nCount = 0;
    /* --array=1-8 numbers tasks from 1: the shard index is the offset. */
    if (pszMin != NULL && !ParseIndex(pszMin, BW_MAX_SLURM_TASK_ID, &nMin))
        return Unusable("SLURM_ARRAY_TASK_MIN is not an index", ppszError);
    if (pszCount != NULL)
    {
        if (!ParseIndex(pszCount, BW_MAX_SLURM_TASK_ID, &nCount) || nCount < 1)
            return Unusable("SLURM_ARRAY_TASK_COUNT is not a count", ppszError);
    }
    else if (pszMin != NULL && pszMax != NULL && ParseIndex(pszMax, BW_MAX_SLURM_TASK_ID, &nMax) &&
             nMax >= nMin)
        nCount = nMax - nMin + 1;
    else
        return Unusable("SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT or "
                        "SLURM_ARRAY_TASK_MIN/MAX",
                        ppszError);
    if (nId < nMin || nId - nMin >= nCount)
        return Unusable(CPLSPrintf("SLURM_ARRAY_TASK_ID=%d is outside an array of %d tasks from "
                                   "%d (an array with a step, such as 0-6:2, cannot be sharded "
                                   "from the environment: use -shard I/N)",
                                   nId, nCount, nMin),
                        ppszError);
    *pnIndex = nId - nMin;
    *pnCount = nCount;
    return 1;
}

int BWShardFromEnvironment(int nCount, int *pnIndex, int *pnCount, char **ppszError)
{
    const char *pszSlurm = CPLGetConfigOption("SLURM_ARRAY_TASK_ID", NULL);
    if (pszSlurm != NULL)
        return FromSlurm(pszSlurm, pnIndex, pnCount, ppszError);

    static const char *const apszIndexVars[] = {"JOB_COMPLETION_INDEX",
                                                "AWS_BATCH_JOB_ARRAY_INDEX"};
    for (size_t i = 0; i < sizeof(apszIndexVars) / sizeof(apszIndexVars[0]); ++i)
    {
        const char *pszIndex = CPLGetConfigOption(apszIndexVars[i], NULL);
        if (pszIndex == NULL)
            continue;
        if (nCount <= 0)
        {
            const char *pszCount = CPLGetConfigOption("BATCHWARP_SHARD_COUNT", NULL);
            if (pszCount == NULL || !ParseIndex(pszCount, BW_MAX_SHARDS, &nCount) || nCount < 1)
                return Unusable(CPLSPrintf("%s is set, but the number of shards is not: give "
                                           "-shard_count N or set BATCHWARP_SHARD_COUNT",
                                           apszIndexVars[i]),
                                ppszError);
        }
        int nIndex = 0;
        if (!ParseIndex(pszIndex, BW_MAX_SHARDS, &nIndex) || nIndex >= nCount)
            return Unusable(CPLSPrintf("%s='%s' is not an index below the shard count %d",
                                       apszIndexVars[i], pszIndex, nCount),
                            ppszError);
        *pnIndex = nIndex;
        *pnCount = nCount;
        return 1;
    }
    return 0;
}

static int CompareForSharding(const void *a, const void *b, void *pPlan)
{
    const BWPlan *psPlan = pPlan;
    const BWPlanItem *psA = &psPlan->pasItems[*(const int *)a];
    const BWPlanItem *psB = &psPlan->pasItems[*(const int *)b];
    if (psA->nSize != psB->nSize)
        return psA->nSize > psB->nSize ? -1 : 1;
    /* Outputs are unique within a plan, and do not depend on argument order. */
    return strcmp(psA->pszOutput, psB->pszOutput);
}

int *BWShardAssign(const BWPlan *psPlan, int nCount)
{
    int *panOrder = CPLMalloc(sizeof(int) * (size_t)(psPlan->nItems + 1));
    int *panShard = CPLMalloc(sizeof(int) * (size_t)(psPlan->nItems + 1));
    GIntBig *panLoad = CPLCalloc((size_t)nCount, sizeof(GIntBig));
    for (int i = 0; i < psPlan->nItems; ++i)
        panOrder[i] = i;
    qsort_r(panOrder, (size_t)psPlan->nItems, sizeof(int), CompareForSharding, (void *)psPlan);
    for (int k = 0; k < psPlan->nItems; ++k)
    {
        int iBest = 0;
        for (int s = 1; s < nCount; ++s)
            if (panLoad[s] < panLoad[iBest])
                iBest = s;
        const int iItem = panOrder[k];
        panShard[iItem] = iBest;
        panLoad[iBest] += BWTaskCost(psPlan->pasItems[iItem].nSize);
    }
    CPLFree(panLoad);
    CPLFree(panOrder);
    return panShard;
}

void BWShardFilter(BWPlan *psPlan, int nIndex, int nCount)
{
    int *panShard = BWShardAssign(psPlan, nCount);
    int nKept = 0;
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        BWPlanItem *psItem = &psPlan->pasItems[i];
        if (panShard[i] == nIndex)
        {
            psPlan->pasItems[nKept++] = *psItem;
            continue;
        }
        CPLFree(psItem->pszSource);
        CPLFree(psItem->pszOutput);
        CPLFree(psItem->pszTemp);
        CPLFree(psItem->pszStaged);
        CSLDestroy(psItem->papszSiblings);
        CSLDestroy(psItem->papszOldSiblings);
    }
    psPlan->nItems = nKept;
    CPLFree(panShard);
}
