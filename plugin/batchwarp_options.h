/* The parsed form of GDALBatchWarpOptions, shared inside the library. */
#ifndef BATCHWARP_OPTIONS_H_INCLUDED
#define BATCHWARP_OPTIONS_H_INCLUDED

#include <cpl_port.h>

#include "gdal_batchwarp.h"

struct GDALBatchWarpOptions
{
    char **papszWarpArgs; /* gdalwarp's options, exactly as given */
    char **papszSources;  /* SRC arguments, as given */
    char *pszOutDir;
    char *pszSuffix;          /* appended to the output stem; "" by default */
    char *pszReport;          /* JSON-lines path, "-" for stdout, or NULL */
    char *pszOutputFormat;    /* driver short name, from -of or GTiff */
    char *pszOutputExtension; /* GDAL_DMD_EXTENSION of that driver, may be "" */
    char **papszOpenOptions;  /* -oo values: gdalwarp's library ignores them */
    char **papszInputDrivers; /* -if values: likewise */
    char *pszRetryFailed;     /* report whose failed sources are the sources */
    char **papszRetryOutputs; /* their outputs as that report names them ("" if none) */
    int nWorkers;
    int nRetries;            /* extra attempts for a failed source */
    GIntBig nWorkerMemLimit; /* bytes of address space per worker; 0 = none */
    GIntBig nMaxWorkerRSS;   /* recycle a worker past this resident size; 0 = never */
    GIntBig nMemoryBudget;   /* -memory_budget: bytes for the whole process tree; 0 = default */
    GIntBig nUserWarpMemory; /* bytes of the user's -wm; 0 = not given */
    int nWarpOptionsSeen;    /* BW_SEEN_* bits (batchwarp_options.c): -tr, -ts, -te, -tap */
    int nMaxTasksPerWorker;
    int nMaxWorkers; /* -max_workers: most live workers, I/O-waiting ones included; 0 = default */
    double dfTaskTimeout;
    int bQuiet;
    int bOverwrite;
    int bNothingToRetry;     /* -retry_failed found no failure: nothing to do */
    int bUserSetWarpThreads; /* -wo NUM_THREADS=... or -multi given */
    int nShardIndex;         /* this run's shard, when nShardCount > 0 */
    int nShardCount;         /* 0: the whole batch */
    int bShardCountOnly;     /* -shard_count given, the index comes from the environment */
    char *pszShard;          /* "I/N", or NULL */
    int bMergeReports;       /* the sources are shard reports to merge */
    int bRecursive;          /* list directory sources' whole trees */
    char *pszOutputTemplate; /* -output_template, or NULL for the default */
    char **papszSourceLists; /* -input_file_list values, read once parsing is done */
    int bNulSeparated;       /* -null: those lists, and -print_outputs, are NUL-separated */
    int bDryRun;             /* print the plan, do nothing */
    int bStrictErrors;       /* -strict_errors: any error GDAL logs fails the task */
    int bPrintOutputs;       /* print each complete output's path on stdout */
    int bSummary;            /* print the summary on stderr at the end (unless bQuiet) */
    GDALProgressFunc pfnProgress;
    void *pProgressData;
    GDALBatchWarpResultFunc pfnResult;
    void *pResultData;
};

/* The batch options (not gdalwarp's), for tests: how many, and each one's
 * name and number of values. */
int BWBatchOptionCount(void);
const char *BWBatchOptionName(int iOption);
int BWBatchOptionValueCount(int iOption);

#endif
