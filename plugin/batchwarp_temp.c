#include "batchwarp_temp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#define BW_TEMP_PREFIX ".batchwarp-tmp-"

/* This machine's name, reduced to characters that cannot be confused with
 * the separators of a temporary name. */
static void HostTag(char *pszOut, size_t nSize)
{
    if (gethostname(pszOut, nSize) != 0)
        snprintf(pszOut, nSize, "localhost");
    pszOut[nSize - 1] = '\0';
    for (char *p = pszOut; *p; ++p)
    {
        if (*p == '.' || *p == '-' || *p == '/')
            *p = '_';
    }
}

char *BWTempDirName(void)
{
    char szHost[256];
    HostTag(szHost, sizeof(szHost));
    return CPLStrdup(CPLSPrintf(BW_TEMP_PREFIX "%s-%ld", szHost, (long)getpid()));
}

char *BWTempPathFor(const char *pszOutput, const char *pszExtension)
{
    (void)pszExtension;
    char *pszTempDir = BWTempDirName();
    char *pszDir = CPLStrdup(CPLFormFilename(CPLGetPath(pszOutput), pszTempDir, NULL));
    char *pszTemp = CPLStrdup(CPLFormFilename(pszDir, CPLGetFilename(pszOutput), NULL));
    CPLFree(pszDir);
    CPLFree(pszTempDir);
    return pszTemp;
}

int BWIsTempName(const char *pszName)
{
    return STARTS_WITH(pszName, BW_TEMP_PREFIX);
}

int BWMakeTempDir(const char *pszDir)
{
    char *pszTempDir = BWTempDirName();
    const char *pszPath = CPLFormFilename(pszDir, pszTempDir, NULL);
    VSIStatBufL sStat;
    const int bOk = VSIMkdir(pszPath, 0755) == 0 ||
                    (VSIStatL(pszPath, &sStat) == 0 && VSI_ISDIR(sStat.st_mode));
    CPLFree(pszTempDir);
    return bOk;
}

void BWRemoveTempDir(const char *pszDir)
{
    char *pszTempDir = BWTempDirName();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    VSIRmdirRecursive(CPLFormFilename(pszDir, pszTempDir, NULL));
    CPLPopErrorHandler();
    CPLErrorReset();
    CPLFree(pszTempDir);
}

/* Whether a temporary directory was left by a run that is gone: one of this
 * machine whose process no longer exists. */
static int IsStaleTemp(const char *pszName)
{
    const char *pszTag = pszName + strlen(BW_TEMP_PREFIX);
    const char *pszDash = strrchr(pszTag, '-');
    if (pszDash == NULL)
        return FALSE;
    char szHost[256];
    HostTag(szHost, sizeof(szHost));
    if ((size_t)(pszDash - pszTag) != strlen(szHost) ||
        strncmp(pszTag, szHost, (size_t)(pszDash - pszTag)) != 0)
        return FALSE;
    char *pszEnd = NULL;
    const long nPid = strtol(pszDash + 1, &pszEnd, 10);
    if (pszEnd == pszDash + 1 || *pszEnd != '\0' || nPid <= 0)
        return FALSE;
    return nPid != (long)getpid() && kill((pid_t)nPid, 0) != 0 && errno == ESRCH;
}

int BWRemoveStaleTemps(const char *pszDir)
{
    char **papszEntries = VSIReadDir(pszDir);
    int nRemoved = 0;
    for (char **papszIter = papszEntries; papszIter && *papszIter; ++papszIter)
    {
        if (BWIsTempName(*papszIter) && IsStaleTemp(*papszIter) &&
            VSIRmdirRecursive(CPLFormFilename(pszDir, *papszIter, NULL)) == 0)
            ++nRemoved;
    }
    CSLDestroy(papszEntries);
    if (nRemoved > 0)
        CPLDebug("BATCHWARP", "removed %d temporary directories of earlier runs from %s", nRemoved,
                 pszDir);
    return nRemoved;
}
