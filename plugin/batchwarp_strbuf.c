#include "batchwarp_strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>

void BWStrBufInit(BWStrBuf *psSB)
{
    psSB->pszBuf = NULL;
    psSB->nLen = 0;
    psSB->nAlloc = 0;
}

void BWStrBufGrow(BWStrBuf *psSB, size_t nExtra)
{
    if (nExtra >= (size_t)-1 - psSB->nLen - 1)
    {
        CPLError(CE_Fatal, CPLE_OutOfMemory, "String too long");
        return;
    }
    const size_t nNeeded = psSB->nLen + nExtra + 1;
    if (nNeeded <= psSB->nAlloc)
        return;
    size_t nAlloc = psSB->nAlloc ? psSB->nAlloc : 64;
    while (nAlloc < nNeeded)
        nAlloc = nAlloc < (size_t)-1 / 2 ? nAlloc * 2 : nNeeded;
    psSB->pszBuf = CPLRealloc(psSB->pszBuf, nAlloc);
    psSB->nAlloc = nAlloc;
    psSB->pszBuf[psSB->nLen] = '\0';
}

void BWStrBufAdd(BWStrBuf *psSB, const void *pData, size_t nLen)
{
    BWStrBufGrow(psSB, nLen);
    if (nLen > 0)
        memcpy(psSB->pszBuf + psSB->nLen, pData, nLen);
    psSB->nLen += nLen;
    psSB->pszBuf[psSB->nLen] = '\0';
}

void BWStrBufAddStr(BWStrBuf *psSB, const char *psz)
{
    BWStrBufAdd(psSB, psz, strlen(psz));
}

void BWStrBufAddCh(BWStrBuf *psSB, char ch)
{
    BWStrBufAdd(psSB, &ch, 1);
}

static void AddV(BWStrBuf *psSB, const char *pszFormat, va_list args)
{
    va_list argsCopy;
    va_copy(argsCopy, args);
    const int nNeeded = vsnprintf(NULL, 0, pszFormat, argsCopy);
    va_end(argsCopy);
    if (nNeeded <= 0)
        return;
    BWStrBufGrow(psSB, (size_t)nNeeded);
    vsnprintf(psSB->pszBuf + psSB->nLen, (size_t)nNeeded + 1, pszFormat, args);
    psSB->nLen += (size_t)nNeeded;
}

void BWStrBufSetLength(BWStrBuf *psSB, size_t nLen)
{
    if (nLen > psSB->nLen)
        return;
    psSB->nLen = nLen;
    if (psSB->pszBuf != NULL)
        psSB->pszBuf[nLen] = '\0';
}

const char *BWStrBufGet(const BWStrBuf *psSB)
{
    return psSB->pszBuf ? psSB->pszBuf : "";
}

char *BWStrBufDetach(BWStrBuf *psSB)
{
    char *psz = psSB->pszBuf ? psSB->pszBuf : CPLStrdup("");
    BWStrBufInit(psSB);
    return psz;
}

void BWStrBufRelease(BWStrBuf *psSB)
{
    CPLFree(psSB->pszBuf);
    BWStrBufInit(psSB);
}

char *BWStrPrintf(const char *pszFormat, ...)
{
    BWStrBuf sSB = BW_STRBUF_INIT;
    va_list args;
    va_start(args, pszFormat);
    AddV(&sSB, pszFormat, args);
    va_end(args);
    return BWStrBufDetach(&sSB);
}
