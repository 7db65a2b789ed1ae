#include "batchwarp_worker_config.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_util.h"

GIntBig BWParseCacheMax(const char *pszValue, GIntBig nPhysicalRAM)
{
    char *pszEnd = NULL;
    const double dfValue = CPLStrtod(pszValue, &pszEnd);
    /* !(>= 0): NaN is no size either. */
    if (pszEnd == pszValue || !(dfValue >= 0))
        return -1;
    while (*pszEnd == ' ')
        ++pszEnd;
    if (*pszEnd == '%')
        return pszEnd[1] == '\0' ? BWBytesFromDouble(dfValue / 100.0 * (double)nPhysicalRAM) : -1;
    if (EQUAL(pszEnd, "KB"))
        return BWBytesFromDouble(dfValue * 1024);
    if (EQUAL(pszEnd, "MB"))
        return BWBytesFromDouble(dfValue * 1024 * 1024);
    if (EQUAL(pszEnd, "GB"))
        return BWBytesFromDouble(dfValue * 1024 * 1024 * 1024);
    if (*pszEnd != '\0')
        return -1;
    /* GDAL's rule: small numbers are megabytes, large ones bytes. */
    return BWBytesFromDouble(dfValue < 100000 ? dfValue * 1024 * 1024 : dfValue);
}

GIntBig BWTotalCacheBudget(void)
{
    const GIntBig nRAM = CPLGetUsablePhysicalRAM();
    const char *pszUser = CPLGetConfigOption("GDAL_CACHEMAX", NULL);
    if (pszUser != NULL)
    {
        const GIntBig nUser = BWParseCacheMax(pszUser, nRAM);
        if (nUser >= 0)
            return nUser;
    }
    return nRAM / 20;
}

int BWCompressorThreadsQualify(CSLConstList papszWarpArgs, const char *pszFormat)
{
    /* LERC is left out: its bytes differ from run to run even with one
     * thread, so nothing can be checked. */
    static const char *const apszChecked[] = {"DEFLATE", "LZW",  "ZSTD",     "JPEG",
                                              "WEBP",    "LZMA", "PACKBITS", NULL};
    if (pszFormat == NULL || (!EQUAL(pszFormat, "GTiff") && !EQUAL(pszFormat, "COG")))
        return FALSE;
    const char *pszCompress = NULL;
    for (int i = 0; papszWarpArgs && papszWarpArgs[i] && papszWarpArgs[i + 1]; ++i)
    {
        if (!EQUAL(papszWarpArgs[i], "-co"))
            continue;
        const char *pszValue = papszWarpArgs[i + 1];
        if (STARTS_WITH_CI(pszValue, "NUM_THREADS="))
            return FALSE;
        if (STARTS_WITH_CI(pszValue, "COMPRESS="))
            pszCompress = pszValue + strlen("COMPRESS=");
    }
    /* COG compresses with LZW by default; an uncompressed GTiff has no
     * compressor threads to give. */
    if (pszCompress == NULL)
        pszCompress = EQUAL(pszFormat, "COG") ? "LZW" : "NONE";
    return CSLFindString((CSLConstList)apszChecked, pszCompress) >= 0;
}

static char **AddConfig(char **papszFields, const char *pszKey, const char *pszValue)
{
    return CSLAddString(papszFields, CPLSPrintf("CONFIG=%s=%s", pszKey, pszValue));
}

/* Our default for a worker unless the user chose a value (--config or the
 * environment), which is then passed on as given. */
static char **AddDefaultConfig(char **papszFields, const char *pszKey, const char *pszDefault)
{
    const char *pszUser = CPLGetConfigOption(pszKey, NULL);
    return AddConfig(papszFields, pszKey, pszUser ? pszUser : pszDefault);
}

static char **AddUserConfig(char **papszFields, CSLConstList papszConfig)
{
    for (CSLConstList papszIter = papszConfig; papszIter && *papszIter; ++papszIter)
    {
        char *pszKey = NULL;
        const char *pszValue = CPLParseNameValue(*papszIter, &pszKey);
        if (pszKey != NULL && pszValue != NULL && !EQUAL(pszKey, "GDAL_CACHEMAX"))
            papszFields = AddConfig(papszFields, pszKey, pszValue);
        CPLFree(pszKey);
    }
    return papszFields;
}

char **BWBuildInitFields(const GDALBatchWarpOptions *psOptions, const BWBudget *psBudget)
{
    char **papszFields = NULL;

    /* In bytes, as GDAL reads values of 100000 and more. */
    papszFields = AddConfig(papszFields, "GDAL_CACHEMAX",
                            CPLSPrintf(CPL_FRMT_GIB, psBudget->nCachePerWorker));
    /* One thread per worker: N workers already use N cores. The warper and
     * the GTiff compressor both read it when not told otherwise, and a tail
     * task raises it (THREADS in its TASK message). */
    papszFields = AddDefaultConfig(papszFields, "GDAL_NUM_THREADS", "1");
    /* A per-worker VSI cache would be duplicated N times. */
    papszFields = AddDefaultConfig(papszFields, "VSI_CACHE", "FALSE");
    /* Listing a directory of thousands of rasters on every open is the
     * dominant cost for small files; sidecars are still found by stat(). */
    papszFields = AddDefaultConfig(papszFields, "GDAL_DISABLE_READDIR_ON_OPEN", "YES");

    if (psOptions->bStrictErrors)
        papszFields = CSLAddString(papszFields, "STRICT_ERRORS=1");
    if (psOptions->nWorkerMemLimit > 0)
        papszFields = CSLAddString(
            papszFields, CPLSPrintf("MEMORY_LIMIT=" CPL_FRMT_GIB, psOptions->nWorkerMemLimit));

    /* Everything set with --config or CPLSetConfigOption in this process.
     * Later fields override earlier ones in the worker. */
    char **papszGlobal = CPLGetConfigOptions();
    papszFields = AddUserConfig(papszFields, papszGlobal);
    CSLDestroy(papszGlobal);
    char **papszLocal = CPLGetThreadLocalConfigOptions();
    papszFields = AddUserConfig(papszFields, papszLocal);
    CSLDestroy(papszLocal);

    for (CSLConstList papszIter = psOptions->papszWarpArgs; papszIter && *papszIter; ++papszIter)
        papszFields = CSLAddString(papszFields, CPLSPrintf("WARP_ARG=%s", *papszIter));
    for (CSLConstList papszIter = psOptions->papszOpenOptions; papszIter && *papszIter; ++papszIter)
        papszFields = CSLAddString(papszFields, CPLSPrintf("OPEN_OPTION=%s", *papszIter));
    for (CSLConstList papszIter = psOptions->papszInputDrivers; papszIter && *papszIter;
         ++papszIter)
        papszFields = CSLAddString(papszFields, CPLSPrintf("INPUT_DRIVER=%s", *papszIter));
    return papszFields;
}

const char *const BW_HTTP_RETRY_DEFAULTS[] = {
    /* Up to 5 retries, GDAL's backoff doubling a 0.5 s delay (with jitter):
     * about 15 s of patience for a throttled bucket. */
    "GDAL_HTTP_MAX_RETRY=5",
    "GDAL_HTTP_RETRY_DELAY=0.5",
    NULL,
};

char **BWNetworkDefaultsPush(void)
{
    char **papszSet = NULL;
    for (int i = 0; BW_HTTP_RETRY_DEFAULTS[i] != NULL; ++i)
    {
        char *pszKey = NULL;
        const char *pszValue = CPLParseNameValue(BW_HTTP_RETRY_DEFAULTS[i], &pszKey);
        if (pszKey != NULL && CPLGetConfigOption(pszKey, NULL) == NULL)
        {
            CPLSetThreadLocalConfigOption(pszKey, pszValue);
            papszSet = CSLAddString(papszSet, pszKey);
        }
        CPLFree(pszKey);
    }
    return papszSet;
}

void BWNetworkDefaultsPop(char **papszKeys)
{
    for (char **papszIter = papszKeys; papszIter && *papszIter; ++papszIter)
        CPLSetThreadLocalConfigOption(*papszIter, NULL);
    CSLDestroy(papszKeys);
}

int BWIsNetworkPath(const char *pszPath)
{
    static const char *const apszPrefixes[] = {
        "/vsis3",   "/vsigs",   "/vsiaz",  "/vsiadls", "/vsioss", "/vsiswift", "/vsiwebhdfs",
        "/vsicurl", "/vsihdfs", "http://", "https://", "ftp://",  NULL,
    };
    for (int i = 0; apszPrefixes[i] != NULL; ++i)
    {
        /* Also inside a chain: /vsizip//vsis3/bucket/a.zip/x.tif. */
        if (strstr(pszPath, apszPrefixes[i]) != NULL)
            return TRUE;
    }
    return FALSE;
}
