#include "batchwarp_fault_hooks.h"

#ifdef BATCHWARP_FAULT_HOOKS

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_util.h"

int BWFaultHooksCompiled(void)
{
    return 1;
}

static void RunAction(const char *pszAction)
{
    if (EQUAL(pszAction, "segv"))
        raise(SIGSEGV);
    else if (EQUAL(pszAction, "abort"))
        abort();
    else if (EQUAL(pszAction, "hang"))
    {
        for (;;)
            pause();
    }
    else if (EQUAL(pszAction, "exit"))
        _exit(3);
}

void BWInjectFault(const char *pszSource, int nAttempt)
{
    const char *pszSpec = getenv("GDAL_BATCHWARP_TEST_FAULTS");
    if (pszSpec == NULL)
        return;
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
                RunAction(pszAction);
                CPLFree(pszAction);
                return;
            }
        }
        CPLFree(pszAction);
    }
    CSLDestroy(papszEntries);
}

#else

int BWFaultHooksCompiled(void)
{
    return 0;
}

void BWInjectFault(const char *pszSource, int nAttempt)
{
    (void)pszSource;
    (void)nAttempt;
}

#endif
