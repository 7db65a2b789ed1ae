#include "batchwarp_protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_strbuf.h"

/* A decoder's first buffer; it doubles as messages need. */
#define BW_DECODER_INITIAL_BYTES 4096

struct BWFrameDecoder
{
    unsigned char *pabyBuf;
    size_t nLen;
    size_t nCap;
};

void BWMessageClear(BWMessage *psMsg)
{
    CSLDestroy(psMsg->papszFields);
    psMsg->papszFields = NULL;
    psMsg->eType = 0;
}

static int IsKnownType(int nType)
{
    return nType >= BW_MSG_INIT && nType <= BW_MSG_QUIT;
}

int BWMessageEncode(BWMessageType eType, CSLConstList papszFields, unsigned char **ppabyOut,
                    size_t *pnOutLen, char **ppszError)
{
    size_t nPayload = 0;
    for (CSLConstList papszIter = papszFields; papszIter && *papszIter; ++papszIter)
        nPayload += strlen(*papszIter) + 1;
    if (nPayload > BW_MAX_PAYLOAD)
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("message of %lu bytes exceeds the protocol limit", (unsigned long)nPayload));
        return FALSE;
    }
    unsigned char *pabyOut = CPLMalloc(BW_HEADER_SIZE + nPayload);
    pabyOut[0] = 'B';
    pabyOut[1] = 'W';
    pabyOut[2] = BW_PROTOCOL_VERSION;
    pabyOut[3] = (unsigned char)eType;
    for (int i = 0; i < 4; ++i)
        pabyOut[4 + i] = (unsigned char)((nPayload >> (8 * i)) & 0xff);
    size_t nOff = BW_HEADER_SIZE;
    for (CSLConstList papszIter = papszFields; papszIter && *papszIter; ++papszIter)
    {
        const size_t n = strlen(*papszIter) + 1;
        memcpy(pabyOut + nOff, *papszIter, n);
        nOff += n;
    }
    *ppabyOut = pabyOut;
    *pnOutLen = nOff;
    return TRUE;
}

int BWMessageWrite(int fd, BWMessageType eType, CSLConstList papszFields, char **ppszError)
{
    unsigned char *pabyBuf = NULL;
    size_t nLen = 0;
    if (!BWMessageEncode(eType, papszFields, &pabyBuf, &nLen, ppszError))
        return FALSE;
    size_t nDone = 0;
    while (nDone < nLen)
    {
        /* MSG_NOSIGNAL: a dead peer must give EPIPE, not kill the writer. */
        const ssize_t n = send(fd, pabyBuf + nDone, nLen - nDone, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
        {
            *ppszError =
                CPLStrdup(CPLSPrintf("cannot write to worker channel: %s", strerror(errno)));
            CPLFree(pabyBuf);
            return FALSE;
        }
        nDone += (size_t)n;
    }
    CPLFree(pabyBuf);
    return TRUE;
}

BWFrameDecoder *BWFrameDecoderNew(void)
{
    return CPLCalloc(1, sizeof(BWFrameDecoder));
}

void BWFrameDecoderFree(BWFrameDecoder *psDecoder)
{
    if (psDecoder == NULL)
        return;
    CPLFree(psDecoder->pabyBuf);
    CPLFree(psDecoder);
}

void BWFrameDecoderFeed(BWFrameDecoder *psDecoder, const void *pData, size_t nLen)
{
    if (nLen == 0)
        return;
    if (psDecoder->nLen + nLen > psDecoder->nCap)
    {
        size_t nCap = psDecoder->nCap ? psDecoder->nCap : BW_DECODER_INITIAL_BYTES;
        while (nCap < psDecoder->nLen + nLen)
            nCap *= 2;
        psDecoder->pabyBuf = CPLRealloc(psDecoder->pabyBuf, nCap);
        psDecoder->nCap = nCap;
    }
    memcpy(psDecoder->pabyBuf + psDecoder->nLen, pData, nLen);
    psDecoder->nLen += nLen;
}

size_t BWFrameDecoderPending(const BWFrameDecoder *psDecoder)
{
    return psDecoder->nLen;
}

static char **SplitPayload(const unsigned char *pabyPayload, size_t nLen, char **ppszError)
{
    if (nLen == 0)
        return NULL;
    if (pabyPayload[nLen - 1] != '\0')
    {
        *ppszError = CPLStrdup("corrupt message: payload is not NUL-terminated");
        return (char **)-1;
    }
    char **papszFields = NULL;
    size_t nOff = 0;
    while (nOff < nLen)
    {
        const char *pszField = (const char *)pabyPayload + nOff;
        const size_t nFieldLen = strlen(pszField);
        if (strchr(pszField, '=') == NULL || pszField[0] == '=')
        {
            CSLDestroy(papszFields);
            *ppszError = CPLStrdup("corrupt message: field is not KEY=VALUE");
            return (char **)-1;
        }
        papszFields = CSLAddStringMayFail(papszFields, pszField);
        if (papszFields == NULL)
        {
            *ppszError = CPLStrdup("out of memory decoding a message");
            return (char **)-1;
        }
        nOff += nFieldLen + 1;
    }
    return papszFields;
}

int BWFrameDecoderNext(BWFrameDecoder *psDecoder, BWMessage *psMsg, char **ppszError)
{
    if (psDecoder->nLen < BW_HEADER_SIZE)
        return 0;
    const unsigned char *pabyHdr = psDecoder->pabyBuf;
    if (pabyHdr[0] != 'B' || pabyHdr[1] != 'W')
    {
        *ppszError = CPLStrdup("corrupt message: bad magic");
        return -1;
    }
    if (pabyHdr[2] != BW_PROTOCOL_VERSION)
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("protocol version %d, expected %d", pabyHdr[2], BW_PROTOCOL_VERSION));
        return -1;
    }
    if (!IsKnownType(pabyHdr[3]))
    {
        *ppszError = CPLStrdup(CPLSPrintf("corrupt message: unknown type %d", pabyHdr[3]));
        return -1;
    }
    size_t nPayload = 0;
    for (int i = 0; i < 4; ++i)
        nPayload |= (size_t)pabyHdr[4 + i] << (8 * i);
    if (nPayload > BW_MAX_PAYLOAD)
    {
        *ppszError =
            CPLStrdup(CPLSPrintf("corrupt message: payload of %lu bytes", (unsigned long)nPayload));
        return -1;
    }
    if (psDecoder->nLen < BW_HEADER_SIZE + nPayload)
        return 0;

    char **papszFields = SplitPayload(pabyHdr + BW_HEADER_SIZE, nPayload, ppszError);
    if (papszFields == (char **)-1)
        return -1;
    psMsg->eType = (BWMessageType)pabyHdr[3];
    psMsg->papszFields = papszFields;

    const size_t nConsumed = BW_HEADER_SIZE + nPayload;
    memmove(psDecoder->pabyBuf, psDecoder->pabyBuf + nConsumed, psDecoder->nLen - nConsumed);
    psDecoder->nLen -= nConsumed;
    return 1;
}

int BWMessageRead(int fd, BWFrameDecoder *psDecoder, BWMessage *psMsg, char **ppszError)
{
    for (;;)
    {
        const int nRet = BWFrameDecoderNext(psDecoder, psMsg, ppszError);
        if (nRet != 0)
            return nRet;
        unsigned char abyBuf[BW_READ_CHUNK_BYTES];
        const ssize_t n = read(fd, abyBuf, sizeof(abyBuf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
        {
            *ppszError = CPLStrdup(CPLSPrintf("cannot read worker channel: %s", strerror(errno)));
            return -1;
        }
        if (n == 0)
        {
            if (BWFrameDecoderPending(psDecoder) == 0)
                return 0;
            *ppszError = CPLStrdup("worker channel closed in the middle of a message");
            return -1;
        }
        BWFrameDecoderFeed(psDecoder, abyBuf, (size_t)n);
    }
}

const char *BWMessageGet(const BWMessage *psMsg, const char *pszKey)
{
    const size_t nKeyLen = strlen(pszKey);
    for (char **papszIter = psMsg->papszFields; papszIter && *papszIter; ++papszIter)
    {
        if (strncmp(*papszIter, pszKey, nKeyLen) == 0 && (*papszIter)[nKeyLen] == '=')
            return *papszIter + nKeyLen + 1;
    }
    return NULL;
}

char **BWMessageGetAll(const BWMessage *psMsg, const char *pszKey)
{
    char **papszValues = NULL;
    const size_t nKeyLen = strlen(pszKey);
    for (char **papszIter = psMsg->papszFields; papszIter && *papszIter; ++papszIter)
    {
        if (strncmp(*papszIter, pszKey, nKeyLen) == 0 && (*papszIter)[nKeyLen] == '=')
            papszValues = CSLAddString(papszValues, *papszIter + nKeyLen + 1);
    }
    return papszValues;
}

char *BWMessageJoin(const BWMessage *psMsg, const char *pszKey)
{
    const size_t nKeyLen = strlen(pszKey);
    BWStrBuf sJoined = BW_STRBUF_INIT;
    int bAny = FALSE;
    for (char **papszIter = psMsg->papszFields; papszIter && *papszIter; ++papszIter)
    {
        if (strncmp(*papszIter, pszKey, nKeyLen) != 0 || (*papszIter)[nKeyLen] != '=')
            continue;
        if (bAny)
            BWStrBufAddCh(&sJoined, '\n');
        BWStrBufAddStr(&sJoined, *papszIter + nKeyLen + 1);
        bAny = TRUE;
    }
    return bAny ? BWStrBufDetach(&sJoined) : NULL;
}
