#include "batchwarp_report_reader.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include <cpl_conv.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

void BWReportEntryClear(BWReportEntry *psEntry)
{
    CPLFree(psEntry->pszSource);
    CPLFree(psEntry->pszOutput);
    CPLFree(psEntry->pszError);
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
    else
    {
        psEntry->pszSource = CPLStrdup(json_object_get_string(poSource));
        psEntry->bOk = json_object_get_boolean(poOkValue);
        psEntry->pszOutput = OptionalString(poObj, "output");
        psEntry->pszError = OptionalString(poObj, "error");
        json_object *poSkipped = NULL;
        psEntry->bSkipped = json_object_object_get_ex(poObj, "skipped", &poSkipped) &&
                            json_object_get_boolean(poSkipped);
        bOk = TRUE;
    }
    json_object_put(poObj);
    return bOk;
}

typedef struct
{
    char *pszSource;
    int bFailed;
    int nOrder;
} BWSourceState;

static unsigned long HashState(const void *p)
{
    return CPLHashSetHashStr(((const BWSourceState *)p)->pszSource);
}

static int EqualState(const void *a, const void *b)
{
    return strcmp(((const BWSourceState *)a)->pszSource, ((const BWSourceState *)b)->pszSource) ==
           0;
}

static void FreeState(void *p)
{
    CPLFree(((BWSourceState *)p)->pszSource);
    CPLFree(p);
}

typedef struct
{
    BWSourceState **papsStates;
} BWStateArray;

static int CollectState(void *pElt, void *pUser)
{
    BWSourceState *psState = pElt;
    ((BWStateArray *)pUser)->papsStates[psState->nOrder] = psState;
    return TRUE;
}

int BWReportReadFailedSources(const char *pszPath, char ***ppapszSources, char **ppszError)
{
    *ppapszSources = NULL;
    VSILFILE *fp = VSIFOpenL(pszPath, "rb");
    if (fp == NULL)
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("Cannot open report '%s': %s", pszPath, VSIStrerror(errno)));
        return FALSE;
    }
    /* The latest line of a source wins: a rerun may append to a report. */
    CPLHashSet *psStates = CPLHashSetNew(HashState, EqualState, FreeState);
    int nLine = 0;
    int bOk = TRUE;
    const char *pszLine;
    while ((pszLine = CPLReadLine2L(fp, 64 * 1024 * 1024, NULL)) != NULL)
    {
        ++nLine;
        if (pszLine[strspn(pszLine, " \t\r")] == '\0')
            continue;
        BWReportEntry sEntry;
        char *pszWhy = NULL;
        if (!BWReportParseLine(pszLine, strlen(pszLine), &sEntry, &pszWhy))
        {
            *ppszError = CPLStrdup(CPLSPrintf("Report '%s', line %d: %s", pszPath, nLine, pszWhy));
            CPLFree(pszWhy);
            bOk = FALSE;
            break;
        }
        BWSourceState sKey = {sEntry.pszSource, 0, 0};
        BWSourceState *psState = CPLHashSetLookup(psStates, &sKey);
        if (psState == NULL)
        {
            psState = CPLCalloc(1, sizeof(BWSourceState));
            psState->pszSource = CPLStrdup(sEntry.pszSource);
            psState->nOrder = CPLHashSetSize(psStates);
            CPLHashSetInsert(psStates, psState);
        }
        psState->bFailed = !sEntry.bOk;
        BWReportEntryClear(&sEntry);
    }
    VSIFCloseL(fp);
    if (bOk)
    {
        BWStateArray sArray;
        sArray.papsStates = CPLCalloc((size_t)CPLHashSetSize(psStates) + 1, sizeof(void *));
        CPLHashSetForeach(psStates, CollectState, &sArray);
        for (int i = 0; i < CPLHashSetSize(psStates); ++i)
        {
            if (sArray.papsStates[i]->bFailed)
                *ppapszSources = CSLAddString(*ppapszSources, sArray.papsStates[i]->pszSource);
        }
        CPLFree(sArray.papsStates);
    }
    CPLHashSetDestroy(psStates);
    return bOk;
}
