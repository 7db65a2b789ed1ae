#include "batchwarp_temp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "batchwarp_util.h"

/* What the marker file holds: enough to tell it from a file that merely has
 * its name. */
#define BW_MARKER_TEXT "gdal_batchwarp temporary directory\n"
/* Deeper trees than this are not ours (a run's temporary directory holds
 * outputs and at most a dataset directory or two). */
#define BW_MAX_REMOVE_DEPTH 32
#define BW_MAX_NAME_TRIES 64

typedef struct
{
    char *pszDir;  /* as given to BWMakeTempDir */
    char *pszPath; /* pszDir/.batchwarp-tmp-<random> */
    int nLockFd;   /* the marker, flock()ed for the run; -1 under /vsi */
    int nDirFd;    /* the directory made, open for the run; -1 under /vsi */
    dev_t nDev;    /* the directory made (local only), which workers check */
    ino_t nIno;
} BWTempEntry;

static BWTempEntry *pasTemps = NULL;
static int nTemps = 0;

int BWIsTempName(const char *pszName)
{
    return STARTS_WITH(pszName, BW_TEMP_PREFIX);
}

int BWPathEntersTempNamespace(const char *pszPath)
{
    for (const char *p = pszPath; *p;)
    {
        if (BWIsTempName(p))
            return TRUE;
        const char *pszSlash = strchr(p, '/');
        if (pszSlash == NULL)
            break;
        p = pszSlash + 1;
    }
    return FALSE;
}

static int IsLocal(const char *pszDir)
{
    return !STARTS_WITH(pszDir, "/vsi");
}

/* 128 random bits in hex; FALSE if the system has no randomness to give. */
static int RandomTag(char *pszOut, size_t nSize)
{
    unsigned char abyBytes[16];
    size_t nGot = 0;
    while (nGot < sizeof(abyBytes))
    {
        const ssize_t n = getrandom(abyBytes + nGot, sizeof(abyBytes) - nGot, 0);
        if (n < 0)
        {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        nGot += (size_t)n;
    }
    if (nSize < 2 * sizeof(abyBytes) + 1)
        return FALSE;
    for (size_t i = 0; i < sizeof(abyBytes); ++i)
        snprintf(pszOut + 2 * i, 3, "%02x", abyBytes[i]);
    return TRUE;
}

typedef struct
{
    char *pszDir;    /* as given to BWOpenOutputDir */
    char *pszOutDir; /* the -outdir it is below */
    int nFd;
} BWOutputDirEntry;

static BWOutputDirEntry *pasOutDirs = NULL;
static int nOutDirs = 0;

int BWOutputDirFd(const char *pszDir)
{
    for (int i = 0; i < nOutDirs; ++i)
    {
        if (strcmp(pasOutDirs[i].pszDir, pszDir) == 0)
            return pasOutDirs[i].nFd;
    }
    return -1;
}

void BWCloseOutputDir(const char *pszDir)
{
    for (int i = 0; i < nOutDirs; ++i)
    {
        if (strcmp(pasOutDirs[i].pszDir, pszDir) != 0)
            continue;
        close(pasOutDirs[i].nFd);
        CPLFree(pasOutDirs[i].pszDir);
        CPLFree(pasOutDirs[i].pszOutDir);
        pasOutDirs[i] = pasOutDirs[--nOutDirs];
        if (nOutDirs == 0)
        {
            CPLFree(pasOutDirs);
            pasOutDirs = NULL;
        }
        return;
    }
}

/* The directory pszDir: the descriptor kept for it if it is an output
 * directory (see BWOpenOutputDir), else opened by its path. */
static int OpenDirectory(const char *pszDir)
{
    const int nKept = BWOutputDirFd(pszDir);
    if (nKept >= 0)
        return fcntl(nKept, F_DUPFD_CLOEXEC, 0);
    return open(pszDir[0] ? pszDir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* pszPath's components below pszOutDir (CSLDestroy them); NULL with
 * *pbBelow FALSE when pszPath is neither pszOutDir nor below it. */
static char **ComponentsBelow(const char *pszOutDir, const char *pszPath, int *pbBelow)
{
    size_t nLen = strlen(pszOutDir);
    while (nLen > 1 && pszOutDir[nLen - 1] == '/')
        --nLen;
    *pbBelow = FALSE;
    if (nLen == 0 || strncmp(pszPath, pszOutDir, nLen) != 0 ||
        (pszPath[nLen] != '/' && pszPath[nLen] != '\0' && pszOutDir[nLen - 1] != '/'))
        return NULL;
    *pbBelow = TRUE;
    return CSLTokenizeString2(pszPath + nLen, "/", 0);
}

/* pszOutDir/<the first n components>, for messages (valid until the next
 * call; the supervisor's planning and preparing thread only). */
static const char *PathOf(const char *pszOutDir, char **papszParts, int n)
{
    static char *pszPath = NULL;
    CPLFree(pszPath);
    pszPath = CPLStrdup(pszOutDir);
    for (int i = 0; i < n; ++i)
    {
        const size_t nLen = strlen(pszPath);
        const int bSlash = nLen > 0 && pszPath[nLen - 1] == '/';
        char *pszJoined =
            CPLStrdup(CPLSPrintf("%s%s%s", pszPath, bSlash ? "" : "/", papszParts[i]));
        CPLFree(pszPath);
        pszPath = pszJoined;
    }
    return pszPath;
}

static const char *KindOf(mode_t nMode)
{
    return S_ISLNK(nMode)   ? "a symbolic link"
           : S_ISREG(nMode) ? "a regular file"
           : S_ISDIR(nMode) ? "a directory"
                            : "a special file";
}

/* Whether the directory nFd (the component n of papszParts) may receive
 * outputs: a directory of our own uid. */
static int CheckOwnDirectory(int nFd, const char *pszOutDir, char **papszParts, int n,
                             char **ppszError)
{
    struct stat sStat;
    if (fstat(nFd, &sStat) != 0)
    {
        const int nErr = errno;
        *ppszError = CPLStrdup(CPLSPrintf("Cannot examine output directory '%s': %s",
                                          PathOf(pszOutDir, papszParts, n), VSIStrerror(nErr)));
        return FALSE;
    }
    if (sStat.st_uid != geteuid())
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Output directory '%s' belongs to another user (uid %ld): gdal_batchwarp writes only "
            "into directories of its own below -outdir. Remove it or choose another -outdir.",
            PathOf(pszOutDir, papszParts, n), (long)sStat.st_uid));
        return FALSE;
    }
    return TRUE;
}

/* The message for a component below -outdir that is not a directory. */
static char *NotADirectory(const char *pszOutDir, char **papszParts, int n, mode_t nMode)
{
    return CPLStrdup(
        CPLSPrintf("'%s' below -outdir is %s, not a directory: gdal_batchwarp follows no link "
                   "and replaces nothing there to make an output directory. Remove it or choose "
                   "another -outdir.",
                   PathOf(pszOutDir, papszParts, n), KindOf(nMode)));
}

int BWStatBelowOutDir(const char *pszOutDir, const char *pszPath, struct stat *psStat,
                      char **ppszError)
{
    const int nOutDirFd = open(pszOutDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int nRet = BWStatBelowOutDirFd(nOutDirFd, pszOutDir, pszPath, psStat, ppszError);
    if (nOutDirFd >= 0)
        close(nOutDirFd);
    return nRet;
}

int BWStatBelowOutDirFd(int nOutDirFd, const char *pszOutDir, const char *pszPath,
                        struct stat *psStat, char **ppszError)
{
    int bBelow = FALSE;
    char **papszParts = ComponentsBelow(pszOutDir, pszPath, &bBelow);
    if (!bBelow)
        return 2;
    /* Not there yet, or not usable: preparing -outdir says which. */
    int nFd = nOutDirFd; /* then each directory below it, closed once left */
    if (nFd < 0)
    {
        CSLDestroy(papszParts);
        return 1;
    }
    const int nParts = CSLCount(papszParts);
    int nRet = 1;
    if (nParts == 0)
    {
        nRet = fstat(nFd, psStat) == 0 ? 0 : 1;
        CSLDestroy(papszParts);
        return nRet;
    }
    for (int i = 0; i < nParts; ++i)
    {
        struct stat sStat;
        if (fstatat(nFd, papszParts[i], &sStat, AT_SYMLINK_NOFOLLOW) != 0)
        {
            const int nErr = errno;
            if (nErr == ENOENT)
                nRet = 1;
            else
            {
                *ppszError =
                    CPLStrdup(CPLSPrintf("Cannot examine '%s': %s",
                                         PathOf(pszOutDir, papszParts, i + 1), VSIStrerror(nErr)));
                nRet = -1;
            }
            break;
        }
        if (i == nParts - 1)
        {
            *psStat = sStat;
            nRet = 0;
            break;
        }
        if (!S_ISDIR(sStat.st_mode))
        {
            *ppszError = NotADirectory(pszOutDir, papszParts, i + 1, sStat.st_mode);
            nRet = -1;
            break;
        }
        const int nSubFd =
            openat(nFd, papszParts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nSubFd < 0)
        {
            const int nErr = errno;
            *ppszError =
                CPLStrdup(CPLSPrintf("Cannot open output directory '%s': %s",
                                     PathOf(pszOutDir, papszParts, i + 1), VSIStrerror(nErr)));
            nRet = -1;
            break;
        }
        if (nFd != nOutDirFd)
            close(nFd);
        nFd = nSubFd;
        if (!CheckOwnDirectory(nFd, pszOutDir, papszParts, i + 1, ppszError))
        {
            nRet = -1;
            break;
        }
    }
    if (nFd != nOutDirFd)
        close(nFd);
    CSLDestroy(papszParts);
    return nRet;
}

int BWOutputDirInPlace(const char *pszDir)
{
    const BWOutputDirEntry *psEntry = NULL;
    for (int i = 0; i < nOutDirs && psEntry == NULL; ++i)
    {
        if (strcmp(pasOutDirs[i].pszDir, pszDir) == 0)
            psEntry = &pasOutDirs[i];
    }
    if (psEntry == NULL)
        return TRUE;
    struct stat sKept;
    struct stat sFound;
    char *pszError = NULL;
    errno = 0;
    const int nFound = BWStatBelowOutDir(psEntry->pszOutDir, pszDir, &sFound, &pszError);
    const int nErr = errno;
    if (fstat(psEntry->nFd, &sKept) == 0 && nFound == 0 && S_ISDIR(sFound.st_mode) &&
        sFound.st_dev == sKept.st_dev && sFound.st_ino == sKept.st_ino)
        return TRUE;
    if (nFound != 0 && (nErr == EMFILE || nErr == ENFILE || nErr == ENOMEM))
    {
        /* Out of descriptors: the path could not be followed, which tells
         * nothing of the directory. */
        CPLError(CE_Failure, CPLE_FileIO, "Cannot check output directory '%s': %s", pszDir,
                 VSIStrerror(nErr));
        CPLFree(pszError);
        return FALSE;
    }
    CPLError(CE_Failure, CPLE_FileIO,
             "Output directory '%s' was moved or replaced during the run%s%s%s: nothing was "
             "published there, and nothing through it.",
             pszDir, nFound == 0 ? " (it is now " : "",
             nFound == 0 ? KindOf(sFound.st_mode) : (pszError ? ": " : ""),
             nFound == 0 ? ")" : (pszError ? pszError : ""));
    CPLFree(pszError);
    return FALSE;
}

/* -outdir as the batch was planned (BWPinOutDir): its path, and the
 * directory found there, if one was. */
static char *pszPinnedOutDir = NULL;
static int bPinnedExists = FALSE;
static dev_t nPinnedDev = 0;
static ino_t nPinnedIno = 0;

/* The symbolic links on the way to the absolute path pszAbs (and in their
 * targets) must be ours, root's or of the owner of the directory holding
 * them: a link another user put into a directory others can write to (a
 * world-writable one, as /tmp) may lead anywhere, and may have been put in
 * place of the directory meant (fs.protected_symlinks refuses such links in
 * sticky directories; gdal_batchwarp in every directory). */
static int CheckLinksOnPath(const char *pszAbs, const char *pszOption, const char *pszPath,
                            int nDepth, char **ppszError)
{
    char **papszParts = CSLTokenizeString2(pszAbs, "/", 0);
    char *pszPrefix = CPLStrdup("");
    int bOk = TRUE;
    for (int i = 0; papszParts != NULL && papszParts[i] != NULL && bOk; ++i)
    {
        char *pszNext = CPLStrdup(CPLSPrintf("%s/%s", pszPrefix, papszParts[i]));
        struct stat sLink;
        struct stat sDir;
        if (lstat(pszNext, &sLink) != 0)
        {
            CPLFree(pszNext);
            break; /* not there yet: made later, and then checked again */
        }
        if (S_ISLNK(sLink.st_mode) && sLink.st_uid != geteuid() && sLink.st_uid != 0 &&
            (stat(pszPrefix[0] ? pszPrefix : "/", &sDir) != 0 || sDir.st_uid != sLink.st_uid))
        {
            *ppszError = CPLStrdup(CPLSPrintf(
                "'%s' on the way to %s '%s' is a symbolic link of another user (uid %ld) in a "
                "directory that is not theirs: gdal_batchwarp does not follow it (it may have "
                "been put in place of the directory you mean). Name the directory itself.",
                pszNext, pszOption, pszPath, (long)sLink.st_uid));
            bOk = FALSE;
        }
        else if (S_ISLNK(sLink.st_mode) && nDepth < 16)
        {
            char szTarget[4096];
            const ssize_t nLen = readlink(pszNext, szTarget, sizeof(szTarget) - 1);
            if (nLen > 0)
            {
                szTarget[nLen] = '\0';
                char *pszTarget = CPLStrdup(
                    szTarget[0] == '/' ? szTarget : CPLSPrintf("%s/%s", pszPrefix, szTarget));
                bOk = CheckLinksOnPath(pszTarget, pszOption, pszPath, nDepth + 1, ppszError);
                CPLFree(pszTarget);
            }
        }
        CPLFree(pszPrefix);
        pszPrefix = pszNext;
    }
    CPLFree(pszPrefix);
    CSLDestroy(papszParts);
    return bOk;
}

int BWCheckLinksOnPath(const char *pszPath, const char *pszOption, char **ppszError)
{
    if (pszPath == NULL || STARTS_WITH(pszPath, "/vsi"))
        return TRUE;
    char *pszAbs = NULL;
    if (pszPath[0] == '/')
        pszAbs = CPLStrdup(pszPath);
    else
    {
        char *pszCwd = CPLGetCurrentDir();
        pszAbs = CPLStrdup(CPLFormFilename(pszCwd ? pszCwd : ".", pszPath, NULL));
        CPLFree(pszCwd);
    }
    const int bOk = CheckLinksOnPath(pszAbs, pszOption, pszPath, 0, ppszError);
    CPLFree(pszAbs);
    return bOk;
}

int BWPinOutDir(const char *pszOutDir, char **ppszError)
{
    if (pszOutDir == NULL || STARTS_WITH(pszOutDir, "/vsi"))
        return TRUE;
    struct stat sBefore;
    struct stat sAfter;
    const int bBefore = stat(pszOutDir, &sBefore) == 0;
    int bOk = BWCheckLinksOnPath(pszOutDir, "-outdir", ppszError);
    const int bAfter = stat(pszOutDir, &sAfter) == 0;
    const int bSame = pszPinnedOutDir != NULL && strcmp(pszPinnedOutDir, pszOutDir) == 0;
    if (bOk && (bBefore != bAfter ||
                (bAfter && (sBefore.st_dev != sAfter.st_dev || sBefore.st_ino != sAfter.st_ino))))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Output directory '%s' was moved or replaced while it was being checked.", pszOutDir));
        bOk = FALSE;
    }
    else if (bOk && bSame && bPinnedExists &&
             (!bAfter || sAfter.st_dev != nPinnedDev || sAfter.st_ino != nPinnedIno))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Output directory '%s' was moved or replaced since the batch was planned: nothing "
            "was written there.",
            pszOutDir));
        bOk = FALSE;
    }
    if (!bSame)
    {
        CPLFree(pszPinnedOutDir);
        pszPinnedOutDir = CPLStrdup(pszOutDir);
        bPinnedExists = FALSE;
    }
    if (bOk && bAfter && !bPinnedExists)
    {
        bPinnedExists = TRUE;
        nPinnedDev = sAfter.st_dev;
        nPinnedIno = sAfter.st_ino;
    }
    return bOk;
}

void BWUnpinOutDir(void)
{
    CPLFree(pszPinnedOutDir);
    pszPinnedOutDir = NULL;
    bPinnedExists = FALSE;
}

/* Whether the directory open as nFd is -outdir as pinned (TRUE if pszOutDir
 * was not pinned); else FALSE with *ppszError. */
static int IsPinnedOutDir(int nFd, const char *pszOutDir, char **ppszError)
{
    struct stat sStat;
    if (pszPinnedOutDir == NULL || !bPinnedExists || strcmp(pszPinnedOutDir, pszOutDir) != 0 ||
        (fstat(nFd, &sStat) == 0 && sStat.st_dev == nPinnedDev && sStat.st_ino == nPinnedIno))
        return TRUE;
    *ppszError = CPLStrdup(
        CPLSPrintf("Output directory '%s' was moved or replaced since the batch was planned: "
                   "nothing was written there.",
                   pszOutDir));
    return FALSE;
}

int BWOpenOutputDir(const char *pszOutDir, const char *pszDir, char **ppszError)
{
    if (BWOutputDirFd(pszDir) >= 0)
        return 1;
    int bBelow = FALSE;
    char **papszParts = ComponentsBelow(pszOutDir, pszDir, &bBelow);
    if (!bBelow)
        return 2;
    int nFd = open(pszOutDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (nFd < 0)
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot open output directory '%s': %s", pszOutDir, VSIStrerror(errno)));
        CSLDestroy(papszParts);
        return 0;
    }
    int bOk = IsPinnedOutDir(nFd, pszOutDir, ppszError);
    for (int i = 0; bOk && papszParts != NULL && papszParts[i] != NULL; ++i)
    {
        const int nFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int nSubFd = openat(nFd, papszParts[i], nFlags);
        if (nSubFd < 0 && errno == ENOENT)
        {
            /* Made here, or by someone else just now: either way opened
             * below without following a link, and its owner checked. */
            if (mkdirat(nFd, papszParts[i], 0755) != 0 && errno != EEXIST)
            {
                const int nErr = errno;
                *ppszError =
                    CPLStrdup(CPLSPrintf("Cannot create output directory '%s': %s",
                                         PathOf(pszOutDir, papszParts, i + 1), VSIStrerror(nErr)));
                bOk = FALSE;
                break;
            }
            nSubFd = openat(nFd, papszParts[i], nFlags);
        }
        if (nSubFd < 0)
        {
            const int nErr = errno;
            struct stat sStat;
            if (fstatat(nFd, papszParts[i], &sStat, AT_SYMLINK_NOFOLLOW) == 0 &&
                !S_ISDIR(sStat.st_mode))
                *ppszError = NotADirectory(pszOutDir, papszParts, i + 1, sStat.st_mode);
            else
                *ppszError =
                    CPLStrdup(CPLSPrintf("Cannot open output directory '%s': %s",
                                         PathOf(pszOutDir, papszParts, i + 1), VSIStrerror(nErr)));
            bOk = FALSE;
            break;
        }
        close(nFd);
        nFd = nSubFd;
        bOk = CheckOwnDirectory(nFd, pszOutDir, papszParts, i + 1, ppszError);
    }
    CSLDestroy(papszParts);
    if (!bOk)
    {
        close(nFd);
        return 0;
    }
    pasOutDirs = CPLRealloc(pasOutDirs, sizeof(BWOutputDirEntry) * (size_t)(nOutDirs + 1));
    pasOutDirs[nOutDirs].pszDir = CPLStrdup(pszDir);
    pasOutDirs[nOutDirs].pszOutDir = CPLStrdup(pszOutDir);
    pasOutDirs[nOutDirs].nFd = nFd;
    ++nOutDirs;
    return 1;
}

/* In the directory nDirFd (just made by us, mode 0700): the marker, locked
 * before it gets its name, so that no other run ever sees it unlocked while
 * we live. Returns the locked descriptor, or -1. */
static int MakeMarker(int nDirFd)
{
    static const char szPending[] = ".batchwarp-owner-pending";
    const int fd =
        openat(nDirFd, szPending, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    const size_t nLen = strlen(BW_MARKER_TEXT);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || write(fd, BW_MARKER_TEXT, nLen) != (ssize_t)nLen ||
        renameat(nDirFd, szPending, nDirFd, BW_TEMP_MARKER) != 0)
    {
        const int nErr = errno;
        unlinkat(nDirFd, szPending, 0);
        close(fd);
        errno = nErr;
        return -1;
    }
    return fd;
}

static int RemoveDirIfSame(int nParentFd, const char *pszName, int nFd);

/* Makes a new local temporary directory in pszDir; its path and lock. */
static int MakeLocal(const char *pszDir, char **ppszPath, int *pnLockFd, int *pnDirFd,
                     struct stat *psMade)
{
    const int nParentFd = OpenDirectory(pszDir);
    if (nParentFd < 0)
        return FALSE;
    int bOk = FALSE;
    for (int nTry = 0; nTry < BW_MAX_NAME_TRIES && !bOk; ++nTry)
    {
        char szTag[64];
        if (!RandomTag(szTag, sizeof(szTag)))
            break;
        char szName[128];
        snprintf(szName, sizeof(szName), BW_TEMP_PREFIX "%s", szTag);
        if (mkdirat(nParentFd, szName, 0700) != 0)
        {
            if (errno == EEXIST)
                continue; /* someone has that name: never reuse it */
            break;
        }
        /* The entry we made, not whatever may have replaced it since. */
        const int nDirFd =
            openat(nParentFd, szName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sStat;
        if (nDirFd < 0 && errno != ELOOP && errno != ENOTDIR && errno != ENOENT)
        {
            /* Not that someone removed or replaced the directory (another
             * name is drawn then), but out of descriptors (ulimit -n), say:
             * the empty directory just made goes, as nothing could prove it
             * stale later (no marker), and no other name would fare better.
             * Only an empty directory of ours, never through a link. */
            const int nErr = errno;
            if (fstatat(nParentFd, szName, &sStat, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISDIR(sStat.st_mode) && sStat.st_uid == geteuid())
                unlinkat(nParentFd, szName, AT_REMOVEDIR);
            errno = nErr;
            break;
        }
        if (nDirFd < 0 || fstat(nDirFd, &sStat) != 0 || sStat.st_uid != geteuid())
        {
            if (nDirFd >= 0)
                close(nDirFd);
            continue;
        }
        const int nLockFd = MakeMarker(nDirFd);
        const int nErr = errno;
        if (nLockFd < 0)
        {
            /* Left empty by MakeMarker: removed while it is the one still
             * open, which needs no other descriptor (out of them, as here
             * with a low ulimit -n, BWRemoveTreeAt cannot walk it). */
            if (RemoveDirIfSame(nParentFd, szName, nDirFd) != 0)
                BWRemoveTreeAt(nParentFd, szName);
            close(nDirFd);
            errno = nErr;
            break;
        }
        *ppszPath = CPLStrdup(CPLFormFilename(pszDir, szName, NULL));
        *pnLockFd = nLockFd;
        *pnDirFd = nDirFd;
        *psMade = sStat;
        bOk = TRUE;
    }
    const int nErr = errno;
    close(nParentFd);
    errno = nErr;
    return bOk;
}

/* Under /vsi (an object store) there are neither links nor other users'
 * processes to fear in the same way, nor locks, and nothing is written in
 * a temporary directory: outputs are staged locally, then uploaded to their
 * final names (see BWPublishStagedOutput). A random name only, never made:
 * a directory object made there was left on the store by a run killed, and
 * no later run could prove it stale. */
static int MakeVSI(const char *pszDir, char **ppszPath)
{
    char szTag[64];
    if (!RandomTag(szTag, sizeof(szTag)))
        return FALSE;
    const char *pszPath = CPLFormFilename(pszDir, BW_TEMP_PREFIX, NULL);
    *ppszPath = CPLStrdup(CPLSPrintf("%s%s", pszPath, szTag));
    return TRUE;
}

static BWTempEntry *FindEntry(const char *pszDir)
{
    for (int i = 0; i < nTemps; ++i)
    {
        if (strcmp(pasTemps[i].pszDir, pszDir) == 0)
            return &pasTemps[i];
    }
    return NULL;
}

int BWMakeTempDir(const char *pszDir)
{
    if (FindEntry(pszDir) != NULL)
        return TRUE;
    char *pszPath = NULL;
    int nLockFd = -1;
    int nDirFd = -1;
    struct stat sMade;
    memset(&sMade, 0, sizeof(sMade));
    if (!(IsLocal(pszDir) ? MakeLocal(pszDir, &pszPath, &nLockFd, &nDirFd, &sMade)
                          : MakeVSI(pszDir, &pszPath)))
        return FALSE;
    pasTemps = CPLRealloc(pasTemps, sizeof(BWTempEntry) * (size_t)(nTemps + 1));
    pasTemps[nTemps].pszDir = CPLStrdup(pszDir);
    pasTemps[nTemps].pszPath = pszPath;
    pasTemps[nTemps].nLockFd = nLockFd;
    pasTemps[nTemps].nDirFd = nDirFd;
    pasTemps[nTemps].nDev = sMade.st_dev;
    pasTemps[nTemps].nIno = sMade.st_ino;
    ++nTemps;
    return TRUE;
}

const char *BWTempDirOf(const char *pszDir)
{
    const BWTempEntry *psEntry = FindEntry(pszDir);
    return psEntry ? psEntry->pszPath : NULL;
}

int BWTempDirIdentity(const char *pszTempDir, dev_t *pnDev, ino_t *pnIno)
{
    for (int i = 0; i < nTemps; ++i)
    {
        if (pasTemps[i].nLockFd >= 0 && strcmp(pasTemps[i].pszPath, pszTempDir) == 0)
        {
            *pnDev = pasTemps[i].nDev;
            *pnIno = pasTemps[i].nIno;
            return TRUE;
        }
    }
    return FALSE;
}

int BWIsTempDirMade(int nFd, const char *pszTempDir)
{
    dev_t nDev;
    ino_t nIno;
    struct stat sStat;
    if (!BWTempDirIdentity(pszTempDir, &nDev, &nIno))
        return TRUE;
    return fstat(nFd, &sStat) == 0 && sStat.st_dev == nDev && sStat.st_ino == nIno;
}

char *BWTempPathFor(const char *pszOutput)
{
    char *pszDir = BWPathDir(pszOutput);
    const char *pszTempDir = BWTempDirOf(pszDir);
    CPLFree(pszDir);
    if (pszTempDir == NULL)
        return NULL;
    return CPLStrdup(CPLFormFilename(pszTempDir, BWPathName(pszOutput), NULL));
}

int BWListDirAt(int nDirFd, char ***ppapszNames)
{
    *ppapszNames = NULL;
    const int nListFd = dup(nDirFd);
    DIR *psDir = nListFd >= 0 ? fdopendir(nListFd) : NULL;
    if (psDir == NULL)
    {
        const int nErr = errno;
        if (nListFd >= 0)
            close(nListFd);
        errno = nErr;
        return -1;
    }
    struct dirent *psEnt;
    while ((psEnt = readdir(psDir)) != NULL)
    {
        if (strcmp(psEnt->d_name, ".") != 0 && strcmp(psEnt->d_name, "..") != 0)
            *ppapszNames = CSLAddString(*ppapszNames, psEnt->d_name);
    }
    rewinddir(psDir);
    closedir(psDir);
    return 0;
}

/* Removes what the directory nFd holds (not the directory itself), but for
 * the entry pszKeep (NULL: none) of nFd itself. */
static int RemoveContents(int nFd, dev_t nDev, int nDepth, const char *pszKeep)
{
    const int nListFd = dup(nFd);
    if (nListFd < 0)
        return -1;
    DIR *psDir = fdopendir(nListFd);
    if (psDir == NULL)
    {
        close(nListFd);
        return -1;
    }
    int nRet = 0;
    struct dirent *psEnt;
    /* Removing while listing: rewind and list again until nothing is left
     * to remove, as some file systems skip entries otherwise. */
    int bRemovedAny;
    do
    {
        bRemovedAny = FALSE;
        rewinddir(psDir);
        while ((psEnt = readdir(psDir)) != NULL)
        {
            if (strcmp(psEnt->d_name, ".") == 0 || strcmp(psEnt->d_name, "..") == 0 ||
                (pszKeep != NULL && strcmp(psEnt->d_name, pszKeep) == 0))
                continue;
            struct stat sStat;
            if (fstatat(nFd, psEnt->d_name, &sStat, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (S_ISDIR(sStat.st_mode))
            {
                if (sStat.st_dev != nDev || nDepth >= BW_MAX_REMOVE_DEPTH)
                {
                    nRet = -1; /* a mount point, or a tree that is not ours */
                    continue;
                }
                const int nSubFd =
                    openat(nFd, psEnt->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nSubFd < 0)
                {
                    nRet = -1;
                    continue;
                }
                if (RemoveContents(nSubFd, nDev, nDepth + 1, NULL) != 0)
                    nRet = -1;
                close(nSubFd);
                if (unlinkat(nFd, psEnt->d_name, AT_REMOVEDIR) == 0)
                    bRemovedAny = TRUE;
                else
                    nRet = -1;
            }
            else if (unlinkat(nFd, psEnt->d_name, 0) == 0)
                bRemovedAny = TRUE;
            else
                nRet = -1;
        }
    } while (bRemovedAny && nRet == 0);
    closedir(psDir);
    return nRet;
}

/* Removes the emptied directory pszName of nParentFd only if it is still
 * the one open as nFd: in a directory others can rename entries of, another
 * (empty) directory may have been put at its name. */
static int RemoveDirIfSame(int nParentFd, const char *pszName, int nFd)
{
    struct stat sOpen;
    struct stat sNow;
    if (fstat(nFd, &sOpen) != 0 || fstatat(nParentFd, pszName, &sNow, AT_SYMLINK_NOFOLLOW) != 0 ||
        sNow.st_dev != sOpen.st_dev || sNow.st_ino != sOpen.st_ino)
    {
        errno = EAGAIN;
        return -1;
    }
    return unlinkat(nParentFd, pszName, AT_REMOVEDIR);
}

/* Removes a run's temporary directory pszName of nParentFd, open as nFd
 * (nParentFd -1: only empties it). Its marker goes last: it stays while
 * anything else does (a mount inside), and comes back if the directory
 * itself cannot go (an immutable parent): a directory left without it is
 * one no later run can prove its own, and so would stay for good. Returns
 * 0, or -1 with errno. */
static int RemoveMarkedDir(int nParentFd, const char *pszName, int nFd)
{
    struct stat sStat;
    if (fstat(nFd, &sStat) != 0 || RemoveContents(nFd, sStat.st_dev, 0, BW_TEMP_MARKER) != 0 ||
        (unlinkat(nFd, BW_TEMP_MARKER, 0) != 0 && errno != ENOENT))
        return -1;
    if (nParentFd >= 0 && RemoveDirIfSame(nParentFd, pszName, nFd) == 0)
        return 0;
    const int nErr = nParentFd >= 0 ? errno : EBADF;
    /* Moved away or replaced (EAGAIN): no run looks for it where it went,
     * and it is left as empty as the run found it. */
    if (nErr != EAGAIN)
    {
        const int nMarkerFd = MakeMarker(nFd);
        if (nMarkerFd >= 0)
            close(nMarkerFd);
    }
    errno = nErr;
    return -1;
}

int BWRemoveTreeAt(int nDirFd, const char *pszName)
{
    struct stat sStat;
    if (fstatat(nDirFd, pszName, &sStat, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    if (!S_ISDIR(sStat.st_mode))
        return unlinkat(nDirFd, pszName, 0);
    const int nFd = openat(nDirFd, pszName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nFd < 0)
        return -1;
    struct stat sOpened;
    /* The directory that was looked at, not one swapped in since. */
    if (fstat(nFd, &sOpened) != 0 || sOpened.st_dev != sStat.st_dev ||
        sOpened.st_ino != sStat.st_ino)
    {
        close(nFd);
        errno = EAGAIN;
        return -1;
    }
    const int nRet = RemoveContents(nFd, sOpened.st_dev, 0, NULL) == 0
                         ? RemoveDirIfSame(nDirFd, pszName, nFd)
                         : -1;
    close(nFd);
    return nRet;
}

void BWRemoveInTempDir(const char *pszTempDir, const char *pszName)
{
    for (int i = 0; i < nTemps; ++i)
    {
        if (strcmp(pasTemps[i].pszPath, pszTempDir) == 0 && IsLocal(pasTemps[i].pszDir))
        {
            if (pasTemps[i].nDirFd >= 0)
                BWRemoveTreeAt(pasTemps[i].nDirFd, pszName);
            return;
        }
    }
    if (STARTS_WITH(pszTempDir, "/vsi"))
    {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        VSIRmdirRecursive(CPLFormFilename(pszTempDir, pszName, NULL));
        CPLPopErrorHandler();
        CPLErrorReset();
    }
}

void BWRemoveTempDir(const char *pszDir)
{
    BWTempEntry *psEntry = FindEntry(pszDir);
    if (psEntry == NULL)
        return;
    if (IsLocal(pszDir))
    {
        /* What the directory made holds, from the descriptor kept since: our
         * own files, wherever someone may have moved it. Its name is removed
         * only if it still names it: in a directory others can rename
         * entries of, a directory of anyone's may have been put there. */
        const int nParentFd = OpenDirectory(pszDir);
        const int nParentErr = errno;
        /* Without the parent, emptied all the same, and left marked. */
        const int nRet = RemoveMarkedDir(nParentFd, BWPathName(psEntry->pszPath), psEntry->nDirFd);
        if (nParentFd < 0)
            errno = nParentErr;
        if (nRet != 0 && errno == EAGAIN)
            CPLError(CE_Warning, CPLE_FileIO,
                     "Temporary directory '%s' was moved or replaced during the run: what "
                     "stands at its name was left as it is (the run's own files were "
                     "removed).",
                     psEntry->pszPath);
        else if (nRet != 0)
            CPLError(CE_Warning, CPLE_FileIO,
                     "Cannot remove temporary directory '%s': %s. It is left, marked as this "
                     "program's, for a later run writing to '%s' to remove.",
                     psEntry->pszPath, VSIStrerror(errno), pszDir[0] ? pszDir : ".");
        if (nParentFd >= 0)
            close(nParentFd);
        if (psEntry->nDirFd >= 0)
            close(psEntry->nDirFd);
        /* The lock goes last: until then, no other run may take it as
         * stale. */
        if (psEntry->nLockFd >= 0)
            close(psEntry->nLockFd);
    }
    CPLFree(psEntry->pszDir);
    CPLFree(psEntry->pszPath);
    *psEntry = pasTemps[--nTemps];
    if (nTemps == 0)
    {
        CPLFree(pasTemps);
        pasTemps = NULL;
    }
}

/* Whether the entry pszName of nParentFd is a temporary directory of a run
 * that is gone; if so, returns it open (and its marker's locked descriptor
 * in *pnLockFd), else -1. */
static int OpenStale(int nParentFd, const char *pszName, int *pnLockFd)
{
    struct stat sStat;
    if (fstatat(nParentFd, pszName, &sStat, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sStat.st_mode) ||
        sStat.st_uid != geteuid())
        return -1;
    const int nFd = openat(nParentFd, pszName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nFd < 0)
        return -1;
    struct stat sOpened;
    int nLockFd = -1;
    if (fstat(nFd, &sOpened) == 0 && sOpened.st_dev == sStat.st_dev &&
        sOpened.st_ino == sStat.st_ino && sOpened.st_uid == geteuid())
        nLockFd =
            openat(nFd, BW_TEMP_MARKER, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat sMarker;
    char szText[sizeof(BW_MARKER_TEXT)];
    const size_t nLen = strlen(BW_MARKER_TEXT);
    if (nLockFd >= 0 && fstat(nLockFd, &sMarker) == 0 && S_ISREG(sMarker.st_mode) &&
        sMarker.st_uid == geteuid() && read(nLockFd, szText, nLen) == (ssize_t)nLen &&
        memcmp(szText, BW_MARKER_TEXT, nLen) == 0 && flock(nLockFd, LOCK_EX | LOCK_NB) == 0)
    {
        *pnLockFd = nLockFd;
        return nFd;
    }
    if (nLockFd >= 0)
        close(nLockFd);
    close(nFd);
    return -1;
}

int BWRemoveStaleTemps(const char *pszDir)
{
    if (!IsLocal(pszDir))
        return 0;
    const int nParentFd = OpenDirectory(pszDir);
    if (nParentFd < 0)
        return 0;
    char **papszAll = NULL;
    if (BWListDirAt(nParentFd, &papszAll) != 0)
    {
        close(nParentFd);
        return 0;
    }
    char **papszNames = NULL;
    for (char **papszIter = papszAll; papszIter && *papszIter; ++papszIter)
    {
        if (BWIsTempName(*papszIter) && BWTempDirOf(pszDir) != NULL &&
            strcmp(BWPathName(BWTempDirOf(pszDir)), *papszIter) == 0)
            continue; /* this run's own */
        if (BWIsTempName(*papszIter))
            papszNames = CSLAddString(papszNames, *papszIter);
    }
    CSLDestroy(papszAll);
    int nRemoved = 0;
    for (char **papszIter = papszNames; papszIter && *papszIter; ++papszIter)
    {
        int nLockFd = -1;
        const int nFd = OpenStale(nParentFd, *papszIter, &nLockFd);
        if (nFd < 0)
            continue;
        if (RemoveMarkedDir(nParentFd, *papszIter, nFd) == 0)
            ++nRemoved;
        close(nFd);
        close(nLockFd);
    }
    CSLDestroy(papszNames);
    close(nParentFd);
    if (nRemoved > 0)
        CPLDebug("BATCHWARP", "removed %d temporary directories of earlier runs from %s", nRemoved,
                 pszDir);
    return nRemoved;
}
