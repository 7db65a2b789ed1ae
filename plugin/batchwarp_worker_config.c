#include "batchwarp_worker_config.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "batchwarp_strbuf.h"
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

/* Configuration options that GDAL's network file systems read for each path
 * (VSIGetPathSpecificOption): credentials, endpoints and HTTP settings, which
 * a caller may have set for one bucket or prefix alone
 * (VSISetPathSpecificOption, gdal.SetPathSpecificOption in Python). */
static const char *const apszPathSpecificKeys[] = {
    /* /vsis3/ */
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_NO_SIGN_REQUEST",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING",
    "AWS_REQUEST_PAYER", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_STS_ENDPOINT", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "CPL_AWS_CREDENTIALS_FILE", "CPL_AWS_AUTODETECT_EC2",
    "CPL_AWS_EC2_API_ROOT_URL", "CPL_AWS_ECS_CREDENTIAL_URL", "CPL_AWS_STS_ROOT_URL",
    "CPL_AWS_WEB_IDENTITY_ENABLE", "CPL_VSIS3_USE_BASE_RMDIR_RECURSIVE", "VSIS3_CHUNK_SIZE",
    /* /vsigs/ */
    "GS_ACCESS_KEY_ID", "GS_SECRET_ACCESS_KEY", "GS_NO_SIGN_REQUEST", "GS_USER_PROJECT",
    "GS_OAUTH2_REFRESH_TOKEN", "GS_OAUTH2_CLIENT_ID", "GS_OAUTH2_CLIENT_SECRET",
    "GS_OAUTH2_PRIVATE_KEY", "GS_OAUTH2_PRIVATE_KEY_FILE", "GS_OAUTH2_CLIENT_EMAIL",
    "GS_OAUTH2_SCOPE", "GOOGLE_APPLICATION_CREDENTIALS", "CPL_GS_ENDPOINT",
    "CPL_GS_CREDENTIALS_FILE", "CPL_MACHINE_IS_GCE",
    /* /vsiaz/, /vsiadls/ */
    "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_ACCESS_TOKEN", "AZURE_STORAGE_SAS_TOKEN", "AZURE_SAS", "AZURE_NO_SIGN_REQUEST",
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
    "CPL_AZURE_ENDPOINT", "CPL_AZURE_USE_HTTPS", "CPL_AZURE_VM_API_ROOT_URL",
    /* /vsioss/, /vsiswift/, /vsiwebhdfs/ */
    "OSS_ACCESS_KEY_ID", "OSS_SECRET_ACCESS_KEY", "OSS_ENDPOINT", "OSS_HTTPS",
    "OSS_VIRTUAL_HOSTING", "SWIFT_STORAGE_URL", "SWIFT_AUTH_TOKEN", "SWIFT_AUTH_V1_URL",
    "SWIFT_USER", "SWIFT_KEY", "OS_IDENTITY_API_VERSION", "OS_AUTH_URL", "OS_USERNAME",
    "OS_PASSWORD", "OS_USER_DOMAIN_NAME", "OS_PROJECT_NAME", "OS_PROJECT_DOMAIN_NAME",
    "OS_REGION_NAME", "WEBHDFS_USERNAME", "WEBHDFS_DELEGATION", "WEBHDFS_DATANODE_HOST",
    /* HTTP, all of them */
    "GDAL_HTTP_HEADERS", "GDAL_HTTP_HEADER_FILE", "GDAL_HTTP_USERPWD", "GDAL_HTTP_AUTH",
    "GDAL_HTTP_BEARER", "GDAL_HTTP_PROXY", "GDAL_HTTPS_PROXY", "GDAL_HTTP_PROXYUSERPWD",
    "GDAL_PROXY_AUTH", "GDAL_HTTP_COOKIE", "GDAL_HTTP_COOKIEFILE", "GDAL_HTTP_COOKIEJAR",
    "GDAL_HTTP_USERAGENT", "GDAL_HTTP_TIMEOUT", "GDAL_HTTP_CONNECTTIMEOUT", "GDAL_HTTP_MAX_RETRY",
    "GDAL_HTTP_RETRY_DELAY", "GDAL_HTTP_RETRY_CODES", "GDAL_HTTP_UNSAFESSL", "GDAL_HTTP_VERSION",
    "GDAL_HTTP_NETRC", "GDAL_HTTP_NETRC_FILE", "GDAL_HTTP_SSLCERT", "GDAL_HTTP_SSLCERTTYPE",
    "GDAL_HTTP_SSLKEY", "GDAL_HTTP_KEYPASSWD", "GDAL_HTTP_CAPATH", "CURL_CA_BUNDLE",
    "SSL_CERT_FILE", "GDAL_HTTP_LOW_SPEED_TIME", "GDAL_HTTP_LOW_SPEED_LIMIT",
    "GDAL_HTTP_TCP_KEEPALIVE", "GDAL_HTTP_TCP_KEEPIDLE", "GDAL_HTTP_TCP_KEEPINTVL",
    "GDAL_HTTP_PROXY_SSL_VERIFYPEER", "GDAL_HTTP_MAX_CACHED_CONNECTIONS",
    "GDAL_HTTP_MAX_TOTAL_CONNECTIONS", "CPL_VSIL_CURL_USE_HEAD", "CPL_VSIL_CURL_CHUNK_SIZE",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS", "CPL_VSIL_CURL_USE_S3_REDIRECT", "CPL_VSIL_CURL_NON_CACHED",
    "CPL_VSIL_CURL_IGNORE_GLACIER_STORAGE", "CPL_CURL_GZIP", "GDAL_DISABLE_READDIR_ON_OPEN",
    "VSI_CACHE", "VSI_CACHE_SIZE", NULL};

static int CompareStringPointers(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char **BWAddPathSpecificOptions(char **papszFields, const char *const *papszPaths, int nPaths)
{
    /* Each network directory once: the options of its prefix. */
    char **papszDirs = CPLCalloc((size_t)nPaths + 1, sizeof(char *));
    int nDirs = 0;
    for (int i = 0; i < nPaths; ++i)
    {
        if (papszPaths[i] == NULL || !BWIsNetworkPath(papszPaths[i]))
            continue;
        char *pszDir = BWPathDir(papszPaths[i]);
        if (pszDir[0] != '\0')
            papszDirs[nDirs++] = BWStrPrintf("%s/", pszDir);
        CPLFree(pszDir);
    }
    if (nDirs > 1)
        qsort(papszDirs, (size_t)nDirs, sizeof(char *), CompareStringPointers);
    for (int i = 0; i < nDirs; ++i)
    {
        if (i > 0 && strcmp(papszDirs[i], papszDirs[i - 1]) == 0)
            continue;
        char **papszSet = NULL;
        for (int k = 0; apszPathSpecificKeys[k] != NULL; ++k)
        {
            const char *pszForPath =
                VSIGetPathSpecificOption(papszDirs[i], apszPathSpecificKeys[k], NULL);
            char *pszValue = pszForPath ? CPLStrdup(pszForPath) : NULL;
            const char *pszGlobal = CPLGetConfigOption(apszPathSpecificKeys[k], NULL);
            if (pszValue != NULL && (pszGlobal == NULL || strcmp(pszValue, pszGlobal) != 0))
            {
                char *pszField =
                    BWStrPrintf("PATH_OPTION=%s=%s", apszPathSpecificKeys[k], pszValue);
                papszSet = CSLAddString(papszSet, pszField);
                CPLFree(pszField);
            }
            CPLFree(pszValue);
        }
        if (papszSet != NULL)
        {
            char *pszField = BWStrPrintf("PATH_PREFIX=%s", papszDirs[i]);
            papszFields = CSLAddString(papszFields, pszField);
            CPLFree(pszField);
            for (char **papszIter = papszSet; *papszIter; ++papszIter)
                papszFields = CSLAddString(papszFields, *papszIter);
            CSLDestroy(papszSet);
        }
    }
    for (int i = 0; i < nDirs; ++i)
        CPLFree(papszDirs[i]);
    CPLFree(papszDirs);
    return papszFields;
}

const char *const BW_HTTP_RETRY_DEFAULTS[] = {
    /* Up to 5 retries, GDAL's backoff doubling a 0.5 s delay (with jitter):
     * about 15 s of patience for a throttled bucket. */
    "GDAL_HTTP_MAX_RETRY=5",
    "GDAL_HTTP_RETRY_DELAY=0.5",
    /* A reply that brings nothing for 30 s (a connection gone dead on the
     * way: a NAT or a load balancer that forgot it) ends, and is tried
     * again like a dropped one, instead of holding its task, or the plan's
     * listing, until the kernel gives up on it (hours) or the task's
     * -timeout. Stores answer within seconds, and keep a long
     * CompleteMultipartUpload alive with whitespace. */
    "GDAL_HTTP_LOW_SPEED_TIME=30",
    "GDAL_HTTP_LOW_SPEED_LIMIT=1",
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
