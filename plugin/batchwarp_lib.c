/* GDALBatchWarp(): plans a batch, runs it on the worker pool, reports. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "batchwarp_budget.h"
#include "batchwarp_fault_hooks.h"
#include "batchwarp_merge.h"
#include "batchwarp_options.h"
#include "batchwarp_output.h"
#include "batchwarp_plan.h"
#include "batchwarp_pool.h"
#include "batchwarp_report.h"
#include "batchwarp_scheduler.h"
#include "batchwarp_stop.h"
#include "batchwarp_strbuf.h"
#include "batchwarp_temp.h"
#include "batchwarp_summary.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"
#include "gdal_batchwarp.h"

#ifndef BATCHWARP_VERSION
#define BATCHWARP_VERSION "unknown"
#endif

/* Relative to the directory of this library, in the build tree and once
 * installed alike. */
#define BW_WORKER_RELATIVE_PATH "gdal_batchwarp/gdal_batchwarp_worker"

typedef struct
{
    const GDALBatchWarpOptions *psOptions;
    BWPlan *psPlan;
    BWScheduler *psSched;
    int nDone;
    int nFailed;
    BWStop sStop;      /* progress, and whether the caller asked to stop */
    int bStdoutClosed; /* -print_outputs: the reader went away */
    BWReport *psReport;
    char *pszReportError; /* first failure to write the report */
    BWSummary *psSummary; /* for the summary on stderr, or NULL */
} BWBatch;

const char *GDALBatchWarpGetVersion(void)
{
    /* A test build says so, so that nobody ships it by mistake and the
     * autotests can tell whether the fault hooks are there. */
    return BWFaultHooksCompiled() ? BATCHWARP_VERSION "+fault-hooks" : BATCHWARP_VERSION;
}

/* The worker executable: $GDAL_BATCHWARP_WORKER, else next to this library. */
static char *FindWorker(void)
{
    const char *pszEnv = CPLGetConfigOption("GDAL_BATCHWARP_WORKER", NULL);
    if (pszEnv != NULL && pszEnv[0] != '\0')
        return CPLStrdup(pszEnv);
    Dl_info sInfo;
    if (dladdr((void *)GDALBatchWarp, &sInfo) != 0 && sInfo.dli_fname != NULL)
    {
        char *pszDir = CPLStrdup(CPLGetPath(sInfo.dli_fname));
        char *pszPath = CPLStrdup(CPLFormFilename(pszDir, BW_WORKER_RELATIVE_PATH, NULL));
        CPLFree(pszDir);
        return pszPath;
    }
    return CPLStrdup(BW_WORKER_RELATIVE_PATH);
}

static void ReportProgress(BWBatch *psBatch)
{
    BWStopProgress(&psBatch->sStop, (double)psBatch->nDone / psBatch->psPlan->nItems);
}

static void Tick(void *pUser)
{
    ReportProgress(pUser);
}

static void Emit(BWBatch *psBatch, const GDALBatchWarpResult *psResult)
{
    const GDALBatchWarpOptions *psOptions = psBatch->psOptions;
    psBatch->nDone++;
    if (!psResult->bOk)
        psBatch->nFailed++;
    if (psBatch->psSummary != NULL)
        BWSummaryAdd(psBatch->psSummary, psResult);
    if (psBatch->psReport != NULL && psBatch->pszReportError == NULL)
        BWReportWrite(psBatch->psReport, psResult, &psBatch->pszReportError);
    /* Complete outputs only (kept ones are complete too), flushed at once,
     * so that the next program in a pipeline can start on them. */
    if (psOptions->bPrintOutputs && psResult->bOk && !psBatch->bStdoutClosed)
    {
        /* A reader that went away (| head -1; SIGPIPE is ignored by the
         * program) stops the batch as a stop signal would: nobody takes
         * the outputs any more. */
        /* One a line, or ended by a NUL byte with -null (xargs -0): a name
         * with a newline in it is refused without -null (see the plan). */
        /* Written past stdio, in one write() through the stop check: a
         * stop that interrupts the write leaves nothing in stdio's buffer
         * for exit() to flush, which would wait on the reader again. */
        const size_t nName = strlen(psResult->pszOutput);
        char *pszLine = CPLMalloc(nName + 1);
        memcpy(pszLine, psResult->pszOutput, nName);
        pszLine[nName] = psOptions->bNulSeparated ? '\0' : '\n';
        const int bWritten =
            fflush(stdout) == 0 && BWWriteAllUnlessStopped(STDOUT_FILENO, pszLine, nName + 1,
                                                           BWStopHeard, &psBatch->sStop) == 0;
        CPLFree(pszLine);
        if (!bWritten)
        {
            /* A write that waited on a reader reading nothing, interrupted
             * by a stop signal, is that stop, not a closed output. */
            const int bInterrupted = errno == EINTR && BWStopHeard(&psBatch->sStop);
            psBatch->bStdoutClosed = !bInterrupted;
            psBatch->sStop.bStop = TRUE;
        }
    }
    if (psOptions->pfnResult != NULL)
        psOptions->pfnResult(psResult, psOptions->pResultData);
    ReportProgress(psBatch);
}

/* <pszKey>_DEV and <pszKey>_INO: the identity of a temporary directory we
 * made (see BWTempDirIdentity), for the worker to check before it writes
 * there; nothing if it is not one of ours. */
static char **AddDirIdentity(char **papszFields, const char *pszKey, const char *pszDir)
{
    dev_t nDev = 0;
    ino_t nIno = 0;
    if (!BWTempDirIdentity(pszDir, &nDev, &nIno))
        return papszFields;
    papszFields = CSLAddNameValue(papszFields, CPLSPrintf("%s_DEV", pszKey),
                                  CPLSPrintf("%llu", (unsigned long long)nDev));
    return CSLAddNameValue(papszFields, CPLSPrintf("%s_INO", pszKey),
                           CPLSPrintf("%llu", (unsigned long long)nIno));
}

static int NextTask(void *pUser, int bAhead, void **ppCookie, char ***ppapszFields)
{
    BWBatch *psBatch = pUser;
    int iItem = 0;
    int nThreads = 1;
    if (!BWSchedulerNext(psBatch->psSched, bAhead, &iItem, &nThreads))
        return FALSE;
    const BWPlanItem *psItem = &psBatch->psPlan->pasItems[iItem];
    char **papszFields = NULL;
    papszFields = CSLAddNameValue(papszFields, "ID", CPLSPrintf("%d", iItem));
    papszFields = CSLAddNameValue(papszFields, "SRC", psItem->pszSource);
    papszFields = CSLAddNameValue(papszFields, "DST", psItem->pszOutput);
    papszFields = CSLAddNameValue(papszFields, "TMP", psItem->pszTemp);
    /* Known from a listing: a small network source is then read whole. */
    if (psItem->nSize > 0)
        papszFields = CSLAddNameValue(papszFields, "SIZE", CPLSPrintf(CPL_FRMT_GIB, psItem->nSize));
    /* The temporary directory we made, which the worker checks it writes in. */
    char *pszTempDir = BWPathDir(psItem->pszTemp);
    papszFields = AddDirIdentity(papszFields, "TMPDIR", pszTempDir);
    CPLFree(pszTempDir);
    if (psItem->pszStaged != NULL)
    {
        papszFields = CSLAddNameValue(papszFields, "STAGE", psItem->pszStaged);
        /* And the staging one, which holds the task's own directory. */
        char *pszTaskDir = BWPathDir(psItem->pszStaged);
        char *pszStageDir = BWPathDir(pszTaskDir);
        papszFields = AddDirIdentity(papszFields, "STAGEDIR", pszStageDir);
        CPLFree(pszStageDir);
        CPLFree(pszTaskDir);
    }
    papszFields = CSLAddNameValue(papszFields, "ATTEMPT",
                                  CPLSPrintf("%d", BWSchedulerAttempts(psBatch->psSched, iItem)));
    /* Without -overwrite the output was not there when planned: the worker
     * that uploads it to an object store keeps whatever came since. */
    if (!psBatch->psOptions->bOverwrite)
        papszFields = CSLAddNameValue(papszFields, "KEEP", "1");
    if (nThreads > 1)
        papszFields = CSLAddNameValue(papszFields, "THREADS", CPLSPrintf("%d", nThreads));
    for (char **papszIter = psItem->papszSiblings; papszIter && *papszIter; ++papszIter)
        papszFields = CSLAddNameValue(papszFields, "SIBLING", *papszIter);
    for (char **papszIter = psItem->papszOldSiblings; papszIter && *papszIter; ++papszIter)
        papszFields = CSLAddNameValue(papszFields, "OLDSIBLING", *papszIter);
    *ppapszFields = papszFields;
    *ppCookie = (void *)(intptr_t)iItem;
    return TRUE;
}

/* pszText with every occurrence of pszFrom replaced by pszTo (CPLFree it). */
static char *ReplaceAll(const char *pszText, const char *pszFrom, const char *pszTo)
{
    const size_t nFrom = strlen(pszFrom);
    BWStrBuf sOut = BW_STRBUF_INIT;
    const char *p = pszText;
    const char *pszHit;
    while (nFrom > 0 && (pszHit = strstr(p, pszFrom)) != NULL)
    {
        BWStrBufAdd(&sOut, p, (size_t)(pszHit - p));
        BWStrBufAddStr(&sOut, pszTo);
        p = pszHit + nFrom;
    }
    BWStrBufAddStr(&sOut, p);
    return BWStrBufDetach(&sOut);
}

static void CPL_STDCALL CollectFailure(CPLErr eClass, CPLErrorNum nNum, const char *pszMsg)
{
    (void)nNum;
    char **ppszError = CPLGetErrorHandlerUserData();
    if (eClass != CE_Failure && eClass != CE_Fatal)
        return;
    char *pszJoined = *ppszError ? BWStrPrintf("%s\n%s", *ppszError, pszMsg) : CPLStrdup(pszMsg);
    CPLFree(*ppszError);
    *ppszError = pszJoined;
}

/*
 * The worker leaves a finished output closed under its temporary name; the
 * supervisor renames it into place and only then reports it. So a stop or a
 * kill can never leave a final name that the report does not list (outputs
 * staged for a remote directory are the exception: the worker copies them).
 */
static int PublishInSupervisor(const BWPlanItem *psItem, const BWMessage *psReply, int bKeep,
                               char **ppszError)
{
    char **papszFiles = NULL;
    char **papszStale = NULL;
    const size_t nKey = strlen("FILE=");
    for (char **papszIter = psReply->papszFields; papszIter && *papszIter; ++papszIter)
    {
        if (strncmp(*papszIter, "FILE=", nKey) == 0)
            papszFiles = CSLAddString(papszFiles, *papszIter + nKey);
        else if (STARTS_WITH(*papszIter, "STALE="))
            papszStale = CSLAddString(papszStale, *papszIter + strlen("STALE="));
    }
    /* A local output is in its task's own directory (see the worker's
     * TakeTaskDir), named in the reply: one of ours, in the run's temporary
     * directory. */
    const char *pszTaskDir = BWMessageGet(psReply, "TASKDIR");
    if (!STARTS_WITH(psItem->pszTemp, "/vsi") &&
        (pszTaskDir == NULL || !STARTS_WITH(pszTaskDir, BW_TASK_DIR_PREFIX) ||
         strchr(pszTaskDir, '/') != NULL || strstr(pszTaskDir, "..") != NULL))
    {
        *ppszError = BWStrPrintf("The worker named no task directory for %s: nothing was "
                                 "published",
                                 psItem->pszOutput);
        CSLDestroy(papszFiles);
        CSLDestroy(papszStale);
        return FALSE;
    }
    CPLPushErrorHandlerEx(CollectFailure, ppszError);
    const int bOk = STARTS_WITH(psItem->pszTemp, "/vsi")
                        ? BWPublishOutputFiles(psItem->pszTemp, psItem->pszOutput, papszFiles)
                        : BWPublishTaskOutput(psItem->pszTemp, pszTaskDir, psItem->pszOutput,
                                              papszFiles, papszStale, bKeep);
    if (bOk)
        BWRemoveStaleFiles(psItem->pszOutput, papszStale, papszFiles);
    CSLDestroy(papszFiles);
    CSLDestroy(papszStale);
    CPLPopErrorHandler();
    if (!bOk)
    {
        /* Every failure names its reason; this is only a last resort (and
         * must not name the temporary file, which messages show as the
         * output: "rename X to X"). */
        if (*ppszError == NULL)
            *ppszError = BWStrPrintf("Cannot move the new '%s' into place (no reason given)",
                                     psItem->pszOutput);
        BWDiscardTemp(psItem->pszTemp);
    }
    return bOk;
}

static void TaskDone(void *pUser, void *pCookie, const BWTaskOutcome *psOutcome)
{
    BWBatch *psBatch = pUser;
    const int iItem = (int)(intptr_t)pCookie;
    const BWPlanItem *psItem = &psBatch->psPlan->pasItems[iItem];

    GDALBatchWarpResult sResult;
    memset(&sResult, 0, sizeof(sResult));
    sResult.pszSource = psItem->pszSource;
    sResult.pszOutput = psItem->pszOutput;
    sResult.nWorkerPid = psOutcome->nWorkerPid;
    sResult.nAttempts = BWSchedulerAttempts(psBatch->psSched, iItem);
    sResult.nThreads = BWSchedulerThreads(psBatch->psSched, iItem);
    sResult.pszShard = psBatch->psOptions->pszShard;
    sResult.dfSeconds = psOutcome->dfSeconds;
    char *pszError = NULL;
    char **papszMessages = NULL;
    BWAttemptEnd eEnd;
    if (psOutcome->psReply != NULL)
    {
        const char *pszOk = BWMessageGet(psOutcome->psReply, "OK");
        sResult.bOk = pszOk != NULL && strcmp(pszOk, "1") == 0;
        if (!sResult.bOk)
        {
            pszError = BWMessageJoin(psOutcome->psReply, "ERROR");
            if (pszError == NULL)
                pszError = CPLStrdup("failed without an error message");
        }
        papszMessages = BWMessageGetAll(psOutcome->psReply, "MESSAGE");
        const char *pszSeconds = BWMessageGet(psOutcome->psReply, "SECONDS");
        if (pszSeconds != NULL)
            sResult.dfSeconds = CPLAtof(pszSeconds);
        if (sResult.bOk && psItem->pszStaged == NULL)
            sResult.bOk = PublishInSupervisor(psItem, psOutcome->psReply,
                                              !psBatch->psOptions->bOverwrite, &pszError);
        eEnd = sResult.bOk ? BW_ATTEMPT_OK : BW_ATTEMPT_FAILED;
    }
    else
    {
        /* The worker died or was killed mid-task (or before it started a
         * queued one): its temporary file is ours to remove, and its task
         * directories once it is reaped. A task it could not be sent is
         * handed back before the replies it sent are read: their outputs
         * wait there to be published. */
        BWDiscardTemp(psItem->pszTemp);
        if (psOutcome->nWorkerPid > 0 && psOutcome->bWorkerReaped)
            BWDiscardWorkerTaskDirs(psItem->pszTemp, psOutcome->nWorkerPid);
        if (psItem->pszStaged != NULL)
        {
            /* Its own directory (see BWStagingPathFor), never through a
             * link (see BWRemoveInTempDir). */
            char *pszStagedDir = BWPathDir(psItem->pszStaged);
            char *pszStageDir = BWPathDir(pszStagedDir);
            BWRemoveInTempDir(pszStageDir, BWPathName(pszStagedDir));
            CPLFree(pszStageDir);
            CPLFree(pszStagedDir);
        }
        pszError = CPLStrdup(psOutcome->pszFailure ? psOutcome->pszFailure : "worker lost");
        /* Out of address space, a worker can die without a word of its own
         * (a C++ allocation aborts, a thread cannot start). */
        if (psBatch->psOptions->nWorkerMemLimit > 0 && psOutcome->pszFailure != NULL &&
            strstr(psOutcome->pszFailure, "signal") != NULL)
        {
            char *pszHinted = CPLStrdup(
                CPLSPrintf("%s; workers are limited to " CPL_FRMT_GIB
                           " MB of address space (-worker_mem_limit): this task may need more",
                           pszError, psBatch->psOptions->nWorkerMemLimit / (1024 * 1024)));
            CPLFree(pszError);
            pszError = pszHinted;
        }
        eEnd = psOutcome->bInterrupted  ? BW_ATTEMPT_INTERRUPTED
               : psOutcome->bNotStarted ? BW_ATTEMPT_NOT_STARTED
                                        : BW_ATTEMPT_LOST;
    }
    /* Stopped, retried or queued again: not reported now. */
    if (BWSchedulerDone(psBatch->psSched, iItem, eEnd, psBatch->sStop.bStop) != BW_VERDICT_REPORT)
    {
        CPLFree(pszError);
        CSLDestroy(papszMessages);
        return;
    }
    /* GDAL names the file it wrote, a temporary one gone by now: name the
     * output the user knows instead. */
    if (pszError != NULL && strstr(pszError, psItem->pszTemp) != NULL)
    {
        char *pszNamed = ReplaceAll(pszError, psItem->pszTemp, psItem->pszOutput);
        CPLFree(pszError);
        pszError = pszNamed;
    }
    for (char **papszIter = papszMessages; papszIter && *papszIter; ++papszIter)
    {
        if (strstr(*papszIter, psItem->pszTemp) == NULL)
            continue;
        char *pszNamed = ReplaceAll(*papszIter, psItem->pszTemp, psItem->pszOutput);
        CPLFree(*papszIter);
        *papszIter = pszNamed;
    }
    sResult.pszError = pszError;
    sResult.papszMessages = papszMessages;
    Emit(psBatch, &sResult);
    CPLFree(pszError);
    CSLDestroy(papszMessages);
}

/* A task queued behind another on its worker starts. */
static void TaskStarted(void *pUser, void *pCookie)
{
    BWBatch *psBatch = pUser;
    BWSchedulerStarted(psBatch->psSched, (int)(intptr_t)pCookie);
}

/* No worker could be started for the task: it failed. */
static void StartFailed(void *pUser, void *pCookie, const char *pszError)
{
    BWTaskOutcome sOutcome;
    memset(&sOutcome, 0, sizeof(sOutcome));
    sOutcome.pszFailure = pszError;
    TaskDone(pUser, pCookie, &sOutcome);
}

/* -dry_run: what would be done, one "source -> output" line each, or each
 * ended by a NUL byte instead with -null (the plan refuses a name with a
 * newline without it). */
static void PrintPlan(const BWPlan *psPlan, int bNulSeparated)
{
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        printf("%s -> %s%s", psPlan->pasItems[i].pszSource, psPlan->pasItems[i].pszOutput,
               psPlan->pasItems[i].bSkip ? " (exists: kept)" : "");
        putchar(bNulSeparated ? '\0' : '\n');
    }
    fflush(stdout);
}

/* The summary on stderr, if asked for and not -q (see batchwarp_summary.h). */
static void PrintSummary(const BWBatch *psBatch, int nStopped, double dfStart)
{
    if (psBatch->psSummary == NULL)
        return;
    char *pszText =
        BWSummaryFormat(psBatch->psSummary, BWMonotonicSeconds() - dfStart,
                        psBatch->psOptions->pszReport, nStopped, psBatch->psPlan->nItems, 5);
    fputs(pszText, stderr);
    fflush(stderr);
    CPLFree(pszText);
}

static GDALBatchWarpStatus RunPlan(const GDALBatchWarpOptions *psOptions, BWPlan *psPlan,
                                   const BWBudget *psBudget, BWPrestarted *psPrestarted,
                                   double dfStart, char **ppszError)
{
    BWBatch sBatch;
    memset(&sBatch, 0, sizeof(sBatch));
    sBatch.psOptions = psOptions;
    if (psOptions->bSummary && !psOptions->bQuiet)
        sBatch.psSummary = BWSummaryNew();
    sBatch.psPlan = psPlan;
    BWStopInit(&sBatch.sStop, psOptions->pfnProgress, psOptions->pProgressData);
    if (psOptions->pszReport != NULL)
    {
        sBatch.psReport = BWReportOpenStoppable(psOptions->pszReport, psOptions->pszRetryFailed,
                                                BWStopHeard, &sBatch.sStop, ppszError);
        if (sBatch.psReport == NULL)
            return GDAL_BATCHWARP_FAILED;
    }
    BWStopProgress(&sBatch.sStop, 0.0);

    BWSchedulerOptions sSchedOptions;
    memset(&sSchedOptions, 0, sizeof(sSchedOptions));
    sSchedOptions.nRetries = psOptions->nRetries;
    sSchedOptions.nWorkers = psBudget->nWorkers;
    sSchedOptions.bTailThreads = psBudget->bTailThreads;
    sSchedOptions.nThreadBudget = psBudget->nThreadBudget;
    sSchedOptions.nMaxWorkers = psBudget->nMaxWorkers;
    sBatch.psSched = BWSchedulerNew(&sSchedOptions, psPlan->nItems);
    /* Existing outputs are complete (outputs are atomic): keep them. */
    int nToDo = 0;
    for (int i = 0; i < psPlan->nItems; ++i)
    {
        const BWPlanItem *psItem = &psPlan->pasItems[i];
        if (!psItem->bSkip)
        {
            BWSchedulerAdd(sBatch.psSched, i, psItem->nSize);
            nToDo++;
            continue;
        }
        GDALBatchWarpResult sResult;
        memset(&sResult, 0, sizeof(sResult));
        sResult.pszSource = psItem->pszSource;
        sResult.pszOutput = psItem->pszOutput;
        sResult.bOk = TRUE;
        sResult.bSkipped = TRUE;
        sResult.pszShard = psOptions->pszShard;
        Emit(&sBatch, &sResult);
    }

    int bPoolOk = TRUE;
    if (nToDo > 0)
    {
        const int nWorkers = psBudget->nWorkers;
        char *pszWorker = FindWorker();
        CPLDebug("BATCHWARP", "worker executable: %s", pszWorker);
        char **papszInit = BWBuildInitFields(psOptions, psBudget);
        const char **papszPaths = CPLCalloc((size_t)psPlan->nItems * 2 + 1, sizeof(char *));
        for (int i = 0; i < psPlan->nItems; ++i)
        {
            papszPaths[2 * i] = psPlan->pasItems[i].pszSource;
            papszPaths[2 * i + 1] = psPlan->pasItems[i].pszOutput;
        }
        papszInit = BWAddPathSpecificOptions(papszInit, papszPaths, psPlan->nItems * 2);
        CPLFree(papszPaths);
        BWPoolOptions sPool;
        memset(&sPool, 0, sizeof(sPool));
        sPool.pszWorkerPath = pszWorker;
        sPool.psPrestarted = psPrestarted;
        sPool.nWorkers = nWorkers;
        /* More workers while tasks wait on I/O, up to the budget's ceiling. */
        BWConcurrency sConcurrency;
        BWConcurrencyInit(&sConcurrency, nWorkers, psBudget->nMaxWorkers);
        if (psBudget->nMaxWorkers > nWorkers)
            sPool.psConcurrency = &sConcurrency;
        sPool.nMaxTasksPerWorker = psOptions->nMaxTasksPerWorker;
        sPool.dfTaskTimeout = psOptions->dfTaskTimeout;
        sPool.papszInitFields = papszInit;
        sPool.pbStopRequested = &sBatch.sStop.bStop;
        sPool.nMaxResidentKB = (long)(psOptions->nMaxWorkerRSS / 1024);
        /* Each worker starts its next task as soon as it replied, while the
         * supervisor publishes and reports the one before. */
        sPool.nQueuedPerWorker = 1;
        sPool.pfnNext = NextTask;
        sPool.pfnDone = TaskDone;
        sPool.pfnStartFailed = StartFailed;
        sPool.pfnStarted = TaskStarted;
        sPool.pfnTick = Tick;
        sPool.pUser = &sBatch;
        bPoolOk = BWPoolRun(&sPool, ppszError);
        CSLDestroy(papszInit);
        CPLFree(pszWorker);
    }
    const int nStopped = BWSchedulerStopped(sBatch.psSched);
    BWSchedulerFree(sBatch.psSched);
    PrintSummary(&sBatch, nStopped, dfStart);
    BWSummaryFree(sBatch.psSummary);

    char *pszCloseError = NULL;
    BWReportClose(sBatch.psReport, &pszCloseError);
    if (sBatch.pszReportError == NULL)
        sBatch.pszReportError = pszCloseError;
    else
        CPLFree(pszCloseError);
    if (bPoolOk && sBatch.pszReportError != NULL)
    {
        *ppszError = sBatch.pszReportError;
        return GDAL_BATCHWARP_FAILED;
    }
    CPLFree(sBatch.pszReportError);
    if (!bPoolOk)
        return GDAL_BATCHWARP_FAILED;
    if (sBatch.bStdoutClosed)
    {
        *ppszError = CPLStrdup(CPLSPrintf("Standard output was closed (-print_outputs): stopped "
                                          "with %d of %d sources done, %d stopped.",
                                          sBatch.nDone, psPlan->nItems, nStopped));
        return GDAL_BATCHWARP_FAILED;
    }
    if (sBatch.sStop.bStop)
    {
        *ppszError = CPLStrdup(CPLSPrintf("Interrupted: %d of %d sources done, %d stopped.",
                                          sBatch.nDone, psPlan->nItems, nStopped));
        return GDAL_BATCHWARP_FAILED;
    }
    return sBatch.nFailed == 0 ? GDAL_BATCHWARP_OK : GDAL_BATCHWARP_FAILED;
}

/* How many workers to start while the plan is built: -j, but no more than
 * there are sources when each is named on its own (one file, -j 64: one
 * worker). A directory, a pattern, a list or a remote path (not stat'ed
 * here: a round trip) may stand for any number. */
static int WorkersToPrestart(const GDALBatchWarpOptions *psOptions)
{
    if (psOptions->papszSourceLists != NULL)
        return psOptions->nWorkers;
    int nFiles = 0;
    for (char **papszIter = psOptions->papszSources;
         papszIter && *papszIter && nFiles < psOptions->nWorkers; ++papszIter)
    {
        VSIStatBufL sStat;
        if (STARTS_WITH(*papszIter, "/vsi") || strpbrk(*papszIter, "*?[") != NULL ||
            VSIStatL(*papszIter, &sStat) != 0 || !VSI_ISREG(sStat.st_mode))
            return psOptions->nWorkers;
        nFiles++;
    }
    return nFiles;
}

GDALBatchWarpStatus GDALBatchWarp(const GDALBatchWarpOptions *psOptions)
{
    const double dfStart = BWMonotonicSeconds();
    char *pszError = NULL;
    BWPlan sPlan;
    memset(&sPlan, 0, sizeof(sPlan));
    BWBudget sBudget;
    memset(&sBudget, 0, sizeof(sBudget));
    GDALBatchWarpStatus eStatus = GDAL_BATCHWARP_OK;
    /* HTTP retries for object stores, here and in the workers. */
    char **papszNetworkDefaults = BWNetworkDefaultsPush();
    const int bRun =
        !psOptions->bMergeReports && !psOptions->bNothingToRetry && !psOptions->bDryRun;
    /* A report named by a descriptor (/dev/fd/N) is the caller's: checked
     * before this process opens descriptors of its own (the workers'
     * channels), one of which would otherwise stand at a number the caller
     * left closed, and take the report. */
    const int bReportFdRefused = bRun && psOptions->pszReport != NULL &&
                                 BWReportDescriptorNamed(psOptions->pszReport) >= 0 &&
                                 !BWReportCheckPath(psOptions->pszReport, &pszError);
    /* Workers load GDAL while the plan is built (which may stat every
     * source): at most -j, the most the budget runs at first. */
    BWPrestarted *psPrestarted = NULL;
    if (bRun && !bReportFdRefused)
    {
        char *pszWorker = FindWorker();
        psPrestarted = BWPoolPrestart(pszWorker, WorkersToPrestart(psOptions));
        CPLFree(pszWorker);
    }
    if (bReportFdRefused)
        eStatus = GDAL_BATCHWARP_USAGE_ERROR;
    else if (psOptions->bMergeReports)
        eStatus = BWMergeReports(psOptions, &pszError);
    else if (psOptions->bNothingToRetry)
    {
        CPLDebug("BATCHWARP", "%s lists no failed source: nothing to do",
                 psOptions->pszRetryFailed);
        /* An empty report all the same, so that a chain of retries
         * (-retry_failed prev.jsonl -report next.jsonl) finds its input;
         * prev.jsonl itself, if named again, is left as it is. */
        if (psOptions->pszReport != NULL)
        {
            BWReport *psReport =
                BWReportOpenAppendingTo(psOptions->pszReport, psOptions->pszRetryFailed, &pszError);
            if (psReport == NULL || !BWReportClose(psReport, &pszError))
                eStatus = GDAL_BATCHWARP_FAILED;
        }
    }
    else if (!BWFaultPlanBuilt(BWPlanBuild(psOptions, &sPlan, &pszError)) ||
             !BWBudgetCompute(psOptions, BWPlanCountToDo(&sPlan), BWPlanHasNetworkSource(&sPlan),
                              &sBudget, &pszError))
        eStatus = GDAL_BATCHWARP_USAGE_ERROR;
    else if (psOptions->bDryRun)
        PrintPlan(&sPlan, psOptions->bNulSeparated);
    else if (!BWPrepareOutDir(psOptions->pszOutDir, &pszError))
        eStatus = GDAL_BATCHWARP_FAILED;
    else
    {
        /* No more than the budget runs at first (fewer tasks, less memory). */
        BWPoolPrestartedKeep(psPrestarted, BWPlanCountToDo(&sPlan) > 0 ? sBudget.nWorkers : 0);
        if (sBudget.nWorkers < psOptions->nWorkers && sBudget.nWorkers < BWPlanCountToDo(&sPlan))
            CPLError(
                CE_Warning, CPLE_AppDefined,
                "Running %d worker%s instead of %d: that is what the memory budget of " CPL_FRMT_GIB
                " MB holds with gdalwarp's warp memory each (see -memory_budget).",
                sBudget.nWorkers, sBudget.nWorkers == 1 ? "" : "s", psOptions->nWorkers,
                sBudget.nTotalBytes / (1024 * 1024));
        if (!BWPrepareOutputDirs(&sPlan, psOptions->pszOutDir, &pszError) ||
            !BWPlanAssignTemps(&sPlan, &pszError))
            eStatus = GDAL_BATCHWARP_FAILED;
        else
            eStatus = RunPlan(psOptions, &sPlan, &sBudget, psPrestarted, dfStart, &pszError);
        BWCleanOutputDirs(&sPlan);
    }
    /* Those the pool did not take (fewer tasks than -j, an error). */
    BWPoolPrestartedFree(psPrestarted);
    BWPlanFree(&sPlan);
    BWNetworkDefaultsPop(papszNetworkDefaults);
    if (pszError != NULL)
    {
        CPLError(CE_Failure, CPLE_AppDefined, "%s", pszError);
        CPLFree(pszError);
    }
    return eStatus;
}
