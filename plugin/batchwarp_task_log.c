/* The worker's log of a task's messages: see batchwarp_task_log.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_store_reply.h"
#include "batchwarp_strbuf.h"
#include "batchwarp_task_log.h"

/* What GDAL's network file systems say (as debug messages in GDAL 3.6, which
 * then hands the short data to the driver) when a reply is dropped or cut
 * short, and the errors of an upload that failed. */
static const char *const apszTransportSigns[] = {
    "transfer closed with",
    "Connection reset",
    "Empty reply from server",
    "Recv failure",
    "Send failure",
    "response_code=0,",
    "timed out",
    "Failure when receiving data",
    "bytes missing", /* curl 8: "end of response with N bytes missing" (a body cut short) */
    NULL,
};
static const char *const apszUploadFailures[] = {
    "DoSinglePartPUT", "DoPartUpload", "InitiateMultipartUpload", "CompleteMultipartUpload", NULL,
};

static int ContainsAny(const char *pszMsg, const char *const *papszSigns)
{
    for (int i = 0; papszSigns[i] != NULL; ++i)
    {
        if (strstr(pszMsg, papszSigns[i]) != NULL)
            return TRUE;
    }
    return FALSE;
}

/* Takes pszMessage (from BWStrPrintf: whole, whatever its length). */
static void AddMessage(BWTaskLog *psLog, char *pszMessage)
{
    psLog->papszMessages = CSLAddString(psLog->papszMessages, pszMessage);
    CPLFree(pszMessage);
}

/* The task's limit of errors and warnings reported, as GDAL's default
 * error handler reads it for gdalwarp. */
static int MaxReports(BWTaskLog *psLog)
{
    if (!psLog->bMaxKnown)
    {
        psLog->nMaxReports = atoi(CPLGetConfigOption("CPL_MAX_ERROR_REPORTS", "1000"));
        psLog->bMaxKnown = TRUE;
    }
    return psLog->nMaxReports;
}

/*
 * An error or warning of the task (takes pszMessage), as gdalwarp reports
 * it: GDAL's default handler prints the first 1000 of a process, then says
 * so once and prints no more. A damaged source can raise one per block
 * (JPEG tiles cut short: 'Corrupt JPEG data', a quarter of a million for an
 * 8192x8192 raster of 16x16 tiles): all kept, they took minutes to gather
 * (quadratic), and a RESULT over the protocol's 16 MiB lost the worker and
 * failed a task that gdalwarp does in seconds, exiting 0.
 */
static void AddReported(BWTaskLog *psLog, char *pszMessage)
{
    const int nMax = MaxReports(psLog);
    psLog->nReported++;
    if (nMax > 0 && psLog->nReported > nMax)
    {
        CPLFree(pszMessage);
        return;
    }
    AddMessage(psLog, pszMessage);
    if (nMax > 0 && psLog->nReported == nMax)
        AddMessage(psLog, BWStrPrintf("More than %d errors or warnings have been reported. No "
                                      "more will be reported from now.",
                                      nMax));
}

/* pszText with every pszVia (not followed by a digit: /proc/self/fd/1 is not
 * /proc/self/fd/12) named pszReal instead (CPLFree it). */
static char *NameRealDir(const char *pszText, const char *pszVia, const char *pszReal)
{
    const size_t nVia = strlen(pszVia);
    BWStrBuf sOut = BW_STRBUF_INIT;
    const char *p = pszText;
    const char *pszHit;
    while ((pszHit = strstr(p, pszVia)) != NULL)
    {
        const char chNext = pszHit[nVia];
        BWStrBufAdd(&sOut, p, (size_t)(pszHit - p));
        BWStrBufAddStr(&sOut, chNext >= '0' && chNext <= '9' ? pszVia : pszReal);
        p = pszHit + nVia;
    }
    BWStrBufAddStr(&sOut, p);
    return BWStrBufDetach(&sOut);
}

void CPL_STDCALL BWTaskLogHandler(CPLErr eClass, CPLErrorNum nNum, const char *pszMsgGiven)
{
    BWTaskLog *psLog = CPLGetErrorHandlerUserData();
    char *pszNamed = psLog->pszViaDir != NULL && strstr(pszMsgGiven, psLog->pszViaDir) != NULL
                         ? NameRealDir(pszMsgGiven, psLog->pszViaDir, psLog->pszRealDir)
                         : NULL;
    const char *pszMsg = pszNamed != NULL ? pszNamed : pszMsgGiven;
    if (eClass == CE_Failure || eClass == CE_Fatal)
    {
        psLog->nErrors++;
        if (MaxReports(psLog) <= 0 || psLog->nErrorsKept < MaxReports(psLog))
        {
            psLog->papszErrors = CSLAddString(psLog->papszErrors, pszMsg);
            psLog->nErrorsKept++;
        }
        if (psLog->pszTransport == NULL && ContainsAny(pszMsg, apszUploadFailures))
            psLog->pszTransport = CPLStrdup(pszMsg);
        AddReported(psLog, BWStrPrintf("ERROR %d: %s", (int)nNum, pszMsg));
    }
    else if (eClass == CE_Warning)
        AddReported(psLog, BWStrPrintf("Warning %d: %s", (int)nNum, pszMsg));
    else if (eClass == CE_Debug)
    {
        if (psLog->pszTransport == NULL && ContainsAny(pszMsg, apszTransportSigns))
        {
            const char *pszWhy = strstr(pszMsg, "msg=");
            psLog->pszTransport = CPLStrdup(pszWhy ? pszWhy + 4 : pszMsg);
        }
        if (psLog->pszRefusal == NULL && BWStoreErrorIsPermanent(pszMsg))
            psLog->pszRefusal = BWStoreReasonLine(pszMsg);
        if (!psLog->bQuietDebug)
            fprintf(stderr, "[worker %ld] %s\n", (long)getpid(), pszMsg);
    }
    CPLFree(pszNamed);
}

void BWTaskLogClear(BWTaskLog *psLog)
{
    CSLDestroy(psLog->papszErrors);
    CSLDestroy(psLog->papszMessages);
    CPLFree(psLog->pszTransport);
    CPLFree(psLog->pszRefusal);
    psLog->papszErrors = NULL;
    psLog->papszMessages = NULL;
    psLog->nErrors = 0;
    psLog->nErrorsKept = 0;
    psLog->nReported = 0;
    psLog->pszTransport = NULL;
    psLog->pszRefusal = NULL;
}

int BWIsTransportFailure(const char *pszMsg)
{
    return ContainsAny(pszMsg, apszTransportSigns);
}
