/* Opening a task's source, and the prefetch: see batchwarp_prefetch.h. */
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "batchwarp_cpu_time.h"
#include "batchwarp_prefetch.h"
#include "batchwarp_task_log.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"

/* A network source at most this large (its size known from the listing) is
 * read whole by the request that opens it (GDAL_INGESTED_BYTES_AT_OPEN): one
 * round trip instead of one for the header and one or more for the data.
 * Larger ones are read as GDAL would: a warp may need only part of them
 * (overviews, a window), and the whole must fit in /vsicurl's 16 MB cache. */
#define BW_WHOLE_READ_MAX_BYTES (2 * 1024 * 1024)

/* A small object on the network, of known size: one request reads it whole
 * (the bytes GDAL reads are the same, from /vsicurl's cache), unless the
 * user set how much is read at open. */
static int ReadWholeAtOpen(const char *pszSource, GIntBig nSize)
{
    return nSize > 0 && nSize <= BW_WHOLE_READ_MAX_BYTES && BWIsNetworkPath(pszSource) &&
           CPLGetConfigOption("GDAL_INGESTED_BYTES_AT_OPEN", NULL) == NULL;
}

GDALDatasetH BWOpenSource(const char *pszSource, GIntBig nSize, unsigned int nFlags,
                          CSLConstList papszDrivers, CSLConstList papszOpenOptions,
                          CSLConstList papszSiblings)
{
    const int bWhole = ReadWholeAtOpen(pszSource, nSize);
    if (bWhole)
        CPLSetThreadLocalConfigOption("GDAL_INGESTED_BYTES_AT_OPEN",
                                      CPLSPrintf(CPL_FRMT_GIB, nSize));
    GDALDatasetH hDS =
        GDALOpenEx(pszSource, nFlags, (const char *const *)papszDrivers,
                   (const char *const *)papszOpenOptions, (const char *const *)papszSiblings);
    if (bWhole)
        CPLSetThreadLocalConfigOption("GDAL_INGESTED_BYTES_AT_OPEN", NULL);
    return hDS;
}

/* Swallows the prefetch thread's messages, noting any sign of failure. */
static void CPL_STDCALL PrefetchError(CPLErr eClass, CPLErrorNum nNum, const char *pszMsg)
{
    (void)nNum;
    int *pbFailed = CPLGetErrorHandlerUserData();
    if (eClass != CE_Debug || BWIsTransportFailure(pszMsg))
        *pbFailed = TRUE;
}

static void PrefetchSource(const BWMessage *psTask)
{
    const char *pszSource = BWMessageGet(psTask, "SRC");
    const char *pszSize = BWMessageGet(psTask, "SIZE");
    const GIntBig nSize = pszSize ? CPLAtoGIntBig(pszSize) : 0;
    if (pszSource == NULL || !ReadWholeAtOpen(pszSource, nSize))
        return;
    int bFailed = FALSE;
    CPLPushErrorHandlerEx(PrefetchError, &bFailed);
    /* The network file systems' debug messages are how a reply dropped or
     * cut short shows (see apszTransportSigns). */
    CPLSetThreadLocalConfigOption("CPL_DEBUG", BW_NETWORK_DEBUG_CATEGORIES);
    /* One try: a throttled object is left to the task's own retries, not
     * asked for twice as often. */
    CPLSetThreadLocalConfigOption("GDAL_HTTP_MAX_RETRY", "0");
    /* Opened as the task will open it (its siblings, the whole object read
     * at open), not read with VSIFReadL: a plain read of an object whose
     * size GDAL does not know asks for its head first, then for the rest,
     * and so costs two requests where the task's open costs one. The
     * user's -if and -oo are not needed: only the bytes are kept. */
    char **papszSiblings = BWMessageGetAll(psTask, "SIBLING");
    GDALDatasetH hDS = BWOpenSource(pszSource, nSize, GDAL_OF_RASTER, NULL, NULL, papszSiblings);
    CSLDestroy(papszSiblings);
    if (hDS == NULL)
        bFailed = TRUE;
    else
        GDALClose(hDS);
    CPLSetThreadLocalConfigOption("GDAL_HTTP_MAX_RETRY", NULL);
    CPLSetThreadLocalConfigOption("CPL_DEBUG", NULL);
    CPLPopErrorHandler();
    if (bFailed)
        VSICurlPartialClearCache(pszSource);
}

void BWLookaheadThread(void *pData)
{
    BWLookahead *psAhead = pData;
    psAhead->nRet =
        BWMessageRead(psAhead->fd, psAhead->psDecoder, &psAhead->sMsg, &psAhead->pszError);
    psAhead->dfReceived = BWMonotonicSeconds();
    const double dfQueueStart = BWThreadRunQueueSeconds();
    if (psAhead->nRet > 0 && psAhead->sMsg.eType == BW_MSG_TASK)
    {
        /* The prefetch opens what the task will, a FIFO too (a warped VRT
         * naming one opens it with the VRT): released, or this thread waited
         * forever, and the main thread joining it. */
        BWFifoGuardWatchThisThread();
        PrefetchSource(&psAhead->sMsg);
        BWFifoGuardUnwatchThisThread();
    }
    psAhead->dfQueued = BWThreadRunQueueSeconds() - dfQueueStart;
}
