/* Reading JSON-lines reports back: for -retry_failed, and for merging the
 * reports of several shards. */
#ifndef BATCHWARP_REPORT_READER_H_INCLUDED
#define BATCHWARP_REPORT_READER_H_INCLUDED

#include <cpl_port.h>

/* A report line longer than this is taken as a corrupt report. */
#define BW_MAX_REPORT_LINE_BYTES (64 * 1024 * 1024)

typedef struct
{
    char *pszSource;
    char *pszOutput;
    int bOk;
    int bSkipped;
    char *pszError;
    char *pszShard; /* "I/N" of the shard that wrote it, or NULL */
} BWReportEntry;

void BWReportEntryClear(BWReportEntry *psEntry);

/* Parses one report line. Returns FALSE with *ppszError on malformed input. */
int BWReportParseLine(const char *pszLine, size_t nLen, BWReportEntry *psEntry, char **ppszError);

/* The latest record of each source over one or more reports (a rerun or a
 * retry appends to a report; shards each write their own), in the order
 * sources were first seen. */
typedef struct
{
    BWReportEntry sEntry;
    char *pszLine; /* the JSON line as read */
} BWReportRecord;

typedef struct
{
    BWReportRecord *pasRecords;
    int nRecords;
    int nCapacity;
    struct _CPLHashSet *hIndex; /* source -> record */
    /* Over every line read, not only each source's latest: the shards
     * ("I/N") that wrote one, and "N\nsource" for each source a shard of N
     * wrote (what -merge_reports needs to tell a missing shard's report). */
    struct _CPLHashSet *hShards;
    struct _CPLHashSet *hShardSources;
} BWReportSet;

void BWReportSetInit(BWReportSet *psSet);
void BWReportSetClear(BWReportSet *psSet);
/* Adds a report's lines; a later line of a source replaces its record.
 * Returns FALSE with *ppszError naming the file and line on a bad report. */
int BWReportSetRead(BWReportSet *psSet, const char *pszPath, char **ppszError);

/* Sources whose last line in the report says ok=false, in report order, and
 * each one's output as the report names it ("" when it names none), in a
 * list parallel to the sources. Returns FALSE with *ppszError naming the
 * file and line on a bad report. */
int BWReportReadFailed(const char *pszPath, char ***ppapszSources, char ***ppapszOutputs,
                       char **ppszError);

#endif
