#ifndef BATCHWARP_PROGRESS_H_INCLUDED
#define BATCHWARP_PROGRESS_H_INCLUDED

#include <cpl_progress.h>

/* GDALTermProgress's "0...10...20...30" bar, written to stderr. GDAL's own
 * writes to stdout, which gdal_batchwarp keeps for reports and output lists
 * in pipelines. pData may be NULL. */
int CPL_STDCALL BWStderrProgress(double dfComplete, const char *pszMessage, void *pData);

#endif
