/*
 * gdal_batchwarp: run gdalwarp over many rasters with a pool of clean worker
 * processes.
 *
 * The API follows gdal_utils.h: an opaque options object built from an
 * argv-style list (the same words as the command line), a progress callback,
 * and one entry point that runs the batch.
 */
#ifndef GDAL_BATCHWARP_H_INCLUDED
#define GDAL_BATCHWARP_H_INCLUDED

#include <cpl_progress.h>

#ifdef __cplusplus
extern "C"
{
#endif

#if defined(__GNUC__)
#define GDAL_BATCHWARP_API __attribute__((visibility("default")))
#else
#define GDAL_BATCHWARP_API
#endif

    /** Outcome of GDALBatchWarp(), also the program's exit status. */
    typedef enum
    {
        GDAL_BATCHWARP_OK = 0,     /**< every file succeeded (or was skipped) */
        GDAL_BATCHWARP_FAILED = 1, /**< some file failed, or the batch could not run */
        GDAL_BATCHWARP_USAGE_ERROR =
            2 /**< bad options or an impossible plan; nothing was written */
    } GDALBatchWarpStatus;

    /** One finished source, as passed to the per-file callback. The strings are
     *  owned by the library and valid only during the callback. */
    typedef struct
    {
        const char *pszSource; /**< source as given or found in a directory */
        const char *pszOutput; /**< final output path */
        int bOk;               /**< TRUE when the output is complete and in place */
        int bSkipped;          /**< TRUE when an existing output was kept */
        const char *pszError;  /**< GDAL's error text, or NULL */
        double dfSeconds;      /**< wall time of the last attempt */
        int nWorkerPid;        /**< worker process that ran the last attempt, or 0 */
        int nAttempts;         /**< number of attempts made */
        int nThreads;          /**< threads the last attempt ran with (tail tasks get more) */
        const char *pszShard;  /**< "I/N" when the batch is one shard of a larger one, else NULL */
    } GDALBatchWarpResult;

    typedef void (*GDALBatchWarpResultFunc)(const GDALBatchWarpResult *psResult, void *pUserData);

    typedef struct GDALBatchWarpOptions GDALBatchWarpOptions;

    /**
     * Parses gdalwarp options, batch options and sources, as on the command line
     * (without the program name). gdalwarp's own options are checked by
     * GDALWarpAppOptionsNew(). Returns NULL on error, after CPLError() with the
     * reason; *pbUsageError (if not NULL) is then set to TRUE.
     */
    GDAL_BATCHWARP_API GDALBatchWarpOptions *GDALBatchWarpOptionsNew(char **papszArgv,
                                                                     int *pbUsageError);

    GDAL_BATCHWARP_API void GDALBatchWarpOptionsFree(GDALBatchWarpOptions *psOptions);

    /** Progress over the whole batch (fraction of sources done). */
    GDAL_BATCHWARP_API void GDALBatchWarpOptionsSetProgress(GDALBatchWarpOptions *psOptions,
                                                            GDALProgressFunc pfnProgress,
                                                            void *pProgressData);

    /** Called in the calling thread once per source, as it finishes. */
    GDAL_BATCHWARP_API void GDALBatchWarpOptionsSetResultCallback(GDALBatchWarpOptions *psOptions,
                                                                  GDALBatchWarpResultFunc pfnResult,
                                                                  void *pUserData);

    /** TRUE when -q was given. */
    GDAL_BATCHWARP_API int GDALBatchWarpOptionsIsQuiet(const GDALBatchWarpOptions *psOptions);

    /**
     * Runs the batch. Configuration options set in this process (CPLSetConfigOption,
     * --config) are handed to every worker. Errors that stop the whole batch are
     * raised with CPLError(); per-file errors go to the report and the callback.
     */
    GDAL_BATCHWARP_API GDALBatchWarpStatus GDALBatchWarp(const GDALBatchWarpOptions *psOptions);

    /** Usage text for the batch options (gdalwarp's are documented by GDAL). */
    GDAL_BATCHWARP_API const char *GDALBatchWarpGetUsage(void);

    /** Version of this library, e.g. "0.1.0". */
    GDAL_BATCHWARP_API const char *GDALBatchWarpGetVersion(void);

    /**
     * Entry point of a worker process: serves tasks read from file descriptor fd
     * until the parent closes it. Used by the gdal_batchwarp_worker executable.
     */
    GDAL_BATCHWARP_API int GDALBatchWarpWorkerMain(int fd);

#ifdef __cplusplus
}
#endif

#endif
