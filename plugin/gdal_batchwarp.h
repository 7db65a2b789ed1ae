/**
 * @file gdal_batchwarp.h
 * @brief gdal_batchwarp: run gdalwarp over many rasters with a pool of clean
 * worker processes.
 *
 * The API follows gdal_utils.h: an opaque options object built from an
 * argv-style list (the same words as the command line), a progress callback,
 * and one entry point that runs the batch.
 *
 * A minimal program (error handling left out):
 * @code{.c}
 * char **papszArgs = NULL;
 * papszArgs = CSLAddString(papszArgs, "-t_srs");
 * papszArgs = CSLAddString(papszArgs, "EPSG:3857");
 * papszArgs = CSLAddString(papszArgs, "tiles/");
 * papszArgs = CSLAddString(papszArgs, "-outdir");
 * papszArgs = CSLAddString(papszArgs, "warped/");
 * GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(papszArgs, NULL);
 * CSLDestroy(papszArgs);
 * GDALBatchWarpOptionsSetProgress(psOptions, GDALTermProgress, NULL);
 * GDALBatchWarpStatus eStatus = GDALBatchWarp(psOptions);
 * GDALBatchWarpOptionsFree(psOptions);
 * @endcode
 *
 * Link with `GdalBatchwarp::gdalbatchwarp` (CMake:
 * `find_package(GdalBatchwarp CONFIG REQUIRED)`) or `pkg-config gdalbatchwarp`.
 * A complete example is examples/c_api/main.c in the source tree.
 *
 * The work is done by worker processes (`gdal_batchwarp_worker`, installed in
 * `<libdir>/gdal_batchwarp/` beside this library, or named by the
 * configuration option or environment variable `GDAL_BATCHWARP_WORKER`),
 * started with posix_spawn() and reaped by GDALBatchWarp() before it returns.
 * The library installs no signal handler: a program that wants Ctrl-C to stop
 * a batch cleanly makes its progress callback return FALSE, as the
 * gdal_batchwarp program does.
 */
#ifndef GDAL_BATCHWARP_H_INCLUDED
#define GDAL_BATCHWARP_H_INCLUDED

#include <cpl_progress.h>

#ifdef __cplusplus
extern "C"
{
#endif

/** Marks the functions exported by libgdalbatchwarp (built with hidden
 *  visibility by default). */
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
     *  owned by the library and valid only during the callback.
     *
     *  The same fields are written to the JSON-lines report (-report), under
     *  the names source, output, ok, skipped, error, seconds, worker_pid,
     *  attempts, threads, shard and messages. For a skipped source (its output already
     *  existed), bOk and bSkipped are TRUE and the counters are 0.
     *
     *  Every report line is valid UTF-8. A path here is a file name's bytes:
     *  when pszSource or pszOutput is not valid UTF-8, the report's source or
     *  output is its text with each byte that is not part of valid UTF-8
     *  replaced by U+FFFD, followed by source_bytes or output_bytes, the exact
     *  bytes in standard padded base64 (absent for a valid UTF-8 name).
     *  -retry_failed and -merge_reports take those bytes; error and messages
     *  keep only the text. The callback gets the exact bytes. */
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
        CSLConstList papszMessages; /**< errors and warnings GDAL logged during the last
                                         attempt, as gdalwarp prints them ("ERROR 1: ...",
                                         "Warning 1: ..."), or NULL */
    } GDALBatchWarpResult;

    /**
     * Per-file callback, set with GDALBatchWarpOptionsSetResultCallback().
     *
     * Called in the thread that called GDALBatchWarp(), once for each source
     * as it finishes (after its output was renamed into place and its report
     * line written), in order of completion; kept outputs are reported first.
     * A failed source that is tried again (-retries) is reported once, after
     * its last attempt. Sources stopped by a cancelled batch are not reported.
     * With -merge_reports, called once for each merged source. Never called
     * with -dry_run.
     *
     * @param psResult the finished source; it and its strings are valid only
     *                 during the call.
     * @param pUserData the pointer given to
     *                  GDALBatchWarpOptionsSetResultCallback().
     */
    typedef void (*GDALBatchWarpResultFunc)(const GDALBatchWarpResult *psResult, void *pUserData);

    /** Opaque options of a batch, made by GDALBatchWarpOptionsNew() and freed
     *  with GDALBatchWarpOptionsFree(). */
    typedef struct GDALBatchWarpOptions GDALBatchWarpOptions;

    /**
     * Parses gdalwarp options, batch options and sources, as on the command line
     * (without the program name). gdalwarp's own options are checked by
     * GDALWarpAppOptionsNew(). Returns NULL on error, after CPLError() with the
     * reason; *pbUsageError (if not NULL) is then set to TRUE.
     *
     * The words are those of the gdal_batchwarp program: any gdalwarp option
     * (`-t_srs`, `-r`, `-of`, `-co`, ...), the batch options (`-outdir`, `-j`,
     * `-report`, `-retries`, `-shard`, ... see GDALBatchWarpGetUsage()) and
     * the sources (files, directories, patterns; `--` before sources that
     * start with `-`). GDAL's general options (`--config`, `--debug`,
     * `--optfile`) are not handled here: apply them beforehand, e.g. with
     * GDALGeneralCmdLineProcessor() or CPLSetConfigOption().
     *
     * Besides parsing, this reads the `-input_file_list` lists and the
     * `-retry_failed` report, resolves the shard (from `-shard` or the
     * scheduler's environment) and checks the output driver. It calls
     * GDALAllRegister().
     *
     * @param papszArgv NULL-terminated list of arguments (not modified; the
     *                  caller keeps ownership).
     * @param pbUsageError pointer to an int set to TRUE when NULL is returned,
     *                     FALSE otherwise; may be NULL.
     * @return the options, to free with GDALBatchWarpOptionsFree(), or NULL.
     */
    GDAL_BATCHWARP_API GDALBatchWarpOptions *GDALBatchWarpOptionsNew(char **papszArgv,
                                                                     int *pbUsageError);

    /**
     * Frees options made by GDALBatchWarpOptionsNew().
     *
     * @param psOptions the options; NULL is accepted and ignored.
     */
    GDAL_BATCHWARP_API void GDALBatchWarpOptionsFree(GDALBatchWarpOptions *psOptions);

    /** Progress over the whole batch (fraction of sources done).
     *
     * The callback is called in the calling thread: with 0.0 when the work
     * starts, after each finished source (`-merge_reports`: each line
     * merged), again with the fraction last given to ask whether to stop,
     * and periodically while workers run
     * (so that it can cancel a batch of long tasks). Returning FALSE cancels,
     * as everywhere in GDAL: no new task is handed out, running tasks are
     * stopped and their temporary files removed, finished outputs are kept
     * and reported, and GDALBatchWarp() returns GDAL_BATCHWARP_FAILED.
     * The callback's message argument is an empty string.
     *
     * @param psOptions the options.
     * @param pfnProgress the callback (e.g. GDALTermProgress), or NULL for none.
     * @param pProgressData passed to each call of pfnProgress.
     */
    GDAL_BATCHWARP_API void GDALBatchWarpOptionsSetProgress(GDALBatchWarpOptions *psOptions,
                                                            GDALProgressFunc pfnProgress,
                                                            void *pProgressData);

    /** Called in the calling thread once per source, as it finishes.
     *
     * @param psOptions the options.
     * @param pfnResult the callback (see GDALBatchWarpResultFunc), or NULL for
     *                  none.
     * @param pUserData passed to each call of pfnResult.
     */
    GDAL_BATCHWARP_API void GDALBatchWarpOptionsSetResultCallback(GDALBatchWarpOptions *psOptions,
                                                                  GDALBatchWarpResultFunc pfnResult,
                                                                  void *pUserData);

    /** Asks GDALBatchWarp() to print a summary on stderr when the batch
     *  ends, unless -q was given: the counts of sources ok, skipped and
     *  failed, the elapsed time, the report's path, and the most frequent
     *  failure reasons, each with its count. Off by default; the
     *  gdal_batchwarp program and `gdal raster batch-warp` turn it on.
     *
     * @param psOptions the options.
     * @param bSummary TRUE to print the summary.
     */
    GDAL_BATCHWARP_API void GDALBatchWarpOptionsSetSummary(GDALBatchWarpOptions *psOptions,
                                                           int bSummary);

    /** TRUE when a program should draw no progress bar.
     *
     * The library itself draws no progress bar: this tells a program whether
     * it should.
     *
     * @param psOptions the options.
     * @return TRUE when `-q` or `-quiet` was among the arguments, or
     * `-dry_run` (which prints its plan and runs no task), or
     * `-merge_reports` (which writes one report, at once).
     */
    GDAL_BATCHWARP_API int GDALBatchWarpOptionsIsQuiet(const GDALBatchWarpOptions *psOptions);

    /**
     * Runs the batch. Configuration options set in this process (CPLSetConfigOption,
     * --config) are handed to every worker. Errors that stop the whole batch are
     * raised with CPLError(); per-file errors go to the report and the callback.
     *
     * In order: builds the plan (expands the sources, names the outputs,
     * refuses collisions), computes the memory budget, creates the output
     * directories, then hands the sources, largest first, to the workers and
     * renames each finished output into place. Existing outputs are kept
     * unless `-overwrite`. With `-dry_run`, only prints the plan on stdout
     * (one line per source, or each ended by a NUL byte with `-null`);
     * with `-print_outputs`, prints each complete output's path (its exact
     * bytes) on stdout, one a line (a name with a newline is refused), or
     * each ended by a NUL byte with `-null`;
     * with `-merge_reports`, only merges reports. Returns once every worker
     * has exited.
     *
     * The options are not modified: a batch may be run again with the same
     * options (without `-overwrite`, the rerun keeps the outputs of the
     * first run and reports them as skipped).
     *
     * @param psOptions options from GDALBatchWarpOptionsNew().
     * @return GDAL_BATCHWARP_OK when every source succeeded or was skipped;
     *         GDAL_BATCHWARP_FAILED when a source failed, the batch was
     *         cancelled, or it could not run (output directory not writable,
     *         worker not startable, report not writable);
     *         GDAL_BATCHWARP_USAGE_ERROR when the plan is impossible (e.g. two
     *         sources mapping to one output, an output overwriting its
     *         source), in which case nothing was written.
     */
    GDAL_BATCHWARP_API GDALBatchWarpStatus GDALBatchWarp(const GDALBatchWarpOptions *psOptions);

    /** Usage text for the batch options (gdalwarp's are documented by GDAL).
     *
     * @return the text of `gdal_batchwarp --help`, in static storage (do not
     *         free).
     */
    GDAL_BATCHWARP_API const char *GDALBatchWarpGetUsage(void);

    /** The batch options as JSON, from the same table as the usage text: an
     *  array of objects with `name`, `aliases`, `values` (how many words
     *  follow), `metavar`, `default` (as a user would type it, or null),
     *  `group` and `help`. For documentation checks and completion scripts;
     *  `gdal_batchwarp --list-batch-options` prints it.
     *
     * @return a string in static storage (do not free).
     */
    GDAL_BATCHWARP_API const char *GDALBatchWarpGetOptionList(void);

    /** Version of this library, e.g. "0.1.0".
     *
     * Test builds, with the worker fault hooks compiled in, append
     * "+fault-hooks".
     *
     * @return a string in static storage (do not free).
     */
    GDAL_BATCHWARP_API const char *GDALBatchWarpGetVersion(void);

    /**
     * Entry point of a worker process: serves tasks read from file descriptor fd
     * until the parent closes it. Used by the gdal_batchwarp_worker executable.
     *
     * Not for use by applications: GDALBatchWarp() starts the workers itself.
     *
     * @param fd the worker's end of the socket pair (3 in the worker
     *           executable).
     * @return the process exit status.
     */
    GDAL_BATCHWARP_API int GDALBatchWarpWorkerMain(int fd);

#ifdef __cplusplus
}
#endif

#endif
