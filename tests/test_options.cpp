// Parsing the command line: gdalwarp's options checked by GDAL, batch
// options, sources.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <cpl_conv.h>
#include <gdal_utils.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_options.h"
}

namespace
{

struct Parsed
{
    GDALBatchWarpOptions *ps = nullptr;
    int bUsageError = FALSE;
    std::string osErrors;
    explicit Parsed(const std::vector<std::string> &aosArgs)
    {
        char **papsz = bwtest::ToCSL(aosArgs);
        bwtest::ErrorCollector oErrors;
        ps = GDALBatchWarpOptionsNew(papsz, &bUsageError);
        osErrors = oErrors.all();
        CSLDestroy(papsz);
    }
    ~Parsed()
    {
        GDALBatchWarpOptionsFree(ps);
    }
};

TEST(Options, SplitsWarpOptionsBatchOptionsAndSources)
{
    Parsed o({"-t_srs",  "EPSG:3857", "-te", "-10",          "-5",    "10",
              "5",       "-j",        "3",   "-r",           "cubic", "a.tif",
              "-suffix", "_x",        "-co", "COMPRESS=LZW", "dir/",  "-outdir",
              "out",     "-retries",  "2",   "-timeout",     "1.5",   "-q"});
    ASSERT_NE(o.ps, nullptr) << o.osErrors;
    EXPECT_EQ(bwtest::ToVector(o.ps->papszWarpArgs),
              (std::vector<std::string>{"-t_srs", "EPSG:3857", "-te", "-10", "-5", "10", "5", "-r",
                                        "cubic", "-co", "COMPRESS=LZW"}));
    EXPECT_EQ(bwtest::ToVector(o.ps->papszSources), (std::vector<std::string>{"a.tif", "dir/"}));
    EXPECT_STREQ(o.ps->pszOutDir, "out");
    EXPECT_STREQ(o.ps->pszSuffix, "_x");
    EXPECT_EQ(o.ps->nWorkers, 3);
    EXPECT_EQ(o.ps->nRetries, 2);
    EXPECT_DOUBLE_EQ(o.ps->dfTaskTimeout, 1.5);
    EXPECT_TRUE(o.ps->bQuiet);
    EXPECT_STREQ(o.ps->pszOutputExtension, "tif");
}

TEST(Options, OutputExtensionFollowsTheDriver)
{
    Parsed oCog({"-of", "COG", "a.tif", "-outdir", "o"});
    ASSERT_NE(oCog.ps, nullptr) << oCog.osErrors;
    EXPECT_STREQ(oCog.ps->pszOutputExtension, "tif");
    Parsed oVrt({"-of", "VRT", "a.tif", "-outdir", "o"});
    ASSERT_NE(oVrt.ps, nullptr);
    EXPECT_STREQ(oVrt.ps->pszOutputExtension, "vrt");
}

TEST(Options, DoubleDashMakesTheRestSources)
{
    Parsed o({"-outdir", "o", "--", "-odd.tif", "-j"});
    ASSERT_NE(o.ps, nullptr) << o.osErrors;
    EXPECT_EQ(bwtest::ToVector(o.ps->papszSources), (std::vector<std::string>{"-odd.tif", "-j"}));
}

TEST(Options, NotesThreadsAndMemoryTheUserChose)
{
    Parsed o({"-multi", "-wm", "500", "a.tif", "-outdir", "o"});
    ASSERT_NE(o.ps, nullptr) << o.osErrors;
    EXPECT_TRUE(o.ps->bUserSetWarpThreads);
    EXPECT_EQ(o.ps->nUserWarpMemory, static_cast<GIntBig>(500) * 1024 * 1024);
}

// Found by fuzz_argv: converting 1e30 or NaN bytes to an integer was
// undefined behaviour (UBSan stopped the run), and -wm 9.2e18 overflowed the
// budget's sums. Sizes are bounded; -wm takes any number that gdalwarp takes:
// GDAL 3.6 takes them all, newer GDAL refuses 1e30, 1e30% and nan (then a
// usage error with GDAL's message, as gdalwarp gives).
TEST(Options, HugeOrNotANumberSizesAreBounded)
{
    for (const char *pszWm : {"1e30", "9223372036854775807", "9223372036854775000", "1e30%", "nan"})
    {
        Parsed o({"-wm", pszWm, "a.tif", "-outdir", "o"});
        if (o.ps == nullptr)
        {
            EXPECT_TRUE(o.bUsageError) << pszWm;
            EXPECT_NE(o.osErrors.find("-wm"), std::string::npos) << pszWm << ": " << o.osErrors;
            continue;
        }
        // NaN is no size: left to gdalwarp.
        EXPECT_EQ(o.ps->nUserWarpMemory,
                  std::string(pszWm) == "nan" ? -1 : static_cast<GIntBig>(1) << 62)
            << pszWm;
    }
    Parsed oBudget({"-memory_budget", "1e30", "a.tif", "-outdir", "o"});
    ASSERT_NE(oBudget.ps, nullptr) << oBudget.osErrors;
    EXPECT_EQ(oBudget.ps->nMemoryBudget, static_cast<GIntBig>(1) << 62);
}

TEST(Options, UsageErrorsNameTheProblem)
{
    struct Case
    {
        std::vector<std::string> aosArgs;
        const char *pszExpected;
    };
    const std::vector<Case> aoCases{
        {{"a.tif"}, "No output directory given"},
        {{"-outdir", "o"}, "No source raster given"},
        {{"-j", "0", "a.tif", "-outdir", "o"}, "-j must be at least 1"},
        {{"-j", "many", "a.tif", "-outdir", "o"}, "-j expects a non-negative integer"},
        {{"-timeout", "soon", "a.tif", "-outdir", "o"}, "-timeout expects seconds"},
        {{"-timeout", "nan", "a.tif", "-outdir", "o"}, "-timeout expects seconds"},
        {{"-memory_budget", "nan", "a.tif", "-outdir", "o"}, "-memory_budget expects a size"},
        {{"-of", "NoSuchDriver", "a.tif", "-outdir", "o"}, "Output driver 'NoSuchDriver'"},
        {{"-suffix", "a/b", "a.tif", "-outdir", "o"}, "-suffix must not contain '/'"},
        {{"-shard", "4/4", "a.tif", "-outdir", "o"}, "-shard expects I/N"},
        {{"-outdir"}, "-outdir option requires 1 argument"},
    };
    for (const Case &c : aoCases)
    {
        Parsed o(c.aosArgs);
        EXPECT_EQ(o.ps, nullptr) << c.pszExpected;
        EXPECT_TRUE(o.bUsageError) << c.pszExpected;
        EXPECT_NE(o.osErrors.find(c.pszExpected), std::string::npos)
            << "expected '" << c.pszExpected << "' in: " << o.osErrors;
    }
}

TEST(Options, BadWarpOptionGetsGdalsOwnMessage)
{
    Parsed o({"-r", "nonsense", "a.tif", "-outdir", "o"});
    EXPECT_EQ(o.ps, nullptr);
    EXPECT_TRUE(o.bUsageError);
    // The message comes from GDALWarpAppOptionsNew itself.
    char **papsz = bwtest::ToCSL({"-r", "nonsense"});
    bwtest::ErrorCollector oGdal;
    GDALWarpAppOptions *psWarp = GDALWarpAppOptionsNew(papsz, nullptr);
    CSLDestroy(papsz);
    EXPECT_EQ(psWarp, nullptr);
    ASSERT_FALSE(oGdal.failures.empty());
    EXPECT_NE(o.osErrors.find(oGdal.failures[0]), std::string::npos) << o.osErrors;
}

// Issue 12 item 3: an option's optional value is its own, not a source.
TEST(Options, OptionalValuesStayWithTheirOption)
{
    Parsed oLong({"-refine_gcps", "0.1", "3", "a.tif", "-outdir", "o"});
    ASSERT_NE(oLong.ps, nullptr) << oLong.osErrors;
    EXPECT_EQ(bwtest::ToVector(oLong.ps->papszWarpArgs),
              (std::vector<std::string>{"-refine_gcps", "0.1", "3"}));
    EXPECT_EQ(bwtest::ToVector(oLong.ps->papszSources), (std::vector<std::string>{"a.tif"}));
    Parsed oShort({"-refine_gcps", "0.1", "a.tif", "-multi", "-outdir", "o"});
    ASSERT_NE(oShort.ps, nullptr) << oShort.osErrors;
    EXPECT_EQ(bwtest::ToVector(oShort.ps->papszWarpArgs),
              (std::vector<std::string>{"-refine_gcps", "0.1", "-multi"}));
    EXPECT_EQ(bwtest::ToVector(oShort.ps->papszSources), (std::vector<std::string>{"a.tif"}));
    // A flag never takes the next word, nor an option the one after its value.
    Parsed oFlag({"-multi", "b.tif", "-r", "cubic", "c.tif", "-outdir", "o"});
    ASSERT_NE(oFlag.ps, nullptr) << oFlag.osErrors;
    EXPECT_EQ(bwtest::ToVector(oFlag.ps->papszSources),
              (std::vector<std::string>{"b.tif", "c.tif"}));
}

// Issue 12 item 6: refused up front, with GDAL's message.
TEST(Options, WhatGdalwarpRefusesIsRefusedUpFront)
{
    struct Case
    {
        std::vector<std::string> aosArgs;
        const char *pszExpected;
    };
    const std::vector<Case> aoCases{
        {{"-tap", "a.tif", "-outdir", "o"}, "-tap option cannot be used without using -tr."},
        {{"-tr", "1", "1", "-ts", "2", "2", "a.tif", "-outdir", "o"},
         "-tr and -ts options cannot be used at the same time."},
        {{"-of", "MEM", "a.tif", "-outdir", "o"}, "Output driver 'MEM' writes no file"},
        {{"-tr", "30", "-j", "2", "a.tif", "-outdir", "o"}, "-tr"},
    };
    for (const Case &c : aoCases)
    {
        Parsed o(c.aosArgs);
        EXPECT_EQ(o.ps, nullptr) << c.pszExpected;
        EXPECT_TRUE(o.bUsageError) << c.pszExpected;
        EXPECT_NE(o.osErrors.find(c.pszExpected), std::string::npos)
            << "expected '" << c.pszExpected << "' in: " << o.osErrors;
        EXPECT_EQ(o.osErrors.find("Unknown option name"), std::string::npos) << o.osErrors;
    }
    // Accepted: -tap with -tr, -f as -of.
    Parsed oTap({"-tap", "-tr", "1", "1", "-f", "VRT", "a.tif", "-outdir", "o"});
    ASSERT_NE(oTap.ps, nullptr) << oTap.osErrors;
    EXPECT_STREQ(oTap.ps->pszOutputExtension, "vrt");
}

} // namespace
