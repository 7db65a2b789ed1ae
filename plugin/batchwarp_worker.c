/*
 * A worker process: configured once from the INIT message, then one task per
 * TASK message. Each task opens, warps and closes every dataset before it
 * reports success; the supervisor then renames the output into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_multiproc.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "batchwarp_cpu_time.h"
#include "batchwarp_fault_hooks.h"
#include "batchwarp_output.h"
#include "batchwarp_output_refs.h"
#include "batchwarp_prefetch.h"
#include "batchwarp_protocol.h"
#include "batchwarp_store_reply.h"
#include "batchwarp_strbuf.h"
#include "batchwarp_task_log.h"
#include "batchwarp_temp.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"
#include "gdal_batchwarp.h"

/* Tries of a task whose requests to an object store failed in transit. */
#define BW_TRANSPORT_TRIES 3

/* Task directories a worker keeps for reuse (see TakeTaskDir): the one the
 * supervisor publishes from while the next task is written in another. */
#define BW_KEPT_TASK_DIRS 4

typedef struct
{
    GDALWarpAppOptions *psWarpOptions;
    GDALWarpAppOptions *psWarpOptionsTail; /* the same plus compressor threads */
    int nTailThreads;                      /* the number psWarpOptionsTail was made for */
    int bStrictErrors;                     /* any error GDAL logs fails the task (-strict_errors) */
    char **papszWarpArgs;
    char **papszOpenOptions;
    char **papszInputDrivers;
    char *pszInitError; /* why INIT failed: every task then fails with it */
    BWTaskLog sLog;
    GIntBig nSourceSize; /* the current task's source size (SIZE), 0 if unknown */
    char **papszStale;   /* the current task's earlier output's files (see OldOutputFiles) */
    /* The current task's earlier network output's possible files, from the
     * supervisor's listing (OLDSIBLING), or NULL. */
    char **papszOldSiblings;
    int bKeep; /* the current task replaces nothing (KEEP: no -overwrite) */
    /* This worker's task directories (see TakeTaskDir), and the one the
     * current task wrote in, named in its RESULT. */
    char *apszTaskDirs[BW_KEPT_TASK_DIRS];
    int nTaskDirs;
    int nTaskDirSerial;
    const char *pszTaskDir;
} BWWorker;

/* FALSE, with an error naming it, if a FIFO was opened since the last call
 * (see BWFifoGuardStart). */
static int TakeFifoError(void)
{
    char *pszFifo = BWFifoGuardTake();
    if (pszFifo == NULL)
        return TRUE;
    CPLError(CE_Failure, CPLE_FileIO,
             "'%s' is a FIFO (a named pipe), not a file: GDAL opened it as a file of this task "
             "(the source, a file beside it such as its overviews or mask, or one it names) and "
             "would have waited forever for something to write into it. gdal_batchwarp left it "
             "as it was: remove it, or warp from a directory where nobody else can make one.",
             pszFifo);
    CPLFree(pszFifo);
    return FALSE;
}

/* A cap on the worker's address space (as ulimit -v): an allocation past it
 * fails, and GDAL reports the task as out of memory instead of the machine's
 * OOM killer choosing a victim. */
/* Below this much address space beyond what a worker holds once GDAL is
 * loaded, a warp of even a tiny tile fails in places that cannot report it
 * (a C++ allocation in a driver: SIGABRT; a thread's malloc arena or stack:
 * SIGSEGV; or a hang when a thread cannot start). Measured with GDAL 3.6: a
 * worker holds about 160 MB once loaded and needs 30 MB more for one
 * thread; the floor leaves room for a few. */
#define BW_MEMORY_HEADROOM (64 * 1024 * 1024)

static GIntBig AddressSpaceBytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long nSize = 0;
    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%ld", &nSize) != 1)
        nSize = 0;
    fclose(fp);
    return (GIntBig)nSize * sysconf(_SC_PAGESIZE);
}

static void LimitAddressSpace(BWWorker *psWorker, GIntBig nBytes)
{
    if (nBytes <= 0)
        return;
    const GIntBig nFloor = AddressSpaceBytes() + BW_MEMORY_HEADROOM;
    if (nBytes < nFloor && psWorker->pszInitError == NULL)
    {
        /* Said once per task, rather than workers dying without a word. */
        psWorker->pszInitError = CPLStrdup(CPLSPrintf(
            "-worker_mem_limit of " CPL_FRMT_GIB " MB is too low: a worker holds " CPL_FRMT_GIB
            " MB of address space before any work (GDAL and its drivers) and needs at "
            "least " CPL_FRMT_GIB " MB to warp anything. Give a higher limit.",
            nBytes / (1024 * 1024), (nFloor - BW_MEMORY_HEADROOM) / (1024 * 1024),
            (nFloor + 1024 * 1024 - 1) / (1024 * 1024)));
        return;
    }
    struct rlimit sLimit;
    sLimit.rlim_cur = (rlim_t)nBytes;
    sLimit.rlim_max = (rlim_t)nBytes;
    if (setrlimit(RLIMIT_AS, &sLimit) != 0)
        CPLError(CE_Warning, CPLE_AppDefined, "cannot limit worker memory: %s", strerror(errno));
}

/* Resident set size in kB, for the supervisor's recycling decision. */
static long ResidentKB(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long nSize = 0;
    long nResident = 0;
    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%ld %ld", &nSize, &nResident) != 2)
        nResident = 0;
    fclose(fp);
    return nResident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void ApplyInit(BWWorker *psWorker, const BWMessage *psInit)
{
    char **papszWarpArgs = NULL;
    GIntBig nMemoryLimit = 0;
    const char *pszPathPrefix = NULL;
    for (char **papszIter = psInit->papszFields; papszIter && *papszIter; ++papszIter)
    {
        const char *pszField = *papszIter;
        if (STARTS_WITH(pszField, "CONFIG="))
        {
            char *pszKey = NULL;
            const char *pszValue = CPLParseNameValue(pszField + strlen("CONFIG="), &pszKey);
            if (pszKey != NULL && pszValue != NULL)
                CPLSetConfigOption(pszKey, pszValue);
            CPLFree(pszKey);
        }
        /* Options the supervisor's caller set for a path alone
         * (BWAddPathSpecificOptions), set for the same prefix here. */
        else if (STARTS_WITH(pszField, "PATH_PREFIX="))
            pszPathPrefix = pszField + strlen("PATH_PREFIX=");
        else if (STARTS_WITH(pszField, "PATH_OPTION=") && pszPathPrefix != NULL)
        {
            char *pszKey = NULL;
            const char *pszValue = CPLParseNameValue(pszField + strlen("PATH_OPTION="), &pszKey);
            if (pszKey != NULL && pszValue != NULL)
                VSISetPathSpecificOption(pszPathPrefix, pszKey, pszValue);
            CPLFree(pszKey);
        }
        else if (STARTS_WITH(pszField, "WARP_ARG="))
            papszWarpArgs = CSLAddString(papszWarpArgs, pszField + strlen("WARP_ARG="));
        else if (STARTS_WITH(pszField, "OPEN_OPTION="))
            psWorker->papszOpenOptions =
                CSLAddString(psWorker->papszOpenOptions, pszField + strlen("OPEN_OPTION="));
        else if (STARTS_WITH(pszField, "MEMORY_LIMIT="))
            nMemoryLimit = CPLAtoGIntBig(pszField + strlen("MEMORY_LIMIT="));
        else if (STARTS_WITH(pszField, "INPUT_DRIVER="))
            psWorker->papszInputDrivers =
                CSLAddString(psWorker->papszInputDrivers, pszField + strlen("INPUT_DRIVER="));
        else if (EQUAL(pszField, "STRICT_ERRORS=1"))
            psWorker->bStrictErrors = TRUE;
    }
    /* CPL_MAX_ERROR_REPORTS may be one of them. */
    psWorker->sLog.bMaxKnown = FALSE;
    /* Config options first: some (GDAL_SKIP, GDAL_DRIVER_PATH, GDAL_CACHEMAX)
     * only take effect if set before drivers and the block cache start. */
    GDALAllRegister();
    psWorker->psWarpOptions = GDALWarpAppOptionsNew(papszWarpArgs, NULL);
    if (psWorker->psWarpOptions == NULL)
        psWorker->pszInitError =
            CPLStrdup(psWorker->sLog.papszErrors ? psWorker->sLog.papszErrors[0]
                                                 : "invalid gdalwarp options");
    psWorker->papszWarpArgs = papszWarpArgs;
    /* Once GDAL is loaded, so that the limit can be judged against it. */
    LimitAddressSpace(psWorker, nMemoryLimit);
    BWTaskLogClear(&psWorker->sLog);
}

/*
 * Some GDAL and libtiff versions (GDAL 3.13 here) print a failed write on a
 * full disk to stderr instead of raising an error, and the truncated file
 * then closes without complaint. A file system left without room after the
 * output was written cannot be trusted to hold it whole: fail the task.
 */
#define BW_MIN_FREE_BYTES_AFTER_WRITE (64 * 1024)
/* A failed warp may name only what broke after the disk filled (GDAL 3.13's
 * libtiff: "Bogus block size", "FillEmptyTiles() failed"), a write of up to
 * a block short of the free space: below this, the full disk is named too. */
#define BW_MIN_FREE_BYTES_AFTER_FAILURE (1024 * 1024)

/* Whether the file system of pszWritten has less than nMinFree bytes free,
 * which is then raised as the task's error. */
static int CheckRoomLeft(const char *pszWritten, unsigned long long nMinFree)
{
    if (STARTS_WITH(pszWritten, "/vsi"))
        return FALSE;
    struct statvfs sFs;
    char *pszDir = BWPathDir(pszWritten);
    const int nRet = statvfs(pszDir[0] ? pszDir : ".", &sFs);
    CPLFree(pszDir);
    if (nRet != 0)
        return FALSE;
    const unsigned long long nFree =
        (unsigned long long)sFs.f_bavail * (unsigned long long)sFs.f_frsize;
    if (nFree >= nMinFree)
        return FALSE;
    CPLError(CE_Failure, CPLE_FileIO,
             "No space left on device: %llu bytes free after writing %s, which may be "
             "incomplete",
             nFree, pszWritten);
    return TRUE;
}

/* A tail task gets the cores of idle workers, but only in ways that leave the
 * output's bytes as one thread writes them: the compressor's threads
 * (`-co NUM_THREADS=n`; the supervisor only sends THREADS when the format
 * and compression qualify, see BWCompressorThreadsQualify). The warper's
 * threads (-multi, -wo NUM_THREADS, GDAL_NUM_THREADS) change values, so
 * they are the user's choice alone. */
static const GDALWarpAppOptions *WarpOptionsFor(BWWorker *psWorker, int nThreads)
{
    if (nThreads <= 1)
        return psWorker->psWarpOptions;
    if (psWorker->psWarpOptionsTail == NULL || psWorker->nTailThreads != nThreads)
    {
        if (psWorker->psWarpOptionsTail != NULL)
            GDALWarpAppOptionsFree(psWorker->psWarpOptionsTail);
        char **papszArgs = CSLDuplicate(psWorker->papszWarpArgs);
        papszArgs = CSLAddString(papszArgs, "-co");
        papszArgs = CSLAddString(papszArgs, CPLSPrintf("NUM_THREADS=%d", nThreads));
        psWorker->psWarpOptionsTail = GDALWarpAppOptionsNew(papszArgs, NULL);
        psWorker->nTailThreads = nThreads;
        CSLDestroy(papszArgs);
        if (psWorker->psWarpOptionsTail == NULL)
            return psWorker->psWarpOptions;
    }
    return psWorker->psWarpOptionsTail;
}

/* Is pszPath, which the written dataset lists, one of the files it created
 * in the task's temporary directory? A warped VRT also lists its source. */
static int InTempDir(const char *pszPath, const char *pszWriteTo)
{
    char *pszDir = BWPathDir(pszWriteTo);
    char *pszPathDir = BWPathDir(pszPath);
    const int bIn = strcmp(pszPathDir, pszDir) == 0;
    CPLFree(pszDir);
    CPLFree(pszPathDir);
    return bIn;
}

/*
 * A local output is written in the temporary directory the supervisor made
 * (issue 11): someone who can rename entries of a world-writable -outdir
 * could swap a directory on its path for a link at any moment, so that a
 * write by path lands where they like. The directory is opened once and
 * checked (the device and inode the supervisor sent, owned by us), then
 * written through "/proc/self/fd/N", which names that very directory
 * whatever happens to its path. Without /proc the check still holds at the
 * open, and the write goes by path. Returns the descriptor (close it) and
 * the directory to write in (CPLFree it), or -1 with the error raised.
 */
static int PinTempDir(const char *pszTemp, const char *pszDev, const char *pszIno,
                      char **ppszWriteDir)
{
    char *pszDir = BWPathDir(pszTemp);
    if (pszDev == NULL || pszIno == NULL)
    {
        CPLError(CE_Failure, CPLE_AppDefined,
                 "malformed task message: no TMPDIR_DEV and TMPDIR_INO for %s", pszDir);
        CPLFree(pszDir);
        return -1;
    }
    const int nFd = open(pszDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int nErr = errno;
    struct stat sStat;
    if (nFd < 0 || fstat(nFd, &sStat) != 0)
    {
        CPLError(CE_Failure, CPLE_FileIO,
                 "Temporary directory '%s' was moved or replaced during the run (%s): "
                 "nothing written there",
                 pszDir, VSIStrerror(nFd < 0 ? nErr : errno));
        if (nFd >= 0)
            close(nFd);
        CPLFree(pszDir);
        return -1;
    }
    if ((unsigned long long)sStat.st_dev != strtoull(pszDev, NULL, 10) ||
        (unsigned long long)sStat.st_ino != strtoull(pszIno, NULL, 10) || sStat.st_uid != geteuid())
    {
        CPLError(CE_Failure, CPLE_FileIO,
                 "Temporary directory '%s' was moved or replaced during the run (it is now "
                 "another directory, of uid %ld): nothing written there",
                 pszDir, (long)sStat.st_uid);
        close(nFd);
        CPLFree(pszDir);
        return -1;
    }
    char *pszVia = BWPathThroughFd(nFd);
    if (pszVia != NULL)
    {
        CPLFree(pszDir);
        *ppszWriteDir = pszVia;
    }
    else
        *ppszWriteDir = pszDir; /* no /proc: by path, checked above */
    return nFd;
}

/*
 * A local output is written alone in a directory of its own (see RunTask), so
 * that what the task wrote is what that directory holds: a driver's list of
 * files (GDALGetFileList) misses files made at close or never listed (MRF's
 * index and data, BT's .prj, ISIS3's detached history, ILWIS's .grf and .csy)
 * and even the main file (RRASTER's .grd, PDS4's label). Each file there is
 * named in *ppapszFiles, for the supervisor to publish from that directory. A
 * directory (a KML super-overlay's tile tree, Zarr) is refused: outputs are
 * published as files. Returns FALSE with the error raised.
 */
static int ListTaskDir(int nTaskFd, const char *pszOutput, const char *pszMain,
                       const char *pszDriver, char ***ppapszFiles)
{
    char **papszNames = NULL;
    if (BWListDirAt(nTaskFd, &papszNames) != 0)
    {
        CPLError(CE_Failure, CPLE_FileIO, "Cannot list what was written for %s: %s", pszOutput,
                 VSIStrerror(errno));
        return FALSE;
    }
    int bOk = TRUE;
    for (char **papszIter = papszNames; bOk && papszIter && *papszIter; ++papszIter)
    {
        struct stat sStat;
        if (fstatat(nTaskFd, *papszIter, &sStat, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sStat.st_mode))
        {
            char *pszDir = BWPathDir(pszOutput);
            CPLError(CE_Failure, CPLE_NotSupported,
                     "The %s driver wrote '%s' beside %s, which is not a regular file: "
                     "gdal_batchwarp publishes outputs made of files only; choose a form of the "
                     "format written as files",
                     pszDriver, CPLFormFilename(pszDir, *papszIter, NULL), pszOutput);
            CPLFree(pszDir);
            bOk = FALSE;
        }
    }
    /* A driver may write none at the name it was given, as gdalwarp has it
     * write and succeed: ILWIS writes a multi-band x.mpr as x.mpl and
     * x_band_N.mpr. What it wrote is published; nothing at all is an
     * error, there being no output to publish. */
    if (bOk && papszNames == NULL)
    {
        CPLError(CE_Failure, CPLE_AppDefined, "The %s driver wrote no file for %s", pszDriver,
                 pszOutput);
        bOk = FALSE;
    }
    else if (bOk && CSLFindStringCaseSensitive(papszNames, pszMain) < 0)
        CPLDebug("BATCHWARP", "The %s driver wrote no file named %s", pszDriver, pszOutput);
    if (bOk)
        *ppapszFiles = CSLMerge(*ppapszFiles, papszNames);
    CSLDestroy(papszNames);
    return bOk;
}

/*
 * The files of the earlier output at pszOutput (a task that finds one
 * replaces it: -overwrite), as gdalwarp finds them: it deletes that dataset
 * (GDALDriver::QuietDelete) before creating the new one, so that none of its
 * sidecars is left beside the new output (an HFA .ige, a PNG .wld that
 * other programs read). Their names, in the output's directory and named
 * after it (never another dataset's files that a list may name); none for
 * a VRT, whose list names its sources and whose delete removes only itself.
 * A network output is looked for only where the supervisor's listing found
 * it, and opened with the names of that listing (papszSiblings), so that
 * its sidecars are found without a request for each possible one.
 */
static char **OldOutputFiles(const char *pszOutput, CSLConstList papszSiblings)
{
    VSIStatBufL sStat;
    if (BWIsNetworkPath(pszOutput) ? papszSiblings == NULL
                                   : VSIStatExL(pszOutput, &sStat, VSI_STAT_EXISTS_FLAG) != 0)
        return NULL;
    /* A local earlier output's list is taken only from a regular file of our
     * own user: one that another user wrote (or put there) could name any
     * file of ours beside it as its own. */
    struct stat sLocal;
    if (!STARTS_WITH(pszOutput, "/vsi") &&
        (lstat(pszOutput, &sLocal) != 0 || !S_ISREG(sLocal.st_mode) || sLocal.st_uid != geteuid()))
        return NULL;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH hOld =
        GDALOpenEx(pszOutput, GDAL_OF_RASTER, NULL, NULL, (const char *const *)papszSiblings);
    char **papszNames = NULL;
    GDALDriverH hDriver = hOld != NULL ? GDALGetDatasetDriver(hOld) : NULL;
    if (hDriver != NULL && !EQUAL(GDALGetDriverShortName(hDriver), "VRT"))
    {
        char **papszList = GDALGetFileList(hOld);
        char *pszDir = BWPathDir(pszOutput);
        char *pszStem = CPLStrdup(CPLGetBasename(pszOutput));
        for (char **papszIter = papszList; papszIter && *papszIter; ++papszIter)
        {
            char *pszFileDir = BWPathDir(*papszIter);
            const char *pszName = BWPathName(*papszIter);
            if (strcmp(pszFileDir, pszDir) == 0 && STARTS_WITH(pszName, pszStem) &&
                (pszName[strlen(pszStem)] == '.' || pszName[strlen(pszStem)] == '\0'))
                papszNames = CSLAddString(papszNames, pszName);
            CPLFree(pszFileDir);
        }
        CPLFree(pszStem);
        CPLFree(pszDir);
        CSLDestroy(papszList);
    }
    if (hOld != NULL)
        GDALClose(hOld);
    CPLPopErrorHandler();
    CPLErrorReset();
    return papszNames;
}

/* Removes the files of an earlier network output (papszOld, names in
 * pszOutput's directory) that the new one (papszPublished) did not replace.
 * One that cannot be removed is warned of: the new output is whole. */
static void RemoveFilesNotPublished(const char *pszOutput, CSLConstList papszOld,
                                    CSLConstList papszPublished)
{
    char *pszDir = BWPathDir(pszOutput);
    for (CSLConstList papszIter = papszOld; papszIter && *papszIter; ++papszIter)
    {
        if (CSLFindStringCaseSensitive((char **)papszPublished, *papszIter) >= 0)
            continue;
        const char *pszPath = CPLFormFilename(pszDir, *papszIter, NULL);
        if (VSIUnlink(pszPath) != 0)
            CPLError(CE_Warning, CPLE_FileIO,
                     "'%s', a file of the earlier output '%s', could not be removed: %s", pszPath,
                     pszOutput, VSIStrerror(errno));
    }
    CPLFree(pszDir);
}

/* The task once its place to write is known: pszWriteTo (through the pinned
 * directory), whose path is pszWriteName; nTaskFd, if not -1, is the task's
 * own directory that holds it, in the run's temporary directory (see
 * RunTask). Takes nothing. */
static int WarpTo(BWWorker *psWorker, const char *pszSource, CSLConstList papszSiblings,
                  const char *pszOutput, const char *pszTemp, const char *pszStaged,
                  const char *pszWriteTo, const char *pszWriteName, int nThreads, int nTaskFd,
                  char ***ppapszFiles)
{
    const int bStage = pszStaged != NULL;
    /* A retried task may find the leftovers of an attempt that crashed (a
     * task directory is new, and empty). */
    if (nTaskFd < 0)
        BWDiscardTemp(pszWriteTo);
    GDALDatasetH hSrc =
        BWOpenSource(pszSource, psWorker->nSourceSize, GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR,
                     psWorker->papszInputDrivers, psWorker->papszOpenOptions, papszSiblings);
    if (hSrc == NULL)
        return FALSE;

    int bUsageError = FALSE;
    GDALDatasetH hOut =
        GDALWarp(pszWriteTo, NULL, 1, &hSrc, WarpOptionsFor(psWorker, nThreads), &bUsageError);
    /* gdalwarp's rule: the warp succeeded if it returned a dataset, and
     * closing that dataset (which flushes it) raised no error. Errors logged
     * before, e.g. by PROJ for points outside a projection's domain, do not
     * fail gdalwarp, nor this task unless -strict_errors. */
    const int nErrorsBeforeClose = psWorker->sLog.nErrors;
    /* The files of the output, for the supervisor's rename: asked of the
     * dataset itself, so that every driver's sidecars (.msk, .ovr, .hdr)
     * are named; a PAM .aux.xml may only appear at close. */
    char **papszFiles = hOut != NULL ? GDALGetFileList(hOut) : NULL;
    const char *pszDriver = hOut != NULL && GDALGetDatasetDriver(hOut) != NULL
                                ? GDALGetDriverShortName(GDALGetDatasetDriver(hOut))
                                : "output";
    const int bVRT = EQUAL(pszDriver, "VRT");
    /* Close the output first: a VRT refers to the source. */
    if (hOut != NULL)
        GDALClose(hOut);
    int nErrorsAtClose = psWorker->sLog.nErrors - nErrorsBeforeClose;
    GDALClose(hSrc);
    VSIStatBufL sStat;
    const char *pszPam = CPLSPrintf("%s.aux.xml", pszWriteTo);
    if (hOut != NULL && CSLFindString(papszFiles, pszPam) < 0 && VSIStatL(pszPam, &sStat) == 0)
        papszFiles = CSLAddString(papszFiles, pszPam);
    if (hOut != NULL && bVRT && nErrorsAtClose == 0)
    {
        const int nBefore = psWorker->sLog.nErrors;
        BWReferSourceFromFinalPlace(pszWriteTo, pszWriteName, pszOutput);
        nErrorsAtClose += psWorker->sLog.nErrors - nBefore;
    }
    if (hOut != NULL && EQUAL(pszDriver, "ENVI") && nErrorsAtClose == 0)
    {
        const int nBefore = psWorker->sLog.nErrors;
        BWNameOutputInEnviHeader(pszWriteTo, pszOutput);
        nErrorsAtClose += psWorker->sLog.nErrors - nBefore;
    }
    int bFull = FALSE;
    if (hOut != NULL)
    {
        const int nBefore = psWorker->sLog.nErrors;
        bFull = CheckRoomLeft(pszWriteTo, BW_MIN_FREE_BYTES_AFTER_WRITE);
        nErrorsAtClose += psWorker->sLog.nErrors - nBefore;
    }
    /* A request to an object store that failed in transit taints what was
     * read: such a task is tried again (see ServeTask) whatever the rule. */
    const int bNoFifo = TakeFifoError();
    int bOk = hOut != NULL && nErrorsAtClose == 0 && psWorker->sLog.pszTransport == NULL &&
              bNoFifo && (!psWorker->bStrictErrors || psWorker->sLog.nErrors == 0);
    if (!bOk && !bFull)
        CheckRoomLeft(pszWriteTo, BW_MIN_FREE_BYTES_AFTER_FAILURE);
    if (!bOk && psWorker->sLog.papszErrors == NULL)
        CPLError(CE_Failure, CPLE_AppDefined, "gdalwarp failed without an error message");
    /* A local output stays under its temporary name: the supervisor renames
     * it once it has this result (see PublishInSupervisor). */
    /* An earlier network output's files are found before the new ones
     * replace its main file, and those the new output did not replace are
     * removed once it is whole, as gdalwarp -overwrite deletes the earlier
     * dataset (an .aux.xml or .ovr left would be attached to the new one). */
    char **papszOldRemote = bOk && bStage && BWIsNetworkPath(pszOutput)
                                ? OldOutputFiles(pszOutput, psWorker->papszOldSiblings)
                                : NULL;
    char **papszPublished = NULL;
    if (bOk && bStage)
        bOk = BWPublishStagedOutput(
            pszWriteTo, pszOutput, pszTemp,
            CSLFindStringCaseSensitive(papszOldRemote, BWPathName(pszOutput)) >= 0, psWorker->bKeep,
            &papszPublished);
    if (bOk)
        RemoveFilesNotPublished(pszOutput, papszOldRemote, papszPublished);
    CSLDestroy(papszOldRemote);
    CSLDestroy(papszPublished);
    if (bOk && nTaskFd >= 0)
    {
        CSLDestroy(psWorker->papszStale);
        psWorker->papszStale = OldOutputFiles(pszOutput, NULL);
        bOk = TakeFifoError();
    }
    if (bOk && nTaskFd >= 0)
        bOk = ListTaskDir(nTaskFd, pszOutput, BWPathName(pszWriteTo), pszDriver, ppapszFiles);
    if (bOk)
        BWInjectFaultAfterWrite(pszSource);
    if (!bOk)
    {
        if (nTaskFd < 0)
            BWDiscardTemp(pszWriteTo);
    }
    else if (!bStage && nTaskFd < 0)
    {
        for (char **papszIter = papszFiles; papszIter && *papszIter; ++papszIter)
        {
            if (InTempDir(*papszIter, pszWriteTo))
                *ppapszFiles = CSLAddString(*ppapszFiles, BWPathName(*papszIter));
        }
    }
    CSLDestroy(papszFiles);
    return bOk;
}

static int IsEmptyDir(int nDirFd)
{
    char **papszNames = NULL;
    const int bEmpty = BWListDirAt(nDirFd, &papszNames) == 0 && papszNames == NULL;
    CSLDestroy(papszNames);
    return bEmpty;
}

/*
 * The directory, in the run's temporary directory nRunFd, in which the task
 * writes its output alone (see ListTaskDir), open, and its name in
 * *ppszName. A directory is made once and used again: making and removing
 * one per task cost about 0.6 ms of system time on ext4, some 5% of a batch
 * of small tiles. One of this worker's is used again once it is empty: the
 * supervisor leaves it so when it has moved every file of a finished task
 * out (and touches it no more); a task that failed empties its own. One
 * that is not empty (its task still being published, or its publication
 * failed) is left for the end of the run, which removes them all. Names are
 * this process's (pid and a serial): no two workers share one, and the
 * supervisor removes those of a worker lost (BWDiscardWorkerTaskDirs).
 */
static int TakeTaskDir(BWWorker *psWorker, int nRunFd, const char **ppszName)
{
    for (int i = 0; i < psWorker->nTaskDirs; ++i)
    {
        const int nFd = openat(nRunFd, psWorker->apszTaskDirs[i],
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nFd >= 0 && IsEmptyDir(nFd))
        {
            *ppszName = psWorker->apszTaskDirs[i];
            return nFd;
        }
        if (nFd >= 0)
            close(nFd);
        else
        {
            /* Gone (removed with what a failed task left): forgotten. */
            CPLFree(psWorker->apszTaskDirs[i]);
            psWorker->apszTaskDirs[i] = psWorker->apszTaskDirs[--psWorker->nTaskDirs];
            --i;
        }
    }
    /* A pid may be used again by a later worker of the run: skip names taken. */
    for (int nTry = 0; nTry < 1000; ++nTry)
    {
        char *pszName = CPLStrdup(
            CPLSPrintf(BW_TASK_DIR_PREFIX "w%ld-%d", (long)getpid(), psWorker->nTaskDirSerial++));
        if (mkdirat(nRunFd, pszName, 0700) != 0)
        {
            const int nErr = errno;
            CPLFree(pszName);
            if (nErr == EEXIST)
                continue;
            errno = nErr;
            return -1;
        }
        const int nFd = openat(nRunFd, pszName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nFd < 0)
        {
            CPLFree(pszName);
            return -1;
        }
        /* Beyond the few kept, a directory serves one task. */
        if (psWorker->nTaskDirs == BW_KEPT_TASK_DIRS)
        {
            CPLFree(psWorker->apszTaskDirs[0]);
            psWorker->apszTaskDirs[0] = psWorker->apszTaskDirs[--psWorker->nTaskDirs];
        }
        psWorker->apszTaskDirs[psWorker->nTaskDirs++] = pszName;
        *ppszName = pszName;
        return nFd;
    }
    errno = EEXIST;
    return -1;
}

static int RunTask(BWWorker *psWorker, const char *pszSource, CSLConstList papszSiblings,
                   const char *pszOutput, const char *pszTemp, const char *pszStaged,
                   const char *const *papszTempId, int nAttempt, int nThreads, char ***ppapszFiles)
{
    if (BWInjectFault(pszSource, nAttempt))
        return FALSE;
    if (psWorker->pszInitError != NULL)
    {
        CPLError(CE_Failure, CPLE_AppDefined, "%s", psWorker->pszInitError);
        return FALSE;
    }
    /* Remote outputs are written locally first (see BWOutputNeedsStaging),
     * in a private directory of ours: by path. */
    const int bStage = pszStaged != NULL;
    const int bPin = !bStage && !STARTS_WITH(pszTemp, "/vsi");
    char *pszWriteTo = NULL;
    char *pszWriteName = NULL;
    char *pszTempDir = NULL;
    char *pszWriteDir = NULL;
    char *pszTaskVia = NULL;
    int nPinFd = -1;
    int nTaskFd = -1;
    /* A local output is written alone in a directory of its own, in the
     * run's temporary directory (in its namespace, so no output's name), so
     * that every file the driver writes is known (see ListTaskDir). */
    const char *pszTaskDir = NULL;
    psWorker->pszTaskDir = NULL;
    if (bPin)
    {
        nPinFd = PinTempDir(pszTemp, papszTempId[0], papszTempId[1], &pszWriteDir);
        if (nPinFd < 0)
            return FALSE;
        pszTempDir = BWPathDir(pszTemp);
        if ((nTaskFd = TakeTaskDir(psWorker, nPinFd, &pszTaskDir)) < 0)
        {
            CPLError(CE_Failure, CPLE_FileIO, "Cannot create a directory in '%s': %s", pszTempDir,
                     VSIStrerror(errno));
            close(nPinFd);
            CPLFree(pszWriteDir);
            CPLFree(pszTempDir);
            return FALSE;
        }
        pszTaskVia = CPLStrdup(CPLFormFilename(pszWriteDir, pszTaskDir, NULL));
        pszWriteTo = CPLStrdup(CPLFormFilename(pszTaskVia, BWPathName(pszTemp), NULL));
        /* CPLFormFilename's result is one buffer: not nested. */
        char *pszTaskReal = CPLStrdup(CPLFormFilename(pszTempDir, pszTaskDir, NULL));
        pszWriteName = CPLStrdup(CPLFormFilename(pszTaskReal, BWPathName(pszTemp), NULL));
        CPLFree(pszTaskReal);
        /* Messages name the file by its temporary name, which the
         * supervisor names as the output. */
        psWorker->sLog.pszViaDir = pszTaskVia;
        psWorker->sLog.pszRealDir = pszTempDir;
    }
    else
        pszWriteTo = CPLStrdup(bStage ? pszStaged : pszTemp);
    /* A staged output has a directory of its own too (see
     * BWStagingPathFor), in the run's temporary directory in the staging
     * directory. When the supervisor made that one locally (its identity in
     * the task), it is reached as the output's is (PinTempDir), and the
     * task's directory is emptied, made and written through its descriptor:
     * in a staging directory others can rename entries of (0777 without the
     * sticky bit), a directory of theirs may stand at its name, holding a
     * link named like the task's directory, and VSIRmdirRecursive follows
     * links (it emptied the directory of root's the link led to). */
    char *pszStagedDir = bStage ? BWPathDir(pszStaged) : NULL;
    const char *pszStagedName = pszStagedDir ? BWPathName(pszStagedDir) : NULL;
    char *pszStageRun = pszStagedDir ? BWPathDir(pszStagedDir) : NULL;
    char *pszStageVia = NULL;
    int nStageFd = -1;
    if (pszStagedDir != NULL && papszTempId[2] != NULL)
    {
        nStageFd = PinTempDir(pszStagedDir, papszTempId[2], papszTempId[3], &pszStageVia);
        int bMade = nStageFd >= 0;
        if (bMade && ((BWRemoveTreeAt(nStageFd, pszStagedName) != 0 && errno != ENOENT) ||
                      mkdirat(nStageFd, pszStagedName, 0700) != 0))
        {
            CPLError(CE_Failure, CPLE_FileIO, "Cannot create staging directory '%s': %s",
                     pszStagedDir, VSIStrerror(errno));
            bMade = FALSE;
        }
        if (!bMade)
        {
            if (nStageFd >= 0)
                close(nStageFd);
            CPLFree(pszStageVia);
            CPLFree(pszStageRun);
            CPLFree(pszStagedDir);
            CPLFree(pszWriteTo);
            return FALSE;
        }
        CPLFree(pszWriteTo);
        char *pszVia = CPLStrdup(CPLFormFilename(pszStageVia, pszStagedName, NULL));
        pszWriteTo = CPLStrdup(CPLFormFilename(pszVia, BWPathName(pszStaged), NULL));
        CPLFree(pszVia);
        /* Messages name the staged file by its path. */
        psWorker->sLog.pszViaDir = pszStageVia;
        psWorker->sLog.pszRealDir = pszStageRun;
    }
    else if (pszStagedDir != NULL)
    {
        /* Not made locally (a CPL_TMPDIR under /vsi): by path. */
        VSIRmdirRecursive(pszStagedDir);
        if (VSIMkdir(pszStagedDir, 0700) != 0)
        {
            CPLError(CE_Failure, CPLE_FileIO, "Cannot create staging directory '%s': %s",
                     pszStagedDir, VSIStrerror(errno));
            CPLFree(pszStageRun);
            CPLFree(pszStagedDir);
            CPLFree(pszWriteTo);
            return FALSE;
        }
    }
    const int bOk =
        WarpTo(psWorker, pszSource, papszSiblings, pszOutput, pszTemp, pszStaged, pszWriteTo,
               bPin     ? pszWriteName
               : bStage ? pszStaged
                        : pszWriteTo,
               nThreads, nTaskFd, ppapszFiles);
    psWorker->sLog.pszViaDir = NULL;
    psWorker->sLog.pszRealDir = NULL;
    if (nTaskFd >= 0)
    {
        /* The supervisor publishes from it, then removes it; what a failed
         * task left goes now. */
        close(nTaskFd);
        if (!bOk)
            BWRemoveTreeAt(nPinFd, pszTaskDir);
        else
            psWorker->pszTaskDir = pszTaskDir;
    }
    if (nPinFd >= 0)
        close(nPinFd);
    /* Copied, or what a failed task left. */
    if (nStageFd >= 0)
    {
        BWRemoveTreeAt(nStageFd, pszStagedName);
        close(nStageFd);
    }
    else if (pszStagedDir != NULL)
        VSIRmdirRecursive(pszStagedDir);
    CPLFree(pszStageVia);
    CPLFree(pszStageRun);
    CPLFree(pszStagedDir);
    CPLFree(pszTaskVia);
    CPLFree(pszWriteName);
    CPLFree(pszWriteDir);
    CPLFree(pszTempDir);
    CPLFree(pszWriteTo);
    return bOk;
}

/* A TASK's source siblings, when the supervisor knows them (see
 * BWPlanItem): GDAL then neither lists nor probes the directory. */
static char **SiblingsOf(const BWMessage *psTask)
{
    return BWMessageGetAll(psTask, "SIBLING");
}

/* dfWaited: how long the worker waited, once the task had come, for the
 * prefetch of its source before starting it (see AddConcurrencySample). */
static int ServeTask(BWWorker *psWorker, int fd, const BWMessage *psTask, double dfWaited,
                     char **ppszError)
{
    const char *pszId = BWMessageGet(psTask, "ID");
    const char *pszSource = BWMessageGet(psTask, "SRC");
    const char *pszOutput = BWMessageGet(psTask, "DST");
    const char *pszTemp = BWMessageGet(psTask, "TMP");
    const char *pszAttempt = BWMessageGet(psTask, "ATTEMPT");
    const char *pszThreads = BWMessageGet(psTask, "THREADS");
    const char *pszStaged = BWMessageGet(psTask, "STAGE");
    const char *pszSize = BWMessageGet(psTask, "SIZE");
    psWorker->nSourceSize = pszSize ? CPLAtoGIntBig(pszSize) : 0;
    CSLDestroy(psWorker->papszOldSiblings);
    psWorker->papszOldSiblings = BWMessageGetAll(psTask, "OLDSIBLING");
    psWorker->bKeep = BWMessageGet(psTask, "KEEP") != NULL;
    /* The temporary directories the supervisor made: the output's and the
     * staging one's (see RunTask). */
    const char *const apszTempId[4] = {
        BWMessageGet(psTask, "TMPDIR_DEV"), BWMessageGet(psTask, "TMPDIR_INO"),
        BWMessageGet(psTask, "STAGEDIR_DEV"), BWMessageGet(psTask, "STAGEDIR_INO")};
    char **papszSiblings = SiblingsOf(psTask);

    BWTaskLogClear(&psWorker->sLog);
    CPLErrorReset();
    CPLFree(BWFifoGuardTake()); /* none left from before this task */
    const double dfStart = BWMonotonicSeconds();
    const double dfCPUStart = BWProcessCPUSeconds();
    const double dfRunQueueStart = BWRunQueueSeconds();
    int bOk = FALSE;
    char **papszFiles = NULL;
    if (pszId == NULL || pszSource == NULL || pszOutput == NULL || pszTemp == NULL)
        CPLError(CE_Failure, CPLE_AppDefined, "malformed task message");
    else
    {
        /* On an object store, a request dropped or cut short in transit is
         * tried again (GDAL 3.6 retries neither, and reads the short data);
         * GDAL's debug messages are what tells it apart from a bad file. */
        const int bNetwork = BWIsNetworkPath(pszSource) || BWIsNetworkPath(pszOutput);
        const int bWatch = bNetwork && CPLGetConfigOption("CPL_DEBUG", NULL) == NULL;
        if (bWatch)
        {
            CPLSetConfigOption("CPL_DEBUG", BW_NETWORK_DEBUG_CATEGORIES);
            psWorker->sLog.bQuietDebug = TRUE;
        }
        const int nTries = bNetwork ? BW_TRANSPORT_TRIES : 1;
        double dfDelay = 0.5;
        for (int iTry = 1;; ++iTry)
        {
            bOk = RunTask(psWorker, pszSource, papszSiblings, pszOutput, pszTemp, pszStaged,
                          apszTempId, pszAttempt ? atoi(pszAttempt) : 1,
                          pszThreads ? atoi(pszThreads) : 1, &papszFiles);
            if (!bOk && psWorker->sLog.pszRefusal != NULL)
            {
                /* Asking again gets the same answer: the task fails with
                 * it, first in the report, naming the source. */
                char *pszWhy = BWStrPrintf("%s: the object store refused a request: %s", pszSource,
                                           psWorker->sLog.pszRefusal);
                psWorker->sLog.papszErrors = CSLInsertString(psWorker->sLog.papszErrors, 0, pszWhy);
                CPLFree(pszWhy);
                break;
            }
            if (bOk || psWorker->sLog.pszTransport == NULL || iTry == nTries)
            {
                if (!bOk && psWorker->sLog.pszTransport != NULL)
                {
                    /* First in the report: the reason, naming the source. */
                    char *pszWhy = BWStrPrintf(
                        "%s: a request to the object store failed in transit (%s), on each "
                        "of %d tries: the reply was dropped or cut short, so nothing read "
                        "from it can be trusted",
                        pszSource, psWorker->sLog.pszTransport, iTry);
                    psWorker->sLog.papszErrors =
                        CSLInsertString(psWorker->sLog.papszErrors, 0, pszWhy);
                    CPLFree(pszWhy);
                }
                break;
            }
            CPLDebug("BATCHWARP", "%s: %s; trying again", pszSource, psWorker->sLog.pszTransport);
            BWTaskLogClear(&psWorker->sLog);
            CSLDestroy(papszFiles);
            papszFiles = NULL;
            /* Nothing cached from the failed try may be read again. */
            VSICurlClearCache();
            CPLSleep(dfDelay);
            dfDelay *= 2;
        }
        if (bWatch)
        {
            CPLSetConfigOption("CPL_DEBUG", NULL);
            psWorker->sLog.bQuietDebug = FALSE;
        }
    }

    /* A FIFO opened before the warp (the source's own open failed). */
    if (!TakeFifoError())
        bOk = FALSE;
    CSLDestroy(papszSiblings);
    char **papszReply = NULL;
    papszReply = CSLAddNameValue(papszReply, "ID", pszId ? pszId : "");
    papszReply = CSLAddNameValue(papszReply, "OK", bOk ? "1" : "0");
    papszReply =
        CSLAddNameValue(papszReply, "SECONDS", CPLSPrintf("%.6f", BWMonotonicSeconds() - dfStart));
    papszReply = CSLAddNameValue(papszReply, "RSS_KB", CPLSPrintf("%ld", ResidentKB()));
    /* What the task did with its wall time, for the pool's concurrency. */
    papszReply = CSLAddNameValue(papszReply, "CPU_SECONDS",
                                 CPLSPrintf("%.6f", BWProcessCPUSeconds() - dfCPUStart));
    papszReply = CSLAddNameValue(papszReply, "RUNQUEUE_SECONDS",
                                 CPLSPrintf("%.6f", BWRunQueueSeconds() - dfRunQueueStart));
    papszReply = CSLAddNameValue(papszReply, "WAITED_SECONDS", CPLSPrintf("%.6f", dfWaited));
    if (bOk && psWorker->pszTaskDir != NULL)
        papszReply = CSLAddNameValue(papszReply, "TASKDIR", psWorker->pszTaskDir);
    for (char **papszIter = papszFiles; papszIter && *papszIter; ++papszIter)
        papszReply = CSLAddNameValue(papszReply, "FILE", *papszIter);
    CSLDestroy(papszFiles);
    for (char **papszIter = psWorker->papszStale; bOk && papszIter && *papszIter; ++papszIter)
        papszReply = CSLAddNameValue(papszReply, "STALE", *papszIter);
    CSLDestroy(psWorker->papszStale);
    psWorker->papszStale = NULL;
    CSLDestroy(psWorker->papszOldSiblings);
    psWorker->papszOldSiblings = NULL;
    for (char **papszIter = psWorker->sLog.papszErrors; papszIter && *papszIter; ++papszIter)
        papszReply = CSLAddNameValue(papszReply, "ERROR", *papszIter);
    for (char **papszIter = psWorker->sLog.papszMessages; papszIter && *papszIter; ++papszIter)
        papszReply = CSLAddNameValue(papszReply, "MESSAGE", *papszIter);
    BWTaskLogClear(&psWorker->sLog);
    const int bSent = BWMessageWrite(fd, BW_MSG_RESULT, papszReply, ppszError);
    CSLDestroy(papszReply);
    return bSent;
}

int GDALBatchWarpWorkerMain(int fd)
{
    /* The supervisor decides how an interrupted batch ends; a terminal's
     * Ctrl-C reaches the whole process group, so workers leave it alone. */
    signal(SIGINT, SIG_IGN);
    /* Likewise SIGTERM sent to the whole process group (kill -TERM -PGID,
     * a service manager stopping the run): the supervisor stops the workers
     * itself, and they die with it. */
    signal(SIGTERM, SIG_IGN);
    /* Past a file-size limit, a write must fail with EFBIG (and GDAL report
     * it) rather than kill the worker. */
    signal(SIGXFSZ, SIG_IGN);
    /* Never outlive the supervisor, even in the middle of a long warp. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* A supervisor gone before that: the parent is no longer the process
     * that made the channel. (Not "parent is pid 1": a supervisor can be
     * pid 1 itself, in a container or a PID namespace of its own.) */
    struct ucred sCred;
    socklen_t nCredLen = sizeof(sCred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &sCred, &nCredLen) == 0 ? getppid() != sCred.pid
                                                                        : getppid() == 1)
        return 1;
    BWFaultWorkerStarted();

    BWWorker sWorker;
    memset(&sWorker, 0, sizeof(sWorker));
    CPLSetErrorHandlerEx(BWTaskLogHandler, &sWorker.sLog);
    BWFifoGuardStart(); /* see BWFifoGuardStart */

    BWFrameDecoder *psDecoder = BWFrameDecoderNew();
    int nExit = 0;
    int bInitDone = FALSE;
    BWLookahead sAhead;
    memset(&sAhead, 0, sizeof(sAhead));
    CPLJoinableThread *hAhead = NULL; /* reading the next message: see BWLookahead */
    for (;;)
    {
        BWMessage sMsg = {0, NULL};
        char *pszError = NULL;
        int nRet;
        double dfWaited = 0;
        if (hAhead != NULL)
        {
            const double dfJoin = BWMonotonicSeconds();
            const double dfCPUJoin = BWProcessCPUSeconds();
            const double dfQueueJoin = BWRunQueueSeconds();
            CPLJoinThread(hAhead);
            hAhead = NULL;
            sMsg = sAhead.sMsg;
            nRet = sAhead.nRet;
            pszError = sAhead.pszError;
            /* Only the wait on the store counts: not a wait for the
             * supervisor to send a task, nor the prefetch's own CPU (this
             * thread is blocked, so the process's CPU is the prefetch's),
             * nor either thread's wait for a core, which a loaded machine
             * would otherwise turn into "I/O" and a larger pool. It errs
             * towards not growing. */
            const double dfFrom = dfJoin > sAhead.dfReceived ? dfJoin : sAhead.dfReceived;
            dfWaited = BWMonotonicSeconds() - dfFrom - (BWProcessCPUSeconds() - dfCPUJoin) -
                       (BWRunQueueSeconds() - dfQueueJoin) - sAhead.dfQueued;
            if (dfWaited < 0)
                dfWaited = 0;
        }
        else
            nRet = BWMessageRead(fd, psDecoder, &sMsg, &pszError);
        if (nRet <= 0)
        {
            /* End of stream is the normal way a worker is let go. */
            if (nRet < 0)
            {
                fprintf(stderr, "gdal_batchwarp_worker: %s\n", pszError);
                nExit = 1;
            }
            CPLFree(pszError);
            break;
        }
        int bContinue = TRUE;
        if (sMsg.eType == BW_MSG_INIT && !bInitDone)
        {
            ApplyInit(&sWorker, &sMsg);
            bInitDone = TRUE;
            /* GDAL is set up: the supervisor may count on a quick start. */
            bContinue = BWMessageWrite(fd, BW_MSG_READY, NULL, &pszError);
        }
        else if (sMsg.eType == BW_MSG_TASK && bInitDone)
        {
            const char *pszSource = BWMessageGet(&sMsg, "SRC");
            if (pszSource != NULL && BWIsNetworkPath(pszSource) &&
                CPLTestBool(CPLGetConfigOption("BATCHWARP_PREFETCH", "YES")))
            {
                memset(&sAhead, 0, sizeof(sAhead));
                sAhead.fd = fd;
                sAhead.psDecoder = psDecoder;
                hAhead = CPLCreateJoinableThread(BWLookaheadThread, &sAhead);
            }
            bContinue = ServeTask(&sWorker, fd, &sMsg, dfWaited, &pszError);
        }
        else if (sMsg.eType == BW_MSG_QUIT)
            bContinue = FALSE;
        else
        {
            pszError = CPLStrdup("unexpected message from supervisor");
            bContinue = FALSE;
        }
        BWMessageClear(&sMsg);
        if (!bContinue && pszError != NULL)
        {
            fprintf(stderr, "gdal_batchwarp_worker: %s\n", pszError);
            nExit = 1;
        }
        CPLFree(pszError);
        if (!bContinue)
            break;
    }
    if (hAhead != NULL)
    {
        /* Wakes its read: the worker is leaving. */
        shutdown(fd, SHUT_RD);
        CPLJoinThread(hAhead);
        BWMessageClear(&sAhead.sMsg);
        CPLFree(sAhead.pszError);
    }
    BWFifoGuardStop();
    BWFrameDecoderFree(psDecoder);
    if (sWorker.psWarpOptions)
        GDALWarpAppOptionsFree(sWorker.psWarpOptions);
    if (sWorker.psWarpOptionsTail)
        GDALWarpAppOptionsFree(sWorker.psWarpOptionsTail);
    CSLDestroy(sWorker.papszWarpArgs);
    CSLDestroy(sWorker.papszOpenOptions);
    CSLDestroy(sWorker.papszInputDrivers);
    CPLFree(sWorker.pszInitError);
    for (int i = 0; i < sWorker.nTaskDirs; ++i)
        CPLFree(sWorker.apszTaskDirs[i]);
    BWTaskLogClear(&sWorker.sLog);
    CPLSetErrorHandler(NULL);
    GDALDestroyDriverManager();
    return nExit;
}
