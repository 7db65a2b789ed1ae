#include "batchwarp_util.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <cpl_port.h>

double BWMonotonicSeconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int BWParseLong(const char *pszValue, long nMin, long nMax, long *pnOut)
{
    if (pszValue == NULL)
        return FALSE;
    char *pszEnd = NULL;
    errno = 0;
    const long nValue = strtol(pszValue, &pszEnd, 10);
    if (pszEnd == pszValue || *pszEnd != '\0' || errno == ERANGE || nValue < nMin || nValue > nMax)
        return FALSE;
    *pnOut = nValue;
    return TRUE;
}
