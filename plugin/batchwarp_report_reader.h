/* Reading JSON-lines reports back: for -retry_failed, and for merging the
 * reports of several shards. */
#ifndef BATCHWARP_REPORT_READER_H_INCLUDED
#define BATCHWARP_REPORT_READER_H_INCLUDED

#include <cpl_port.h>

typedef struct
{
    char *pszSource;
    char *pszOutput;
    int bOk;
    int bSkipped;
    char *pszError;
} BWReportEntry;

void BWReportEntryClear(BWReportEntry *psEntry);

/* Parses one report line. Returns FALSE with *ppszError on malformed input. */
int BWReportParseLine(const char *pszLine, size_t nLen, BWReportEntry *psEntry, char **ppszError);

/* Sources whose last line in the report says ok=false, in report order.
 * Returns FALSE with *ppszError naming the file and line on a bad report. */
int BWReportReadFailedSources(const char *pszPath, char ***ppapszSources, char **ppszError);

#endif
