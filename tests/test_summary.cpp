// The end-of-batch summary: counts, report path, failure reasons grouped
// once the file names are taken out, most frequent first.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <cpl_conv.h>

extern "C"
{
#include "batchwarp_summary.h"
}

namespace
{

GDALBatchWarpResult Result(const char *pszSource, bool bOk, const char *pszError = nullptr,
                           bool bSkipped = false)
{
    GDALBatchWarpResult s;
    memset(&s, 0, sizeof(s));
    s.pszSource = pszSource;
    s.pszOutput = "/out/x.tif";
    s.bOk = bOk;
    s.bSkipped = bSkipped;
    s.pszError = pszError;
    return s;
}

std::string Format(const BWSummary *psSummary, const char *pszReport, int nInterrupted = 0,
                   int nMax = 5, int nSources = 0)
{
    char *psz = BWSummaryFormat(psSummary, 2.25, pszReport, nInterrupted, nSources, nMax);
    std::string os(psz);
    CPLFree(psz);
    return os;
}

TEST(Summary, CountsTimeAndReport)
{
    BWSummary *ps = BWSummaryNew();
    auto a = Result("in/a.tif", true);
    auto b = Result("in/b.tif", true, nullptr, true);
    auto c = Result("in/c.tif", false, "boom");
    BWSummaryAdd(ps, &a);
    BWSummaryAdd(ps, &b);
    BWSummaryAdd(ps, &c);
    const std::string os = Format(ps, "run.jsonl");
    EXPECT_NE(os.find("3 sources: 1 ok, 1 skipped, 1 failed, in 2.2 s."), std::string::npos) << os;
    EXPECT_NE(os.find("Report: run.jsonl\n"), std::string::npos) << os;
    EXPECT_NE(os.find("1 x boom\n"), std::string::npos) << os;
    EXPECT_EQ(Format(ps, "-").find("Report: (standard output)"), Format(ps, "-").find("Report:"));
    EXPECT_EQ(Format(ps, nullptr).find("Report:"), std::string::npos);
    EXPECT_NE(
        Format(ps, nullptr, 4).find("7 sources: 1 ok, 1 skipped, 1 failed, 4 interrupted, in"),
        std::string::npos);
    // A batch stopped early says how many sources it had, and how many of
    // them it never started: it said '7 sources' for a batch of 20.
    EXPECT_NE(Format(ps, nullptr, 4, 5, 20)
                  .find("20 sources: 1 ok, 1 skipped, 1 failed, 4 interrupted, 13 not started, in"),
              std::string::npos)
        << Format(ps, nullptr, 4, 5, 20);
    EXPECT_NE(Format(ps, nullptr, 0, 5, 3).find("3 sources: 1 ok, 1 skipped, 1 failed, in"),
              std::string::npos);
    BWSummaryFree(ps);
}

TEST(Summary, ReasonsGroupedWithoutFileNames)
{
    GDALBatchWarpResult s = Result("/data/in/bad1.tif", false,
                                   "`/data/in/bad1.tif' not recognized as a supported file "
                                   "format.\nsecond line");
    char *psz = BWSummaryReason(&s);
    EXPECT_STREQ(psz, "`<source>' not recognized as a supported file format.");
    CPLFree(psz);
    s.pszError = "bad1.tif: cannot read block";
    psz = BWSummaryReason(&s);
    EXPECT_STREQ(psz, "<source>: cannot read block");
    CPLFree(psz);
    s.pszError = nullptr;
    psz = BWSummaryReason(&s);
    EXPECT_STREQ(psz, "unknown error");
    CPLFree(psz);
}

TEST(Summary, MostFrequentFirstAndCapped)
{
    BWSummary *ps = BWSummaryNew();
    const char *apszRare[] = {"r1", "r2", "r3"};
    for (const char *pszReason : apszRare)
    {
        auto r = Result("in/rare.tif", false, pszReason);
        BWSummaryAdd(ps, &r);
    }
    for (int i = 0; i < 4; ++i)
    {
        const std::string osName = "in/f" + std::to_string(i) + ".tif";
        const std::string osError = "`" + osName + "' not recognized";
        auto r = Result(osName.c_str(), false, osError.c_str());
        BWSummaryAdd(ps, &r);
    }
    const std::string os = Format(ps, nullptr, 0, 2);
    EXPECT_NE(os.find("7 failed"), std::string::npos) << os;
    EXPECT_NE(os.find("(2 of 4)"), std::string::npos) << os;
    const size_t nFrequent = os.find("4 x `<source>' not recognized\n");
    const size_t nFirstRare = os.find("1 x r1\n");
    ASSERT_NE(nFrequent, std::string::npos) << os;
    ASSERT_NE(nFirstRare, std::string::npos) << os;
    EXPECT_LT(nFrequent, nFirstRare);
    EXPECT_EQ(os.find("r2"), std::string::npos) << os;
    BWSummaryFree(ps);
}

TEST(Summary, NoFailureNoReasons)
{
    BWSummary *ps = BWSummaryNew();
    auto a = Result("a.tif", true);
    BWSummaryAdd(ps, &a);
    const std::string os = Format(ps, nullptr);
    EXPECT_NE(os.find("1 source: 1 ok, 0 skipped, 0 failed"), std::string::npos) << os;
    EXPECT_EQ(os.find("reason"), std::string::npos) << os;
    BWSummaryFree(ps);
}

} // namespace
