#include "batchwarp_fault_hooks.h"

#ifdef BATCHWARP_FAULT_HOOKS

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

#include "batchwarp_util.h"

int BWFaultHooksCompiled(void)
{
    return 1;
}

/* Returns TRUE when the task is to fail (without running). */
static int RunAction(const char *pszAction)
{
    if (EQUAL(pszAction, "errors"))
    {
        for (int i = 1; i <= BW_FAULT_ERROR_COUNT; ++i)
            CPLError(CE_Failure, CPLE_AppDefined,
                     "injected error %d of %d: a message as long as a typical GDAL one, naming "
                     "a file and a reason",
                     i, BW_FAULT_ERROR_COUNT);
        return TRUE;
    }
    if (EQUAL(pszAction, "segv"))
    {
        /* Dies by the signal as a real crash does, also where a handler is
         * installed (AddressSanitizer's would turn it into exit status 1). */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    else if (EQUAL(pszAction, "abort"))
        abort();
    else if (EQUAL(pszAction, "hang"))
    {
        for (;;)
            pause();
    }
    else if (EQUAL(pszAction, "exit"))
        _exit(3);
    else if (EQUAL(pszAction, "gate"))
    {
        /* Lets a test act at a known point: says it is here (GATE.reached),
         * then waits until the test opens the gate (creates GATE). */
        const char *pszGate = getenv("GDAL_BATCHWARP_TEST_GATE");
        if (pszGate == NULL)
            return FALSE;
        FILE *fp = fopen(CPLSPrintf("%s.reached", pszGate), "w");
        if (fp != NULL)
            fclose(fp);
        while (access(pszGate, F_OK) != 0)
            usleep(20000);
    }
    return FALSE;
}

int BWInjectFault(const char *pszSource, int nAttempt)
{
    const char *pszSpec = getenv("GDAL_BATCHWARP_TEST_FAULTS");
    if (pszSpec == NULL)
        return FALSE;
    char **papszEntries = CSLTokenizeString2(pszSpec, ",", 0);
    const char *pszName = BWPathName(pszSource);
    for (char **papszIter = papszEntries; papszIter && *papszIter; ++papszIter)
    {
        char *pszAction = CPLStrdup(*papszIter);
        char *pszColon = strchr(pszAction, ':');
        if (pszColon != NULL && strcmp(pszColon + 1, pszName) == 0)
        {
            *pszColon = '\0';
            const size_t nLen = strlen(pszAction);
            const int bOnce = nLen > 5 && EQUAL(pszAction + nLen - 5, "_once");
            if (bOnce)
                pszAction[nLen - 5] = '\0';
            if (!bOnce || nAttempt <= 1)
            {
                CSLDestroy(papszEntries);
                const int bFail = RunAction(pszAction);
                CPLFree(pszAction);
                return bFail;
            }
        }
        CPLFree(pszAction);
    }
    CSLDestroy(papszEntries);
    return FALSE;
}

void BWInjectFaultAfterWrite(const char *pszSource)
{
    const char *pszSpec = getenv("GDAL_BATCHWARP_TEST_FAULTS");
    if (pszSpec == NULL)
        return;
    char **papszEntries = CSLTokenizeString2(pszSpec, ",", 0);
    const char *pszName = BWPathName(pszSource);
    for (char **papszIter = papszEntries; papszIter && *papszIter; ++papszIter)
    {
        if (STARTS_WITH(*papszIter, "gate_after:") &&
            strcmp(*papszIter + strlen("gate_after:"), pszName) == 0)
        {
            RunAction("gate");
            break;
        }
    }
    CSLDestroy(papszEntries);
}

void BWFaultBeforeMainFile(const char *pszMain)
{
    const char *pszSpec = getenv("GDAL_BATCHWARP_TEST_FAULTS");
    char **papszEntries = pszSpec ? CSLTokenizeString2(pszSpec, ",", 0) : NULL;
    if (CSLFindString(papszEntries, CPLSPrintf("gate_publish:%s", pszMain)) >= 0)
        RunAction("gate");
    CSLDestroy(papszEntries);
}

void BWFaultAfterMainFile(const char *pszMain)
{
    const char *pszSpec = getenv("GDAL_BATCHWARP_TEST_FAULTS");
    char **papszEntries = pszSpec ? CSLTokenizeString2(pszSpec, ",", 0) : NULL;
    if (CSLFindString(papszEntries, CPLSPrintf("gate_published:%s", pszMain)) >= 0)
        RunAction("gate");
    CSLDestroy(papszEntries);
}

static void AppendEvent(const char *pszPath, const char *pszLine)
{
    const int fd = open(pszPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    const ssize_t nLen = (ssize_t)strlen(pszLine);
    if (write(fd, pszLine, (size_t)nLen) != nLen)
        fprintf(stderr, "cannot write %s\n", pszPath);
    close(fd);
}

void BWFaultWorkerStarted(void)
{
    const char *pszPath = getenv("GDAL_BATCHWARP_TEST_EVENTS");
    if (pszPath != NULL)
        AppendEvent(pszPath, CPLSPrintf("worker_started %ld\n", (long)getpid()));
}

int BWFaultPlanBuilt(int bBuilt)
{
    /* gate_plan: the gate in the supervisor, once the plan is built. */
    const char *pszSpec = getenv("GDAL_BATCHWARP_TEST_FAULTS");
    char **papszEntries = pszSpec ? CSLTokenizeString2(pszSpec, ",", 0) : NULL;
    if (bBuilt && CSLFindString(papszEntries, "gate_plan") >= 0)
        RunAction("gate");
    CSLDestroy(papszEntries);
    const char *pszPath = getenv("GDAL_BATCHWARP_TEST_EVENTS");
    if (pszPath == NULL)
        return bBuilt;
    for (int i = 0; i < BW_FAULT_EVENT_WAIT_SECONDS * 50; ++i)
    {
        /* Plain stdio: a log not yet written is no GDAL error. */
        char szText[4096];
        size_t nRead = 0;
        FILE *fp = fopen(pszPath, "r");
        if (fp != NULL)
        {
            nRead = fread(szText, 1, sizeof(szText) - 1, fp);
            fclose(fp);
        }
        szText[nRead] = '\0';
        if (strstr(szText, "worker_started") != NULL)
            break;
        usleep(20000);
    }
    AppendEvent(pszPath, bBuilt ? "plan_built\n" : "plan_refused\n");
    return bBuilt;
}

#else

void BWFaultWorkerStarted(void)
{
}

int BWFaultPlanBuilt(int bBuilt)
{
    return bBuilt;
}

int BWFaultHooksCompiled(void)
{
    return 0;
}

int BWInjectFault(const char *pszSource, int nAttempt)
{
    (void)pszSource;
    (void)nAttempt;
    return 0;
}

void BWInjectFaultAfterWrite(const char *pszSource)
{
    (void)pszSource;
}

void BWFaultBeforeMainFile(const char *pszMain)
{
    (void)pszMain;
}

void BWFaultAfterMainFile(const char *pszMain)
{
    (void)pszMain;
}

#endif
