// Memory safety of the command line: every ordered pair of batch options,
// and each batch option before and after a spread of gdalwarp options, goes
// through the options parser, -dry_run's planning (no workers) and option
// freeing. The checks here are few; the ASan/UBSan build of this test
// (scripts/test) is what finds a value freed and still used, a leak or an
// overflow, as -output_template T -retry_failed R once did.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <gdal.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_budget.h"
#include "batchwarp_options.h"
#include "batchwarp_plan.h"
}

namespace
{

using Words = std::vector<std::string>;

// The files the options name: two sources, a list of them, a report with a
// failed source, a report to merge.
class SweepFixture : public ::testing::Test
{
  protected:
    bwtest::TempDir oDir;

    void SetUp() override
    {
        ASSERT_TRUE(oDir.ok());
        GDALAllRegister();
        ASSERT_EQ(VSIMkdir((oDir / "src").c_str(), 0755), 0);
        for (const char *pszName : {"a.tif", "b.tif"})
        {
            GDALDatasetH hDS =
                GDALCreate(GDALGetDriverByName("GTiff"), (oDir / "src/" + pszName).c_str(), 4, 4, 1,
                           GDT_Byte, nullptr);
            ASSERT_NE(hDS, nullptr);
            double adfGT[6] = {0, 1, 0, 4, 0, -1};
            GDALSetGeoTransform(hDS, adfGT);
            GDALSetProjection(hDS, "EPSG:4326");
            GDALClose(hDS);
        }
        std::ofstream(oDir / "list.txt") << oDir / "src/a.tif"
                                         << "\n"
                                         << oDir / "src/b.tif"
                                         << "\n";
        std::ofstream(oDir / "failed.jsonl") << "{\"source\": \"" << oDir / "src/a.tif"
                                             << "\", \"output\": \"" << oDir / "out/a.tif"
                                             << "\", \"ok\": false, \"error\": \"x\"}\n";
    }

    // The words of one batch option with a value that works.
    Words BatchWords(const std::string &osName) const
    {
        const std::map<std::string, std::string> oValues{
            {"-outdir", oDir / "out2"},
            {"-j", "2"},
            {"-suffix", "_s"},
            {"-report", oDir / "report.jsonl"},
            {"-max_tasks_per_worker", "3"},
            {"-max_workers", "4"},
            {"-timeout", "5"},
            {"-retries", "1"},
            {"-retry_failed", oDir / "failed.jsonl"},
            {"-retry-failed", oDir / "failed.jsonl"},
            {"-worker_mem_limit", "2GB"},
            {"-max_worker_rss", "1GB"},
            {"-memory_budget", "4GB"},
            {"-shard", "1/2"},
            {"-shard_count", "2"},
            {"-output_template", "{stem}_t{suffix}.{ext}"},
            {"-input_file_list", oDir / "list.txt"},
        };
        Words aosOut{osName};
        for (int i = 0; i < BWBatchOptionCount(); ++i)
        {
            if (osName != BWBatchOptionName(i))
                continue;
            for (int k = 0; k < BWBatchOptionValueCount(i); ++k)
            {
                const auto oIt = oValues.find(osName);
                // A new batch option needs a value here to be swept.
                EXPECT_NE(oIt, oValues.end()) << "no sample value for " << osName;
                aosOut.push_back(oIt == oValues.end() ? "1" : oIt->second);
            }
        }
        return aosOut;
    }

    // Sources and -outdir to go with the options: -merge_reports takes
    // reports, -retry_failed no source.
    Words Rest(const Words &aosArgs) const
    {
        auto bHas = [&](const char *psz)
        { return std::find(aosArgs.begin(), aosArgs.end(), psz) != aosArgs.end(); };
        if (bHas("-merge_reports"))
            return {oDir / "failed.jsonl"};
        if (bHas("-retry_failed") || bHas("-retry-failed"))
            return {"-outdir", oDir / "out"};
        return {oDir / "src/", "-outdir", oDir / "out"};
    }

    // Parse, plan as -dry_run does, free. Returns whether the options
    // parsed; a refusal must say why.
    bool Run(const Words &aosOptions)
    {
        Words aosArgs = aosOptions;
        const Words aosRest = Rest(aosOptions);
        aosArgs.insert(aosArgs.end(), aosRest.begin(), aosRest.end());
        std::string osWords;
        for (const auto &os : aosArgs)
            osWords += os + " ";
        char **papszArgs = bwtest::ToCSL(aosArgs);
        bwtest::ErrorCollector oErrors;
        int bUsageError = -1;
        GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(papszArgs, &bUsageError);
        CSLDestroy(papszArgs);
        if (psOptions == nullptr)
        {
            EXPECT_TRUE(bUsageError) << osWords;
            EXPECT_FALSE(oErrors.failures.empty()) << "refused without a reason: " << osWords;
            return false;
        }
        EXPECT_FALSE(bUsageError) << osWords;
        if (!psOptions->bMergeReports && !psOptions->bNothingToRetry)
        {
            BWPlan sPlan;
            memset(&sPlan, 0, sizeof(sPlan));
            char *pszError = nullptr;
            if (BWPlanBuild(psOptions, &sPlan, &pszError))
            {
                BWBudget sBudget;
                memset(&sBudget, 0, sizeof(sBudget));
                if (BWBudgetCompute(psOptions, BWPlanCountToDo(&sPlan),
                                    BWPlanHasNetworkSource(&sPlan), &sBudget, &pszError))
                {
                    EXPECT_GE(sBudget.nWorkers, 1) << osWords;
                }
                for (int i = 0; i < sPlan.nItems; ++i)
                    EXPECT_NE(std::string(sPlan.pasItems[i].pszOutput).find(oDir.path()),
                              std::string::npos)
                        << osWords;
            }
            CPLFree(pszError);
            BWPlanFree(&sPlan);
        }
        GDALBatchWarpOptionsFree(psOptions);
        return true;
    }
};

// gdalwarp options of every kind: with one or several values, values that
// start with '-', optional values, flags, and a few that must be refused.
const std::vector<Words> kWarpOptions{
    {"-t_srs", "EPSG:3857"},
    {"-s_srs", "EPSG:4326"},
    {"-te", "-10", "-5", "10", "5"},
    {"-te_srs", "EPSG:4326"},
    {"-tr", "0.5", "0.5"},
    {"-tap", "-tr", "1", "1"},
    {"-ts", "8", "0"},
    {"-r", "cubic"},
    {"-ot", "Int16"},
    {"-wt", "Float32"},
    {"-of", "VRT"},
    {"-of", "COG"},
    {"-of", "MEM"},
    {"-of", "NoSuchDriver"},
    {"-co", "COMPRESS=LZW"},
    {"-wo", "NUM_THREADS=2"},
    {"-multi"},
    {"-wm", "500"},
    {"-refine_gcps", "0.1", "3"},
    {"-refine_gcps", "0.1"},
    {"-order", "2"},
    {"-tps"},
    {"-et", "0"},
    {"-if", "GTiff"},
    {"-oo", "NUM_THREADS=1"},
    {"-srcnodata", "0"},
    {"-dstnodata", "None"},
    {"-dstalpha"},
    {"-srcalpha"},
    {"-nomd"},
    {"-cvmd", ""},
    {"-setci"},
    {"-to", "SRC_METHOD=NO_GEOTRANSFORM"},
    {"-ovr", "AUTO"},
    {"-r", "nonsense"},
    {"-tr", "30"},
    {"-crop_to_cutline"},
};

TEST_F(SweepFixture, EveryPairOfBatchOptions)
{
    int nParsed = 0;
    for (int i = 0; i < BWBatchOptionCount(); ++i)
    {
        for (int j = 0; j < BWBatchOptionCount(); ++j)
        {
            Words aosArgs = BatchWords(BWBatchOptionName(i));
            const Words aosSecond = BatchWords(BWBatchOptionName(j));
            aosArgs.insert(aosArgs.end(), aosSecond.begin(), aosSecond.end());
            nParsed += Run(aosArgs);
        }
    }
    // Most pairs make sense together: the sweep must reach the planning.
    EXPECT_GT(nParsed, BWBatchOptionCount() * BWBatchOptionCount() / 2);
}

TEST_F(SweepFixture, EachBatchOptionWithGdalwarpOptions)
{
    int nParsed = 0;
    for (int i = 0; i < BWBatchOptionCount(); ++i)
    {
        const Words aosBatch = BatchWords(BWBatchOptionName(i));
        for (const Words &aosWarp : kWarpOptions)
        {
            Words aosBefore = aosWarp;
            aosBefore.insert(aosBefore.end(), aosBatch.begin(), aosBatch.end());
            Words aosAfter = aosBatch;
            aosAfter.insert(aosAfter.end(), aosWarp.begin(), aosWarp.end());
            nParsed += Run(aosBefore);
            nParsed += Run(aosAfter);
        }
    }
    EXPECT_GT(nParsed, BWBatchOptionCount() * static_cast<int>(kWarpOptions.size()));
}

// Issue 12 item 7: -retry_failed freed the values of options given before
// it and kept the pointers.
TEST_F(SweepFixture, RetryFailedKeepsTheValuesOfEarlierOptions)
{
    const std::string osTemplate = "{stem}_t{suffix}.{ext}";
    const std::string osList = oDir / "list.txt";
    const std::string osReport = oDir / "failed.jsonl";
    for (const char *pszRetry : {"-retry_failed", "-retry-failed"})
    {
        char **papszArgs = bwtest::ToCSL({"-output_template", osTemplate, "-input_file_list",
                                          osList, pszRetry, osReport, "-outdir", oDir / "out"});
        bwtest::ErrorCollector oErrors;
        GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(papszArgs, nullptr);
        CSLDestroy(papszArgs);
        // Sources come from the report, so the list is one source too many.
        EXPECT_EQ(psOptions, nullptr);
        EXPECT_NE(oErrors.all().find("-retry_failed takes its sources from the report"),
                  std::string::npos)
            << oErrors.all();
        GDALBatchWarpOptionsFree(psOptions);

        papszArgs = bwtest::ToCSL(
            {"-output_template", osTemplate, pszRetry, osReport, "-outdir", oDir / "out"});
        psOptions = GDALBatchWarpOptionsNew(papszArgs, nullptr);
        CSLDestroy(papszArgs);
        ASSERT_NE(psOptions, nullptr) << oErrors.all();
        ASSERT_NE(psOptions->pszOutputTemplate, nullptr);
        EXPECT_EQ(std::string(psOptions->pszOutputTemplate), osTemplate);
        EXPECT_EQ(bwtest::ToVector(psOptions->papszSources), Words{oDir / "src/a.tif"});
        BWPlan sPlan;
        memset(&sPlan, 0, sizeof(sPlan));
        char *pszError = nullptr;
        ASSERT_TRUE(BWPlanBuild(psOptions, &sPlan, &pszError)) << pszError;
        ASSERT_EQ(sPlan.nItems, 1);
        // A retry writes the output this run's template names (the report
        // names out/a.tif: a report chooses no name the plan would not).
        EXPECT_EQ(std::string(sPlan.pasItems[0].pszOutput), oDir / "out/a_t.tif");
        BWPlanFree(&sPlan);
        GDALBatchWarpOptionsFree(psOptions);
    }
}

} // namespace
