/*
 * A host program of GDAL as any other: calls GDALAllRegister() (twice, as
 * programs that register again do) and prints the time of the first call in
 * seconds on stdout. Anything GDAL logs goes to stderr, as usual. Used by
 * autotest/test_gdal_cli_plugin.py (the plugin must log nothing) and
 * bench/plugin_load_cost.py (GDALAllRegister() with and without the plugin).
 * Prints: wall seconds, CPU seconds of the process, number of drivers.
 *   cc gdal_allregister_time.c $(gdal-config --cflags) $(gdal-config --libs)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include <cpl_error.h>
#include <gdal.h>

static double Now(clockid_t eClock)
{
    struct timespec ts;
    clock_gettime(eClock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
    const double dfStart = Now(CLOCK_MONOTONIC);
    const double dfStartCPU = Now(CLOCK_PROCESS_CPUTIME_ID);
    GDALAllRegister();
    const double dfElapsed = Now(CLOCK_MONOTONIC) - dfStart;
    const double dfElapsedCPU = Now(CLOCK_PROCESS_CPUTIME_ID) - dfStartCPU;
    GDALAllRegister();
    printf("%.6f %.6f %d\n", dfElapsed, dfElapsedCPU, GDALGetDriverCount());
    const int nErrorType = (int)CPLGetLastErrorType();
    GDALDestroyDriverManager();
    /* An error raised and not reported still counts. */
    return nErrorType == CE_None ? 0 : 1;
}
