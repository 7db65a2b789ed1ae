/* A listed dataset's own files are not sources: see batchwarp_dataset_files.h. */
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_minixml.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "batchwarp_dataset_files.h"
#include "batchwarp_util.h"

/* The name of pszPath without its last extension ("e" of "dir/e.hdr"). */
static char *StemOf(const char *pszPath)
{
    const char *pszName = BWPathName(pszPath);
    const char *pszDot = strrchr(pszName, '.');
    const size_t nLen = pszDot && pszDot != pszName ? (size_t)(pszDot - pszName) : strlen(pszName);
    char *pszStem = CPLMalloc(nLen + 1);
    memcpy(pszStem, pszName, nLen);
    pszStem[nLen] = '\0';
    return pszStem;
}

/* The data extension GDAL's MRF driver gives a dataset's tiles by their
 * compression, when its XML names no DataFile (the MRF User Guide's
 * defaults, QB3's too; its index file is .idx). */
static const char *const apszMRFDataExtensions[][2] = {
    {"NONE", ".til"}, {"PNG", ".ppg"},     {"PPNG", ".ppg"}, {"JPEG", ".pjg"}, {"JPNG", ".pjp"},
    {"TIF", ".ptf"},  {"DEFLATE", ".pzp"}, {"LERC", ".lrc"}, {"ZSTD", ".pzs"}, {"QB3", ".pq3"}};

/* One of the files of the MRF at pszPath, as GDAL's driver names it
 * (getFname): pszElement below Raster in its XML, beside the MRF when it
 * is a bare name or starts with dots and a slash, else as written; without
 * it, pszPath with its last four characters replaced by pszDefault (NULL:
 * a compression this table does not know, no name). */
static char **AddMRFFile(char **papszFiles, const CPLXMLNode *psRaster, const char *pszElement,
                         const char *pszPath, const char *pszDefault)
{
    const char *pszNamed = CPLGetXMLValue(psRaster, pszElement, "");
    if (pszNamed[0] != '\0')
    {
        const size_t nSlash = strcspn(pszNamed, "\\/");
        const char *pszLastSlash = strrchr(pszPath, '/');
        const int bAsWritten = nSlash == 0 || (nSlash == 2 && pszNamed[1] == ':') ||
                               (pszNamed[nSlash] != '\0' && nSlash != strspn(pszNamed, ".")) ||
                               pszLastSlash == NULL;
        if (bAsWritten)
            return CSLAddString(papszFiles, pszNamed);
        char *pszFile =
            CPLStrdup(CPLSPrintf("%.*s%s", (int)(pszLastSlash + 1 - pszPath), pszPath, pszNamed));
        papszFiles = CSLAddString(papszFiles, pszFile);
        CPLFree(pszFile);
        return papszFiles;
    }
    const size_t nLen = strlen(pszPath);
    if (pszDefault == NULL || nLen < strlen(pszDefault))
        return papszFiles;
    return CSLAddString(
        papszFiles, CPLSPrintf("%.*s%s", (int)(nLen - strlen(pszDefault)), pszPath, pszDefault));
}

/* The index and data files the MRF at pszPath names (NULL if it holds no
 * MRF XML: a raw LERC tile opens as an MRF too), which GDALGetFileList
 * leaves out (GDAL 3.6 to 3.13 list the .mrf alone): named in its XML
 * (Raster/IndexFile, Raster/DataFile), else the driver's default names,
 * the data's by the XML's Compression (PNG when none). Read from the XML,
 * not asked of GDAL: an MRF this GDAL cannot open still names its files. */
static char **MRFOwnFiles(const char *pszPath)
{
    char szHead[1024];
    VSILFILE *fp = VSIFOpenL(pszPath, "rb");
    if (fp == NULL)
        return NULL;
    const size_t nRead = VSIFReadL(szHead, 1, sizeof(szHead) - 1, fp);
    szHead[nRead] = '\0';
    VSIFCloseL(fp);
    CPLXMLNode *psTree = strstr(szHead, "<MRF_META>") ? CPLParseXMLFile(pszPath) : NULL;
    const CPLXMLNode *psRaster = psTree ? CPLGetXMLNode(psTree, "=MRF_META.Raster") : NULL;
    if (psRaster == NULL)
    {
        CPLDestroyXMLNode(psTree);
        return NULL;
    }
    const char *pszCompression = CPLGetXMLValue(psRaster, "Compression", "PNG");
    const char *pszDataExt = NULL;
    for (size_t i = 0; i < sizeof(apszMRFDataExtensions) / sizeof(apszMRFDataExtensions[0]); ++i)
    {
        if (EQUAL(pszCompression, apszMRFDataExtensions[i][0]))
            pszDataExt = apszMRFDataExtensions[i][1];
    }
    char **papszFiles = AddMRFFile(NULL, psRaster, "IndexFile", pszPath, ".idx");
    papszFiles = AddMRFFile(papszFiles, psRaster, "DataFile", pszPath, pszDataExt);
    CPLDestroyXMLNode(psTree);
    return papszFiles;
}

/* Whether the listed source psOwner opens as a raster whose files include
 * pszPath: GDALGetFileList names it (ENVI's e.hdr of e.bin, ISIS3's i.cub
 * of i.lbl), only for a file that GDAL does not recognise alone
 * (!bAlone: a raster of its own that a VRT reads stays a source); or an MRF
 * names it as its index or data file, whatever it looks like alone (its
 * tiles' file of PNGs is a PNG, a raw LERC one opens as an MRF). */
static int DatasetListsFile(const BWSource *psOwner, const char *pszPath, int bAlone)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDriverH hMRF = GDALGetDriverByName("MRF");
    GDALDatasetH hDS = NULL;
    if (!bAlone ||
        (hMRF != NULL && GDALIdentifyDriverEx(psOwner->pszPath, GDAL_OF_RASTER, NULL,
                                              (const char *const *)psOwner->papszSiblings) == hMRF))
        hDS = GDALOpenEx(psOwner->pszPath, GDAL_OF_RASTER, NULL, NULL,
                         (const char *const *)psOwner->papszSiblings);
    char **papszFiles = hDS && !bAlone ? GDALGetFileList(hDS) : NULL;
    char **papszOwn = hDS && hMRF != NULL && GDALGetDatasetDriver(hDS) == hMRF
                          ? MRFOwnFiles(psOwner->pszPath)
                          : NULL;
    if (hDS != NULL)
        GDALClose(hDS);
    CPLPopErrorHandler();
    CPLErrorReset();
    char *pszFifo = BWFifoGuardTake();
    const int bListed = pszFifo == NULL && (CSLFindString(papszFiles, pszPath) >= 0 ||
                                            CSLFindString(papszOwn, pszPath) >= 0);
    CPLFree(pszFifo);
    CSLDestroy(papszFiles);
    CSLDestroy(papszOwn);
    return bListed;
}

typedef struct
{
    const char *pszDir;
    const char *pszKey; /* a stem or a name */
    int iSource;
} BWStemKey;

static int CompareStemKeys(const void *a, const void *b)
{
    const BWStemKey *psA = a;
    const BWStemKey *psB = b;
    const int nDir = strcmp(psA->pszDir, psB->pszDir);
    return nDir != 0 ? nDir : strcmp(psA->pszKey, psB->pszKey);
}

/* The first of the nKeys sorted keys equal to (pszDir, pszKey), or nKeys. */
static int FirstStemKey(const BWStemKey *pasKeys, int nKeys, const char *pszDir, const char *pszKey)
{
    BWStemKey sWanted = {pszDir, pszKey, 0};
    int nLow = 0;
    int nHigh = nKeys;
    while (nLow < nHigh)
    {
        const int nMid = nLow + (nHigh - nLow) / 2;
        if (CompareStemKeys(&pasKeys[nMid], &sWanted) < 0)
            nLow = nMid + 1;
        else
            nHigh = nMid;
    }
    return nLow;
}

/* Marks in pabDrop the sources that source i names as its index or data
 * file, if it is an MRF called *.mrf (the driver's extension: a directory
 * of tiles costs no open), whatever their stem: m.mrf's DataFile tiles.png
 * is no raster of its own, though GDAL opens it as one. */
static void DropFilesAnMRFNames(const BWSourceList *psList, int nFirst, int i,
                                const BWStemKey *pasByName, int nCount, char *pabDrop)
{
    const char *pszPath = psList->pasSources[nFirst + i].pszPath;
    if (pabDrop[i] || !EQUAL(CPLGetExtension(BWPathName(pszPath)), "mrf"))
        return;
    char **papszOwn = MRFOwnFiles(pszPath);
    /* An .mrf that is a FIFO, released by the plan's guard, fails in its
     * own task. */
    CPLFree(BWFifoGuardTake());
    for (char **papszIter = papszOwn; papszIter && *papszIter; ++papszIter)
    {
        char *pszDir = BWPathDir(*papszIter);
        const char *pszName = BWPathName(*papszIter);
        for (int m = FirstStemKey(pasByName, nCount, pszDir, pszName);
             m < nCount && strcmp(pasByName[m].pszDir, pszDir) == 0 &&
             strcmp(pasByName[m].pszKey, pszName) == 0;
             ++m)
        {
            if (pasByName[m].iSource == i)
                continue;
            CPLDebug("BATCHWARP", "%s is a file of %s: not a source of its own", *papszIter,
                     pszPath);
            pabDrop[pasByName[m].iSource] = TRUE;
        }
        CPLFree(pszDir);
    }
    CSLDestroy(papszOwn);
}

/*
 * Leaves out of sources [nFirst, nSources) the files of another listed
 * dataset: a file that some driver claims by its extension (MFF's .hdr,
 * HFA's .img, ISIS3's .cub) is taken unopened, but beside a dataset of the
 * same stem (e.bin, PDS4's p4.xml), or named after it (e.bin.hdr), it is
 * often that dataset's header or data: a task of its own would fail, and
 * its output name collided with the dataset's, which refused the whole batch
 * (a directory of ENVI or EHdr rasters could not be warped at all). Such a
 * file is left out when GDAL does not recognise it alone and the dataset,
 * opened, names it among its files. Only files that share a stem with
 * another source are looked at, and those an *.mrf names in its XML: a
 * directory of tiles costs no open.
 */
void BWDropFilesOfListedDatasets(BWSourceList *psList, int nFirst)
{
    const int nCount = psList->nSources - nFirst;
    if (nCount < 2)
        return;
    char **papszStems = CPLCalloc((size_t)nCount, sizeof(char *));
    char **papszDirs = CPLCalloc((size_t)nCount, sizeof(char *));
    BWStemKey *pasByStem = CPLCalloc((size_t)nCount, sizeof(BWStemKey));
    BWStemKey *pasByName = CPLCalloc((size_t)nCount, sizeof(BWStemKey));
    for (int i = 0; i < nCount; ++i)
    {
        const char *pszPath = psList->pasSources[nFirst + i].pszPath;
        papszStems[i] = StemOf(pszPath);
        papszDirs[i] = BWPathDir(pszPath);
        pasByStem[i] = (BWStemKey){papszDirs[i], papszStems[i], i};
        pasByName[i] = (BWStemKey){papszDirs[i], BWPathName(pszPath), i};
    }
    qsort(pasByStem, (size_t)nCount, sizeof(BWStemKey), CompareStemKeys);
    qsort(pasByName, (size_t)nCount, sizeof(BWStemKey), CompareStemKeys);
    char *pabDrop = CPLCalloc((size_t)nCount, 1);
    for (int i = 0; i < nCount; ++i)
        DropFilesAnMRFNames(psList, nFirst, i, pasByName, nCount, pabDrop);
    for (int i = 0; i < nCount; ++i)
    {
        const char *pszPath = psList->pasSources[nFirst + i].pszPath;
        /* The sources of the same stem, then the one named as the stem. */
        int aiOwners[2][2];
        const BWStemKey *apasKeys[2] = {pasByStem, pasByName};
        int bOthers = FALSE;
        for (int k = 0; k < 2; ++k)
        {
            aiOwners[k][0] = FirstStemKey(apasKeys[k], nCount, papszDirs[i], papszStems[i]);
            aiOwners[k][1] = aiOwners[k][0];
            while (aiOwners[k][1] < nCount &&
                   strcmp(apasKeys[k][aiOwners[k][1]].pszDir, papszDirs[i]) == 0 &&
                   strcmp(apasKeys[k][aiOwners[k][1]].pszKey, papszStems[i]) == 0)
            {
                bOthers |= apasKeys[k][aiOwners[k][1]].iSource != i;
                ++aiOwners[k][1];
            }
        }
        if (!bOthers || pabDrop[i])
            continue;
        CPLPushErrorHandler(CPLQuietErrorHandler);
        GDALDriverH hDriver = GDALIdentifyDriverEx(pszPath, GDAL_OF_RASTER, NULL, NULL);
        CPLPopErrorHandler();
        CPLErrorReset();
        char *pszFifo = BWFifoGuardTake();
        const int bFifo = pszFifo != NULL;
        CPLFree(pszFifo);
        for (int k = 0; k < 2 && !bFifo && !pabDrop[i]; ++k)
        {
            for (int m = aiOwners[k][0]; m < aiOwners[k][1] && !pabDrop[i]; ++m)
            {
                const int j = apasKeys[k][m].iSource;
                const BWSource *psOwner = &psList->pasSources[nFirst + j];
                if (j != i && !pabDrop[j] && DatasetListsFile(psOwner, pszPath, hDriver != NULL))
                {
                    CPLDebug("BATCHWARP", "%s is a file of %s: not a source of its own", pszPath,
                             psOwner->pszPath);
                    pabDrop[i] = TRUE;
                }
            }
        }
    }
    int nKept = nFirst;
    for (int i = 0; i < nCount; ++i)
    {
        BWSource *psSource = &psList->pasSources[nFirst + i];
        if (pabDrop[i])
        {
            CPLFree(psSource->pszPath);
            CPLFree(psSource->pszRelDir);
            CSLDestroy(psSource->papszSiblings);
        }
        else
            psList->pasSources[nKept++] = *psSource;
        CPLFree(papszStems[i]);
        CPLFree(papszDirs[i]);
    }
    psList->nSources = nKept;
    CPLFree(pasByStem);
    CPLFree(pasByName);
    CPLFree(papszStems);
    CPLFree(papszDirs);
    CPLFree(pabDrop);
}
