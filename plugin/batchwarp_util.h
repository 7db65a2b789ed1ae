/* Small helpers that several modules need alike. */
#ifndef BATCHWARP_UTIL_H_INCLUDED
#define BATCHWARP_UTIL_H_INCLUDED

/* Seconds on the monotonic clock, for durations and deadlines. */
double BWMonotonicSeconds(void);

/* Parses a whole decimal integer in [nMin, nMax]: no sign other than '-',
 * no trailing text. Returns FALSE, leaving *pnOut alone, otherwise. */
int BWParseLong(const char *pszValue, long nMin, long nMax, long *pnOut);

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

#endif
