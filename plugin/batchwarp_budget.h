/*
 * How a batch shares the machine: how many workers, how many threads a task
 * may use, and how one memory budget is split between the supervisor and the
 * workers' block caches and warp buffers.
 *
 * Memory is accounted as resident size (RSS) per process, so that the sum
 * over the process tree stays within the budget: every process first costs a
 * fixed baseline (GDAL, PROJ and their libraries once loaded), then the
 * warp memory gdalwarp would use (its default -wm, or the user's), and what
 * is left of a worker's share goes to GDAL_CACHEMAX. The warp memory is
 * never lowered to fit: it decides the warp's chunks, and so the pixels.
 */
#ifndef BATCHWARP_BUDGET_H_INCLUDED
#define BATCHWARP_BUDGET_H_INCLUDED

#include <cpl_port.h>

#include "batchwarp_options.h"

/* Resident size of a process with GDAL loaded and a warp under way, beyond
 * its cache and warp buffers (measured: ~47 MB supervisor and ~53 MB worker
 * with GDAL 3.6, up to ~90 MB with GDAL 3.13 and its larger set of
 * libraries). */
#define BW_PROCESS_BASELINE_BYTES ((GIntBig)96 * 1024 * 1024)
#define BW_MIN_CACHE_BYTES ((GIntBig)16 * 1024 * 1024)
/* GDAL reads a GDAL_CACHEMAX number below this as megabytes, else as bytes. */
#define BW_GDAL_BYTES_FROM ((GIntBig)100000)
/* gdalwarp's own default -wm (GDAL 3.6 to 3.13), which workers keep unless
 * the user gives -wm: no -wm is passed, so the warp is chunked as
 * gdalwarp's is. It is what the budget counts for the warp. */
#define BW_GDALWARP_WARP_MEMORY_BYTES ((GIntBig)64 * 1024 * 1024)

/* The least share of the budget an extra worker (beyond -j) is started
 * with: its baseline, gdalwarp's default -wm and a 64 MB block cache. */
#define BW_IO_WORKER_MIN_BYTES                                                                     \
    (BW_PROCESS_BASELINE_BYTES + BW_GDALWARP_WARP_MEMORY_BYTES + 4 * BW_MIN_CACHE_BYTES)

typedef struct
{
    GIntBig nTotalBytes; /* the budget: -memory_budget, or its default */
    int nWorkers;        /* processes to start: -j, lowered to fit memory and tasks */
    /* Most live workers while tasks wait on I/O (batchwarp_concurrency.h):
     * -max_workers, or -j * BW_IO_WORKERS_PER_CORE where a source is on
     * the network (else -j: a local batch is split as before), lowered to the tasks
     * and to what the memory budget holds at BW_IO_WORKER_MIN_BYTES each;
     * never below nWorkers. The memory is split for this many. */
    int nMaxWorkers;
    int nThreadBudget;       /* threads all running tasks may use together */
    int bTailThreads;        /* give idle cores to the last tasks (no user thread setting) */
    GIntBig nCachePerWorker; /* GDAL_CACHEMAX of each worker, bytes */
} BWBudget;

/* Splits the budget for a batch of nTasks tasks, bNetworkSources telling
 * whether any of them reads from the network (only such batches get workers
 * beyond -j unless -max_workers asks). Returns FALSE with *ppszError (a
 * usage error) when not even one worker fits. */
int BWBudgetCompute(const GDALBatchWarpOptions *psOptions, int nTasks, int bNetworkSources,
                    BWBudget *psBudget, char **ppszError);

/* Threads for the task about to be dispatched: 1 while there is a task for
 * every idle worker; when fewer remain (the tail), the free share of the
 * thread budget split between the tasks starting now. A task whose cost
 * (bytes plus a per-file cost) exceeds that of all other pending tasks
 * together starts alone with every free thread: the rest waits, since
 * running it single-threaded beside them would leave it last and alone.
 * Returns 0 when no thread is free (tail tasks hold them): wait. */
int BWThreadsForNextTask(int nThreadBudget, int nThreadsBusy, int nIdleWorkers, int nPendingAfter,
                         GIntBig nTaskCost, GIntBig nOtherPendingCost);

/* What opening, setting up and closing any file costs, counted as bytes of
 * source: it keeps many tiny files from looking free to the scheduler and
 * to sharding. */
#define BW_PER_FILE_COST_BYTES ((GIntBig)256 * 1024)

/* The cost estimate of a task for scheduling: its size plus
 * BW_PER_FILE_COST_BYTES. */
GIntBig BWTaskCost(GIntBig nSize);

#endif
