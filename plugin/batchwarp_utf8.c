#include "batchwarp_utf8.h"

#include <limits.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

/* Length of the valid UTF-8 sequence at the start of the nLeft bytes at p,
 * or 0 if they do not start with one (RFC 3629, section 4). */
static size_t SequenceLength(const unsigned char *p, size_t nLeft)
{
    const unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t nLen;
    unsigned char nLow = 0x80; /* range of the second byte */
    unsigned char nHigh = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        nLen = 2;
    else if (c >= 0xE0 && c <= 0xEF)
    {
        nLen = 3;
        if (c == 0xE0)
            nLow = 0xA0; /* overlong */
        else if (c == 0xED)
            nHigh = 0x9F; /* surrogates */
    }
    else if (c >= 0xF0 && c <= 0xF4)
    {
        nLen = 4;
        if (c == 0xF0)
            nLow = 0x90; /* overlong */
        else if (c == 0xF4)
            nHigh = 0x8F; /* above U+10FFFF */
    }
    else
        return 0;
    if (nLeft < nLen || p[1] < nLow || p[1] > nHigh)
        return 0;
    for (size_t i = 2; i < nLen; ++i)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return nLen;
}

int BWIsUTF8(const char *psz, size_t nLen)
{
    const unsigned char *p = (const unsigned char *)psz;
    size_t i = 0;
    while (i < nLen)
    {
        /* ASCII runs, the common case, one byte at a time without the call. */
        if (p[i] < 0x80)
        {
            ++i;
            continue;
        }
        const size_t nSeq = SequenceLength(p + i, nLen - i);
        if (nSeq == 0)
            return FALSE;
        i += nSeq;
    }
    return TRUE;
}

char *BWUTF8Replace(const char *psz)
{
    const size_t nLen = strlen(psz);
    /* U+FFFD is 3 bytes: at most 3 times the input. */
    char *pszOut = CPLMalloc(3 * nLen + 1);
    const unsigned char *p = (const unsigned char *)psz;
    size_t nOut = 0;
    for (size_t i = 0; i < nLen;)
    {
        const size_t nSeq = SequenceLength(p + i, nLen - i);
        if (nSeq == 0)
        {
            memcpy(pszOut + nOut, "\xEF\xBF\xBD", 3);
            nOut += 3;
            ++i;
            continue;
        }
        memcpy(pszOut + nOut, psz + i, nSeq);
        nOut += nSeq;
        i += nSeq;
    }
    pszOut[nOut] = '\0';
    return pszOut;
}

char *BWNameToBase64(const char *psz)
{
    const size_t nLen = strlen(psz);
    if (nLen > INT_MAX / 2)
        return CPLStrdup("");
    return CPLBase64Encode((int)nLen, (const GByte *)psz);
}

static int IsBase64Char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

char *BWBase64ToName(const char *pszBase64)
{
    /* CPLBase64DecodeInPlace() skips what is not base64: check the text
     * first, so that a damaged field is refused rather than half read. */
    const size_t nLen = strlen(pszBase64);
    if (nLen == 0 || nLen % 4 != 0)
        return NULL;
    size_t nPad = 0;
    while (nPad < 2 && pszBase64[nLen - 1 - nPad] == '=')
        ++nPad;
    for (size_t i = 0; i < nLen - nPad; ++i)
        if (!IsBase64Char(pszBase64[i]))
            return NULL;
    const size_t nBytes = nLen / 4 * 3 - nPad;
    if (nBytes == 0)
        return NULL;
    char *pszName = CPLStrdup(pszBase64);
    const int nDecoded = CPLBase64DecodeInPlace((GByte *)pszName);
    if (nDecoded < 0 || (size_t)nDecoded != nBytes || memchr(pszName, '\0', nBytes) != NULL)
    {
        CPLFree(pszName);
        return NULL;
    }
    pszName[nBytes] = '\0';
    return pszName;
}
