/*
 * Whether the caller asked the batch to stop. GDAL has one channel for it:
 * the progress callback returns FALSE (the program's does once SIGINT or
 * SIGTERM came). Every mode asks through one BWStop, so that none calls the
 * callback with a fraction it did not reach: a terminal's bar would draw it.
 */
#ifndef BATCHWARP_STOP_H_INCLUDED
#define BATCHWARP_STOP_H_INCLUDED

#include <signal.h>

#include <cpl_progress.h>

typedef struct
{
    GDALProgressFunc pfnProgress; /* may be NULL: nothing stops the batch */
    void *pProgressData;
    double dfShown;              /* the fraction done last shown (0 at first) */
    volatile sig_atomic_t bStop; /* a stop was heard */
} BWStop;

void BWStopInit(BWStop *psStop, GDALProgressFunc pfnProgress, void *pProgressData);

/* Shows dfComplete (the fraction of the work done) and returns whether a
 * stop has been heard, then or before. */
int BWStopProgress(BWStop *psStop, double dfComplete);

/* Whether a stop has been heard: the callback is asked again with the
 * fraction last shown, which draws nothing new. For the stop checks of
 * listing, report writes and lock waits: takes a BWStop *. */
int BWStopHeard(void *pStop);

#endif
