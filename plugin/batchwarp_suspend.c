#include "batchwarp_suspend.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "batchwarp_util.h"

/* How often the watch looks at the clock. */
#define BW_SUSPEND_LOOK_SECONDS 0.25
/* A look that comes this much later than due means that no thread of the
 * process ran meanwhile: it was stopped. Under load a runnable thread waits
 * far less for a core. */
#define BW_SUSPENDED_MIN_SECONDS 1.0

static struct
{
    pthread_mutex_t hLife; /* a start or stop at a time: a stop joins */
    pthread_mutex_t hMutex;
    pthread_cond_t hCond;
    pthread_t hThread;
    int nUsers;
    int bRunning;  /* the thread looks */
    double dfLast; /* when a thread of the process last looked */
    double dfLost; /* seconds it did not run */
} sWatch = {.hLife = PTHREAD_MUTEX_INITIALIZER, .hMutex = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t hCondOnce = PTHREAD_ONCE_INIT;

/* The condition's timed waits on the monotonic clock: the wall clock may
 * be set meanwhile. */
static void InitCond(void)
{
    pthread_condattr_t hAttr;
    pthread_condattr_init(&hAttr);
    pthread_condattr_setclock(&hAttr, CLOCK_MONOTONIC);
    pthread_cond_init(&sWatch.hCond, &hAttr);
    pthread_condattr_destroy(&hAttr);
}

/* A look at the clock, under the mutex. Whichever thread looks first after
 * a stop counts it, once: the caller's own look may come before the
 * watch's thread runs again. */
static void Look(void)
{
    const double dfNow = BWMonotonicSeconds();
    const double dfGap = dfNow - sWatch.dfLast;
    if (dfGap >= BW_SUSPEND_LOOK_SECONDS + BW_SUSPENDED_MIN_SECONDS)
        sWatch.dfLost += dfGap - BW_SUSPEND_LOOK_SECONDS;
    sWatch.dfLast = dfNow;
}

static void *WatchThread(void *pData)
{
    (void)pData;
    pthread_mutex_lock(&sWatch.hMutex);
    while (sWatch.bRunning)
    {
        struct timespec sUntil;
        clock_gettime(CLOCK_MONOTONIC, &sUntil);
        sUntil.tv_nsec += (long)(BW_SUSPEND_LOOK_SECONDS * 1e9);
        sUntil.tv_sec += sUntil.tv_nsec / 1000000000L;
        sUntil.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&sWatch.hCond, &sWatch.hMutex, &sUntil);
        Look();
    }
    pthread_mutex_unlock(&sWatch.hMutex);
    return NULL;
}

void BWSuspendWatchStart(void)
{
    pthread_once(&hCondOnce, InitCond);
    pthread_mutex_lock(&sWatch.hLife);
    if (sWatch.nUsers++ == 0)
    {
        pthread_mutex_lock(&sWatch.hMutex);
        sWatch.dfLast = BWMonotonicSeconds();
        sWatch.bRunning = 1;
        pthread_mutex_unlock(&sWatch.hMutex);
        /* Every signal blocked in the thread: SIGINT and SIGTERM must reach
         * the caller's thread, whose waits (poll, a write to a reader that
         * reads nothing) they interrupt. */
        sigset_t sAll, sOld;
        sigfillset(&sAll);
        pthread_sigmask(SIG_SETMASK, &sAll, &sOld);
        const int bStarted = pthread_create(&sWatch.hThread, NULL, WatchThread, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &sOld, NULL);
        /* Without the thread, nothing is watched: a stop counts as the
         * tasks' time, as it did before. */
        pthread_mutex_lock(&sWatch.hMutex);
        sWatch.bRunning = bStarted;
        pthread_mutex_unlock(&sWatch.hMutex);
    }
    pthread_mutex_unlock(&sWatch.hLife);
}

void BWSuspendWatchStop(void)
{
    pthread_mutex_lock(&sWatch.hLife);
    if (--sWatch.nUsers == 0 && sWatch.bRunning)
    {
        pthread_mutex_lock(&sWatch.hMutex);
        sWatch.bRunning = 0;
        pthread_cond_signal(&sWatch.hCond);
        pthread_mutex_unlock(&sWatch.hMutex);
        pthread_join(sWatch.hThread, NULL);
    }
    pthread_mutex_unlock(&sWatch.hLife);
}

double BWSuspendedSeconds(void)
{
    pthread_mutex_lock(&sWatch.hMutex);
    if (sWatch.bRunning)
        Look();
    const double dfLost = sWatch.dfLost;
    pthread_mutex_unlock(&sWatch.hMutex);
    return dfLost;
}
