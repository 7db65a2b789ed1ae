// The table of batch options: each declared once, its defaults applied as
// if typed, --help made from it.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_multiproc.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_option_table.h"
#include "batchwarp_options.h"
}

namespace
{

std::vector<std::string> Spellings(const BWOptionSpec *psSpec)
{
    std::vector<std::string> aos{psSpec->pszName};
    for (const char *const *ppsz = psSpec->papszAliases; ppsz && *ppsz; ++ppsz)
        aos.push_back(*ppsz);
    return aos;
}

TEST(OptionTable, SpellingsAreUniqueAndFound)
{
    std::set<std::string> oSeen;
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = BWOptionSpecAt(i);
        for (const std::string &os : Spellings(psSpec))
        {
            EXPECT_EQ(os[0], '-') << os;
            EXPECT_TRUE(oSeen.insert(os).second) << os << " is declared twice";
            EXPECT_EQ(BWOptionSpecFind(os.c_str()), psSpec) << os;
        }
        // A value is shown in --help exactly when the option takes one.
        EXPECT_EQ(psSpec->nValues == 1, psSpec->pszMetaVar != nullptr) << psSpec->pszName;
        EXPECT_TRUE(psSpec->nValues == 0 || psSpec->nValues == 1) << psSpec->pszName;
        EXPECT_TRUE(psSpec->pszDefault == nullptr || psSpec->nValues == 1) << psSpec->pszName;
        EXPECT_NE(psSpec->pfnApply, nullptr) << psSpec->pszName;
        EXPECT_LT(static_cast<int>(psSpec->eGroup), static_cast<int>(BW_GROUP_COUNT));
    }
    EXPECT_EQ(BWOptionSpecFind("-nonexistent"), nullptr);
    EXPECT_EQ(BWOptionSpecFind("-t_srs"), nullptr);
    EXPECT_EQ(static_cast<int>(oSeen.size()), BWBatchOptionCount());
}

struct Parsed
{
    GDALBatchWarpOptions *ps = nullptr;
    explicit Parsed(const std::vector<std::string> &aosArgs)
    {
        char **papsz = bwtest::ToCSL(aosArgs);
        bwtest::ErrorCollector oErrors;
        ps = GDALBatchWarpOptionsNew(papsz, nullptr);
        CSLDestroy(papsz);
    }
    ~Parsed()
    {
        GDALBatchWarpOptionsFree(ps);
    }
};

// Leaving an option out is the same as typing its default.
TEST(OptionTable, DefaultIsWhatTypingItGives)
{
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = BWOptionSpecAt(i);
        if (psSpec->pszDefault == nullptr)
            continue;
        Parsed oLeftOut({"a.tif", "-outdir", "o"});
        Parsed oTyped({"a.tif", "-outdir", "o", psSpec->pszName, psSpec->pszDefault});
        ASSERT_NE(oLeftOut.ps, nullptr);
        ASSERT_NE(oTyped.ps, nullptr) << psSpec->pszName << " " << psSpec->pszDefault;
        EXPECT_EQ(oLeftOut.ps->nWorkers, oTyped.ps->nWorkers) << psSpec->pszName;
        EXPECT_EQ(oLeftOut.ps->nMaxTasksPerWorker, oTyped.ps->nMaxTasksPerWorker);
        EXPECT_EQ(oLeftOut.ps->nRetries, oTyped.ps->nRetries);
        EXPECT_EQ(oLeftOut.ps->nMemoryBudget, oTyped.ps->nMemoryBudget);
        EXPECT_STREQ(oLeftOut.ps->pszOutputTemplate, oTyped.ps->pszOutputTemplate);
    }
}

// What the defaults are in numbers: -j is the number of CPUs, and the
// memory budget a quarter of the usable RAM (CPLGetUsablePhysicalRAM()).
TEST(OptionTable, DefaultsInNumbers)
{
    Parsed o({"a.tif", "-outdir", "o"});
    ASSERT_NE(o.ps, nullptr);
    EXPECT_EQ(o.ps->nWorkers, CPLGetNumCPUs());
    EXPECT_NEAR(static_cast<double>(o.ps->nMemoryBudget),
                static_cast<double>(CPLGetUsablePhysicalRAM()) / 4, 1.0);
    EXPECT_EQ(o.ps->nMemoryBudget, BWDefaultMemoryBudget());
}

TEST(OptionTable, HelpShowsEverySpellingAndDefault)
{
    const std::string osUsage = GDALBatchWarpGetUsage();
    // Wrapping may break a default over two lines: compare words.
    std::string osWords;
    for (char c : osUsage)
    {
        const bool bSpace = c == '\n' || c == ' ';
        if (!bSpace)
            osWords += c;
        else if (!osWords.empty() && osWords.back() != ' ')
            osWords += ' ';
    }
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = BWOptionSpecAt(i);
        for (const std::string &os : Spellings(psSpec))
        {
            bool bFound = osUsage.find(", " + os) != std::string::npos;
            for (const char *pszAfter : {" ", ",", "\n"})
                bFound |= osUsage.find("\n  " + os + pszAfter) != std::string::npos;
            EXPECT_TRUE(bFound) << os;
        }
        if (psSpec->pszDefault != nullptr)
        {
            EXPECT_NE(osWords.find(std::string("(default: ") + psSpec->pszDefault + ")"),
                      std::string::npos)
                << psSpec->pszName;
        }
    }
    EXPECT_EQ(GDALBatchWarpGetUsage(), GDALBatchWarpGetUsage()); // made once
}

} // namespace
