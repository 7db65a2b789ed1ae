#include "batchwarp_report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

#include "batchwarp_report_reader.h"
#include "batchwarp_temp.h"
#include "batchwarp_utf8.h"
#include "batchwarp_util.h"

struct BWReport
{
    FILE *fp;
    int bOwnsFile;
    int bAppending; /* other runs may append to the same file */
    /* Its lock was held by another for longer than a run holds it (or the
     * file system has none): lines are written without it from then on. */
    int bLockGivenUp;
    char *pszPath;
    /* Written whole, then renamed over pszPath (BWReportOpenReplacing); a
     * file this run created, never anything else, as (device, inode). */
    char *pszTempPath;
    dev_t nTempDevice;
    ino_t nTempInode;
    /* Asked when a write waiting on a reader is interrupted by a signal:
     * TRUE gives the write up (BWReportSetStopCheck). */
    int (*pfnStopRequested)(void *);
    void *pStopData;
    int bGivenUp; /* a write was given up so: nothing more is written */
};

/* How long a run waits for the lock of a report it appends to before it
 * goes on without it: runs hold it for one write() or one look at the
 * report's end; whoever holds it longer (any user who can read the file can
 * flock() it) is no run of ours and does not stop this one. The config
 * option BATCHWARP_REPORT_LOCK_WAIT (seconds) sets it for tests. */
#define BW_REPORT_LOCK_WAIT_SECONDS 30

typedef enum
{
    BW_LOCK_TAKEN,
    BW_LOCK_TIMED_OUT,   /* held by another for longer than the wait */
    BW_LOCK_UNSUPPORTED, /* ENOLCK: a file system without locks */
    BW_LOCK_STOPPED      /* the batch is stopping: waited for no more */
} BWLockResult;

/* Whether the batch asks to stop (SIGINT, SIGTERM): the caller's check. */
static int StopRequested(int (*pfnStopRequested)(void *), void *pStopData)
{
    return pfnStopRequested != NULL && pfnStopRequested(pStopData);
}

/* flock()s fd (LOCK_SH or LOCK_EX), waiting up to the wait above, or until
 * the stop check says the batch stops; unlocked unless BW_LOCK_TAKEN. */
static BWLockResult LockReport(int fd, int nOperation, int (*pfnStopRequested)(void *),
                               void *pStopData)
{
    const double dfDeadline =
        BWMonotonicSeconds() +
        CPLAtof(CPLGetConfigOption("BATCHWARP_REPORT_LOCK_WAIT",
                                   CPLSPrintf("%d", BW_REPORT_LOCK_WAIT_SECONDS)));
    long nSleepMicros = 100;
    for (;;)
    {
        if (flock(fd, nOperation | LOCK_NB) == 0)
            return BW_LOCK_TAKEN;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return BW_LOCK_UNSUPPORTED;
        if (BWMonotonicSeconds() >= dfDeadline)
            return BW_LOCK_TIMED_OUT;
        if (StopRequested(pfnStopRequested, pStopData))
            return BW_LOCK_STOPPED;
        usleep((useconds_t)nSleepMicros);
        if (nSleepMicros < 20000)
            nSleepMicros *= 2;
    }
}

static const char *FileKind(mode_t nMode)
{
    return S_ISLNK(nMode)    ? "a symbolic link"
           : S_ISDIR(nMode)  ? "a directory"
           : S_ISFIFO(nMode) ? "a FIFO"
           : S_ISCHR(nMode)  ? "a character device"
           : S_ISBLK(nMode)  ? "a block device"
           : S_ISSOCK(nMode) ? "a socket"
                             : "not a regular file";
}

/* A stream the user named on purpose (a pipe such as bash's >(...) or a
 * FIFO a reader waits on, a terminal, a socket, often as /dev/stdout): it is
 * written as it comes, never truncated. */
static int IsStream(mode_t nMode)
{
    return S_ISFIFO(nMode) || S_ISCHR(nMode) || S_ISSOCK(nMode);
}

/* A character device a report may go to: a terminal (the console, /dev/tty,
 * a virtual terminal or a pseudo-terminal, as /dev/stdout often is),
 * /dev/null or /dev/full; not /dev/ptmx (5:2: each open makes a new
 * pseudo-terminal that nobody reads, and a write blocks once its buffer is
 * full) nor /dev/ttyprintk (5:3, the kernel's log). Told by its device
 * number alone: opening some devices acts (a watchdog arms, a tape rewinds
 * when closed), and root may write into others (/dev/mem, /dev/kmsg, a
 * flash chip) that are no place for text. */
static int IsTextDevice(dev_t nDevice)
{
    const unsigned nMajor = major(nDevice);
    const unsigned nMinor = minor(nDevice);
    return (nMajor == 1 && (nMinor == 3 || nMinor == 7)) || nMajor == 4 ||
           (nMajor == 5 && nMinor <= 1) || (nMajor >= 136 && nMajor <= 143);
}

/* Made by our own user or by root: another user cannot have planted it. */
static int IsOursOrRoots(const struct stat *psStat)
{
    return psStat->st_uid == geteuid() || psStat->st_uid == 0;
}

/* A link at the report's name is followed only if our own user or root made
 * it (/dev/stdout, /dev/fd/N, a link of the user's own), as the kernel's
 * fs.protected_symlinks does in a shared directory: one that another user
 * planted may lead anywhere. */
static int CheckLink(const struct stat *psLink, const char *pszPath, char **ppszError)
{
    if (IsOursOrRoots(psLink))
        return TRUE;
    *ppszError = CPLStrdup(CPLSPrintf(
        "Report '%s' exists and is a symbolic link of another user (uid %ld): gdal_batchwarp "
        "does not write a report through it and left it as it was. Remove it or choose another "
        "-report path.",
        pszPath, (long)psLink->st_uid));
    return FALSE;
}

/* Whether what stands at the report's name (reached through a link of ours,
 * see CheckLink), found as *psStat and (if a regular file) open as fd, may
 * be written: a regular file of our own user, empty or holding a report (our
 * records start with "source"), which is then written over; or a stream of
 * our own user or root's. Anything else is not ours to truncate. */
static int CheckExisting(int fd, const struct stat *psStat, const char *pszPath, char **ppszError)
{
    if (S_ISCHR(psStat->st_mode) && !IsTextDevice(psStat->st_rdev))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' is a character device (%u:%u) that is not a terminal, /dev/null or "
            "/dev/full: gdal_batchwarp writes no report into it and left it as it was. Choose "
            "another -report path, or use -report - for standard output.",
            pszPath, (unsigned)major(psStat->st_rdev), (unsigned)minor(psStat->st_rdev)));
        return FALSE;
    }
    if (IsStream(psStat->st_mode) && IsOursOrRoots(psStat))
        return TRUE;
    if (IsStream(psStat->st_mode))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' exists and is %s of another user (uid %ld): gdal_batchwarp does not "
            "write a report into it and left it as it was. Remove it or choose another -report "
            "path.",
            pszPath, FileKind(psStat->st_mode), (long)psStat->st_uid));
        return FALSE;
    }
    if (!S_ISREG(psStat->st_mode))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' exists and is %s: gdal_batchwarp writes a report only into a regular "
            "file of its own or a stream, and left it as it was. Remove it, choose another "
            "-report path, or use -report - for standard output.",
            pszPath, FileKind(psStat->st_mode)));
        return FALSE;
    }
    if (psStat->st_uid != geteuid())
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' belongs to another user (uid %ld): gdal_batchwarp writes no report into "
            "a file of another user and left it as it was. Remove it or choose another -report "
            "path.",
            pszPath, (long)psStat->st_uid));
        return FALSE;
    }
    /* Another name of the same file may be anywhere (a link made where
     * fs.protected_hardlinks is off, to a report of root's elsewhere). */
    if (psStat->st_nlink > 1)
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' has %ld other hard links: gdal_batchwarp writes a report only into a "
            "file that has no other name, and left it as it was. Remove it or choose another "
            "-report path.",
            pszPath, (long)psStat->st_nlink - 1));
        return FALSE;
    }
    if (psStat->st_size == 0)
        return TRUE;
    static const char szStart[] = "{\"source\":";
    char szHead[64];
    const ssize_t nRead = pread(fd, szHead, sizeof(szHead) - 1, 0);
    szHead[nRead > 0 ? nRead : 0] = '\0';
    const char *pszFirst = szHead + strspn(szHead, " \t\r\n");
    /* An empty or blank file is fine (a report of nothing to do). */
    const int bBlank = pszFirst[0] == '\0' && psStat->st_size < (off_t)sizeof(szHead);
    if (!bBlank && strncmp(pszFirst, szStart, strlen(szStart)) != 0)
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' exists and is not a report of gdal_batchwarp: it was left as it was. "
            "Remove it or choose another -report path.",
            pszPath));
        return FALSE;
    }
    return TRUE;
}

/* What stands at pszPath, through a link that CheckLink allows: *psStat, and
 * *pbLink whether pszPath is such a link. FALSE if there is nothing there
 * (or nothing behind the link), and with *ppszError set if the link is
 * another user's. */
static int StatReportPath(const char *pszPath, struct stat *psStat, int *pbLink, char **ppszError)
{
    *pbLink = FALSE;
    if (lstat(pszPath, psStat) != 0)
        return FALSE;
    if (!S_ISLNK(psStat->st_mode))
        return TRUE;
    *pbLink = TRUE;
    return CheckLink(psStat, pszPath, ppszError) && stat(pszPath, psStat) == 0;
}

/* The directories on the way to the report: through no link another user
 * put in a directory not theirs (see BWCheckLinksOnPath). */
static int CheckReportDir(const char *pszPath, char **ppszError)
{
    char *pszDir = BWPathDir(pszPath);
    const int bOk = pszDir[0] == '\0' || BWCheckLinksOnPath(pszDir, "-report", ppszError);
    CPLFree(pszDir);
    return bOk;
}

int BWReportDescriptorNamed(const char *pszPath)
{
    if (strcmp(pszPath, "-") == 0 || strcmp(pszPath, "/dev/stdout") == 0)
        return 1;
    if (strcmp(pszPath, "/dev/stderr") == 0)
        return 2;
    static const char *const apszDirs[] = {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"};
    const char *pszNumber = NULL;
    for (size_t i = 0; i < sizeof(apszDirs) / sizeof(apszDirs[0]) && pszNumber == NULL; ++i)
        if (strncmp(pszPath, apszDirs[i], strlen(apszDirs[i])) == 0)
            pszNumber = pszPath + strlen(apszDirs[i]);
    if (pszNumber == NULL)
    {
        const char *pszOwn = CPLSPrintf("/proc/%ld/fd/", (long)getpid());
        if (strncmp(pszPath, pszOwn, strlen(pszOwn)) == 0)
            pszNumber = pszPath + strlen(pszOwn);
    }
    if (pszNumber == NULL || pszNumber[0] < '0' || pszNumber[0] > '9' ||
        strspn(pszNumber, "0123456789") != strlen(pszNumber) || strlen(pszNumber) > 9)
        return -1;
    return atoi(pszNumber);
}

/* Whether descriptor fd (that the report's name pszPath names) is open for
 * writing, and to nothing a report may not go to (see IsTextDevice). */
static int CheckDescriptor(int fd, const char *pszPath, char **ppszError)
{
    const int nFlags = fcntl(fd, F_GETFL);
    if (nFlags < 0 || (nFlags & O_ACCMODE) == O_RDONLY)
    {
        *ppszError = CPLStrdup(CPLSPrintf("Report '%s' names descriptor %d, which is %s.", pszPath,
                                          fd, nFlags < 0 ? "not open" : "not open for writing"));
        return FALSE;
    }
    struct stat sStat;
    return fstat(fd, &sStat) != 0 || !S_ISCHR(sStat.st_mode) ||
           CheckExisting(-1, &sStat, pszPath, ppszError);
}

int BWReportCheckPath(const char *pszPath, char **ppszError)
{
    if (strcmp(pszPath, "-") == 0)
        return TRUE;
    const int nDescriptor = BWReportDescriptorNamed(pszPath);
    if (nDescriptor >= 0)
        return CheckDescriptor(nDescriptor, pszPath, ppszError);
    if (!CheckReportDir(pszPath, ppszError))
        return FALSE;
    struct stat sStat;
    int bLink = FALSE;
    if (!StatReportPath(pszPath, &sStat, &bLink, ppszError))
        return *ppszError == NULL; /* nothing there yet: made when the run starts */
    /* A stream is not opened here: a reader of a FIFO would see its end. */
    if (!S_ISREG(sStat.st_mode))
        return CheckExisting(-1, &sStat, pszPath, ppszError);
    const int fd =
        open(pszPath, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (bLink ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return TRUE;
    struct stat sOpened;
    int bOk = fstat(fd, &sOpened) != 0 || CheckExisting(fd, &sOpened, pszPath, ppszError);
    close(fd);
    return bOk;
}

/* Whether the regular file open as fd is the one at pszOther (the report
 * -retry_failed read). */
static int IsSameFile(const struct stat *psStat, const char *pszOther)
{
    struct stat sOther;
    return pszOther != NULL && S_ISREG(psStat->st_mode) && stat(pszOther, &sOther) == 0 &&
           sOther.st_dev == psStat->st_dev && sOther.st_ino == psStat->st_ino;
}

/* Whether the text after a report's last end of line, nTail bytes from
 * nStart, is a whole report line (its end of line lost in an edit), not one
 * cut short by a killed run. */
static int IsWholeLine(int fd, off_t nStart, off_t nTail)
{
    if (nTail > BW_MAX_REPORT_LINE_BYTES)
        return FALSE;
    char *pszTail = CPLMalloc((size_t)nTail + 1);
    const ssize_t nRead = pread(fd, pszTail, (size_t)nTail, nStart);
    pszTail[nRead > 0 ? nRead : 0] = '\0';
    BWReportEntry sEntry;
    char *pszWhy = NULL;
    const int bWhole =
        nRead == (ssize_t)nTail && BWReportParseLine(pszTail, (size_t)nRead, &sEntry, &pszWhy);
    BWReportEntryClear(&sEntry);
    CPLFree(pszWhy);
    CPLFree(pszTail);
    return bWhole;
}

/* Readies a report that is appended to: written at its end (O_APPEND, so
 * that shards of an array given the same report do not write over each
 * other's lines), after its last complete line (a line cut short by a
 * killed run, which readers ignore, is removed: a line written after it
 * would be glued to it; a whole line without its end of line gets one). */
static int EndAfterLastLine(int fd)
{
    struct stat sStat;
    if (fstat(fd, &sStat) != 0)
        return FALSE;
    const off_t nSize = sStat.st_size;
    off_t nEnd = nSize;
    char achBuf[4096];
    while (nEnd > 0)
    {
        const off_t nStart = nEnd > (off_t)sizeof(achBuf) ? nEnd - (off_t)sizeof(achBuf) : 0;
        const ssize_t nRead = pread(fd, achBuf, (size_t)(nEnd - nStart), nStart);
        if (nRead != (ssize_t)(nEnd - nStart))
            return FALSE;
        const char *pszNewline = memrchr(achBuf, '\n', (size_t)nRead);
        if (pszNewline != NULL)
        {
            nEnd = nStart + (pszNewline - achBuf) + 1;
            break;
        }
        nEnd = nStart;
    }
    if (nEnd < nSize && IsWholeLine(fd, nEnd, nSize - nEnd))
        return pwrite(fd, "\n", 1, nSize) == 1;
    if (nEnd < nSize)
        return ftruncate(fd, nEnd) == 0;
    return TRUE;
}

static int SeekAfterLastLine(int fd, int (*pfnStopRequested)(void *), void *pStopData,
                             BWLockResult *peLock)
{
    /* Under the report's exclusive lock, which appending runs take shared
     * for each line (BWReportWriteLine): another run starting at the same
     * time would otherwise look at the end of the file before this one's
     * first line is written and truncate it away. */
    const BWLockResult eLock = LockReport(fd, LOCK_EX, pfnStopRequested, pStopData);
    const int bLocked = eLock == BW_LOCK_TAKEN;
    *peLock = eLock;
    /* Stopped while another held the lock: the file is left as it is. */
    if (eLock == BW_LOCK_STOPPED)
        return FALSE;
    const int bOk = EndAfterLastLine(fd);
    if (bLocked)
        flock(fd, LOCK_UN);
    const int nFlags = fcntl(fd, F_GETFL);
    return bOk && nFlags >= 0 && fcntl(fd, F_SETFL, nFlags | O_APPEND) == 0;
}

/* The report's descriptor, open for writing, checked and ready (a regular
 * file truncated, a stream as it is, the report at pszAppendIfSame after its
 * lines), or -1 with *ppszError. Never through a link of another user, never
 * blocking on a FIFO nobody reads, never truncating before the file is known
 * to be ours (see CheckExisting). */
static int OpenReportFd(const char *pszPath, const char *pszAppendIfSame, int *pbAppending,
                        int (*pfnStopRequested)(void *), void *pStopData, BWLockResult *peLock,
                        char **ppszError)
{
    if (!CheckReportDir(pszPath, ppszError))
        return -1;
    struct stat sStat;
    int bLink = FALSE;
    const int bExists = StatReportPath(pszPath, &sStat, &bLink, ppszError);
    if (*ppszError != NULL)
        return -1;
    /* A device is refused before it is opened: opening may act. */
    if (bExists && S_ISCHR(sStat.st_mode) && !CheckExisting(-1, &sStat, pszPath, ppszError))
        return -1;
    /* A FIFO opened for writing alone and without blocking fails at once if
     * nobody reads it; read-write (needed to look at a regular file's head)
     * would succeed and then block once the pipe is full. */
    const int bFifo = bExists && S_ISFIFO(sStat.st_mode);
    const int fd = open(pszPath,
                        (bFifo ? O_WRONLY : O_RDWR | O_CREAT) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                            (bLink ? 0 : O_NOFOLLOW),
                        0666);
    const int nErr = errno;
    if (fd < 0 && nErr == ENXIO && bFifo)
        *ppszError = CPLStrdup(
            CPLSPrintf("Report '%s' exists and is a FIFO that nobody reads: gdal_batchwarp does "
                       "not wait for a reader and left it as it was. Start its reader first, "
                       "choose another -report path, or use -report - for standard output.",
                       pszPath));
    else if (fd < 0 && nErr == ELOOP && lstat(pszPath, &sStat) == 0)
        CheckExisting(-1, &sStat, pszPath, ppszError); /* a link put there since */
    if (fd < 0)
    {
        if (*ppszError == NULL)
            *ppszError =
                CPLStrdup(CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(nErr)));
        return -1;
    }
    /* What was opened is what is checked. */
    int bOk = fstat(fd, &sStat) == 0;
    if (bOk && S_ISFIFO(sStat.st_mode) && !bFifo)
    {
        /* Put there since the look above, and so opened read-write: a write
         * would block once the pipe is full with nobody reading. */
        *ppszError = CPLStrdup(
            CPLSPrintf("Report '%s' became a FIFO while it was opened: gdal_batchwarp left it as "
                       "it was. Choose another -report path.",
                       pszPath));
        bOk = FALSE;
    }
    const int nFlags = fcntl(fd, F_GETFL);
    *pbAppending = bOk && S_ISREG(sStat.st_mode) && IsSameFile(&sStat, pszAppendIfSame);
    bOk = bOk && CheckExisting(fd, &sStat, pszPath, ppszError) && nFlags >= 0 &&
          fcntl(fd, F_SETFL, nFlags & ~O_NONBLOCK) == 0 &&
          (!S_ISREG(sStat.st_mode) ||
           (*pbAppending ? SeekAfterLastLine(fd, pfnStopRequested, pStopData, peLock)
                         : ftruncate(fd, 0) == 0));
    if (!bOk)
    {
        if (*ppszError == NULL && *peLock == BW_LOCK_STOPPED)
            *ppszError = CPLStrdup(
                CPLSPrintf("Stopped while waiting for the lock of report file '%s', which "
                           "another process holds (flock): the report was left as it was.",
                           pszPath));
        else if (*ppszError == NULL)
            *ppszError =
                CPLStrdup(CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(errno)));
        close(fd);
        return -1;
    }
    return fd;
}

/* The report's lock, held by another for longer than a run holds it, is
 * waited for no more: said once, and lines are appended without it. */
static void GiveUpLock(BWReport *psReport)
{
    psReport->bLockGivenUp = TRUE;
    CPLError(CE_Warning, CPLE_AppDefined,
             "Report file '%s' is locked by another process (flock) for longer than a run of "
             "gdal_batchwarp holds it: this run appends its lines without waiting for the lock "
             "from now on.",
             psReport->pszPath);
}

BWReport *BWReportOpen(const char *pszPath, char **ppszError)
{
    return BWReportOpenAppendingTo(pszPath, NULL, ppszError);
}

BWReport *BWReportOpenAppendingTo(const char *pszPath, const char *pszAppendIfSame,
                                  char **ppszError)
{
    return BWReportOpenStoppable(pszPath, pszAppendIfSame, NULL, NULL, ppszError);
}

BWReport *BWReportOpenStoppable(const char *pszPath, const char *pszAppendIfSame,
                                int (*pfnStopRequested)(void *), void *pStopData, char **ppszError)
{
    FILE *fp = NULL;
    int bAppending = FALSE;
    BWLockResult eLock = BW_LOCK_TAKEN;
    const int nDescriptor = BWReportDescriptorNamed(pszPath);
    if (nDescriptor == 1)
    {
        fp = stdout;
        const int nFlags = fcntl(STDOUT_FILENO, F_GETFL);
        bAppending = nFlags >= 0 && (nFlags & O_APPEND) != 0;
    }
    else if (nDescriptor >= 0)
    {
        /* A descriptor we were given (/dev/stderr, /dev/fd/3) is written as
         * whoever opened it asked (appended to after >>), never truncated
         * nor reopened by its name, which would truncate it. */
        const int fd = CheckDescriptor(nDescriptor, pszPath, ppszError)
                           ? fcntl(nDescriptor, F_DUPFD_CLOEXEC, 3)
                           : -1;
        if (fd >= 0)
            fp = fdopen(fd, "w");
        if (fp == NULL)
        {
            if (*ppszError == NULL)
                *ppszError = CPLStrdup(
                    CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(errno)));
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        const int nFlags = fcntl(fd, F_GETFL);
        bAppending = nFlags >= 0 && (nFlags & O_APPEND) != 0;
    }
    else
    {
        const int fd = OpenReportFd(pszPath, pszAppendIfSame, &bAppending, pfnStopRequested,
                                    pStopData, &eLock, ppszError);
        if (fd < 0)
            return NULL;
        fp = fdopen(fd, "w");
        if (fp == NULL)
        {
            *ppszError =
                CPLStrdup(CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(errno)));
            close(fd);
            return NULL;
        }
    }
    BWReport *psReport = CPLCalloc(1, sizeof(BWReport));
    psReport->fp = fp;
    psReport->bOwnsFile = fp != stdout;
    psReport->bAppending = bAppending;
    psReport->pszPath = CPLStrdup(pszPath);
    /* Its lock, held by another past the wait while the end of the file was
     * looked at, is waited for no more: not once again for the first line. */
    psReport->pfnStopRequested = pfnStopRequested;
    psReport->pStopData = pStopData;
    if (eLock == BW_LOCK_TIMED_OUT)
        GiveUpLock(psReport);
    return psReport;
}

/* Whether pszKey names a field that holds a file name, which is kept exact
 * in <pszKey>_bytes when it is not valid UTF-8. */
static int IsPathField(const char *pszKey)
{
    return strcmp(pszKey, "source") == 0 || strcmp(pszKey, "output") == 0;
}

static json_object *ToUTF8(json_object *poValue);

/* A copy of the object poObj whose text is all valid UTF-8 (see
 * BWReportObjectToText), its fields in the same order. */
static json_object *ObjectToUTF8(json_object *poObj)
{
    json_object *poOut = json_object_new_object();
    json_object_object_foreach(poObj, pszKey, poValue)
    {
        char *pszKey8 = BWUTF8Replace(pszKey);
        json_object_object_add(poOut, pszKey8, ToUTF8(poValue));
        const char *pszText =
            json_object_is_type(poValue, json_type_string) ? json_object_get_string(poValue) : NULL;
        /* The exact bytes beside the text, unless the line has them already
         * (a report read back, whose text is then U+FFFD's). A name is the
         * text up to a NUL ("\u0000" in a line read back), as the reader
         * takes it. */
        if (pszText != NULL && IsPathField(pszKey) && !BWIsUTF8(pszText, strlen(pszText)))
        {
            char *pszBytesKey = CPLStrdup(CPLSPrintf("%s_bytes", pszKey));
            if (!json_object_object_get_ex(poObj, pszBytesKey, NULL))
            {
                char *pszBase64 = BWNameToBase64(pszText);
                json_object_object_add(poOut, pszBytesKey, json_object_new_string(pszBase64));
                CPLFree(pszBase64);
            }
            CPLFree(pszBytesKey);
        }
        CPLFree(pszKey8);
    }
    return poOut;
}

static json_object *ToUTF8(json_object *poValue)
{
    if (json_object_is_type(poValue, json_type_string))
    {
        char *pszText = BWUTF8Replace(json_object_get_string(poValue));
        json_object *poOut = json_object_new_string(pszText);
        CPLFree(pszText);
        return poOut;
    }
    if (json_object_is_type(poValue, json_type_array))
    {
        const size_t nItems = json_object_array_length(poValue);
        json_object *poOut = json_object_new_array_ext((int)nItems);
        for (size_t i = 0; i < nItems; ++i)
            json_object_array_add(poOut, ToUTF8(json_object_array_get_idx(poValue, i)));
        return poOut;
    }
    if (json_object_is_type(poValue, json_type_object))
        return ObjectToUTF8(poValue);
    return json_object_get(poValue); /* numbers, booleans, null: shared */
}

char *BWReportObjectToText(json_object *poObj)
{
    const int nFlags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    char *pszJson = CPLStrdup(json_object_to_json_string_ext(poObj, nFlags));
    /* json-c writes a string's bytes as they are: valid UTF-8 only if every
     * string was. The common case is checked once, on the whole line. */
    if (BWIsUTF8(pszJson, strlen(pszJson)))
        return pszJson;
    CPLFree(pszJson);
    json_object *poUTF8 = ToUTF8(poObj);
    pszJson = CPLStrdup(json_object_to_json_string_ext(poUTF8, nFlags));
    json_object_put(poUTF8);
    return pszJson;
}

char *BWResultToJson(const GDALBatchWarpResult *psResult)
{
    json_object *poObj = json_object_new_object();
    json_object_object_add(poObj, "source", json_object_new_string(psResult->pszSource));
    json_object_object_add(poObj, "output", json_object_new_string(psResult->pszOutput));
    json_object_object_add(poObj, "ok", json_object_new_boolean(psResult->bOk));
    json_object_object_add(poObj, "skipped", json_object_new_boolean(psResult->bSkipped));
    json_object_object_add(poObj, "error",
                           psResult->pszError ? json_object_new_string(psResult->pszError) : NULL);
    /* Microseconds are all a wall time can claim; json-c would print 17 digits. */
    json_object_object_add(
        poObj, "seconds",
        json_object_new_double_s(psResult->dfSeconds, CPLSPrintf("%.6f", psResult->dfSeconds)));
    json_object_object_add(poObj, "worker_pid",
                           psResult->nWorkerPid ? json_object_new_int(psResult->nWorkerPid) : NULL);
    json_object_object_add(poObj, "attempts", json_object_new_int(psResult->nAttempts));
    json_object_object_add(poObj, "threads", json_object_new_int(psResult->nThreads));
    json_object_object_add(poObj, "shard",
                           psResult->pszShard ? json_object_new_string(psResult->pszShard) : NULL);
    json_object *poMessages = json_object_new_array();
    for (CSLConstList papszIter = psResult->papszMessages; papszIter && *papszIter; ++papszIter)
        json_object_array_add(poMessages, json_object_new_string(*papszIter));
    json_object_object_add(poObj, "messages", poMessages);
    char *pszJson = BWReportObjectToText(poObj);
    json_object_put(poObj);
    return pszJson;
}

/* Writes the nLen bytes at p to the report (see BWWriteAllUnlessStopped):
 * a report given up for a stop is said so once, at its close. */
static int WriteAll(BWReport *psReport, int fd, const char *p, size_t nLen)
{
    if (BWWriteAllUnlessStopped(fd, p, nLen, psReport->pfnStopRequested, psReport->pStopData) == 0)
        return TRUE;
    if (errno == EINTR)
        psReport->bGivenUp = TRUE;
    return FALSE;
}

int BWReportWriteLine(BWReport *psReport, const char *pszLine, char **ppszError)
{
    /* Standard output (-report -, /dev/stdout) after what its caller
     * printed there before. */
    int bOk = psReport->bOwnsFile || fflush(psReport->fp) == 0;
    if (bOk)
    {
        /* The whole line in one write(), standard output's too: stdio cuts
         * a line longer than its buffer into several, between which another
         * run appending to the same report (O_APPEND: a retry into its own
         * report, shards of an array, '-report /dev/stdout >> all.jsonl')
         * would put its own, leaving lines no reader takes. */
        const size_t nLen = strlen(pszLine);
        char *pszBuf = CPLMalloc(nLen + 1);
        memcpy(pszBuf, pszLine, nLen);
        pszBuf[nLen] = '\n';
        const int fd = fileno(psReport->fp);
        const BWLockResult eLock =
            psReport->bAppending && !psReport->bLockGivenUp
                ? LockReport(fd, LOCK_SH, psReport->pfnStopRequested, psReport->pStopData)
                : BW_LOCK_UNSUPPORTED;
        const int bLocked = eLock == BW_LOCK_TAKEN;
        if (psReport->bAppending && !bLocked && !psReport->bLockGivenUp)
        {
            /* Waited for once, not for each line: whoever holds the lock
             * this long (another user who can read the report) would
             * otherwise hold up the batch that long for each task. */
            if (eLock == BW_LOCK_TIMED_OUT)
                GiveUpLock(psReport);
            psReport->bLockGivenUp = TRUE;
        }
        bOk = WriteAll(psReport, fd, pszBuf, nLen + 1);
        if (bLocked)
            flock(fd, LOCK_UN);
        CPLFree(pszBuf);
    }
    if (!bOk && psReport->bGivenUp)
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report file '%s' took no more lines (its reader is not reading) when the batch was "
            "stopped: it lacks the lines of the sources that finished from then on.",
            psReport->pszPath));
    else if (!bOk)
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot write report file '%s': %s", psReport->pszPath, strerror(errno)));
    return bOk;
}

void BWReportSetStopCheck(BWReport *psReport, int (*pfnStopRequested)(void *), void *pData)
{
    psReport->pfnStopRequested = pfnStopRequested;
    psReport->pStopData = pData;
}

int BWReportWrite(BWReport *psReport, const GDALBatchWarpResult *psResult, char **ppszError)
{
    char *pszJson = BWResultToJson(psResult);
    const int bOk = BWReportWriteLine(psReport, pszJson, ppszError);
    CPLFree(pszJson);
    return bOk;
}

BWReport *BWReportOpenReplacing(const char *pszPath, char **ppszError)
{
    struct stat sStat;
    const int bExists = lstat(pszPath, &sStat) == 0;
    /* A stream, a descriptor, a link of ours: written in place, as ever. */
    if (BWReportDescriptorNamed(pszPath) >= 0 || (bExists && !S_ISREG(sStat.st_mode)))
        return BWReportOpen(pszPath, ppszError);
    if (!BWReportCheckPath(pszPath, ppszError))
        return NULL;
    /* Next to the report (a rename stays in its file system), under a name
     * made exclusively: never a file or link that was there. */
    char *pszDir = BWPathDir(pszPath);
    int fd = -1;
    char *pszTemp = NULL;
    for (int i = 0; i < 100 && fd < 0; ++i)
    {
        CPLFree(pszTemp);
        pszTemp = CPLStrdup(CPLSPrintf("%s%s.%s.merging-%ld-%d", pszDir, pszDir[0] ? "/" : "",
                                       BWPathName(pszPath), (long)getpid(), i));
        fd = open(pszTemp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    const int nErr = errno;
    CPLFree(pszDir);
    struct stat sTemp;
    FILE *fp = NULL;
    if (fd >= 0 && fstat(fd, &sTemp) == 0 && (!bExists || fchmod(fd, sStat.st_mode & 07777) == 0))
        fp = fdopen(fd, "w");
    if (fp == NULL)
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("Cannot create a file to write report '%s' into ('%s'): %s",
                                 pszPath, pszTemp, strerror(fd >= 0 ? errno : nErr)));
        if (fd >= 0)
        {
            unlink(pszTemp);
            close(fd);
        }
        CPLFree(pszTemp);
        return NULL;
    }
    BWReport *psReport = CPLCalloc(1, sizeof(BWReport));
    psReport->fp = fp;
    psReport->bOwnsFile = TRUE;
    psReport->pszPath = CPLStrdup(pszPath);
    psReport->pszTempPath = pszTemp;
    psReport->nTempDevice = sTemp.st_dev;
    psReport->nTempInode = sTemp.st_ino;
    return psReport;
}

/* Removes the file this run made to replace the report, if that is still
 * what has its name. */
static void RemoveTemp(const BWReport *psReport)
{
    struct stat sStat;
    if (lstat(psReport->pszTempPath, &sStat) == 0 && sStat.st_dev == psReport->nTempDevice &&
        sStat.st_ino == psReport->nTempInode)
        unlink(psReport->pszTempPath);
}

static int CloseReport(BWReport *psReport, int bKeep, char **ppszError)
{
    if (psReport == NULL)
        return TRUE;
    int bOk = fflush(psReport->fp) == 0;
    if (bOk && psReport->pszTempPath != NULL && bKeep)
        bOk = fsync(fileno(psReport->fp)) == 0;
    if (psReport->bOwnsFile && fclose(psReport->fp) != 0)
        bOk = FALSE;
    if (bOk && psReport->pszTempPath != NULL && bKeep)
        bOk = rename(psReport->pszTempPath, psReport->pszPath) == 0;
    if (!bOk && bKeep)
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot write report file '%s': %s", psReport->pszPath, strerror(errno)));
    if (psReport->pszTempPath != NULL && (!bOk || !bKeep))
        RemoveTemp(psReport);
    CPLFree(psReport->pszTempPath);
    CPLFree(psReport->pszPath);
    CPLFree(psReport);
    return bOk;
}

int BWReportClose(BWReport *psReport, char **ppszError)
{
    return CloseReport(psReport, TRUE, ppszError);
}

void BWReportDiscard(BWReport *psReport)
{
    CloseReport(psReport, FALSE, NULL);
}
