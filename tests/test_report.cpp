// The JSON-lines report: written lines parse back, and reading reports for
// -retry_failed and -merge_reports keeps the latest line of each source.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <cpl_conv.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_report.h"
#include "batchwarp_report_reader.h"
}

namespace
{

GDALBatchWarpResult Result(const char *pszSource, bool bOk, const char *pszError = nullptr)
{
    GDALBatchWarpResult s;
    memset(&s, 0, sizeof(s));
    s.pszSource = pszSource;
    s.pszOutput = "/out/x.tif";
    s.bOk = bOk;
    s.pszError = pszError;
    s.dfSeconds = 0.125;
    s.nWorkerPid = 1234;
    s.nAttempts = 2;
    s.nThreads = 1;
    s.pszShard = "1/3";
    return s;
}

TEST(Report, LinesParseBack)
{
    const char *pszNasty = "a \"quoted\" name\\with\nnewline é.tif";
    GDALBatchWarpResult s = Result(pszNasty, false, "GDAL said: \"no\"\nand more");
    char *pszJson = BWResultToJson(&s);
    ASSERT_EQ(strchr(pszJson, '\n'), nullptr) << "one line per result";
    BWReportEntry sEntry;
    char *pszError = nullptr;
    ASSERT_TRUE(BWReportParseLine(pszJson, strlen(pszJson), &sEntry, &pszError)) << pszError;
    EXPECT_STREQ(sEntry.pszSource, pszNasty);
    EXPECT_STREQ(sEntry.pszError, "GDAL said: \"no\"\nand more");
    EXPECT_STREQ(sEntry.pszShard, "1/3");
    EXPECT_FALSE(sEntry.bOk);
    EXPECT_NE(strstr(pszJson, "\"seconds\":0.125000"), nullptr) << pszJson;
    EXPECT_NE(strstr(pszJson, "\"attempts\":2"), nullptr) << pszJson;
    BWReportEntryClear(&sEntry);
    CPLFree(pszJson);
}

TEST(Report, MalformedLinesAreRejectedWithAReason)
{
    for (const char *psz : {"", "{", "[1]", "{\"ok\":true}", "{\"source\":\"a\"}",
                            "{\"source\":1,\"ok\":true}", "{\"source\":\"a\",\"ok\":true} x"})
    {
        BWReportEntry sEntry;
        char *pszError = nullptr;
        EXPECT_FALSE(BWReportParseLine(psz, strlen(psz), &sEntry, &pszError)) << psz;
        EXPECT_NE(pszError, nullptr) << psz;
        CPLFree(pszError);
    }
}

TEST(Report, FailedSourcesLatestLineWins)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osPath = oDir / "r.jsonl";
    {
        char *pszError = nullptr;
        BWReport *psReport = BWReportOpen(osPath.c_str(), &pszError);
        ASSERT_NE(psReport, nullptr) << pszError;
        for (const auto &s : {Result("a.tif", false, "bad"), Result("b.tif", true),
                              Result("c.tif", false, "bad"), Result("a.tif", true)})
            ASSERT_TRUE(BWReportWrite(psReport, &s, &pszError)) << pszError;
        ASSERT_TRUE(BWReportClose(psReport, &pszError));
    }
    std::ofstream(osPath, std::ios::app) << "\n   \n"; // blank lines are allowed
    char **papsz = nullptr;
    char *pszError = nullptr;
    char **papszOutputs = nullptr;
    ASSERT_TRUE(BWReportReadFailed(osPath.c_str(), &papsz, &papszOutputs, &pszError)) << pszError;
    EXPECT_EQ(bwtest::ToVector(papsz), std::vector<std::string>{"c.tif"});
    EXPECT_EQ(bwtest::ToVector(papszOutputs), std::vector<std::string>{"/out/x.tif"});
    CSLDestroy(papsz);
    CSLDestroy(papszOutputs);
}

TEST(Report, BadReportNamesFileAndLine)
{
    bwtest::TempDir oDir;
    const std::string osPath = oDir / "bad.jsonl";
    std::ofstream(osPath) << "{\"source\":\"a\",\"ok\":true}\nnot json\n";
    char **papsz = nullptr;
    char *pszError = nullptr;
    char **papszOutputs = nullptr;
    EXPECT_FALSE(BWReportReadFailed(osPath.c_str(), &papsz, &papszOutputs, &pszError));
    const std::string osError = bwtest::TakeString(pszError);
    EXPECT_NE(osError.find(osPath + "', line 2"), std::string::npos) << osError;
    CSLDestroy(papsz);
    CSLDestroy(papszOutputs);
    EXPECT_FALSE(BWReportReadFailed((oDir / "missing").c_str(), &papsz, &papszOutputs, &pszError));
    EXPECT_NE(bwtest::TakeString(pszError).find("Cannot open report"), std::string::npos);
}

TEST(ReportSet, MergesReportsKeepingFirstSeenOrder)
{
    bwtest::TempDir oDir;
    std::ofstream(oDir / "s0.jsonl") << "{\"source\":\"x\",\"ok\":false,\"error\":\"e\"}\n"
                                        "{\"source\":\"y\",\"ok\":true}\n";
    std::ofstream(oDir / "s1.jsonl") << "{\"source\":\"z\",\"ok\":true}\n"
                                        "{\"source\":\"x\",\"ok\":true}\n";
    BWReportSet sSet;
    BWReportSetInit(&sSet);
    char *pszError = nullptr;
    ASSERT_TRUE(BWReportSetRead(&sSet, (oDir / "s0.jsonl").c_str(), &pszError));
    ASSERT_TRUE(BWReportSetRead(&sSet, (oDir / "s1.jsonl").c_str(), &pszError));
    ASSERT_EQ(sSet.nRecords, 3);
    EXPECT_STREQ(sSet.pasRecords[0].sEntry.pszSource, "x");
    EXPECT_TRUE(sSet.pasRecords[0].sEntry.bOk) << "the later line of x wins";
    EXPECT_STREQ(sSet.pasRecords[0].pszLine, "{\"source\":\"x\",\"ok\":true}");
    EXPECT_STREQ(sSet.pasRecords[2].sEntry.pszSource, "z");
    BWReportSetClear(&sSet);
}

} // namespace
