/*
 * What every worker is told at start (the INIT message): its share of the
 * block cache, its thread counts, its VSI settings, the user's configuration
 * options, and gdalwarp's arguments.
 */
#ifndef BATCHWARP_WORKER_CONFIG_H_INCLUDED
#define BATCHWARP_WORKER_CONFIG_H_INCLUDED

#include <cpl_port.h>

#include "batchwarp_budget.h"
#include "batchwarp_options.h"

/* Bytes of block cache for the whole batch: GDAL_CACHEMAX if the user set it
 * (read as the total for all workers), else GDAL's own default of 5% of RAM. */
GIntBig BWTotalCacheBudget(void);

/* Parses a GDAL_CACHEMAX value ("512" MB, "10%", "2GB", or bytes); -1 if bad. */
GIntBig BWParseCacheMax(const char *pszValue, GIntBig nPhysicalRAM);

/* TRUE when a tail task may give the output driver's compressor more threads
 * (`-co NUM_THREADS=n`) without changing the output's bytes: GTiff or COG,
 * with a compression checked to write the same bytes whatever its thread
 * count (autotest/test_determinism.py), and no NUM_THREADS of the user's. */
int BWCompressorThreadsQualify(CSLConstList papszWarpArgs, const char *pszFormat);

/* Fields of the INIT message (CSLDestroy them). */
char **BWBuildInitFields(const GDALBatchWarpOptions *psOptions, const BWBudget *psBudget);

/* Appends to INIT, for each network directory of the nPaths paths (the
 * plan's sources and outputs) whose credentials, endpoint or HTTP settings
 * the calling process set for that path alone (VSISetPathSpecificOption,
 * which no configuration option shows), PATH_PREFIX=<dir>/ followed by its
 * PATH_OPTION=KEY=VALUE fields, which the worker sets likewise. */
char **BWAddPathSpecificOptions(char **papszFields, const char *const *papszPaths, int nPaths);

/* Object stores throttle (503 SlowDown, 429) and have 5xx hiccups that a
 * retry cures, but GDAL does not retry HTTP requests by default, nor end
 * one whose reply never comes. Sets
 * BW_HTTP_RETRY_DEFAULTS as thread-local configuration options of the
 * calling thread where the user set none, for the supervisor's own requests
 * (listing, output directories) and, through INIT, the workers'; returns the
 * keys set, for BWNetworkDefaultsPop (which unsets them). */
char **BWNetworkDefaultsPush(void);
void BWNetworkDefaultsPop(char **papszKeys);

/* KEY=VALUE pairs, NULL-terminated. */
extern const char *const BW_HTTP_RETRY_DEFAULTS[];

/* Whether a path is read or written over the network (/vsis3/, /vsigs/,
 * /vsiaz/, /vsicurl/, ..., possibly inside /vsizip/ and the like). */
int BWIsNetworkPath(const char *pszPath);

#endif
