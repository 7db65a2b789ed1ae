#include "batchwarp_output.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "batchwarp_temp.h"
#include "batchwarp_util.h"

void BWDiscardTemp(const char *pszTemp)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    VSIStatBufL sStat;
    if (VSIStatL(pszTemp, &sStat) == 0)
    {
        GDALDriverH hDriver = GDALIdentifyDriver(pszTemp, NULL);
        if (hDriver == NULL || GDALDeleteDataset(hDriver, pszTemp) != CE_None)
            VSIUnlink(pszTemp);
    }
    /* A dataset that failed half-way may not be identifiable any more, but
     * may already have a PAM sidecar. */
    VSIUnlink(CPLSPrintf("%s.aux.xml", pszTemp));
    CPLPopErrorHandler();
    CPLErrorReset();
}

/* What stands at a final name may be replaced only if it is a regular file
 * (or nothing): rename() then swaps it atomically, and never follows a link.
 * Anything else (a directory, a link someone planted, a device) is not ours
 * to replace, and a driver delete there could reach far beyond it. */
static int CheckReplaceable(const char *pszPath)
{
    if (STARTS_WITH(pszPath, "/vsi"))
        return TRUE;
    struct stat sStat;
    if (lstat(pszPath, &sStat) != 0)
    {
        if (errno == ENOENT)
            return TRUE;
        CPLError(CE_Failure, CPLE_FileIO, "Cannot replace '%s': %s", pszPath, VSIStrerror(errno));
        return FALSE;
    }
    if (S_ISREG(sStat.st_mode))
        return TRUE;
    CPLError(CE_Failure, CPLE_FileIO,
             "'%s' exists and is %s, not a regular file: gdal_batchwarp replaces only regular "
             "files, and left it as it was.",
             pszPath,
             S_ISLNK(sStat.st_mode)   ? "a symbolic link"
             : S_ISDIR(sStat.st_mode) ? "a directory"
                                      : "a special file");
    return FALSE;
}

/* Sidecars that GDAL attaches to a dataset by name: those of an earlier
 * output that the new one lacks must not attach to it. Only regular files
 * are unlinked (unlink never follows a link anyway). */
static void RemoveStaleSidecars(const char *pszOutput, CSLConstList papszNewNames)
{
    static const char *const apszSuffixes[] = {".aux.xml", ".ovr", ".msk", NULL};
    for (int i = 0; apszSuffixes[i] != NULL; ++i)
    {
        const char *pszName = CPLSPrintf("%s%s", BWPathName(pszOutput), apszSuffixes[i]);
        if (CSLFindStringCaseSensitive(papszNewNames, pszName) >= 0)
            continue;
        const char *pszPath = CPLSPrintf("%s%s", pszOutput, apszSuffixes[i]);
        struct stat sStat;
        if (!STARTS_WITH(pszPath, "/vsi") && lstat(pszPath, &sStat) == 0 && S_ISREG(sStat.st_mode))
            unlink(pszPath);
    }
}

int BWPublishOutput(const char *pszTemp, const char *pszOutput)
{
    /* Without the worker's list: the main file and its PAM sidecar. */
    char **papszFiles = CSLAddString(NULL, BWPathName(pszTemp));
    VSIStatBufL sStat;
    if (VSIStatL(CPLSPrintf("%s.aux.xml", pszTemp), &sStat) == 0)
        papszFiles = CSLAddString(papszFiles, CPLSPrintf("%s.aux.xml", BWPathName(pszTemp)));
    const int bOk = BWPublishOutputFiles(pszTemp, pszOutput, papszFiles);
    CSLDestroy(papszFiles);
    return bOk;
}

int BWPublishOutputFiles(const char *pszTemp, const char *pszOutput, CSLConstList papszFiles)
{
    if (papszFiles == NULL || papszFiles[0] == NULL)
        return BWPublishOutput(pszTemp, pszOutput);
    char *pszTempDir = BWPathDir(pszTemp);
    char *pszOutDir = BWPathDir(pszOutput);
    const char *pszMain = BWPathName(pszTemp);
    int bOk = TRUE;
    /* Nothing at a final name is touched unless every one can be replaced:
     * a failed task leaves the earlier output as it was. */
    for (CSLConstList papszIter = papszFiles; *papszIter && bOk; ++papszIter)
    {
        if (strchr(*papszIter, '/') == NULL)
            bOk = CheckReplaceable(CPLFormFilename(pszOutDir, *papszIter, NULL));
    }
    /* Two passes: sidecars, then the main file, so that a reader never
     * finds the dataset without them. */
    for (int nPass = 0; nPass < 2 && bOk; ++nPass)
    {
        for (CSLConstList papszIter = papszFiles; *papszIter && bOk; ++papszIter)
        {
            const int bIsMain = strcmp(*papszIter, pszMain) == 0;
            if (bIsMain != (nPass == 1) || strchr(*papszIter, '/') != NULL)
                continue;
            char *pszFrom = CPLStrdup(CPLFormFilename(pszTempDir, *papszIter, NULL));
            const char *pszTo = CPLFormFilename(pszOutDir, *papszIter, NULL);
            if (VSIRename(pszFrom, pszTo) != 0)
            {
                CPLError(CE_Failure, CPLE_FileIO, "Cannot move the new '%s' into place: %s", pszTo,
                         VSIStrerror(errno));
                bOk = FALSE;
            }
            CPLFree(pszFrom);
        }
    }
    if (bOk)
        RemoveStaleSidecars(pszOutput, papszFiles);
    CPLFree(pszTempDir);
    CPLFree(pszOutDir);
    return bOk;
}

int BWOutputNeedsStaging(const char *pszOutput)
{
    if (CPLTestBool(CPLGetConfigOption("BATCHWARP_STAGE_OUTPUTS", "NO")))
        return TRUE;
    return STARTS_WITH(pszOutput, "/vsi") && !STARTS_WITH(pszOutput, "/vsimem/");
}

const char *BWStagingDir(void)
{
    const char *pszDir = CPLGetConfigOption("CPL_TMPDIR", NULL);
    if (pszDir == NULL)
        pszDir = CPLGetConfigOption("TMPDIR", "/tmp");
    return pszDir;
}

char *BWStagingPathFor(int nIndex, const char *pszOutput)
{
    const char *pszDir = BWTempDirOf(BWStagingDir());
    if (pszDir == NULL)
        return NULL;
    return CPLStrdup(
        CPLFormFilename(pszDir, CPLSPrintf("%d_%s", nIndex, BWPathName(pszOutput)), NULL));
}

static int CopyFile(const char *pszFrom, const char *pszTo)
{
    VSILFILE *fpIn = VSIFOpenL(pszFrom, "rb");
    if (fpIn == NULL)
    {
        CPLError(CE_Failure, CPLE_FileIO, "Cannot read staged file '%s'", pszFrom);
        return FALSE;
    }
    VSILFILE *fpOut = VSIFOpenL(pszTo, "wb");
    if (fpOut == NULL)
    {
        VSIFCloseL(fpIn);
        CPLError(CE_Failure, CPLE_FileIO, "Cannot create '%s'", pszTo);
        return FALSE;
    }
    const size_t nBufferSize = 1024 * 1024;
    GByte *pabyBuffer = CPLMalloc(nBufferSize);
    int bOk = TRUE;
    size_t nRead;
    while (bOk && (nRead = VSIFReadL(pabyBuffer, 1, nBufferSize, fpIn)) > 0)
        bOk = VSIFWriteL(pabyBuffer, 1, nRead, fpOut) == nRead;
    CPLFree(pabyBuffer);
    VSIFCloseL(fpIn);
    /* Remote writers upload at close: its failure is the copy's failure. */
    if (VSIFCloseL(fpOut) != 0)
        bOk = FALSE;
    if (!bOk)
    {
        CPLError(CE_Failure, CPLE_FileIO, "Cannot write '%s'", pszTo);
        VSIUnlink(pszTo);
    }
    return bOk;
}

/* pszName without ".pszExt" at its end (CPLFree it). Unlike CPLGetBasename,
 * a name without that extension is kept whole: ".x.batchwarp-tmp-1f" is a
 * stem, not ".x" with an extension. */
static char *StemBefore(const char *pszName, const char *pszExt)
{
    char *pszStem = CPLStrdup(pszName);
    const size_t nName = strlen(pszName);
    const size_t nExt = strlen(pszExt);
    if (nExt > 0 && nName > nExt + 1 && pszName[nName - nExt - 1] == '.' &&
        EQUAL(pszName + nName - nExt, pszExt))
        pszStem[nName - nExt - 1] = '\0';
    return pszStem;
}

int BWPublishStagedOutput(const char *pszStaged, const char *pszOutput, const char *pszTemp)
{
    /* A local destination gets the copies under their final names in this
     * run's temporary directory beside it, then renames (never a write
     * through whatever stands at the final name). */
    const int bLocal = !STARTS_WITH(pszOutput, "/vsi") && pszTemp != NULL;
    char **papszCopied = NULL;
    /* The dataset's own list names its sidecars, whatever the driver's
     * naming (.aux.xml, .msk, .ovr, .hdr). */
    GDALDatasetH hDS = GDALOpenEx(pszStaged, GDAL_OF_RASTER, NULL, NULL, NULL);
    char **papszFiles = hDS ? GDALGetFileList(hDS) : CSLAddString(NULL, pszStaged);
    if (hDS != NULL)
        GDALClose(hDS);
    /* Both names end in the output's extension, if it has one; what
     * follows the stem (".tif.aux.xml", ".hdr") names each sidecar. */
    char *pszStem = StemBefore(BWPathName(pszStaged), CPLGetExtension(pszOutput));
    char *pszOutDir = BWPathDir(pszOutput);
    char *pszOutStem = StemBefore(BWPathName(pszOutput), CPLGetExtension(pszOutput));
    char *pszTempDir = pszTemp ? BWPathDir(pszTemp) : NULL;
    int bOk = TRUE;
    /* The main file last, so that a reader never finds it without its
     * sidecars. */
    for (int i = CSLCount(papszFiles) - 1; bOk && i >= 0; --i)
    {
        const char *pszName = BWPathName(papszFiles[i]);
        if (strncmp(pszName, pszStem, strlen(pszStem)) != 0)
            continue;
        const char *pszTargetName = CPLSPrintf("%s%s", pszOutStem, pszName + strlen(pszStem));
        papszCopied = CSLAddString(papszCopied, pszTargetName);
        char *pszTarget =
            CPLStrdup(CPLFormFilename(bLocal ? pszTempDir : pszOutDir, pszTargetName, NULL));
        bOk = CopyFile(papszFiles[i], pszTarget);
        CPLFree(pszTarget);
    }
    if (bLocal)
    {
        if (bOk)
            bOk = BWPublishOutputFiles(pszTemp, pszOutput, papszCopied);
        if (!bOk)
        {
            for (char **papszIter = papszCopied; papszIter && *papszIter; ++papszIter)
                VSIUnlink(CPLFormFilename(pszTempDir, *papszIter, NULL));
        }
    }
    CSLDestroy(papszCopied);
    if (bOk)
        BWDiscardTemp(pszStaged);
    CSLDestroy(papszFiles);
    CPLFree(pszStem);
    CPLFree(pszOutDir);
    CPLFree(pszOutStem);
    CPLFree(pszTempDir);
    return bOk;
}

/* VSIMkdirRecursive() of GDAL 3.6 fails on relative paths: give it an
 * absolute one. */
static int MakeDirectories(const char *pszDir)
{
    if (STARTS_WITH(pszDir, "/vsi") || !CPLIsFilenameRelative(pszDir))
        return VSIMkdirRecursive(pszDir, 0755) == 0;
    char *pszCwd = CPLGetCurrentDir();
    if (pszCwd == NULL)
        return FALSE;
    char *pszAbsolute = CPLStrdup(CPLFormFilename(pszCwd, pszDir, NULL));
    const int bOk = VSIMkdirRecursive(pszAbsolute, 0755) == 0;
    CPLFree(pszAbsolute);
    CPLFree(pszCwd);
    return bOk;
}

int BWPrepareOutDir(const char *pszOutDir, char **ppszError)
{
    VSIStatBufL sStat;
    if (VSIStatL(pszOutDir, &sStat) == 0)
    {
        if (!VSI_ISDIR(sStat.st_mode))
        {
            *ppszError = CPLStrdup(
                CPLSPrintf("Output directory '%s' exists and is not a directory.", pszOutDir));
            return FALSE;
        }
    }
    else if (VSIMkdir(pszOutDir, 0755) != 0 && !MakeDirectories(pszOutDir))
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot create output directory '%s': %s", pszOutDir, VSIStrerror(errno)));
        return FALSE;
    }
    if (!STARTS_WITH(pszOutDir, "/vsi") && access(pszOutDir, W_OK | X_OK) != 0)
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("Output directory '%s' is not writable: %s", pszOutDir, VSIStrerror(errno)));
        return FALSE;
    }
    return TRUE;
}

/* Calls pfnEach once for each directory that receives outputs (and the
 * staging directory, if remote outputs use it). */
static int ForEachOutputDir(const BWPlan *psPlan, int (*pfnEach)(const char *, char **),
                            char **ppszError)
{
    CPLHashSet *psDone = CPLHashSetNew(CPLHashSetHashStr, CPLHashSetEqualStr, CPLFree);
    int bOk = TRUE;
    for (int i = 0; i < psPlan->nItems && bOk; ++i)
    {
        const BWPlanItem *psItem = &psPlan->pasItems[i];
        for (int k = 0; k < 2 && bOk; ++k)
        {
            char *pszDirCopy = k == 0 ? BWPathDir(psItem->pszOutput)
                               : BWOutputNeedsStaging(psItem->pszOutput) ? CPLStrdup(BWStagingDir())
                                                                         : NULL;
            if (pszDirCopy == NULL || CPLHashSetLookup(psDone, pszDirCopy) != NULL)
            {
                CPLFree(pszDirCopy);
                continue;
            }
            CPLHashSetInsert(psDone, pszDirCopy);
            bOk = pfnEach(pszDirCopy, ppszError);
        }
    }
    CPLHashSetDestroy(psDone);
    return bOk;
}

/* Output directories below -outdir ({relpath} in the output template) are
 * made before any work; in each, the temporary directories of killed runs
 * go, and this run's is made. */
static int PrepareOneDir(const char *pszDir, char **ppszError)
{
    VSIStatBufL sStat;
    if (VSIStatL(pszDir, &sStat) != 0 && !MakeDirectories(pszDir))
    {
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot create output directory '%s': %s", pszDir, VSIStrerror(errno)));
        return FALSE;
    }
    BWRemoveStaleTemps(pszDir);
    if (!BWMakeTempDir(pszDir))
    {
        *ppszError = CPLStrdup(CPLSPrintf("Cannot create a temporary directory in '%s': %s", pszDir,
                                          VSIStrerror(errno)));
        return FALSE;
    }
    return TRUE;
}

static int CleanOneDir(const char *pszDir, char **ppszError)
{
    (void)ppszError;
    BWRemoveTempDir(pszDir);
    return TRUE;
}

int BWPrepareOutputDirs(const BWPlan *psPlan, char **ppszError)
{
    return ForEachOutputDir(psPlan, PrepareOneDir, ppszError);
}

void BWCleanOutputDirs(const BWPlan *psPlan)
{
    ForEachOutputDir(psPlan, CleanOneDir, NULL);
}
