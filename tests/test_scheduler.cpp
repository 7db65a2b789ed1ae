// The scheduler, driven by fake outcomes: order by size, retries on a stack,
// tasks queued again without counting an attempt, tail threads, tasks ahead
// only outside the tail, and the counting of interruptions.
#include <gtest/gtest.h>

#include <vector>

extern "C"
{
#include "batchwarp_scheduler.h"
}

namespace
{

const GIntBig MB = 1024 * 1024;

struct Sched
{
    BWScheduler *psSched;
    explicit Sched(const BWSchedulerOptions &sOptions, const std::vector<GIntBig> &anSizes)
        : psSched(BWSchedulerNew(&sOptions, static_cast<int>(anSizes.size())))
    {
        for (size_t i = 0; i < anSizes.size(); ++i)
            BWSchedulerAdd(psSched, static_cast<int>(i), anSizes[i]);
    }
    ~Sched()
    {
        BWSchedulerFree(psSched);
    }
    Sched(const Sched &) = delete;
    Sched &operator=(const Sched &) = delete;

    // The next task, or -1; its threads in *pnThreads.
    int Next(bool bAhead = false, int *pnThreads = nullptr)
    {
        int iItem = -1;
        int nThreads = 0;
        if (!BWSchedulerNext(psSched, bAhead ? TRUE : FALSE, &iItem, &nThreads))
            return -1;
        if (pnThreads)
            *pnThreads = nThreads;
        return iItem;
    }
    BWVerdict Done(int iItem, BWAttemptEnd eEnd, bool bStopping = false)
    {
        return BWSchedulerDone(psSched, iItem, eEnd, bStopping ? TRUE : FALSE);
    }
};

BWSchedulerOptions Options(int nWorkers, int nRetries = 0, bool bTail = false)
{
    BWSchedulerOptions s;
    s.nRetries = nRetries;
    s.nWorkers = nWorkers;
    s.bTailThreads = bTail ? TRUE : FALSE;
    s.nThreadBudget = nWorkers;
    s.nMaxWorkers = nWorkers;
    return s;
}

TEST(Scheduler, HandsOutLargestFirstTiesInIndexOrder)
{
    Sched o(Options(8), {10 * MB, 500 * MB, 30 * MB, 500 * MB, 0});
    std::vector<int> anOrder;
    for (int i; (i = o.Next()) >= 0;)
        anOrder.push_back(i);
    EXPECT_EQ(anOrder, (std::vector<int>{1, 3, 2, 0, 4}));
    EXPECT_EQ(BWSchedulerRunning(o.psSched), 5);
}

TEST(Scheduler, RetriesAFailedTaskFirstUntilItsRetriesAreUsed)
{
    Sched o(Options(1, 2), {3 * MB, 2 * MB, 1 * MB});
    ASSERT_EQ(o.Next(), 0);
    EXPECT_EQ(o.Done(0, BW_ATTEMPT_FAILED), BW_VERDICT_RETRY);
    ASSERT_EQ(o.Next(), 0) << "a retry goes before new tasks";
    EXPECT_EQ(BWSchedulerAttempts(o.psSched, 0), 2);
    EXPECT_EQ(o.Done(0, BW_ATTEMPT_LOST), BW_VERDICT_RETRY);
    ASSERT_EQ(o.Next(), 0);
    EXPECT_EQ(o.Done(0, BW_ATTEMPT_FAILED), BW_VERDICT_REPORT) << "retries used up";
    EXPECT_EQ(BWSchedulerAttempts(o.psSched, 0), 3);
    ASSERT_EQ(o.Next(), 1);
    EXPECT_EQ(o.Done(1, BW_ATTEMPT_OK), BW_VERDICT_REPORT);
    EXPECT_EQ(BWSchedulerAttempts(o.psSched, 1), 1);
    ASSERT_EQ(o.Next(), 2);
    EXPECT_EQ(o.Done(2, BW_ATTEMPT_FAILED), BW_VERDICT_RETRY);
    ASSERT_EQ(o.Next(), 2);
    EXPECT_EQ(o.Done(2, BW_ATTEMPT_OK), BW_VERDICT_REPORT);
    EXPECT_EQ(o.Next(), -1);
    EXPECT_EQ(BWSchedulerRunning(o.psSched), 0);
    EXPECT_EQ(BWSchedulerStopped(o.psSched), 0);
}

TEST(Scheduler, WithoutRetriesAFailureIsReported)
{
    Sched o(Options(2), {MB});
    ASSERT_EQ(o.Next(), 0);
    EXPECT_EQ(o.Done(0, BW_ATTEMPT_LOST), BW_VERDICT_REPORT);
    EXPECT_EQ(o.Next(), -1);
}

// A queued task whose worker was lost before it started runs again, and the
// attempt it never made is not counted: with no retries it still runs.
TEST(Scheduler, ATaskThatNeverStartedIsQueuedAgainWithoutAnAttempt)
{
    Sched o(Options(1), {3 * MB, 2 * MB, MB});
    ASSERT_EQ(o.Next(), 0);
    ASSERT_EQ(o.Next(true), 1);
    EXPECT_EQ(o.Done(0, BW_ATTEMPT_LOST), BW_VERDICT_REPORT);
    EXPECT_EQ(o.Done(1, BW_ATTEMPT_NOT_STARTED), BW_VERDICT_REQUEUED);
    EXPECT_EQ(BWSchedulerAttempts(o.psSched, 1), 0);
    ASSERT_EQ(o.Next(), 1);
    EXPECT_EQ(BWSchedulerAttempts(o.psSched, 1), 1);
    EXPECT_EQ(o.Done(1, BW_ATTEMPT_OK), BW_VERDICT_REPORT);
    ASSERT_EQ(o.Next(), 2);
}

// Once the batch stops, interrupted and lost attempts and tasks that never
// started are counted as stopped (not reported, so a rerun does them); a
// reply still counts, without a retry.
TEST(Scheduler, CountsInterruptionsAndRetriesNothingOnceStopping)
{
    Sched o(Options(2, 3), {5 * MB, 4 * MB, 3 * MB, 2 * MB, MB});
    ASSERT_EQ(o.Next(), 0);
    ASSERT_EQ(o.Next(), 1);
    ASSERT_EQ(o.Next(true), 2);
    EXPECT_EQ(o.Done(0, BW_ATTEMPT_INTERRUPTED, true), BW_VERDICT_STOPPED);
    EXPECT_EQ(o.Done(1, BW_ATTEMPT_LOST, true), BW_VERDICT_STOPPED);
    EXPECT_EQ(o.Done(2, BW_ATTEMPT_NOT_STARTED, true), BW_VERDICT_STOPPED);
    ASSERT_EQ(o.Next(), 3);
    ASSERT_EQ(o.Next(), 4);
    EXPECT_EQ(o.Done(3, BW_ATTEMPT_FAILED, true), BW_VERDICT_REPORT);
    EXPECT_EQ(o.Done(4, BW_ATTEMPT_OK, true), BW_VERDICT_REPORT);
    EXPECT_EQ(BWSchedulerStopped(o.psSched), 3);
    EXPECT_EQ(o.Next(), -1);
    EXPECT_EQ(BWSchedulerRunning(o.psSched), 0);
}

// With tail threads, each task runs single-threaded while there is one for
// every idle worker; the last one gets the cores the finished ones freed.
TEST(Scheduler, TheLastTaskGetsTheFreeCores)
{
    Sched o(Options(4, 0, true), {MB, MB, MB, MB, MB});
    for (int i = 0; i < 4; ++i)
    {
        int nThreads = 0;
        ASSERT_EQ(o.Next(false, &nThreads), i);
        EXPECT_EQ(nThreads, 1) << i;
    }
    EXPECT_EQ(o.Next(), -1) << "every thread of the budget is busy";
    for (int i = 0; i < 3; ++i)
        o.Done(i, BW_ATTEMPT_OK);
    int nThreads = 0;
    ASSERT_EQ(o.Next(false, &nThreads), 4);
    EXPECT_EQ(nThreads, 3);
    EXPECT_EQ(BWSchedulerThreads(o.psSched, 4), 3);
}

// With workers beyond -j (tasks waiting on I/O), tasks beyond the thread
// budget run on one thread each instead of waiting for a free core.
TEST(Scheduler, TasksBeyondTheCoresRunOnOneThreadEach)
{
    BWSchedulerOptions s = Options(2, 0, true);
    s.nMaxWorkers = 16;
    Sched o(s, {MB, MB, MB, MB, MB});
    for (int i = 0; i < 5; ++i)
    {
        int nThreads = 0;
        ASSERT_EQ(o.Next(false, &nThreads), i);
        EXPECT_EQ(nThreads, 1) << i;
    }
}

// A task larger than all the others together starts alone with every thread;
// the rest waits for it.
TEST(Scheduler, ADominantTaskStartsAloneWithEveryThread)
{
    Sched o(Options(2, 0, true), {1000 * MB, MB, MB});
    int nThreads = 0;
    ASSERT_EQ(o.Next(false, &nThreads), 0);
    EXPECT_EQ(nThreads, 2);
    EXPECT_EQ(o.Next(), -1);
    o.Done(0, BW_ATTEMPT_OK);
    ASSERT_EQ(o.Next(false, &nThreads), 1);
    EXPECT_EQ(nThreads, 1);
}

TEST(Scheduler, WithoutTailThreadsEveryTaskGetsOneThread)
{
    Sched o(Options(2), {MB, MB, MB});
    for (int i = 0; i < 3; ++i)
    {
        int nThreads = 0;
        ASSERT_EQ(o.Next(false, &nThreads), i);
        EXPECT_EQ(nThreads, 1);
    }
}

// A task is queued ahead only while more tasks wait than there are workers:
// in the tail it could wait behind a running task while a worker is idle.
TEST(Scheduler, QueuesTasksAheadOnlyOutsideTheTail)
{
    Sched o(Options(2, 0, true), {MB, MB, MB, MB, MB});
    ASSERT_EQ(o.Next(), 0);
    ASSERT_EQ(o.Next(), 1);
    int nThreads = 0;
    ASSERT_EQ(o.Next(true, &nThreads), 2) << "3 tasks wait for 2 workers";
    EXPECT_EQ(nThreads, 1);
    EXPECT_EQ(o.Next(true), -1) << "2 tasks wait for 2 workers: the tail";
    // Task 0 ends on the worker that holds task 2, which starts.
    BWSchedulerStarted(o.psSched, 2);
    o.Done(0, BW_ATTEMPT_OK);
    EXPECT_EQ(o.Next(true), -1);
    // Task 1 ends: its worker is idle, and a thread is free for it.
    o.Done(1, BW_ATTEMPT_OK);
    ASSERT_EQ(o.Next(false, &nThreads), 3);
    EXPECT_EQ(nThreads, 1);
    // The last task: task 2 still holds one thread of the two.
    o.Done(3, BW_ATTEMPT_OK);
    ASSERT_EQ(o.Next(false, &nThreads), 4);
    EXPECT_EQ(nThreads, 1);
}

} // namespace
