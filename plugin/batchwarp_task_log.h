/*
 * What GDAL says during a worker's task, kept as gdalwarp reports it (errors
 * and warnings in order, up to CPL_MAX_ERROR_REPORTS), and the signs in it
 * that a request to an object store was dropped, cut short or refused.
 */
#ifndef BATCHWARP_TASK_LOG_H
#define BATCHWARP_TASK_LOG_H

#include <cpl_error.h>

/* The categories of GDAL's network file systems' debug messages. */
#define BW_NETWORK_DEBUG_CATEGORIES "S3,GS,AZURE,ADLS,OSS,SWIFT,VSICURL,WEBHDFS"

/* Messages GDAL raised during the current task. */
typedef struct
{
    char **papszErrors;
    /* The first sign that a request to an object store failed in transit
     * (a dropped connection, a body cut short): such a task is tried again. */
    char *pszTransport;
    /* The first reply of an object store that refused a request for good
     * (AccessDenied, NoSuchBucket: see BWStoreErrorIsPermanent), which GDAL
     * gives only as a debug message: such a task is not tried again, and
     * fails with it. */
    char *pszRefusal;
    int bQuietDebug;      /* debug messages asked for by us, not by the user */
    char **papszMessages; /* errors and warnings in order, as gdalwarp prints them */
    /* Errors raised in the task, all counted (papszErrors keeps the first
     * nMaxReports); errors and warnings reported, as GDAL's own handler
     * counts them for gdalwarp; its limit (CPL_MAX_ERROR_REPORTS, 1000 by
     * default, 0 or less: none), read once known (bMaxKnown). */
    int nErrors;
    int nErrorsKept;
    int nReported;
    int nMaxReports;
    int bMaxKnown;
    /* While a task writes through its pinned temporary directory
     * ("/proc/self/fd/N", see PinTempDir): messages name the directory's
     * path instead. */
    const char *pszViaDir;
    const char *pszRealDir;
} BWTaskLog;

/* The worker's error handler; its user data is the task's BWTaskLog. */
void CPL_STDCALL BWTaskLogHandler(CPLErr eClass, CPLErrorNum nNum, const char *pszMsg);

/* Empties the log for the next task or try. */
void BWTaskLogClear(BWTaskLog *psLog);

/* Whether a network file system's message says that a reply was dropped or
 * cut short in transit. */
int BWIsTransportFailure(const char *pszMsg);

#endif
