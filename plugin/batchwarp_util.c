#include "batchwarp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_port.h>
#include <cpl_string.h>

double BWMonotonicSeconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int BWParseLong(const char *pszValue, long nMin, long nMax, long *pnOut)
{
    if (pszValue == NULL)
        return FALSE;
    char *pszEnd = NULL;
    errno = 0;
    const long nValue = strtol(pszValue, &pszEnd, 10);
    if (pszEnd == pszValue || *pszEnd != '\0' || errno == ERANGE || nValue < nMin || nValue > nMax)
        return FALSE;
    *pnOut = nValue;
    return TRUE;
}

GIntBig BWBytesFromDouble(double dfBytes)
{
    if (dfBytes != dfBytes)
        return -1;
    if (dfBytes >= (double)BW_MAX_SIZE_BYTES)
        return BW_MAX_SIZE_BYTES;
    if (dfBytes <= -(double)BW_MAX_SIZE_BYTES)
        return -BW_MAX_SIZE_BYTES;
    return (GIntBig)dfBytes;
}

static int IsVSI(const char *pszPath)
{
    return STARTS_WITH(pszPath, "/vsi");
}

const char *BWPathName(const char *pszPath)
{
    if (IsVSI(pszPath))
        return pszPath + strlen(pszPath) - strlen(CPLGetFilename(pszPath));
    const char *pszSlash = strrchr(pszPath, '/');
    return pszSlash ? pszSlash + 1 : pszPath;
}

char *BWPathDir(const char *pszPath)
{
    if (IsVSI(pszPath))
        return CPLStrdup(CPLGetPath(pszPath));
    const char *pszSlash = strrchr(pszPath, '/');
    if (pszSlash == NULL)
        return CPLStrdup("");
    size_t nLen = (size_t)(pszSlash - pszPath);
    /* "a//b" is in "a"; "/b" in "/". */
    while (nLen > 1 && pszPath[nLen - 1] == '/')
        --nLen;
    char *pszDir = CPLStrdup(pszPath);
    pszDir[nLen == 0 ? 1 : nLen] = '\0';
    return pszDir;
}

char *BWPathStem(const char *pszPath)
{
    if (IsVSI(pszPath))
        return CPLStrdup(CPLGetBasename(pszPath));
    char *pszStem = CPLStrdup(BWPathName(pszPath));
    char *pszDot = strrchr(pszStem, '.');
    if (pszDot != NULL)
        *pszDot = '\0';
    return pszStem;
}

char *BWPathThroughFd(int nFd)
{
    char *pszVia = CPLStrdup(CPLSPrintf("/proc/self/fd/%d", nFd));
    struct stat sVia;
    struct stat sFd;
    if (stat(pszVia, &sVia) == 0 && fstat(nFd, &sFd) == 0 && sVia.st_dev == sFd.st_dev &&
        sVia.st_ino == sFd.st_ino)
        return pszVia;
    CPLFree(pszVia);
    return NULL;
}

/* A FIFO (named pipe) where GDAL looks for a file: beside a source (x.tif.ovr,
 * x.tif.msk, x.hdr beside x.dat), beside an earlier output that -overwrite
 * replaces, or named by a source (a VRT's) or -cutline. Anyone who can write
 * that directory can make one. GDAL opens it as a file, and open() of a FIFO
 * waits for a writer: the worker (or the supervisor, while it lists sources
 * and asks GDAL which files are rasters), and the batch with it, waited
 * forever, deaf to SIGINT and SIGTERM (gdalwarp waits forever too). The
 * guard's thread watches the thread that started it: when it finds it waiting
 * in open() on a FIFO at two looks in a row, it opens that FIFO for writing
 * (by the inode it checked, never a device, never by its name again) and
 * closes it at once, so that the open returns and reads the end of the file,
 * and notes the FIFO for BWFifoGuardTake (likewise a read() of a FIFO that
 * someone holds open for writing, writing nothing: see ReleaseFifoRead);
 * the worker then fails the task, naming it; the plan keeps the file as a
 * source, whose task does. */
#define BW_FIFO_LOOK_MS 100

typedef struct
{
    pid_t nTid; /* the thread that runs the tasks */
    /* A second thread watched while it opens what a task will (the worker's
     * prefetch, see BWFifoGuardWatchThisThread), 0 if none: its FIFO is
     * released but not noted, the task meets it again itself. */
    pid_t nOtherTid;
    int nMemFd; /* /proc/self/mem, to read the name given to open() */
    pthread_t hThread;
    pthread_mutex_t hMutex;
    pthread_cond_t hCond;
    int bStarted;
    int bStop;
    char *pszFifo; /* the first FIFO opened during the current task, or NULL */
} BWFifoGuard;

static BWFifoGuard sFifoGuard = {
    0, 0, -1, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, FALSE, FALSE, NULL};
/* Starts minus stops: the guard watches the thread of the first start. */
static int nFifoGuardUsers = 0;

/* The NUL-terminated string at nAddress of this process, read through
 * /proc/self/mem a page at a time (an address freed since reads as an error,
 * never a fault), or NULL. */
static char *ReadOwnString(int nMemFd, unsigned long nAddress)
{
    const long nPage = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
    char *pszOut = CPLMalloc(PATH_MAX + 1);
    size_t nLen = 0;
    while (nLen < PATH_MAX)
    {
        size_t nChunk = (size_t)nPage - (size_t)((nAddress + nLen) % (unsigned long)nPage);
        if (nChunk > PATH_MAX - nLen)
            nChunk = PATH_MAX - nLen;
        const ssize_t nRead = pread(nMemFd, pszOut + nLen, nChunk, (off_t)(nAddress + nLen));
        if (nRead <= 0)
            break;
        const char *pszNul = memchr(pszOut + nLen, '\0', (size_t)nRead);
        if (pszNul != NULL)
            return pszOut;
        nLen += (size_t)nRead;
    }
    CPLFree(pszOut);
    return NULL;
}

/* The name the watched thread is waiting to open, from the syscall line of
 * /proc/self/task/TID/syscall, or NULL if it is not in open(). */
static char *NameBeingOpened(const BWFifoGuard *psGuard, const char *pszLine)
{
    long nCall = -1;
    unsigned long anArg[2] = {0, 0};
    if (sscanf(pszLine, "%ld %lx %lx", &nCall, &anArg[0], &anArg[1]) != 3)
        return NULL;
    int nDirFd = AT_FDCWD;
    unsigned long nName = 0;
    if (nCall == SYS_openat)
    {
        nDirFd = (int)anArg[0];
        nName = anArg[1];
    }
#ifdef SYS_open
    else if (nCall == SYS_open)
        nName = anArg[0];
#endif
    if (nName == 0)
        return NULL;
    char *pszName = ReadOwnString(psGuard->nMemFd, nName);
    if (pszName != NULL && pszName[0] != '/' && nDirFd != AT_FDCWD)
    {
        char *pszFull = CPLStrdup(CPLSPrintf("/proc/self/fd/%d/%s", nDirFd, pszName));
        CPLFree(pszName);
        pszName = pszFull;
    }
    return pszName;
}

/* If pszName is a FIFO, lets a reader waiting in its open() go on: opens
 * that very FIFO (checked on a descriptor that opens nothing, O_PATH) for
 * writing, without blocking, and closes it. TRUE if it was a FIFO. */
static int ReleaseFifo(const char *pszName)
{
    const int fd = open(pszName, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return FALSE;
    struct stat sStat;
    const int bFifo = fstat(fd, &sStat) == 0 && S_ISFIFO(sStat.st_mode);
    if (bFifo)
    {
        char szVia[64];
        snprintf(szVia, sizeof(szVia), "/proc/self/fd/%d", fd);
        const int fdWrite = open(szVia, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fdWrite >= 0)
            close(fdWrite);
    }
    close(fd);
    return bFifo;
}

/* If the syscall line shows a read() of a FIFO (one that someone holds open
 * for writing, and writes nothing into): makes that descriptor
 * non-blocking and writes one byte into the FIFO, so that the read returns
 * and the next ones return at once. The FIFO's name, or NULL. */
static char *ReleaseFifoRead(const char *pszLine)
{
    long nCall = -1;
    unsigned long nFd = 0;
    if (sscanf(pszLine, "%ld %lx", &nCall, &nFd) != 2 ||
        (nCall != SYS_read && nCall != SYS_readv) || nFd > INT_MAX)
        return NULL;
    const int fd = (int)nFd;
    struct stat sStat;
    if (fstat(fd, &sStat) != 0 || !S_ISFIFO(sStat.st_mode))
        return NULL;
    char szVia[64];
    snprintf(szVia, sizeof(szVia), "/proc/self/fd/%d", fd);
    char szName[PATH_MAX];
    const ssize_t nLen = readlink(szVia, szName, sizeof(szName) - 1);
    if (nLen <= 0)
        return NULL;
    szName[nLen] = '\0';
    const int nFlags = fcntl(fd, F_GETFL);
    if (nFlags < 0 || fcntl(fd, F_SETFL, nFlags | O_NONBLOCK) != 0)
        return NULL;
    const int fdWrite = open(szVia, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fdWrite >= 0)
    {
        const char chByte = '\0';
        if (write(fdWrite, &chByte, 1) != 1)
            CPLDebug("BATCHWARP", "cannot wake the read of FIFO %s", szName);
        close(fdWrite);
    }
    return CPLStrdup(szName);
}

/* One look at thread nTid (szLast: its syscall line at the last look): the
 * FIFO it was released from, or NULL. */
static char *LookAtThread(const BWFifoGuard *psGuard, pid_t nTid, char *szLast, size_t nLastSize)
{
    char szPath[64];
    snprintf(szPath, sizeof(szPath), "/proc/self/task/%ld/syscall", (long)nTid);
    char szLine[256] = "";
    const int fd = open(szPath, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
    {
        const ssize_t nRead = read(fd, szLine, sizeof(szLine) - 1);
        szLine[nRead > 0 ? nRead : 0] = '\0';
        close(fd);
    }
    /* The same call with the same arguments (and stack) as at the last
     * look: waiting, not passing through. */
    const int bWaiting = strcmp(szLine, szLast) == 0;
    char *pszName = bWaiting ? NameBeingOpened(psGuard, szLine) : NULL;
    snprintf(szLast, nLastSize, "%s", szLine);
    if (pszName != NULL && !ReleaseFifo(pszName))
    {
        CPLFree(pszName);
        pszName = NULL;
    }
    if (bWaiting && pszName == NULL)
        pszName = ReleaseFifoRead(szLine);
    return pszName;
}

/* The calling thread's id as /proc names it. In a PID namespace of its own
 * whose /proc is still its parent's (unshare --pid --fork without
 * --mount-proc), gettid() gives the namespace's number, which in /proc is
 * another thread or none: /proc/thread-self says which it is there. */
static pid_t ThisThreadInProc(void)
{
    char szLink[64];
    const ssize_t nLen = readlink("/proc/thread-self", szLink, sizeof(szLink) - 1);
    if (nLen > 0)
    {
        szLink[nLen] = '\0';
        const char *pszTask = strstr(szLink, "/task/");
        if (pszTask != NULL && atol(pszTask + 6) > 0)
            return (pid_t)atol(pszTask + 6);
    }
    return (pid_t)syscall(SYS_gettid);
}

static void *FifoGuardThread(void *pData)
{
    BWFifoGuard *psGuard = pData;
    char szLast[256] = "";
    char szOtherLast[256] = "";
    pid_t nOtherLast = 0;
    pthread_mutex_lock(&psGuard->hMutex);
    while (!psGuard->bStop)
    {
        struct timespec sUntil;
        clock_gettime(CLOCK_REALTIME, &sUntil);
        sUntil.tv_nsec += BW_FIFO_LOOK_MS * 1000000L;
        sUntil.tv_sec += sUntil.tv_nsec / 1000000000L;
        sUntil.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&psGuard->hCond, &psGuard->hMutex, &sUntil);
        if (psGuard->bStop)
            break;
        const pid_t nOther = psGuard->nOtherTid;
        pthread_mutex_unlock(&psGuard->hMutex);
        char *pszName = LookAtThread(psGuard, psGuard->nTid, szLast, sizeof(szLast));
        if (nOther != nOtherLast)
            szOtherLast[0] = '\0'; /* another thread, or another watch */
        nOtherLast = nOther;
        if (nOther != 0)
            CPLFree(LookAtThread(psGuard, nOther, szOtherLast, sizeof(szOtherLast)));
        pthread_mutex_lock(&psGuard->hMutex);
        if (pszName != NULL && psGuard->pszFifo == NULL)
            psGuard->pszFifo = pszName;
        else
            CPLFree(pszName);
    }
    pthread_mutex_unlock(&psGuard->hMutex);
    return NULL;
}

void BWFifoGuardStart(void)
{
    pthread_mutex_lock(&sFifoGuard.hMutex);
    const int bFirst = nFifoGuardUsers++ == 0;
    pthread_mutex_unlock(&sFifoGuard.hMutex);
    if (!bFirst)
        return;
    sFifoGuard.bStop = FALSE;
    sFifoGuard.nTid = ThisThreadInProc();
    sFifoGuard.nMemFd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    sFifoGuard.bStarted =
        sFifoGuard.nMemFd >= 0 &&
        pthread_create(&sFifoGuard.hThread, NULL, FifoGuardThread, &sFifoGuard) == 0;
}

void BWFifoGuardStop(void)
{
    pthread_mutex_lock(&sFifoGuard.hMutex);
    const int bLast = --nFifoGuardUsers == 0;
    pthread_mutex_unlock(&sFifoGuard.hMutex);
    if (!bLast)
        return;
    if (sFifoGuard.bStarted)
    {
        pthread_mutex_lock(&sFifoGuard.hMutex);
        sFifoGuard.bStop = TRUE;
        pthread_cond_signal(&sFifoGuard.hCond);
        pthread_mutex_unlock(&sFifoGuard.hMutex);
        pthread_join(sFifoGuard.hThread, NULL);
    }
    sFifoGuard.bStarted = FALSE;
    if (sFifoGuard.nMemFd >= 0)
        close(sFifoGuard.nMemFd);
    sFifoGuard.nMemFd = -1;
    CPLFree(BWFifoGuardTake());
}

char *BWFifoGuardTake(void)
{
    pthread_mutex_lock(&sFifoGuard.hMutex);
    char *pszFifo = sFifoGuard.pszFifo;
    sFifoGuard.pszFifo = NULL;
    pthread_mutex_unlock(&sFifoGuard.hMutex);
    return pszFifo;
}

void BWFifoGuardWatchThisThread(void)
{
    const pid_t nTid = ThisThreadInProc();
    pthread_mutex_lock(&sFifoGuard.hMutex);
    sFifoGuard.nOtherTid = nTid;
    pthread_mutex_unlock(&sFifoGuard.hMutex);
}

void BWFifoGuardUnwatchThisThread(void)
{
    pthread_mutex_lock(&sFifoGuard.hMutex);
    sFifoGuard.nOtherTid = 0;
    pthread_mutex_unlock(&sFifoGuard.hMutex);
}

int BWWriteAllUnlessStopped(int fd, const char *p, size_t nLen, int (*pfnStopped)(void *),
                            void *pUser)
{
    while (nLen > 0)
    {
        struct pollfd sPoll = {fd, POLLOUT, 0};
        if (pfnStopped != NULL && poll(&sPoll, 1, 0) == 0 && pfnStopped(pUser))
        {
            errno = EINTR;
            return -1;
        }
        const ssize_t nDone = write(fd, p, nLen);
        if (nDone < 0 && errno == EINTR)
        {
            if (pfnStopped != NULL && pfnStopped(pUser))
                return -1;
            continue;
        }
        if (nDone <= 0)
        {
            if (nDone == 0)
                errno = EIO;
            return -1;
        }
        p += nDone;
        nLen -= (size_t)nDone;
    }
    return 0;
}

void BWRaiseDescriptorLimit(long nNeeded)
{
    struct rlimit sLimit;
    if (getrlimit(RLIMIT_NOFILE, &sLimit) != 0 || sLimit.rlim_cur == RLIM_INFINITY ||
        sLimit.rlim_cur >= (rlim_t)nNeeded)
        return;
    sLimit.rlim_cur = sLimit.rlim_max != RLIM_INFINITY && sLimit.rlim_max < (rlim_t)nNeeded
                          ? sLimit.rlim_max
                          : (rlim_t)nNeeded;
    setrlimit(RLIMIT_NOFILE, &sLimit);
}
