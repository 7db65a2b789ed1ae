// What each worker is told at start: cache share, threads, VSI settings,
// the user's configuration options and gdalwarp's arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_worker_config.h"
}

namespace
{

constexpr GIntBig MB = 1024 * 1024;

TEST(CacheMax, ParsesGdalsSyntax)
{
    const GIntBig nRAM = 8192 * MB;
    EXPECT_EQ(BWParseCacheMax("512", nRAM), 512 * MB);
    EXPECT_EQ(BWParseCacheMax("200000", nRAM), 200000); // GDAL: large numbers are bytes
    EXPECT_EQ(BWParseCacheMax("10%", nRAM), nRAM / 10);
    EXPECT_EQ(BWParseCacheMax("2GB", nRAM), 2048 * MB);
    EXPECT_EQ(BWParseCacheMax("64MB", nRAM), 64 * MB);
    EXPECT_EQ(BWParseCacheMax("100KB", nRAM), 100 * 1024);
    // Bounded, not converted to an integer as they are (undefined behaviour).
    EXPECT_EQ(BWParseCacheMax("1e30", nRAM), static_cast<GIntBig>(1) << 62);
    EXPECT_EQ(BWParseCacheMax("1e30GB", nRAM), static_cast<GIntBig>(1) << 62);
    EXPECT_EQ(BWParseCacheMax("1e300%", nRAM), static_cast<GIntBig>(1) << 62);
    for (const char *pszBad : {"", "abc", "-5", "10%%", "5 TB", "12x", "nan", "-nan", "nan%"})
        EXPECT_EQ(BWParseCacheMax(pszBad, nRAM), -1) << pszBad;
}

class InitFields : public ::testing::Test
{
  protected:
    GDALBatchWarpOptions sOptions;
    BWBudget sBudget;
    void SetUp() override
    {
        memset(&sOptions, 0, sizeof(sOptions));
        memset(&sBudget, 0, sizeof(sBudget));
        sBudget.nWorkers = 2;
        sBudget.nCachePerWorker = 300 * MB;
    }
    void TearDown() override
    {
        for (const char *pszKey : {"GDAL_NUM_THREADS", "VSI_CACHE", "GDAL_DISABLE_READDIR_ON_OPEN",
                                   "GDAL_CACHEMAX", "MY_OPTION"})
            CPLSetConfigOption(pszKey, nullptr);
    }
    std::vector<std::string> Fields()
    {
        char **papsz = BWBuildInitFields(&sOptions, &sBudget);
        auto aos = bwtest::ToVector(papsz);
        CSLDestroy(papsz);
        return aos;
    }
    // The value a worker ends with for a config key (later fields win).
    static std::string LastConfig(const std::vector<std::string> &aos, const std::string &osKey)
    {
        std::string osValue = "<unset>";
        const std::string osPrefix = "CONFIG=" + osKey + "=";
        for (const auto &os : aos)
            if (os.rfind(osPrefix, 0) == 0)
                osValue = os.substr(osPrefix.size());
        return osValue;
    }
};

// Options a caller set for one path alone (VSISetPathSpecificOption) are
// no configuration option: each network directory of the plan gets those
// that differ from the global ones, once, and nothing else does.
TEST(PathSpecificOptions, AreNamedForEachNetworkDirectoryOfThePlan)
{
    VSISetPathSpecificOption("/vsis3/bwtest-bucket", "AWS_SECRET_ACCESS_KEY", "secret");
    VSISetPathSpecificOption("/vsis3/bwtest-bucket/in", "GDAL_HTTP_HEADERS", "X-A: b");
    const char *apszPaths[] = {"/vsis3/bwtest-bucket/in/a.tif",
                               "/vsis3/bwtest-bucket/out/a.tif",
                               "/vsis3/bwtest-bucket/in/b.tif",
                               "/vsis3/bwtest-other/x.tif",
                               "local/x.tif",
                               nullptr};
    char **papsz = BWAddPathSpecificOptions(nullptr, apszPaths, 5);
    std::vector<std::string> aosGot;
    for (char **p = papsz; p && *p; ++p)
        aosGot.emplace_back(*p);
    CSLDestroy(papsz);
    VSIClearPathSpecificOptions("/vsis3/bwtest-bucket");
    VSIClearPathSpecificOptions("/vsis3/bwtest-bucket/in");
    const std::vector<std::string> aosWanted = {
        "PATH_PREFIX=/vsis3/bwtest-bucket/in/", "PATH_OPTION=AWS_SECRET_ACCESS_KEY=secret",
        "PATH_OPTION=GDAL_HTTP_HEADERS=X-A: b", "PATH_PREFIX=/vsis3/bwtest-bucket/out/",
        "PATH_OPTION=AWS_SECRET_ACCESS_KEY=secret"};
    EXPECT_EQ(aosGot, aosWanted);
}

TEST_F(InitFields, Defaults)
{
    const auto aos = Fields();
    EXPECT_EQ(LastConfig(aos, "GDAL_CACHEMAX"), std::to_string(300 * MB));
    EXPECT_EQ(LastConfig(aos, "GDAL_NUM_THREADS"), "1");
    EXPECT_EQ(LastConfig(aos, "VSI_CACHE"), "FALSE");
    EXPECT_EQ(LastConfig(aos, "GDAL_DISABLE_READDIR_ON_OPEN"), "YES");
    // No -wm: the warp is chunked as gdalwarp's, whatever the budget.
    EXPECT_EQ(std::count(aos.begin(), aos.end(), "WARP_ARG=-wm"), 0);
}

TEST_F(InitFields, UserConfigWins)
{
    CPLSetConfigOption("GDAL_NUM_THREADS", "4");
    CPLSetConfigOption("VSI_CACHE", "TRUE");
    CPLSetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR");
    CPLSetConfigOption("MY_OPTION", "a=b");
    const auto aos = Fields();
    EXPECT_EQ(LastConfig(aos, "GDAL_NUM_THREADS"), "4");
    EXPECT_EQ(LastConfig(aos, "VSI_CACHE"), "TRUE");
    EXPECT_EQ(LastConfig(aos, "GDAL_DISABLE_READDIR_ON_OPEN"), "EMPTY_DIR");
    EXPECT_EQ(LastConfig(aos, "MY_OPTION"), "a=b");
}

TEST_F(InitFields, UserCacheMaxIsNotPassedAsIs)
{
    // The user's GDAL_CACHEMAX is the whole batch's: each worker gets its share.
    CPLSetConfigOption("GDAL_CACHEMAX", "4000");
    EXPECT_EQ(LastConfig(Fields(), "GDAL_CACHEMAX"), std::to_string(300 * MB));
}

TEST_F(InitFields, WarpArgumentsOpenOptionsAndMemoryLimit)
{
    char *apszArgs[] = {const_cast<char *>("-r"), const_cast<char *>("cubic"), nullptr};
    sOptions.papszWarpArgs = apszArgs;
    char *apszOO[] = {const_cast<char *>("NUM_THREADS=1"), nullptr};
    sOptions.papszOpenOptions = apszOO;
    sOptions.nWorkerMemLimit = 512 * MB;
    const auto aos = Fields();
    auto it = std::find(aos.begin(), aos.end(), "WARP_ARG=-r");
    ASSERT_NE(it, aos.end());
    EXPECT_EQ(*(it + 1), "WARP_ARG=cubic");
    EXPECT_EQ(std::count(aos.begin(), aos.end(), "WARP_ARG=-wm"), 0);
    EXPECT_EQ(std::count(aos.begin(), aos.end(), "OPEN_OPTION=NUM_THREADS=1"), 1);
    EXPECT_EQ(std::count(aos.begin(), aos.end(), "MEMORY_LIMIT=" + std::to_string(512 * MB)), 1);
}

} // namespace
