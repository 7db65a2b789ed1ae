#include "batchwarp_naming.h"

#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_strbuf.h"
#include "batchwarp_util.h"

/* Takes pszMessage (from BWStrPrintf) into *ppszError. */
static char *Fail(char **ppszError, char *pszMessage)
{
    if (ppszError != NULL)
        *ppszError = pszMessage;
    else
        CPLFree(pszMessage);
    return NULL;
}

/* The value of a placeholder (CPLFree it), or NULL for an unknown one. */
static char *PlaceholderValueOf(const char *pszKey, size_t nKeyLen, const char *pszSource,
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

/* The same, for a source spelled as a directory ("x.zarr/", "/vsizip/a.zip/",
 * a dataset that is a directory, or an archive of one member) named by its
 * last component, as without the slash: its name is not "" (an output
 * "<outdir>/.tif", hidden). */
static char *PlaceholderValue(const char *pszKey, size_t nKeyLen, const char *pszSource,
                              const char *pszRelDir, const char *pszSuffix,
                              const char *pszExtension)
{
    char *pszTrimmed = CPLStrdup(pszSource);
    size_t nLen = strlen(pszTrimmed);
    while (nLen > 1 && pszTrimmed[nLen - 1] == '/')
        pszTrimmed[--nLen] = '\0';
    char *pszValue =
        PlaceholderValueOf(pszKey, nKeyLen, pszTrimmed, pszRelDir, pszSuffix, pszExtension);
    CPLFree(pszTrimmed);
    return pszValue;
}

/* Joins the non-empty '/'-separated components of pszIn; FALSE if one is
 * "." or "..", which would leave or blur -outdir. */
static int NormaliseComponents(const char *pszIn, char **ppszOut)
{
    char **papszParts = CSLTokenizeString2(pszIn, "/", 0);
    int bOk = TRUE;
    BWStrBuf sOut = BW_STRBUF_INIT;
    for (char **papszIter = papszParts; papszIter && *papszIter && bOk; ++papszIter)
    {
        if (strcmp(*papszIter, ".") == 0 || strcmp(*papszIter, "..") == 0)
        {
            bOk = FALSE;
            break;
        }
        if (sOut.nLen > 0)
            BWStrBufAddCh(&sOut, '/');
        BWStrBufAddStr(&sOut, *papszIter);
    }
    CSLDestroy(papszParts);
    *ppszOut = BWStrBufDetach(&sOut);
    return bOk && (*ppszOut)[0] != '\0';
}

char *BWExpandOutputTemplate(const char *pszTemplate, const char *pszSource, const char *pszRelDir,
                             const char *pszSuffix, const char *pszExtension, char **ppszError)
{
    BWStrBuf sOut = BW_STRBUF_INIT;
    for (const char *p = pszTemplate; *p;)
    {
        char *pszValue = NULL;
        size_t nConsumed = 1;
        if (*p == '{')
        {
            const char *pszEnd = strchr(p, '}');
            if (pszEnd == NULL)
            {
                BWStrBufRelease(&sOut);
                return Fail(ppszError,
                            BWStrPrintf("Output template '%s' has an unclosed '{'.", pszTemplate));
            }
            pszValue = PlaceholderValue(p + 1, (size_t)(pszEnd - p - 1), pszSource, pszRelDir,
                                        pszSuffix, pszExtension);
            if (pszValue == NULL)
            {
                BWStrBufRelease(&sOut);
                return Fail(ppszError,
                            BWStrPrintf("Output template '%s': unknown placeholder '%.*s' (known: "
                                        "{stem} {name} {ext} {suffix} {relpath} {parent}).",
                                        pszTemplate, (int)(pszEnd - p + 1), p));
            }
            nConsumed = (size_t)(pszEnd - p + 1);
            /* "x.{ext}" with a driver without an extension gives "x". */
            if (pszValue[0] == '\0' && nConsumed == strlen("{ext}") &&
                strncmp(p, "{ext}", nConsumed) == 0 && sOut.nLen > 0 &&
                sOut.pszBuf[sOut.nLen - 1] == '.')
                BWStrBufSetLength(&sOut, sOut.nLen - 1);
        }
        if (pszValue != NULL)
            BWStrBufAddStr(&sOut, pszValue);
        else
            BWStrBufAddCh(&sOut, *p);
        CPLFree(pszValue);
        p += nConsumed;
    }
    char *pszNormal = NULL;
    const int bOk = pszTemplate[0] != '/' && NormaliseComponents(BWStrBufGet(&sOut), &pszNormal);
    BWStrBufRelease(&sOut);
    if (!bOk)
    {
        Fail(ppszError,
             BWStrPrintf("Output template '%s' gives '%s' for '%s': an output name must be a "
                         "relative path inside -outdir, without '.' or '..'.",
                         pszTemplate, pszNormal ? pszNormal : "", pszSource));
        CPLFree(pszNormal);
        return NULL;
    }
    return pszNormal;
}
