#include "batchwarp_options.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_multiproc.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "batchwarp_option_table.h"
#include "batchwarp_report.h"
#include "batchwarp_report_reader.h"
#include "batchwarp_naming.h"
#include "batchwarp_shard.h"
#include "batchwarp_sources.h"
#include "batchwarp_worker_config.h"
#include "batchwarp_util.h"

/* The most values any gdalwarp option takes (-te has four). */
#define BW_MAX_WARP_OPTION_VALUES 8

/* The spellings of the batch options (every name and alias of the table),
 * for tests that sweep them all. */
static const char *SpellingAt(int iSpelling, const BWOptionSpec **ppsSpec)
{
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = BWOptionSpecAt(i);
        *ppsSpec = psSpec;
        if (iSpelling-- == 0)
            return psSpec->pszName;
        for (const char *const *ppszAlias = psSpec->papszAliases; ppszAlias && *ppszAlias;
             ++ppszAlias)
        {
            if (iSpelling-- == 0)
                return *ppszAlias;
        }
    }
    *ppsSpec = NULL;
    return NULL;
}

int BWBatchOptionCount(void)
{
    const BWOptionSpec *psSpec = NULL;
    int nCount = 0;
    while (SpellingAt(nCount, &psSpec) != NULL)
        ++nCount;
    return nCount;
}

const char *BWBatchOptionName(int iOption)
{
    const BWOptionSpec *psSpec = NULL;
    return SpellingAt(iOption, &psSpec);
}

int BWBatchOptionValueCount(int iOption)
{
    const BWOptionSpec *psSpec = NULL;
    SpellingAt(iOption, &psSpec);
    return psSpec ? psSpec->nValues : 0;
}

static int IsOptionWord(const char *pszArg)
{
    return pszArg[0] == '-' && pszArg[1] != '\0';
}

/* Whether GDAL accepts papszArgv[0] followed by exactly nValues values,
 * after the words of papszBefore. */
static int WarpAcceptsWords(const char *const *papszBefore, char **papszArgv, int nValues)
{
    char **papszTry = NULL;
    for (int i = 0; papszBefore && papszBefore[i]; ++i)
        papszTry = CSLAddString(papszTry, papszBefore[i]);
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

/* Whether GDAL accepts papszArgv[0] followed by exactly nValues values.
 * GDAL 3.7 and later refuse -dstband alone, whatever its value, unless
 * -srcband is given as many times: it is asked again with one -srcband,
 * which older parsers, knowing neither, would refuse for -srcband. */
static int WarpAcceptsOption(char **papszArgv, int nValues)
{
    static const char *const apszSrcBand[] = {"-srcband", "1", NULL};
    return WarpAcceptsWords(NULL, papszArgv, nValues) ||
           (EQUAL(papszArgv[0], "-dstband") && nValues == 1 &&
            WarpAcceptsWords(apszSrcBand, papszArgv, nValues));
}

/* A word that GDAL's parsers take as an option, not as a value: '-' and a
 * letter ("-5" and "-.5" are numbers). */
static int LooksLikeOption(const char *pszWord)
{
    return pszWord[0] == '-' && pszWord[1] != '\0' && !(pszWord[1] >= '0' && pszWord[1] <= '9') &&
           pszWord[1] != '.';
}

/*
 * Whether GDAL's parser refuses words that no option takes (GDAL 3.9 and
 * later, built on argparse, calls them positional arguments), or lets them
 * pass (older parsers, which leave them to gdalwarp's binary). Only a strict
 * parser's answer says that a word was taken as an option's value.
 */
static int WarpParserRefusesStrayWords(void)
{
    static int nRefuses = -1;
    if (nRefuses < 0)
    {
        char szFlag[] = "-nomd";
        char szWord[] = "batchwarp_stray_word";
        char *apszProbe[] = {szFlag, szWord, NULL};
        nRefuses = !WarpAcceptsOption(apszProbe, 1);
    }
    return nRefuses;
}

/*
 * Options whose last value may be left out, as the parsers before GDAL 3.9
 * take them (their answer cannot tell): the value is taken when it starts
 * with a digit. -refine_gcps <tolerance> [<minimum_gcps>] is the only one.
 */
static int OldParserTakesOptionalValue(const char *pszOption, int nTaken, const char *pszWord)
{
    return EQUAL(pszOption, "-refine_gcps") && nTaken == 1 && pszWord[0] >= '0' &&
           pszWord[0] <= '9';
}

/*
 * How many values follow gdalwarp option papszArgv[0]. GDAL publishes no
 * table of its options, so GDAL's own parser is asked: the smallest count it
 * accepts is the option's required values. Then optional values: a strict
 * parser (GDAL >= 3.9) that accepts one more word that is not an option has
 * taken it as a value, since it would refuse a stray one; for older parsers,
 * which accept stray words, their few optional values are known. Returns -1
 * when no count is accepted (a bad value); the full parse then reports why.
 */
static int WarpOptionArity(char **papszArgv, int nAvailable)
{
    const int nMax =
        nAvailable < BW_MAX_WARP_OPTION_VALUES ? nAvailable : BW_MAX_WARP_OPTION_VALUES;
    int nValues = -1;
    for (int k = 0; k <= nMax && nValues < 0; ++k)
    {
        if (WarpAcceptsOption(papszArgv, k))
            nValues = k;
    }
    if (nValues < 0)
        return -1;
    const int bStrict = WarpParserRefusesStrayWords();
    while (nValues < nMax && !LooksLikeOption(papszArgv[nValues + 1]) &&
           (bStrict ? WarpAcceptsOption(papszArgv, nValues + 1)
                    : OldParserTakesOptionalValue(papszArgv[0], nValues, papszArgv[nValues + 1])))
        ++nValues;
    return nValues;
}

static void CPL_STDCALL CollectMessages(CPLErr eClass, CPLErrorNum nNum, const char *pszMsg)
{
    (void)nNum;
    if (eClass == CE_Failure || eClass == CE_Fatal)
    {
        char ***ppapszMessages = CPLGetErrorHandlerUserData();
        *ppapszMessages = CSLAddString(*ppapszMessages, pszMsg);
    }
}

/*
 * Lets GDAL say what is wrong with an option's values, with GDAL's own
 * message. Which values belong to the option is unknown (none is accepted),
 * so the parse is tried with each count, most first; parsers of GDAL 3.9 and
 * later then object to extra words as positional arguments, which says
 * nothing about the option: the first message that is not about them wins.
 */
static void ReportBadWarpOption(char **papszArgv, int nAvailable)
{
    const int nMax =
        nAvailable < BW_MAX_WARP_OPTION_VALUES ? nAvailable : BW_MAX_WARP_OPTION_VALUES;
    char **papszChosen = NULL;
    for (int k = nMax; k >= 0 && papszChosen == NULL; --k)
    {
        char **papszTry = NULL;
        for (int i = 0; i <= k; ++i)
            papszTry = CSLAddString(papszTry, papszArgv[i]);
        char **papszMessages = NULL;
        CPLPushErrorHandlerEx(CollectMessages, &papszMessages);
        GDALWarpAppOptions *psTry = GDALWarpAppOptionsNew(papszTry, NULL);
        CPLPopErrorHandler();
        CPLErrorReset();
        CSLDestroy(papszTry);
        if (psTry != NULL)
            GDALWarpAppOptionsFree(psTry);
        int bAboutPositional = papszMessages == NULL;
        for (char **papszIter = papszMessages; papszIter && *papszIter; ++papszIter)
            bAboutPositional |= strstr(*papszIter, "positional") != NULL;
        if (!bAboutPositional || k == 0)
            papszChosen = papszMessages;
        else
            CSLDestroy(papszMessages);
    }
    for (char **papszIter = papszChosen; papszIter && *papszIter; ++papszIter)
        CPLError(CE_Failure, CPLE_IllegalArg, "%s", *papszIter);
    if (papszChosen == NULL)
        CPLError(CE_Failure, CPLE_IllegalArg, "Invalid use of option %s", papszArgv[0]);
    CSLDestroy(papszChosen);
}

/* gdalwarp's -wm: megabytes below 10000, bytes above, or a share of RAM.
 * Any number is taken, as gdalwarp takes it (as a double), and bounded
 * (BWBytesFromDouble). */
static GIntBig WarpMemoryBytes(const char *pszValue)
{
    const double dfValue = CPLAtof(pszValue);
    if (strchr(pszValue, '%') != NULL)
        return BWBytesFromDouble(dfValue / 100.0 * (double)CPLGetUsablePhysicalRAM());
    return BWBytesFromDouble(dfValue < 10000 ? dfValue * 1024 * 1024 : dfValue);
}

/* gdalwarp options whose combinations are checked before any work. */
#define BW_SEEN_TR 1
#define BW_SEEN_TS 2
#define BW_SEEN_TE 4
#define BW_SEEN_TAP 8

/* Picks out what gdalwarp's library leaves to its binary, and what decides
 * output names, from one gdalwarp option and its values. */
static void NoteWarpOption(GDALBatchWarpOptions *psOptions, char **papszArgv, int nValues)
{
    const char *pszName = papszArgv[0];
    static const struct
    {
        const char *pszName;
        int nBit;
    } asSeen[] = {
        {"-tr", BW_SEEN_TR}, {"-ts", BW_SEEN_TS}, {"-te", BW_SEEN_TE}, {"-tap", BW_SEEN_TAP}};
    for (size_t i = 0; i < sizeof(asSeen) / sizeof(asSeen[0]); ++i)
    {
        if (EQUAL(pszName, asSeen[i].pszName))
            psOptions->nWarpOptionsSeen |= asSeen[i].nBit;
    }
    /* gdalwarp's binary says so as it parses; the sources then fail to open. */
    if (EQUAL(pszName, "-if") && nValues == 1 && GDALGetDriverByName(papszArgv[1]) == NULL)
        CPLError(CE_Warning, CPLE_AppDefined, "%s is not a recognized driver", papszArgv[1]);
    if ((EQUAL(pszName, "-of") || EQUAL(pszName, "-f")) && nValues == 1)
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
    else if (EQUAL(pszName, "-wm") && nValues == 1)
        psOptions->nUserWarpMemory = WarpMemoryBytes(papszArgv[1]);
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
    if (GDALGetMetadataItem(hDriver, GDAL_DCAP_RASTER, NULL) == NULL ||
        (GDALGetMetadataItem(hDriver, GDAL_DCAP_CREATE, NULL) == NULL &&
         GDALGetMetadataItem(hDriver, GDAL_DCAP_CREATECOPY, NULL) == NULL))
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "Output driver '%s' cannot write raster files.",
                 psOptions->pszOutputFormat);
        return FALSE;
    }
    /* MEM keeps its raster in memory; drivers named by a connection prefix
     * (WMTS:, NGW:) and PostGISRaster write to a service: none leaves a file
     * to put in place. */
    if (EQUAL(psOptions->pszOutputFormat, "MEM") ||
        EQUAL(psOptions->pszOutputFormat, "PostGISRaster") ||
        GDALGetMetadataItem(hDriver, GDAL_DMD_CONNECTION_PREFIX, NULL) != NULL)
    {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "Output driver '%s' writes no file: choose a file format with -of.",
                 psOptions->pszOutputFormat);
        return FALSE;
    }
    /* COG declares no GDAL_DMD_EXTENSION, only GDAL_DMD_EXTENSIONS ("tif tiff"):
     * the first of those is the one to use. */
    const char *pszExt = GDALGetMetadataItem(hDriver, GDAL_DMD_EXTENSION, NULL);
    char **papszExts = CSLTokenizeString(GDALGetMetadataItem(hDriver, GDAL_DMD_EXTENSIONS, NULL));
    if ((pszExt == NULL || pszExt[0] == '\0') && papszExts != NULL)
        pszExt = papszExts[0];
    psOptions->pszOutputExtension = CPLStrdup(pszExt ? pszExt : "");
    CSLDestroy(papszExts);
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
        const BWOptionSpec *psBatch = BWOptionSpecFind(pszArg);
        if (psBatch != NULL)
        {
            if (i + psBatch->nValues >= nArgc)
            {
                CPLError(CE_Failure, CPLE_IllegalArg, "%s option requires %d argument", pszArg,
                         psBatch->nValues);
                return FALSE;
            }
            if (!psBatch->pfnApply(psOptions, psBatch, psBatch->nValues ? papszArgv[i + 1] : NULL))
                return FALSE;
            i += psBatch->nValues;
            continue;
        }
        /* Values may start with '-' (-te -180 ...), so the window for an
         * option's values ends only at a batch option or "--". */
        int nAvailable = 0;
        while (i + 1 + nAvailable < nArgc && strcmp(papszArgv[i + 1 + nAvailable], "--") != 0 &&
               BWOptionSpecFind(papszArgv[i + 1 + nAvailable]) == NULL)
            ++nAvailable;
        const int nValues = WarpOptionArity(papszArgv + i, nAvailable);
        if (nValues < 0)
        {
            /* GDAL's message is the one gdalwarp would give, where the words
             * that follow are all gdalwarp's: "-tr 30 -j 4" is about -tr. */
            int nWords = nAvailable;
            while (i + 1 + nWords < nArgc && strcmp(papszArgv[i + 1 + nWords], "--") != 0)
                ++nWords;
            ReportBadWarpOption(papszArgv + i, nWords);
            return FALSE;
        }
        for (int k = 0; k <= nValues; ++k)
            psOptions->papszWarpArgs = CSLAddString(psOptions->papszWarpArgs, papszArgv[i + k]);
        NoteWarpOption(psOptions, papszArgv + i, nValues);
        i += nValues;
    }
    return TRUE;
}

/* -shard, else the scheduler's environment; -shard_count alone only sizes
 * an index that comes from the environment. */
static int ResolveShard(GDALBatchWarpOptions *psOptions)
{
    if (psOptions->nShardCount > 0 && !psOptions->bShardCountOnly)
    {
        psOptions->pszShard =
            CPLStrdup(CPLSPrintf("%d/%d", psOptions->nShardIndex, psOptions->nShardCount));
        return TRUE;
    }
    char *pszError = NULL;
    const int nFound = BWShardFromEnvironment(psOptions->nShardCount, &psOptions->nShardIndex,
                                              &psOptions->nShardCount, &pszError);
    if (nFound < 0)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s", pszError);
        CPLFree(pszError);
        return FALSE;
    }
    if (nFound == 0)
    {
        if (psOptions->bShardCountOnly)
        {
            CPLError(
                CE_Failure, CPLE_IllegalArg,
                "-shard_count needs a shard index from the environment "
                "(JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX); use -shard I/N otherwise.");
            return FALSE;
        }
        psOptions->nShardCount = 0;
        return TRUE;
    }
    psOptions->pszShard =
        CPLStrdup(CPLSPrintf("%d/%d", psOptions->nShardIndex, psOptions->nShardCount));
    return TRUE;
}

/* -input_file_list entries join the sources given as arguments, in order. */
static int ReadSourceLists(GDALBatchWarpOptions *psOptions)
{
    for (CSLConstList papszIter = psOptions->papszSourceLists; papszIter && *papszIter; ++papszIter)
    {
        char *pszError = NULL;
        if (!BWReadSourceList(*papszIter, psOptions->bNulSeparated, &psOptions->papszSources,
                              &pszError))
        {
            CPLError(CE_Failure, CPLE_AppDefined, "%s", pszError);
            CPLFree(pszError);
            return FALSE;
        }
    }
    return TRUE;
}

static int ValidateMergeOptions(const GDALBatchWarpOptions *psOptions)
{
    if (CSLCount(psOptions->papszSources) == 0)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "-merge_reports needs the reports to merge.");
        return FALSE;
    }
    if (psOptions->pszRetryFailed != NULL || psOptions->pszOutDir != NULL)
    {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "-merge_reports only merges reports: give the reports and -report, no -outdir "
                 "or -retry_failed.");
        return FALSE;
    }
    return TRUE;
}

/* What GDALWarp() refuses as a usage error on every file, whatever the
 * source, refused once before any work, with GDALWarp()'s message. (-tr with
 * -ts is accepted by newer GDAL when -te makes them agree: GDAL decides.) */
static int CheckWarpCombinations(const GDALBatchWarpOptions *psOptions)
{
    const int nSeen = psOptions->nWarpOptionsSeen;
    if ((nSeen & BW_SEEN_TAP) && !(nSeen & BW_SEEN_TR))
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "-tap option cannot be used without using -tr.");
        return FALSE;
    }
    if ((nSeen & BW_SEEN_TR) && (nSeen & BW_SEEN_TS) && !(nSeen & BW_SEEN_TE))
    {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "-tr and -ts options cannot be used at the same time.");
        return FALSE;
    }
    return TRUE;
}

static int ValidateOptions(GDALBatchWarpOptions *psOptions)
{
    if (psOptions->bMergeReports)
        return ValidateMergeOptions(psOptions);
    if (!ResolveShard(psOptions))
        return FALSE;
    if (psOptions->pszOutDir == NULL || psOptions->pszOutDir[0] == '\0')
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "No output directory given: use -outdir DIR.");
        return FALSE;
    }
    if (!ReadSourceLists(psOptions))
        return FALSE;
    if (psOptions->pszRetryFailed != NULL)
    {
        if (psOptions->papszSources != NULL)
        {
            CPLError(CE_Failure, CPLE_IllegalArg,
                     "-retry_failed takes its sources from the report: give no source.");
            return FALSE;
        }
        char *pszError = NULL;
        if (!BWReportReadFailed(psOptions->pszRetryFailed, &psOptions->papszSources,
                                &psOptions->papszRetryOutputs, &pszError))
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
    if (psOptions->bPrintOutputs && psOptions->pszReport != NULL &&
        BWReportDescriptorNamed(psOptions->pszReport) == 1)
    {
        CPLError(CE_Failure, CPLE_IllegalArg,
                 "-print_outputs and -report - would both write to stdout: send the report to "
                 "a file.");
        return FALSE;
    }
    if (psOptions->pszOutputTemplate != NULL)
    {
        /* Check the template once, on a made-up source, before any work. */
        char *pszError = NULL;
        char *pszName = BWExpandOutputTemplate(psOptions->pszOutputTemplate, "dir/source.tif",
                                               "sub", "", "tif", &pszError);
        if (pszName == NULL)
        {
            CPLError(CE_Failure, CPLE_IllegalArg, "%s", pszError);
            CPLFree(pszError);
            return FALSE;
        }
        CPLFree(pszName);
    }
    /* gdalwarp's own checks, with GDAL's own messages. */
    GDALWarpAppOptions *psWarp = GDALWarpAppOptionsNew(psOptions->papszWarpArgs, NULL);
    if (psWarp == NULL)
        return FALSE;
    GDALWarpAppOptionsFree(psWarp);
    return CheckWarpCombinations(psOptions) && ResolveOutputDriver(psOptions);
}

GDALBatchWarpOptions *GDALBatchWarpOptionsNew(char **papszArgv, int *pbUsageError)
{
    if (pbUsageError)
        *pbUsageError = FALSE;
    GDALAllRegister();
    GDALBatchWarpOptions *psOptions = CPLCalloc(1, sizeof(GDALBatchWarpOptions));
    psOptions->pszSuffix = CPLStrdup("");
    if (!BWOptionsApplyDefaults(psOptions) || !ParseArgv(psOptions, papszArgv) ||
        !ValidateOptions(psOptions))
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
    CSLDestroy(psOptions->papszRetryOutputs);
    CPLFree(psOptions->pszShard);
    CPLFree(psOptions->pszOutputTemplate);
    CSLDestroy(psOptions->papszSourceLists);
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

void GDALBatchWarpOptionsSetSummary(GDALBatchWarpOptions *psOptions, int bSummary)
{
    psOptions->bSummary = bSummary;
}

int GDALBatchWarpOptionsIsQuiet(const GDALBatchWarpOptions *psOptions)
{
    return psOptions->bQuiet || psOptions->bDryRun || psOptions->bMergeReports;
}
