/*
 * Runs a batch through the C API of libgdalbatchwarp, as a program of one's
 * own would: options from an argv-style list, a progress callback and a
 * callback per finished file.
 *   batchwarp_example OUTDIR SRC...
 */
#include <stdio.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>

#include <gdal_batchwarp.h>

static int CPL_STDCALL Progress(double dfComplete, const char *pszMessage, void *pData)
{
    (void)pszMessage;
    (void)pData;
    fprintf(stderr, "\rprogress %3.0f%%", dfComplete * 100);
    return TRUE;
}

static void OnResult(const GDALBatchWarpResult *psResult, void *pData)
{
    int *pnDone = pData;
    ++*pnDone;
    printf("%s %s -> %s (%.3f s, %d attempt(s))%s%s\n", psResult->bOk ? "ok" : "FAILED",
           psResult->pszSource, psResult->pszOutput, psResult->dfSeconds, psResult->nAttempts,
           psResult->pszError ? ": " : "", psResult->pszError ? psResult->pszError : "");
}

int main(int argc, char **argv)
{
    if (argc < 3)
    {
        fprintf(stderr, "usage: %s OUTDIR SRC...\n", argv[0]);
        return 2;
    }
    GDALAllRegister();
    char **papszArgs = NULL;
    papszArgs = CSLAddString(papszArgs, "-t_srs");
    papszArgs = CSLAddString(papszArgs, "EPSG:3857");
    papszArgs = CSLAddString(papszArgs, "-outdir");
    papszArgs = CSLAddString(papszArgs, argv[1]);
    for (int i = 2; i < argc; ++i)
        papszArgs = CSLAddString(papszArgs, argv[i]);

    int bUsageError = FALSE;
    GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(papszArgs, &bUsageError);
    CSLDestroy(papszArgs);
    if (psOptions == NULL)
        return 2;
    int nDone = 0;
    GDALBatchWarpOptionsSetProgress(psOptions, Progress, NULL);
    GDALBatchWarpOptionsSetResultCallback(psOptions, OnResult, &nDone);
    const GDALBatchWarpStatus eStatus = GDALBatchWarp(psOptions);
    GDALBatchWarpOptionsFree(psOptions);
    fprintf(stderr, "\n%d file(s), status %d, library %s\n", nDone, (int)eStatus,
            GDALBatchWarpGetVersion());
    GDALDestroyDriverManager();
    return (int)eStatus;
}
