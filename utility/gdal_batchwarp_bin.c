/* gdal_batchwarp: the command line over GDALBatchWarp(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_hash_set.h>
#include <cpl_string.h>
#include <gdal.h>

#include "batchwarp_progress.h"
#include "gdal_batchwarp.h"

/* The signal that asked the batch to stop, or 0. */
static volatile sig_atomic_t nStopSignal = 0;

static void OnStopSignal(int nSignal)
{
    /* A second Ctrl-C means now: the workers die with this process
     * (PR_SET_PDEATHSIG) and the next run removes their temporary files. */
    if (nStopSignal != 0 && nSignal == SIGINT)
        _exit(128 + SIGINT);
    nStopSignal = nSignal;
}

static void InstallStopHandlers(void)
{
    struct sigaction sAction;
    memset(&sAction, 0, sizeof(sAction));
    sAction.sa_handler = OnStopSignal;
    sigemptyset(&sAction.sa_mask);
    sigaction(SIGINT, &sAction, NULL);
    sigaction(SIGTERM, &sAction, NULL);
    /* A closed stdout (-print_outputs | head -1) is an EPIPE the library
     * handles, not a death that leaves temporary files behind. */
    signal(SIGPIPE, SIG_IGN);
}

/* The library stops handing out work when progress returns FALSE, GDAL's
 * way to cancel; the bar itself is drawn unless -q. */
static int CPL_STDCALL Progress(double dfComplete, const char *pszMessage, void *pData)
{
    if (pData != NULL)
        BWStderrProgress(dfComplete, pszMessage, NULL);
    return nStopSignal == 0;
}

/* --config and --debug set before GDALAllRegister(), as GDAL's own programs
 * do: some options act while drivers register (GDAL_DRIVER_PATH, GDAL_SKIP,
 * OGR_SKIP, GDAL_PYTHON_DRIVER_PATH, CPL_DEBUG for what registration logs),
 * and the workers, which get the options before they register, would
 * otherwise have other drivers than this process. GDALGeneralCmdLineProcessor()
 * still runs after registration and sets them again (same values); it is the
 * one that reports a --config or --debug without its value, so here such a
 * word just ends the scan.
 *
 * Only the forms the linked GDAL's GDALGeneralCmdLineProcessor() accepts:
 * `--config KEY VALUE` always, `--config KEY=VALUE` from GDAL 3.9. Before 3.9
 * GDAL reads `--config A=B C` as key "A=B" with value C, so taking A=B early
 * would set an option that GDAL (and gdalwarp) does not, and then misread C.
 * CPL_DEBUG goes first so that newer GDAL reports unknown keys in debug mode
 * whatever the order on the command line. The scan stops at "--", like the
 * one above: what follows are sources. */
static void SetConfigOptionsEarly(int argc, char **argv)
{
    const int bKeyEqualsValue =
        atoi(GDALVersionInfo("VERSION_NUM")) >= GDAL_COMPUTE_VERSION(3, 9, 0);
    for (int nPass = 0; nPass < 2; ++nPass)
    {
        const int bDebugPass = nPass == 0;
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; ++i)
        {
            char *pszKey = NULL;
            const char *pszValue = NULL;
            if (EQUAL(argv[i], "--debug") && i + 1 < argc)
            {
                pszKey = CPLStrdup("CPL_DEBUG");
                pszValue = argv[++i];
            }
            else if (EQUAL(argv[i], "--config") && i + 1 < argc && bKeyEqualsValue &&
                     strchr(argv[i + 1], '=') != NULL)
            {
                pszValue = CPLParseNameValue(argv[++i], &pszKey);
            }
            else if (EQUAL(argv[i], "--config") && i + 2 < argc)
            {
                pszKey = CPLStrdup(argv[i + 1]);
                pszValue = argv[i + 2];
                i += 2;
            }
            else if (EQUAL(argv[i], "--config") || EQUAL(argv[i], "--debug"))
                break;
            if (pszKey != NULL && pszValue != NULL && EQUAL(pszKey, "CPL_DEBUG") == bDebugPass)
                CPLSetConfigOption(pszKey, pszValue);
            CPLFree(pszKey);
        }
    }
}

/* The texts of the messages printed so far, and how many were not printed
 * again. */
typedef struct
{
    CPLHashSet *hSeen;
    int nRepeated;
} BWPrinted;

/*
 * A failed source, with its reason; and the errors and warnings GDAL logged
 * in each task, as gdalwarp prints them (a creation option the driver does
 * not know, a damaged block), named by source: with no -report they were
 * nowhere. A text printed already (the same -co typo for every file) is
 * counted, not printed again.
 */
static void PrintResult(const GDALBatchWarpResult *psResult, void *pUserData)
{
    BWPrinted *psPrinted = pUserData;
    if (!psResult->bOk)
        fprintf(stderr, "\nFAILED %s: %s\n", psResult->pszSource,
                psResult->pszError ? psResult->pszError : "unknown error");
    for (CSLConstList papszIter = psResult->papszMessages; papszIter && *papszIter; ++papszIter)
    {
        /* A failure's errors are in its FAILED line. */
        if (!psResult->bOk && STARTS_WITH(*papszIter, "ERROR"))
            continue;
        if (CPLHashSetLookup(psPrinted->hSeen, *papszIter) != NULL)
        {
            psPrinted->nRepeated++;
            continue;
        }
        CPLHashSetInsert(psPrinted->hSeen, CPLStrdup(*papszIter));
        fprintf(stderr, "\n%s: %s\n", psResult->pszSource, *papszIter);
    }
}

int main(int argc, char **argv)
{
    /* From the start: a stop while the sources are listed is heard too. */
    InstallStopHandlers();
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
        /* Not in --help: the option table, for documentation checks. */
        if (strcmp(argv[i], "--list-batch-options") == 0)
        {
            fputs(GDALBatchWarpGetOptionList(), stdout);
            return 0;
        }
        if (strcmp(argv[i], "--") == 0)
            break;
    }

    SetConfigOptionsEarly(argc, argv);
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
        GDALDestroyDriverManager();
        /* Stopped while the options were read (a source list from a pipe
         * whose writer is still at work): no usage error. */
        if (nStopSignal != 0)
            return 128 + nStopSignal;
        fprintf(stderr, "Run 'gdal_batchwarp --help' for usage.\n");
        return GDAL_BATCHWARP_USAGE_ERROR;
    }
    static int bDraw = TRUE;
    GDALBatchWarpOptionsSetProgress(psOptions, Progress,
                                    GDALBatchWarpOptionsIsQuiet(psOptions) ? NULL : &bDraw);
    BWPrinted sPrinted = {CPLHashSetNew(CPLHashSetHashStr, CPLHashSetEqualStr, CPLFree), 0};
    GDALBatchWarpOptionsSetResultCallback(psOptions, PrintResult, &sPrinted);
    GDALBatchWarpOptionsSetSummary(psOptions, TRUE);

    const GDALBatchWarpStatus eStatus = GDALBatchWarp(psOptions);
    if (sPrinted.nRepeated > 0)
        fprintf(stderr,
                "%d more error%s or warning%s of a text printed above, from other sources, not "
                "printed again (-report lists each source's).\n",
                sPrinted.nRepeated, sPrinted.nRepeated == 1 ? "" : "s",
                sPrinted.nRepeated == 1 ? "" : "s");
    CPLHashSetDestroy(sPrinted.hSeen);

    GDALBatchWarpOptionsFree(psOptions);
    GDALDestroyDriverManager();
    /* As a shell reports a command ended by a signal. */
    return nStopSignal != 0 ? 128 + nStopSignal : (int)eStatus;
}
