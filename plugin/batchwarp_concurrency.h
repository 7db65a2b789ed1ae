/*
 * How many workers the pool keeps alive: -j while tasks are CPU-bound, more
 * while they wait on I/O (object stores: tens of milliseconds per request),
 * so that the waiting overlaps and the -j cores stay busy.
 *
 * Each finished task is a sample: its wall time, its CPU time, and the time
 * it was runnable but waited for a CPU (the run queue). Of the time it did
 * not wait for a CPU, the share it spent on one (CPU over wall minus run
 * queue; the rest is I/O) is its utilisation u: a worker wants u of a core,
 * so -j / u workers keep -j cores busy. A task starved of CPU by an
 * oversubscribed machine shows run-queue time, not I/O, so a loaded machine
 * never makes the pool grow; a pool grown too far sees its tasks' I/O
 * share fall, and shrinks; and one grown just far enough, whose extra
 * workers now queue for the cores, is not mistaken for CPU-bound.
 *
 * Pure: no clock, no process; the pool feeds it samples.
 */
#ifndef BATCHWARP_CONCURRENCY_H_INCLUDED
#define BATCHWARP_CONCURRENCY_H_INCLUDED

/* The default ceiling: this many workers per core of -j. */
#define BW_IO_WORKERS_PER_CORE 8
/* Utilisation at or above which tasks count as CPU-bound: the pool does
 * not grow. */
#define BW_CPU_BOUND_UTILISATION 0.7
/* Samples needed before the first decision (one slow first open must not
 * grow the pool). */
#define BW_CONCURRENCY_MIN_SAMPLES 2
/* The fewest recent samples the utilisation is averaged over; more when
 * more workers run (about one round of tasks). */
#define BW_CONCURRENCY_MIN_WINDOW 4
/* Hysteresis: the pool shrinks only when the ideal count (-j / u, not
 * rounded) is below this fraction of the current one, and by at most this
 * fraction per sample; it grows at most twofold per sample. Wide, because
 * u itself rises as the pool grows when workers prefetch (each has longer
 * to hide its next read): at 3/4, (e) on 2 cores flapped 2, 3, 2, 3. */
#define BW_CONCURRENCY_SHRINK_FRACTION (2.0 / 3.0)
/* That hysteresis never lets go the last extra workers of a pool at most
 * 1.5 times -j (-j / u is at least -j): those go, a third of the extras at a
 * time, once u stayed at or above this for BW_CONCURRENCY_FULLY_BUSY_WINDOWS
 * windows of samples in a row (tasks that no longer wait at all). When the pool then has to grow
 * again (on (e), 3 workers on 2 cores wait on nothing, 2 wait a third of the time), the run needed
 * doubles: a few round trips per batch, not one per round of tasks. */
#define BW_CONCURRENCY_FULLY_BUSY 0.97
#define BW_CONCURRENCY_FULLY_BUSY_WINDOWS 4

typedef struct
{
    int nCores;       /* -j: the CPU budget, and the floor */
    int nMax;         /* the ceiling: -max_workers and the memory budget */
    int nTarget;      /* live workers wanted now */
    int nSamples;     /* samples seen */
    double dfBusy;    /* recent CPU seconds, decayed */
    double dfWall;    /* recent wall seconds minus run-queue seconds, decayed */
    int nFullyBusy;   /* samples in a row with u >= BW_CONCURRENCY_FULLY_BUSY */
    int nBusyBackoff; /* times the pool grew back after such a shrink */
    int bBusyShrunk;  /* the last change was such a shrink */
} BWConcurrency;

/* Starts at nCores workers; nMax below nCores is raised to it. */
void BWConcurrencyInit(BWConcurrency *psConc, int nCores, int nMax);

/* Adds a finished task; returns the new target. Samples with no wall time
 * are ignored. */
int BWConcurrencyAddSample(BWConcurrency *psConc, double dfCPUSeconds, double dfRunQueueSeconds,
                           double dfWallSeconds);

/* The utilisation of recent tasks (1 before any sample). */
double BWConcurrencyUtilisation(const BWConcurrency *psConc);

#endif
