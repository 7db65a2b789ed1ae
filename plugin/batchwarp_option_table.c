#include "batchwarp_option_table.h"

#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_multiproc.h>
#include <cpl_string.h>

#include "batchwarp_naming.h"
#include "batchwarp_shard.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"

/* The field of the options that a generic handler sets. */
static void *Field(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec)
{
    return (char *)psOptions + psSpec->nField;
}

static int SetFlag(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                   const char *pszValue)
{
    (void)pszValue;
    *(int *)Field(psOptions, psSpec) = TRUE;
    return TRUE;
}

static int SetString(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                     const char *pszValue)
{
    char **ppszField = Field(psOptions, psSpec);
    CPLFree(*ppszField);
    *ppszField = CPLStrdup(pszValue);
    return TRUE;
}

static int AddString(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                     const char *pszValue)
{
    char ***ppapszField = Field(psOptions, psSpec);
    *ppapszField = CSLAddString(*ppapszField, pszValue);
    return TRUE;
}

static int ParseCount(const char *pszOption, const char *pszValue, int *pnOut)
{
    long nValue = 0;
    if (!BWParseLong(pszValue, 0, 1000000, &nValue))
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s expects a non-negative integer, got '%s'",
                 pszOption, pszValue);
        return FALSE;
    }
    *pnOut = (int)nValue;
    return TRUE;
}

static int SetCount(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                    const char *pszValue)
{
    return ParseCount(psSpec->pszName, pszValue, Field(psOptions, psSpec));
}

/* Sizes as GDAL_CACHEMAX takes them: "512" (MB), "2GB", "10%" of the usable
 * RAM (CPLGetUsablePhysicalRAM()). */
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

static int SetSize(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                   const char *pszValue)
{
    return ParseSize(psSpec->pszName, pszValue, Field(psOptions, psSpec));
}

static int SetWorkers(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                      const char *pszValue)
{
    int *pnWorkers = Field(psOptions, psSpec);
    if (EQUAL(pszValue, "ALL_CPUS"))
        *pnWorkers = CPLGetNumCPUs();
    else if (!ParseCount(psSpec->pszName, pszValue, pnWorkers))
        return FALSE;
    if (*pnWorkers < 1)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s must be at least 1", psSpec->pszName);
        return FALSE;
    }
    return TRUE;
}

static int SetSuffix(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                     const char *pszValue)
{
    if (strchr(pszValue, '/') != NULL)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s must not contain '/': '%s'", psSpec->pszName,
                 pszValue);
        return FALSE;
    }
    return SetString(psOptions, psSpec, pszValue);
}

static int SetTimeout(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                      const char *pszValue)
{
    double *pdfSeconds = Field(psOptions, psSpec);
    char *pszEnd = NULL;
    *pdfSeconds = CPLStrtod(pszValue, &pszEnd);
    /* !(>= 0): NaN is no number of seconds either. */
    if (pszEnd == pszValue || *pszEnd != '\0' || !(*pdfSeconds >= 0))
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s expects seconds, got '%s'", psSpec->pszName,
                 pszValue);
        return FALSE;
    }
    return TRUE;
}

static int SetShard(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                    const char *pszValue)
{
    if (!BWShardParse(pszValue, &psOptions->nShardIndex, &psOptions->nShardCount))
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s expects I/N with 0 <= I < N (e.g. 0/4), got '%s'",
                 psSpec->pszName, pszValue);
        return FALSE;
    }
    return TRUE;
}

static int SetShardCount(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                         const char *pszValue)
{
    if (!ParseCount(psSpec->pszName, pszValue, &psOptions->nShardCount) ||
        psOptions->nShardCount < 1)
    {
        CPLError(CE_Failure, CPLE_IllegalArg, "%s must be at least 1", psSpec->pszName);
        return FALSE;
    }
    psOptions->bShardCountOnly = TRUE;
    return TRUE;
}

/* The default budget: a quarter of the usable RAM, so that no -j can make a
 * batch take the machine down. */
#define BW_DEFAULT_MEMORY_BUDGET "25%"

#define FIELD(name) offsetof(GDALBatchWarpOptions, name)
#define ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Spellings chosen not to collide with any gdalwarp option; -q and
 * -overwrite are gdalwarp's, and are taken over with batch-wide meaning.
 * A default is a value as a user would type it: it goes through the
 * handler before argv, and --help and the docs state it as it is here. */
static const BWOptionSpec asSpecs[] = {
    /* Sources and outputs */
    {.pszName = "-outdir",
     .nValues = 1,
     .pszMetaVar = "<dir>",
     .pszHelp =
         "Directory for the outputs (created if needed). Required, except with -merge_reports.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetString,
     .nField = FIELD(pszOutDir)},
    {.pszName = "-recursive",
     .pszHelp = "Take directories' whole trees, mirrored under <dir>.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bRecursive)},
    {.pszName = "-input_file_list",
     .nValues = 1,
     .pszMetaVar = "<file>|-",
     .pszHelp = "Also take the sources listed in a file (or stdin), one per line.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = AddString,
     .nField = FIELD(papszSourceLists)},
    {.pszName = "-null",
     .pszHelp = "Those lists are NUL-separated (find -print0), and so are the paths "
                "-print_outputs prints and the lines of -dry_run (xargs -0).",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bNulSeparated)},
    {.pszName = "-output_template",
     .nValues = 1,
     .pszMetaVar = "<template>",
     .pszDefault = BW_DEFAULT_OUTPUT_TEMPLATE,
     .pszHelp =
         "Output name below <dir>; placeholders {stem} {name} {ext} {suffix} {relpath} {parent}.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetString,
     .nField = FIELD(pszOutputTemplate)},
    {.pszName = "-suffix",
     .nValues = 1,
     .pszMetaVar = "<text>",
     .pszHelp = "Appended to each output's base name.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetSuffix,
     .nField = FIELD(pszSuffix)},
    {.pszName = "-overwrite",
     .pszHelp =
         "Redo outputs that already exist; without it they are kept, and reported as skipped.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bOverwrite)},
    {.pszName = "-dry_run",
     .pszHelp = "Print 'source -> output' for each source; do nothing. One a line (a name with "
                "a newline is refused), or each ended by a NUL byte with -null.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bDryRun)},
    {.pszName = "-print_outputs",
     .pszHelp = "Print each complete output's path on stdout, as it finishes (for gdalbuildvrt "
                "-input_file_list, xargs), one a line (a name with a newline is refused), or "
                "ended by a NUL byte with -null.",
     .eGroup = BW_GROUP_SOURCES_OUTPUTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bPrintOutputs)},

    /* Workers and memory */
    {.pszName = "-j",
     .nValues = 1,
     .pszMetaVar = "<n>|ALL_CPUS",
     .pszDefault = "ALL_CPUS",
     .pszHelp =
         "Number of worker processes, and of cores the batch may use; ALL_CPUS is the number "
         "of CPUs.",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetWorkers,
     .nField = FIELD(nWorkers)},
    {.pszName = "-memory_budget",
     .nValues = 1,
     .pszMetaVar = "<size>",
     .pszDefault = BW_DEFAULT_MEMORY_BUDGET,
     .pszHelp =
         "Memory for the whole batch: sets each worker's GDAL_CACHEMAX, and runs fewer workers "
         "if it must (never a smaller -wm than gdalwarp's, which would change pixels). A size (512 "
         "in MB, or 2GB) or a share of the usable RAM (the "
         "physical RAM, or ulimit -v if lower).",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetSize,
     .nField = FIELD(nMemoryBudget)},
    {.pszName = "-worker_mem_limit",
     .nValues = 1,
     .pszMetaVar = "<size>",
     .pszHelp = "Address-space cap of each worker (e.g. 2GB, 10%): a task that needs more fails "
                "cleanly.",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetSize,
     .nField = FIELD(nWorkerMemLimit)},
    {.pszName = "-max_worker_rss",
     .nValues = 1,
     .pszMetaVar = "<size>",
     .pszHelp = "Replace a worker whose resident memory grew past this size after a task.",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetSize,
     .nField = FIELD(nMaxWorkerRSS)},
    {.pszName = "-max_tasks_per_worker",
     .nValues = 1,
     .pszMetaVar = "<n>",
     .pszDefault = "500",
     .pszHelp = "Replace a worker after n tasks.",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetCount,
     .nField = FIELD(nMaxTasksPerWorker)},
    {.pszName = "-max_workers",
     .nValues = 1,
     .pszMetaVar = "<n>",
     .pszHelp = "Most workers at once: beyond -j, more run while tasks wait on I/O, as many "
                "as keep -j cores busy (unless given: 8 per -j when a source is on the "
                "network, else -j; within -memory_budget); "
                "-max_workers equal to -j: none.",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetCount,
     .nField = FIELD(nMaxWorkers)},
    {.pszName = "-timeout",
     .nValues = 1,
     .pszMetaVar = "<seconds>",
     .pszHelp = "Kill a task that runs longer, and fail it.",
     .eGroup = BW_GROUP_WORKERS_MEMORY,
     .pfnApply = SetTimeout,
     .nField = FIELD(dfTaskTimeout)},

    /* Failures and reports */
    {.pszName = "-report",
     .nValues = 1,
     .pszMetaVar = "<file>|-",
     .pszHelp = "Write a JSON-lines report, one line per source (-: stdout).",
     .eGroup = BW_GROUP_FAILURES_REPORTS,
     .pfnApply = SetString,
     .nField = FIELD(pszReport)},
    {.pszName = "-retries",
     .nValues = 1,
     .pszMetaVar = "<n>",
     .pszDefault = "0",
     .pszHelp = "Try a failed task again, up to n times, each time on a fresh worker.",
     .eGroup = BW_GROUP_FAILURES_REPORTS,
     .pfnApply = SetCount,
     .nField = FIELD(nRetries)},
    /* Only this option's own value: -output_template, -input_file_list and
     * the rest keep theirs, whatever the order they came in. */
    {.pszName = "-retry_failed",
     .papszAliases = ALIASES("-retry-failed"),
     .nValues = 1,
     .pszMetaVar = "<report>",
     .pszHelp = "Rerun only the sources that failed in an earlier report (give no <src>).",
     .eGroup = BW_GROUP_FAILURES_REPORTS,
     .pfnApply = SetString,
     .nField = FIELD(pszRetryFailed)},
    {.pszName = "-strict_errors",
     .pszHelp =
         "Fail a task whenever GDAL logs an error, even if gdalwarp would succeed (without it: "
         "gdalwarp's rule; the errors go to the report's \"messages\").",
     .eGroup = BW_GROUP_FAILURES_REPORTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bStrictErrors)},
    {.pszName = "-q",
     .papszAliases = ALIASES("-quiet"),
     .pszHelp =
         "No progress bar and no summary on stderr. Warnings and failed files are still printed, "
         "as by gdalwarp -q.",
     .eGroup = BW_GROUP_FAILURES_REPORTS,
     .pfnApply = SetFlag,
     .nField = FIELD(bQuiet)},

    /* Array jobs */
    {.pszName = "-shard",
     .nValues = 1,
     .pszMetaVar = "<i>/<n>",
     .pszHelp =
         "Do only shard i (from 0) of n of the batch: a share balanced by file size, the same "
         "whatever the order of the sources. Without it, the shard is read from "
         "SLURM_ARRAY_TASK_ID/_COUNT, or JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX with "
         "-shard_count.",
     .eGroup = BW_GROUP_ARRAY_JOBS,
     .pfnApply = SetShard},
    {.pszName = "-shard_count",
     .nValues = 1,
     .pszMetaVar = "<n>",
     .pszHelp =
         "Number of shards, for an index from the environment (else $BATCHWARP_SHARD_COUNT).",
     .eGroup = BW_GROUP_ARRAY_JOBS,
     .pfnApply = SetShardCount},
    {.pszName = "-merge_reports",
     .pszHelp =
         "The sources are the shards' reports: write their latest line per source to -report "
         "(or stdout), and exit 0 only if every source is ok.",
     .eGroup = BW_GROUP_ARRAY_JOBS,
     .pfnApply = SetFlag,
     .nField = FIELD(bMergeReports)},
};

int BWOptionSpecCount(void)
{
    return (int)(sizeof(asSpecs) / sizeof(asSpecs[0]));
}

const BWOptionSpec *BWOptionSpecAt(int iSpec)
{
    return &asSpecs[iSpec];
}

const BWOptionSpec *BWOptionSpecFind(const char *pszArg)
{
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = &asSpecs[i];
        if (EQUAL(pszArg, psSpec->pszName))
            return psSpec;
        for (const char *const *ppszAlias = psSpec->papszAliases; ppszAlias && *ppszAlias;
             ++ppszAlias)
        {
            if (EQUAL(pszArg, *ppszAlias))
                return psSpec;
        }
    }
    return NULL;
}

const char *BWOptionGroupTitle(BWOptionGroup eGroup)
{
    static const char *const apszTitles[BW_GROUP_COUNT] = {
        "sources and outputs", "workers and memory", "failures and reports",
        "array jobs (one shard of the batch per job)"};
    return apszTitles[eGroup];
}

int BWOptionsApplyDefaults(GDALBatchWarpOptions *psOptions)
{
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = &asSpecs[i];
        if (psSpec->pszDefault != NULL && !psSpec->pfnApply(psOptions, psSpec, psSpec->pszDefault))
            return FALSE;
    }
    return TRUE;
}

GIntBig BWDefaultMemoryBudget(void)
{
    return BWParseCacheMax(BW_DEFAULT_MEMORY_BUDGET, CPLGetUsablePhysicalRAM());
}
