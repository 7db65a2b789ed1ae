/*
 * File names in JSON text. A Linux file name is bytes, JSON text is UTF-8:
 * a name that is not valid UTF-8 (a Latin-1 "caf\xe9.tif", a stray 0xff)
 * is written into the report as valid text, each byte that is not part of
 * valid UTF-8 replaced by U+FFFD, and its exact bytes kept beside it in
 * standard base64 (RFC 4648, padded), which the report reader prefers.
 */
#ifndef BATCHWARP_UTF8_H_INCLUDED
#define BATCHWARP_UTF8_H_INCLUDED

#include <stddef.h>

/* Whether the nLen bytes at psz are valid UTF-8 as RFC 3629 defines it (and
 * as Python's, jq's or Rust's strict decoders read it): no overlong form, no
 * surrogate (U+D800..U+DFFF), nothing above U+10FFFF. CPLIsUTF8() of GDAL
 * 3.6 takes encoded surrogates, which those decoders refuse. */
int BWIsUTF8(const char *psz, size_t nLen);

/* psz with each byte that is not part of valid UTF-8 replaced by U+FFFD
 * (CPLFree it); a copy of psz when it is valid. */
char *BWUTF8Replace(const char *psz);

/* The bytes of psz (without its NUL) in standard padded base64 (CPLFree it). */
char *BWNameToBase64(const char *psz);

/* The name whose bytes pszBase64 holds (CPLFree it), or NULL if pszBase64 is
 * not standard padded base64 of at least one byte, or its bytes hold a NUL
 * (which no file name has). */
char *BWBase64ToName(const char *pszBase64);

#endif
