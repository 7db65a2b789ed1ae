// The split of one memory budget and of the cores between workers and tasks.
#include <gtest/gtest.h>

#include <cstring>

#include <cpl_conv.h>

extern "C"
{
#include "batchwarp_budget.h"
#include "batchwarp_concurrency.h"
#include "batchwarp_util.h"
#include "batchwarp_worker_config.h"
}

namespace
{

constexpr GIntBig MB = 1024 * 1024;

struct OptionsFixture : public ::testing::Test
{
    GDALBatchWarpOptions sOptions;
    void SetUp() override
    {
        memset(&sOptions, 0, sizeof(sOptions));
        sOptions.nWorkers = 2;
        CPLSetConfigOption("GDAL_CACHEMAX", nullptr);
        CPLSetConfigOption("GDAL_NUM_THREADS", nullptr);
    }
};

// Resident memory the budget allows the process tree, as doc/design.md
// states it: as many workers as may run while tasks wait on I/O.
GIntBig TreeBytes(const BWBudget &sBudget)
{
    const GIntBig nWarp = BW_GDALWARP_WARP_MEMORY_BYTES;
    return BW_PROCESS_BASELINE_BYTES +
           sBudget.nMaxWorkers * (BW_PROCESS_BASELINE_BYTES + sBudget.nCachePerWorker + nWarp);
}

TEST_F(OptionsFixture, SplitStaysWithinTheBudget)
{
    for (GIntBig nBudget : {272 * MB, 1024 * MB, 6000 * MB})
    {
        for (int nWorkers : {1, 2, 8, 64})
        {
            sOptions.nWorkers = nWorkers;
            sOptions.nMemoryBudget = nBudget;
            BWBudget sBudget;
            char *pszError = nullptr;
            ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sBudget, &pszError)) << pszError;
            EXPECT_GE(sBudget.nWorkers, 1);
            EXPECT_LE(sBudget.nWorkers, nWorkers);
            EXPECT_GE(sBudget.nMaxWorkers, sBudget.nWorkers);
            EXPECT_LE(sBudget.nMaxWorkers, nWorkers * BW_IO_WORKERS_PER_CORE);
            EXPECT_LE(TreeBytes(sBudget), nBudget) << nBudget / MB << " MB, -j " << nWorkers;
            EXPECT_GE(sBudget.nCachePerWorker, BW_MIN_CACHE_BYTES);
        }
    }
}

TEST_F(OptionsFixture, LowersWorkersToWhatFits)
{
    sOptions.nWorkers = 8;
    sOptions.nMemoryBudget = 300 * MB;
    BWBudget sBudget;
    char *pszError = nullptr;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 100, TRUE, &sBudget, &pszError));
    // (300 - 96) / (96 + 16 + 64) = 1 worker.
    EXPECT_EQ(sBudget.nWorkers, 1);
    sOptions.nMemoryBudget = 800 * MB; // (800 - 96) / 176 = 4
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 100, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nWorkers, 4);
}

// The warp memory decides the warp's chunks, and so the pixels: no budget
// lowers it below gdalwarp's default (it went down to 16 MB, and -j 2 gave
// other pixels than -j 1 under the same budget). Fewer workers run instead,
// each with at least the least cache.
TEST_F(OptionsFixture, WarpMemoryIsNeverLoweredToFit)
{
    for (GIntBig nBudget : {272 * MB, 352 * MB, 500 * MB, 1000 * MB})
    {
        for (int nWorkers : {1, 2, 3, 8})
        {
            sOptions.nWorkers = nWorkers;
            sOptions.nMemoryBudget = nBudget;
            BWBudget sBudget;
            char *pszError = nullptr;
            ASSERT_TRUE(BWBudgetCompute(&sOptions, 100, FALSE, &sBudget, &pszError)) << pszError;
            const GIntBig nShare = (nBudget - BW_PROCESS_BASELINE_BYTES) / sBudget.nMaxWorkers -
                                   BW_PROCESS_BASELINE_BYTES;
            EXPECT_GE(nShare - sBudget.nCachePerWorker, BW_GDALWARP_WARP_MEMORY_BYTES)
                << nBudget / MB << " MB, -j " << nWorkers;
            EXPECT_GE(sBudget.nCachePerWorker, BW_MIN_CACHE_BYTES);
            EXPECT_LE(TreeBytes(sBudget), nBudget);
        }
    }
    // Below one worker with gdalwarp's -wm: refused, not shrunk.
    sOptions.nMemoryBudget = 271 * MB;
    BWBudget sBudget;
    char *pszError = nullptr;
    EXPECT_FALSE(BWBudgetCompute(&sOptions, 10, FALSE, &sBudget, &pszError));
    ASSERT_NE(pszError, nullptr);
    EXPECT_NE(strstr(pszError, "need at least 272 MB"), nullptr) << pszError;
    CPLFree(pszError);
}

TEST_F(OptionsFixture, NoMoreWorkersThanTasks)
{
    sOptions.nWorkers = 8;
    sOptions.nMemoryBudget = 4096 * MB;
    BWBudget sBudget;
    char *pszError = nullptr;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 3, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nWorkers, 3);
}

TEST_F(OptionsFixture, TooSmallIsAnError)
{
    sOptions.nMemoryBudget = 100 * MB;
    BWBudget sBudget;
    char *pszError = nullptr;
    EXPECT_FALSE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    ASSERT_NE(pszError, nullptr);
    EXPECT_NE(strstr(pszError, "too small"), nullptr) << pszError;
    CPLFree(pszError);
}

TEST_F(OptionsFixture, UserWarpMemoryIsKeptAndCounted)
{
    sOptions.nMemoryBudget = 1024 * MB;
    sOptions.nUserWarpMemory = 200 * MB;
    BWBudget sBudget;
    char *pszError = nullptr;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    EXPECT_LE(BW_PROCESS_BASELINE_BYTES +
                  sBudget.nMaxWorkers * (BW_PROCESS_BASELINE_BYTES + sBudget.nCachePerWorker +
                                         sOptions.nUserWarpMemory),
              sOptions.nMemoryBudget);
}

// The largest sizes options give (BW_MAX_SIZE_BYTES) do not overflow the
// budget's sums (fuzz_argv: -wm 9223372036854775000 did, undefined
// behaviour), and a -wm too large for the budget is named as the reason.
TEST_F(OptionsFixture, TheLargestSizesDoNotOverflow)
{
    sOptions.nUserWarpMemory = BW_MAX_SIZE_BYTES;
    sOptions.nMemoryBudget = 4096 * MB;
    BWBudget sBudget;
    char *pszError = nullptr;
    EXPECT_FALSE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    ASSERT_NE(pszError, nullptr);
    EXPECT_NE(strstr(pszError, "with -wm of"), nullptr) << pszError;
    CPLFree(pszError);
    pszError = nullptr;
    sOptions.nMemoryBudget = BW_MAX_SIZE_BYTES;
    sOptions.nUserWarpMemory = BW_MAX_SIZE_BYTES / 4;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError)) << pszError;
    EXPECT_GE(sBudget.nWorkers, 1);
    sOptions.nUserWarpMemory = 0;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError)) << pszError;
    EXPECT_GT(sBudget.nCachePerWorker, 0);
}

TEST_F(OptionsFixture, UserCacheMaxIsTheTotalCache)
{
    CPLSetConfigOption("GDAL_CACHEMAX", "400");
    sOptions.nMemoryBudget = 4096 * MB;
    sOptions.nMaxWorkers = 2; // no workers beyond -j
    BWBudget sBudget;
    char *pszError = nullptr;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nCachePerWorker, 200 * MB);
    CPLSetConfigOption("GDAL_CACHEMAX", nullptr);
}

TEST_F(OptionsFixture, SmallUserCacheMaxIsNeverRaised)
{
    // 1 MB for two workers: each gets half of it, not a floor of ours.
    CPLSetConfigOption("GDAL_CACHEMAX", "1");
    sOptions.nMemoryBudget = 4096 * MB;
    sOptions.nWorkers = 2;
    sOptions.nMaxWorkers = 2; // no workers beyond -j
    BWBudget sBudget;
    char *pszError = nullptr;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nCachePerWorker, MB / 2);
    // Shares below 100000 bytes, which GDAL would read as megabytes, become
    // 100000 bytes: still no more than the user's 1 MB.
    sOptions.nWorkers = 16;
    sOptions.nMaxWorkers = 16;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 100, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nCachePerWorker, 100000);
    // 0 stays 0.
    CPLSetConfigOption("GDAL_CACHEMAX", "0");
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 100, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nCachePerWorker, 0);
    CPLSetConfigOption("GDAL_CACHEMAX", nullptr);
}

TEST_F(OptionsFixture, WorkersBeyondJOnlyWithAFullShareEach)
{
    BWBudget sBudget;
    char *pszError = nullptr;
    // Plenty of memory: 8 per core of -j, no more than the tasks.
    sOptions.nMemoryBudget = 16384 * MB;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nWorkers, 2);
    EXPECT_EQ(sBudget.nMaxWorkers, 2 * BW_IO_WORKERS_PER_CORE);
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 5, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nMaxWorkers, 5);
    // The memory budget caps them: (1000 - 96) / 224 = 4 workers.
    sOptions.nMemoryBudget = 1000 * MB;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nMaxWorkers, 4);
    EXPECT_GE(sBudget.nCachePerWorker + BW_GDALWARP_WARP_MEMORY_BYTES,
              BW_IO_WORKER_MIN_BYTES - BW_PROCESS_BASELINE_BYTES);
    EXPECT_LE(TreeBytes(sBudget), sOptions.nMemoryBudget);
    // A budget that holds only -j workers: none beyond them, and their
    // share is what it was without this feature.
    sOptions.nMemoryBudget = 400 * MB;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nMaxWorkers, sBudget.nWorkers);
    const GIntBig nCacheFloor = sBudget.nCachePerWorker;
    sOptions.nMaxWorkers = 2;
    BWBudget sOff;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sOff, &pszError));
    EXPECT_EQ(sOff.nCachePerWorker, nCacheFloor);
    // -max_workers caps them, and never lowers -j.
    sOptions.nMemoryBudget = 16384 * MB;
    sOptions.nMaxWorkers = 5;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nMaxWorkers, 5);
    sOptions.nMaxWorkers = 1;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sBudget, &pszError));
    EXPECT_EQ(sBudget.nWorkers, 2);
    EXPECT_EQ(sBudget.nMaxWorkers, 2);
}

// A batch of local sources keeps -j workers and each one's whole share, as
// before workers beyond -j existed: its cache is what -max_workers = -j
// gives, not a sixteenth of the budget.
TEST_F(OptionsFixture, LocalSourcesGetNoWorkersBeyondJUnlessAsked)
{
    BWBudget sLocal, sNetwork, sOff;
    char *pszError = nullptr;
    sOptions.nMemoryBudget = 16384 * MB;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, FALSE, &sLocal, &pszError));
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, TRUE, &sNetwork, &pszError));
    sOptions.nMaxWorkers = 2;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, FALSE, &sOff, &pszError));
    EXPECT_EQ(sLocal.nMaxWorkers, 2);
    EXPECT_EQ(sLocal.nCachePerWorker, sOff.nCachePerWorker);
    EXPECT_EQ(sNetwork.nMaxWorkers, 2 * BW_IO_WORKERS_PER_CORE);
    EXPECT_GT(sLocal.nCachePerWorker, sNetwork.nCachePerWorker);
    // Asked for, local sources get them too.
    sOptions.nMaxWorkers = 6;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 1000, FALSE, &sLocal, &pszError));
    EXPECT_EQ(sLocal.nMaxWorkers, 6);
}

TEST_F(OptionsFixture, TailThreadsOnlyWithoutUserThreads)
{
    BWBudget sBudget;
    char *pszError = nullptr;
    char szGTiff[] = "GTiff";
    char szCo[] = "-co";
    char szDeflate[] = "COMPRESS=DEFLATE";
    char *apszArgs[] = {szCo, szDeflate, nullptr};
    sOptions.pszOutputFormat = szGTiff;
    sOptions.papszWarpArgs = apszArgs;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    EXPECT_TRUE(sBudget.bTailThreads);
    sOptions.bUserSetWarpThreads = TRUE;
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    EXPECT_FALSE(sBudget.bTailThreads);
    sOptions.bUserSetWarpThreads = FALSE;
    CPLSetConfigOption("GDAL_NUM_THREADS", "4");
    ASSERT_TRUE(BWBudgetCompute(&sOptions, 10, TRUE, &sBudget, &pszError));
    EXPECT_FALSE(sBudget.bTailThreads);
    CPLSetConfigOption("GDAL_NUM_THREADS", nullptr);
    sOptions.papszWarpArgs = nullptr;
    sOptions.pszOutputFormat = nullptr;
}

TEST(CompressorThreads, OnlyWhereTheBytesStayTheSame)
{
    const char *apszDeflate[] = {"-co", "COMPRESS=DEFLATE", nullptr};
    const char *apszLerc[] = {"-co", "COMPRESS=LERC", nullptr};
    const char *apszUser[] = {"-co", "COMPRESS=ZSTD", "-co", "NUM_THREADS=2", nullptr};
    EXPECT_TRUE(BWCompressorThreadsQualify(apszDeflate, "GTiff"));
    EXPECT_TRUE(BWCompressorThreadsQualify(nullptr, "COG"));    // LZW by default
    EXPECT_FALSE(BWCompressorThreadsQualify(nullptr, "GTiff")); // nothing to compress
    EXPECT_FALSE(BWCompressorThreadsQualify(apszLerc, "GTiff"));
    EXPECT_FALSE(BWCompressorThreadsQualify(apszUser, "GTiff"));
    EXPECT_FALSE(BWCompressorThreadsQualify(apszDeflate, "VRT"));
}

TEST(ThreadsForNextTask, OneThreadWhileEveryIdleWorkerHasATask)
{
    // 4 cores, 4 idle workers, plenty of tasks.
    EXPECT_EQ(BWThreadsForNextTask(4, 0, 4, 100, 1, 100), 1);
    // 3 busy with one thread each, 1 idle, more to come.
    EXPECT_EQ(BWThreadsForNextTask(4, 3, 1, 5, 1, 5), 1);
}

TEST(ThreadsForNextTask, TheTailGetsTheIdleCores)
{
    // A batch of one file on 4 cores.
    EXPECT_EQ(BWThreadsForNextTask(4, 0, 4, 0, 1, 0), 4);
    // Two tasks left, 4 idle cores: two each.
    EXPECT_EQ(BWThreadsForNextTask(4, 0, 4, 1, 1, 1), 2);
    // One worker still busy: the last task takes the other three cores.
    EXPECT_EQ(BWThreadsForNextTask(4, 1, 3, 0, 1, 0), 3);
}

TEST(ThreadsForNextTask, NeverMoreThanTheBudget)
{
    // Simulate any dispatch sequence: busy + new never exceeds the budget.
    for (int nBudget = 1; nBudget <= 8; ++nBudget)
        for (int nBusy = 0; nBusy <= nBudget; ++nBusy)
            for (int nIdle = 1; nIdle <= 8; ++nIdle)
                for (int nPending = 0; nPending <= 10; ++nPending)
                {
                    for (GIntBig nCost : {1, 1000})
                    {
                        const int n =
                            BWThreadsForNextTask(nBudget, nBusy, nIdle, nPending, nCost, 500);
                        if (nBusy >= nBudget)
                            EXPECT_EQ(n, 0);
                        else
                            EXPECT_LE(nBusy + n, nBudget);
                        EXPECT_GE(n, 0);
                    }
                }
}

TEST(ThreadsForNextTask, ATaskLargerThanAllTheRestStartsWithEveryFreeCore)
{
    // 4 idle cores, 50 small tasks behind a task larger than all of them.
    EXPECT_EQ(BWThreadsForNextTask(4, 0, 4, 50, 1000, 999), 4);
    // Not larger than the rest: one thread, the others take the rest.
    EXPECT_EQ(BWThreadsForNextTask(4, 0, 4, 50, 1000, 1001), 1);
    // Only the free cores.
    EXPECT_EQ(BWThreadsForNextTask(4, 1, 3, 50, 1000, 10), 3);
}

} // namespace
