#include "batchwarp_progress.h"

#include <stdio.h>

static int nLastTick = -1;

int CPL_STDCALL BWStderrProgress(double dfComplete, const char *pszMessage, void *pData)
{
    (void)pszMessage;
    (void)pData;
    /* 40 ticks: a number every 10%, a dot every 2.5%, as GDAL prints. */
    const int nTick = (int)(dfComplete * 40.0 + 1e-9);
    /* 0% again restarts a bar that moved on; at its start it draws nothing
     * more (the library asks at 0% for a stop while it lists sources). */
    if (nTick < nLastTick || (dfComplete <= 0.0 && nLastTick != 0))
        nLastTick = -1;
    for (int i = nLastTick + 1; i <= nTick && i <= 40; ++i)
    {
        if (i % 4 == 0)
            fprintf(stderr, "%d", i * 10 / 4);
        else
            fputc('.', stderr);
    }
    if (nTick >= 40 && nLastTick < 40)
        fputs(" - done.\n", stderr);
    nLastTick = nTick;
    fflush(stderr);
    return TRUE;
}
