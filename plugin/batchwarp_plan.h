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
#include "batchwarp_sources.h"
#include "batchwarp_temp.h"

typedef struct
{
    char *pszSource; /* as given, or directory + entry name */
    char *pszOutput; /* final output path */
    char *pszTemp;   /* where the worker writes before the rename (BWPlanAssignTemps) */
    char *pszStaged; /* local file written first for a remote output, or NULL */
    GIntBig nSize;   /* source size in bytes (0 if unknown): a cost estimate */
    int bSkip;       /* output already exists and -overwrite was not given */
    /* Names to hand GDALOpenEx as the source's siblings, or NULL to let GDAL
     * look as GDAL_DISABLE_READDIR_ON_OPEN says (see BWSiblingsFor). */
    char **papszSiblings;
    /* With -overwrite, of a network output that exists: the names in its
     * directory's listing that may be the earlier dataset's files (its own
     * name, and those that begin with its stem and a dot), which the worker
     * hands GDALOpenEx to find them without a probe each (see
     * OldOutputFiles in batchwarp_worker.c). NULL otherwise. */
    char **papszOldSiblings;
} BWPlanItem;

typedef struct
{
    BWPlanItem *pasItems;
    int nItems;
} BWPlan;

/* Builds the plan, or returns FALSE with *ppszError (a usage error). */
int BWPlanBuild(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan, char **ppszError);
void BWPlanFree(BWPlan *psPlan);

/* Names each item's temporary (and staged) path, in the temporary
 * directories made for this run (BWMakeTempDir); FALSE if one is missing. */
int BWPlanAssignTemps(BWPlan *psPlan, char **ppszError);

/* Items that will be warped (not skipped). */
int BWPlanCountToDo(const BWPlan *psPlan);

/* Whether an item to be warped reads its source from the network. */
int BWPlanHasNetworkSource(const BWPlan *psPlan);

#endif
