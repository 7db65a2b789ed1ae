#include "batchwarp_naming.h"

#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

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

static int FileExists(const char *pszPath)
{
    VSIStatBufL sStat;
    return VSIStatL(pszPath, &sStat) == 0;
}

/* A subdataset's name as GDAL's drivers spell it: DRIVER:"file":component
 * (netCDF, HDF5), DRIVER:file:component (GPKG) or DRIVER:n:file (GTIFF_DIR,
 * NITF_IM). If pszSource is one (it is no file itself, and its quoted part,
 * or one of its ':'-separated parts, is), the file (*ppszFile) and the rest
 * made a name's part (*ppszComponent: "" or like "Band1", "group_var"); else
 * FALSE. Only names that begin with a driver-like word and ':' are stat'ed,
 * so a listing of an object store costs no request here. */
static int SplitSubdataset(const char *pszSource, char **ppszFile, char **ppszComponent)
{
    const char *p = pszSource;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
        ++p;
    if (p == pszSource || *p != ':' || STARTS_WITH(p, "://") || STARTS_WITH(pszSource, "/vsi") ||
        FileExists(pszSource))
        return FALSE;
    const char *pszRest = p + 1;
    char *pszFile = NULL;
    BWStrBuf sComponent = BW_STRBUF_INIT;
    if (*pszRest == '"')
    {
        const char *pszEnd = strchr(pszRest + 1, '"');
        if (pszEnd != NULL)
        {
            pszFile = CPLStrdup(pszRest + 1);
            pszFile[pszEnd - pszRest - 1] = '\0';
            BWStrBufAddStr(&sComponent, pszEnd[1] == ':' ? pszEnd + 2 : pszEnd + 1);
        }
    }
    else
    {
        char **papszParts = CSLTokenizeString2(pszRest, ":", CSLT_ALLOWEMPTYTOKENS);
        for (int i = 0; papszParts != NULL && papszParts[i] != NULL; ++i)
        {
            if (pszFile == NULL && papszParts[i][0] != '\0' && FileExists(papszParts[i]))
                pszFile = CPLStrdup(papszParts[i]);
            else
            {
                if (sComponent.nLen > 0)
                    BWStrBufAddCh(&sComponent, '_');
                BWStrBufAddStr(&sComponent, papszParts[i]);
            }
        }
        CSLDestroy(papszParts);
    }
    char *pszComponent = BWStrBufDetach(&sComponent);
    if (pszFile == NULL || (!STARTS_WITH(pszFile, "/vsi") && !FileExists(pszFile)))
    {
        CPLFree(pszFile);
        CPLFree(pszComponent);
        return FALSE;
    }
    /* Only what names a file safely: "//grp/var" gives "grp_var". */
    size_t nOut = 0;
    for (const char *q = pszComponent; *q; ++q)
    {
        const int bKeep = (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
                          (*q >= '0' && *q <= '9') || *q == '-' || *q == '.';
        if (bKeep || (nOut > 0 && pszComponent[nOut - 1] != '_'))
            pszComponent[nOut++] = bKeep ? *q : '_';
    }
    while (nOut > 0 && pszComponent[nOut - 1] == '_')
        --nOut;
    pszComponent[nOut] = '\0';
    *ppszFile = pszFile;
    *ppszComponent = pszComponent;
    return TRUE;
}

/* The same, for a source spelled as a directory ("x.zarr/", "/vsizip/a.zip/",
 * a dataset that is a directory, or an archive of one member) named by its
 * last component, as without the slash: its name is not "" (an output
 * "<outdir>/.tif", hidden). A subdataset (NETCDF:"a.nc":Band1) is named by
 * its file, not as a path whose name is 'a.nc":Band1' (an output
 * 'NETCDF:"a.tif'). */
static char *PlaceholderValue(const char *pszKey, size_t nKeyLen, const char *pszSource,
                              const char *pszRelDir, const char *pszSuffix,
                              const char *pszExtension)
{
    char *pszFile = NULL;
    char *pszComponent = NULL;
    const int bSubdataset = SplitSubdataset(pszSource, &pszFile, &pszComponent);
    char *pszTrimmed = bSubdataset ? pszFile : CPLStrdup(pszSource);
    size_t nLen = strlen(pszTrimmed);
    while (nLen > 1 && pszTrimmed[nLen - 1] == '/')
        pszTrimmed[--nLen] = '\0';
    char *pszValue =
        PlaceholderValueOf(pszKey, nKeyLen, pszTrimmed, pszRelDir, pszSuffix, pszExtension);
    /* A subdataset's stem is its file's and its own: "a.nc" and "Band1"
     * give a_Band1, so that the subdatasets of one file differ. */
    if (pszValue != NULL && bSubdataset && pszComponent[0] != '\0' && nKeyLen == strlen("stem") &&
        strncmp(pszKey, "stem", nKeyLen) == 0)
    {
        char *pszStem = BWStrPrintf("%s_%s", pszValue, pszComponent);
        CPLFree(pszValue);
        pszValue = pszStem;
    }
    CPLFree(pszTrimmed);
    CPLFree(pszComponent);
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
