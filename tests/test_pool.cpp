// The process pool, driven with tests/fake_worker.c: it runs every task once,
// reports workers that exit, crash, hang or break the protocol as failures of
// their task only, recycles workers, stops on request, and leaves no child
// behind. Run under ASan/LSan too, where every allocation must be freed.
#include <gtest/gtest.h>

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_string.h>

extern "C"
{
#include "batchwarp_pool.h"
}

namespace
{

struct Task
{
    std::string osAction = "ok";
    std::string osPayload;
    int nMs = 0; // for "sleep" and "spin"
};

struct Outcome
{
    bool bReplied = false;
    bool bOk = false;
    bool bInterrupted = false;
    bool bNotStarted = false;
    std::string osEcho;
    std::string osInitTag;
    std::string osFailure;
    int nPid = 0;
    int nCount = 0;      // outcomes, not counting those of tasks that never started
    int nNotStarted = 0; // times it was handed back without having started
    double dfSentMs = 0; // when the worker sent its reply (CLOCK_MONOTONIC)
    double dfDoneMs = 0; // when the pool reported it
};

double NowMs()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// The caller's side of the pool: a queue of tasks and what came back.
struct Batch
{
    std::vector<Task> aoTasks;
    size_t nNext = 0;
    std::map<size_t, Outcome> oOutcomes;
    volatile sig_atomic_t bStop = 0;
    size_t nStopAfter = 0;          // request a stop after this many outcomes (0: never)
    bool bQueueAhead = false;       // accept tasks queued behind a running one
    std::vector<size_t> anRequeued; // tasks that never started, to hand out again

    static int Next(void *pUser, int bAhead, void **ppCookie, char ***ppapszFields)
    {
        auto *poBatch = static_cast<Batch *>(pUser);
        if (bAhead && !poBatch->bQueueAhead)
            return FALSE;
        size_t i;
        if (!poBatch->anRequeued.empty())
        {
            i = poBatch->anRequeued.back();
            poBatch->anRequeued.pop_back();
        }
        else if (poBatch->nNext < poBatch->aoTasks.size())
            i = poBatch->nNext++;
        else
            return FALSE;
        char **papsz = nullptr;
        papsz = CSLAddNameValue(papsz, "ID", CPLSPrintf("%d", static_cast<int>(i)));
        papsz = CSLAddNameValue(papsz, "ACTION", poBatch->aoTasks[i].osAction.c_str());
        papsz = CSLAddNameValue(papsz, "PAYLOAD", poBatch->aoTasks[i].osPayload.c_str());
        if (poBatch->aoTasks[i].nMs > 0)
            papsz = CSLAddNameValue(papsz, "MS", CPLSPrintf("%d", poBatch->aoTasks[i].nMs));
        *ppapszFields = papsz;
        *ppCookie = reinterpret_cast<void *>(i);
        return TRUE;
    }

    static void Done(void *pUser, void *pCookie, const BWTaskOutcome *psOutcome)
    {
        auto *poBatch = static_cast<Batch *>(pUser);
        const size_t iTask = reinterpret_cast<size_t>(pCookie);
        Outcome &o = poBatch->oOutcomes[iTask];
        if (psOutcome->bNotStarted && !psOutcome->bInterrupted)
        {
            // Not an attempt: it runs again, as the scheduler does it.
            o.nNotStarted++;
            poBatch->anRequeued.push_back(iTask);
            return;
        }
        o.nCount++;
        o.dfDoneMs = NowMs();
        o.nPid = psOutcome->nWorkerPid;
        o.bInterrupted = psOutcome->bInterrupted != 0;
        o.bNotStarted = psOutcome->bNotStarted != 0;
        if (psOutcome->psReply != nullptr)
        {
            o.bReplied = true;
            const char *pszOk = BWMessageGet(psOutcome->psReply, "OK");
            o.bOk = pszOk && strcmp(pszOk, "1") == 0;
            const char *pszEcho = BWMessageGet(psOutcome->psReply, "ECHO");
            o.osEcho = pszEcho ? pszEcho : "";
            const char *pszSent = BWMessageGet(psOutcome->psReply, "SENT_MS");
            o.dfSentMs = pszSent ? CPLAtof(pszSent) : 0;
            const char *pszTag = BWMessageGet(psOutcome->psReply, "INIT_TAG");
            o.osInitTag = pszTag ? pszTag : "";
        }
        else
            o.osFailure = psOutcome->pszFailure ? psOutcome->pszFailure : "";
        if (poBatch->nStopAfter > 0 && poBatch->oOutcomes.size() >= poBatch->nStopAfter)
            poBatch->bStop = 1;
    }

    static void StartFailed(void *pUser, void *pCookie, const char *pszError)
    {
        auto *poBatch = static_cast<Batch *>(pUser);
        Outcome &o = poBatch->oOutcomes[reinterpret_cast<size_t>(pCookie)];
        o.nCount++;
        o.osFailure = pszError ? pszError : "";
        o.bNotStarted = true;
    }
};

class PoolTest : public ::testing::Test
{
  protected:
    BWPoolOptions sOptions;
    char **papszInit = nullptr;

    void SetUp() override
    {
        memset(&sOptions, 0, sizeof(sOptions));
        sOptions.pszWorkerPath = BW_FAKE_WORKER_PATH;
        sOptions.nWorkers = 3;
        papszInit = CSLAddNameValue(nullptr, "TAG", "init-42");
        sOptions.papszInitFields = papszInit;
    }
    void TearDown() override
    {
        CSLDestroy(papszInit);
        // No child may outlive the pool: not a zombie, not a running worker.
        EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
        EXPECT_EQ(errno, ECHILD);
    }

    // One worker to start with, growing to 4 while tasks wait.
    void UseConcurrency(BWConcurrency *psConc)
    {
        BWConcurrencyInit(psConc, 1, 4);
        sOptions.nWorkers = 1;
        sOptions.psConcurrency = psConc;
    }

    bool Run(Batch &oBatch, std::string *posError = nullptr)
    {
        char *pszError = nullptr;
        if (sOptions.pfnNext == nullptr)
            sOptions.pfnNext = Batch::Next;
        sOptions.pfnDone = Batch::Done;
        sOptions.pfnStartFailed = Batch::StartFailed;
        sOptions.pUser = &oBatch;
        const int bOk = BWPoolRun(&sOptions, &pszError);
        if (posError)
            *posError = pszError ? pszError : "";
        CPLFree(pszError);
        return bOk != 0;
    }

    static Batch Plain(size_t nTasks)
    {
        Batch oBatch;
        for (size_t i = 0; i < nTasks; ++i)
            oBatch.aoTasks.push_back({"ok", "payload-" + std::to_string(i)});
        return oBatch;
    }
};

TEST_F(PoolTest, RunsEveryTaskExactlyOnce)
{
    Batch oBatch = Plain(50);
    ASSERT_TRUE(Run(oBatch));
    ASSERT_EQ(oBatch.oOutcomes.size(), 50u);
    std::set<int> aoPids;
    for (size_t i = 0; i < 50; ++i)
    {
        const Outcome &o = oBatch.oOutcomes[i];
        EXPECT_EQ(o.nCount, 1) << i;
        EXPECT_TRUE(o.bReplied && o.bOk) << i << ": " << o.osFailure;
        EXPECT_EQ(o.osEcho, "payload-" + std::to_string(i));
        EXPECT_EQ(o.osInitTag, "init-42") << "INIT must reach every worker";
        aoPids.insert(o.nPid);
    }
    EXPECT_LE(aoPids.size(), 3u);
    EXPECT_GE(aoPids.size(), 1u);
}

// At the end of a batch every idle worker is let go before any is waited
// for, so that their exits (GDAL's teardown) overlap. Each fake worker takes
// 500 ms to exit once its channel closes: one after the other, the last of
// four would see its channel close 1.5 s after the first.
// With a concurrency controller, tasks that wait (sleep) make the pool run
// more workers than nWorkers, up to its ceiling; tasks that use the CPU
// keep nWorkers; and once waiting tasks turn CPU-bound, the extra workers
// are let go.
// The workers that ran a batch's tasks, each of which succeeded.
static std::set<int> PidsOfSuccesses(const Batch &oBatch)
{
    std::set<int> aoPids;
    for (const auto &oEntry : oBatch.oOutcomes)
    {
        EXPECT_TRUE(oEntry.second.bOk);
        aoPids.insert(oEntry.second.nPid);
    }
    return aoPids;
}

TEST_F(PoolTest, WaitingTasksGrowThePoolWithinItsCeiling)
{
    BWConcurrency sConc;
    UseConcurrency(&sConc);
    Batch oBatch;
    for (int i = 0; i < 24; ++i)
        oBatch.aoTasks.push_back({"sleep", "", 100});
    ASSERT_TRUE(Run(oBatch));
    const std::set<int> aoPids = PidsOfSuccesses(oBatch);
    EXPECT_GT(aoPids.size(), 1u);
    EXPECT_LE(aoPids.size(), 4u);
    EXPECT_EQ(sConc.nTarget, 4);
}

// A worker that waited for the prefetch of its task's source before the
// task's clock started (WAITED_SECONDS) was waiting on I/O, however busy the
// task itself then was: such tasks grow the pool too. (On the old code the
// wait was not counted: 20 ms of CPU in 20 ms of wall kept one worker.)
TEST_F(PoolTest, WaitingForAPrefetchGrowsThePool)
{
    BWConcurrency sConc;
    UseConcurrency(&sConc);
    Batch oBatch;
    for (int i = 0; i < 16; ++i)
        oBatch.aoTasks.push_back({"waited", "", 100});
    ASSERT_TRUE(Run(oBatch));
    EXPECT_GT(PidsOfSuccesses(oBatch).size(), 1u);
    EXPECT_GT(sConc.nTarget, 1);
}

TEST_F(PoolTest, CPUBoundTasksKeepNWorkers)
{
    BWConcurrency sConc;
    UseConcurrency(&sConc);
    Batch oBatch;
    for (int i = 0; i < 12; ++i)
        oBatch.aoTasks.push_back({"spin", "", 30});
    ASSERT_TRUE(Run(oBatch));
    EXPECT_EQ(PidsOfSuccesses(oBatch).size(), 1u);
    EXPECT_EQ(sConc.nTarget, 1);
}

TEST_F(PoolTest, ExtraWorkersAreLetGoWhenTasksTurnCPUBound)
{
    BWConcurrency sConc;
    UseConcurrency(&sConc);
    Batch oBatch;
    for (int i = 0; i < 16; ++i)
        oBatch.aoTasks.push_back({"sleep", "", 100});
    for (int i = 0; i < 40; ++i)
        oBatch.aoTasks.push_back({"spin", "", 30});
    ASSERT_TRUE(Run(oBatch));
    ASSERT_EQ(oBatch.oOutcomes.size(), 56u);
    EXPECT_EQ(sConc.nTarget, 1);
    std::set<int> aoFirst, aoLast;
    for (size_t i = 0; i < 16; ++i)
        aoFirst.insert(oBatch.oOutcomes[i].nPid);
    for (size_t i = 51; i < 56; ++i)
        aoLast.insert(oBatch.oOutcomes[i].nPid);
    EXPECT_GT(aoFirst.size(), 1u);
    EXPECT_EQ(aoLast.size(), 1u);
}

TEST_F(PoolTest, LetsEveryIdleWorkerGoBeforeWaitingForAny)
{
    const std::string osLog = "/tmp/batchwarp_pool_exit_" + std::to_string(getpid()) + ".log";
    unlink(osLog.c_str());
    papszInit = CSLAddNameValue(papszInit, "EXIT_LOG", osLog.c_str());
    papszInit = CSLAddNameValue(papszInit, "EXIT_DELAY_MS", "500");
    sOptions.papszInitFields = papszInit;
    sOptions.nWorkers = 4;
    Batch oBatch = Plain(8);
    ASSERT_TRUE(Run(oBatch));

    std::vector<double> adfSeen;
    std::ifstream oLog(osLog);
    for (double dfMs; oLog >> dfMs;)
        adfSeen.push_back(dfMs);
    unlink(osLog.c_str());
    ASSERT_EQ(adfSeen.size(), 4u) << "every worker must see its channel end";
    const auto oMinMax = std::minmax_element(adfSeen.begin(), adfSeen.end());
    EXPECT_LT(*oMinMax.second - *oMinMax.first, 500.0)
        << "a worker was let go only after another had exited";
}

// A retiring worker is reaped without blocking the loop: while one worker
// takes 3 s to exit (GDAL's teardown), another worker's result is read at
// once. The old pool waited for each retiring worker (up to a second).
TEST_F(PoolTest, AnExitingWorkerDoesNotDelayAnotherWorkersResult)
{
    papszInit = CSLAddNameValue(papszInit, "EXIT_DELAY_MS", "3000");
    sOptions.papszInitFields = papszInit;
    sOptions.nWorkers = 2;
    sOptions.nMaxTasksPerWorker = 1; // each worker retires after its task
    sOptions.dfExitGrace = 30;       // not killed before it exits by itself
    Batch oBatch = Plain(2);
    oBatch.aoTasks[1] = {"sleep", "slow", 1000};
    ASSERT_TRUE(Run(oBatch));
    const Outcome &oFast = oBatch.oOutcomes[0];
    const Outcome &oSlow = oBatch.oOutcomes[1];
    ASSERT_TRUE(oFast.bOk && oSlow.bOk) << oFast.osFailure << oSlow.osFailure;
    ASSERT_NE(oFast.nPid, oSlow.nPid);
    ASSERT_LT(oFast.dfDoneMs, oSlow.dfSentMs) << "the first worker must be retiring meanwhile";
    ASSERT_LT(oSlow.dfSentMs, oFast.dfDoneMs + 3000)
        << "the first worker must be retiring meanwhile";
    EXPECT_LT(oSlow.dfDoneMs - oSlow.dfSentMs, 1000.0)
        << "the result waited for the other worker's exit";
}

// A busy worker may hold one queued task. When the worker dies during its
// current task, the queued one was never started: it is handed back as such
// and runs on another worker; every task has exactly one outcome.
TEST_F(PoolTest, AQueuedTaskOfADyingWorkerRunsOnAnotherWorker)
{
    sOptions.nWorkers = 1;
    sOptions.nQueuedPerWorker = 1;
    Batch oBatch = Plain(4);
    oBatch.bQueueAhead = true;
    oBatch.aoTasks[0].osAction = "exit";
    ASSERT_TRUE(Run(oBatch));
    ASSERT_EQ(oBatch.oOutcomes.size(), 4u);
    EXPECT_NE(oBatch.oOutcomes[0].osFailure.find("exited with status 3"), std::string::npos)
        << oBatch.oOutcomes[0].osFailure;
    EXPECT_EQ(oBatch.oOutcomes[1].nNotStarted, 1) << "task 1 was queued behind task 0";
    for (size_t i = 0; i < 4; ++i)
    {
        EXPECT_EQ(oBatch.oOutcomes[i].nCount, 1) << i;
        if (i > 0)
        {
            EXPECT_TRUE(oBatch.oOutcomes[i].bOk) << i << ": " << oBatch.oOutcomes[i].osFailure;
        }
    }
    EXPECT_NE(oBatch.oOutcomes[1].nPid, oBatch.oOutcomes[0].nPid);
}

// A queued task starts when the worker replies to the one before it: its
// timeout counts from then, not from when it was sent.
TEST_F(PoolTest, AQueuedTasksTimeoutStartsWhenItStarts)
{
    sOptions.nWorkers = 1;
    sOptions.nQueuedPerWorker = 1;
    sOptions.dfTaskTimeout = 3;
    Batch oBatch;
    oBatch.bQueueAhead = true;
    oBatch.aoTasks = {{"sleep", "a", 2000}, {"sleep", "b", 2000}};
    ASSERT_TRUE(Run(oBatch));
    for (size_t i = 0; i < 2; ++i)
    {
        EXPECT_TRUE(oBatch.oOutcomes[i].bOk) << i << ": " << oBatch.oOutcomes[i].osFailure;
        EXPECT_EQ(oBatch.oOutcomes[i].nNotStarted, 0);
    }
    EXPECT_EQ(oBatch.oOutcomes[0].nPid, oBatch.oOutcomes[1].nPid) << "the second task was queued";
}

// A stop kills busy workers: their running tasks and the tasks queued
// behind them are reported interrupted (the queued ones as not started),
// each exactly once, and nothing more is handed out.
TEST_F(PoolTest, AStopReportsQueuedTasksInterruptedOnce)
{
    sOptions.nWorkers = 2;
    sOptions.nQueuedPerWorker = 1;
    Batch oBatch = Plain(20);
    oBatch.bQueueAhead = true;
    for (size_t i = 1; i < 20; ++i)
        oBatch.aoTasks[i].osAction = "hang";
    oBatch.nStopAfter = 1;
    sOptions.pbStopRequested = &oBatch.bStop;
    ASSERT_TRUE(Run(oBatch));
    EXPECT_EQ(oBatch.nNext, 4u) << "two running, two queued, then the stop";
    ASSERT_EQ(oBatch.oOutcomes.size(), 4u);
    EXPECT_TRUE(oBatch.oOutcomes[0].bOk);
    size_t nQueued = 0;
    for (size_t i = 1; i < 4; ++i)
    {
        const Outcome &o = oBatch.oOutcomes[i];
        EXPECT_EQ(o.nCount, 1) << i;
        EXPECT_TRUE(o.bInterrupted) << i;
        nQueued += o.bNotStarted;
    }
    EXPECT_EQ(nQueued, 1u) << "the task queued behind a hung one never started";
}

// A worker that dies while idle, its death not yet seen by the pool (the
// supervisor stopped or busy meanwhile), gets no task: the task sent to it
// never started and runs on another worker, and the task it finished before
// it died keeps its result. Here task 1 replies, then its worker dies; only
// then is task 2 handed out, queued behind task 1 (whose reply the pool has
// not read yet). The old pool took the failed send for the worker's death
// mid-task: task 1's reply was dropped and task 1 failed as 'worker process
// N killed by signal SIGKILL' (test_worker_killed_while_idle_fails_no_task
// failed so in a few runs under load).
struct DiesBeforeTheNextTask : Batch
{
    static int Next(void *pUser, int bAhead, void **ppCookie, char ***ppapszFields)
    {
        auto *poBatch = static_cast<DiesBeforeTheNextTask *>(pUser);
        if (bAhead && poBatch->oOutcomes.count(0) == 0)
            return FALSE; // nothing ahead of task 0: the worker is ready once task 1 goes
        if (bAhead && poBatch->nNext == 2)
        {
            // Task 1 is running or done: wait, without reaping it, until its
            // worker has replied and died.
            siginfo_t sInfo;
            memset(&sInfo, 0, sizeof(sInfo));
            while (waitid(P_PID, static_cast<id_t>(poBatch->oOutcomes[0].nPid), &sInfo,
                          WEXITED | WNOWAIT) != 0 &&
                   errno == EINTR)
            {
            }
        }
        return Batch::Next(pUser, bAhead, ppCookie, ppapszFields);
    }
};

TEST_F(PoolTest, ATaskSentToAWorkerThatDiedWhileIdleRunsElsewhere)
{
    sOptions.nWorkers = 1;
    sOptions.nQueuedPerWorker = 1;
    sOptions.pfnNext = DiesBeforeTheNextTask::Next;
    DiesBeforeTheNextTask oBatch;
    oBatch.bQueueAhead = true;
    oBatch.aoTasks = {{"ok", "a"}, {"die", "b"}, {"ok", "c"}, {"ok", "d"}};
    ASSERT_TRUE(Run(oBatch));
    ASSERT_EQ(oBatch.oOutcomes.size(), 4u);
    for (size_t i = 0; i < 4; ++i)
    {
        const Outcome &o = oBatch.oOutcomes[i];
        EXPECT_EQ(o.nCount, 1) << i;
        EXPECT_TRUE(o.bReplied && o.bOk) << i << ": " << o.osFailure;
    }
    EXPECT_EQ(oBatch.oOutcomes[1].nPid, oBatch.oOutcomes[0].nPid);
    EXPECT_EQ(oBatch.oOutcomes[2].nNotStarted, 1) << "task 2 was sent to the dead worker";
    EXPECT_NE(oBatch.oOutcomes[2].nPid, oBatch.oOutcomes[1].nPid);
}

// A worker to be replaced (here after a failed task) never runs the task
// queued behind: it is killed and the task runs on another worker.
TEST_F(PoolTest, AWorkerToReplaceDoesNotRunItsQueuedTask)
{
    sOptions.nWorkers = 1;
    sOptions.nQueuedPerWorker = 1;
    sOptions.nMaxResidentKB = 1; // every worker is past it after a task
    Batch oBatch;
    oBatch.bQueueAhead = true;
    oBatch.aoTasks = {{"sleep", "a", 300}, {"ok", "b"}, {"ok", "c"}};
    ASSERT_TRUE(Run(oBatch));
    std::set<int> aoPids;
    for (size_t i = 0; i < 3; ++i)
    {
        EXPECT_TRUE(oBatch.oOutcomes[i].bOk) << i;
        EXPECT_EQ(oBatch.oOutcomes[i].nCount, 1) << i;
        aoPids.insert(oBatch.oOutcomes[i].nPid);
    }
    EXPECT_EQ(aoPids.size(), 3u) << "one task per worker";
}

// A worker that does not exit after its channel ends is killed after the
// grace period rather than waited for (here it would take 30 s).
TEST_F(PoolTest, KillsAWorkerThatTakesTooLongToExit)
{
    papszInit = CSLAddNameValue(papszInit, "EXIT_DELAY_MS", "30000");
    sOptions.papszInitFields = papszInit;
    sOptions.nWorkers = 1;
    Batch oBatch = Plain(1);
    const double dfStart = NowMs();
    ASSERT_TRUE(Run(oBatch));
    EXPECT_TRUE(oBatch.oOutcomes[0].bOk);
    EXPECT_LT(NowMs() - dfStart, (BW_EXIT_GRACE_SECONDS + 10) * 1000.0);
}

TEST_F(PoolTest, RecyclesWorkersAfterTheirQuota)
{
    sOptions.nWorkers = 1;
    sOptions.nMaxTasksPerWorker = 4;
    Batch oBatch = Plain(12);
    ASSERT_TRUE(Run(oBatch));
    std::map<int, int> oTasksPerPid;
    for (auto &kv : oBatch.oOutcomes)
    {
        EXPECT_TRUE(kv.second.bOk);
        oTasksPerPid[kv.second.nPid]++;
    }
    EXPECT_EQ(oTasksPerPid.size(), 3u);
    for (auto &kv : oTasksPerPid)
        EXPECT_EQ(kv.second, 4);
}

TEST_F(PoolTest, SurvivesAWorkerThatExitsEarly)
{
    Batch oBatch = Plain(20);
    oBatch.aoTasks[3].osAction = "exit";
    oBatch.aoTasks[11].osAction = "exit";
    ASSERT_TRUE(Run(oBatch));
    ASSERT_EQ(oBatch.oOutcomes.size(), 20u);
    for (size_t i = 0; i < 20; ++i)
    {
        const Outcome &o = oBatch.oOutcomes[i];
        EXPECT_EQ(o.nCount, 1);
        if (i == 3 || i == 11)
        {
            EXPECT_FALSE(o.bReplied);
            EXPECT_NE(o.osFailure.find("exited with status 3"), std::string::npos) << o.osFailure;
            EXPECT_NE(o.osFailure.find(std::to_string(o.nPid)), std::string::npos);
        }
        else
            EXPECT_TRUE(o.bOk) << i << ": " << o.osFailure;
    }
}

TEST_F(PoolTest, NamesTheSignalOfACrashedWorker)
{
    Batch oBatch = Plain(6);
    oBatch.aoTasks[2].osAction = "segv";
    ASSERT_TRUE(Run(oBatch));
    EXPECT_NE(oBatch.oOutcomes[2].osFailure.find("killed by signal SIGSEGV"), std::string::npos)
        << oBatch.oOutcomes[2].osFailure;
    for (size_t i : {0, 1, 3, 4, 5})
        EXPECT_TRUE(oBatch.oOutcomes[i].bOk);
}

TEST_F(PoolTest, KillsAHungWorkerAtTheTimeout)
{
    /* Generous, so that healthy tasks on a loaded CI machine finish in time. */
    sOptions.dfTaskTimeout = 3;
    Batch oBatch = Plain(5);
    oBatch.aoTasks[1].osAction = "hang";
    ASSERT_TRUE(Run(oBatch));
    EXPECT_EQ(oBatch.oOutcomes[1].osFailure, "timed out after 3 s");
    for (size_t i : {0, 2, 3, 4})
        EXPECT_TRUE(oBatch.oOutcomes[i].bOk) << i << ": " << oBatch.oOutcomes[i].osFailure;
}

TEST_F(PoolTest, ABrokenProtocolFailsOnlyThatTask)
{
    Batch oBatch = Plain(5);
    oBatch.aoTasks[0].osAction = "garbage";
    ASSERT_TRUE(Run(oBatch));
    EXPECT_NE(oBatch.oOutcomes[0].osFailure.find("broke the protocol"), std::string::npos)
        << oBatch.oOutcomes[0].osFailure;
    for (size_t i = 1; i < 5; ++i)
        EXPECT_TRUE(oBatch.oOutcomes[i].bOk);
}

TEST_F(PoolTest, AMissingWorkerExecutableIsAnErrorNotAHang)
{
    sOptions.pszWorkerPath = "/nonexistent/fake_worker";
    Batch oBatch = Plain(4);
    std::string osError;
    EXPECT_FALSE(Run(oBatch, &osError));
    EXPECT_NE(osError.find("cannot start worker /nonexistent/fake_worker"), std::string::npos)
        << osError;
    // The task handed out is accounted for, the others never started.
    ASSERT_EQ(oBatch.oOutcomes.size(), 1u);
    EXPECT_FALSE(oBatch.oOutcomes[0].bReplied);
    EXPECT_TRUE(oBatch.oOutcomes[0].bNotStarted);
}

TEST_F(PoolTest, StopRequestEndsTheBatchAndKillsRunningWorkers)
{
    sOptions.pbStopRequested = nullptr;
    Batch oBatch = Plain(30);
    // Tasks 3.. hang, so something is running when the stop comes.
    for (size_t i = 3; i < 30; ++i)
        oBatch.aoTasks[i].osAction = "hang";
    oBatch.nStopAfter = 3;
    sOptions.pbStopRequested = &oBatch.bStop;
    ASSERT_TRUE(Run(oBatch));
    size_t nInterrupted = 0;
    for (auto &kv : oBatch.oOutcomes)
    {
        EXPECT_EQ(kv.second.nCount, 1);
        if (kv.second.bInterrupted)
            ++nInterrupted;
    }
    EXPECT_GE(nInterrupted, 1u);
    EXPECT_LE(oBatch.nNext, 6u) << "no new task may be handed out after the stop";
}

} // namespace
