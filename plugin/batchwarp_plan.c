#include "batchwarp_plan.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

#define BW_TEMP_MARKER ".batchwarp-tmp-"

/* Files that travel with a raster and are never rasters to warp themselves. */
static const char *const apszSidecarSuffixes[] = {".aux.xml", ".ovr", ".msk", ".tfw", ".tifw",
                                                  ".wld",     ".prj", ".aux", ".rrd", NULL};
/* Extensions some raster drivers claim but that are mostly not rasters. */
static const char *const apszAmbiguousExtensions[] = {"txt", "csv", "xml", "json", "dat", NULL};

static int HasSuffixCI(const char *pszName, const char *pszSuffix)
{
    const size_t nName = strlen(pszName);
    const size_t nSuffix = strlen(pszSuffix);
    return nName >= nSuffix && EQUAL(pszName + nName - nSuffix, pszSuffix);
}

/* Extensions of all raster drivers, lower case, space-separated per driver. */
static char **RasterExtensions(void)
{
    char **papszExt = NULL;
    for (int i = 0; i < GDALGetDriverCount(); ++i)
    {
        GDALDriverH hDriver = GDALGetDriver(i);
        if (GDALGetMetadataItem(hDriver, GDAL_DCAP_RASTER, NULL) == NULL)
            continue;
        const char *pszList = GDALGetMetadataItem(hDriver, GDAL_DMD_EXTENSIONS, NULL);
        char **papszDriverExt = CSLTokenizeString(pszList ? pszList : "");
        for (char **papszIter = papszDriverExt; papszIter && *papszIter; ++papszIter)
        {
            if (CSLFindString((CSLConstList)apszAmbiguousExtensions, *papszIter) < 0 &&
                CSLFindString(papszExt, *papszIter) < 0)
                papszExt = CSLAddString(papszExt, *papszIter);
        }
        CSLDestroy(papszDriverExt);
    }
    return papszExt;
}

/*
 * Whether a directory entry is a raster to warp. An entry with a raster
 * extension is taken even when GDAL cannot open it, so that a damaged file is
 * reported as failed rather than silently left out; other entries are taken
 * when a GDAL driver recognises them.
 */
static int IsRasterEntry(const char *pszDir, const char *pszName, CSLConstList papszExt)
{
    if (pszName[0] == '.')
        return FALSE;
    for (int i = 0; apszSidecarSuffixes[i] != NULL; ++i)
    {
        if (HasSuffixCI(pszName, apszSidecarSuffixes[i]))
            return FALSE;
    }
    const char *pszExt = CPLGetExtension(pszName);
    if (pszExt[0] != '\0' && CSLFindString(papszExt, pszExt) >= 0)
        return TRUE;
    const char *pszPath = CPLFormFilename(pszDir, pszName, NULL);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDriverH hDriver = GDALIdentifyDriverEx(pszPath, GDAL_OF_RASTER, NULL, NULL);
    CPLPopErrorHandler();
    return hDriver != NULL;
}

static int CompareStrings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char **AppendDirectory(char **papszOut, const char *pszDir, CSLConstList papszExt)
{
    char **papszEntries = VSIReadDir(pszDir);
    const int nEntries = CSLCount(papszEntries);
    if (nEntries > 0)
        qsort(papszEntries, (size_t)nEntries, sizeof(char *), CompareStrings);
    for (int i = 0; i < nEntries; ++i)
    {
        if (IsRasterEntry(pszDir, papszEntries[i], papszExt))
            papszOut = CSLAddString(papszOut, CPLFormFilename(pszDir, papszEntries[i], NULL));
    }
    CSLDestroy(papszEntries);
    return papszOut;
}

char **BWExpandSources(CSLConstList papszSources)
{
    char **papszOut = NULL;
    char **papszExt = NULL;
    for (CSLConstList papszIter = papszSources; papszIter && *papszIter; ++papszIter)
    {
        VSIStatBufL sStat;
        if (VSIStatL(*papszIter, &sStat) == 0 && VSI_ISDIR(sStat.st_mode) &&
            !IsRasterEntry(CPLGetPath(*papszIter), CPLGetFilename(*papszIter), NULL))
        {
            if (papszExt == NULL)
                papszExt = RasterExtensions();
            papszOut = AppendDirectory(papszOut, *papszIter, papszExt);
        }
        else
        {
            /* A file, or a missing path: the latter fails in its own task
             * so that the rest of the batch still runs. */
            papszOut = CSLAddString(papszOut, *papszIter);
        }
    }
    CSLDestroy(papszExt);
    return papszOut;
}

char *BWOutputPathFor(const char *pszSource, const char *pszOutDir, const char *pszSuffix,
                      const char *pszExtension)
{
    char *pszName = CPLStrdup(CPLSPrintf("%s%s", CPLGetBasename(pszSource), pszSuffix));
    char *pszOut =
        CPLStrdup(CPLFormFilename(pszOutDir, pszName, pszExtension[0] ? pszExtension : NULL));
    CPLFree(pszName);
    return pszOut;
}

/* This machine's name, reduced to characters that cannot be confused with
 * the separators of a temporary name. */
static void HostTag(char *pszOut, size_t nSize)
{
    if (gethostname(pszOut, nSize) != 0)
        snprintf(pszOut, nSize, "localhost");
    pszOut[nSize - 1] = '\0';
    for (char *p = pszOut; *p; ++p)
    {
        if (*p == '.' || *p == '-' || *p == '/')
            *p = '_';
    }
}

char *BWTempPathFor(const char *pszOutput, const char *pszExtension)
{
    char szHost[256];
    HostTag(szHost, sizeof(szHost));
    char *pszDir = CPLStrdup(CPLGetPath(pszOutput));
    char *pszName = CPLStrdup(CPLSPrintf(".%s" BW_TEMP_MARKER "%s-%ld", CPLGetBasename(pszOutput),
                                         szHost, (long)getpid()));
    char *pszTemp =
        CPLStrdup(CPLFormFilename(pszDir, pszName, pszExtension[0] ? pszExtension : NULL));
    CPLFree(pszName);
    CPLFree(pszDir);
    return pszTemp;
}

int BWIsTempName(const char *pszName)
{
    return pszName[0] == '.' && strstr(pszName, BW_TEMP_MARKER) != NULL;
}

/* Whether a temporary file was left by a run that is gone: one of this
 * machine whose process no longer exists. Files of other machines (a shared
 * file system) are left to the runs there. */
static int IsStaleTemp(const char *pszName)
{
    const char *pszTag = strstr(pszName, BW_TEMP_MARKER) + strlen(BW_TEMP_MARKER);
    const char *pszDash = strchr(pszTag, '-');
    if (pszDash == NULL)
        return FALSE;
    char szHost[256];
    HostTag(szHost, sizeof(szHost));
    if ((size_t)(pszDash - pszTag) != strlen(szHost) ||
        strncmp(pszTag, szHost, (size_t)(pszDash - pszTag)) != 0)
        return FALSE;
    char *pszEnd = NULL;
    const long nPid = strtol(pszDash + 1, &pszEnd, 10);
    if (pszEnd == pszDash + 1 || nPid <= 0)
        return FALSE;
    return nPid != (long)getpid() && kill((pid_t)nPid, 0) != 0 && errno == ESRCH;
}

int BWRemoveStaleTemps(const char *pszDir)
{
    char **papszEntries = VSIReadDir(pszDir);
    int nRemoved = 0;
    for (char **papszIter = papszEntries; papszIter && *papszIter; ++papszIter)
    {
        if (BWIsTempName(*papszIter) && IsStaleTemp(*papszIter) &&
            VSIUnlink(CPLFormFilename(pszDir, *papszIter, NULL)) == 0)
            ++nRemoved;
    }
    CSLDestroy(papszEntries);
    if (nRemoved > 0)
        CPLDebug("BATCHWARP", "removed %d temporary files of an earlier run from %s", nRemoved,
                 pszDir);
    return nRemoved;
}

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

/* Canonical form of a local path whose last component may not exist yet. */
static char *CanonicalPath(const char *pszPath)
{
    if (STARTS_WITH(pszPath, "/vsi"))
        return CPLStrdup(pszPath);
    char szResolved[PATH_MAX];
    if (realpath(pszPath, szResolved) != NULL)
        return CPLStrdup(szResolved);
    char *pszDir = CPLStrdup(CPLGetPath(pszPath));
    char *pszOut = NULL;
    if (realpath(pszDir[0] ? pszDir : ".", szResolved) != NULL)
        pszOut = CPLStrdup(CPLFormFilename(szResolved, CPLGetFilename(pszPath), NULL));
    else
        pszOut = CPLStrdup(pszPath);
    CPLFree(pszDir);
    return pszOut;
}

static int CheckCollisions(const BWPlan *psPlan, char **ppszError)
{
    BWKeyIndex *pasKeys = CPLCalloc((size_t)psPlan->nItems + 1, sizeof(BWKeyIndex));
    char **papszCanonOut = CPLCalloc((size_t)psPlan->nItems + 1, sizeof(char *));
    int bOk = TRUE;
    for (int i = 0; i < psPlan->nItems && bOk; ++i)
    {
        papszCanonOut[i] = CanonicalPath(psPlan->pasItems[i].pszOutput);
        pasKeys[i].pszKey = papszCanonOut[i];
        pasKeys[i].nIndex = i;
        char *pszCanonSrc = CanonicalPath(psPlan->pasItems[i].pszSource);
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
                *ppszError = CPLStrdup(CPLSPrintf(
                    "Sources '%s' and '%s' would both be written to '%s': rename one, or "
                    "warp them in separate batches.",
                    psA->pszSource, psB->pszSource, psA->pszOutput));
                bOk = FALSE;
            }
        }
    }
    for (int i = 0; i < psPlan->nItems; ++i)
        CPLFree(papszCanonOut[i]);
    CPLFree(papszCanonOut);
    CPLFree(pasKeys);
    return bOk;
}

int BWPlanBuild(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan, char **ppszError)
{
    memset(psPlan, 0, sizeof(*psPlan));
    char **papszSources = BWExpandSources(psOptions->papszSources);
    psPlan->nItems = CSLCount(papszSources);
    if (psPlan->nItems == 0)
    {
        *ppszError = CPLStrdup("No raster found in the given sources.");
        CSLDestroy(papszSources);
        return FALSE;
    }
    psPlan->pasItems = CPLCalloc((size_t)psPlan->nItems, sizeof(BWPlanItem));
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        BWPlanItem *psItem = &psPlan->pasItems[i];
        psItem->pszSource = CPLStrdup(papszSources[i]);
        psItem->pszOutput = BWOutputPathFor(psItem->pszSource, psOptions->pszOutDir,
                                            psOptions->pszSuffix, psOptions->pszOutputExtension);
        psItem->pszTemp = BWTempPathFor(psItem->pszOutput, psOptions->pszOutputExtension);
        VSIStatBufL sStat;
        if (VSIStatL(psItem->pszSource, &sStat) == 0)
            psItem->nSize = (GIntBig)sStat.st_size;
        psItem->bSkip = !psOptions->bOverwrite && VSIStatL(psItem->pszOutput, &sStat) == 0;
    }
    CSLDestroy(papszSources);
    return CheckCollisions(psPlan, ppszError);
}

void BWPlanFree(BWPlan *psPlan)
{
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        CPLFree(psPlan->pasItems[i].pszSource);
        CPLFree(psPlan->pasItems[i].pszOutput);
        CPLFree(psPlan->pasItems[i].pszTemp);
    }
    CPLFree(psPlan->pasItems);
    memset(psPlan, 0, sizeof(*psPlan));
}
