/* libFuzzer target: the whole command line, argv -> options -> plan, as
 * -dry_run does it, with no worker started. The input is split into words
 * at '\n' (a word may be empty). The words run against a small sandbox
 * directory (two rasters, a source list, a report), so that option values
 * that name files find some; words that would leave it (absolute paths,
 * "..", URLs) are dropped. Memory errors and leaks are the findings, and an
 * options object that says it holds a plan it cannot build. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "batchwarp_budget.h"
#include "batchwarp_options.h"
#include "batchwarp_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize);
int LLVMFuzzerInitialize(int *pnArgc, char ***ppapszArgv);

static void MakeRaster(const char *pszPath)
{
    GDALDatasetH hDS = GDALCreate(GDALGetDriverByName("GTiff"), pszPath, 4, 4, 1, GDT_Byte, NULL);
    if (hDS == NULL)
        abort();
    double adfGT[6] = {0, 1, 0, 4, 0, -1};
    GDALSetGeoTransform(hDS, adfGT);
    GDALSetProjection(hDS, "EPSG:4326");
    GDALClose(hDS);
}

static void WriteText(const char *pszPath, const char *pszText)
{
    FILE *fp = fopen(pszPath, "w");
    if (fp == NULL)
        abort();
    fputs(pszText, fp);
    fclose(fp);
}

static char *pszSandbox = NULL;

static void RemoveSandbox(void)
{
    VSIRmdirRecursive(pszSandbox);
    CPLFree(pszSandbox);
}

/* The sandbox, removed at exit: ./src/{a,b}.tif, list.txt, failed.jsonl;
 * stdin is empty (-input_file_list - reads it). */
int LLVMFuzzerInitialize(int *pnArgc, char ***ppapszArgv)
{
    (void)pnArgc;
    (void)ppapszArgv;
    const char *pszTmp = getenv("TMPDIR");
    pszSandbox = CPLStrdup(CPLSPrintf("%s/fuzz_argv_XXXXXX", pszTmp && *pszTmp ? pszTmp : "/tmp"));
    if (mkdtemp(pszSandbox) == NULL || chdir(pszSandbox) != 0)
        abort();
    atexit(RemoveSandbox);
    if (freopen("/dev/null", "r", stdin) == NULL)
        abort();
    GDALAllRegister();
    CPLSetConfigOption("CPL_LOG_ERRORS", "OFF");
    VSIMkdir("src", 0755);
    MakeRaster("src/a.tif");
    MakeRaster("src/b.tif");
    WriteText("list.txt", "src/a.tif\nsrc/b.tif\n");
    WriteText("failed.jsonl",
              "{\"source\": \"src/a.tif\", \"output\": \"out/a.tif\", \"ok\": false}\n");
    return 0;
}

static int StaysInSandbox(const char *pszWord)
{
    return pszWord[0] != '/' && strstr(pszWord, "..") == NULL && strstr(pszWord, ":/") == NULL &&
           strstr(pszWord, "vsi") == NULL && strstr(pszWord, "VSI") == NULL;
}

static void CPL_STDCALL Silent(CPLErr eClass, CPLErrorNum nNum, const char *pszMsg)
{
    (void)eClass;
    (void)nNum;
    (void)pszMsg;
}

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize)
{
    if (nSize > 4096 || memchr(pabyData, '\0', nSize) != NULL)
        return 0;
    char *pszText = CPLMalloc(nSize + 1);
    memcpy(pszText, pabyData, nSize);
    pszText[nSize] = '\0';
    char **papszArgs = NULL;
    int bSandboxed = TRUE;
    for (char *pszWord = pszText; pszWord != NULL;)
    {
        char *pszEnd = strchr(pszWord, '\n');
        if (pszEnd != NULL)
            *pszEnd = '\0';
        bSandboxed &= StaysInSandbox(pszWord);
        papszArgs = CSLAddString(papszArgs, pszWord);
        pszWord = pszEnd ? pszEnd + 1 : NULL;
    }
    CPLFree(pszText);
    if (!bSandboxed || CSLCount(papszArgs) > 64)
    {
        CSLDestroy(papszArgs);
        return 0;
    }

    CPLPushErrorHandler(Silent);
    int bUsageError = -1;
    GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(papszArgs, &bUsageError);
    CSLDestroy(papszArgs);
    /* NULL exactly when a usage error is reported. */
    if ((psOptions == NULL) != (bUsageError == TRUE))
        abort();
    if (psOptions != NULL && !psOptions->bMergeReports && !psOptions->bNothingToRetry)
    {
        BWPlan sPlan;
        memset(&sPlan, 0, sizeof(sPlan));
        char *pszError = NULL;
        if (BWPlanBuild(psOptions, &sPlan, &pszError))
        {
            BWBudget sBudget;
            memset(&sBudget, 0, sizeof(sBudget));
            if (BWBudgetCompute(psOptions, BWPlanCountToDo(&sPlan), BWPlanHasNetworkSource(&sPlan),
                                &sBudget, &pszError) &&
                sBudget.nWorkers < 1)
                abort();
            /* Temporary names are given only once the run's temporary
             * directories exist (BWPlanAssignTemps), never by planning. */
            for (int i = 0; i < sPlan.nItems; ++i)
            {
                if (sPlan.pasItems[i].pszOutput == NULL || sPlan.pasItems[i].pszTemp != NULL)
                    abort();
            }
        }
        else if (pszError == NULL)
            abort(); /* a refused plan says why */
        CPLFree(pszError);
        BWPlanFree(&sPlan);
    }
    GDALBatchWarpOptionsFree(psOptions);
    CPLPopErrorHandler();
    CPLErrorReset();
    return 0;
}
