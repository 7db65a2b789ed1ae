/* The JSON-lines report: one object per finished source, written and flushed
 * as each one finishes, so that a killed run still leaves a usable record. */
#ifndef BATCHWARP_REPORT_H_INCLUDED
#define BATCHWARP_REPORT_H_INCLUDED

#include <stdio.h>

#include "gdal_batchwarp.h"

typedef struct BWReport BWReport;

/* pszPath "-" writes to stdout, and so does a name of an open descriptor
 * (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N), through that
 * descriptor, as the shell opened it (>> appends), never truncated. Only a regular file of our own
 * user, empty or holding a report, is written over (truncated), never a link, a FIFO, a device or
 * any other file; else NULL with *ppszError naming it. */
BWReport *BWReportOpen(const char *pszPath, char **ppszError);
/* The same, except that if pszPath is the very file pszAppendIfSame names
 * (-retry_failed FILE -report FILE), its lines are kept and the new ones
 * appended after them: a retry stopped midway then loses none of the
 * failures it had still to retry (readers take each source's latest line). */
BWReport *BWReportOpenAppendingTo(const char *pszPath, const char *pszAppendIfSame,
                                  char **ppszError);
/* The same, and pfnStopRequested(pData) (may be NULL) is asked while the
 * report's lock, held by another, is waited for (at the open, then for a
 * line) and when a signal interrupts a write that waits (see
 * BWReportSetStopCheck): TRUE stops the wait. A report left so at the open
 * is not opened (NULL, *ppszError saying why), and nothing in it changed. */
BWReport *BWReportOpenStoppable(const char *pszPath, const char *pszAppendIfSame,
                                int (*pfnStopRequested)(void *), void *pData, char **ppszError);
/* The same checks on what stands at pszPath now (nothing there is fine), for
 * a refusal before any work. FALSE with *ppszError. */
int BWReportCheckPath(const char *pszPath, char **ppszError);
/* The descriptor a report's name stands for: 1 for "-", "/dev/stdout",
 * "/dev/fd/1" or "/proc/self/fd/1", 2 for "/dev/stderr" and so on; -1 for a
 * name of a file. */
int BWReportDescriptorNamed(const char *pszPath);
int BWReportWrite(BWReport *psReport, const GDALBatchWarpResult *psResult, char **ppszError);
/* Writes one line as it is (a line of another report, for -merge_reports)
 * and flushes it. Returns FALSE with *ppszError when the write fails. */
int BWReportWriteLine(BWReport *psReport, const char *pszLine, char **ppszError);
/* pfnStopRequested(pData) is asked when a signal interrupts a write that
 * waits (a FIFO or pipe whose reader reads nothing): TRUE gives the line up,
 * BWReportWriteLine fails saying so, so that a stop ends the run. */
void BWReportSetStopCheck(BWReport *psReport, int (*pfnStopRequested)(void *), void *pData);
/* Like BWReportOpen, but a regular file (or none) at pszPath is replaced
 * only when BWReportClose succeeds, by one rename of a file written whole
 * next to it: a run killed or failing midway leaves the earlier report as it
 * was (-merge_reports a b -report a reads a before it writes it). */
BWReport *BWReportOpenReplacing(const char *pszPath, char **ppszError);
/* Returns FALSE with *ppszError when the final flush, close or replacement
 * fails. */
int BWReportClose(BWReport *psReport, char **ppszError);
/* Closes it, replacing nothing (a report opened by BWReportOpenReplacing is
 * left as it was). */
void BWReportDiscard(BWReport *psReport);

/* The JSON text of one result, without a newline (CPLFree it). */
char *BWResultToJson(const GDALBatchWarpResult *psResult);

/* The JSON text of a report line's object, without a newline (CPLFree it),
 * always valid UTF-8: where a string is not (a file name is bytes), each
 * byte that is not part of valid UTF-8 becomes U+FFFD, and a "source" or
 * "output" that is not gets a "source_bytes" or "output_bytes" field right
 * after it, holding its exact bytes in base64 (unless the object has that
 * field already). Valid text is written as json-c writes it. */
struct json_object;
char *BWReportObjectToText(struct json_object *poObj);

#endif
