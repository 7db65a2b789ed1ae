/*
 * What the SRC arguments stand for: files as given, directories as their
 * sorted raster entries (with -recursive, their whole tree), and shell-style
 * patterns. Listing goes through VSI, so /vsizip/, /vsis3/ and /vsicurl/
 * directories work like local ones.
 */
#ifndef BATCHWARP_SOURCES_H_INCLUDED
#define BATCHWARP_SOURCES_H_INCLUDED

#include <stddef.h>

#include <cpl_port.h>

typedef struct
{
    char *pszPath;   /* as given, or directory + relative name */
    char *pszRelDir; /* directory below the listed directory ("" if none): {relpath} */
    GIntBig nSize;   /* bytes, -1 when unknown (not yet stat'ed) */
    /* Names in the source's directory, from the listing that found it (NULL
     * for sources given as files): handed to GDALOpenEx, so that GDAL finds
     * sidecars without listing the directory again or probing each possible
     * sidecar name with its own request. */
    char **papszSiblings;
} BWSource;

typedef struct
{
    BWSource *pasSources;
    int nSources;
    int nCapacity;
    char *pszError; /* why sources could not be listed (one per line), or NULL */
    int bStopped;   /* the stop function asked to stop */
} BWSourceList;

/* Asked now and then while listing: non-zero stops the listing. */
typedef int (*BWScanStopFunc)(void *pData);

/* pszExcludeDir (may be NULL): a directory whose tree is never listed (the
 * output directory, when it lies inside a source tree). pfnStop (may be
 * NULL) is asked now and then whether to stop; then psList->bStopped is
 * set. */
void BWCollectSourcesEx(CSLConstList papszSources, int bRecursive, const char *pszExcludeDir,
                        BWScanStopFunc pfnStop, void *pStopData, BWSourceList *psList);
void BWSourceListClear(BWSourceList *psList);

/* The names in a network directory (its entries, not recursive), its
 * listing read again as a source directory's is when a request for it
 * fails. *ppapszNames: NULL when it holds nothing (CSLDestroy it). FALSE,
 * with *ppszError (CPLFree it) naming the directory and what the store
 * answered, when it cannot be read whole. */
int BWListDirectoryNames(const char *pszDir, char ***ppapszNames, char **ppszError);

/* Splits list text into names (CSLDestroy it): lines, or NUL-separated
 * with bNul; a trailing CR is dropped from lines, empty entries skipped. */
char **BWSplitSourceList(const char *pachData, size_t nLen, int bNul);

/* Reads a list of sources, one per line (or NUL-separated with bNul), from a
 * file or "-" for stdin. Empty entries are skipped. Returns FALSE with
 * *ppszError naming the file when it cannot be read. */
int BWReadSourceList(const char *pszPath, int bNul, char ***ppapszSources, char **ppszError);

#endif
