/*
 * The plan of a batch: which sources exist, and where each one's output and
 * temporary file go. Everything here is decided before any work starts, so
 * that a batch that cannot be right (two sources, one output) is refused
 * with nothing written.
 */
#ifndef BATCHWARP_PLAN_H_INCLUDED
#define BATCHWARP_PLAN_H_INCLUDED

#include <cpl_port.h>

#include "batchwarp_options.h"

typedef struct
{
    char *pszSource; /* as given, or directory + entry name */
    char *pszOutput; /* final output path */
    char *pszTemp;   /* where the worker writes before the rename */
    GIntBig nSize;   /* source size in bytes (0 if unknown): a cost estimate */
    int bSkip;       /* output already exists and -overwrite was not given */
} BWPlanItem;

typedef struct
{
    BWPlanItem *pasItems;
    int nItems;
} BWPlan;

/* Expands the SRC arguments: files as given, directories as their sorted
 * raster entries. Returns a CSL (CSLDestroy it). */
char **BWExpandSources(CSLConstList papszSources);

/* Builds the plan, or returns FALSE with *ppszError (a usage error). */
int BWPlanBuild(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan, char **ppszError);
void BWPlanFree(BWPlan *psPlan);

/* Output path for one source (CPLFree it). */
char *BWOutputPathFor(const char *pszSource, const char *pszOutDir, const char *pszSuffix,
                      const char *pszExtension);

/* Hidden temporary path next to an output, unique to this process. */
char *BWTempPathFor(const char *pszOutput, const char *pszExtension);

/* Whether a directory entry name is one of our temporary files. */
int BWIsTempName(const char *pszName);

/* Removes the temporary files (and their sidecars) that runs killed on this
 * machine left in a directory; returns how many. */
int BWRemoveStaleTemps(const char *pszDir);

#endif
