#include "batchwarp_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
