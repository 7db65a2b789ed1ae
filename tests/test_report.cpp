// The JSON-lines report: written lines parse back, and reading reports for
// -retry_failed and -merge_reports keeps the latest line of each source.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cpl_conv.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_report.h"
#include "batchwarp_report_reader.h"
#include "batchwarp_utf8.h"
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

// Runs that append to one report (-retry_failed R -report R, shards of an
// array given the same R) write each line whole: a line longer than stdio's
// buffer (long names, GDAL's messages) went out in several write() calls,
// between which another run's appended, so R held lines made of both, which
// -retry_failed and -merge_reports refuse.
TEST(Report, AppendingRunsNeverCutEachOthersLines)
{
    bwtest::TempDir oDir;
    const std::string osPath = oDir / "r.jsonl";
    std::ofstream(osPath) << "{\"source\":\"first.tif\",\"ok\":false}\n";
    const int nLines = 60;
    auto Append = [&](const char *pszWho)
    {
        char *pszError = nullptr;
        BWReport *psReport = BWReportOpenAppendingTo(osPath.c_str(), osPath.c_str(), &pszError);
        if (psReport == nullptr)
            return false;
        const std::string osLong(64 * 1024, pszWho[0]);
        bool bOk = true;
        for (int i = 0; i < nLines && bOk; ++i)
        {
            const std::string osSource = std::string(pszWho) + std::to_string(i);
            GDALBatchWarpResult s = Result(osSource.c_str(), false, osLong.c_str());
            bOk = BWReportWrite(psReport, &s, &pszError);
        }
        return BWReportClose(psReport, &pszError) && bOk;
    };
    const pid_t nChild = fork();
    ASSERT_GE(nChild, 0);
    if (nChild == 0)
        _exit(Append("child") ? 0 : 1);
    EXPECT_TRUE(Append("parent"));
    int nStatus = 0;
    ASSERT_EQ(waitpid(nChild, &nStatus, 0), nChild);
    EXPECT_TRUE(WIFEXITED(nStatus) && WEXITSTATUS(nStatus) == 0);
    std::ifstream oIn(osPath);
    std::string osLine;
    int nRead = 0;
    int nBad = 0;
    while (std::getline(oIn, osLine))
    {
        BWReportEntry sEntry;
        char *pszError = nullptr;
        ++nRead;
        if (!BWReportParseLine(osLine.c_str(), osLine.size(), &sEntry, &pszError))
            ++nBad;
        CPLFree(pszError);
        BWReportEntryClear(&sEntry);
    }
    EXPECT_EQ(nBad, 0) << "lines made of two runs' text";
    EXPECT_EQ(nRead, 1 + 2 * nLines);
}

std::vector<std::string> aosWarnings;
void CPL_STDCALL KeepWarnings(CPLErr eClass, CPLErrorNum, const char *pszMsg)
{
    if (eClass == CE_Warning)
        aosWarnings.push_back(pszMsg);
}

// A report of one line whose lock another holds (anyone who can read a
// report can flock() it), for a run that appends to it with a short wait
// for the lock; the warnings raised meanwhile are kept in aosWarnings until
// Release() (or the end of the scope) lets the lock go.
struct LockedReport
{
    bwtest::TempDir oDir;
    const std::string osPath = oDir / "r.jsonl";
    int fd = -1;
    bool bLocked = false;

    LockedReport()
    {
        std::ofstream(osPath) << "{\"source\":\"first.tif\",\"ok\":false}\n";
        fd = open(osPath.c_str(), O_RDONLY);
        bLocked = fd >= 0 && flock(fd, LOCK_EX) == 0;
        CPLSetConfigOption("BATCHWARP_REPORT_LOCK_WAIT", "0.05");
        aosWarnings.clear();
        CPLPushErrorHandler(KeepWarnings);
    }
    void Release()
    {
        if (fd < 0)
            return;
        CPLPopErrorHandler();
        CPLSetConfigOption("BATCHWARP_REPORT_LOCK_WAIT", nullptr);
        flock(fd, LOCK_UN);
        close(fd);
        fd = -1;
    }
    ~LockedReport()
    {
        Release();
    }
};

// Anyone who can read a report can flock() it and keep the lock. A run
// appending to it waited for the lock up to its limit (30 s) before each
// line, so that whoever held it held up the batch that long for each task;
// it now waits once, says so, and appends without the lock from then on.
// (The old code said nothing, and waited again for each line.)
TEST(Report, ALockHeldByAnotherIsWaitedForOnceNotForEachLine)
{
    LockedReport oLocked;
    ASSERT_TRUE(oLocked.bLocked);
    const std::string &osPath = oLocked.osPath;
    char *pszError = nullptr;
    BWReport *psReport = BWReportOpenAppendingTo(osPath.c_str(), osPath.c_str(), &pszError);
    ASSERT_NE(psReport, nullptr) << pszError;
    bool bOk = true;
    for (int i = 0; i < 5; ++i)
    {
        GDALBatchWarpResult s = Result(CPLSPrintf("t%d.tif", i), true);
        bOk = bOk && BWReportWrite(psReport, &s, &pszError);
    }
    bOk = bOk && BWReportClose(psReport, &pszError);
    oLocked.Release();
    ASSERT_TRUE(bOk) << pszError;
    ASSERT_EQ(aosWarnings.size(), 1u);
    EXPECT_NE(aosWarnings[0].find(osPath), std::string::npos) << aosWarnings[0];
    std::ifstream oIn(osPath);
    std::string osLine;
    int nLines = 0;
    while (std::getline(oIn, osLine))
        ++nLines;
    EXPECT_EQ(nLines, 6);
}

// The lock is first waited for when the report is opened to append to (the
// look at its end for a line cut short), and that wait is the one: a holder
// who keeps it past the wait gets the warning then, and the lines are
// appended without waiting again. The old code gave up silently at the
// open and waited the whole time once more for the first line (60 s
// instead of the 30 s the README promises), warning only then.
TEST(Report, ALockHeldByAnotherWhenTheReportIsOpenedIsNotWaitedForAgain)
{
    LockedReport oLocked;
    ASSERT_TRUE(oLocked.bLocked);
    const std::string &osPath = oLocked.osPath;
    char *pszError = nullptr;
    BWReport *psReport = BWReportOpenAppendingTo(osPath.c_str(), osPath.c_str(), &pszError);
    const size_t nWarnedAtOpen = aosWarnings.size();
    bool bOk = psReport != nullptr;
    for (int i = 0; bOk && i < 3; ++i)
    {
        GDALBatchWarpResult s = Result(CPLSPrintf("t%d.tif", i), true);
        bOk = BWReportWrite(psReport, &s, &pszError);
    }
    bOk = psReport != nullptr && BWReportClose(psReport, &pszError) && bOk;
    oLocked.Release();
    ASSERT_TRUE(bOk) << (pszError ? pszError : "");
    EXPECT_EQ(nWarnedAtOpen, 1u) << "the wait at the open is the one waited";
    ASSERT_EQ(aosWarnings.size(), 1u);
    EXPECT_NE(aosWarnings[0].find(osPath), std::string::npos) << aosWarnings[0];
}

// A run that appends to a report first removes a line cut short by a killed
// run at its end. Another run doing the same at the same time must not
// truncate away what this one appended meanwhile: the look at the end and
// the truncation are made under the report's lock, which each appended line
// also takes. Here the test is the other run, holding the lock while it
// truncates; the old code wrote the child's line at once, and the
// truncation then cut it off.
TEST(Report, AppendingRunWaitsForAnotherRunTruncatingACutLine)
{
    bwtest::TempDir oDir;
    const std::string osPath = oDir / "r.jsonl";
    const std::string osFirst = "{\"source\":\"first.tif\",\"ok\":false}\n";
    std::ofstream(osPath) << osFirst << "{\"source\":\"cut";
    const int fd = open(osPath.c_str(), O_RDWR | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX), 0);
    const pid_t nChild = fork();
    ASSERT_GE(nChild, 0);
    if (nChild == 0)
    {
        char *pszError = nullptr;
        BWReport *psReport = BWReportOpenAppendingTo(osPath.c_str(), osPath.c_str(), &pszError);
        GDALBatchWarpResult s = Result("child.tif", false, "e");
        const bool bOk = psReport != nullptr && BWReportWrite(psReport, &s, &pszError) &&
                         BWReportClose(psReport, &pszError);
        _exit(bOk ? 0 : 1);
    }
    // Give the child time to get as far as it would without a lock; under
    // load it may get less far, which can only hide the old bug, never fail
    // the fixed code.
    usleep(300 * 1000);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(osFirst.size())), 0);
    const std::string osMine = "{\"source\":\"other_run.tif\",\"ok\":false}\n";
    ASSERT_EQ(write(fd, osMine.data(), osMine.size()), static_cast<ssize_t>(osMine.size()));
    ASSERT_EQ(flock(fd, LOCK_UN), 0);
    close(fd);
    int nStatus = 0;
    ASSERT_EQ(waitpid(nChild, &nStatus, 0), nChild);
    EXPECT_TRUE(WIFEXITED(nStatus) && WEXITSTATUS(nStatus) == 0);
    std::ifstream oIn(osPath);
    std::vector<std::string> aosSources;
    std::string osLine;
    while (std::getline(oIn, osLine))
    {
        BWReportEntry sEntry;
        char *pszError = nullptr;
        EXPECT_TRUE(BWReportParseLine(osLine.c_str(), osLine.size(), &sEntry, &pszError)) << osLine;
        if (sEntry.pszSource != nullptr)
            aosSources.push_back(sEntry.pszSource);
        CPLFree(pszError);
        BWReportEntryClear(&sEntry);
    }
    EXPECT_EQ(aosSources, (std::vector<std::string>{"first.tif", "other_run.tif", "child.tif"}));
}

// A run that opens a report to append to it (-retry_failed R -report R)
// drops a last line cut short by a killed run. It must never take for such
// a line one that another run is writing at that moment (shards of an array
// given the same R): the kernel shows a long write() in progress in the
// file's size and bytes, and the line, truncated away once written, was
// lost (Report.AppendingRunsNeverCutEachOthersLines lost one in a few runs
// on a loaded machine). One run writes long lines while the other opens the
// report again and again.
TEST(Report, OpeningAReportToAppendToNeverDropsALineAnotherRunIsWriting)
{
    bwtest::TempDir oDir;
    const std::string osPath = oDir / "r.jsonl";
    std::ofstream(osPath) << "{\"source\":\"first.tif\",\"ok\":false}\n";
    const int nLines = 12;
    int afdGo[2];
    ASSERT_EQ(pipe(afdGo), 0);
    const pid_t nChild = fork();
    ASSERT_GE(nChild, 0);
    if (nChild == 0)
    {
        close(afdGo[0]);
        char *pszError = nullptr;
        BWReport *psReport = BWReportOpenAppendingTo(osPath.c_str(), osPath.c_str(), &pszError);
        if (psReport == nullptr)
            _exit(1);
        const std::string osLong(4 * 1024 * 1024, 'w');
        bool bOk = write(afdGo[1], "g", 1) == 1;
        for (int i = 0; i < nLines && bOk; ++i)
        {
            const std::string osSource = "writer" + std::to_string(i);
            GDALBatchWarpResult s = Result(osSource.c_str(), false, osLong.c_str());
            bOk = BWReportWrite(psReport, &s, &pszError);
        }
        _exit(BWReportClose(psReport, &pszError) && bOk ? 0 : 1);
    }
    close(afdGo[1]);
    char ch = 0;
    ASSERT_EQ(read(afdGo[0], &ch, 1), 1);
    close(afdGo[0]);
    int nOpens = 0;
    int nStatus = 0;
    pid_t nDone = 0;
    while ((nDone = waitpid(nChild, &nStatus, WNOHANG)) == 0)
    {
        char *pszError = nullptr;
        BWReport *psReport = BWReportOpenAppendingTo(osPath.c_str(), osPath.c_str(), &pszError);
        ASSERT_NE(psReport, nullptr) << pszError;
        ASSERT_TRUE(BWReportClose(psReport, &pszError)) << pszError;
        ++nOpens;
    }
    ASSERT_EQ(nDone, nChild);
    ASSERT_TRUE(WIFEXITED(nStatus) && WEXITSTATUS(nStatus) == 0);
    EXPECT_GT(nOpens, 0);
    std::ifstream oIn(osPath);
    std::string osLine;
    std::vector<std::string> aosSources;
    int nBad = 0;
    while (std::getline(oIn, osLine))
    {
        BWReportEntry sEntry;
        char *pszError = nullptr;
        if (BWReportParseLine(osLine.c_str(), osLine.size(), &sEntry, &pszError))
            aosSources.push_back(sEntry.pszSource);
        else
            ++nBad;
        CPLFree(pszError);
        BWReportEntryClear(&sEntry);
    }
    EXPECT_EQ(nBad, 0);
    std::vector<std::string> aosExpected{"first.tif"};
    for (int i = 0; i < nLines; ++i)
        aosExpected.push_back("writer" + std::to_string(i));
    EXPECT_EQ(aosSources, aosExpected)
        << "lines lost while the report was opened " << nOpens << " times";
}

// A report on standard output (-report /dev/stdout or -, as in
// 'gdal_batchwarp ... -report /dev/stdout >> all.jsonl', shards of an array
// appending to one file) is written a line per write(), as a report file
// is: stdio cut a line longer than its buffer (GDAL's messages) into
// several write() calls, between which another run appending to the same
// file put its own text. Standard output is here a SOCK_SEQPACKET socket,
// which keeps each write() a record of its own.
TEST(Report, ALineToStandardOutputIsOneWrite)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    fflush(stdout);
    const pid_t nChild = fork();
    ASSERT_GE(nChild, 0);
    if (nChild == 0)
    {
        close(sv[0]);
        if (dup2(sv[1], STDOUT_FILENO) < 0)
            _exit(2);
        char *pszError = nullptr;
        BWReport *psReport = BWReportOpen("/dev/stdout", &pszError);
        if (psReport == nullptr)
            _exit(3);
        const std::string osLong(64 * 1024, 'x');
        bool bOk = true;
        for (int i = 0; i < 2 && bOk; ++i)
        {
            const std::string osSource = "s" + std::to_string(i) + ".tif";
            GDALBatchWarpResult s = Result(osSource.c_str(), false, osLong.c_str());
            bOk = BWReportWrite(psReport, &s, &pszError);
        }
        _exit(BWReportClose(psReport, &pszError) && bOk ? 0 : 4);
    }
    close(sv[1]);
    std::vector<std::string> aosRecords;
    std::vector<char> abyBuf(1024 * 1024);
    for (;;)
    {
        const ssize_t n = recv(sv[0], abyBuf.data(), abyBuf.size(), 0);
        if (n <= 0)
            break;
        aosRecords.emplace_back(abyBuf.data(), static_cast<size_t>(n));
    }
    close(sv[0]);
    int nStatus = 0;
    ASSERT_EQ(waitpid(nChild, &nStatus, 0), nChild);
    EXPECT_TRUE(WIFEXITED(nStatus) && WEXITSTATUS(nStatus) == 0) << nStatus;
    ASSERT_EQ(aosRecords.size(), 2u) << "write() calls for 2 lines";
    for (size_t i = 0; i < aosRecords.size(); ++i)
    {
        const std::string &osLine = aosRecords[i];
        ASSERT_FALSE(osLine.empty());
        EXPECT_EQ(osLine.back(), '\n');
        BWReportEntry sEntry;
        char *pszError = nullptr;
        EXPECT_TRUE(BWReportParseLine(osLine.c_str(), osLine.size() - 1, &sEntry, &pszError))
            << (pszError ? pszError : "");
        EXPECT_STREQ(sEntry.pszSource, ("s" + std::to_string(i) + ".tif").c_str());
        CPLFree(pszError);
        BWReportEntryClear(&sEntry);
    }
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

// A name that is not UTF-8 (Linux names are bytes): the line is valid UTF-8
// text, the bad bytes U+FFFD, and the exact bytes in "<field>_bytes", which
// the reader prefers.
TEST(Report, NamesThatAreNotUTF8AreKeptExactBesideValidText)
{
    GDALBatchWarpResult s = Result("in/caf\xe9.tif", false, "`in/caf\xe9.tif' not recognized");
    s.pszOutput = "out/\xc3\xa9t\xe9\xff.tif";
    const char *apszMessages[] = {"ERROR 4: caf\xe9", nullptr};
    s.papszMessages = apszMessages;
    char *pszJson = BWResultToJson(&s);
    const std::string osJson = pszJson;
    EXPECT_TRUE(BWIsUTF8(pszJson, strlen(pszJson))) << osJson;
    EXPECT_EQ(osJson.rfind("{\"source\":\"in/caf\xef\xbf\xbd.tif\",\"source_bytes\":\"" +
                               bwtest::TakeString(BWNameToBase64("in/caf\xe9.tif")) +
                               "\",\"output\":\"out/\xc3\xa9t\xef\xbf\xbd\xef\xbf\xbd.tif\","
                               "\"output_bytes\":\"" +
                               bwtest::TakeString(BWNameToBase64(s.pszOutput)) + "\",\"ok\":false",
                           0),
              0u)
        << osJson;
    EXPECT_NE(osJson.find("\"error\":\"`in/caf\xef\xbf\xbd.tif' not recognized\""),
              std::string::npos)
        << osJson;
    EXPECT_NE(osJson.find("\"messages\":[\"ERROR 4: caf\xef\xbf\xbd\"]"), std::string::npos)
        << osJson;
    EXPECT_EQ(osJson.find("error_bytes"), std::string::npos) << "only file name fields";
    BWReportEntry sEntry;
    char *pszError = nullptr;
    ASSERT_TRUE(BWReportParseLine(pszJson, strlen(pszJson), &sEntry, &pszError)) << pszError;
    EXPECT_STREQ(sEntry.pszSource, "in/caf\xe9.tif");
    EXPECT_STREQ(sEntry.pszOutput, "out/\xc3\xa9t\xe9\xff.tif");
    BWReportEntryClear(&sEntry);
    CPLFree(pszJson);
}

TEST(Report, ValidUTF8NamesGetNoBytesField)
{
    GDALBatchWarpResult s = Result("caf\xc3\xa9 \xef\xbf\xbd.tif", true);
    char *pszJson = BWResultToJson(&s);
    EXPECT_EQ(std::string(pszJson).find("_bytes"), std::string::npos) << pszJson;
    EXPECT_EQ(std::string(pszJson).rfind("{\"source\":\"caf\xc3\xa9 \xef\xbf\xbd.tif\",", 0), 0u);
    CPLFree(pszJson);
}

TEST(Report, DamagedBytesFieldIsABadLine)
{
    for (const char *psz : {"{\"source\":\"a\",\"source_bytes\":\"YQ\",\"ok\":true}",
                            "{\"source\":\"a\",\"source_bytes\":1,\"ok\":true}",
                            "{\"source\":\"a\",\"output_bytes\":\"A===\",\"ok\":true}"})
    {
        BWReportEntry sEntry;
        char *pszError = nullptr;
        EXPECT_FALSE(BWReportParseLine(psz, strlen(psz), &sEntry, &pszError)) << psz;
        EXPECT_NE(bwtest::TakeString(pszError).find("_bytes\" is not the base64"),
                  std::string::npos)
            << psz;
    }
}

// A report written before the bytes fields (a name's raw bytes in the JSON
// string): read as it was, and merged as valid UTF-8 with the bytes field;
// a later line of the same name in the new form replaces it.
TEST(ReportSet, OldLinesWithRawBytesAreMergedAsValidUTF8)
{
    bwtest::TempDir oDir;
    std::ofstream(oDir / "old.jsonl") << "{\"source\":\"caf\xe9.tif\",\"ok\":false}\n"
                                         "{\"source\":\"\xff.tif\",\"ok\":false,"
                                         "\"messages\":[\"\xff\"]}\n";
    GDALBatchWarpResult s = Result("caf\xe9.tif", true);
    char *pszNew = BWResultToJson(&s);
    std::ofstream(oDir / "new.jsonl") << pszNew << "\n";
    CPLFree(pszNew);
    BWReportSet sSet;
    BWReportSetInit(&sSet);
    char *pszError = nullptr;
    ASSERT_TRUE(BWReportSetRead(&sSet, (oDir / "old.jsonl").c_str(), &pszError)) << pszError;
    ASSERT_EQ(sSet.nRecords, 2);
    EXPECT_STREQ(sSet.pasRecords[1].sEntry.pszSource, "\xff.tif");
    EXPECT_STREQ(sSet.pasRecords[1].pszLine,
                 "{\"source\":\"\xef\xbf\xbd.tif\",\"source_bytes\":\"/y50aWY=\",\"ok\":false,"
                 "\"messages\":[\"\xef\xbf\xbd\"]}");
    ASSERT_TRUE(BWReportSetRead(&sSet, (oDir / "new.jsonl").c_str(), &pszError)) << pszError;
    ASSERT_EQ(sSet.nRecords, 2) << "the same name, in either form";
    EXPECT_STREQ(sSet.pasRecords[0].sEntry.pszSource, "caf\xe9.tif");
    EXPECT_TRUE(sSet.pasRecords[0].sEntry.bOk);
    for (int i = 0; i < sSet.nRecords; ++i)
        EXPECT_TRUE(BWIsUTF8(sSet.pasRecords[i].pszLine, strlen(sSet.pasRecords[i].pszLine)));
    BWReportSetClear(&sSet);
}

// Found by fuzz_report_line: a name is the text up to a NUL, as the reader
// takes it; an empty bytes field (which the reader refuses) is never written.
TEST(Report, RewrittenLineNamesWhatTheReaderRead)
{
    const char *pszLine = "{\"source\":\"a\\u0000\xff\",\"ok\":true}";
    json_object *poObj = json_tokener_parse(pszLine);
    ASSERT_NE(poObj, nullptr);
    const std::string osText = bwtest::TakeString(BWReportObjectToText(poObj));
    json_object_put(poObj);
    EXPECT_EQ(osText, "{\"source\":\"a\",\"ok\":true}");
    BWReportEntry sEntry;
    char *pszError = nullptr;
    ASSERT_TRUE(BWReportParseLine(pszLine, strlen(pszLine), &sEntry, &pszError)) << pszError;
    EXPECT_STREQ(sEntry.pszSource, "a");
    BWReportEntryClear(&sEntry);
}

} // namespace
