#include "batchwarp_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <cpl_vsi_error.h>
#include <gdal.h>

#include "batchwarp_fault_hooks.h"
#include "batchwarp_store_reply.h"
#include "batchwarp_temp.h"
#include "batchwarp_util.h"

static int OpenOutDir(const char *pszOutDir);
static int OpenTempDir(int nOutFd, const char *pszOutDir, const char *pszTempDir);

static void DiscardByPath(const char *pszTemp)
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

void BWDiscardTemp(const char *pszTemp)
{
    char *pszTempDir = BWPathDir(pszTemp);
    char *pszOutDir = BWPathDir(pszTempDir);
    if (STARTS_WITH(pszTemp, "/vsi") || BWOutputDirFd(pszOutDir) < 0)
        DiscardByPath(pszTemp);
    else
    {
        /* In an output directory kept open for the run (see
         * BWOpenOutputDir): reached from its descriptor, never through its
         * path, which may have been swapped for a link since. The driver
         * deletes through /proc/self/fd, which names that very directory. */
        const int nOutFd = OpenOutDir(pszOutDir);
        const int nTmpFd = nOutFd >= 0 ? OpenTempDir(nOutFd, pszOutDir, pszTempDir) : -1;
        if (nTmpFd >= 0)
        {
            const char *pszName = BWPathName(pszTemp);
            char *pszViaFd = BWPathThroughFd(nTmpFd);
            if (pszViaFd != NULL)
            {
                /* A copy: GDAL reuses CPLFormFilename's buffer. */
                char *pszPath = CPLStrdup(CPLFormFilename(pszViaFd, pszName, NULL));
                DiscardByPath(pszPath);
                CPLFree(pszPath);
            }
            else
            {
                unlinkat(nTmpFd, pszName, 0);
                unlinkat(nTmpFd, CPLSPrintf("%s.aux.xml", pszName), 0);
            }
            CPLFree(pszViaFd);
            close(nTmpFd);
        }
        if (nOutFd >= 0)
            close(nOutFd);
    }
    CPLFree(pszTempDir);
    CPLFree(pszOutDir);
}

void BWDiscardWorkerTaskDirs(const char *pszTemp, int nPid)
{
    char *pszTempDir = BWPathDir(pszTemp);
    char *pszOutDir = BWPathDir(pszTempDir);
    if (!STARTS_WITH(pszTemp, "/vsi") && BWOutputDirFd(pszOutDir) >= 0)
    {
        const int nOutFd = OpenOutDir(pszOutDir);
        const int nTmpFd = nOutFd >= 0 ? OpenTempDir(nOutFd, pszOutDir, pszTempDir) : -1;
        char szPrefix[64];
        snprintf(szPrefix, sizeof(szPrefix), BW_TASK_DIR_PREFIX "w%d-", nPid);
        char **papszNames = NULL;
        if (nTmpFd >= 0)
            BWListDirAt(nTmpFd, &papszNames);
        for (char **papszIter = papszNames; papszIter && *papszIter; ++papszIter)
        {
            if (STARTS_WITH(*papszIter, szPrefix))
                BWRemoveTreeAt(nTmpFd, *papszIter);
        }
        CSLDestroy(papszNames);
        if (nTmpFd >= 0)
            close(nTmpFd);
        if (nOutFd >= 0)
            close(nOutFd);
    }
    CPLFree(pszTempDir);
    CPLFree(pszOutDir);
}

/* What stands at a final name may be replaced only if it is a regular file
 * (or nothing): rename() then swaps it atomically, and never follows a link.
 * Anything else (a directory, a link someone planted, a device) is not ours
 * to replace, and a driver delete there could reach far beyond it. Without
 * -overwrite (bKeep), the output was not there when the batch was planned:
 * a main file there now is someone else's (kept), and so is a sidecar of
 * another user. The entry pszName of the directory nDirFd (-1: pszPath,
 * under /vsi); pszPath names it in messages. */
static int CheckReplaceable(int nDirFd, const char *pszName, const char *pszPath, int bKeep,
                            int bMain)
{
    if (nDirFd < 0)
        return TRUE;
    struct stat sStat;
    if (fstatat(nDirFd, pszName, &sStat, AT_SYMLINK_NOFOLLOW) != 0)
    {
        /* A name too long to be a file holds none: the .aux.xml of an
         * output whose name is near NAME_MAX, which gdalwarp does without. */
        if (errno == ENOENT || errno == ENAMETOOLONG)
            return TRUE;
        CPLError(CE_Failure, CPLE_FileIO, "Cannot replace '%s': %s", pszPath, VSIStrerror(errno));
        return FALSE;
    }
    if (S_ISREG(sStat.st_mode) && bKeep && bMain)
    {
        CPLError(CE_Failure, CPLE_FileIO,
                 "'%s' appeared during the run (it was not there when the batch was planned): "
                 "without -overwrite gdal_batchwarp replaces nothing, and left it as it was.",
                 pszPath);
        return FALSE;
    }
    if (S_ISREG(sStat.st_mode) && bKeep && sStat.st_uid != geteuid())
    {
        CPLError(CE_Failure, CPLE_FileIO,
                 "'%s' belongs to another user (uid %ld): without -overwrite gdal_batchwarp "
                 "neither replaces nor removes it, nor puts an output beside it, and left it as it "
                 "was.",
                 pszPath, (long)sStat.st_uid);
        return FALSE;
    }
    if (S_ISREG(sStat.st_mode))
        return TRUE;
    CPLError(CE_Failure, CPLE_FileIO,
             "'%s' exists and is %s, not a regular file: gdal_batchwarp replaces only regular "
             "files, and left it as it was.",
             pszPath,
             S_ISLNK(sStat.st_mode)   ? "a symbolic link"
             : S_ISDIR(sStat.st_mode) ? "a directory"
                                      : "a special file");
    return FALSE;
}

/* Sidecars that GDAL attaches to a dataset by name: those of an earlier
 * output that the new one lacks must not attach to it. Only regular files
 * are unlinked (unlink never follows a link anyway). */
const char *const BWOutputSidecarSuffixes[] = {".aux.xml", ".ovr", ".msk", NULL};

/* Whether those the new output lacks can all go (see RemoveStaleSidecars):
 * a link or a directory there would attach to the output as well. */
static int CheckStaleSidecars(int nDirFd, const char *pszOutput, CSLConstList papszNewNames,
                              int bKeep)
{
    int bOk = TRUE;
    for (int i = 0; BWOutputSidecarSuffixes[i] != NULL && nDirFd >= 0 && bOk; ++i)
    {
        char *pszName =
            CPLStrdup(CPLSPrintf("%s%s", BWPathName(pszOutput), BWOutputSidecarSuffixes[i]));
        if (CSLFindStringCaseSensitive(papszNewNames, pszName) < 0)
        {
            char *pszDir = BWPathDir(pszOutput);
            bOk = CheckReplaceable(nDirFd, pszName, CPLFormFilename(pszDir, pszName, NULL), bKeep,
                                   FALSE);
            CPLFree(pszDir);
        }
        CPLFree(pszName);
    }
    return bOk;
}

static void RemoveStaleSidecars(int nDirFd, const char *pszOutput, CSLConstList papszNewNames)
{
    for (int i = 0; BWOutputSidecarSuffixes[i] != NULL && nDirFd >= 0; ++i)
    {
        const char *pszName = CPLSPrintf("%s%s", BWPathName(pszOutput), BWOutputSidecarSuffixes[i]);
        if (CSLFindStringCaseSensitive(papszNewNames, pszName) >= 0)
            continue;
        struct stat sStat;
        if (fstatat(nDirFd, pszName, &sStat, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sStat.st_mode))
            unlinkat(nDirFd, pszName, 0);
    }
}

/* The files of an earlier output (papszStale, the worker's STALE names, and
 * the sidecar names of BWOutputSidecarSuffixes) that the new one (papszNew) lacks
 * and that are ours to remove: removed, or with bOnlyCount only counted. */
static int RemoveStaleAt(int nOutFd, const char *pszOutput, CSLConstList papszStale,
                         CSLConstList papszNew, int bOnlyCount)
{
    int nFound = 0;
    for (CSLConstList papszIter = papszStale; nOutFd >= 0 && papszIter && *papszIter; ++papszIter)
    {
        struct stat sStat;
        if (strchr(*papszIter, '/') == NULL &&
            CSLFindStringCaseSensitive(papszNew, *papszIter) < 0 &&
            fstatat(nOutFd, *papszIter, &sStat, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(sStat.st_mode) && sStat.st_uid == geteuid())
            nFound += bOnlyCount || unlinkat(nOutFd, *papszIter, 0) == 0;
    }
    for (int i = 0; pszOutput != NULL && BWOutputSidecarSuffixes[i] != NULL && nOutFd >= 0; ++i)
    {
        const char *pszName = CPLSPrintf("%s%s", BWPathName(pszOutput), BWOutputSidecarSuffixes[i]);
        struct stat sStat;
        if (CSLFindStringCaseSensitive(papszNew, pszName) < 0 &&
            fstatat(nOutFd, pszName, &sStat, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sStat.st_mode))
            nFound += bOnlyCount || unlinkat(nOutFd, pszName, 0) == 0;
    }
    return nFound;
}

void BWRemoveStaleFiles(const char *pszOutput, CSLConstList papszStale, CSLConstList papszNew)
{
    if (papszStale == NULL || STARTS_WITH(pszOutput, "/vsi"))
        return;
    char *pszOutDir = BWPathDir(pszOutput);
    const int nOutFd = OpenOutDir(pszOutDir);
    RemoveStaleAt(nOutFd, NULL, papszStale, papszNew, FALSE);
    if (nOutFd >= 0)
        close(nOutFd);
    CPLFree(pszOutDir);
}

/* The earlier main file, set aside while a dataset of several files
 * replaces it (see PublishFrom): in the temporary namespace, which no
 * output's file can enter. */
#define BW_EARLIER_MAIN BW_TEMP_PREFIX "earlier"

/* One file into place: without -overwrite (bKeep), the main file never over
 * one that appeared since the check (RENAME_NOREPLACE; a file system
 * without it has had the check). */
static int RenameInto(int nTmpFd, int nOutFd, const char *pszFrom, const char *pszName,
                      int bNoReplace)
{
    if (bNoReplace)
    {
        const int nRet = renameat2(nTmpFd, pszFrom, nOutFd, pszName, RENAME_NOREPLACE);
        if (nRet == 0 || (errno != EINVAL && errno != ENOSYS))
            return nRet;
    }
    return renameat(nTmpFd, pszFrom, nOutFd, pszName);
}

int BWPublishOutput(const char *pszTemp, const char *pszOutput)
{
    /* Without the worker's list: the main file and its PAM sidecar. */
    char **papszFiles = CSLAddString(NULL, BWPathName(pszTemp));
    VSIStatBufL sStat;
    if (VSIStatL(CPLSPrintf("%s.aux.xml", pszTemp), &sStat) == 0)
        papszFiles = CSLAddString(papszFiles, CPLSPrintf("%s.aux.xml", BWPathName(pszTemp)));
    const int bOk = BWPublishOutputFiles(pszTemp, pszOutput, papszFiles);
    CSLDestroy(papszFiles);
    return bOk;
}

/* Opens a local output directory for publishing: the descriptor this run
 * keeps for it (BWOpenOutputDir: reached without following a link below
 * -outdir), else by its path. */
static int OpenOutDir(const char *pszOutDir)
{
    const int nKept = BWOutputDirFd(pszOutDir);
    if (nKept >= 0)
        return fcntl(nKept, F_DUPFD_CLOEXEC, 0);
    return open(pszOutDir[0] ? pszOutDir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The temporary directory, our own entry in the output directory nOutFd:
 * opened from it without following a link, and only if it is the very
 * directory this run made (else -1 with errno ESTALE): in an output
 * directory others can rename entries of, a directory of anyone's may have
 * been put at its name, whose files are not ours to publish or delete. */
static int OpenTempDir(int nOutFd, const char *pszOutDir, const char *pszTempDir)
{
    char *pszParent = BWPathDir(pszTempDir);
    const int bChild = strcmp(pszParent, pszOutDir) == 0;
    CPLFree(pszParent);
    const int nFd =
        bChild ? openat(nOutFd, BWPathName(pszTempDir),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
               : open(pszTempDir[0] ? pszTempDir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (nFd >= 0 && !BWIsTempDirMade(nFd, pszTempDir))
    {
        close(nFd);
        errno = ESTALE;
        return -1;
    }
    return nFd;
}

/* Files published in this run (their final paths), by BWPublishTaskOutput:
 * a file of two outputs is not replaced by the second. */
static CPLHashSet *psPublished = NULL;

/* BWPublishOutputFiles, from the directory pszSubdir (NULL: none) of the
 * temporary directory. */
static int PublishFrom(const char *pszTemp, const char *pszSubdir, const char *pszOutput,
                       CSLConstList papszFiles, CSLConstList papszStale, int bKeep)
{
    if (papszFiles == NULL || papszFiles[0] == NULL)
        return BWPublishOutput(pszTemp, pszOutput);
    char *pszTempDir = BWPathDir(pszTemp);
    char *pszOutDir = BWPathDir(pszOutput);
    const char *pszMain = BWPathName(pszTemp);
    int bOk = TRUE;
    /* Local outputs: one renameat() per file, from the temporary directory's
     * descriptor into the output directory's, so that no path is resolved
     * again (a directory swapped for a link is never followed). */
    const int bLocal = !STARTS_WITH(pszOutput, "/vsi") && !STARTS_WITH(pszTemp, "/vsi");
    int nOutFd = -1;
    int nTmpFd = -1;
    if (bLocal)
    {
        nOutFd = OpenOutDir(pszOutDir);
        if (nOutFd < 0)
            CPLError(CE_Failure, CPLE_FileIO, "Cannot open output directory '%s': %s", pszOutDir,
                     VSIStrerror(errno));
        else if ((nTmpFd = OpenTempDir(nOutFd, pszOutDir, pszTempDir)) < 0 && errno == ESTALE)
            CPLError(CE_Failure, CPLE_FileIO,
                     "Temporary directory '%s' was moved or replaced during the run: nothing was "
                     "published from it.",
                     pszTempDir);
        else if (nTmpFd < 0)
            CPLError(CE_Failure, CPLE_FileIO, "Cannot open temporary directory '%s': %s",
                     pszTempDir, VSIStrerror(errno));
        bOk = nOutFd >= 0 && nTmpFd >= 0 && BWOutputDirInPlace(pszOutDir);
    }
    /* The files are in the task's own directory in it (local outputs). */
    int nSrcFd = nTmpFd;
    if (bOk && pszSubdir != NULL &&
        (nSrcFd = openat(nTmpFd, pszSubdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    {
        CPLError(CE_Failure, CPLE_FileIO, "Cannot open temporary directory '%s/%s': %s", pszTempDir,
                 pszSubdir, VSIStrerror(errno));
        bOk = FALSE;
    }
    /* Nothing at a final name is touched unless every one can be replaced:
     * a failed task leaves the earlier output as it was. */
    for (CSLConstList papszIter = papszFiles; *papszIter && bOk; ++papszIter)
    {
        if (strchr(*papszIter, '/') == NULL)
            bOk = CheckReplaceable(nOutFd, *papszIter, CPLFormFilename(pszOutDir, *papszIter, NULL),
                                   bKeep, strcmp(*papszIter, pszMain) == 0);
    }
    if (bOk)
        bOk = CheckStaleSidecars(nOutFd, pszOutput, papszFiles, bKeep);
    /* Replacing an earlier dataset (-overwrite) with one of several files:
     * its main file goes aside first, into the task's own directory under
     * a name no output can have, so that neither a reader nor a run killed
     * in between finds it with the new sidecars (ENVI's earlier raw data
     * read with the new header, which a rerun then kept as done). It comes
     * back if publishing fails; if the run dies, it goes with the run's
     * temporary directory, and the output, missing, is written by a rerun. */
    /* The same when the earlier dataset has files the new one lacks (an
     * .ovr, an .aux.xml, a PNG's .wld): they are removed before the new main
     * file comes, never found with it (GDAL would take them as its own). */
    const int bStale =
        bOk && bLocal && !bKeep && RemoveStaleAt(nOutFd, pszOutput, papszStale, papszFiles, TRUE);
    int bAside = FALSE;
    struct stat sEarlier;
    if (bOk && bLocal && !bKeep && (CSLCount(papszFiles) > 1 || bStale) &&
        fstatat(nOutFd, pszMain, &sEarlier, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sEarlier.st_mode))
    {
        bAside = renameat(nOutFd, pszMain, nSrcFd, BW_EARLIER_MAIN) == 0;
        if (!bAside)
        {
            CPLError(CE_Failure, CPLE_FileIO, "Cannot move the earlier '%s' aside: %s",
                     CPLFormFilename(pszOutDir, pszMain, NULL), VSIStrerror(errno));
            bOk = FALSE;
        }
    }
    /* Two passes: sidecars, then the main file, so that a reader never
     * finds the dataset without them. */
    for (int nPass = 0; nPass < 2 && bOk; ++nPass)
    {
        if (nPass == 1 && bStale)
            RemoveStaleAt(nOutFd, pszOutput, papszStale, papszFiles, FALSE);
        if (nPass == 1)
            BWFaultBeforeMainFile(pszMain);
        for (CSLConstList papszIter = papszFiles; *papszIter && bOk; ++papszIter)
        {
            const int bIsMain = strcmp(*papszIter, pszMain) == 0;
            if (bIsMain != (nPass == 1) || strchr(*papszIter, '/') != NULL)
                continue;
            char *pszFrom = CPLStrdup(CPLFormFilename(pszTempDir, *papszIter, NULL));
            char *pszTo = CPLStrdup(CPLFormFilename(pszOutDir, *papszIter, NULL));
            const int nRet =
                bLocal ? RenameInto(nSrcFd, nOutFd, *papszIter, *papszIter, bKeep && bIsMain)
                       : VSIRename(pszFrom, pszTo);
            if (nRet != 0 && errno == EEXIST && bLocal)
            {
                CPLError(CE_Failure, CPLE_FileIO,
                         "'%s' appeared during the run (it was not there when the batch was "
                         "planned): without -overwrite gdal_batchwarp replaces nothing, and left "
                         "it as it was.",
                         pszTo);
                bOk = FALSE;
            }
            else if (nRet != 0)
            {
                CPLError(CE_Failure, CPLE_FileIO, "Cannot move the new '%s' into place: %s", pszTo,
                         VSIStrerror(errno));
                bOk = FALSE;
            }
            CPLFree(pszFrom);
            CPLFree(pszTo);
        }
    }
    if (bOk)
        BWFaultAfterMainFile(pszMain);
    if (bAside && bOk)
        unlinkat(nSrcFd, BW_EARLIER_MAIN, 0);
    else if (bAside && RenameInto(nSrcFd, nOutFd, BW_EARLIER_MAIN, pszMain, TRUE) != 0)
        CPLError(CE_Failure, CPLE_FileIO,
                 "Cannot put the earlier '%s' back in place: %s (it was left in the run's "
                 "temporary directory, which is removed at the end of the run)",
                 CPLFormFilename(pszOutDir, pszMain, NULL), VSIStrerror(errno));
    if (bOk)
        RemoveStaleSidecars(nOutFd, pszOutput, papszFiles);
    if (nSrcFd >= 0 && nSrcFd != nTmpFd)
        close(nSrcFd);
    if (nTmpFd >= 0)
        close(nTmpFd);
    if (nOutFd >= 0)
        close(nOutFd);
    CPLFree(pszTempDir);
    CPLFree(pszOutDir);
    return bOk;
}

int BWPublishOutputFiles(const char *pszTemp, const char *pszOutput, CSLConstList papszFiles)
{
    return PublishFrom(pszTemp, NULL, pszOutput, papszFiles, NULL, FALSE);
}

int BWPublishTaskOutput(const char *pszTemp, const char *pszTaskDir, const char *pszOutput,
                        CSLConstList papszFiles, CSLConstList papszStale, int bKeep)
{
    if (psPublished == NULL)
        psPublished = CPLHashSetNew(CPLHashSetHashStr, CPLHashSetEqualStr, CPLFree);
    char *pszOutDir = BWPathDir(pszOutput);
    int bOk = TRUE;
    for (CSLConstList papszIter = papszFiles; papszIter && *papszIter && bOk; ++papszIter)
    {
        const char *pszPath = CPLFormFilename(pszOutDir, *papszIter, NULL);
        if (CPLHashSetLookup(psPublished, pszPath) != NULL)
        {
            CPLError(CE_Failure, CPLE_AppDefined,
                     "'%s', a file of %s, is also a file of another output of this batch, "
                     "published before: the two outputs' files share a name (the driver names "
                     "it after the output's name), and gdal_batchwarp does not replace one by "
                     "the other; give the outputs names whose files differ (-output_template)",
                     pszPath, pszOutput);
            bOk = FALSE;
        }
    }
    if (bOk)
        bOk = PublishFrom(pszTemp, pszTaskDir, pszOutput, papszFiles, papszStale, bKeep);
    for (CSLConstList papszIter = papszFiles; papszIter && *papszIter && bOk; ++papszIter)
        CPLHashSetInsert(psPublished, CPLStrdup(CPLFormFilename(pszOutDir, *papszIter, NULL)));
    /* Empty once published, and the worker's to use again (see its
     * TakeTaskDir); else what is left there goes at the end of the run. */
    CPLFree(pszOutDir);
    return bOk;
}

int BWOutputNeedsStaging(const char *pszOutput)
{
    if (CPLTestBool(CPLGetConfigOption("BATCHWARP_STAGE_OUTPUTS", "NO")))
        return TRUE;
    return STARTS_WITH(pszOutput, "/vsi") && !STARTS_WITH(pszOutput, "/vsimem/");
}

const char *BWStagingDir(void)
{
    const char *pszDir = CPLGetConfigOption("CPL_TMPDIR", NULL);
    if (pszDir == NULL)
        pszDir = CPLGetConfigOption("TMPDIR", "/tmp");
    return pszDir;
}

char *BWStagingPathFor(int nIndex, const char *pszOutput)
{
    const char *pszDir = BWTempDirOf(BWStagingDir());
    if (pszDir == NULL)
        return NULL;
    /* Under the output's own name, in a directory of the task's own: a
     * dataset names its files after its own name (an ISIS3 label its
     * ^Core), and all that directory holds is the output. */
    char *pszTaskDir = CPLStrdup(CPLFormFilename(pszDir, CPLSPrintf("%d", nIndex), NULL));
    char *pszPath = CPLStrdup(CPLFormFilename(pszTaskDir, BWPathName(pszOutput), NULL));
    CPLFree(pszTaskDir);
    return pszPath;
}

/* Raises "<pszWhat> '<pszPath>': <why>": errno for local files; for network
 * file systems, which leave errno alone, the message GDAL kept
 * (VSIGetLastErrorMsg), if any (the store's own answer, when there was one,
 * is in GDAL's debug messages: see the worker's BWErrorLog). */
static void VSIFailure(const char *pszWhat, const char *pszPath, int nErrno)
{
    const char *pszMsg = VSIGetLastErrorMsg();
    if (nErrno != 0)
        CPLError(CE_Failure, CPLE_FileIO, "%s '%s': %s", pszWhat, pszPath, VSIStrerror(nErrno));
    else if (pszMsg != NULL && pszMsg[0] != '\0')
        CPLError(CE_Failure, CPLE_FileIO, "%s '%s': %s", pszWhat, pszPath, pszMsg);
    else
        CPLError(CE_Failure, CPLE_FileIO, "%s '%s'.", pszWhat, pszPath);
}

static int CopyFile(const char *pszFrom, const char *pszTo)
{
    VSIErrorReset();
    errno = 0;
    VSILFILE *fpIn = VSIFOpenL(pszFrom, "rb");
    if (fpIn == NULL)
    {
        VSIFailure("Cannot read staged file", pszFrom, errno);
        return FALSE;
    }
    errno = 0;
    VSILFILE *fpOut = VSIFOpenL(pszTo, "wb");
    if (fpOut == NULL)
    {
        const int nErr = errno;
        VSIFCloseL(fpIn);
        VSIFailure("Cannot create", pszTo, nErr);
        return FALSE;
    }
    const size_t nBufferSize = 1024 * 1024;
    GByte *pabyBuffer = CPLMalloc(nBufferSize);
    int bOk = TRUE;
    int nErr = 0;
    size_t nRead;
    errno = 0;
    while (bOk && (nRead = VSIFReadL(pabyBuffer, 1, nBufferSize, fpIn)) > 0)
    {
        bOk = VSIFWriteL(pabyBuffer, 1, nRead, fpOut) == nRead;
        nErr = errno;
    }
    CPLFree(pabyBuffer);
    VSIFCloseL(fpIn);
    /* Remote writers upload at close: its failure is the copy's failure. */
    errno = 0;
    if (VSIFCloseL(fpOut) != 0)
    {
        bOk = FALSE;
        if (nErr == 0)
            nErr = errno;
    }
    if (!bOk)
    {
        VSIFailure("Cannot write", pszTo, nErr);
        VSIUnlink(pszTo);
    }
    return bOk;
}

static void CPL_STDCALL DropMessage(CPLErr eClass, CPLErrorNum nNum, const char *pszMsg)
{
    (void)eClass;
    (void)nNum;
    (void)pszMsg;
}

/*
 * Without -overwrite the output was not on the object store when the batch
 * was planned: an object at its name now is another writer's (a second
 * batch, another tenant of the prefix), which an upload would replace
 * without a word. A store has no rename that keeps what is at the name
 * (RENAME_NOREPLACE on a local disk), so the name is looked up just before
 * the upload, which leaves the window of one request.
 * Asked of the store, not of this worker's cache, and by one request: an
 * open without the listing of the directory (VSIStatL would also list the
 * name as a directory when it is missing, the common case).
 */
static int CheckNotAppearedOnStore(const char *pszOutput)
{
    VSICurlPartialClearCache(pszOutput);
    char *pszReadDir =
        CPLStrdup(CPLGetThreadLocalConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", NULL));
    CPLSetThreadLocalConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "YES");
    /* Not even GDAL's debug messages of the expected 404 (CPLQuietErrorHandler
     * prints them when the worker turned CPL_DEBUG on to watch the store). */
    CPLPushErrorHandler(DropMessage);
    VSILFILE *fp = VSIFOpenL(pszOutput, "rb");
    CPLPopErrorHandler();
    CPLSetThreadLocalConfigOption("GDAL_DISABLE_READDIR_ON_OPEN",
                                  pszReadDir[0] != '\0' ? pszReadDir : NULL);
    CPLFree(pszReadDir);
    if (fp == NULL)
        return TRUE;
    VSIFCloseL(fp);
    CPLError(CE_Failure, CPLE_FileIO,
             "'%s' appeared during the run (it was not there when the batch was planned): "
             "without -overwrite gdal_batchwarp replaces nothing, and left it as it was.",
             pszOutput);
    return FALSE;
}

int BWPublishStagedOutput(const char *pszStaged, const char *pszOutput, const char *pszTemp,
                          int bEarlierMain, int bKeep, char ***ppapszPublished)
{
    /* A local destination gets the copies under their final names in this
     * run's temporary directory beside it, then renames (never a write
     * through whatever stands at the final name). */
    const int bLocal = !STARTS_WITH(pszOutput, "/vsi") && pszTemp != NULL;
    char **papszCopied = NULL;
    /* Every file of the directory the dataset was written in alone (see
     * BWStagingPathFor): a driver's own list misses some (MRF's data and
     * index, BT's .prj), and the main file last. */
    char *pszStagedDir = BWPathDir(pszStaged);
    char **papszNames = VSIReadDir(pszStagedDir);
    char **papszFiles = NULL;
    int bOk = TRUE;
    for (char **papszIter = papszNames; papszIter && *papszIter && bOk; ++papszIter)
    {
        VSIStatBufL sStat;
        const char *pszPath = CPLFormFilename(pszStagedDir, *papszIter, NULL);
        if (strcmp(*papszIter, ".") == 0 || strcmp(*papszIter, "..") == 0 ||
            strcmp(*papszIter, BWPathName(pszStaged)) == 0)
            continue;
        if (VSIStatL(pszPath, &sStat) != 0 || !VSI_ISREG(sStat.st_mode))
        {
            CPLError(CE_Failure, CPLE_NotSupported,
                     "The output driver wrote '%s' beside %s, which is not a regular file: "
                     "gdal_batchwarp publishes outputs made of files only; choose a form of the "
                     "format written as files",
                     *papszIter, pszOutput);
            bOk = FALSE;
        }
        else
            papszFiles = CSLAddString(papszFiles, pszPath);
    }
    /* A driver may write none at the name it was given, as gdalwarp has it
     * write and succeed (ILWIS: a multi-band x.mpr is x.mpl and
     * x_band_N.mpr). */
    VSIStatBufL sMain;
    if (VSIStatL(pszStaged, &sMain) == 0)
        papszFiles = CSLAddString(papszFiles, pszStaged);
    else if (bOk && papszFiles == NULL)
    {
        CPLError(CE_Failure, CPLE_AppDefined, "The output driver wrote no file for %s", pszOutput);
        bOk = FALSE;
    }
    CSLDestroy(papszNames);
    CPLFree(pszStagedDir);
    char *pszOutDir = BWPathDir(pszOutput);
    char *pszTempDir = pszTemp ? BWPathDir(pszTemp) : NULL;
    /* An object store replaces no two objects at once: the earlier main
     * file goes first (as gdalwarp -overwrite deletes the earlier dataset),
     * so that it is never found with the new sidecars. */
    if (bOk && !bLocal && bEarlierMain && CSLCount(papszFiles) > 1 && VSIUnlink(pszOutput) != 0)
    {
        CPLError(CE_Failure, CPLE_FileIO,
                 "Cannot remove the earlier '%s' before its files are replaced: %s", pszOutput,
                 VSIStrerror(errno));
        bOk = FALSE;
    }
    /* Before the sidecars (which would go beside another writer's main
     * file) and again before the main file itself. */
    if (bOk && !bLocal && bKeep && CSLCount(papszFiles) > 1)
        bOk = CheckNotAppearedOnStore(pszOutput);
    /* The main file last, so that a reader never finds it without its
     * sidecars. */
    for (int i = 0; bOk && papszFiles && papszFiles[i]; ++i)
    {
        const char *pszTargetName = BWPathName(papszFiles[i]);
        if (!bLocal && papszFiles[i + 1] == NULL)
            BWFaultBeforeMainFile(pszTargetName);
        if (!bLocal && bKeep && papszFiles[i + 1] == NULL &&
            strcmp(pszTargetName, BWPathName(pszOutput)) == 0 &&
            !CheckNotAppearedOnStore(pszOutput))
        {
            bOk = FALSE;
            break;
        }
        papszCopied = CSLAddString(papszCopied, pszTargetName);
        char *pszTarget =
            CPLStrdup(CPLFormFilename(bLocal ? pszTempDir : pszOutDir, pszTargetName, NULL));
        bOk = CopyFile(papszFiles[i], pszTarget);
        CPLFree(pszTarget);
    }
    if (bLocal)
    {
        if (bOk)
            bOk = BWPublishOutputFiles(pszTemp, pszOutput, papszCopied);
        if (!bOk)
        {
            for (char **papszIter = papszCopied; papszIter && *papszIter; ++papszIter)
                VSIUnlink(CPLFormFilename(pszTempDir, *papszIter, NULL));
        }
    }
    if (bOk && ppapszPublished != NULL)
        *ppapszPublished = papszCopied;
    else
        CSLDestroy(papszCopied);
    CSLDestroy(papszFiles);
    CPLFree(pszOutDir);
    CPLFree(pszTempDir);
    return bOk;
}

/* VSIMkdirRecursive() of GDAL 3.6 fails on relative paths: give it an
 * absolute one. */
static int MakeDirectories(const char *pszDir)
{
    if (STARTS_WITH(pszDir, "/vsi") || !CPLIsFilenameRelative(pszDir))
        return VSIMkdirRecursive(pszDir, 0755) == 0;
    char *pszCwd = CPLGetCurrentDir();
    if (pszCwd == NULL)
        return FALSE;
    char *pszAbsolute = CPLStrdup(CPLFormFilename(pszCwd, pszDir, NULL));
    const int bOk = VSIMkdirRecursive(pszAbsolute, 0755) == 0;
    CPLFree(pszAbsolute);
    CPLFree(pszCwd);
    return bOk;
}

/* Makes pszDir and its missing parents. FALSE, with *ppszError naming it
 * and why: errno for a local directory; for one on a network file system,
 * which leaves errno alone, what the store answered (a bucket that does not
 * exist, access denied), caught from GDAL's messages. */
static int MakeOutputDir(const char *pszDir, char **ppszError)
{
    BWStoreCapture *psCapture = STARTS_WITH(pszDir, "/vsi") ? BWStoreCaptureBegin() : NULL;
    errno = 0;
    const int bOk = VSIMkdir(pszDir, 0755) == 0 || MakeDirectories(pszDir);
    const int nErr = errno;
    char *pszReason = psCapture ? BWStoreCaptureEnd(psCapture) : NULL;
    if (!bOk)
        *ppszError = CPLStrdup(CPLSPrintf("Cannot create output directory '%s': %s", pszDir,
                                          pszReason ? pszReason
                                          : nErr    ? VSIStrerror(nErr)
                                                    : "no reason given"));
    CPLFree(pszReason);
    return bOk;
}

int BWPrepareOutDir(const char *pszOutDir, char **ppszError)
{
    VSIStatBufL sStat;
    if (VSIStatL(pszOutDir, &sStat) == 0)
    {
        if (!VSI_ISDIR(sStat.st_mode))
        {
            *ppszError = CPLStrdup(
                CPLSPrintf("Output directory '%s' exists and is not a directory.", pszOutDir));
            return FALSE;
        }
    }
    else if (!MakeOutputDir(pszOutDir, ppszError))
        return FALSE;
    if (!STARTS_WITH(pszOutDir, "/vsi") && access(pszOutDir, W_OK | X_OK) != 0)
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("Output directory '%s' is not writable: %s", pszOutDir, VSIStrerror(errno)));
        return FALSE;
    }
    /* The one the batch was planned with, reached through no other user's
     * link (see BWPinOutDir). */
    return BWPinOutDir(pszOutDir, ppszError);
}

/* Calls pfnEach once for each directory that receives outputs (and the
 * staging directory, if remote outputs use it). */
static int ForEachOutputDir(const BWPlan *psPlan, int (*pfnEach)(const char *, char **),
                            char **ppszError)
{
    CPLHashSet *psDone = CPLHashSetNew(CPLHashSetHashStr, CPLHashSetEqualStr, CPLFree);
    int bOk = TRUE;
    for (int i = 0; i < psPlan->nItems && bOk; ++i)
    {
        const BWPlanItem *psItem = &psPlan->pasItems[i];
        for (int k = 0; k < 2 && bOk; ++k)
        {
            char *pszDirCopy = k == 0 ? BWPathDir(psItem->pszOutput)
                               : BWOutputNeedsStaging(psItem->pszOutput) ? CPLStrdup(BWStagingDir())
                                                                         : NULL;
            if (pszDirCopy == NULL || CPLHashSetLookup(psDone, pszDirCopy) != NULL)
            {
                CPLFree(pszDirCopy);
                continue;
            }
            CPLHashSetInsert(psDone, pszDirCopy);
            bOk = pfnEach(pszDirCopy, ppszError);
        }
    }
    CPLHashSetDestroy(psDone);
    return bOk;
}

/* Output directories below -outdir ({relpath} in the output template) are
 * made before any work; in each, the temporary directories of killed runs
 * go, and this run's is made. */
static const char *pszPreparedOutDir = NULL; /* -outdir, for PrepareOneDir */

static int PrepareOneDir(const char *pszDir, char **ppszError)
{
    /* Below -outdir: walked without following a link, made with mkdirat,
     * and kept open for the run (see BWOpenOutputDir). */
    const int nOpened = STARTS_WITH(pszDir, "/vsi") || pszPreparedOutDir == NULL
                            ? 2
                            : BWOpenOutputDir(pszPreparedOutDir, pszDir, ppszError);
    if (nOpened == 0)
        return FALSE;
    VSIStatBufL sStat;
    if (nOpened == 2 && VSIStatL(pszDir, &sStat) != 0 && !MakeOutputDir(pszDir, ppszError))
        return FALSE;
    BWRemoveStaleTemps(pszDir);
    if (!BWMakeTempDir(pszDir))
    {
        *ppszError = CPLStrdup(CPLSPrintf("Cannot create a temporary directory in '%s': %s", pszDir,
                                          VSIStrerror(errno)));
        return FALSE;
    }
    return TRUE;
}

static int CleanOneDir(const char *pszDir, char **ppszError)
{
    (void)ppszError;
    BWRemoveTempDir(pszDir);
    BWCloseOutputDir(pszDir);
    return TRUE;
}

/* Descriptors beyond the output directories': the workers' channels and
 * pidfds (two each), the report, publishing (two directories and a file),
 * GDAL's own. */
#define BW_DESCRIPTOR_RESERVE 1024
static int nOutputDirs = 0; /* counted by CountOneDir */

static int CountOneDir(const char *pszDir, char **ppszError)
{
    (void)pszDir;
    (void)ppszError;
    ++nOutputDirs;
    return TRUE;
}

int BWPrepareOutputDirs(const BWPlan *psPlan, const char *pszOutDir, char **ppszError)
{
    if (psPublished != NULL)
        CPLHashSetDestroy(psPublished);
    psPublished = NULL;
    /* Each output directory keeps three descriptors for the run (its own,
     * its temporary directory's and that one's lock): a -recursive tree of
     * a few hundred directories (tiles by z/x) passed the usual soft limit
     * of 1024, and the batch failed ('Too many open files') where gdalwarp
     * does each file. The soft limit goes up to what they need, with room
     * for the workers' channels and publishing, as the hard limit allows. */
    nOutputDirs = 0;
    ForEachOutputDir(psPlan, CountOneDir, NULL);
    BWRaiseDescriptorLimit(3L * nOutputDirs + BW_DESCRIPTOR_RESERVE);
    pszPreparedOutDir = pszOutDir;
    const int bOk = ForEachOutputDir(psPlan, PrepareOneDir, ppszError);
    pszPreparedOutDir = NULL;
    return bOk;
}

void BWCleanOutputDirs(const BWPlan *psPlan)
{
    if (psPublished != NULL)
        CPLHashSetDestroy(psPublished);
    psPublished = NULL;
    ForEachOutputDir(psPlan, CleanOneDir, NULL);
}
