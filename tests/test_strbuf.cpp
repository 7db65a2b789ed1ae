// The growable string (after git's strbuf) and the texts built with it,
// which CPLSPrintf() used to cut at 8000 bytes.
#include <gtest/gtest.h>

#include <string>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_naming.h"
#include "batchwarp_protocol.h"
#include "batchwarp_strbuf.h"
}

namespace
{

TEST(StrBuf, StartsEmptyAndOwnsNothing)
{
    BWStrBuf sSB = BW_STRBUF_INIT;
    EXPECT_STREQ(BWStrBufGet(&sSB), "");
    EXPECT_EQ(sSB.nLen, 0u);
    EXPECT_EQ(sSB.pszBuf, nullptr);
    char *psz = BWStrBufDetach(&sSB);
    EXPECT_STREQ(psz, "");
    CPLFree(psz);
    BWStrBufRelease(&sSB);
}

TEST(StrBuf, AddsAndFormatsPastAnyFixedLimit)
{
    BWStrBuf sSB = BW_STRBUF_INIT;
    std::string osExpected;
    for (int i = 0; i < 2000; ++i)
    {
        char *pszItem = BWStrPrintf("%d:%s;", i, "message");
        BWStrBufAddStr(&sSB, pszItem);
        CPLFree(pszItem);
        osExpected += std::to_string(i) + ":message;";
        BWStrBufAddCh(&sSB, 'x');
        osExpected += 'x';
    }
    BWStrBufAdd(&sSB, "ab\0cd", 2);
    osExpected += "ab";
    BWStrBufAddStr(&sSB, "!");
    osExpected += "!";
    ASSERT_GT(osExpected.size(), 20000u);
    EXPECT_EQ(sSB.nLen, osExpected.size());
    EXPECT_EQ(std::string(BWStrBufGet(&sSB)), osExpected);
    BWStrBufSetLength(&sSB, 3);
    EXPECT_STREQ(BWStrBufGet(&sSB), "0:m");
    char *psz = BWStrBufDetach(&sSB);
    EXPECT_STREQ(psz, "0:m");
    EXPECT_EQ(sSB.pszBuf, nullptr);
    CPLFree(psz);
}

TEST(StrBuf, PrintfHasNoLengthLimit)
{
    const std::string osLong(20000, 'q');
    char *psz = BWStrPrintf("<%s|%d>", osLong.c_str(), 7);
    EXPECT_EQ(std::string(psz), "<" + osLong + "|7>");
    CPLFree(psz);
}

// Issue 14 item 5: a task's GDAL messages are joined whole into its report
// line, however many there are.
TEST(StrBuf, EveryMessageOfATaskIsKeptWhole)
{
    BWMessage sMsg;
    memset(&sMsg, 0, sizeof(sMsg));
    std::string osExpected;
    for (int i = 0; i < 40; ++i)
    {
        const std::string osError = "error " + std::to_string(i) + ": " + std::string(400, 'e');
        sMsg.papszFields = CSLAddNameValue(sMsg.papszFields, "ERROR", osError.c_str());
        osExpected += (i ? "\n" : "") + osError;
    }
    sMsg.papszFields = CSLAddNameValue(sMsg.papszFields, "OK", "0");
    char *pszJoined = BWMessageJoin(&sMsg, "ERROR");
    ASSERT_NE(pszJoined, nullptr);
    EXPECT_GT(osExpected.size(), 8000u);
    EXPECT_EQ(std::string(pszJoined), osExpected);
    CPLFree(pszJoined);
    EXPECT_EQ(BWMessageJoin(&sMsg, "WARNING"), nullptr);
    CSLDestroy(sMsg.papszFields);
}

// An output name longer than 8000 bytes is not cut either.
TEST(StrBuf, LongOutputTemplateIsExpandedWhole)
{
    std::string osTemplate;
    std::string osExpected;
    for (int i = 0; i < 100; ++i)
    {
        osTemplate += std::string(90, 'd') + "/";
        osExpected += std::string(90, 'd') + "/";
    }
    osTemplate += "{stem}{suffix}.{ext}";
    osExpected += "x_s.tif";
    char *pszError = nullptr;
    char *pszName =
        BWExpandOutputTemplate(osTemplate.c_str(), "/in/x.tif", "", "_s", "tif", &pszError);
    ASSERT_NE(pszName, nullptr) << (pszError ? pszError : "");
    EXPECT_EQ(std::string(pszName), osExpected);
    CPLFree(pszName);
}

} // namespace
