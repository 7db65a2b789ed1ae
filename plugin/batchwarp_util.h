/* Small helpers that several modules need alike. */
#ifndef BATCHWARP_UTIL_H_INCLUDED
#define BATCHWARP_UTIL_H_INCLUDED

#include <cpl_port.h>

/* Seconds on the monotonic clock, for durations and deadlines. */
double BWMonotonicSeconds(void);

/* Parses a whole decimal integer in [nMin, nMax]: no sign other than '-',
 * no trailing text. Returns FALSE, leaving *pnOut alone, otherwise. */
int BWParseLong(const char *pszValue, long nMin, long nMax, long *pnOut);

/* The most bytes a size the user gives may stand for: 2^62 (4 EiB), more
 * than any machine has, and small enough that the budget's sums of a few
 * such sizes cannot overflow. */
#define BW_MAX_SIZE_BYTES ((GIntBig)1 << 62)

/* A size in bytes computed as a double from the user's words ("1e30",
 * "nan%"), as an integer: NaN as -1 (no size), and beyond
 * +-BW_MAX_SIZE_BYTES as that bound. Converting such a double to an integer
 * type directly is undefined behaviour. */
GIntBig BWBytesFromDouble(double dfBytes);

/* Path splitting. On POSIX only '/' separates the components of a local
 * path, and a backslash is an ordinary character of a file name. GDAL's
 * CPLGetPath, CPLGetFilename and CPLGetBasename split at a backslash too, so
 * that a source named "a<backslash>b.tif" would be taken as "b.tif" in a
 * directory "a". Paths under /vsi are split as GDAL splits them. Naming,
 * listing and publishing split local paths with these alone. */
/* The last component (a pointer into pszPath). */
const char *BWPathName(const char *pszPath);
/* Everything before the last component, without the separator ("" for a
 * bare name, "/" for a name at the root). CPLFree it. */
char *BWPathDir(const char *pszPath);
/* The last component without its extension (from its last '.'). CPLFree
 * it. */
char *BWPathStem(const char *pszPath);

/* "/proc/self/fd/<nFd>" (CPLFree it), a path that names the very directory
 * the descriptor holds whatever happens to its path, or NULL where /proc
 * does not show that directory (not mounted). */
char *BWPathThroughFd(int nFd);

/* Writes the nLen bytes at p to fd through interruptions and short writes,
 * unless pfnStopped (may be NULL) says the batch stops while the write would
 * wait: a FIFO or pipe whose reader reads nothing keeps write() waiting, and
 * a stop signal must still end the run. A stream that takes nothing at the
 * moment is asked first, as the signal may have come just before the write.
 * 0, or -1 with errno (EINTR: given up for the stop). */
int BWWriteAllUnlessStopped(int fd, const char *p, size_t nLen, int (*pfnStopped)(void *),
                            void *pUser);

/* A FIFO (named pipe) that GDAL opens as a file waits for a writer, forever
 * (see the comment in batchwarp_util.c). While started, a thread watches the
 * thread that started it, releases such an open and notes the FIFO's name.
 * Starts and stops nest (only the first start's thread is watched). */
void BWFifoGuardStart(void);
void BWFifoGuardStop(void);
/* The FIFO released since the last call, or NULL. CPLFree it. */
char *BWFifoGuardTake(void);
/* While a started guard runs, also watches the calling thread (one at a
 * time: the worker's prefetch, which opens what a task will): a FIFO it
 * waits on is released but not noted for BWFifoGuardTake. */
void BWFifoGuardWatchThisThread(void);
void BWFifoGuardUnwatchThisThread(void);

/* Raises the soft limit of open file descriptors to nNeeded, or as near as
 * the hard limit allows; never lowers it. */
void BWRaiseDescriptorLimit(long nNeeded);

#endif
