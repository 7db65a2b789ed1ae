#include "batchwarp_report_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "batchwarp_report.h"
#include "batchwarp_shard.h"
#include "batchwarp_utf8.h"
#include "batchwarp_util.h"

void BWReportEntryClear(BWReportEntry *psEntry)
{
    CPLFree(psEntry->pszSource);
    CPLFree(psEntry->pszOutput);
    CPLFree(psEntry->pszError);
    CPLFree(psEntry->pszShard);
    memset(psEntry, 0, sizeof(*psEntry));
}

static char *OptionalString(json_object *poObj, const char *pszKey)
{
    json_object *poValue = NULL;
    if (!json_object_object_get_ex(poObj, pszKey, &poValue) ||
        !json_object_is_type(poValue, json_type_string))
        return NULL;
    return CPLStrdup(json_object_get_string(poValue));
}

/* A file name field: its exact bytes from <pszKey>_bytes when the line has
 * them (a name that is not valid UTF-8, see BWReportObjectToText), else its
 * text, else NULL. FALSE with *ppszError if <pszKey>_bytes is there but is
 * not base64 of a name. */
static int PathField(json_object *poObj, const char *pszKey, char **ppszPath, char **ppszError)
{
    char *pszBytesKey = CPLStrdup(CPLSPrintf("%s_bytes", pszKey));
    json_object *poBytes = NULL;
    const int bHasBytes = json_object_object_get_ex(poObj, pszBytesKey, &poBytes);
    *ppszPath = bHasBytes && json_object_is_type(poBytes, json_type_string)
                    ? BWBase64ToName(json_object_get_string(poBytes))
                    : NULL;
    if (bHasBytes && *ppszPath == NULL)
        *ppszError =
            CPLStrdup(CPLSPrintf("\"%s\" is not the base64 of a file name's bytes", pszBytesKey));
    CPLFree(pszBytesKey);
    if (bHasBytes)
        return *ppszPath != NULL;
    *ppszPath = OptionalString(poObj, pszKey);
    return TRUE;
}

int BWReportParseLine(const char *pszLine, size_t nLen, BWReportEntry *psEntry, char **ppszError)
{
    memset(psEntry, 0, sizeof(*psEntry));
    json_tokener *poTok = json_tokener_new();
    json_object *poObj = json_tokener_parse_ex(poTok, pszLine, (int)nLen);
    const enum json_tokener_error eErr = json_tokener_get_error(poTok);
    const size_t nParsed = json_tokener_get_parse_end(poTok);
    json_tokener_free(poTok);
    int bOk = FALSE;
    json_object *poSource = NULL;
    json_object *poOkValue = NULL;
    if (poObj == NULL || eErr != json_tokener_success)
        *ppszError = CPLStrdup(CPLSPrintf("not valid JSON (%s)", json_tokener_error_desc(eErr)));
    else if (nParsed < nLen && strspn(pszLine + nParsed, " \t\r\n") < nLen - nParsed)
        *ppszError = CPLStrdup("text after the JSON object");
    else if (!json_object_is_type(poObj, json_type_object))
        *ppszError = CPLStrdup("not a JSON object");
    else if (!json_object_object_get_ex(poObj, "source", &poSource) ||
             !json_object_is_type(poSource, json_type_string))
        *ppszError = CPLStrdup("no \"source\" string");
    else if (!json_object_object_get_ex(poObj, "ok", &poOkValue) ||
             !json_object_is_type(poOkValue, json_type_boolean))
        *ppszError = CPLStrdup("no \"ok\" boolean");
    else if (!PathField(poObj, "source", &psEntry->pszSource, ppszError) ||
             !PathField(poObj, "output", &psEntry->pszOutput, ppszError))
        BWReportEntryClear(psEntry);
    else
    {
        psEntry->bOk = json_object_get_boolean(poOkValue);
        psEntry->pszError = OptionalString(poObj, "error");
        psEntry->pszShard = OptionalString(poObj, "shard");
        json_object *poSkipped = NULL;
        psEntry->bSkipped = json_object_object_get_ex(poObj, "skipped", &poSkipped) &&
                            json_object_get_boolean(poSkipped);
        bOk = TRUE;
    }
    json_object_put(poObj);
    return bOk;
}

/* Index of a source's record in a BWReportSet, for the hash set. */
typedef struct
{
    const char *pszSource; /* owned by the record */
    int iRecord;
} BWSourceIndex;

static unsigned long HashIndex(const void *p)
{
    return CPLHashSetHashStr(((const BWSourceIndex *)p)->pszSource);
}

static int EqualIndex(const void *a, const void *b)
{
    return strcmp(((const BWSourceIndex *)a)->pszSource, ((const BWSourceIndex *)b)->pszSource) ==
           0;
}

void BWReportSetInit(BWReportSet *psSet)
{
    memset(psSet, 0, sizeof(*psSet));
    psSet->hIndex = CPLHashSetNew(HashIndex, EqualIndex, CPLFree);
    psSet->hShards = CPLHashSetNew(CPLHashSetHashStr, CPLHashSetEqualStr, CPLFree);
    psSet->hShardSources = CPLHashSetNew(CPLHashSetHashStr, CPLHashSetEqualStr, CPLFree);
}

/* Notes which shard wrote a line, and for which source (see BWReportSet). */
static void NoteShard(BWReportSet *psSet, const BWReportEntry *psEntry)
{
    int nIndex = 0;
    int nCount = 0;
    if (psEntry->pszShard == NULL || !BWShardParse(psEntry->pszShard, &nIndex, &nCount))
        return;
    const char *pszShard = CPLSPrintf("%d/%d", nIndex, nCount);
    if (CPLHashSetLookup(psSet->hShards, pszShard) == NULL)
        CPLHashSetInsert(psSet->hShards, CPLStrdup(pszShard));
    const size_t nKey = strlen(psEntry->pszSource) + 16;
    char *pszKey = CPLMalloc(nKey);
    snprintf(pszKey, nKey, "%d\n%s", nCount, psEntry->pszSource);
    if (CPLHashSetLookup(psSet->hShardSources, pszKey) == NULL)
        CPLHashSetInsert(psSet->hShardSources, pszKey);
    else
        CPLFree(pszKey);
}

void BWReportSetClear(BWReportSet *psSet)
{
    for (int i = 0; i < psSet->nRecords; ++i)
    {
        BWReportEntryClear(&psSet->pasRecords[i].sEntry);
        CPLFree(psSet->pasRecords[i].pszLine);
    }
    CPLFree(psSet->pasRecords);
    if (psSet->hIndex != NULL)
        CPLHashSetDestroy(psSet->hIndex);
    if (psSet->hShards != NULL)
        CPLHashSetDestroy(psSet->hShards);
    if (psSet->hShardSources != NULL)
        CPLHashSetDestroy(psSet->hShardSources);
    memset(psSet, 0, sizeof(*psSet));
}

static void Remember(BWReportSet *psSet, BWReportEntry *psEntry, const char *pszLine)
{
    BWSourceIndex sKey = {psEntry->pszSource, 0};
    BWSourceIndex *psIndex = CPLHashSetLookup(psSet->hIndex, &sKey);
    BWReportRecord *psRecord;
    const int bNew = psIndex == NULL;
    if (!bNew)
    {
        psRecord = &psSet->pasRecords[psIndex->iRecord];
        BWReportEntryClear(&psRecord->sEntry);
        CPLFree(psRecord->pszLine);
    }
    else
    {
        if (psSet->nRecords == psSet->nCapacity)
        {
            psSet->nCapacity = psSet->nCapacity ? 2 * psSet->nCapacity : 64;
            psSet->pasRecords =
                CPLRealloc(psSet->pasRecords, sizeof(BWReportRecord) * (size_t)psSet->nCapacity);
        }
        psIndex = CPLMalloc(sizeof(BWSourceIndex));
        psIndex->iRecord = psSet->nRecords++;
        psRecord = &psSet->pasRecords[psIndex->iRecord];
    }
    /* The record takes the entry's strings; the index points into them (the
     * same text as before on a replacement, so its hash does not change). */
    psRecord->sEntry = *psEntry;
    memset(psEntry, 0, sizeof(*psEntry));
    psRecord->pszLine = CPLStrdup(pszLine);
    psIndex->pszSource = psRecord->sEntry.pszSource;
    if (bNew)
        CPLHashSetInsert(psSet->hIndex, psIndex);
}

/* Whether the line just read was the last one and had no end of line. */
static int IsCutShortLastLine(VSILFILE *fp)
{
    const vsi_l_offset nPos = VSIFTellL(fp);
    if (VSIFSeekL(fp, 0, SEEK_END) != 0)
        return FALSE;
    const vsi_l_offset nEnd = VSIFTellL(fp);
    char chLast = '\n';
    const int bLast = nEnd > 0 && nPos >= nEnd && VSIFSeekL(fp, nEnd - 1, SEEK_SET) == 0 &&
                      VSIFReadL(&chLast, 1, 1, fp) == 1 && chLast != '\n';
    VSIFSeekL(fp, nPos, SEEK_SET);
    return bLast;
}

/* A local report is opened without blocking and read only if it is a
 * regular file: a FIFO someone put at its name would hang the run, a device
 * be read forever. Through the descriptor checked (/proc/self/fd), where
 * there is one. */
static VSILFILE *OpenReport(const char *pszPath, char **ppszError)
{
    if (STARTS_WITH(pszPath, "/vsi"))
    {
        VSILFILE *fp = VSIFOpenL(pszPath, "rb");
        if (fp == NULL)
            *ppszError =
                CPLStrdup(CPLSPrintf("Cannot open report '%s': %s", pszPath, VSIStrerror(errno)));
        return fp;
    }
    const int fd = open(pszPath, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat sStat;
    if (fd < 0 || fstat(fd, &sStat) != 0)
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("Cannot open report '%s': %s", pszPath, VSIStrerror(errno)));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(sStat.st_mode))
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("Report '%s' is %s, not a regular file: it was not read.", pszPath,
                                 S_ISDIR(sStat.st_mode)    ? "a directory"
                                 : S_ISFIFO(sStat.st_mode) ? "a FIFO"
                                 : S_ISSOCK(sStat.st_mode) ? "a socket"
                                                           : "a device"));
        close(fd);
        return NULL;
    }
    char *pszVia = BWPathThroughFd(fd);
    VSILFILE *fp = VSIFOpenL(pszVia ? pszVia : pszPath, "rb");
    if (fp == NULL)
        *ppszError =
            CPLStrdup(CPLSPrintf("Cannot open report '%s': %s", pszPath, VSIStrerror(errno)));
    CPLFree(pszVia);
    close(fd);
    return fp;
}

int BWReportSetRead(BWReportSet *psSet, const char *pszPath, char **ppszError)
{
    VSILFILE *fp = OpenReport(pszPath, ppszError);
    if (fp == NULL)
        return FALSE;
    int nLine = 0;
    int bOk = TRUE;
    for (;;)
    {
        /* CPLReadLine2L() ends on a line too long as at the end of the file
         * (after a CPLError of its own, without the file's name). */
        CPLErrorReset();
        CPLPushErrorHandler(CPLQuietErrorHandler);
        const char *pszLine = CPLReadLine2L(fp, BW_MAX_REPORT_LINE_BYTES, NULL);
        const int bTooLong = pszLine == NULL && CPLGetLastErrorType() == CE_Failure;
        CPLPopErrorHandler();
        CPLErrorReset();
        if (bTooLong)
        {
            *ppszError = CPLStrdup(CPLSPrintf(
                "Report '%s', line %d is longer than %d MiB: not a line of a report (damaged, or "
                "no report of gdal_batchwarp); nothing was read from it.",
                pszPath, nLine + 1, BW_MAX_REPORT_LINE_BYTES >> 20));
            bOk = FALSE;
            break;
        }
        if (pszLine == NULL)
            break;
        ++nLine;
        if (pszLine[strspn(pszLine, " \t\r")] == '\0')
            continue;
        BWReportEntry sEntry;
        char *pszWhy = NULL;
        if (!BWReportParseLine(pszLine, strlen(pszLine), &sEntry, &pszWhy))
        {
            if (IsCutShortLastLine(fp))
            {
                /* A run killed while writing its last line: what the
                 * complete lines say still holds. */
                CPLError(CE_Warning, CPLE_AppDefined,
                         "Report '%s', line %d is cut short (%s): ignored; its source is not "
                         "taken from this report.",
                         pszPath, nLine, pszWhy);
                CPLFree(pszWhy);
                break;
            }
            *ppszError = CPLStrdup(CPLSPrintf("Report '%s', line %d: %s", pszPath, nLine, pszWhy));
            CPLFree(pszWhy);
            bOk = FALSE;
            break;
        }
        /* A line of an older report may hold a name's raw bytes: it is kept
         * as valid UTF-8 text with the exact bytes beside it, as reports are
         * written now, so that a merged report is valid UTF-8 too. */
        char *pszUTF8 = NULL;
        if (!BWIsUTF8(pszLine, strlen(pszLine)))
        {
            json_object *poObj = json_tokener_parse(pszLine);
            if (poObj != NULL)
                pszUTF8 = BWReportObjectToText(poObj);
            json_object_put(poObj);
        }
        NoteShard(psSet, &sEntry);
        Remember(psSet, &sEntry, pszUTF8 ? pszUTF8 : pszLine);
        CPLFree(pszUTF8);
    }
    VSIFCloseL(fp);
    return bOk;
}

int BWReportReadFailed(const char *pszPath, char ***ppapszSources, char ***ppapszOutputs,
                       char **ppszError)
{
    *ppapszSources = NULL;
    *ppapszOutputs = NULL;
    BWReportSet sSet;
    BWReportSetInit(&sSet);
    const int bOk = BWReportSetRead(&sSet, pszPath, ppszError);
    /* Filled in place: CSLAddString() counts the list on every call, which
     * a report of many failures would pay quadratically. */
    int nFailed = 0;
    for (int i = 0; bOk && i < sSet.nRecords; ++i)
        nFailed += !sSet.pasRecords[i].sEntry.bOk;
    if (nFailed > 0)
    {
        *ppapszSources = CPLCalloc((size_t)nFailed + 1, sizeof(char *));
        *ppapszOutputs = CPLCalloc((size_t)nFailed + 1, sizeof(char *));
    }
    int nOut = 0;
    for (int i = 0; nFailed > 0 && i < sSet.nRecords; ++i)
    {
        const BWReportEntry *psEntry = &sSet.pasRecords[i].sEntry;
        if (psEntry->bOk)
            continue;
        (*ppapszSources)[nOut] = CPLStrdup(psEntry->pszSource);
        (*ppapszOutputs)[nOut] = CPLStrdup(psEntry->pszOutput ? psEntry->pszOutput : "");
        ++nOut;
    }
    BWReportSetClear(&sSet);
    return bOk;
}
