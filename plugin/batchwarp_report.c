#include "batchwarp_report.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include <cpl_conv.h>
#include <cpl_string.h>

struct BWReport
{
    FILE *fp;
    int bOwnsFile;
    char *pszPath;
};

BWReport *BWReportOpen(const char *pszPath, char **ppszError)
{
    FILE *fp = strcmp(pszPath, "-") == 0 ? stdout : fopen(pszPath, "w");
    if (fp == NULL)
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(errno)));
        return NULL;
    }
    BWReport *psReport = CPLCalloc(1, sizeof(BWReport));
    psReport->fp = fp;
    psReport->bOwnsFile = fp != stdout;
    psReport->pszPath = CPLStrdup(pszPath);
    return psReport;
}

char *BWResultToJson(const GDALBatchWarpResult *psResult)
{
    json_object *poObj = json_object_new_object();
    json_object_object_add(poObj, "source", json_object_new_string(psResult->pszSource));
    json_object_object_add(poObj, "output", json_object_new_string(psResult->pszOutput));
    json_object_object_add(poObj, "ok", json_object_new_boolean(psResult->bOk));
    json_object_object_add(poObj, "skipped", json_object_new_boolean(psResult->bSkipped));
    json_object_object_add(poObj, "error",
                           psResult->pszError ? json_object_new_string(psResult->pszError) : NULL);
    /* Microseconds are all a wall time can claim; json-c would print 17 digits. */
    json_object_object_add(
        poObj, "seconds",
        json_object_new_double_s(psResult->dfSeconds, CPLSPrintf("%.6f", psResult->dfSeconds)));
    json_object_object_add(poObj, "worker_pid",
                           psResult->nWorkerPid ? json_object_new_int(psResult->nWorkerPid) : NULL);
    json_object_object_add(poObj, "attempts", json_object_new_int(psResult->nAttempts));
    json_object_object_add(poObj, "threads", json_object_new_int(psResult->nThreads));
    json_object_object_add(poObj, "shard",
                           psResult->pszShard ? json_object_new_string(psResult->pszShard) : NULL);
    json_object *poMessages = json_object_new_array();
    for (CSLConstList papszIter = psResult->papszMessages; papszIter && *papszIter; ++papszIter)
        json_object_array_add(poMessages, json_object_new_string(*papszIter));
    json_object_object_add(poObj, "messages", poMessages);
    char *pszJson = CPLStrdup(json_object_to_json_string_ext(
        poObj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(poObj);
    return pszJson;
}

int BWReportWriteLine(BWReport *psReport, const char *pszLine, char **ppszError)
{
    const int bOk = fprintf(psReport->fp, "%s\n", pszLine) >= 0 && fflush(psReport->fp) == 0;
    if (!bOk)
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot write report file '%s': %s", psReport->pszPath, strerror(errno)));
    return bOk;
}

int BWReportWrite(BWReport *psReport, const GDALBatchWarpResult *psResult, char **ppszError)
{
    char *pszJson = BWResultToJson(psResult);
    const int bOk = BWReportWriteLine(psReport, pszJson, ppszError);
    CPLFree(pszJson);
    return bOk;
}

int BWReportClose(BWReport *psReport, char **ppszError)
{
    if (psReport == NULL)
        return TRUE;
    int bOk = fflush(psReport->fp) == 0;
    if (psReport->bOwnsFile && fclose(psReport->fp) != 0)
        bOk = FALSE;
    if (!bOk)
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot write report file '%s': %s", psReport->pszPath, strerror(errno)));
    CPLFree(psReport->pszPath);
    CPLFree(psReport);
    return bOk;
}
