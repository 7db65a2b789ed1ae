/* What an object store answered: see batchwarp_store_reply.h. */
#include "batchwarp_store_reply.h"

#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

/* The error codes of object stores that a later request may not get: the
 * store throttled or failed on its side (S3 and GCS's XML, Azure's, and the
 * AWS SDKs' list of throttling codes). */
static const char *const apszTransientStoreCodes[] = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "ServerBusy",
    "OperationTimedOut",
    "InternalServerError",
    "PriorRequestNotComplete",
    NULL,
};

/* The error code of the store's reply in pszText (a pointer into it, and
 * its length in *pnLen), or NULL. */
static const char *StoreErrorCode(const char *pszText, size_t *pnLen)
{
    static const char *const apszOpen[] = {"<Code>", "\"code\":\"", "\"Code\":\"", NULL};
    static const char *const apszClose[] = {"</Code>", "\"", "\"", NULL};
    for (int i = 0; apszOpen[i] != NULL; ++i)
    {
        const char *pszCode = strstr(pszText, apszOpen[i]);
        if (pszCode == NULL)
            continue;
        pszCode += strlen(apszOpen[i]);
        const char *pszEnd = strstr(pszCode, apszClose[i]);
        if (pszEnd == NULL || pszEnd == pszCode)
            continue;
        *pnLen = (size_t)(pszEnd - pszCode);
        return pszCode;
    }
    return NULL;
}

int BWStoreErrorIsPermanent(const char *pszReason)
{
    size_t nLen = 0;
    const char *pszCode = pszReason ? StoreErrorCode(pszReason, &nLen) : NULL;
    if (pszCode == NULL)
        return FALSE;
    for (int j = 0; apszTransientStoreCodes[j] != NULL; ++j)
        if (strlen(apszTransientStoreCodes[j]) == nLen &&
            strncmp(apszTransientStoreCodes[j], pszCode, nLen) == 0)
            return FALSE;
    return TRUE;
}

struct BWStoreCapture
{
    char *pszReply;   /* the last debug message holding a store's error reply */
    char *pszFailure; /* the last error raised */
    int bUserDebug;   /* CPL_DEBUG was the user's: pass debug messages on */
    int bHadLocal;    /* the thread's own CPL_DEBUG before, restored at the end */
    char *pszOldLocal;
};

void BWPassOnBelow(CPLErrorHandler pfnThis, void *pUserData, CPLErr eClass, CPLErrorNum nNo,
                   const char *pszMsg)
{
    char *pszCopy = CPLStrdup(pszMsg); /* pszMsg is CPLError's own buffer */
    CPLPopErrorHandler();
    const char *pszColon = eClass == CE_Debug ? strstr(pszCopy, ": ") : NULL;
    if (pszColon != NULL)
    {
        char *pszCategory = CPLStrdup(pszCopy);
        pszCategory[pszColon - pszCopy] = '\0';
        CPLDebug(pszCategory, "%s", pszColon + 2);
        CPLFree(pszCategory);
    }
    else if (eClass == CE_Debug)
        CPLDebug("BATCHWARP", "%s", pszCopy);
    else
        CPLError(eClass, nNo, "%s", pszCopy);
    CPLFree(pszCopy);
    CPLPushErrorHandlerEx(pfnThis, pUserData);
}

static void CPL_STDCALL CaptureHandler(CPLErr eClass, CPLErrorNum nNo, const char *pszMsg)
{
    BWStoreCapture *psCapture = CPLGetErrorHandlerUserData();
    size_t nLen = 0;
    if (eClass == CE_Failure || eClass == CE_Fatal)
    {
        CPLFree(psCapture->pszFailure);
        psCapture->pszFailure = CPLStrdup(pszMsg);
        return;
    }
    if (eClass == CE_Debug && StoreErrorCode(pszMsg, &nLen) != NULL)
    {
        CPLFree(psCapture->pszReply);
        psCapture->pszReply = CPLStrdup(pszMsg);
    }
    if (eClass != CE_Debug || psCapture->bUserDebug)
        BWPassOnBelow(CaptureHandler, psCapture, eClass, nNo, pszMsg);
}

BWStoreCapture *BWStoreCaptureBegin(void)
{
    BWStoreCapture *psCapture = CPLCalloc(1, sizeof(BWStoreCapture));
    const char *pszUserDebug = CPLGetConfigOption("CPL_DEBUG", NULL);
    psCapture->bUserDebug = pszUserDebug != NULL && CPLTestBool(pszUserDebug);
    psCapture->bHadLocal = CPLGetThreadLocalConfigOption("CPL_DEBUG", NULL) != NULL;
    psCapture->pszOldLocal = CPLStrdup(CPLGetThreadLocalConfigOption("CPL_DEBUG", ""));
    if (!psCapture->bUserDebug)
        CPLSetThreadLocalConfigOption("CPL_DEBUG", "S3 GS AZURE ADLS OSS SWIFT WEBHDFS");
    CPLPushErrorHandlerEx(CaptureHandler, psCapture);
    CPLSetCurrentErrorHandlerCatchDebug(TRUE);
    return psCapture;
}

char *BWStoreReasonLine(const char *pszMsg)
{
    /* What GDAL 3.6 says of a request that got no reply at all. */
    const size_t nLen = strlen(pszMsg);
    if (nLen >= 6 && strcmp(pszMsg + nLen - 6, "(null)") == 0)
        return CPLStrdup(
            CPLSPrintf("%.*sno reply (no connection, or it was dropped)", (int)(nLen - 6), pszMsg));
    char *pszOut = CPLStrdup(pszMsg);
    for (char *p = pszOut; *p; ++p)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (strlen(pszOut) > 300)
        strcpy(pszOut + 297, "...");
    return pszOut;
}

char *BWStoreCaptureEnd(BWStoreCapture *psCapture)
{
    CPLPopErrorHandler();
    CPLSetThreadLocalConfigOption("CPL_DEBUG",
                                  psCapture->bHadLocal ? psCapture->pszOldLocal : NULL);
    const char *pszWhy = psCapture->pszReply ? psCapture->pszReply : psCapture->pszFailure;
    char *pszReason = pszWhy ? BWStoreReasonLine(pszWhy) : NULL;
    CPLFree(psCapture->pszReply);
    CPLFree(psCapture->pszFailure);
    CPLFree(psCapture->pszOldLocal);
    CPLFree(psCapture);
    return pszReason;
}
