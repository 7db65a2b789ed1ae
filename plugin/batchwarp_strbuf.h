/*
 * A growable string, after git's strbuf: text of any length (report lines
 * with many GDAL messages, names, error messages, usage) where CPLSPrintf()
 * keeps at most 8000 bytes. The buffer is always NUL-terminated; BW_STRBUF_INIT
 * or BWStrBufInit() makes an empty one that owns no memory yet.
 */
#ifndef BATCHWARP_STRBUF_H_INCLUDED
#define BATCHWARP_STRBUF_H_INCLUDED

#include <stddef.h>

#include <cpl_port.h>

typedef struct
{
    char *pszBuf; /* NULL until something is added */
    size_t nLen;  /* bytes of text, not counting the NUL */
    size_t nAlloc;
} BWStrBuf;

#define BW_STRBUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void BWStrBufInit(BWStrBuf *psSB);
/* Makes room for nExtra more bytes (and the NUL) without adding any. */
void BWStrBufGrow(BWStrBuf *psSB, size_t nExtra);
void BWStrBufAdd(BWStrBuf *psSB, const void *pData, size_t nLen);
void BWStrBufAddStr(BWStrBuf *psSB, const char *psz);
void BWStrBufAddCh(BWStrBuf *psSB, char ch);
/* Cuts the text to nLen bytes (nLen <= the current length). */
void BWStrBufSetLength(BWStrBuf *psSB, size_t nLen);
/* The text: "" when empty; valid until the next change. */
const char *BWStrBufGet(const BWStrBuf *psSB);
/* The text, to CPLFree(); the buffer is left empty. Never NULL. */
char *BWStrBufDetach(BWStrBuf *psSB);
/* Frees the text; the buffer is left empty and may be used again. */
void BWStrBufRelease(BWStrBuf *psSB);

/* A formatted string of any length, to CPLFree(): CPLStrdup(CPLSPrintf())
 * without its 8000-byte limit. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
char *
BWStrPrintf(const char *pszFormat, ...);

#endif
