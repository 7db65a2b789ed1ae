/* Canonical paths, for collision checks: see batchwarp_canonical.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_canonical.h"
#include "batchwarp_strbuf.h"
#include "batchwarp_util.h"

/* realpath() of a path's directory part ("" for the current one), or NULL. */
static char *CanonicalDir(const char *pszDir)
{
    char szResolved[PATH_MAX];
    return realpath(pszDir[0] ? pszDir : ".", szResolved) != NULL ? CPLStrdup(szResolved) : NULL;
}

/* The canonical form of a path whose directory does not exist (yet): its
 * deepest ancestor that exists, canonical, then the rest of it with "." and
 * ".." taken as written, so that "in/../out/a.tif" and "out/a.tif" are one
 * path before out/ is made. */
static char *CanonicalOfMissing(const char *pszPath)
{
    char szCwd[PATH_MAX];
    char *pszAbs = pszPath[0] == '/' || getcwd(szCwd, sizeof(szCwd)) == NULL
                       ? CPLStrdup(pszPath)
                       : CPLStrdup(CPLSPrintf("%s/%s", szCwd, pszPath));
    char **papszParts = CSLTokenizeString2(pszAbs, "/", 0);
    CPLFree(pszAbs);
    const int nParts = CSLCount(papszParts);
    /* The longest prefix that realpath resolves. */
    char *pszBase = CPLStrdup("/");
    int iRest = 0;
    for (int i = 1; i <= nParts; ++i)
    {
        char *pszPrefix = CPLStrdup("");
        for (int k = 0; k < i; ++k)
        {
            char *pszNext = CPLStrdup(CPLSPrintf("%s/%s", pszPrefix, papszParts[k]));
            CPLFree(pszPrefix);
            pszPrefix = pszNext;
        }
        char szResolved[PATH_MAX];
        const int bResolved = realpath(pszPrefix, szResolved) != NULL;
        CPLFree(pszPrefix);
        if (!bResolved)
            break;
        CPLFree(pszBase);
        pszBase = CPLStrdup(szResolved);
        iRest = i;
    }
    char **papszOut = CSLTokenizeString2(pszBase, "/", 0);
    CPLFree(pszBase);
    for (int i = iRest; i < nParts; ++i)
    {
        if (strcmp(papszParts[i], ".") == 0)
            continue;
        if (strcmp(papszParts[i], "..") == 0)
        {
            const int nOut = CSLCount(papszOut);
            if (nOut > 0)
                papszOut = CSLRemoveStrings(papszOut, nOut - 1, 1, NULL);
            continue;
        }
        papszOut = CSLAddString(papszOut, papszParts[i]);
    }
    CSLDestroy(papszParts);
    BWStrBuf sOut = BW_STRBUF_INIT;
    for (char **papszIter = papszOut; papszIter && *papszIter; ++papszIter)
    {
        BWStrBufAddCh(&sOut, '/');
        BWStrBufAddStr(&sOut, *papszIter);
    }
    CSLDestroy(papszOut);
    if (sOut.nLen == 0)
        BWStrBufAddCh(&sOut, '/');
    return BWStrBufDetach(&sOut);
}

/* A path's last component in its directory's canonical form (see
 * CanonicalOfMissing where the directory does not exist yet). */
static char *InCanonicalDir(const char *pszCanonDir, const char *pszPath)
{
    return pszCanonDir ? CPLStrdup(CPLFormFilename(pszCanonDir, BWPathName(pszPath), NULL))
                       : CanonicalOfMissing(pszPath);
}

/* Canonical form of a local path whose last component may not exist yet. */
char *BWCanonicalPath(const char *pszPath)
{
    if (STARTS_WITH(pszPath, "/vsi"))
        return CPLStrdup(pszPath);
    char szResolved[PATH_MAX];
    if (realpath(pszPath, szResolved) != NULL)
        return CPLStrdup(szResolved);
    char *pszDir = BWPathDir(pszPath);
    char *pszCanonDir = CanonicalDir(pszDir);
    char *pszOut = InCanonicalDir(pszCanonDir, pszPath);
    CPLFree(pszCanonDir);
    CPLFree(pszDir);
    return pszOut;
}

char *BWCanonicalPathCached(BWCanonicalCache *psCache, const char *pszPath)
{
    if (STARTS_WITH(pszPath, "/vsi"))
        return CPLStrdup(pszPath);
    const char *pszName = BWPathName(pszPath);
    struct stat sStat;
    if (pszName[0] == '\0' || strcmp(pszName, ".") == 0 || strcmp(pszName, "..") == 0)
        return BWCanonicalPath(pszPath);
    char *pszDir = BWPathDir(pszPath);
    if (psCache->pszDir == NULL || strcmp(psCache->pszDir, pszDir) != 0)
    {
        BWCanonicalCacheClear(psCache);
        psCache->pszCanonDir = CanonicalDir(pszDir);
        /* A directory not made yet (-outdir before the first run): its
         * canonical form once, not a realpath() per ancestor for each of
         * its paths. */
        if (psCache->pszCanonDir == NULL)
        {
            psCache->bMissing = errno == ENOENT || errno == ENOTDIR;
            psCache->pszCanonDir = CanonicalOfMissing(pszDir[0] ? pszDir : ".");
        }
        psCache->pszDir = pszDir;
    }
    else
        CPLFree(pszDir);
    /* realpath(dir/name) is realpath(dir)/name unless name is a symbolic
     * link: that takes the long way. In a directory that does not exist,
     * nothing is, and it is not looked for (an lstat() per output). */
    if (!psCache->bMissing && lstat(pszPath, &sStat) == 0 && S_ISLNK(sStat.st_mode))
        return BWCanonicalPath(pszPath);
    return InCanonicalDir(psCache->pszCanonDir, pszPath);
}

void BWCanonicalCacheClear(BWCanonicalCache *psCache)
{
    CPLFree(psCache->pszDir);
    CPLFree(psCache->pszCanonDir);
    psCache->pszDir = NULL;
    psCache->pszCanonDir = NULL;
    psCache->bMissing = FALSE;
}
