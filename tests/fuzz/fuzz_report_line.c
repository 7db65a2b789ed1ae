/* libFuzzer target: one line of a JSON-lines report, as -retry_failed and
 * report merging read them. */
#include <stddef.h>
#include <stdint.h>

#include <cpl_conv.h>

#include "batchwarp_report_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize);

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize)
{
    /* A report line is text: the reader sees it NUL-terminated. */
    char *pszLine = CPLMalloc(nSize + 1);
    for (size_t i = 0; i < nSize; ++i)
        pszLine[i] = (char)pabyData[i];
    pszLine[nSize] = '\0';
    BWReportEntry sEntry;
    char *pszError = NULL;
    if (BWReportParseLine(pszLine, nSize, &sEntry, &pszError))
        BWReportEntryClear(&sEntry);
    CPLFree(pszError);
    CPLFree(pszLine);
    return 0;
}
