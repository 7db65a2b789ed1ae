/* libFuzzer target: one line of a JSON-lines report, as -retry_failed and
 * report merging read them. A line that parses is also rewritten as a merge
 * writes it: the text must be valid UTF-8 and name the same files. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <cpl_conv.h>

#include "batchwarp_report.h"
#include "batchwarp_report_reader.h"
#include "batchwarp_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize);

static int SameText(const char *pszA, const char *pszB)
{
    return (pszA == NULL && pszB == NULL) || (pszA && pszB && strcmp(pszA, pszB) == 0);
}

static void CheckRewritten(const char *pszLine, const BWReportEntry *psEntry)
{
    json_object *poObj = json_tokener_parse(pszLine);
    if (poObj == NULL)
        return;
    char *pszText = BWReportObjectToText(poObj);
    json_object_put(poObj);
    if (!BWIsUTF8(pszText, strlen(pszText)))
        abort();
    BWReportEntry sAgain;
    char *pszError = NULL;
    if (!BWReportParseLine(pszText, strlen(pszText), &sAgain, &pszError))
        abort();
    if (!SameText(sAgain.pszSource, psEntry->pszSource) ||
        !SameText(sAgain.pszOutput, psEntry->pszOutput) || sAgain.bOk != psEntry->bOk)
        abort();
    BWReportEntryClear(&sAgain);
    CPLFree(pszText);
}

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
    {
        CheckRewritten(pszLine, &sEntry);
        BWReportEntryClear(&sEntry);
    }
    CPLFree(pszError);
    CPLFree(pszLine);
    return 0;
}
