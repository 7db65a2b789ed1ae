/*
 * The batch options (not gdalwarp's), each declared once: its spellings, how
 * many values it takes, its default, its help and the handler that applies
 * it. The table drives the parsing of argv (batchwarp_options.c), the
 * `--help` text (batchwarp_usage.c) and `gdal_batchwarp --list-batch-options`,
 * which autotest/test_docs_agree.py checks the man page, the RST page, the
 * README and the bash completion against.
 */
#ifndef BATCHWARP_OPTION_TABLE_H_INCLUDED
#define BATCHWARP_OPTION_TABLE_H_INCLUDED

#include <stddef.h>

#include "batchwarp_options.h"

/* The headings of --help, in their order. */
typedef enum
{
    BW_GROUP_SOURCES_OUTPUTS,
    BW_GROUP_WORKERS_MEMORY,
    BW_GROUP_FAILURES_REPORTS,
    BW_GROUP_ARRAY_JOBS,
    BW_GROUP_COUNT
} BWOptionGroup;

typedef struct BWOptionSpec BWOptionSpec;

/* Applies one option with its value (NULL for a flag) to the options.
 * Returns FALSE, after CPLError() naming the option, on a bad value. */
typedef int (*BWOptionHandler)(GDALBatchWarpOptions *psOptions, const BWOptionSpec *psSpec,
                               const char *pszValue);

struct BWOptionSpec
{
    const char *pszName;             /* "-max_tasks_per_worker" */
    const char *const *papszAliases; /* other spellings, NULL-terminated, or NULL */
    int nValues;                     /* words that follow: 0 (a flag) or 1 */
    const char *pszMetaVar;          /* how --help shows the value: "<n>|ALL_CPUS" */
    const char *pszDefault;          /* value applied before argv, or NULL for none */
    const char *pszHelp;             /* one sentence or two for --help */
    BWOptionGroup eGroup;            /* heading of --help */
    BWOptionHandler pfnApply;        /* what the option does */
    size_t nField;                   /* the field the generic handlers set (offsetof) */
};

/* The table, in --help order within each group. */
int BWOptionSpecCount(void);
const BWOptionSpec *BWOptionSpecAt(int iSpec);

/* The option spelled pszArg (any spelling, case-insensitive), or NULL. */
const BWOptionSpec *BWOptionSpecFind(const char *pszArg);

/* What a group of --help is about, e.g. "sources and outputs". */
const char *BWOptionGroupTitle(BWOptionGroup eGroup);

/* Applies every default of the table, as if given before argv. */
int BWOptionsApplyDefaults(GDALBatchWarpOptions *psOptions);

/* The default of -memory_budget in bytes, from the table (for options built
 * without GDALBatchWarpOptionsNew(), and -memory_budget 0). */
GIntBig BWDefaultMemoryBudget(void);

#endif
