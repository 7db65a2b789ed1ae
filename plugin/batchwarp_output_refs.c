/* What a written output says of its own name and of its source, made what
 * gdalwarp writes at the output's final place: see batchwarp_output_refs.h. */
#include <errno.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_minixml.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "batchwarp_output_refs.h"
#include "batchwarp_strbuf.h"

/* File systems whose path is their prefix followed by the path of the
 * archive or compressed file: /vsizip/a.zip/x.tif names a.zip in the current
 * directory, /vsizip/{a.zip}/x.tif too, /vsigzip//vsizip/... a chain. */
static const char *const apszArchivePrefixes[] = {"/vsizip/", "/vsitar/", "/vsigzip/",
                                                  "/vsi7z/",  "/vsirar/", NULL};

/* The archive prefix pszPath starts with, or NULL. */
static const char *ArchivePrefixOf(const char *pszPath)
{
    for (int i = 0; apszArchivePrefixes[i] != NULL; ++i)
    {
        if (STARTS_WITH(pszPath, apszArchivePrefixes[i]))
            return apszArchivePrefixes[i];
    }
    return NULL;
}

/* Whether pszPath is a subdataset's name as GDAL's drivers spell it,
 * DRIVER:"file":component (netCDF, HDF5) or DRIVER:[...:]file[:...] (GPKG,
 * GTIFF_DIR, NITF_IM), rather than a file: then *pnStart and *pnLen give
 * its file part (the quoted one, or the first ':'-separated part that is a
 * file), as batchwarp_naming reads it. */
static int SubdatasetFile(const char *pszPath, size_t *pnStart, size_t *pnLen)
{
    const char *p = pszPath;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
        ++p;
    VSIStatBufL sStat;
    if (p == pszPath || *p != ':' || STARTS_WITH(p, "://") || STARTS_WITH(pszPath, "/vsi") ||
        VSIStatL(pszPath, &sStat) == 0)
        return FALSE;
    ++p;
    if (*p == '"')
    {
        const char *pszEnd = strchr(p + 1, '"');
        if (pszEnd == NULL || pszEnd == p + 1)
            return FALSE;
        *pnStart = (size_t)(p + 1 - pszPath);
        *pnLen = (size_t)(pszEnd - p - 1);
        return TRUE;
    }
    while (*p != '\0')
    {
        const char *pszEnd = strchr(p, ':');
        const size_t nLen = pszEnd ? (size_t)(pszEnd - p) : strlen(p);
        char *pszPart = CPLStrdup(p);
        pszPart[nLen] = '\0';
        const int bFile = nLen > 0 && VSIStatL(pszPart, &sStat) == 0;
        CPLFree(pszPart);
        if (bFile)
        {
            *pnStart = (size_t)(p - pszPath);
            *pnLen = nLen;
            return TRUE;
        }
        if (pszEnd == NULL)
            break;
        p = pszEnd + 1;
    }
    return FALSE;
}

/* Whether pszPath is read relative to the current directory: a relative
 * path, an archive's path whose archive is one, a subdataset of such a
 * file. */
static int RelativeToWorkingDirectory(const char *pszPath)
{
    size_t nStart = 0;
    size_t nLen = 0;
    if (SubdatasetFile(pszPath, &nStart, &nLen))
    {
        char *pszFile = CPLStrdup(pszPath + nStart);
        pszFile[nLen] = '\0';
        const int bRelative = RelativeToWorkingDirectory(pszFile);
        CPLFree(pszFile);
        return bRelative;
    }
    const char *pszPrefix = ArchivePrefixOf(pszPath);
    if (pszPrefix == NULL)
        return CPLIsFilenameRelative(pszPath);
    const char *pszRest = pszPath + strlen(pszPrefix);
    return RelativeToWorkingDirectory(pszRest[0] == '{' ? pszRest + 1 : pszRest);
}

/* pszPath made absolute against the current directory (CPLFree it): a
 * relative path, and the relative path of an archive in /vsizip/ and
 * its kind (/vsizip/a.zip/x.tif: /vsizip//cwd/a.zip/x.tif). */
static char *Absolute(const char *pszPath)
{
    size_t nStart = 0;
    size_t nLen = 0;
    if (SubdatasetFile(pszPath, &nStart, &nLen))
    {
        /* GTIFF_DIR:1:in/a.tif: GTIFF_DIR:1:/cwd/in/a.tif. */
        char *pszFile = CPLStrdup(pszPath + nStart);
        pszFile[nLen] = '\0';
        char *pszFileAbs = Absolute(pszFile);
        char *pszOut =
            BWStrPrintf("%.*s%s%s", (int)nStart, pszPath, pszFileAbs, pszPath + nStart + nLen);
        CPLFree(pszFileAbs);
        CPLFree(pszFile);
        return pszOut;
    }
    const char *pszPrefix = ArchivePrefixOf(pszPath);
    if (pszPrefix != NULL)
    {
        const char *pszRest = pszPath + strlen(pszPrefix);
        const int bBraced = pszRest[0] == '{';
        char *pszRestAbs = Absolute(pszRest + (bBraced ? 1 : 0));
        char *pszOut = BWStrPrintf("%s%s%s", pszPrefix, bBraced ? "{" : "", pszRestAbs);
        CPLFree(pszRestAbs);
        return pszOut;
    }
    if (!CPLIsFilenameRelative(pszPath))
        return CPLStrdup(pszPath);
    char *pszCwd = CPLGetCurrentDir();
    char *pszAbs = CPLStrdup(pszCwd ? CPLFormFilename(pszCwd, pszPath, NULL) : pszPath);
    CPLFree(pszCwd);
    return pszAbs;
}

/* The text of a file (CPLFree it), or NULL. */
static char *ReadText(const char *pszPath)
{
    GByte *pabyData = NULL;
    if (!VSIIngestFile(NULL, pszPath, &pabyData, NULL, 100 * 1024 * 1024))
        return NULL;
    return (char *)pabyData;
}

/* Writes pszText as the whole of pszPath, or raises an error: "Cannot
 * rewrite <pszWhat>: <why>". */
static void Rewrite(const char *pszPath, const char *pszText, const char *pszWhat)
{
    errno = 0;
    VSILFILE *fp = VSIFOpenL(pszPath, "wb");
    const size_t nLen = strlen(pszText);
    int bOk = fp != NULL && VSIFWriteL(pszText, 1, nLen, fp) == nLen;
    int nErr = errno;
    if (fp != NULL && VSIFCloseL(fp) != 0)
    {
        bOk = FALSE;
        if (nErr == 0)
            nErr = errno;
    }
    if (!bOk)
        CPLError(CE_Failure, CPLE_FileIO, "Cannot rewrite %s: %s", pszWhat,
                 nErr != 0 ? VSIStrerror(nErr) : "unknown reason");
}

/*
 * A warped VRT written under its temporary name names its source relative to
 * that place. Name it as gdalwarp would have at the final place: relative to
 * the VRT's directory when the source lies under it, else by its path. That
 * path is made absolute, where gdalwarp would write a path relative to the
 * working directory (both relative, no common prefix), so that the published
 * VRT opens from any working directory. Only that element of the file
 * changes: the rest keeps the VRT driver's bytes.
 */
void BWReferSourceFromFinalPlace(const char *pszWritten, const char *pszWrittenName,
                                 const char *pszFinal)
{
    char *pszText = ReadText(pszWritten);
    CPLXMLNode *psRoot = pszText ? CPLParseXMLString(pszText) : NULL;
    CPLXMLNode *psVRT = psRoot ? CPLGetXMLNode(psRoot, "=VRTDataset") : NULL;
    CPLXMLNode *psSDS = psVRT ? CPLGetXMLNode(psVRT, "GDALWarpOptions.SourceDataset") : NULL;
    const char *pszValue = psSDS ? CPLGetXMLValue(psSDS, NULL, NULL) : NULL;
    char *pszStart = pszText ? strstr(pszText, "<SourceDataset") : NULL;
    const char *pszEndTag = "</SourceDataset>";
    char *pszEnd = pszStart ? strstr(pszStart, pszEndTag) : NULL;
    VSIStatBufL sStat;
    size_t nFileStart = 0;
    size_t nFileLen = 0;
    const int bWasRelative =
        psSDS != NULL && CPLTestBool(CPLGetXMLValue(psSDS, "relativeToVRT", "0"));
    char *pszSource =
        pszValue == NULL ? NULL
        : bWasRelative ? CPLStrdup(CPLProjectRelativeFilename(CPLGetPath(pszWrittenName), pszValue))
                       : CPLStrdup(pszValue);
    if (pszSource != NULL && pszEnd != NULL &&
        (bWasRelative || VSIStatExL(pszSource, &sStat, VSI_STAT_EXISTS_FLAG) == 0 ||
         SubdatasetFile(pszSource, &nFileStart, &nFileLen)))
    {
        char *pszAbsSource = Absolute(pszSource);
        char *pszAbsDir = Absolute(CPLGetPath(pszFinal));
        int bRelative = FALSE;
        const char *pszRef = CPLExtractRelativePath(pszAbsDir, pszAbsSource, &bRelative);
        /* gdalwarp keeps a relative source as given when the VRT's own
         * directory is the working directory ("" or "."). */
        const char *pszFinalDir = CPLGetPath(pszFinal);
        if (RelativeToWorkingDirectory(pszSource) && CPLIsFilenameRelative(pszFinal) &&
            (pszFinalDir[0] == '\0' || EQUAL(pszFinalDir, ".")))
        {
            pszRef = pszSource;
            /* An archive's path or a subdataset's name is never relative
             * to the VRT: as written. */
            bRelative = (ArchivePrefixOf(pszSource) == NULL &&
                         !SubdatasetFile(pszSource, &nFileStart, &nFileLen)) ||
                        bWasRelative;
        }
        char *pszEscaped = CPLEscapeString(pszRef, -1, CPLES_XML_BUT_QUOTES);
        *pszStart = '\0';
        /* The whole text, whatever its length (CPLSPrintf keeps 8000 bytes). */
        char *pszNew = BWStrPrintf("%s<SourceDataset relativeToVRT=\"%d\">%s%s", pszText,
                                   bRelative ? 1 : 0, pszEscaped, pszEnd);
        CPLFree(pszEscaped);
        Rewrite(pszWritten, pszNew, pszWrittenName);
        CPLFree(pszNew);
        CPLFree(pszAbsSource);
        CPLFree(pszAbsDir);
    }
    CPLFree(pszSource);
    if (psRoot != NULL)
        CPLDestroyXMLNode(psRoot);
    CPLFree(pszText);
}

/*
 * The ENVI driver writes the name it was given in its header ("description =
 * {<name>}"): gdalwarp's is the output's, ours the place the task wrote it.
 * Name the output there, as gdalwarp does; the header is otherwise the
 * driver's, byte for byte. pszWritten is the main file as written.
 */
void BWNameOutputInEnviHeader(const char *pszWritten, const char *pszFinal)
{
    char *pszFrom = BWStrPrintf("description = {\n%s}\n", pszWritten);
    for (int i = 0; i < 2; ++i)
    {
        /* SUFFIX=REPLACE (the default), then SUFFIX=ADD. */
        char *pszHeader = CPLStrdup(i == 0 ? CPLResetExtension(pszWritten, "hdr")
                                           : CPLSPrintf("%s.hdr", pszWritten));
        VSIStatBufL sStat;
        char *pszText = VSIStatL(pszHeader, &sStat) == 0 ? ReadText(pszHeader) : NULL;
        char *pszAt =
            pszText != NULL && STARTS_WITH(pszText, "ENVI") ? strstr(pszText, pszFrom) : NULL;
        if (pszAt != NULL)
        {
            *pszAt = '\0';
            char *pszNew = BWStrPrintf("%sdescription = {\n%s}\n%s", pszText, pszFinal,
                                       pszAt + strlen(pszFrom));
            Rewrite(pszHeader, pszNew, CPLSPrintf("the header of %s", pszFinal));
            CPLFree(pszNew);
        }
        CPLFree(pszText);
        CPLFree(pszHeader);
        if (pszAt != NULL)
            break;
    }
    CPLFree(pszFrom);
}
