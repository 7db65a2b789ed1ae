/*
 * Opening a task's source, and reading ahead while a task runs.
 */
#ifndef BATCHWARP_PREFETCH_H
#define BATCHWARP_PREFETCH_H

#include <gdal.h>

#include "batchwarp_protocol.h"

/* GDALOpenEx of a task's source (nSize: its listed size, 0 if unknown), the
 * task's and the prefetch's one way to open it: a small network source of
 * known size is read whole by the request that opens it. */
GDALDatasetH BWOpenSource(const char *pszSource, GIntBig nSize, unsigned int nFlags,
                          CSLConstList papszDrivers, CSLConstList papszOpenOptions,
                          CSLConstList papszSiblings);

/*
 * Prefetch: while a worker runs a task on a network source, a thread reads
 * the next message (the task the supervisor queued behind it) and, when it
 * is a TASK for a small network source of known size, opens it as the task
 * will, so that one request reads the object whole and leaves its bytes in
 * GDAL's process-wide /vsicurl cache: the task then opens and reads it
 * without a round trip. Only the cache is shared: the task itself runs,
 * fails, retries and reports as without it.
 * A prefetch that failed in any way (an error, a reply dropped or cut
 * short) drops what it cached, so the task reads the object itself and
 * sees the failure; a larger or unsized source is not prefetched.
 */
typedef struct
{
    int fd;
    BWFrameDecoder *psDecoder;
    BWMessage sMsg; /* the next message */
    int nRet;       /* BWMessageRead's */
    char *pszError;
    double dfReceived; /* when the message came (BWMonotonicSeconds) */
    double dfQueued;   /* the thread's run-queue seconds from then to its end */
} BWLookahead;

/* The thread (CPLCreateJoinableThread) that reads the next message into a
 * BWLookahead whose fd and psDecoder are set, and prefetches its source. */
void BWLookaheadThread(void *pData);

#endif
