/* The summary at the end of a batch (counts, time, report, the most frequent
 * failure reasons), shared by the gdal_batchwarp program and the
 * `gdal raster batch-warp` plugin: GDALBatchWarp() prints it on stderr when
 * the front end asked for it (GDALBatchWarpOptionsSetSummary) and -q was not
 * given. */
#ifndef BATCHWARP_SUMMARY_H_INCLUDED
#define BATCHWARP_SUMMARY_H_INCLUDED

#include "gdal_batchwarp.h"

typedef struct BWSummary BWSummary;

BWSummary *BWSummaryNew(void);
void BWSummaryFree(BWSummary *psSummary);

/* Counts one finished source; a failure's reason is grouped with the other
 * failures that have the same reason once the file names are taken out. */
void BWSummaryAdd(BWSummary *psSummary, const GDALBatchWarpResult *psResult);

/* The reason a failure is grouped under (CPLFree it): the first line of its
 * error, with the source's and output's paths and names replaced by
 * <source> and <output>. */
char *BWSummaryReason(const GDALBatchWarpResult *psResult);

/* The summary text, lines ending in '\n' (CPLFree it): the counts, the
 * elapsed time, the report's path (pszReport may be NULL, "-" is stdout),
 * sources interrupted by a cancel (nInterrupted), those of the batch's
 * nSources never started (a batch stopped early), then up to nMaxReasons
 * reasons, most frequent first, each with its count. */
char *BWSummaryFormat(const BWSummary *psSummary, double dfElapsedSeconds, const char *pszReport,
                      int nInterrupted, int nSources, int nMaxReasons);

#endif
