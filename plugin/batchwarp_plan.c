#include "batchwarp_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "batchwarp_canonical.h"
#include "batchwarp_naming.h"
#include "batchwarp_output.h"
#include "batchwarp_report.h"
#include "batchwarp_shard.h"
#include "batchwarp_sources.h"
#include "batchwarp_stop.h"
#include "batchwarp_strbuf.h"
#include "batchwarp_temp.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"

typedef struct
{
    const char *pszKey;
    int nIndex;
} BWKeyIndex;

static int CompareKeyIndex(const void *a, const void *b)
{
    const BWKeyIndex *psA = a;
    const BWKeyIndex *psB = b;
    const int n = strcmp(psA->pszKey, psB->pszKey);
    return n != 0 ? n : psA->nIndex - psB->nIndex;
}

static int CompareKey(const void *a, const void *b)
{
    return strcmp(((const BWKeyIndex *)a)->pszKey, ((const BWKeyIndex *)b)->pszKey);
}

/* The entry of pasKeys (sorted by key) whose key is psKey's, or NULL. */
static const BWKeyIndex *FindKey(const BWKeyIndex *psKey, const BWKeyIndex *pasKeys, int nKeys)
{
    return nKeys > 0 ? bsearch(psKey, pasKeys, (size_t)nKeys, sizeof(BWKeyIndex), CompareKey)
                     : NULL;
}

static int CheckCollisions(const BWPlan *psPlan, char **ppszError)
{
    BWKeyIndex *pasKeys = CPLCalloc((size_t)psPlan->nItems + 1, sizeof(BWKeyIndex));
    char **papszCanonOut = CPLCalloc((size_t)psPlan->nItems + 1, sizeof(char *));
    BWCanonicalCache sOutDirs = {NULL, NULL, FALSE};
    BWCanonicalCache sSourceDirs = {NULL, NULL, FALSE};
    int bOk = TRUE;
    for (int i = 0; i < psPlan->nItems && bOk; ++i)
    {
        papszCanonOut[i] = BWCanonicalPathCached(&sOutDirs, psPlan->pasItems[i].pszOutput);
        pasKeys[i].pszKey = papszCanonOut[i];
        pasKeys[i].nIndex = i;
        char *pszCanonSrc = BWCanonicalPathCached(&sSourceDirs, psPlan->pasItems[i].pszSource);
        if (strcmp(pszCanonSrc, papszCanonOut[i]) == 0)
        {
            *ppszError = CPLStrdup(CPLSPrintf(
                "Output '%s' would overwrite its own source '%s': choose another -outdir or a "
                "-suffix.",
                psPlan->pasItems[i].pszOutput, psPlan->pasItems[i].pszSource));
            bOk = FALSE;
        }
        CPLFree(pszCanonSrc);
    }
    if (bOk && psPlan->nItems > 1)
    {
        qsort(pasKeys, (size_t)psPlan->nItems, sizeof(BWKeyIndex), CompareKeyIndex);
        for (int i = 1; i < psPlan->nItems && bOk; ++i)
        {
            if (strcmp(pasKeys[i - 1].pszKey, pasKeys[i].pszKey) == 0)
            {
                const BWPlanItem *psA = &psPlan->pasItems[pasKeys[i - 1].nIndex];
                const BWPlanItem *psB = &psPlan->pasItems[pasKeys[i].nIndex];
                /* One file named twice (a.tif and ./a.tif, a directory and
                 * a file in it, a link): renaming is not the remedy. */
                char *pszCanonA = BWCanonicalPath(psA->pszSource);
                char *pszCanonB = BWCanonicalPath(psB->pszSource);
                if (strcmp(pszCanonA, pszCanonB) == 0)
                    *ppszError = BWStrPrintf("Source '%s' is given twice (also as '%s'), both "
                                             "to be written to '%s': give each source once.",
                                             psA->pszSource, psB->pszSource, psA->pszOutput);
                else
                    *ppszError = BWStrPrintf(
                        "Sources '%s' and '%s' would both be written to '%s': rename one, or "
                        "warp them in separate batches.",
                        psA->pszSource, psB->pszSource, psA->pszOutput);
                CPLFree(pszCanonA);
                CPLFree(pszCanonB);
                bOk = FALSE;
            }
        }
    }
    /* No output may be named like a sidecar that GDAL attaches to another
     * (x.tif.ovr beside x.tif, from -output_template {name}): GDAL would
     * read it as that output's overviews, mask or metadata, and publishing
     * that output removes it as an earlier output's sidecar (see
     * BWOutputSidecarSuffixes). */
    for (int i = 0; i < psPlan->nItems && bOk; ++i)
    {
        for (int j = 0; BWOutputSidecarSuffixes[j] != NULL && bOk; ++j)
        {
            char *pszSidecar =
                CPLStrdup(CPLSPrintf("%s%s", pasKeys[i].pszKey, BWOutputSidecarSuffixes[j]));
            const BWKeyIndex sKey = {pszSidecar, -1};
            const BWKeyIndex *psFound = FindKey(&sKey, pasKeys, psPlan->nItems);
            if (psFound != NULL)
            {
                *ppszError = CPLStrdup(CPLSPrintf(
                    "Output '%s' (of source '%s') is named like a sidecar of output '%s' (of "
                    "source '%s'): GDAL would read it as that output's %s, and publishing that "
                    "output removes it. Choose another -output_template, -suffix or -outdir for "
                    "one of them.",
                    psPlan->pasItems[psFound->nIndex].pszOutput,
                    psPlan->pasItems[psFound->nIndex].pszSource,
                    psPlan->pasItems[pasKeys[i].nIndex].pszOutput,
                    psPlan->pasItems[pasKeys[i].nIndex].pszSource,
                    j == 0   ? "metadata"
                    : j == 1 ? "overviews"
                             : "mask"));
                bOk = FALSE;
            }
            CPLFree(pszSidecar);
        }
    }
    for (int i = 0; i < psPlan->nItems; ++i)
        CPLFree(papszCanonOut[i]);
    CPLFree(papszCanonOut);
    CPLFree(pasKeys);
    BWCanonicalCacheClear(&sOutDirs);
    BWCanonicalCacheClear(&sSourceDirs);
    return bOk;
}

typedef struct
{
    dev_t nDev;
    ino_t nIno;
} BWFileId;

/* Whether two paths name one file: the same (device, inode) when both exist
 * (links, hard links, bind mounts), else the same canonical path. */
static int SameFile(const char *pszA, const char *pszCanonA, const char *pszB,
                    const char *pszCanonB)
{
    struct stat sA, sB;
    if (!STARTS_WITH(pszA, "/vsi") && !STARTS_WITH(pszB, "/vsi") && stat(pszA, &sA) == 0 &&
        stat(pszB, &sB) == 0)
        return sA.st_dev == sB.st_dev && sA.st_ino == sB.st_ino;
    return strcmp(pszCanonA, pszCanonB) == 0;
}

static int CompareStrPtr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int CompareFileIds(const void *a, const void *b)
{
    const BWFileId *psA = a;
    const BWFileId *psB = b;
    if (psA->nDev != psB->nDev)
        return psA->nDev < psB->nDev ? -1 : 1;
    if (psA->nIno != psB->nIno)
        return psA->nIno < psB->nIno ? -1 : 1;
    return 0;
}

/* No output may be any source of the batch (not only its own): with
 * -suffix _w, a.tif's output a_w.tif would replace the source a_w.tif, or
 * keep a.tif as "done". By (device, inode) where the file exists, by
 * canonical path otherwise. */
/* Where a local source that is a symbolic link leads, followed by its text
 * alone (so also when nothing is there yet, as when it names an output of
 * this batch), canonical; NULL if it is no link. */
static char *LinkTargetCanonical(BWCanonicalCache *psDirs, const char *pszSource)
{
    if (STARTS_WITH(pszSource, "/vsi"))
        return NULL;
    char *pszPath = CPLStrdup(pszSource);
    int bLink = FALSE;
    for (int nHops = 0; nHops < 40; ++nHops)
    {
        struct stat sStat;
        char szTarget[PATH_MAX];
        ssize_t nLen;
        if (lstat(pszPath, &sStat) != 0 || !S_ISLNK(sStat.st_mode) ||
            (nLen = readlink(pszPath, szTarget, sizeof(szTarget) - 1)) <= 0)
            break;
        szTarget[nLen] = '\0';
        bLink = TRUE;
        char *pszDir = BWPathDir(pszPath);
        char *pszNext = szTarget[0] == '/' || pszDir[0] == '\0'
                            ? CPLStrdup(szTarget)
                            : CPLStrdup(CPLSPrintf("%s/%s", pszDir, szTarget));
        CPLFree(pszDir);
        CPLFree(pszPath);
        pszPath = pszNext;
    }
    char *pszCanon = bLink ? BWCanonicalPathCached(psDirs, pszPath) : NULL;
    CPLFree(pszPath);
    return pszCanon;
}

static int CheckOutputsAreNotSources(const BWPlan *psPlan, char **ppszError)
{
    const size_t n = (size_t)psPlan->nItems;
    /* Each source's canonical path, and where each link among them leads. */
    char **papszCanon = CPLCalloc(2 * n + 1, sizeof(char *));
    size_t nCanon = n;
    BWFileId *pasIds = CPLCalloc(n + 1, sizeof(BWFileId));
    size_t nIds = 0;
    BWCanonicalCache sDirs = {NULL, NULL, FALSE};
    for (size_t i = 0; i < n; ++i)
    {
        const char *pszSource = psPlan->pasItems[i].pszSource;
        papszCanon[i] = BWCanonicalPathCached(&sDirs, pszSource);
        /* One lstat() of a local source: a link is followed (by its text,
         * then to its file), anything else is its own file. */
        struct stat sStat;
        if (STARTS_WITH(pszSource, "/vsi") || lstat(pszSource, &sStat) != 0)
            continue;
        if (S_ISLNK(sStat.st_mode))
        {
            char *pszTarget = LinkTargetCanonical(&sDirs, pszSource);
            if (pszTarget != NULL)
                papszCanon[nCanon++] = pszTarget;
            if (stat(pszSource, &sStat) != 0)
                continue;
        }
        pasIds[nIds].nDev = sStat.st_dev;
        pasIds[nIds].nIno = sStat.st_ino;
        ++nIds;
    }
    qsort(papszCanon, nCanon, sizeof(char *), CompareStrPtr);
    qsort(pasIds, nIds, sizeof(BWFileId), CompareFileIds);
    int bOk = TRUE;
    for (size_t i = 0; i < n && bOk; ++i)
    {
        const BWPlanItem *psItem = &psPlan->pasItems[i];
        char *pszCanonOut = BWCanonicalPathCached(&sDirs, psItem->pszOutput);
        struct stat sStat;
        BWFileId sId;
        int bHit = bsearch(&pszCanonOut, papszCanon, nCanon, sizeof(char *), CompareStrPtr) != NULL;
        /* An output in a directory not made yet is no file yet. */
        if (!bHit && !sDirs.bMissing && !STARTS_WITH(psItem->pszOutput, "/vsi") &&
            stat(psItem->pszOutput, &sStat) == 0)
        {
            sId.nDev = sStat.st_dev;
            sId.nIno = sStat.st_ino;
            bHit = bsearch(&sId, pasIds, nIds, sizeof(BWFileId), CompareFileIds) != NULL;
        }
        if (bHit)
        {
            const char *pszOther = "another source";
            for (int k = 0; k < psPlan->nItems; ++k)
            {
                char *pszCanonSrc = BWCanonicalPath(psPlan->pasItems[k].pszSource);
                char *pszTarget = LinkTargetCanonical(&sDirs, psPlan->pasItems[k].pszSource);
                const int bSame = SameFile(psItem->pszOutput, pszCanonOut,
                                           psPlan->pasItems[k].pszSource, pszCanonSrc) ||
                                  (pszTarget != NULL && strcmp(pszTarget, pszCanonOut) == 0);
                CPLFree(pszTarget);
                CPLFree(pszCanonSrc);
                if (bSame)
                {
                    pszOther = psPlan->pasItems[k].pszSource;
                    break;
                }
            }
            *ppszError = CPLStrdup(
                CPLSPrintf("Output '%s' of '%s' is also a source of this batch ('%s'): it would be "
                           "replaced, or taken as done. Choose another -outdir or -suffix.",
                           psItem->pszOutput, psItem->pszSource, pszOther));
            bOk = FALSE;
        }
        CPLFree(pszCanonOut);
    }
    for (size_t i = 0; i < nCanon; ++i)
        CPLFree(papszCanon[i]);
    CPLFree(papszCanon);
    CPLFree(pasIds);
    BWCanonicalCacheClear(&sDirs);
    return bOk;
}

/* A source pattern the program expands itself (quoted) must not match any
 * output of the batch: the next run would take the outputs as sources. */
static int CheckPatternsMissOutputs(const GDALBatchWarpOptions *psOptions, const BWPlan *psPlan,
                                    char **ppszError)
{
    int bOk = TRUE;
    for (CSLConstList papszIter = psOptions->papszSources; bOk && papszIter && *papszIter;
         ++papszIter)
    {
        const char *pszPattern = *papszIter;
        VSIStatBufL sStat;
        if (strpbrk(pszPattern, "*?[") == NULL || VSIStatL(pszPattern, &sStat) == 0)
            continue;
        char *pszPatternDirName = BWPathDir(pszPattern);
        char *pszPatternDir = BWCanonicalPath(pszPatternDirName[0] ? pszPatternDirName : ".");
        CPLFree(pszPatternDirName);
        const char *pszNamePattern = BWPathName(pszPattern);
        for (int i = 0; i < psPlan->nItems && bOk; ++i)
        {
            const char *pszOutput = psPlan->pasItems[i].pszOutput;
            char *pszOutDirName = BWPathDir(pszOutput);
            char *pszOutDir = BWCanonicalPath(pszOutDirName[0] ? pszOutDirName : ".");
            CPLFree(pszOutDirName);
            if (fnmatch(pszPattern, pszOutput, FNM_PATHNAME | FNM_PERIOD) == 0 ||
                (strcmp(pszOutDir, pszPatternDir) == 0 &&
                 fnmatch(pszNamePattern, BWPathName(pszOutput), FNM_PERIOD) == 0))
            {
                *ppszError = CPLStrdup(CPLSPrintf(
                    "Source pattern '%s' matches the output '%s' of this batch: a rerun would "
                    "take the outputs as sources. Choose another -outdir.",
                    pszPattern, pszOutput));
                bOk = FALSE;
            }
            CPLFree(pszOutDir);
        }
        CPLFree(pszPatternDir);
    }
    return bOk;
}

/* Whether pszCanonReport is in pszOutput's directory and its name begins
 * with the output's stem and a dot ("a.tif.aux.xml", "a.hdr", "a.ovr" for
 * the output "a.tif"): a name the output's sidecars may take, which
 * publishing replaces or removes. */
static int IsSidecarNameOf(const char *pszCanonReport, const char *pszOutput)
{
    const char *pszName = BWPathName(pszOutput);
    const char *pszDot = strrchr(pszName, '.');
    const size_t nStem = pszDot && pszDot != pszName ? (size_t)(pszDot - pszName) : strlen(pszName);
    const char *pszReportName = BWPathName(pszCanonReport);
    if (STARTS_WITH(pszOutput, "/vsi") || strncmp(pszReportName, pszName, nStem) != 0 ||
        pszReportName[nStem] != '.')
        return FALSE;
    char *pszCanon = BWCanonicalPath(pszOutput);
    char *pszDir = BWPathDir(pszCanon);
    char *pszReportDir = BWPathDir(pszCanonReport);
    const int bSameDir = strcmp(pszDir, pszReportDir) == 0;
    CPLFree(pszCanon);
    CPLFree(pszDir);
    CPLFree(pszReportDir);
    return bSameDir;
}

/* The report is written from the start of the run: it must be neither a
 * source (truncated to JSON) nor an output (replaced by JSON, or renamed
 * over). */
static int CheckReportPath(const GDALBatchWarpOptions *psOptions, const BWPlan *psPlan,
                           char **ppszError)
{
    const char *pszReport = psOptions->pszReport;
    if (pszReport == NULL || strcmp(pszReport, "-") == 0)
        return TRUE;
    char *pszCanonReport = BWCanonicalPath(pszReport);
    int bOk = TRUE;
    if (BWPathEntersTempNamespace(pszCanonReport))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' would be in the temporary namespace of gdal_batchwarp ('" BW_TEMP_PREFIX
            "*'), which runs remove.",
            pszReport));
        bOk = FALSE;
    }
    /* An existing report is compared by (device, inode) with every source
     * and output; a new one can only be a planned output, compared by
     * canonical path where the names agree. */
    struct stat sReport;
    const int bExists = stat(pszReport, &sReport) == 0;
    const char *pszReportName = BWPathName(pszCanonReport);
    for (int i = 0; i < psPlan->nItems && bOk; ++i)
    {
        const BWPlanItem *psItem = &psPlan->pasItems[i];
        for (int k = 0; k < 2 && bOk; ++k)
        {
            const char *pszPath = k == 0 ? psItem->pszSource : psItem->pszOutput;
            int bSame = FALSE;
            struct stat sStat;
            if (bExists)
                bSame = !STARTS_WITH(pszPath, "/vsi") && stat(pszPath, &sStat) == 0 &&
                        sStat.st_dev == sReport.st_dev && sStat.st_ino == sReport.st_ino;
            else if (k == 1 && strcmp(BWPathName(pszPath), pszReportName) == 0)
            {
                char *pszCanon = BWCanonicalPath(pszPath);
                bSame = strcmp(pszCanon, pszCanonReport) == 0;
                CPLFree(pszCanon);
            }
            if (bSame)
            {
                *ppszError = CPLStrdup(
                    CPLSPrintf("Report '%s' is %s '%s' of this batch: choose another -report path.",
                               pszReport, k == 0 ? "the source" : "the output", pszPath));
                bOk = FALSE;
            }
            else if (k == 1 && IsSidecarNameOf(pszCanonReport, pszPath))
            {
                *ppszError = CPLStrdup(CPLSPrintf(
                    "Report '%s' is named like a sidecar of the output '%s' of this batch (in its "
                    "directory, its name begins with the output's stem and a dot): publishing the "
                    "output could replace or remove it, or GDAL attach it to the output. Choose "
                    "another -report path.",
                    pszReport, pszPath));
                bOk = FALSE;
            }
        }
    }
    CPLFree(pszCanonReport);
    /* Something else at its name than a report of ours: refused now. */
    return bOk && BWReportCheckPath(pszReport, ppszError);
}

/* /vsimem/ is the memory of one process: each worker has its own, which
 * the supervisor and the caller never see. */
static const char szProcessMemory[] =
    "is in the memory of one process (/vsimem/), and each worker process has its own: ";

/* -outdir where outputs can be published: not an archive (written by one
 * writer, a file at a time, never replaced in place), nor a process's
 * memory, nor a stream. */
static int CheckOutDirKind(const char *pszOutDir, char **ppszError)
{
    static const char *const apszArchives[] = {"/vsizip/", "/vsitar/", "/vsigzip/",
                                               "/vsi7z/",  "/vsirar/", NULL};
    for (int i = 0; apszArchives[i] != NULL; ++i)
    {
        if (STARTS_WITH_CI(pszOutDir, apszArchives[i]))
        {
            *ppszError = CPLStrdup(CPLSPrintf(
                "Output directory '%s' is in an archive (%s): gdal_batchwarp's workers write "
                "their outputs side by side and replace them whole, and an archive takes one "
                "writer at a time and no replacement. Write to a directory, then archive it.",
                pszOutDir, apszArchives[i]));
            return FALSE;
        }
    }
    if (STARTS_WITH_CI(pszOutDir, "/vsimem/"))
    {
        *ppszError = CPLStrdup(CPLSPrintf("Output directory '%s' %s"
                                          "outputs that workers wrote there would vanish with "
                                          "them. Write to a directory on a disk or an object "
                                          "store.",
                                          pszOutDir, szProcessMemory));
        return FALSE;
    }
    if (STARTS_WITH_CI(pszOutDir, "/vsistdout"))
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("Output directory '%s' is a stream: gdal_batchwarp writes each output as "
                       "files of a directory. Write to a directory.",
                       pszOutDir));
        return FALSE;
    }
    return TRUE;
}

/* An output directory that is also a directory source would feed this run's
 * outputs to the next run as sources (a_3857.tif -> a_3857_3857.tif), so it
 * is refused even when a -suffix keeps the names apart. */
static int CheckOutDirIsNotSource(const GDALBatchWarpOptions *psOptions, char **ppszError)
{
    char *pszCanonOut = BWCanonicalPath(psOptions->pszOutDir);
    int bOk = TRUE;
    for (CSLConstList papszIter = psOptions->papszSources; bOk && papszIter && *papszIter;
         ++papszIter)
    {
        /* The names first: a stat is a round trip on an object store. */
        char *pszCanonSrc = BWCanonicalPath(*papszIter);
        VSIStatBufL sStat;
        if (strcmp(pszCanonSrc, pszCanonOut) == 0 && VSIStatL(*papszIter, &sStat) == 0 &&
            VSI_ISDIR(sStat.st_mode))
        {
            *ppszError = CPLStrdup(CPLSPrintf(
                "Output directory '%s' is the source directory '%s': its outputs would be "
                "taken as sources by the next run. Choose another -outdir.",
                psOptions->pszOutDir, *papszIter));
            bOk = FALSE;
        }
        CPLFree(pszCanonSrc);
    }
    CPLFree(pszCanonOut);
    return bOk;
}

/* -retry_failed: the outputs the report names, found by source in constant
 * time, so that retrying a large report stays linear. */
typedef struct
{
    const GDALBatchWarpOptions *psOptions;
    CPLHashSet *psSources; /* of char ** into papszSources, the first of each name */
    int nOutputs;          /* CSLCount(papszRetryOutputs) */
    char *pszOutDir;       /* -outdir, canonical */
    char *pszLastDir;      /* the directory last asked about (outputs share a few) */
    int bLastInside;       /* whether it lies in -outdir */
    char *pszLastRel;      /* if so, its path below -outdir */
    char *pszLastOutput;   /* the output last returned */
} BWReportedOutputs;

static unsigned long HashSourceRef(const void *p)
{
    return CPLHashSetHashStr(*(const char *const *)p);
}

static int EqualSourceRefs(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b) == 0;
}

static void ReportedOutputsInit(BWReportedOutputs *psIndex, const GDALBatchWarpOptions *psOptions)
{
    memset(psIndex, 0, sizeof(*psIndex));
    psIndex->psOptions = psOptions;
    if (psOptions->papszRetryOutputs == NULL)
        return;
    psIndex->psSources = CPLHashSetNew(HashSourceRef, EqualSourceRefs, NULL);
    for (char **ppszSource = psOptions->papszSources; ppszSource && *ppszSource; ++ppszSource)
    {
        if (CPLHashSetLookup(psIndex->psSources, ppszSource) == NULL)
            CPLHashSetInsert(psIndex->psSources, ppszSource);
    }
    psIndex->nOutputs = CSLCount(psOptions->papszRetryOutputs);
    psIndex->pszOutDir = BWCanonicalPath(psOptions->pszOutDir);
}

static void ReportedOutputsClear(BWReportedOutputs *psIndex)
{
    if (psIndex->psSources != NULL)
        CPLHashSetDestroy(psIndex->psSources);
    CPLFree(psIndex->pszOutDir);
    CPLFree(psIndex->pszLastDir);
    CPLFree(psIndex->pszLastRel);
    CPLFree(psIndex->pszLastOutput);
    memset(psIndex, 0, sizeof(*psIndex));
}

/* Whether pszRel (a path below -outdir) is what this run's template names
 * for pszSource with some {relpath}: a trailing part of the source's
 * directory, as a -recursive run below one of its ancestors gives it. A
 * report is input: the names it gives are only the plan's own. */
static int PlanNamesForSource(const GDALBatchWarpOptions *psOptions, const char *pszSource,
                              const char *pszRel)
{
    char *pszDir = BWPathDir(pszSource);
    char **papszParts = CSLTokenizeString2(pszDir, "/", 0);
    CPLFree(pszDir);
    const int nParts = CSLCount(papszParts);
    int bFound = FALSE;
    for (int iFirst = nParts; iFirst >= 0 && !bFound; --iFirst)
    {
        char *pszRelDir = CPLStrdup("");
        for (int i = iFirst; i < nParts; ++i)
        {
            char *pszJoined = CPLStrdup(pszRelDir[0] ? CPLSPrintf("%s/%s", pszRelDir, papszParts[i])
                                                     : papszParts[i]);
            CPLFree(pszRelDir);
            pszRelDir = pszJoined;
        }
        char *pszName = BWExpandOutputTemplate(
            psOptions->pszOutputTemplate ? psOptions->pszOutputTemplate
                                         : BW_DEFAULT_OUTPUT_TEMPLATE,
            pszSource, pszRelDir, psOptions->pszSuffix, psOptions->pszOutputExtension, NULL);
        bFound = pszName != NULL && strcmp(pszName, pszRel) == 0;
        CPLFree(pszName);
        CPLFree(pszRelDir);
    }
    CSLDestroy(papszParts);
    return bFound;
}

/* The output the report names for a source, when it lies in this run's
 * -outdir and is a name this run's plan gives that source (a -recursive
 * run's subdirectories are kept that way); NULL otherwise, and the output is
 * named as usual (a retry into another -outdir, or with another template,
 * or a report line naming another file). */
static const char *ReportedOutputFor(BWReportedOutputs *psIndex, const char *pszSource)
{
    if (psIndex->psSources == NULL)
        return NULL;
    char **ppszFound = CPLHashSetLookup(psIndex->psSources, &pszSource);
    if (ppszFound == NULL)
        return NULL;
    const ptrdiff_t i = ppszFound - psIndex->psOptions->papszSources;
    if (i >= psIndex->nOutputs || psIndex->psOptions->papszRetryOutputs[i][0] == '\0')
        return NULL;
    const char *pszOutput = psIndex->psOptions->papszRetryOutputs[i];
    char *pszDir = BWPathDir(pszOutput);
    if (psIndex->pszLastDir == NULL || strcmp(pszDir, psIndex->pszLastDir) != 0)
    {
        CPLFree(psIndex->pszLastDir);
        psIndex->pszLastDir = CPLStrdup(pszDir);
        char *pszReported = BWCanonicalPath(pszDir);
        const size_t nLen = strlen(psIndex->pszOutDir);
        psIndex->bLastInside = strncmp(pszReported, psIndex->pszOutDir, nLen) == 0 &&
                               (pszReported[nLen] == '\0' || pszReported[nLen] == '/');
        CPLFree(psIndex->pszLastRel);
        psIndex->pszLastRel =
            CPLStrdup(psIndex->bLastInside ? pszReported + nLen + (pszReported[nLen] == '/') : "");
        CPLFree(pszReported);
    }
    CPLFree(pszDir);
    if (!psIndex->bLastInside)
        return NULL;
    const char *pszName = BWPathName(pszOutput);
    char *pszRel = CPLStrdup(
        psIndex->pszLastRel[0] ? CPLSPrintf("%s/%s", psIndex->pszLastRel, pszName) : pszName);
    const int bPlanned = PlanNamesForSource(psIndex->psOptions, pszSource, pszRel);
    if (!bPlanned)
        CPLDebug("BATCHWARP",
                 "-retry_failed: the report names '%s' for '%s', which this run does not: "
                 "its output is named as usual",
                 pszOutput, pszSource);
    CPLFree(pszRel);
    if (!bPlanned)
        return NULL;
    /* Spelt from this run's -outdir, so that the directories below it are
     * walked from it (see BWStatBelowOutDir). */
    const char *pszOutDir = psIndex->psOptions->pszOutDir;
    CPLFree(psIndex->pszLastOutput);
    char *pszNewDir = CPLStrdup(
        psIndex->pszLastRel[0] ? CPLFormFilename(pszOutDir, psIndex->pszLastRel, NULL) : pszOutDir);
    psIndex->pszLastOutput = CPLStrdup(CPLFormFilename(pszNewDir, pszName, NULL));
    CPLFree(pszNewDir);
    return psIndex->pszLastOutput;
}

/* Listings of the network directories that receive outputs, each taken
 * once: whether an output exists is then known without a request each. */
typedef struct
{
    char **papszDirs;     /* directory names */
    char ***papapszNames; /* each one's sorted entries */
    int *panNames;        /* how many: counted once, not at every lookup */
    int nDirs;
} BWListings;

static int CompareNames(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether an output exists (*pbExists). A network directory is listed once,
 * read again when a request for it fails: if it cannot be read whole,
 * FALSE with *ppszError, for an output that exists cannot then be told from
 * one that does not, and would be replaced. With ppapszOldSiblings, the
 * names of an existing network output's directory that may be its files
 * (see BWPlanItem's papszOldSiblings). */
static int OutputExists(const char *pszOutput, BWListings *psListings, int *pbExists,
                        char ***ppapszOldSiblings, char **ppszError)
{
    if (!BWIsNetworkPath(pszOutput))
    {
        VSIStatBufL sStat;
        *pbExists = VSIStatL(pszOutput, &sStat) == 0;
        return TRUE;
    }
    const char *pszDir = CPLGetPath(pszOutput);
    int iDir = CSLFindStringCaseSensitive(psListings->papszDirs, pszDir);
    if (iDir < 0)
    {
        char **papszNames = NULL;
        if (!BWListDirectoryNames(pszDir, &papszNames, ppszError))
            return FALSE;
        const int nNames = CSLCount(papszNames);
        if (nNames > 0)
            qsort(papszNames, (size_t)nNames, sizeof(char *), CompareNames);
        iDir = psListings->nDirs++;
        psListings->papszDirs = CSLAddString(psListings->papszDirs, pszDir);
        psListings->papapszNames =
            CPLRealloc(psListings->papapszNames, sizeof(char **) * (size_t)psListings->nDirs);
        psListings->panNames =
            CPLRealloc(psListings->panNames, sizeof(int) * (size_t)psListings->nDirs);
        psListings->papapszNames[iDir] = papszNames;
        psListings->panNames[iDir] = nNames;
    }
    char **papszNames = psListings->papapszNames[iDir];
    const int nNames = psListings->panNames[iDir];
    const char *pszName = CPLGetFilename(pszOutput);
    *pbExists = papszNames != NULL &&
                bsearch(&pszName, papszNames, (size_t)nNames, sizeof(char *), CompareNames) != NULL;
    if (*pbExists && ppapszOldSiblings != NULL)
    {
        /* The names that begin with the output's stem and a dot, together
         * in the sorted listing: from the first not before the stem. */
        char *pszPrefix = CPLStrdup(CPLSPrintf("%s.", CPLGetBasename(pszOutput)));
        const size_t nPrefix = strlen(pszPrefix);
        int iLow = 0;
        for (int iHigh = nNames; iLow < iHigh;)
        {
            const int iMid = iLow + (iHigh - iLow) / 2;
            if (strcmp(papszNames[iMid], pszPrefix) < 0)
                iLow = iMid + 1;
            else
                iHigh = iMid;
        }
        char **papszOld = CSLAddString(NULL, pszName);
        for (int i = iLow; i < nNames && strncmp(papszNames[i], pszPrefix, nPrefix) == 0; ++i)
        {
            if (strcmp(papszNames[i], pszName) != 0)
                papszOld = CSLAddString(papszOld, papszNames[i]);
        }
        CPLFree(pszPrefix);
        *ppapszOldSiblings = papszOld;
    }
    return TRUE;
}

static void ListingsClear(BWListings *psListings)
{
    for (int i = 0; i < psListings->nDirs; ++i)
        CSLDestroy(psListings->papapszNames[i]);
    CPLFree(psListings->papapszNames);
    CPLFree(psListings->panNames);
    CSLDestroy(psListings->papszDirs);
    memset(psListings, 0, sizeof(*psListings));
}

/*
 * What a worker tells GDAL about a source's directory, unless the user chose
 * with GDAL_DISABLE_READDIR_ON_OPEN: a listed source's siblings from the
 * listing that found it (the sidecars that exist are found, the others cost
 * nothing); for a network source given as a file, none but itself, as
 * GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR would (no listing of a possibly huge
 * prefix, no probe of every possible sidecar name, a request each). Local
 * files given as such: NULL, and GDAL checks their sidecars with stat().
 * Takes the source's list.
 */
static char **SiblingsFor(BWSource *psSource)
{
    if (CPLGetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", NULL) != NULL)
        return NULL;
    char **papszSiblings = psSource->papszSiblings;
    psSource->papszSiblings = NULL;
    if (papszSiblings == NULL && BWIsNetworkPath(psSource->pszPath))
        papszSiblings = CSLAddString(NULL, BWPathName(psSource->pszPath));
    return papszSiblings;
}

/* What stands at an output's name must be nothing or a regular file: a
 * directory is not a finished output to keep, and a link (perhaps planted
 * in a shared directory) is neither kept as done nor written through. */
static int CheckOutputKind(int nOutDirFd, const char *pszOutDir, const char *pszOutput,
                           int *pbExists, char **ppszError)
{
    struct stat sStat;
    *pbExists = FALSE;
    if (STARTS_WITH(pszOutput, "/vsi"))
        return TRUE;
    /* Below -outdir, no link is followed: a directory on the way that is a
     * link, not a directory or another user's is refused (see
     * BWStatBelowOutDir), and what stands at the name is looked at itself. */
    const int nFound = BWStatBelowOutDirFd(nOutDirFd, pszOutDir, pszOutput, &sStat, ppszError);
    if (nFound < 0)
        return FALSE;
    if (nFound == 1 || (nFound == 2 && lstat(pszOutput, &sStat) != 0))
        return TRUE;
    *pbExists = TRUE;
    if (S_ISREG(sStat.st_mode))
        return TRUE;
    *ppszError = CPLStrdup(CPLSPrintf(
        "Output '%s' exists and is %s, not a regular file: gdal_batchwarp neither keeps it as "
        "done nor replaces it. Remove it or choose another -outdir.",
        pszOutput,
        S_ISLNK(sStat.st_mode)   ? "a symbolic link"
        : S_ISDIR(sStat.st_mode) ? "a directory"
                                 : "a special file"));
    return FALSE;
}

/* -retry_failed without -overwrite keeps an output that exists, as any run
 * does, though the report says its source failed (a failed -overwrite
 * leaves the earlier output): it is reported as skipped, ok. Said once. */
static void WarnOfKeptFailures(const GDALBatchWarpOptions *psOptions, const BWPlan *psPlan)
{
    if (psOptions->pszRetryFailed == NULL || psOptions->bOverwrite)
        return;
    int nKept = 0;
    const char *pszFirst = NULL;
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        if (!psPlan->pasItems[i].bSkip)
            continue;
        if (nKept++ == 0)
            pszFirst = psPlan->pasItems[i].pszOutput;
    }
    if (nKept > 0)
        CPLError(CE_Warning, CPLE_AppDefined,
                 "'%s'%s exist%s, though '%s' reports %s source%s failed: kept and reported as "
                 "skipped, not warped again. Add -overwrite to warp %s again.",
                 pszFirst, nKept > 1 ? CPLSPrintf(" and %d more outputs", nKept - 1) : "",
                 nKept > 1 ? "" : "s", psOptions->pszRetryFailed, nKept > 1 ? "their" : "its",
                 nKept > 1 ? "s" : "", nKept > 1 ? "them" : "it");
}

/* -print_outputs prints one path a line, -dry_run one "source -> output"
 * line per item: a name with a newline would be read as two by the next
 * program (xargs, gdalbuildvrt -input_file_list, a while read loop), and
 * escaping it would hand that program a name that does not exist. Such a
 * plan is refused, unless -null ends each path or line with a NUL byte
 * (find -print0, xargs -0), which any name reads back from. */
static int CheckPrintable(const GDALBatchWarpOptions *psOptions, const BWPlanItem *psItem,
                          char **ppszError)
{
    if (psOptions->bNulSeparated)
        return TRUE;
    const char *pszOption = psOptions->bDryRun         ? "-dry_run"
                            : psOptions->bPrintOutputs ? "-print_outputs"
                                                       : NULL;
    const int bSource = psOptions->bDryRun && strchr(psItem->pszSource, '\n') != NULL;
    if (pszOption == NULL || (!bSource && strchr(psItem->pszOutput, '\n') == NULL))
        return TRUE;
    *ppszError = CPLStrdup(CPLSPrintf(
        "%s '%s' (%s '%s') has a newline in its name: %s prints %s, so the next program would "
        "read it as two names. Add -null (--null in gdal raster batch-warp) to end each %s with "
        "a NUL byte instead (for xargs -0).",
        bSource ? "Source" : "Output", bSource ? psItem->pszSource : psItem->pszOutput,
        bSource ? "output" : "source", bSource ? psItem->pszOutput : psItem->pszSource, pszOption,
        psOptions->bDryRun ? "one 'source -> output' line per source" : "one path a line",
        psOptions->bDryRun ? "line" : "path"));
    return FALSE;
}

static int PlanBuild(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan, char **ppszError);

/* GDAL, asked whether a listed file is a raster, opens the files a driver
 * looks for beside it (x.hdr beside x.dat): one that is a FIFO would stop
 * the plan for good, and no signal would end it (see BWFifoGuardStart).
 * The guard watches the one thread that started it: a program running two
 * batches at once in two threads (gdal.Run in a thread pool) had the second
 * plan unwatched (hung for good on such a FIFO) and the first thread
 * watched after its plan, whatever FIFO it opened then. So one plan at a
 * time in a process, each watched from its start to its end. */
static pthread_mutex_t hPlanMutex = PTHREAD_MUTEX_INITIALIZER;

int BWPlanBuild(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan, char **ppszError)
{
    pthread_mutex_lock(&hPlanMutex);
    BWFifoGuardStart();
    const int bOk = PlanBuild(psOptions, psPlan, ppszError);
    BWFifoGuardStop();
    pthread_mutex_unlock(&hPlanMutex);
    return bOk;
}

static int PlanBuild(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan, char **ppszError)
{
    memset(psPlan, 0, sizeof(*psPlan));
    BWUnpinOutDir();
    if ((psOptions->pszOutDir != NULL && !CheckOutDirKind(psOptions->pszOutDir, ppszError)) ||
        !CheckOutDirIsNotSource(psOptions, ppszError) ||
        !BWPinOutDir(psOptions->pszOutDir, ppszError))
        return FALSE;
    for (CSLConstList papszIter = psOptions->papszSources; papszIter && *papszIter; ++papszIter)
    {
        if (STARTS_WITH_CI(*papszIter, "/vsimem/"))
        {
            *ppszError = CPLStrdup(CPLSPrintf("Source '%s' %s"
                                              "they cannot read this one. Write it to a file on a "
                                              "disk or an object store.",
                                              *papszIter, szProcessMemory));
            return FALSE;
        }
    }
    /* A stop (SIGINT, SIGTERM: the progress callback says so, GDAL's way to
     * cancel) is heard while the sources are listed too, at 0 done. */
    BWStop sStop;
    BWStopInit(&sStop, psOptions->pfnProgress, psOptions->pProgressData);
    BWSourceList sSources;
    BWCollectSourcesEx(psOptions->papszSources, psOptions->bRecursive, psOptions->pszOutDir,
                       BWStopHeard, &sStop, &sSources);
    if (sSources.bStopped)
    {
        *ppszError = CPLStrdup("Interrupted while listing the sources: nothing was done.");
        BWSourceListClear(&sSources);
        return FALSE;
    }
    if (sSources.pszError != NULL)
    {
        *ppszError = CPLStrdup(sSources.pszError);
        BWSourceListClear(&sSources);
        return FALSE;
    }
    if (sSources.nSources == 0)
    {
        *ppszError = CPLStrdup("No raster found in the given sources.");
        BWSourceListClear(&sSources);
        return FALSE;
    }
    psPlan->pasItems = CPLCalloc((size_t)sSources.nSources, sizeof(BWPlanItem));
    BWListings sListings;
    memset(&sListings, 0, sizeof(sListings));
    int bListFailed = FALSE; /* an output directory's, with -overwrite */
    BWReportedOutputs sReported;
    ReportedOutputsInit(&sReported, psOptions);
    int bOk = TRUE;
    /* -outdir opened once for the outputs' checks, not once for each (and
     * not there yet before the first run: -1). */
    const int nOutDirFd = psOptions->pszOutDir && !STARTS_WITH(psOptions->pszOutDir, "/vsi")
                              ? open(psOptions->pszOutDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                              : -1;
    for (int i = 0; i < sSources.nSources && bOk; ++i)
    {
        BWSource *psSource = &sSources.pasSources[i];
        BWPlanItem *psItem = &psPlan->pasItems[psPlan->nItems];
        char *pszName =
            BWExpandOutputTemplate(psOptions->pszOutputTemplate ? psOptions->pszOutputTemplate
                                                                : BW_DEFAULT_OUTPUT_TEMPLATE,
                                   psSource->pszPath, psSource->pszRelDir, psOptions->pszSuffix,
                                   psOptions->pszOutputExtension, ppszError);
        if (pszName == NULL)
        {
            bOk = FALSE;
            break;
        }
        psPlan->nItems++;
        psItem->pszSource = CPLStrdup(psSource->pszPath);
        /* -retry_failed: where the report says, so that a -recursive run's
         * outputs keep their subdirectories. */
        const char *pszReported = ReportedOutputFor(&sReported, psSource->pszPath);
        psItem->pszOutput = CPLStrdup(
            pszReported ? pszReported : CPLFormFilename(psOptions->pszOutDir, pszName, NULL));
        CPLFree(pszName);
        if (!CheckPrintable(psOptions, psItem, ppszError))
        {
            bOk = FALSE;
            break;
        }
        if (BWPathEntersTempNamespace(psItem->pszOutput))
        {
            *ppszError = CPLStrdup(
                CPLSPrintf("Output '%s' would be in the temporary namespace of gdal_batchwarp "
                           "('" BW_TEMP_PREFIX "*'), which runs remove: choose another -outdir or "
                           "-output_template.",
                           psItem->pszOutput));
            bOk = FALSE;
            break;
        }
        VSIStatBufL sStat;
        psItem->nSize = psSource->nSize;
        /* Sizes only order the work: not worth a round trip each. */
        if (psItem->nSize < 0 && !BWIsNetworkPath(psItem->pszSource))
            psItem->nSize = VSIStatL(psItem->pszSource, &sStat) == 0 ? (GIntBig)sStat.st_size : 0;
        else if (psItem->nSize < 0)
            psItem->nSize = 0;
        int bExists = FALSE;
        if (!CheckOutputKind(nOutDirFd, psOptions->pszOutDir, psItem->pszOutput, &bExists,
                             ppszError))
        {
            bOk = FALSE;
            break;
        }
        char *pszListError = NULL;
        if (!psOptions->bOverwrite && STARTS_WITH(psItem->pszOutput, "/vsi") &&
            !OutputExists(psItem->pszOutput, &sListings, &bExists, NULL, &pszListError))
        {
            *ppszError = CPLStrdup(
                CPLSPrintf("%s Which outputs exist there is unknown (they would be replaced): "
                           "nothing is done. -overwrite replaces them without a listing.",
                           pszListError));
            CPLFree(pszListError);
            bOk = FALSE;
            break;
        }
        /* What -overwrite replaces on an object store, as gdalwarp deletes
         * it: without a listing, only the objects the new output writes. */
        if (psOptions->bOverwrite && BWIsNetworkPath(psItem->pszOutput) && !bListFailed &&
            !OutputExists(psItem->pszOutput, &sListings, &bExists, &psItem->papszOldSiblings,
                          &pszListError))
        {
            /* Not listed again for each output (each time with retries). */
            CPLError(CE_Warning, CPLE_AppDefined,
                     "%s Files of earlier outputs that the new ones do not replace (an .aux.xml, "
                     "an .ovr) are left as they are.",
                     pszListError);
            bListFailed = TRUE;
        }
        CPLFree(pszListError);
        psItem->bSkip = !psOptions->bOverwrite && bExists;
        psItem->papszSiblings = SiblingsFor(psSource);
    }
    if (nOutDirFd >= 0)
        close(nOutDirFd);
    ListingsClear(&sListings);
    BWSourceListClear(&sSources);
    ReportedOutputsClear(&sReported);
    if (!bOk)
        return FALSE;
    /* Every shard checks the whole batch, so that all refuse the same plan. */
    if (!CheckCollisions(psPlan, ppszError) || !CheckOutputsAreNotSources(psPlan, ppszError) ||
        !CheckPatternsMissOutputs(psOptions, psPlan, ppszError) ||
        !CheckReportPath(psOptions, psPlan, ppszError))
        return FALSE;
    if (psOptions->nShardCount > 0)
        BWShardFilter(psPlan, psOptions->nShardIndex, psOptions->nShardCount);
    WarnOfKeptFailures(psOptions, psPlan);
    return TRUE;
}

int BWPlanAssignTemps(BWPlan *psPlan, char **ppszError)
{
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        BWPlanItem *psItem = &psPlan->pasItems[i];
        CPLFree(psItem->pszTemp);
        CPLFree(psItem->pszStaged);
        psItem->pszTemp = BWTempPathFor(psItem->pszOutput);
        psItem->pszStaged =
            BWOutputNeedsStaging(psItem->pszOutput) ? BWStagingPathFor(i, psItem->pszOutput) : NULL;
        if (psItem->pszTemp == NULL ||
            (psItem->pszStaged == NULL && BWOutputNeedsStaging(psItem->pszOutput)))
        {
            *ppszError = CPLStrdup(
                CPLSPrintf("No temporary directory was made for '%s'.", psItem->pszOutput));
            return FALSE;
        }
    }
    return TRUE;
}

int BWPlanCountToDo(const BWPlan *psPlan)
{
    int nCount = 0;
    for (int i = 0; i < psPlan->nItems; ++i)
        nCount += !psPlan->pasItems[i].bSkip;
    return nCount;
}

int BWPlanHasNetworkSource(const BWPlan *psPlan)
{
    for (int i = 0; i < psPlan->nItems; ++i)
        if (!psPlan->pasItems[i].bSkip && BWIsNetworkPath(psPlan->pasItems[i].pszSource))
            return TRUE;
    return FALSE;
}

void BWPlanFree(BWPlan *psPlan)
{
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        CPLFree(psPlan->pasItems[i].pszSource);
        CPLFree(psPlan->pasItems[i].pszOutput);
        CPLFree(psPlan->pasItems[i].pszTemp);
        CPLFree(psPlan->pasItems[i].pszStaged);
        CSLDestroy(psPlan->pasItems[i].papszSiblings);
        CSLDestroy(psPlan->pasItems[i].papszOldSiblings);
    }
    CPLFree(psPlan->pasItems);
    memset(psPlan, 0, sizeof(*psPlan));
}
