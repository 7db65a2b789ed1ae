/*
 * -merge_reports: the reports of the shards of one batch become one report,
 * with the batch's combined status, so that one -retry_failed run can take
 * every shard's failures.
 */
#ifndef BATCHWARP_MERGE_H_INCLUDED
#define BATCHWARP_MERGE_H_INCLUDED

#include "batchwarp_options.h"

/* Reads the reports named as sources; writes the latest line of each source
 * to -report (stdout when none is given) and calls the result callback for
 * each. Returns OK when every source is ok, FAILED when one is not or a
 * report cannot be read (with *ppszError). */
GDALBatchWarpStatus BWMergeReports(const GDALBatchWarpOptions *psOptions, char **ppszError);

#endif
