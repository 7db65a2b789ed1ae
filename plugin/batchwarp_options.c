#include "batchwarp_options.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_multiproc.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "batchwarp_report_reader.h"
#include "batchwarp_worker_config.h"

#define BW_DEFAULT_MAX_TASKS_PER_WORKER 500

/* The most values any gdalwarp option takes (-te has four). */
#define BW_MAX_WARP_OPTION_VALUES 8

typedef struct
{
    const char *pszName;
    int nValues;
} BWBatchOption;

/* Spellings chosen not to collide with any gdalwarp option; -q and
 * -overwrite are gdalwarp's, and are taken over with batch-wide meaning. */
static const BWBatchOption asBatchOptions[] = {
    {"-outdir", 1},
    {"-j", 1},
    {"-suffix", 1},
    {"-report", 1},
    {"-q", 0},
    {"-quiet", 0},
    {"-overwrite", 0},
    {"-max_tasks_per_worker", 1},
    {"-timeout", 1},
    {"-retries", 1},
    {"-retry_failed", 1},
    {"-worker_mem_limit", 1},
    {"-max_worker_rss", 1},
};

static const BWBatchOption *FindBatchOption(const char *pszArg)
{
    for (size_t i = 0; i < sizeof(asBatchOptions) / sizeof(asBatchOptions[0]); ++i)
    {
        if (EQUAL(pszArg, asBatchOptions[i].pszName))
            return &asBatchOptions[i];
    }
    return NULL;
}

static int IsOptionWord(const char *pszArg)
{
    return pszArg[0] == '-' && pszArg[1] != '\0';
}

/* Whether GDAL accepts papszArgv[0] followed by exactly nValues values. */
static int WarpAcceptsOption(char **papszArgv, int nValues)
{
    char **papszTry = NULL;
    for (int i = 0; i <= nValues; ++i)
        papszTry = CSLAddString(papszTry, papszArgv[i]);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALWarpAppOptions *psTry = GDALWarpAppOptionsNew(papszTry, NULL);
    CPLPopErrorHandler();
    CPLErrorReset();
    CSLDestroy(papszTry);
    if (psTry == NULL)
        return FALSE;
    GDALWarpAppOptionsFree(psTry);
    return TRUE;
}

/*
 * How many values follow gdalwarp option papszArgv[0]. GDAL publishes no
 * table of its options, so GDAL's own parser is asked: the smallest count it
 * accepts is the option's arity. This keeps every gdalwarp option of every
 * GDAL version working without a copy of its option list here. Returns -1
 * when no count is accepted (a bad value); the full parse then reports why.
 */
static int WarpOptionArity(char **papszArgv, int nAvailable)
{
    const int nMax =
        nAvailable < BW_MAX_WARP_OPTION_VALUES ? nAvailable : BW_MAX_WARP_OPTION_VALUES;
    for (int k = 0; k <= nMax; ++k)
    {
        if (WarpAcceptsOption(papszArgv, k))
            return k;
    }
    return -1;
}

static int ParsePositiveInt(const char *pszOption, const char *pszValue, int *pnOut)
{
    char *pszEnd = NULL;
    const long nValue = strtol(pszValue, &pszEnd, 10);
    if (pszEnd == pszValue || *pszEnd != '\0' || nValue < 0 || nValue > 1000000)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s expects a non-negative integer, got '%s'",
                 pszOption, pszValue);
        return FALSE;
    }
    *pnOut = (int)nValue;
    return TRUE;
}

/* Sizes as GDAL_CACHEMAX takes them: "512" (MB), "2GB", "10%" of RAM. */
static int ParseSize(const char *pszOption, const char *pszValue, GIntBig *pnOut)
{
    *pnOut = BWParseCacheMax(pszValue, CPLGetUsablePhysicalRAM());
    if (*pnOut < 0)
    {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "%s expects a size such as 512 (MB), 2GB or 10%%, got '%s'", pszOption, pszValue);
        return FALSE;
    }
    return TRUE;
}

static int ApplyBatchOption(GDALBatchWarpOptions *psOptions, const char *pszName,
                            const char *pszValue)
{
    if (EQUAL(pszName, "-outdir"))
    {
        CPLFree(psOptions->pszOutDir);
        psOptions->pszOutDir = CPLStrdup(pszValue);
    }
    else if (EQUAL(pszName, "-j"))
    {
        if (EQUAL(pszValue, "ALL_CPUS"))
            psOptions->nWorkers = CPLGetNumCPUs();
        else if (!ParsePositiveInt(pszName, pszValue, &psOptions->nWorkers))
            return FALSE;
        if (psOptions->nWorkers < 1)
        {
            CPLError(CE_Failure, CPLE_IllegalArg, "-j must be at least 1");
            return FALSE;
        }
    }
    else if (EQUAL(pszName, "-suffix"))
    {
        if (strchr(pszValue, '/') != NULL)
        {
            CPLError(CE_Failure, CPLE_IllegalArg, "-suffix must not contain '/': '%s'", pszValue);
            return FALSE;
        }
        CPLFree(psOptions->pszSuffix);
        psOptions->pszSuffix = CPLStrdup(pszValue);
    }
    else if (EQUAL(pszName, "-report"))
    {
        CPLFree(psOptions->pszReport);
        psOptions->pszReport = CPLStrdup(pszValue);
    }
    else if (EQUAL(pszName, "-q") || EQUAL(pszName, "-quiet"))
        psOptions->bQuiet = TRUE;
    else if (EQUAL(pszName, "-overwrite"))
        psOptions->bOverwrite = TRUE;
    else if (EQUAL(pszName, "-max_tasks_per_worker"))
        return ParsePositiveInt(pszName, pszValue, &psOptions->nMaxTasksPerWorker);
    else if (EQUAL(pszName, "-retries"))
        return ParsePositiveInt(pszName, pszValue, &psOptions->nRetries);
    else if (EQUAL(pszName, "-retry_failed"))
    {
        CPLFree(psOptions->pszRetryFailed);
        psOptions->pszRetryFailed = CPLStrdup(pszValue);
    }
    else if (EQUAL(pszName, "-worker_mem_limit"))
        return ParseSize(pszName, pszValue, &psOptions->nWorkerMemLimit);
    else if (EQUAL(pszName, "-max_worker_rss"))
        return ParseSize(pszName, pszValue, &psOptions->nMaxWorkerRSS);
    else if (EQUAL(pszName, "-timeout"))
    {
        char *pszEnd = NULL;
        psOptions->dfTaskTimeout = CPLStrtod(pszValue, &pszEnd);
        if (pszEnd == pszValue || *pszEnd != '\0' || psOptions->dfTaskTimeout < 0)
        {
            CPLError(CE_Failure, CPLE_IllegalArg, "-timeout expects seconds, got '%s'", pszValue);
            return FALSE;
        }
    }
    return TRUE;
}

/* Picks out what gdalwarp's library leaves to its binary, and what decides
 * output names, from one gdalwarp option and its values. */
static void NoteWarpOption(GDALBatchWarpOptions *psOptions, char **papszArgv, int nValues)
{
    const char *pszName = papszArgv[0];
    if (EQUAL(pszName, "-of") && nValues == 1)
    {
        CPLFree(psOptions->pszOutputFormat);
        psOptions->pszOutputFormat = CPLStrdup(papszArgv[1]);
    }
    else if (EQUAL(pszName, "-oo") && nValues == 1)
        psOptions->papszOpenOptions = CSLAddString(psOptions->papszOpenOptions, papszArgv[1]);
    else if (EQUAL(pszName, "-if") && nValues == 1)
        psOptions->papszInputDrivers = CSLAddString(psOptions->papszInputDrivers, papszArgv[1]);
    else if (EQUAL(pszName, "-multi"))
        psOptions->bUserSetWarpThreads = TRUE;
    else if (EQUAL(pszName, "-wo") && nValues == 1 && STARTS_WITH_CI(papszArgv[1], "NUM_THREADS="))
        psOptions->bUserSetWarpThreads = TRUE;
}

static int ResolveOutputDriver(GDALBatchWarpOptions *psOptions)
{
    if (psOptions->pszOutputFormat == NULL)
        psOptions->pszOutputFormat = CPLStrdup("GTiff");
    GDALDriverH hDriver = GDALGetDriverByName(psOptions->pszOutputFormat);
    if (hDriver == NULL)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "Output driver '%s' not recognised.",
                 psOptions->pszOutputFormat);
        return FALSE;
    }
    if (GDALGetMetadataItem(hDriver, GDAL_DCAP_CREATE, NULL) == NULL &&
        GDALGetMetadataItem(hDriver, GDAL_DCAP_CREATECOPY, NULL) == NULL)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "Output driver '%s' cannot write files.",
                 psOptions->pszOutputFormat);
        return FALSE;
    }
    const char *pszExt = GDALGetMetadataItem(hDriver, GDAL_DMD_EXTENSION, NULL);
    psOptions->pszOutputExtension = CPLStrdup(pszExt ? pszExt : "");
    return TRUE;
}

static int ParseArgv(GDALBatchWarpOptions *psOptions, char **papszArgv)
{
    const int nArgc = CSLCount(papszArgv);
    int bOnlySources = FALSE;
    for (int i = 0; i < nArgc; ++i)
    {
        const char *pszArg = papszArgv[i];
        if (bOnlySources || !IsOptionWord(pszArg))
        {
            psOptions->papszSources = CSLAddString(psOptions->papszSources, pszArg);
            continue;
        }
        if (strcmp(pszArg, "--") == 0)
        {
            bOnlySources = TRUE;
            continue;
        }
        const BWBatchOption *psBatch = FindBatchOption(pszArg);
        if (psBatch != NULL)
        {
            if (i + psBatch->nValues >= nArgc)
            {
                CPLError(CE_Failure, CPLE_IllegalArg, "%s option requires %d argument", pszArg,
                         psBatch->nValues);
                return FALSE;
            }
            if (!ApplyBatchOption(psOptions, psBatch->pszName,
                                  psBatch->nValues ? papszArgv[i + 1] : NULL))
                return FALSE;
            i += psBatch->nValues;
            continue;
        }
        /* Values may start with '-' (-te -180 ...), so the window for an
         * option's values ends only at a batch option or "--". */
        int nAvailable = 0;
        while (i + 1 + nAvailable < nArgc && strcmp(papszArgv[i + 1 + nAvailable], "--") != 0 &&
               FindBatchOption(papszArgv[i + 1 + nAvailable]) == NULL)
            ++nAvailable;
        const int nValues = WarpOptionArity(papszArgv + i, nAvailable);
        if (nValues < 0)
        {
            /* Let GDAL say what is wrong with this option's values. */
            char **papszBad = NULL;
            for (int k = 0; k <= nAvailable && k <= BW_MAX_WARP_OPTION_VALUES; ++k)
                papszBad = CSLAddString(papszBad, papszArgv[i + k]);
            GDALWarpAppOptions *psBad = GDALWarpAppOptionsNew(papszBad, NULL);
            CSLDestroy(papszBad);
            if (psBad != NULL)
            {
                GDALWarpAppOptionsFree(psBad);
                CPLError(CE_Failure, CPLE_IllegalArg, "Invalid use of option %s", pszArg);
            }
            return FALSE;
        }
        for (int k = 0; k <= nValues; ++k)
            psOptions->papszWarpArgs = CSLAddString(psOptions->papszWarpArgs, papszArgv[i + k]);
        NoteWarpOption(psOptions, papszArgv + i, nValues);
        i += nValues;
    }
    return TRUE;
}

static int ValidateOptions(GDALBatchWarpOptions *psOptions)
{
    if (psOptions->pszOutDir == NULL || psOptions->pszOutDir[0] == '\0')
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "No output directory given: use -outdir DIR.");
        return FALSE;
    }
    if (psOptions->pszRetryFailed != NULL)
    {
        if (psOptions->papszSources != NULL)
        {
            CPLError(CE_Failure, CPLE_IllegalArg,
                     "-retry_failed takes its sources from the report: give no source.");
            return FALSE;
        }
        char *pszError = NULL;
        if (!BWReportReadFailedSources(psOptions->pszRetryFailed, &psOptions->papszSources,
                                       &pszError))
        {
            CPLError(CE_Failure, CPLE_AppDefined, "%s", pszError);
            CPLFree(pszError);
            return FALSE;
        }
        psOptions->bNothingToRetry = psOptions->papszSources == NULL;
    }
    else if (CSLCount(psOptions->papszSources) == 0)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "No source raster given.");
        return FALSE;
    }
    /* gdalwarp's own checks, with GDAL's own messages. */
    GDALWarpAppOptions *psWarp = GDALWarpAppOptionsNew(psOptions->papszWarpArgs, NULL);
    if (psWarp == NULL)
        return FALSE;
    GDALWarpAppOptionsFree(psWarp);
    return ResolveOutputDriver(psOptions);
}

GDALBatchWarpOptions *GDALBatchWarpOptionsNew(char **papszArgv, int *pbUsageError)
{
    if (pbUsageError)
        *pbUsageError = FALSE;
    GDALAllRegister();
    GDALBatchWarpOptions *psOptions = CPLCalloc(1, sizeof(GDALBatchWarpOptions));
    psOptions->pszSuffix = CPLStrdup("");
    psOptions->nWorkers = CPLGetNumCPUs();
    psOptions->nMaxTasksPerWorker = BW_DEFAULT_MAX_TASKS_PER_WORKER;
    if (!ParseArgv(psOptions, papszArgv) || !ValidateOptions(psOptions))
    {
        GDALBatchWarpOptionsFree(psOptions);
        if (pbUsageError)
            *pbUsageError = TRUE;
        return NULL;
    }
    return psOptions;
}

void GDALBatchWarpOptionsFree(GDALBatchWarpOptions *psOptions)
{
    if (psOptions == NULL)
        return;
    CSLDestroy(psOptions->papszWarpArgs);
    CSLDestroy(psOptions->papszSources);
    CSLDestroy(psOptions->papszOpenOptions);
    CSLDestroy(psOptions->papszInputDrivers);
    CPLFree(psOptions->pszOutDir);
    CPLFree(psOptions->pszSuffix);
    CPLFree(psOptions->pszReport);
    CPLFree(psOptions->pszRetryFailed);
    CPLFree(psOptions->pszOutputFormat);
    CPLFree(psOptions->pszOutputExtension);
    CPLFree(psOptions);
}

void GDALBatchWarpOptionsSetProgress(GDALBatchWarpOptions *psOptions, GDALProgressFunc pfnProgress,
                                     void *pProgressData)
{
    psOptions->pfnProgress = pfnProgress;
    psOptions->pProgressData = pProgressData;
}

void GDALBatchWarpOptionsSetResultCallback(GDALBatchWarpOptions *psOptions,
                                           GDALBatchWarpResultFunc pfnResult, void *pUserData)
{
    psOptions->pfnResult = pfnResult;
    psOptions->pResultData = pUserData;
}

int GDALBatchWarpOptionsIsQuiet(const GDALBatchWarpOptions *psOptions)
{
    return psOptions->bQuiet;
}
