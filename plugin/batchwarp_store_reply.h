/* What an object store answered a request, as GDAL's network file systems
 * report it: the error reply (S3 and GCS XML, Azure's, ADLS JSON) comes only
 * in their debug messages, and the error raised after it often says only
 * that the request failed ("DoSinglePartPUT of ... failed"), with errno
 * left at 0. */
#ifndef BATCHWARP_STORE_REPLY_H_INCLUDED
#define BATCHWARP_STORE_REPLY_H_INCLUDED

#include <cpl_error.h>
#include <cpl_port.h>

/* TRUE when pszReason holds an object store's error reply whose code says
 * that the same request made again gets the same answer: a bucket or
 * container that does not exist, access denied, bad credentials. Throttling
 * and the store's own failures (SlowDown, InternalError, ...), and a reply
 * with no code (dropped, cut short), are not permanent. */
int BWStoreErrorIsPermanent(const char *pszReason);

/* A GDAL message as the reason in an error of ours (CPLFree it): one line
 * of at most 300 bytes, and GDAL 3.6's "(null)" for a request that got no
 * reply said in words. */
char *BWStoreReasonLine(const char *pszMsg);

/* Passes a message caught by pfnThis (the current handler, pushed with
 * pUserData) on to the handler below it, as if pfnThis were not there: pops
 * it, raises the message again (a debug message under its own category),
 * and pushes pfnThis again. */
void BWPassOnBelow(CPLErrorHandler pfnThis, void *pUserData, CPLErr eClass, CPLErrorNum nNo,
                   const char *pszMsg);

/* GDAL's messages caught from BWStoreCaptureBegin to BWStoreCaptureEnd, on
 * the calling thread: errors, and the network file systems' debug messages
 * (turned on for the calling thread). Warnings, and debug messages the user
 * asked for with CPL_DEBUG, still reach the handler below. */
typedef struct BWStoreCapture BWStoreCapture;
BWStoreCapture *BWStoreCaptureBegin(void);
/* Ends the capture (and frees psCapture). Returns why the call failed
 * (CPLFree it; see BWStoreReasonLine): the store's error reply if one came,
 * else the last error GDAL raised, else NULL. */
char *BWStoreCaptureEnd(BWStoreCapture *psCapture);

#endif
