#include "batchwarp_naming.h"

#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_util.h"

static char *Fail(char **ppszError, const char *pszMessage)
{
    if (ppszError != NULL)
        *ppszError = CPLStrdup(pszMessage);
    return NULL;
}

/* The value of a placeholder (CPLFree it), or NULL for an unknown one. */
static char *PlaceholderValue(const char *pszKey, size_t nKeyLen, const char *pszSource,
                              const char *pszRelDir, const char *pszSuffix,
                              const char *pszExtension)
{
#define BW_KEY_IS(name) (nKeyLen == strlen(name) && strncmp(pszKey, name, nKeyLen) == 0)
    if (BW_KEY_IS("stem"))
        return BWPathStem(pszSource);
    if (BW_KEY_IS("name"))
        return CPLStrdup(BWPathName(pszSource));
    if (BW_KEY_IS("ext"))
        return CPLStrdup(pszExtension);
    if (BW_KEY_IS("suffix"))
        return CPLStrdup(pszSuffix);
    if (BW_KEY_IS("relpath"))
        return CPLStrdup(pszRelDir);
    if (BW_KEY_IS("parent"))
    {
        char *pszDir = BWPathDir(pszSource);
        char *pszParent = CPLStrdup(BWPathName(pszDir));
        CPLFree(pszDir);
        return pszParent;
    }
#undef BW_KEY_IS
    return NULL;
}

/* Joins the non-empty '/'-separated components of pszIn; FALSE if one is
 * "." or "..", which would leave or blur -outdir. */
static int NormaliseComponents(const char *pszIn, char **ppszOut)
{
    char **papszParts = CSLTokenizeString2(pszIn, "/", 0);
    int bOk = TRUE;
    char *pszOut = CPLStrdup("");
    for (char **papszIter = papszParts; papszIter && *papszIter && bOk; ++papszIter)
    {
        if (strcmp(*papszIter, ".") == 0 || strcmp(*papszIter, "..") == 0)
        {
            bOk = FALSE;
            break;
        }
        char *pszJoined =
            CPLStrdup(pszOut[0] ? CPLSPrintf("%s/%s", pszOut, *papszIter) : *papszIter);
        CPLFree(pszOut);
        pszOut = pszJoined;
    }
    CSLDestroy(papszParts);
    *ppszOut = pszOut;
    return bOk && pszOut[0] != '\0';
}

char *BWExpandOutputTemplate(const char *pszTemplate, const char *pszSource, const char *pszRelDir,
                             const char *pszSuffix, const char *pszExtension, char **ppszError)
{
    char *pszOut = CPLStrdup("");
    for (const char *p = pszTemplate; *p;)
    {
        char *pszValue = NULL;
        size_t nConsumed = 1;
        if (*p == '{')
        {
            const char *pszEnd = strchr(p, '}');
            if (pszEnd == NULL)
            {
                CPLFree(pszOut);
                return Fail(ppszError,
                            CPLSPrintf("Output template '%s' has an unclosed '{'.", pszTemplate));
            }
            pszValue = PlaceholderValue(p + 1, (size_t)(pszEnd - p - 1), pszSource, pszRelDir,
                                        pszSuffix, pszExtension);
            if (pszValue == NULL)
            {
                CPLFree(pszOut);
                return Fail(ppszError,
                            CPLSPrintf("Output template '%s': unknown placeholder '%.*s' (known: "
                                       "{stem} {name} {ext} {suffix} {relpath} {parent}).",
                                       pszTemplate, (int)(pszEnd - p + 1), p));
            }
            nConsumed = (size_t)(pszEnd - p + 1);
            /* "x.{ext}" with a driver without an extension gives "x". */
            const size_t nOut = strlen(pszOut);
            if (pszValue[0] == '\0' && nConsumed == strlen("{ext}") &&
                strncmp(p, "{ext}", nConsumed) == 0 && nOut > 0 && pszOut[nOut - 1] == '.')
                pszOut[nOut - 1] = '\0';
        }
        char *pszJoined = CPLStrdup(pszValue ? CPLSPrintf("%s%s", pszOut, pszValue)
                                             : CPLSPrintf("%s%c", pszOut, *p));
        CPLFree(pszOut);
        CPLFree(pszValue);
        pszOut = pszJoined;
        p += nConsumed;
    }
    char *pszNormal = NULL;
    const int bOk = pszTemplate[0] != '/' && NormaliseComponents(pszOut, &pszNormal);
    CPLFree(pszOut);
    if (!bOk)
    {
        Fail(ppszError,
             CPLSPrintf("Output template '%s' gives '%s' for '%s': an output name must be a "
                        "relative path inside -outdir, without '.' or '..'.",
                        pszTemplate, pszNormal ? pszNormal : "", pszSource));
        CPLFree(pszNormal);
        return NULL;
    }
    return pszNormal;
}
