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
    int nWorkers;
    int nRetries;            /* extra attempts for a failed source */
    GIntBig nWorkerMemLimit; /* bytes of address space per worker; 0 = none */
    GIntBig nMaxWorkerRSS;   /* recycle a worker past this resident size; 0 = never */
    int nMaxTasksPerWorker;
    double dfTaskTimeout;
    int bQuiet;
    int bOverwrite;
    int bNothingToRetry;     /* -retry_failed found no failure: nothing to do */
    int bUserSetWarpThreads; /* -wo NUM_THREADS=... or -multi given */
    GDALProgressFunc pfnProgress;
    void *pProgressData;
    GDALBatchWarpResultFunc pfnResult;
    void *pResultData;
};

#endif
