/* gdal_batchwarp: the command line over GDALBatchWarp(). */
#include <stdio.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>

#include "batchwarp_progress.h"
#include "gdal_batchwarp.h"

static void PrintFailure(const GDALBatchWarpResult *psResult, void *pUserData)
{
    (void)pUserData;
    if (!psResult->bOk)
        fprintf(stderr, "\nFAILED %s: %s\n", psResult->pszSource,
                psResult->pszError ? psResult->pszError : "unknown error");
}

int main(int argc, char **argv)
{
    /* --version must name this program, not only GDAL, so it is handled
     * before GDAL's general options. */
    for (int i = 1; i < argc; ++i)
    {
        if (strcmp(argv[i], "--version") == 0)
        {
            printf("gdal_batchwarp %s (%s)\n", GDALBatchWarpGetVersion(),
                   GDALVersionInfo("--version"));
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            fputs(GDALBatchWarpGetUsage(), stdout);
            return 0;
        }
        if (strcmp(argv[i], "--") == 0)
            break;
    }

    GDALAllRegister();
    /* --config, --debug, --optfile, --help-general and the rest, as in every
     * GDAL program. Config options set here reach the workers. */
    argc = GDALGeneralCmdLineProcessor(argc, &argv, 0);
    if (argc < 1)
    {
        GDALDestroyDriverManager();
        return argc == 0 ? 0 : 2;
    }

    int bUsageError = FALSE;
    GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(argv + 1, &bUsageError);
    CSLDestroy(argv);
    if (psOptions == NULL)
    {
        fprintf(stderr, "Run 'gdal_batchwarp --help' for usage.\n");
        GDALDestroyDriverManager();
        return GDAL_BATCHWARP_USAGE_ERROR;
    }
    if (!GDALBatchWarpOptionsIsQuiet(psOptions))
        GDALBatchWarpOptionsSetProgress(psOptions, BWStderrProgress, NULL);
    GDALBatchWarpOptionsSetResultCallback(psOptions, PrintFailure, NULL);

    const GDALBatchWarpStatus eStatus = GDALBatchWarp(psOptions);

    GDALBatchWarpOptionsFree(psOptions);
    GDALDestroyDriverManager();
    return (int)eStatus;
}
