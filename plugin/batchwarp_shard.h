/*
 * Sharding: one run of an array job (Slurm, Kubernetes Indexed Jobs, AWS
 * Batch) takes a deterministic share of the whole batch. Every shard builds
 * the same full plan, so collisions are refused the same way everywhere and
 * no two shards ever write one output; each then keeps its own items.
 */
#ifndef BATCHWARP_SHARD_H_INCLUDED
#define BATCHWARP_SHARD_H_INCLUDED

#include <cpl_port.h>

#include "batchwarp_plan.h"

/* The most shards a batch may be cut into. */
#define BW_MAX_SHARDS 1000000

/* Parses "I/N" (0 <= I < N). Returns FALSE when malformed. */
int BWShardParse(const char *pszValue, int *pnIndex, int *pnCount);

/* The shard given by the scheduler's environment (read through
 * CPLGetConfigOption, so --config works too):
 *   SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT, or with
 *     SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX;
 *   JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX,
 *     with nCount (from -shard_count) or BATCHWARP_SHARD_COUNT.
 * Returns 1 and sets *pnIndex, *pnCount when one applies, 0 when none does,
 * -1 with *ppszError when one is set but unusable. */
int BWShardFromEnvironment(int nCount, int *pnIndex, int *pnCount, char **ppszError);

/* Which shard each plan item belongs to (a CPLMalloc'ed array of nItems):
 * items taken largest first, each to the least loaded shard, where an item
 * costs its size plus a fixed per-file cost. Depends only on the set of
 * outputs and sizes, not on the order the sources were given in. */
int *BWShardAssign(const BWPlan *psPlan, int nCount);

/* Keeps only the items of shard nIndex. */
void BWShardFilter(BWPlan *psPlan, int nIndex, int nCount);

#endif
