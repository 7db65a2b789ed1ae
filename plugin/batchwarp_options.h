/* The parsed form of GDALBatchWarpOptions, shared inside the library. */
#ifndef BATCHWARP_OPTIONS_H_INCLUDED
#define BATCHWARP_OPTIONS_H_INCLUDED

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
    int nWorkers;
    int nMaxTasksPerWorker;
    double dfTaskTimeout;
    int bQuiet;
    int bOverwrite;
    int bUserSetWarpThreads; /* -wo NUM_THREADS=... or -multi given */
    GDALProgressFunc pfnProgress;
    void *pProgressData;
    GDALBatchWarpResultFunc pfnResult;
    void *pResultData;
};

#endif
