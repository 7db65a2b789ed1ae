// Sharding: parsing, the environment of schedulers, and the split itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_string.h>

extern "C"
{
#include "batchwarp_shard.h"
#include "batchwarp_util.h"
}

namespace
{

TEST(ShardParse, AcceptsOnlyIndexBelowCount)
{
    int i = -1, n = -1;
    EXPECT_TRUE(BWShardParse("0/1", &i, &n));
    EXPECT_EQ(i, 0);
    EXPECT_EQ(n, 1);
    EXPECT_TRUE(BWShardParse("6/7", &i, &n));
    for (const char *psz : {"7/7", "-1/3", "1", "1/", "/3", "a/3", "1/0", "1/3x", ""})
        EXPECT_FALSE(BWShardParse(psz, &i, &n)) << psz;
    EXPECT_TRUE(BWShardParse("999999/1000000", &i, &n));
    EXPECT_FALSE(BWShardParse("0/1000001", &i, &n)) << "past BW_MAX_SHARDS";
}

// The one integer parser the shard and environment readers share.
TEST(ParseLong, WholeDecimalWithinBounds)
{
    long n = -7;
    EXPECT_TRUE(BWParseLong("42", 0, 100, &n));
    EXPECT_EQ(n, 42);
    EXPECT_TRUE(BWParseLong("-3", -5, 5, &n));
    EXPECT_EQ(n, -3);
    n = -7;
    for (const char *psz : {"", "x", "4x", "101", "-1", "99999999999999999999999", "0x10"})
    {
        EXPECT_FALSE(BWParseLong(psz, 0, 100, &n)) << psz;
        EXPECT_EQ(n, -7) << "left alone on failure: " << psz;
    }
    EXPECT_FALSE(BWParseLong(nullptr, 0, 100, &n));
}

class Environment : public ::testing::Test
{
  protected:
    void TearDown() override
    {
        for (const char *pszKey :
             {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
              "SLURM_ARRAY_TASK_MAX", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
              "BATCHWARP_SHARD_COUNT"})
            CPLSetConfigOption(pszKey, nullptr);
    }
    int Read(int nCount, int *pnIndex, int *pnCount, std::string *posError = nullptr)
    {
        char *pszError = nullptr;
        const int nRet = BWShardFromEnvironment(nCount, pnIndex, pnCount, &pszError);
        if (posError)
            *posError = pszError ? pszError : "";
        CPLFree(pszError);
        return nRet;
    }
};

TEST_F(Environment, NothingSet)
{
    int i = 0, n = 0;
    EXPECT_EQ(Read(0, &i, &n), 0);
}

TEST_F(Environment, SlurmWithCountOrRange)
{
    int i = 0, n = 0;
    CPLSetConfigOption("SLURM_ARRAY_TASK_ID", "2");
    CPLSetConfigOption("SLURM_ARRAY_TASK_COUNT", "4");
    EXPECT_EQ(Read(0, &i, &n), 1);
    EXPECT_EQ(i, 2);
    EXPECT_EQ(n, 4);
    CPLSetConfigOption("SLURM_ARRAY_TASK_COUNT", nullptr);
    CPLSetConfigOption("SLURM_ARRAY_TASK_ID", "7");
    CPLSetConfigOption("SLURM_ARRAY_TASK_MIN", "5");
    CPLSetConfigOption("SLURM_ARRAY_TASK_MAX", "8");
    EXPECT_EQ(Read(0, &i, &n), 1);
    EXPECT_EQ(i, 2);
    EXPECT_EQ(n, 4);
}

TEST_F(Environment, KubernetesAndAwsNeedACount)
{
    int i = 0, n = 0;
    std::string osError;
    CPLSetConfigOption("JOB_COMPLETION_INDEX", "1");
    EXPECT_EQ(Read(0, &i, &n, &osError), -1);
    EXPECT_NE(osError.find("number of shards"), std::string::npos);
    EXPECT_EQ(Read(3, &i, &n), 1);
    EXPECT_EQ(i, 1);
    EXPECT_EQ(n, 3);
    CPLSetConfigOption("JOB_COMPLETION_INDEX", nullptr);
    CPLSetConfigOption("AWS_BATCH_JOB_ARRAY_INDEX", "4");
    CPLSetConfigOption("BATCHWARP_SHARD_COUNT", "5");
    EXPECT_EQ(Read(0, &i, &n), 1);
    EXPECT_EQ(i, 4);
    EXPECT_EQ(n, 5);
    CPLSetConfigOption("AWS_BATCH_JOB_ARRAY_INDEX", "5");
    EXPECT_EQ(Read(0, &i, &n), -1);
}

// A plan of items with the given sizes; outputs are unique names.
struct PlanHolder
{
    BWPlan sPlan;
    explicit PlanHolder(const std::vector<GIntBig> &anSizes)
    {
        memset(&sPlan, 0, sizeof(sPlan));
        sPlan.nItems = static_cast<int>(anSizes.size());
        sPlan.pasItems = static_cast<BWPlanItem *>(CPLCalloc(anSizes.size(), sizeof(BWPlanItem)));
        for (size_t k = 0; k < anSizes.size(); ++k)
        {
            sPlan.pasItems[k].pszSource = CPLStrdup(CPLSPrintf("/in/f%03d.tif", (int)k));
            sPlan.pasItems[k].pszOutput = CPLStrdup(CPLSPrintf("/out/f%03d.tif", (int)k));
            sPlan.pasItems[k].pszTemp = CPLStrdup("/out/tmp");
            sPlan.pasItems[k].nSize = anSizes[k];
        }
    }
    ~PlanHolder()
    {
        BWPlanFree(&sPlan);
    }
};

TEST(ShardAssign, PartitionIsCompleteBalancedAndOrderIndependent)
{
    std::mt19937 oRng(42);
    std::vector<GIntBig> anSizes;
    for (int k = 0; k < 200; ++k)
        anSizes.push_back(static_cast<GIntBig>(oRng() % 50000000));
    for (int nCount : {1, 3, 7})
    {
        PlanHolder oPlan(anSizes);
        int *panShard = BWShardAssign(&oPlan.sPlan, nCount);
        std::vector<GIntBig> anLoad(nCount, 0);
        for (int k = 0; k < oPlan.sPlan.nItems; ++k)
        {
            ASSERT_GE(panShard[k], 0);
            ASSERT_LT(panShard[k], nCount);
            anLoad[panShard[k]] += anSizes[k];
        }
        const GIntBig nMax = *std::max_element(anSizes.begin(), anSizes.end());
        EXPECT_LE(*std::max_element(anLoad.begin(), anLoad.end()) -
                      *std::min_element(anLoad.begin(), anLoad.end()),
                  nMax + 256 * 1024);

        // The same items in another order get the same shards.
        std::vector<int> anPerm(anSizes.size());
        for (size_t k = 0; k < anPerm.size(); ++k)
            anPerm[k] = static_cast<int>(k);
        std::shuffle(anPerm.begin(), anPerm.end(), oRng);
        std::vector<GIntBig> anShuffled;
        for (int k : anPerm)
            anShuffled.push_back(anSizes[k]);
        PlanHolder oShuffled(anShuffled);
        for (size_t k = 0; k < anPerm.size(); ++k)
        {
            CPLFree(oShuffled.sPlan.pasItems[k].pszOutput);
            oShuffled.sPlan.pasItems[k].pszOutput =
                CPLStrdup(oPlan.sPlan.pasItems[anPerm[k]].pszOutput);
        }
        int *panShuffled = BWShardAssign(&oShuffled.sPlan, nCount);
        for (size_t k = 0; k < anPerm.size(); ++k)
            EXPECT_EQ(panShuffled[k], panShard[anPerm[k]]);
        CPLFree(panShuffled);
        CPLFree(panShard);
    }
}

// Every list an item owns is freed with the items a shard leaves out (the
// -overwrite network output's earlier files were not: LSan in the ASan build).
TEST(ShardFilter, KeepsOnlyItsItems)
{
    std::vector<GIntBig> anSizes(20, 1000);
    std::set<std::string> aoAll;
    size_t nTotal = 0;
    for (int nIndex = 0; nIndex < 3; ++nIndex)
    {
        PlanHolder oPlan(anSizes);
        for (int k = 0; k < oPlan.sPlan.nItems; ++k)
        {
            oPlan.sPlan.pasItems[k].papszSiblings = CSLAddString(nullptr, "f.tif.ovr");
            oPlan.sPlan.pasItems[k].papszOldSiblings = CSLAddString(nullptr, "f.tif.aux.xml");
        }
        BWShardFilter(&oPlan.sPlan, nIndex, 3);
        nTotal += static_cast<size_t>(oPlan.sPlan.nItems);
        for (int k = 0; k < oPlan.sPlan.nItems; ++k)
            aoAll.insert(oPlan.sPlan.pasItems[k].pszOutput);
    }
    EXPECT_EQ(nTotal, anSizes.size());
    EXPECT_EQ(aoAll.size(), anSizes.size());
}

} // namespace
