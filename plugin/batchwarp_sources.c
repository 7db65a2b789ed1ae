#include "batchwarp_sources.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <cpl_vsi_error.h>
#include <cpl_multiproc.h>
#include <gdal.h>

#include "batchwarp_canonical.h"
#include "batchwarp_dataset_files.h"
#include "batchwarp_store_reply.h"
#include "batchwarp_strbuf.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"

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

/* Extensions of all raster drivers, lower case. */
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
 * Whether a file found in a directory is a raster to warp. One with a raster
 * extension is taken even when GDAL cannot open it, so that a damaged file is
 * reported as failed rather than silently left out; others are taken when a
 * GDAL driver recognises them.
 */
static int IsRasterFile(const char *pszPath, CSLConstList papszExt)
{
    const char *pszName = BWPathName(pszPath);
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
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDriverH hDriver = GDALIdentifyDriverEx(pszPath, GDAL_OF_RASTER, NULL, NULL);
    CPLPopErrorHandler();
    /* GDAL opened a FIFO beside it as a file (x.hdr beside x.dat), which the
     * plan's FIFO guard released: taken, so that its task fails naming the
     * FIFO rather than the file being left out without a word. */
    char *pszFifo = BWFifoGuardTake();
    CPLFree(pszFifo);
    return hDriver != NULL || pszFifo != NULL;
}

/* A directory that is itself a dataset (a .SAFE, a .zarr) is one source,
 * and so is one named like a raster file (x.tif/), which then fails in its
 * own task with a clear reason rather than being listed or left out. */
static int IsDirectoryLikeRaster(const char *pszPath, CSLConstList papszExt)
{
    const char *pszExt = CPLGetExtension(pszPath);
    if (pszExt[0] != '\0' && CSLFindString(papszExt, pszExt) >= 0 && !STARTS_WITH(pszPath, "/vsi"))
        return TRUE;
    /* A plain prefix on an object store (no extension, as x.zarr or x.SAFE
     * have) is no dataset: asking GDAL would cost a request per file name a
     * driver looks for (hdr.adf, ...). */
    if (BWIsNetworkPath(pszPath))
    {
        char *pszTrimmed = CPLStrdup(pszPath);
        size_t nLen = strlen(pszTrimmed);
        while (nLen > 1 && pszTrimmed[nLen - 1] == '/')
            pszTrimmed[--nLen] = '\0';
        const int bPlain = CPLGetExtension(pszTrimmed)[0] == '\0';
        CPLFree(pszTrimmed);
        if (bPlain)
            return FALSE;
    }
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDriverH hDriver = GDALIdentifyDriverEx(pszPath, GDAL_OF_RASTER, NULL, NULL);
    CPLPopErrorHandler();
    /* GDAL opened a FIFO beside it as a file (x.hdr beside x.dat), which the
     * plan's FIFO guard released: taken, so that its task fails naming the
     * FIFO rather than the file being left out without a word. */
    char *pszFifo = BWFifoGuardTake();
    CPLFree(pszFifo);
    return hDriver != NULL || pszFifo != NULL;
}

static int HasHiddenComponent(const char *pszRelPath)
{
    if (pszRelPath[0] == '.')
        return TRUE;
    return strstr(pszRelPath, "/.") != NULL;
}

static BWSource *AddSource(BWSourceList *psList, const char *pszPath, const char *pszRelDir,
                           GIntBig nSize)
{
    if (psList->nSources == psList->nCapacity)
    {
        psList->nCapacity = psList->nCapacity ? 2 * psList->nCapacity : 64;
        psList->pasSources =
            CPLRealloc(psList->pasSources, sizeof(BWSource) * (size_t)psList->nCapacity);
    }
    BWSource *psSource = &psList->pasSources[psList->nSources++];
    psSource->pszPath = CPLStrdup(pszPath);
    psSource->pszRelDir = CPLStrdup(pszRelDir);
    psSource->nSize = nSize;
    psSource->papszSiblings = NULL;
    return psSource;
}

/* A listing's names that a source's sidecars could have: all of them in a
 * directory of up to BW_MAX_SIBLINGS names; in a larger one, those that start
 * with the source's stem, the name without its last extension (x.tif.ovr,
 * x.aux, x_rpc.txt: GDAL forms sidecar names from the whole name or by
 * replacing its extension), found by binary search in the sorted names. Not
 * up to the first dot: in a directory of t.0001.tif ... t.9999.tif every
 * source would get every name, n squared in all. */
#define BW_MAX_SIBLINGS 256
static char **SiblingsFor(const char *pszName, char *const *papszDirNames, int nNames)
{
    if (nNames <= BW_MAX_SIBLINGS)
        return CSLDuplicate((CSLConstList)papszDirNames);
    const char *pszDot = strrchr(pszName, '.');
    const size_t nStem = pszDot ? (size_t)(pszDot - pszName) : strlen(pszName);
    int nLow = 0;
    int nHigh = nNames;
    while (nLow < nHigh)
    {
        const int nMid = nLow + (nHigh - nLow) / 2;
        if (strncmp(papszDirNames[nMid], pszName, nStem) < 0)
            nLow = nMid + 1;
        else
            nHigh = nMid;
    }
    char **papszOut = NULL;
    for (int i = nLow; i < nNames && strncmp(papszDirNames[i], pszName, nStem) == 0; ++i)
        papszOut = CSLAddString(papszOut, papszDirNames[i]);
    return papszOut;
}

typedef struct
{
    char *pszRelPath;
    GIntBig nSize;
    char *pszDir; /* BWPathDir(pszRelPath) */
    int iGroup;   /* entries of one directory share it */
} BWDirEntry;

static int CompareDirEntries(const void *a, const void *b)
{
    return strcmp(((const BWDirEntry *)a)->pszRelPath, ((const BWDirEntry *)b)->pszRelPath);
}

static int CompareByDirThenName(const void *a, const void *b)
{
    const BWDirEntry *const *ppsA = a;
    const BWDirEntry *const *ppsB = b;
    const int n = strcmp((*ppsA)->pszDir, (*ppsB)->pszDir);
    return n != 0 ? n : strcmp((*ppsA)->pszRelPath, (*ppsB)->pszRelPath);
}

/* The names of each listed directory (basenames, sorted, one NULL-terminated
 * list per group, counts in *ppanCounts), for the workers to hand GDAL as
 * the source's siblings (see BWSource). */
static char ***GroupByDirectory(BWDirEntry *pasEntries, int nEntries, int *pnGroups,
                                int **ppanCounts)
{
    BWDirEntry **papsSorted = CPLCalloc((size_t)nEntries + 1, sizeof(BWDirEntry *));
    for (int i = 0; i < nEntries; ++i)
        papsSorted[i] = &pasEntries[i];
    if (nEntries > 0)
        qsort(papsSorted, (size_t)nEntries, sizeof(BWDirEntry *), CompareByDirThenName);
    char ***papapszGroups = CPLCalloc((size_t)nEntries + 1, sizeof(char **));
    int *panCounts = CPLCalloc((size_t)nEntries + 1, sizeof(int));
    int nGroups = 0;
    for (int i = 0; i < nEntries;)
    {
        int j = i;
        while (j < nEntries && strcmp(papsSorted[j]->pszDir, papsSorted[i]->pszDir) == 0)
            ++j;
        char **papszNames = CPLCalloc((size_t)(j - i) + 1, sizeof(char *));
        for (int k = i; k < j; ++k)
        {
            papsSorted[k]->iGroup = nGroups;
            papszNames[k - i] = CPLStrdup(BWPathName(papsSorted[k]->pszRelPath));
        }
        papapszGroups[nGroups] = papszNames;
        panCounts[nGroups] = j - i;
        ++nGroups;
        i = j;
    }
    CPLFree(papsSorted);
    *pnGroups = nGroups;
    *ppanCounts = panCounts;
    return papapszGroups;
}

/* The output directory's path relative to a listed directory, when it lies
 * inside it (CPLFree it), else NULL: its tree is left out of the listing,
 * or a rerun would take the outputs as sources. */
static char *ExcludedRelativePath(const char *pszDir, const char *pszExcludeDir)
{
    if (pszExcludeDir == NULL)
        return NULL;
    char *pszCanonDir = BWCanonicalPath(pszDir);
    char *pszCanonExclude = BWCanonicalPath(pszExcludeDir);
    size_t nDir = strlen(pszCanonDir);
    while (nDir > 1 && pszCanonDir[nDir - 1] == '/')
        --nDir;
    char *pszRel = NULL;
    if (strncmp(pszCanonExclude, pszCanonDir, nDir) == 0 && pszCanonExclude[nDir] == '/')
    {
        const char *pszTail = pszCanonExclude + nDir;
        while (*pszTail == '/')
            ++pszTail;
        if (*pszTail != '\0')
            pszRel = CPLStrdup(pszTail);
    }
    CPLFree(pszCanonDir);
    CPLFree(pszCanonExclude);
    return pszRel;
}

static int IsSameOrBelow(const char *pszRelPath, const char *pszRelDir)
{
    const size_t nDir = strlen(pszRelDir);
    return strncmp(pszRelPath, pszRelDir, nDir) == 0 &&
           (pszRelPath[nDir] == '\0' || pszRelPath[nDir] == '/');
}

/* Adds a message to the list's errors (one per line). */
static void AddError(BWSourceList *psList, const char *pszMessage)
{
    char *pszJoined = CPLStrdup(
        psList->pszError ? CPLSPrintf("%s\n%s", psList->pszError, pszMessage) : pszMessage);
    CPLFree(psList->pszError);
    psList->pszError = pszJoined;
}

static int StopRequested(BWSourceList *psList, BWScanStopFunc pfnStop, void *pStopData)
{
    if (!psList->bStopped && pfnStop != NULL && pfnStop(pStopData))
        psList->bStopped = TRUE;
    return psList->bStopped;
}

typedef struct
{
    BWDirEntry *pasEntries;
    int nEntries;
    int nCapacity;
    dev_t *panDev; /* directories entered: (device, inode) */
    ino_t *panIno;
    int nVisited;
    int nVisitedCapacity;
    BWScanStopFunc pfnStop;
    void *pStopData;
    const char *pszExcludeRel;
    CSLConstList papszExt;
    int bRecursive;
} BWWalk;

static void AddEntry(BWWalk *psWalk, const char *pszRelPath, GIntBig nSize)
{
    if (psWalk->nEntries == psWalk->nCapacity)
    {
        psWalk->nCapacity = psWalk->nCapacity ? 2 * psWalk->nCapacity : 64;
        psWalk->pasEntries =
            CPLRealloc(psWalk->pasEntries, sizeof(BWDirEntry) * (size_t)psWalk->nCapacity);
    }
    memset(&psWalk->pasEntries[psWalk->nEntries], 0, sizeof(BWDirEntry));
    psWalk->pasEntries[psWalk->nEntries].pszRelPath = CPLStrdup(pszRelPath);
    psWalk->pasEntries[psWalk->nEntries].pszDir = BWPathDir(pszRelPath);
    psWalk->pasEntries[psWalk->nEntries].nSize = nSize;
    psWalk->nEntries++;
}

/* Whether the directory (nDev, nIno) was entered already (a link loop, or
 * two links to one tree); records it if not. */
static int AlreadyVisited(BWWalk *psWalk, dev_t nDev, ino_t nIno)
{
    for (int i = 0; i < psWalk->nVisited; ++i)
    {
        if (psWalk->panDev[i] == nDev && psWalk->panIno[i] == nIno)
            return TRUE;
    }
    if (psWalk->nVisited == psWalk->nVisitedCapacity)
    {
        psWalk->nVisitedCapacity = psWalk->nVisitedCapacity ? 2 * psWalk->nVisitedCapacity : 16;
        psWalk->panDev =
            CPLRealloc(psWalk->panDev, sizeof(dev_t) * (size_t)psWalk->nVisitedCapacity);
        psWalk->panIno =
            CPLRealloc(psWalk->panIno, sizeof(ino_t) * (size_t)psWalk->nVisitedCapacity);
    }
    psWalk->panDev[psWalk->nVisited] = nDev;
    psWalk->panIno[psWalk->nVisited] = nIno;
    psWalk->nVisited++;
    return FALSE;
}

/* A local directory's entries (its tree with -recursive) into psWalk:
 * regular files with their sizes, dataset-like directories (not recursive)
 * with size -1. Links are followed to what they name, but no directory is
 * entered twice (device and inode), FIFOs, devices and sockets are never
 * opened, and every directory that cannot be read is an error. */
static void WalkLocal(BWSourceList *psList, BWWalk *psWalk, const char *pszTop,
                      const char *pszRelDir)
{
    if (StopRequested(psList, psWalk->pfnStop, psWalk->pStopData))
        return;
    const char *pszDir = pszRelDir[0] ? CPLFormFilename(pszTop, pszRelDir, NULL) : pszTop;
    DIR *psDir = opendir(pszDir);
    if (psDir == NULL)
    {
        /* Never a directory left out in silence. */
        AddError(psList,
                 CPLSPrintf("Cannot list source directory '%s': %s", pszDir, VSIStrerror(errno)));
        return;
    }
    const int nDirFd = dirfd(psDir);
    struct stat sSelf;
    if (fstat(nDirFd, &sSelf) != 0 || AlreadyVisited(psWalk, sSelf.st_dev, sSelf.st_ino))
    {
        closedir(psDir);
        return;
    }
    char **papszSubDirs = NULL;
    struct dirent *psEnt;
    int nSeen = 0;
    while ((psEnt = readdir(psDir)) != NULL)
    {
        if ((++nSeen % 256) == 0 && StopRequested(psList, psWalk->pfnStop, psWalk->pStopData))
            break;
        const char *pszName = psEnt->d_name;
        if (pszName[0] == '.')
            continue; /* hidden, and "." and ".." */
        char *pszRel =
            CPLStrdup(pszRelDir[0] ? CPLFormFilename(pszRelDir, pszName, NULL) : pszName);
        struct stat sStat;
        /* Where a link leads, without opening it. */
        int nRet = fstatat(nDirFd, pszName, &sStat, 0);
        if (nRet != 0)
            nRet = fstatat(nDirFd, pszName, &sStat, AT_SYMLINK_NOFOLLOW);
        if (nRet != 0 ||
            (psWalk->pszExcludeRel != NULL && IsSameOrBelow(pszRel, psWalk->pszExcludeRel)))
        {
            CPLFree(pszRel);
            continue;
        }
        if (S_ISREG(sStat.st_mode))
            AddEntry(psWalk, pszRel, (GIntBig)sStat.st_size);
        else if (S_ISDIR(sStat.st_mode))
        {
            if (psWalk->bRecursive)
                papszSubDirs = CSLAddString(papszSubDirs, pszRel);
            else if (IsDirectoryLikeRaster(CPLFormFilename(pszTop, pszRel, NULL), psWalk->papszExt))
                AddEntry(psWalk, pszRel, -1);
        }
        /* FIFOs, devices, sockets, dangling links: not rasters, never opened. */
        CPLFree(pszRel);
    }
    closedir(psDir);
    for (char **papszIter = papszSubDirs; papszIter && *papszIter && !psList->bStopped; ++papszIter)
        WalkLocal(psList, psWalk, pszTop, *papszIter);
    CSLDestroy(papszSubDirs);
}

/* What GDAL said while a listing was read. GDAL (3.6) ends a paged
 * listing whose next page failed (throttled, dropped, an error reply) as if
 * it were complete, saying so only in a debug message: read with debug
 * messages on for the network file systems, a call that ends the listing
 * after a message has failed. */
typedef struct
{
    int nDebug;           /* debug messages since the last entry */
    char *pszLast;        /* the last of them */
    int nFailures;        /* errors raised while listing */
    char *pszLastFailure; /* the last of them */
    int bUserDebug;       /* CPL_DEBUG was the user's: pass them on */
} BWListingLog;

static void CPL_STDCALL ListingErrorHandler(CPLErr eClass, CPLErrorNum nNo, const char *pszMsg)
{
    BWListingLog *psLog = CPLGetErrorHandlerUserData();
    /* An error (an XML reply cut short...) is the listing's failure: its
     * reason goes into the one error that says what became of the listing,
     * not to stderr on a try that the next one may make good. */
    if (eClass == CE_Failure)
    {
        psLog->nFailures++;
        CPLFree(psLog->pszLastFailure);
        psLog->pszLastFailure = CPLStrdup(pszMsg);
        return;
    }
    if (eClass == CE_Debug)
    {
        psLog->nDebug++;
        CPLFree(psLog->pszLast);
        psLog->pszLast = CPLStrdup(pszMsg);
        if (!psLog->bUserDebug)
            return;
    }
    /* Anything else (and the user's debug output) goes to the handler below,
     * as if this one were not there. */
    BWPassOnBelow(ListingErrorHandler, psLog, eClass, nNo, pszMsg);
}

/* A GDAL message (an XML error body, most often) as the reason in an error
 * of ours. */
static char *ListingFailureReason(const char *pszMsg)
{
    return pszMsg ? BWStoreReasonLine(pszMsg) : CPLStrdup("no reason given");
}

/* One reading of a network directory's listing into *ppasEntries. Returns
 * 1 when complete, 0 when VSIOpenDir failed without a word (no object under
 * a prefix, most often), -1 when it stopped part-way, -2 when its first
 * request failed (throttled, dropped, cut short: GDAL 3.6 retries none of
 * them for a listing), -3 when GDAL made no request, for a reason asking
 * again would not change (no credentials); *ppszReason says why for -1 to
 * -3. bAllNames keeps
 * every entry (the names of an output directory); otherwise only what may
 * be a source is kept. */
static int ReadVSIDirectory(const char *pszDir, int bRecursive, const char *pszExcludeRel,
                            CSLConstList papszExt, int bAllNames, BWDirEntry **ppasEntries,
                            int *pnEntries, int *pnListed, char **ppszReason)
{
    BWListingLog sLog;
    memset(&sLog, 0, sizeof(sLog));
    const char *pszUserDebug = CPLGetConfigOption("CPL_DEBUG", NULL);
    sLog.bUserDebug = pszUserDebug != NULL && CPLTestBool(pszUserDebug);
    char *pszOldLocal = CPLStrdup(CPLGetThreadLocalConfigOption("CPL_DEBUG", ""));
    const int bHadLocal = CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL) != NULL;
    if (!sLog.bUserDebug)
        CPLSetThreadLocalConfigOption("CPL_DEBUG", "S3 GS AZURE ADLS OSS SWIFT WEBHDFS");
    CPLPushErrorHandlerEx(ListingErrorHandler, &sLog);
    CPLSetCurrentErrorHandlerCatchDebug(TRUE);

    int nStatus = 1;
    BWDirEntry *pasEntries = NULL;
    int nEntries = 0;
    int nCapacity = 0;
    VSIErrorReset();
    VSIDIR *psDir = VSIOpenDir(pszDir, bRecursive ? -1 : 0, NULL);
    const VSIDIREntry *psEntry = NULL;
    if (psDir == NULL)
    {
        /* A prefix with no object under it fails in silence; a request
         * that failed leaves a network file system's message or an error.
         * Why GDAL made no request at all (no credentials) it says through
         * VSIError alone, like other answers that asking again would not
         * change. */
        const int nNo = VSIGetLastErrorNo();
        const char *pszVSIMsg = VSIGetLastErrorMsg();
        const int bVSIMsg = nNo != VSIE_None && pszVSIMsg[0] != '\0';
        if (bVSIMsg && (nNo == VSIE_AWSInvalidCredentials || nNo == VSIE_AWSAccessDenied ||
                        nNo == VSIE_AWSBucketNotFound || nNo == VSIE_AWSSignatureDoesNotMatch))
        {
            /* The store's own reply, when there was one, names its error
             * code too ("NoSuchBucket", where GDAL 3.13's says "The
             * specified bucket does not exist"). */
            nStatus = -3;
            *ppszReason = ListingFailureReason(BWStoreErrorIsPermanent(sLog.pszLast) ? sLog.pszLast
                                                                                     : pszVSIMsg);
        }
        else if (sLog.nDebug > 0 || sLog.nFailures > 0 || bVSIMsg)
        {
            nStatus = -2;
            *ppszReason = ListingFailureReason(sLog.pszLastFailure ? sLog.pszLastFailure
                                               : sLog.pszLast      ? sLog.pszLast
                                                                   : pszVSIMsg);
        }
        else
            nStatus = 0;
    }
    /* Only what the pages after the first say counts from here. */
    sLog.nDebug = 0;
    sLog.nFailures = 0;
    *pnListed = 0;
    while (psDir != NULL && (psEntry = VSIGetNextDirEntry(psDir)) != NULL)
    {
        sLog.nDebug = 0;
        ++*pnListed;
        if (!bAllNames && psEntry->bModeKnown && VSI_ISDIR(psEntry->nMode) &&
            (bRecursive ||
             !IsDirectoryLikeRaster(CPLFormFilename(pszDir, psEntry->pszName, NULL), papszExt)))
            continue;
        if (!bAllNames &&
            (HasHiddenComponent(psEntry->pszName) ||
             (pszExcludeRel != NULL && IsSameOrBelow(psEntry->pszName, pszExcludeRel))))
            continue;
        if (nEntries == nCapacity)
        {
            nCapacity = nCapacity ? 2 * nCapacity : 64;
            pasEntries = CPLRealloc(pasEntries, sizeof(BWDirEntry) * (size_t)nCapacity);
        }
        memset(&pasEntries[nEntries], 0, sizeof(BWDirEntry));
        pasEntries[nEntries].pszRelPath = CPLStrdup(psEntry->pszName);
        pasEntries[nEntries].pszDir = BWPathDir(psEntry->pszName);
        pasEntries[nEntries].nSize = psEntry->bSizeKnown ? (GIntBig)psEntry->nSize : -1;
        ++nEntries;
    }
    if (psDir != NULL && (sLog.nDebug > 0 || sLog.nFailures > 0))
    {
        nStatus = -1;
        *ppszReason =
            ListingFailureReason(sLog.pszLastFailure ? sLog.pszLastFailure : sLog.pszLast);
    }
    if (psDir != NULL)
        VSICloseDir(psDir);

    CPLPopErrorHandler();
    CPLSetThreadLocalConfigOption("CPL_DEBUG", bHadLocal ? pszOldLocal : NULL);
    CPLFree(pszOldLocal);
    CPLFree(sLog.pszLast);
    CPLFree(sLog.pszLastFailure);
    *ppasEntries = pasEntries;
    *pnEntries = nEntries;
    return nStatus;
}

static void FreeDirEntries(BWDirEntry *pasEntries, int nEntries)
{
    for (int i = 0; i < nEntries; ++i)
    {
        CPLFree(pasEntries[i].pszRelPath);
        CPLFree(pasEntries[i].pszDir);
    }
    CPLFree(pasEntries);
}

/* A network directory's listing, read again (GDAL_HTTP_MAX_RETRY times,
 * after GDAL_HTTP_RETRY_DELAY, doubled each time) when a request for it
 * failed, unless the store's answer is one a later request would get too
 * (BWStoreErrorIsPermanent): the first (a throttled bucket must not fail the
 * batch, nor be called missing) or a later page (never a listing that
 * leaves out, in silence, the entries of a page that failed). Returns 1
 * when read whole, 0 when VSIOpenDir failed without a word (see
 * ReadVSIDirectory), -1 when it could not be read whole: then *ppszError
 * says why, naming it as pszWhat ("source directory"), and *pbPartWay
 * whether it failed after its first page. */
static int ListWithRetries(const char *pszWhat, const char *pszDir, int bRecursive,
                           const char *pszExcludeRel, CSLConstList papszExt, int bAllNames,
                           BWDirEntry **ppasEntries, int *pnEntries, int *pnListed, int *pbPartWay,
                           char **ppszError)
{
    const int nRetries = atoi(CPLGetConfigOption("GDAL_HTTP_MAX_RETRY", "0"));
    double dfDelay = CPLAtof(CPLGetConfigOption("GDAL_HTTP_RETRY_DELAY", "30"));
    for (int iTry = 0;; ++iTry)
    {
        char *pszReason = NULL;
        const int nStatus = ReadVSIDirectory(pszDir, bRecursive, pszExcludeRel, papszExt, bAllNames,
                                             ppasEntries, pnEntries, pnListed, &pszReason);
        if (nStatus == 1 || nStatus == 0)
            return nStatus;
        const int nGot = *pnEntries;
        FreeDirEntries(*ppasEntries, *pnEntries);
        *ppasEntries = NULL;
        *pnEntries = 0;
        /* A zip or tar that cannot be read will not be read better later,
         * nor a bucket that does not exist. */
        if (iTry >= nRetries || (nStatus == -2 && !BWIsNetworkPath(pszDir)) || nStatus == -3 ||
            BWStoreErrorIsPermanent(pszReason))
        {
            *pbPartWay = nStatus == -1;
            if (nStatus != -1)
                *ppszError =
                    CPLStrdup(CPLSPrintf("Cannot list %s '%s' (%d %s): %s", pszWhat, pszDir,
                                         iTry + 1, iTry ? "tries" : "try", pszReason));
            else
                *ppszError = CPLStrdup(
                    CPLSPrintf("Listing of %s '%s' failed part-way (after %d entries, %d "
                               "%s): %s.",
                               pszWhat, pszDir, nGot, iTry + 1, iTry ? "tries" : "try", pszReason));
            CPLFree(pszReason);
            return -1;
        }
        CPLDebug("BATCHWARP", "listing of %s failed %s(%s): read again in %.1f s", pszDir,
                 nStatus != -1 ? "" : "part-way ", pszReason, dfDelay);
        CPLFree(pszReason);
        CPLSleep(dfDelay);
        dfDelay *= 2;
    }
}

/* Adds ListWithRetries' error for a source directory (and frees it). */
static void AddListingError(BWSourceList *psList, char *pszError, int bPartWay)
{
    AddError(psList,
             bPartWay
                 ? CPLSPrintf("%s The batch would leave its other objects out: nothing is done.",
                              pszError)
                 : pszError);
    CPLFree(pszError);
}

/* A source directory's listing (see ListWithRetries). FALSE, with an error
 * added, when it cannot be read whole. */
static int ListVSIDirectory(BWSourceList *psList, const char *pszDir, int bRecursive,
                            const char *pszExcludeRel, CSLConstList papszExt,
                            BWDirEntry **ppasEntries, int *pnEntries, int *pnListed)
{
    int bPartWay = FALSE;
    char *pszError = NULL;
    const int nStatus =
        ListWithRetries("source directory", pszDir, bRecursive, pszExcludeRel, papszExt, FALSE,
                        ppasEntries, pnEntries, pnListed, &bPartWay, &pszError);
    if (nStatus == 1)
        return TRUE;
    if (nStatus == 0)
    {
        /* Never an empty directory in silence: the user named it. GDAL
         * fails to open an object store's prefix with no object under it
         * (leaving errno alone): a stat, only then, tells. A network file
         * system's stat sets no errno either (GDAL 3.13 leaves EAGAIN from
         * its sockets): a request that failed would have made the listing
         * fail aloud (ReadVSIDirectory), so there a failed stat means no
         * object under the prefix. */
        VSIStatBufL sStat;
        errno = 0;
        const int nErr =
            VSIStatL(pszDir, &sStat) != 0 ? (BWIsNetworkPath(pszDir) ? ENOENT : errno) : EIO;
        if (nErr == ENOENT || nErr == 0)
            AddError(psList, CPLSPrintf("Source directory '%s' does not exist.", pszDir));
        else
            AddError(psList, CPLSPrintf("Cannot list source directory '%s': %s", pszDir,
                                        VSIStrerror(nErr)));
        return FALSE;
    }
    AddListingError(psList, pszError, bPartWay);
    return FALSE;
}

/* Every name in a network directory, not recursive (see ListWithRetries):
 * *ppapszNames is NULL when it holds nothing. */
static int ListNames(const char *pszWhat, const char *pszDir, char ***ppapszNames, int *pbPartWay,
                     char **ppszError)
{
    BWDirEntry *pasEntries = NULL;
    int nEntries = 0;
    int nListed = 0;
    *ppapszNames = NULL;
    const int nStatus = ListWithRetries(pszWhat, pszDir, FALSE, NULL, NULL, TRUE, &pasEntries,
                                        &nEntries, &nListed, pbPartWay, ppszError);
    if (nStatus < 0)
        return FALSE;
    if (nEntries > 0)
    {
        /* The names move into the list (CSLAddString would count the list
         * on every call: quadratic in a directory of 20,000 outputs). */
        *ppapszNames = CPLMalloc(sizeof(char *) * ((size_t)nEntries + 1));
        for (int i = 0; i < nEntries; ++i)
        {
            (*ppapszNames)[i] = pasEntries[i].pszRelPath;
            pasEntries[i].pszRelPath = NULL;
        }
        (*ppapszNames)[nEntries] = NULL;
    }
    FreeDirEntries(pasEntries, nEntries);
    return TRUE;
}

int BWListDirectoryNames(const char *pszDir, char ***ppapszNames, char **ppszError)
{
    int bPartWay = FALSE;
    return ListNames("output directory", pszDir, ppapszNames, &bPartWay, ppszError);
}

/* A directory's files (its whole tree with bRecursive), in strcmp order of
 * their relative paths: local ones walked as above, others through
 * VSIOpenDir so that remote listings also give sizes without one request
 * per file (*pnListed: how many entries the listing had, all kinds). */
static void AppendDirectory(BWSourceList *psList, const char *pszDir, int bRecursive,
                            const char *pszExcludeDir, CSLConstList papszExt,
                            BWScanStopFunc pfnStop, void *pStopData, int *pnListed)
{
    char *pszExcludeRel = ExcludedRelativePath(pszDir, pszExcludeDir);
    BWDirEntry *pasEntries = NULL;
    int nEntries = 0;
    int nListed = 0;
    if (!STARTS_WITH(pszDir, "/vsi"))
    {
        BWWalk sWalk;
        memset(&sWalk, 0, sizeof(sWalk));
        sWalk.pfnStop = pfnStop;
        sWalk.pStopData = pStopData;
        sWalk.pszExcludeRel = pszExcludeRel;
        sWalk.papszExt = papszExt;
        sWalk.bRecursive = bRecursive;
        WalkLocal(psList, &sWalk, pszDir, "");
        CPLFree(sWalk.panDev);
        CPLFree(sWalk.panIno);
        pasEntries = sWalk.pasEntries;
        nEntries = sWalk.nEntries;
        nListed = nEntries;
    }
    if (STARTS_WITH(pszDir, "/vsi") &&
        !ListVSIDirectory(psList, pszDir, bRecursive, pszExcludeRel, papszExt, &pasEntries,
                          &nEntries, &nListed))
    {
        CPLFree(pszExcludeRel);
        return;
    }
    if (pnListed != NULL)
        *pnListed = nListed;
    if (nEntries > 0)
        qsort(pasEntries, (size_t)nEntries, sizeof(BWDirEntry), CompareDirEntries);
    int nGroups = 0;
    int *panGroupCounts = NULL;
    char ***papapszGroups = GroupByDirectory(pasEntries, nEntries, &nGroups, &panGroupCounts);
    const int nFirst = psList->nSources;
    int *paiSourceEntry = CPLCalloc((size_t)nEntries + 1, sizeof(int));
    for (int i = 0; i < nEntries; ++i)
    {
        if ((i % 64) == 63)
            StopRequested(psList, pfnStop, pStopData);
        char *pszPath = CPLStrdup(CPLFormFilename(pszDir, pasEntries[i].pszRelPath, NULL));
        /* A directory without a known mode (some remote listings) is not a
         * raster file either. */
        VSIStatBufL sStat;
        const int bIsDir = pasEntries[i].nSize < 0 && VSIStatL(pszPath, &sStat) == 0 &&
                           VSI_ISDIR(sStat.st_mode) && !IsDirectoryLikeRaster(pszPath, papszExt);
        if (!psList->bStopped && !bIsDir && IsRasterFile(pszPath, papszExt))
        {
            paiSourceEntry[psList->nSources - nFirst] = i;
            AddSource(psList, pszPath, pasEntries[i].pszDir, pasEntries[i].nSize);
        }
        CPLFree(pszPath);
    }
    for (int k = nFirst; k < psList->nSources; ++k)
    {
        const BWDirEntry *psOne = &pasEntries[paiSourceEntry[k - nFirst]];
        psList->pasSources[k].papszSiblings =
            SiblingsFor(BWPathName(psOne->pszRelPath), papapszGroups[psOne->iGroup],
                        panGroupCounts[psOne->iGroup]);
    }
    BWDropFilesOfListedDatasets(psList, nFirst);
    for (int g = 0; g < nGroups; ++g)
        CSLDestroy(papapszGroups[g]);
    CPLFree(papapszGroups);
    CPLFree(panGroupCounts);
    CPLFree(paiSourceEntry);
    for (int i = 0; i < nEntries; ++i)
    {
        CPLFree(pasEntries[i].pszRelPath);
        CPLFree(pasEntries[i].pszDir);
    }
    CPLFree(pasEntries);
    CPLFree(pszExcludeRel);
}

static int CompareStrings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int IsSpecialFile(BWSourceList *psList, const char *pszPath);

static int HasWildcard(const char *pszPath)
{
    return strpbrk(pszPath, "*?[") != NULL;
}

/* A pattern the shell did not expand (quoted, or too many files for the
 * command line), in sorted order. Local patterns go to glob(3); /vsi ones
 * match the file name part against a listing of its directory. Returns
 * FALSE when nothing matches (TRUE, with an error added, when a network
 * directory cannot be listed whole). */
static int AppendPattern(BWSourceList *psList, const char *pszPattern)
{
    int nBefore = psList->nSources;
    if (!STARTS_WITH(pszPattern, "/vsi"))
    {
        glob_t sGlob;
        if (glob(pszPattern, 0, NULL, &sGlob) == 0)
        {
            for (size_t i = 0; i < sGlob.gl_pathc; ++i)
            {
                if (!IsSpecialFile(psList, sGlob.gl_pathv[i]))
                    AddSource(psList, sGlob.gl_pathv[i], "", -1);
            }
        }
        globfree(&sGlob);
        return psList->nSources > nBefore;
    }
    char *pszDir = BWPathDir(pszPattern);
    const char *pszNamePattern = BWPathName(pszPattern);
    char **papszEntries = NULL;
    if (!BWIsNetworkPath(pszDir))
        papszEntries = VSIReadDir(pszDir);
    else
    {
        /* Read again when a request fails, as a listed directory is: GDAL
         * 3.6 ends a listing at a page that fails, and the pattern would
         * match only the objects before it. */
        int bPartWay = FALSE;
        char *pszError = NULL;
        if (!ListNames("source directory", pszDir, &papszEntries, &bPartWay, &pszError))
        {
            AddListingError(psList, pszError, bPartWay);
            CPLFree(pszDir);
            return TRUE; /* not a missing file: the error says what happened */
        }
    }
    const int nEntries = CSLCount(papszEntries);
    if (nEntries > 0)
        qsort(papszEntries, (size_t)nEntries, sizeof(char *), CompareStrings);
    for (int i = 0; i < nEntries; ++i)
    {
        if (fnmatch(pszNamePattern, papszEntries[i], FNM_PERIOD) == 0)
            AddSource(psList, CPLFormFilename(pszDir, papszEntries[i], NULL), "", -1);
    }
    CSLDestroy(papszEntries);
    CPLFree(pszDir);
    return psList->nSources > nBefore;
}

/* A network path named like a raster file (not like a directory): taken as
 * a file without asking the server, as stat'ing a long list one object at a
 * time would cost a round trip each before any work. One that does not exist
 * fails in its own task, with GDAL's message. */
static int IsRemoteRasterName(const char *pszPath, CSLConstList papszExt)
{
    const size_t nLen = strlen(pszPath);
    if (nLen == 0 || pszPath[nLen - 1] == '/' || !BWIsNetworkPath(pszPath) || HasWildcard(pszPath))
        return FALSE;
    const char *pszExt = CPLGetExtension(pszPath);
    return pszExt[0] != '\0' && CSLFindString(papszExt, pszExt) >= 0;
}

/* A prefix of an object store named as a directory ("/vsis3/bucket/p/"):
 * no extension (x.zarr/ may be a dataset), no wildcard. */
static int IsRemotePlainPrefix(const char *pszPath)
{
    const size_t nLen = strlen(pszPath);
    if (nLen < 2 || pszPath[nLen - 1] != '/' || !STARTS_WITH(pszPath, "/vsi") ||
        !BWIsNetworkPath(pszPath) || HasWildcard(pszPath))
        return FALSE;
    char *pszTrimmed = CPLStrdup(pszPath);
    size_t nTrim = nLen;
    while (nTrim > 1 && pszTrimmed[nTrim - 1] == '/')
        pszTrimmed[--nTrim] = '\0';
    const int bPlain = CPLGetExtension(pszTrimmed)[0] == '\0';
    CPLFree(pszTrimmed);
    return bPlain;
}

typedef struct
{
    CSLConstList papszPaths;
    const int *panIndex; /* which paths to stat */
    int nCount;
    int nNext; /* next position in panIndex, taken under hMutex */
    CPLMutex *hMutex;
    VSIStatBufL *pasStat;
    int *pabExists;
} BWStatJob;

static void StatWorker(void *pData)
{
    BWStatJob *psJob = pData;
    for (;;)
    {
        CPLAcquireMutex(psJob->hMutex, 1000.0);
        const int iPos = psJob->nNext < psJob->nCount ? psJob->nNext++ : -1;
        CPLReleaseMutex(psJob->hMutex);
        if (iPos < 0)
            return;
        const int i = psJob->panIndex[iPos];
        psJob->pabExists[i] = VSIStatL(psJob->papszPaths[i], &psJob->pasStat[i]) == 0;
    }
}

/* VSIStatL of the network paths among papszPaths, concurrently (a round
 * trip each), and of local ones in turn. */
#define BW_STAT_THREADS 16
static void StatAll(CSLConstList papszPaths, const char *pabSkip, VSIStatBufL *pasStat,
                    int *pabExists)
{
    const int nPaths = CSLCount(papszPaths);
    int *panNetwork = CPLCalloc((size_t)nPaths + 1, sizeof(int));
    int nNetwork = 0;
    for (int i = 0; i < nPaths; ++i)
    {
        if (pabSkip[i])
            continue;
        if (BWIsNetworkPath(papszPaths[i]))
            panNetwork[nNetwork++] = i;
        else
            pabExists[i] = VSIStatL(papszPaths[i], &pasStat[i]) == 0;
    }
    BWStatJob sJob = {papszPaths, panNetwork, nNetwork, 0, NULL, pasStat, pabExists};
    const int nThreads = nNetwork < BW_STAT_THREADS ? nNetwork : BW_STAT_THREADS;
    if (nThreads > 1)
    {
        sJob.hMutex = CPLCreateMutex();
        CPLReleaseMutex(sJob.hMutex);
        CPLJoinableThread *apsThreads[BW_STAT_THREADS];
        int nStarted = 0;
        for (int t = 0; t < nThreads; ++t)
        {
            apsThreads[nStarted] = CPLCreateJoinableThread(StatWorker, &sJob);
            if (apsThreads[nStarted] != NULL)
                ++nStarted;
        }
        StatWorker(&sJob); /* this thread too, and all of them if none started */
        for (int t = 0; t < nStarted; ++t)
            CPLJoinThread(apsThreads[t]);
        CPLDestroyMutex(sJob.hMutex);
    }
    else
    {
        for (int k = 0; k < nNetwork; ++k)
            pabExists[panNetwork[k]] =
                VSIStatL(papszPaths[panNetwork[k]], &pasStat[panNetwork[k]]) == 0;
    }
    CPLFree(panNetwork);
}

/* A source named by the user (or matched by a pattern) that is a FIFO, a
 * device or a socket: opening it could block, so it is refused. */
static int IsSpecialFile(BWSourceList *psList, const char *pszPath)
{
    struct stat sStat;
    if (STARTS_WITH(pszPath, "/vsi") || stat(pszPath, &sStat) != 0 || S_ISREG(sStat.st_mode) ||
        S_ISDIR(sStat.st_mode))
        return FALSE;
    AddError(psList, CPLSPrintf("Source '%s' is %s, not a raster file.", pszPath,
                                S_ISFIFO(sStat.st_mode)   ? "a FIFO"
                                : S_ISSOCK(sStat.st_mode) ? "a socket"
                                                          : "a device"));
    return TRUE;
}

/* A directory given as a source that gave none: said, naming it, with the
 * likely reason (rasters only in subdirectories without -recursive), since
 * the rest of the batch runs and exits 0 without a word of it otherwise
 * ("tiles/ -outdir out" over tiles/2023/, tiles/2024/). Its subdirectories
 * are counted on a local disk only (elsewhere a listing costs requests). */
static void WarnOfDirectoryWithoutRaster(const char *pszDir, int bRecursive,
                                         const char *pszExcludeDir)
{
    int nSubdirs = 0;
    if (!bRecursive && !STARTS_WITH(pszDir, "/vsi"))
    {
        char *pszExcludeRel = ExcludedRelativePath(pszDir, pszExcludeDir);
        VSIDIR *psDir = VSIOpenDir(pszDir, 0, NULL);
        const VSIDIREntry *psEntry = NULL;
        while (psDir != NULL && (psEntry = VSIGetNextDirEntry(psDir)) != NULL)
        {
            if (psEntry->bModeKnown && VSI_ISDIR(psEntry->nMode) &&
                !HasHiddenComponent(psEntry->pszName) &&
                (pszExcludeRel == NULL || strcmp(psEntry->pszName, pszExcludeRel) != 0))
                ++nSubdirs;
        }
        if (psDir != NULL)
            VSICloseDir(psDir);
        CPLFree(pszExcludeRel);
    }
    if (nSubdirs > 0)
        CPLError(CE_Warning, CPLE_AppDefined,
                 "Source directory '%s' holds no raster file, only %d subdirector%s: nothing is "
                 "taken from it (add -recursive to take the rasters below it).",
                 pszDir, nSubdirs, nSubdirs == 1 ? "y" : "ies");
    else
        CPLError(CE_Warning, CPLE_AppDefined,
                 "Source directory '%s' holds no raster file: nothing is taken from it.", pszDir);
}

void BWCollectSourcesEx(CSLConstList papszSources, int bRecursive, const char *pszExcludeDir,
                        BWScanStopFunc pfnStop, void *pStopData, BWSourceList *psList)
{
    memset(psList, 0, sizeof(*psList));
    char **papszExt = RasterExtensions();
    const int nArgs = CSLCount(papszSources);
    char *pabNoStat = CPLCalloc((size_t)nArgs + 1, 1);
    VSIStatBufL *pasStat = CPLCalloc((size_t)nArgs + 1, sizeof(VSIStatBufL));
    int *pabExists = CPLCalloc((size_t)nArgs + 1, sizeof(int));
    char *pabPrefix = CPLCalloc((size_t)nArgs + 1, 1);
    char *pabSkip = CPLCalloc((size_t)nArgs + 1, 1);
    for (int i = 0; i < nArgs; ++i)
    {
        pabNoStat[i] = (char)IsRemoteRasterName(papszSources[i], papszExt);
        pabPrefix[i] = (char)IsRemotePlainPrefix(papszSources[i]);
        pabSkip[i] = (char)(pabNoStat[i] || pabPrefix[i]);
    }
    StatAll(papszSources, pabSkip, pasStat, pabExists);
    for (int iArg = 0; iArg < nArgs; ++iArg)
    {
        if (StopRequested(psList, pfnStop, pStopData))
            break;
        CSLConstList papszIter = papszSources + iArg;
        if (pabNoStat[iArg])
        {
            AddSource(psList, *papszIter, "", -1);
            continue;
        }
        if (pabPrefix[iArg])
        {
            /* Listed without a stat first: on an object store that is a
             * listing request of its own. No object under the prefix is
             * what a stat would call a directory that does not exist. */
            int nListed = 0;
            const int nBefore = psList->nSources;
            const int bHadError = psList->pszError != NULL;
            AppendDirectory(psList, *papszIter, bRecursive, pszExcludeDir, papszExt, pfnStop,
                            pStopData, &nListed);
            if (nListed == 0 && !bHadError && psList->pszError == NULL && !psList->bStopped)
                AddError(psList, CPLSPrintf("Source directory '%s' does not exist.", *papszIter));
            else if (psList->nSources == nBefore && !bHadError && psList->pszError == NULL &&
                     !psList->bStopped)
                WarnOfDirectoryWithoutRaster(*papszIter, bRecursive, pszExcludeDir);
            continue;
        }
        VSIStatBufL sStat = pasStat[iArg];
        const int bExists = pabExists[iArg];
        /* Special files only: a second stat, rarely. */
        if (bExists && !STARTS_WITH(*papszIter, "/vsi") && !VSI_ISREG(sStat.st_mode) &&
            !VSI_ISDIR(sStat.st_mode) && IsSpecialFile(psList, *papszIter))
            continue;
        /* "/vsizip/a.zip/" is a directory by its spelling, and listed, even
         * though GDAL's stat calls it a file: it shows an archive of one
         * member as that member. */
        const int bArchiveOfOne = bExists && STARTS_WITH(*papszIter, "/vsi") &&
                                  !VSI_ISDIR(sStat.st_mode) && BWPathName(*papszIter)[0] == '\0';
        if (bArchiveOfOne ||
            (bExists && VSI_ISDIR(sStat.st_mode) && !IsDirectoryLikeRaster(*papszIter, papszExt)))
        {
            const int nBefore = psList->nSources;
            const int bHadError = psList->pszError != NULL;
            AppendDirectory(psList, *papszIter, bRecursive, pszExcludeDir, papszExt, pfnStop,
                            pStopData, NULL);
            if (psList->nSources == nBefore && !bHadError && psList->pszError == NULL &&
                !psList->bStopped)
                WarnOfDirectoryWithoutRaster(*papszIter, bRecursive, pszExcludeDir);
        }
        else if (!bExists && BWPathName(*papszIter)[0] == '\0')
        {
            /* "missing/": a directory by its spelling, with no file name to
             * make an output name of. */
            VSIStatBufL sAgain;
            errno = 0;
            const int nErr = VSIStatL(*papszIter, &sAgain) != 0 ? errno : 0;
            if (psList->pszError == NULL && (nErr == ENOENT || nErr == 0))
                psList->pszError =
                    CPLStrdup(CPLSPrintf("Source directory '%s' does not exist.", *papszIter));
            else if (psList->pszError == NULL)
                psList->pszError = CPLStrdup(CPLSPrintf("Cannot read source directory '%s': %s",
                                                        *papszIter, VSIStrerror(nErr)));
        }
        else if (bExists || !HasWildcard(*papszIter) || !AppendPattern(psList, *papszIter))
        {
            /* A file, or a missing path: the latter fails in its own task,
             * with GDAL's message, so that the rest of the batch still runs. */
            AddSource(psList, *papszIter, "", bExists ? (GIntBig)sStat.st_size : -1);
        }
    }
    CPLFree(pabNoStat);
    CPLFree(pabPrefix);
    CPLFree(pabSkip);
    CPLFree(pasStat);
    CPLFree(pabExists);
    CSLDestroy(papszExt);
}

void BWSourceListClear(BWSourceList *psList)
{
    for (int i = 0; i < psList->nSources; ++i)
    {
        CPLFree(psList->pasSources[i].pszPath);
        CPLFree(psList->pasSources[i].pszRelDir);
        CSLDestroy(psList->pasSources[i].papszSiblings);
    }
    CPLFree(psList->pasSources);
    CPLFree(psList->pszError);
    memset(psList, 0, sizeof(*psList));
}

char **BWSplitSourceList(const char *pachData, size_t nLen, int bNul)
{
    const char chSeparator = bNul ? '\0' : '\n';
    char **papszOut = NULL;
    /* Grown by doubling: CSLAddString() would count the list on every call,
     * quadratic in a list of a million names. */
    size_t nOut = 0;
    size_t nCap = 0;
    size_t nStart = 0;
    while (nStart < nLen)
    {
        const char *pachEnd = memchr(pachData + nStart, chSeparator, nLen - nStart);
        size_t nEntry = pachEnd ? (size_t)(pachEnd - (pachData + nStart)) : nLen - nStart;
        const size_t nNext = nStart + nEntry + 1;
        /* Lists written on Windows end their lines with CR LF. */
        if (!bNul && nEntry > 0 && pachData[nStart + nEntry - 1] == '\r')
            --nEntry;
        /* A name cannot hold a NUL: in a line-separated list, one ends it. */
        const size_t nName = bNul ? nEntry : strnlen(pachData + nStart, nEntry);
        if (nName > 0)
        {
            if (nOut + 1 >= nCap)
            {
                nCap = nCap ? nCap * 2 : 64;
                papszOut = CPLRealloc(papszOut, nCap * sizeof(char *));
            }
            char *pszName = CPLMalloc(nName + 1);
            memcpy(pszName, pachData + nStart, nName);
            pszName[nName] = '\0';
            papszOut[nOut++] = pszName;
            papszOut[nOut] = NULL;
        }
        nStart = nNext;
    }
    return papszOut;
}

/* The first buffer a list is read into; it doubles as the list needs. */
#define BW_LIST_FIRST_BUFFER_BYTES 65536

int BWReadSourceList(const char *pszPath, int bNul, char ***ppapszSources, char **ppszError)
{
    const int bStdin = strcmp(pszPath, "-") == 0;
    FILE *fp = bStdin ? stdin : fopen(pszPath, "rb");
    if (fp == NULL)
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("Cannot open source list '%s': %s", pszPath, strerror(errno)));
        return FALSE;
    }
    /* Read whole: stdin cannot be read twice, and a list of a million names
     * is still only tens of megabytes. */
    size_t nLen = 0;
    size_t nAlloc = BW_LIST_FIRST_BUFFER_BYTES;
    char *pachData = CPLMalloc(nAlloc);
    /* Until the end or the first error: a signal (SIGINT, SIGTERM) that
     * interrupts the wait for a writer that is still there (a pipe from a
     * long 'find', a FIFO) ends the read, rather than a read begun again
     * waiting for that writer to finish. */
    for (;;)
    {
        const size_t nRead = fread(pachData + nLen, 1, nAlloc - nLen, fp);
        nLen += nRead;
        if (nLen == nAlloc)
        {
            nAlloc *= 2;
            pachData = CPLRealloc(pachData, nAlloc);
        }
        if (nRead == 0 || ferror(fp))
            break;
    }
    const int bError = ferror(fp);
    const int nErr = errno;
    if (!bStdin)
        fclose(fp);
    if (bError)
    {
        CPLFree(pachData);
        *ppszError = CPLStrdup(
            nErr == EINTR
                ? CPLSPrintf("Reading source list '%s' was interrupted by a signal.", pszPath)
                : CPLSPrintf("Cannot read source list '%s': %s", pszPath, strerror(nErr)));
        return FALSE;
    }
    char **papszNew = BWSplitSourceList(pachData, nLen, bNul);
    CPLFree(pachData);
    /* Appended at once, the names moved rather than copied one by one. */
    const int nOld = CSLCount(*ppapszSources);
    const int nNew = CSLCount(papszNew);
    if (nNew > 0)
    {
        *ppapszSources = CPLRealloc(*ppapszSources, ((size_t)nOld + nNew + 1) * sizeof(char *));
        memcpy(*ppapszSources + nOld, papszNew, ((size_t)nNew + 1) * sizeof(char *));
    }
    CPLFree(papszNew);
    return TRUE;
}
