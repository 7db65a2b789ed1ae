/*
 * A stand-in worker for the pool tests. It speaks the framed protocol of
 * batchwarp_protocol.h and does no GDAL work. Started as
 *     fake_worker --worker-fd 3
 * it reads INIT and answers READY, then answers each TASK with
 *     RESULT  ID=<task ID>  OK=1  ECHO=<task PAYLOAD>  PID=<its pid>  INIT_TAG=<INIT's TAG>
 *             SENT_MS=<CLOCK_MONOTONIC when sent, ms>  RSS_KB=1024
 *             SECONDS, CPU_SECONDS, RUNQUEUE_SECONDS, WAITED_SECONDS (as a real worker's)
 * unless the task's ACTION field asks it to misbehave:
 *     ok       reply normally (also the default)
 *     sleep    wait MS milliseconds (a task waiting on I/O), then reply
 *     spin     use the CPU for MS milliseconds, then reply
 *     waited   wait MS milliseconds before the task's clock starts, as a real
 *              worker waits for the prefetch of its source (WAITED_SECONDS),
 *              then use the CPU for 20 ms and reply
 *     exit     exit(3) without replying
 *     segv     die of SIGSEGV without replying
 *     hang     never reply
 *     garbage  write bytes that are not a frame, then keep reading
 *     die      reply normally, then die of SIGKILL (killed while idle)
 * QUIT or the end of the channel ends it with status 0. If INIT has
 * EXIT_LOG=<file>, the end of the channel appends the time it was seen (ms,
 * CLOCK_MONOTONIC) to that file; EXIT_DELAY_MS=<n> makes the exit after the
 * end of the channel take that long, as a worker tearing GDAL down does.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_cpu_time.h"
#include "batchwarp_protocol.h"

typedef struct
{
    BWFrameDecoder *psDecoder;
    BWMessage sMsg;
    char *pszInitTag;
    char *pszExitLog;
    int nExitDelayMs;
    double dfTaskStartMs;    /* when the current task came */
    double dfTaskCPUStart;   /* the process's CPU seconds then */
    double dfTaskQueueStart; /* its run-queue seconds then */
    double dfTaskWaitedMs;   /* how long it waited before that (action waited) */
} FakeWorker;

/* Frees everything before exit(), so that LeakSanitizer (in a sanitizer
 * build) has nothing to say and the exit status stays the one we chose. */
static void Cleanup(FakeWorker *psWorker)
{
    BWMessageClear(&psWorker->sMsg);
    BWFrameDecoderFree(psWorker->psDecoder);
    psWorker->psDecoder = NULL;
    CPLFree(psWorker->pszInitTag);
    psWorker->pszInitTag = NULL;
    CPLFree(psWorker->pszExitLog);
    psWorker->pszExitLog = NULL;
}

static double NowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void LogEndOfChannel(const FakeWorker *psWorker)
{
    char szLine[64];
    const int nLen = snprintf(szLine, sizeof(szLine), "%.3f\n", NowMs());
    const int fdLog =
        psWorker->pszExitLog == NULL
            ? -1
            : open(psWorker->pszExitLog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fdLog >= 0)
    {
        if (write(fdLog, szLine, (size_t)nLen) < 0)
            perror("fake_worker: write");
        close(fdLog);
    }
    const struct timespec sDelay = {psWorker->nExitDelayMs / 1000,
                                    (long)(psWorker->nExitDelayMs % 1000) * 1000000L};
    nanosleep(&sDelay, NULL);
}

static int Reply(FakeWorker *psWorker, int fd)
{
    const char *pszId = BWMessageGet(&psWorker->sMsg, "ID");
    const char *pszPayload = BWMessageGet(&psWorker->sMsg, "PAYLOAD");
    char szPid[32];
    snprintf(szPid, sizeof(szPid), "%ld", (long)getpid());

    char **papszReply = NULL;
    papszReply = CSLAddNameValue(papszReply, "ID", pszId ? pszId : "");
    papszReply = CSLAddNameValue(papszReply, "OK", "1");
    papszReply = CSLAddNameValue(papszReply, "ECHO", pszPayload ? pszPayload : "");
    papszReply = CSLAddNameValue(papszReply, "PID", szPid);
    papszReply =
        CSLAddNameValue(papszReply, "INIT_TAG", psWorker->pszInitTag ? psWorker->pszInitTag : "");
    papszReply = CSLAddNameValue(papszReply, "RSS_KB", "1024");
    papszReply = CSLAddNameValue(papszReply, "SENT_MS", CPLSPrintf("%.3f", NowMs()));
    papszReply = CSLAddNameValue(papszReply, "SECONDS",
                                 CPLSPrintf("%.6f", (NowMs() - psWorker->dfTaskStartMs) / 1000));
    papszReply =
        CSLAddNameValue(papszReply, "CPU_SECONDS",
                        CPLSPrintf("%.6f", BWProcessCPUSeconds() - psWorker->dfTaskCPUStart));
    papszReply = CSLAddNameValue(papszReply, "WAITED_SECONDS",
                                 CPLSPrintf("%.6f", psWorker->dfTaskWaitedMs / 1000));
    papszReply =
        CSLAddNameValue(papszReply, "RUNQUEUE_SECONDS",
                        CPLSPrintf("%.6f", BWRunQueueSeconds() - psWorker->dfTaskQueueStart));
    char *pszError = NULL;
    const int bOk = BWMessageWrite(fd, BW_MSG_RESULT, papszReply, &pszError);
    if (!bOk)
        fprintf(stderr, "fake_worker: %s\n", pszError);
    CPLFree(pszError);
    CSLDestroy(papszReply);
    return bOk;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--worker-fd") != 0)
    {
        fprintf(stderr, "usage: fake_worker --worker-fd FD\n");
        return 2;
    }
    const int fd = atoi(argv[2]);
    /* Never outlive the test process, even if it crashes mid-test. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;

    FakeWorker sWorker;
    memset(&sWorker, 0, sizeof(sWorker));
    sWorker.psDecoder = BWFrameDecoderNew();
    int bInitDone = FALSE;
    int nExit = 0;
    for (;;)
    {
        BWMessageClear(&sWorker.sMsg);
        char *pszError = NULL;
        const int nRet = BWMessageRead(fd, sWorker.psDecoder, &sWorker.sMsg, &pszError);
        if (nRet <= 0)
        {
            if (nRet < 0)
            {
                fprintf(stderr, "fake_worker: %s\n", pszError);
                nExit = 1;
            }
            else
                LogEndOfChannel(&sWorker);
            CPLFree(pszError);
            break;
        }
        if (sWorker.sMsg.eType == BW_MSG_INIT && !bInitDone)
        {
            const char *pszTag = BWMessageGet(&sWorker.sMsg, "TAG");
            sWorker.pszInitTag = CPLStrdup(pszTag ? pszTag : "");
            const char *pszExitLog = BWMessageGet(&sWorker.sMsg, "EXIT_LOG");
            sWorker.pszExitLog = pszExitLog ? CPLStrdup(pszExitLog) : NULL;
            const char *pszDelay = BWMessageGet(&sWorker.sMsg, "EXIT_DELAY_MS");
            sWorker.nExitDelayMs = pszDelay ? atoi(pszDelay) : 0;
            bInitDone = TRUE;
            if (!BWMessageWrite(fd, BW_MSG_READY, NULL, &pszError))
            {
                fprintf(stderr, "fake_worker: %s\n", pszError);
                CPLFree(pszError);
                nExit = 1;
                break;
            }
            continue;
        }
        if (sWorker.sMsg.eType == BW_MSG_QUIT)
            break;
        if (sWorker.sMsg.eType != BW_MSG_TASK || !bInitDone)
        {
            fprintf(stderr, "fake_worker: unexpected message type %d\n", (int)sWorker.sMsg.eType);
            nExit = 1;
            break;
        }

        const char *pszAction = BWMessageGet(&sWorker.sMsg, "ACTION");
        const char *pszMs = BWMessageGet(&sWorker.sMsg, "MS");
        int nMs = pszMs ? atoi(pszMs) : 0;
        sWorker.dfTaskWaitedMs = 0;
        if (pszAction != NULL && strcmp(pszAction, "waited") == 0)
        {
            const struct timespec sDelay = {nMs / 1000, (long)(nMs % 1000) * 1000000L};
            nanosleep(&sDelay, NULL);
            sWorker.dfTaskWaitedMs = nMs;
            pszAction = "spin";
            nMs = 20;
        }
        sWorker.dfTaskStartMs = NowMs();
        sWorker.dfTaskCPUStart = BWProcessCPUSeconds();
        sWorker.dfTaskQueueStart = BWRunQueueSeconds();
        if (pszAction != NULL && strcmp(pszAction, "sleep") == 0)
        {
            const struct timespec sDelay = {nMs / 1000, (long)(nMs % 1000) * 1000000L};
            nanosleep(&sDelay, NULL);
            pszAction = "ok";
        }
        else if (pszAction != NULL && strcmp(pszAction, "spin") == 0)
        {
            struct timespec ts;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            const double dfEnd = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + nMs / 1000.0;
            do
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            while ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 < dfEnd);
            pszAction = "ok";
        }
        if (pszAction != NULL && strcmp(pszAction, "die") == 0)
        {
            if (Reply(&sWorker, fd))
                raise(SIGKILL);
            nExit = 1;
            break;
        }
        if (pszAction == NULL || strcmp(pszAction, "ok") == 0)
        {
            if (!Reply(&sWorker, fd))
            {
                nExit = 1;
                break;
            }
        }
        else if (strcmp(pszAction, "exit") == 0)
        {
            Cleanup(&sWorker);
            exit(3);
        }
        else if (strcmp(pszAction, "segv") == 0)
        {
            /* A sanitizer runtime catches SIGSEGV and exits instead; the
             * default action is what a crashing driver gives. */
            signal(SIGSEGV, SIG_DFL);
            raise(SIGSEGV);
            abort(); /* not reached */
        }
        else if (strcmp(pszAction, "hang") == 0)
        {
            for (;;)
                pause();
        }
        else if (strcmp(pszAction, "garbage") == 0)
        {
            /* Longer than a frame header, and without the "BW" magic. */
            static const char szGarbage[] = "this is certainly not a frame\n";
            if (write(fd, szGarbage, sizeof(szGarbage) - 1) < 0)
                perror("fake_worker: write");
        }
        else
        {
            fprintf(stderr, "fake_worker: unknown ACTION '%s'\n", pszAction);
            nExit = 1;
            break;
        }
    }
    Cleanup(&sWorker);
    return nExit;
}
