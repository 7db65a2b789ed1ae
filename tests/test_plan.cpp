// The plan: output and temporary names, collisions refused before any work,
// existing outputs kept (temporary directories: test_temp.cpp).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_options.h"
#include "batchwarp_plan.h"
}

namespace
{

void MakeRaster(const std::string &osPath)
{
    GDALDatasetH hDS =
        GDALCreate(GDALGetDriverByName("GTiff"), osPath.c_str(), 4, 4, 1, GDT_Byte, nullptr);
    ASSERT_NE(hDS, nullptr);
    GDALClose(hDS);
}

// Options parsed as on the command line; nullptr and *posError on failure.
GDALBatchWarpOptions *Options(const std::vector<std::string> &aosArgs,
                              std::string *posError = nullptr)
{
    char **papsz = bwtest::ToCSL(aosArgs);
    bwtest::ErrorCollector oErrors;
    GDALBatchWarpOptions *ps = GDALBatchWarpOptionsNew(papsz, nullptr);
    CSLDestroy(papsz);
    if (posError)
        *posError = oErrors.all();
    return ps;
}

struct Plan
{
    BWPlan sPlan;
    bool bOk = false;
    std::string osError;
    explicit Plan(const GDALBatchWarpOptions *psOptions)
    {
        char *pszError = nullptr;
        bOk = BWPlanBuild(psOptions, &sPlan, &pszError) != 0;
        osError = bwtest::TakeString(pszError);
    }
    ~Plan()
    {
        BWPlanFree(&sPlan);
    }
};

class PlanTest : public ::testing::Test
{
  protected:
    bwtest::TempDir oDir;
    void SetUp() override
    {
        ASSERT_TRUE(oDir.ok());
        for (const char *psz : {"a", "b", "out"})
            ASSERT_EQ(VSIMkdir((oDir / psz).c_str(), 0755), 0);
        for (const char *psz : {"a/x.tif", "a/y.tif", "b/x.tif", "b/z.tif"})
            MakeRaster(oDir / psz);
    }
};

TEST_F(PlanTest, NamesOutputsAndKeepsExistingOnes)
{
    std::ofstream(oDir / "out/y_s.tif") << "already done";
    GDALBatchWarpOptions *ps =
        Options({"-t_srs", "EPSG:3857", "-suffix", "_s", oDir / "a", "-outdir", oDir / "out"});
    ASSERT_NE(ps, nullptr);
    {
        Plan oPlan(ps);
        ASSERT_TRUE(oPlan.bOk) << oPlan.osError;
        ASSERT_EQ(oPlan.sPlan.nItems, 2);
        EXPECT_EQ(std::string(oPlan.sPlan.pasItems[0].pszOutput), oDir / "out/x_s.tif");
        EXPECT_FALSE(oPlan.sPlan.pasItems[0].bSkip);
        EXPECT_TRUE(oPlan.sPlan.pasItems[1].bSkip);
        EXPECT_GT(oPlan.sPlan.pasItems[0].nSize, 0);
    }
    GDALBatchWarpOptionsFree(ps);
}

TEST_F(PlanTest, RefusesTwoSourcesForOneOutput)
{
    GDALBatchWarpOptions *ps = Options({oDir / "a", oDir / "b", "-outdir", oDir / "out"});
    ASSERT_NE(ps, nullptr);
    {
        Plan oPlan(ps);
        EXPECT_FALSE(oPlan.bOk);
        EXPECT_NE(oPlan.osError.find(oDir / "a/x.tif"), std::string::npos) << oPlan.osError;
        EXPECT_NE(oPlan.osError.find(oDir / "b/x.tif"), std::string::npos) << oPlan.osError;
    }
    GDALBatchWarpOptionsFree(ps);
}

TEST_F(PlanTest, RefusesAnOutputOverItsOwnSource)
{
    GDALBatchWarpOptions *ps = Options({oDir / "a/x.tif", "-outdir", oDir / "a"});
    ASSERT_NE(ps, nullptr);
    {
        Plan oPlan(ps);
        EXPECT_FALSE(oPlan.bOk);
        EXPECT_NE(oPlan.osError.find("would overwrite its own source"), std::string::npos)
            << oPlan.osError;
    }
    GDALBatchWarpOptionsFree(ps);
}

TEST_F(PlanTest, RefusesTheSourceDirectoryAsOutputDirectory)
{
    GDALBatchWarpOptions *ps = Options({"-suffix", "_w", oDir / "a", "-outdir", oDir / "a/"});
    ASSERT_NE(ps, nullptr);
    {
        Plan oPlan(ps);
        EXPECT_FALSE(oPlan.bOk);
        EXPECT_NE(oPlan.osError.find("is the source directory"), std::string::npos)
            << oPlan.osError;
    }
    GDALBatchWarpOptionsFree(ps);
}

// -retry_failed: each source's output is where the report put it when that
// lies in -outdir and is a name this run's plan gives it (a -recursive run's
// subdirectories), else named as usual.
// Thousands of sources, so that every lookup by source is checked.
TEST_F(PlanTest, RetryFailedPutsEachOutputWhereTheReportSays)
{
    const std::string osReport = oDir / "report.jsonl";
    const int nMissing = 3000;
    {
        std::ofstream oOut(osReport);
        auto Line = [&](const std::string &osSrc, const std::string &osOut, bool bOk)
        {
            oOut << "{\"source\":\"" << osSrc << "\",\"output\":\"" << osOut
                 << "\",\"ok\":" << (bOk ? "true" : "false") << ",\"error\":null}\n";
        };
        Line(oDir / "a/sub/x.tif", oDir / "out/sub/x.tif", false);
        Line(oDir / "a/w.tif", oDir / "out/sub/w.tif", false);
        Line(oDir / "a/y.tif", oDir / "elsewhere/y.tif", false);
        Line(oDir / "b/z.tif", oDir / "out/z.tif", true);
        for (int i = 0; i < nMissing; ++i)
        {
            const std::string osName = "m" + std::to_string(i) + ".tif";
            Line(oDir / ("gone/sub/" + osName), oDir / ("out/sub/" + osName), false);
        }
    }
    GDALBatchWarpOptions *ps = Options({"-retry_failed", osReport, "-outdir", oDir / "out"});
    ASSERT_NE(ps, nullptr);
    {
        Plan oPlan(ps);
        ASSERT_TRUE(oPlan.bOk) << oPlan.osError;
        ASSERT_EQ(oPlan.sPlan.nItems, 3 + nMissing);
        std::map<std::string, std::string> oOutputs;
        for (int i = 0; i < oPlan.sPlan.nItems; ++i)
            oOutputs[oPlan.sPlan.pasItems[i].pszSource] = oPlan.sPlan.pasItems[i].pszOutput;
        EXPECT_EQ(oOutputs[oDir / "a/sub/x.tif"], oDir / "out/sub/x.tif");
        EXPECT_EQ(oOutputs[oDir / "a/w.tif"], oDir / "out/w.tif")
            << "a subdirectory the source's {relpath} cannot be: named as usual";
        EXPECT_EQ(oOutputs[oDir / "a/y.tif"], oDir / "out/y.tif") << "outside -outdir: renamed";
        EXPECT_EQ(oOutputs.count(oDir / "b/z.tif"), 0u) << "a source that was ok is not retried";
        for (int i = 0; i < nMissing; ++i)
        {
            const std::string osName = "m" + std::to_string(i) + ".tif";
            EXPECT_EQ(oOutputs[oDir / ("gone/sub/" + osName)], oDir / ("out/sub/" + osName));
        }
    }
    GDALBatchWarpOptionsFree(ps);
}

} // namespace
