/*
 * Runs a batch through the C API of libgdalbatchwarp, as a program of one's
 * own would: options from an argv-style list, a progress callback and a
 * callback per finished file, which prints one line per file on stdout.
 *
 *   batchwarp_example OUTDIR SRC... [-- OPTION...]
 *
 * The OPTIONs (gdalwarp's and gdal_batchwarp's batch options) replace the
 * default "-t_srs EPSG:3857". The exit status is the batch's: 0 all files
 * done, 1 a file failed, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>

#include <gdal_batchwarp.h>

/* Progress over the whole batch, on stderr so that stdout holds only the
 * per-file lines. Returning FALSE would cancel the batch. */
static int CPL_STDCALL Progress(double dfComplete, const char *pszMessage, void *pData)
{
    (void)pszMessage;
    (void)pData;
    fprintf(stderr, "\rprogress %3.0f%%", dfComplete * 100);
    return TRUE;
}

/* Called once per source as it finishes, in this thread. */
static void OnResult(const GDALBatchWarpResult *psResult, void *pData)
{
    int *pnDone = pData;
    ++*pnDone;
    const char *pszState = !psResult->bOk ? "FAILED" : psResult->bSkipped ? "kept" : "ok";
    printf("%s %s -> %s (%.3f s, %d attempt(s), worker %d)%s%s\n", pszState, psResult->pszSource,
           psResult->pszOutput, psResult->dfSeconds, psResult->nAttempts, psResult->nWorkerPid,
           psResult->pszError ? ": " : "", psResult->pszError ? psResult->pszError : "");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argv[1][0] == '-')
    {
        fprintf(stderr, "usage: %s OUTDIR SRC... [-- OPTION...]\n", argv[0]);
        return GDAL_BATCHWARP_USAGE_ERROR;
    }
    int iOptions = argc;
    for (int i = 2; i < argc; ++i)
    {
        if (strcmp(argv[i], "--") == 0)
        {
            iOptions = i;
            break;
        }
    }

    /* The same words as on gdal_batchwarp's command line. */
    char **papszArgs = NULL;
    if (iOptions + 1 < argc)
    {
        for (int i = iOptions + 1; i < argc; ++i)
            papszArgs = CSLAddString(papszArgs, argv[i]);
    }
    else
    {
        papszArgs = CSLAddString(papszArgs, "-t_srs");
        papszArgs = CSLAddString(papszArgs, "EPSG:3857");
    }
    papszArgs = CSLAddString(papszArgs, "-outdir");
    papszArgs = CSLAddString(papszArgs, argv[1]);
    papszArgs = CSLAddString(papszArgs, "--");
    for (int i = 2; i < iOptions; ++i)
        papszArgs = CSLAddString(papszArgs, argv[i]);

    GDALAllRegister();
    int bUsageError = FALSE;
    GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(papszArgs, &bUsageError);
    CSLDestroy(papszArgs);
    if (psOptions == NULL)
    {
        /* GDAL has printed the reason (CPLError). */
        GDALDestroyDriverManager();
        return GDAL_BATCHWARP_USAGE_ERROR;
    }
    int nDone = 0;
    GDALBatchWarpOptionsSetProgress(psOptions, Progress, NULL);
    GDALBatchWarpOptionsSetResultCallback(psOptions, OnResult, &nDone);
    const GDALBatchWarpStatus eStatus = GDALBatchWarp(psOptions);
    GDALBatchWarpOptionsFree(psOptions);
    fprintf(stderr, "\n%d file(s), status %d, libgdalbatchwarp %s\n", nDone, (int)eStatus,
            GDALBatchWarpGetVersion());
    GDALDestroyDriverManager();
    return (int)eStatus;
}
