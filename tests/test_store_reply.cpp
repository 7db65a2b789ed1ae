// What an object store answered, from GDAL's messages: which answers a
// request made again would get too, and the reason a failed call gives.
#include <gtest/gtest.h>

#include <string>

#include <cpl_conv.h>
#include <cpl_error.h>

extern "C"
{
#include "batchwarp_store_reply.h"
}

namespace
{

int nReachedBelow = 0;
void CPL_STDCALL CountBelow(CPLErr, CPLErrorNum, const char *)
{
    ++nReachedBelow;
}

std::string osBelow;
void CPL_STDCALL RecordBelow(CPLErr eClass, CPLErrorNum nNo, const char *pszMsg)
{
    osBelow +=
        std::to_string(static_cast<int>(eClass)) + "/" + std::to_string(nNo) + ":" + pszMsg + "\n";
}

int nCaughtAbove = 0;
void CPL_STDCALL PassEverythingOn(CPLErr eClass, CPLErrorNum nNo, const char *pszMsg)
{
    ++nCaughtAbove;
    BWPassOnBelow(PassEverythingOn, &nCaughtAbove, eClass, nNo, pszMsg);
}

TEST(StoreReply, ErrorCodesThatDoNotChangeArePermanent)
{
    EXPECT_TRUE(BWStoreErrorIsPermanent(
        "S3: <?xml version=\"1.0\" encoding=\"UTF-8\"?> <Error><Code>NoSuchBucket</Code>"
        "<Message>The specified bucket does not exist</Message></Error>"));
    EXPECT_TRUE(BWStoreErrorIsPermanent("<Error><Code>AccessDenied</Code></Error>"));
    EXPECT_TRUE(BWStoreErrorIsPermanent("AZURE: <Error><Code>ContainerNotFound</Code></Error>"));
    EXPECT_TRUE(BWStoreErrorIsPermanent(
        "ADLS: {\"error\":{\"code\":\"FilesystemNotFound\",\"message\":\"x\"}}"));
}

TEST(StoreReply, ThrottlingServerFailuresAndRepliesWithoutACodeAreNot)
{
    EXPECT_FALSE(BWStoreErrorIsPermanent("<Error><Code>SlowDown</Code></Error>"));
    EXPECT_FALSE(BWStoreErrorIsPermanent("<Error><Code>InternalError</Code></Error>"));
    EXPECT_FALSE(BWStoreErrorIsPermanent("AZURE: <Error><Code>ServerBusy</Code></Error>"));
    EXPECT_FALSE(BWStoreErrorIsPermanent("<Error><Code>RequestTimeout</Code></Error>"));
    // A code that is a prefix or an extension of a transient one is neither.
    EXPECT_TRUE(BWStoreErrorIsPermanent("<Error><Code>SlowDownNow</Code></Error>"));
    EXPECT_TRUE(BWStoreErrorIsPermanent("<Error><Code>Slow</Code></Error>"));
    // Dropped, cut short, or no reply at all.
    EXPECT_FALSE(BWStoreErrorIsPermanent("S3: no reply (the connection was dropped)"));
    EXPECT_FALSE(BWStoreErrorIsPermanent("<Error><Code>NoSuchBu"));
    EXPECT_FALSE(BWStoreErrorIsPermanent("<Error><Code></Code></Error>"));
    EXPECT_FALSE(BWStoreErrorIsPermanent(""));
    EXPECT_FALSE(BWStoreErrorIsPermanent(nullptr));
}

TEST(StoreReply, AReasonIsOneShortLineAndNoReplyIsSaidInWords)
{
    char *psz = BWStoreReasonLine("S3: <a>\r\n<b>");
    EXPECT_STREQ(psz, "S3: <a>  <b>");
    CPLFree(psz);
    psz = BWStoreReasonLine("HTTP error code: 0 - (null)");
    EXPECT_STREQ(psz, "HTTP error code: 0 - no reply (no connection, or it was dropped)");
    CPLFree(psz);
    psz = BWStoreReasonLine(std::string(1000, 'x').c_str());
    EXPECT_EQ(std::string(psz), std::string(297, 'x') + "...");
    CPLFree(psz);
}

TEST(StoreReply, ACaptureGivesTheStoresReplyBeforeTheErrorRaisedAfterIt)
{
    nReachedBelow = 0;
    CPLPushErrorHandler(CountBelow);
    BWStoreCapture *psCapture = BWStoreCaptureBegin();
    CPLDebug("S3", "<?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code></Error>");
    CPLError(CE_Failure, CPLE_AppDefined, "DoSinglePartPUT of /vsis3/b/x failed");
    char *pszReason = BWStoreCaptureEnd(psCapture);
    ASSERT_NE(pszReason, nullptr);
    // One line: the XML's line break is a space.
    EXPECT_STREQ(pszReason, "S3: <?xml version=\"1.0\"?> <Error><Code>NoSuchBucket</Code></Error>");
    CPLFree(pszReason);
    // Both were caught: the error is reported once, by the caller.
    CPLPopErrorHandler();
    EXPECT_EQ(nReachedBelow, 0);
    CPLErrorReset();
}

TEST(StoreReply, ACaptureWithoutAReplyGivesTheLastErrorOrNothing)
{
    BWStoreCapture *psCapture = BWStoreCaptureBegin();
    CPLDebug("S3", "a debug message with no error reply");
    CPLError(CE_Failure, CPLE_AppDefined, "first");
    CPLError(CE_Failure, CPLE_AppDefined, "second");
    char *pszReason = BWStoreCaptureEnd(psCapture);
    ASSERT_NE(pszReason, nullptr);
    EXPECT_STREQ(pszReason, "second");
    CPLFree(pszReason);

    psCapture = BWStoreCaptureBegin();
    EXPECT_EQ(BWStoreCaptureEnd(psCapture), nullptr);
}

TEST(StoreReply, ACaptureLeavesTheThreadsDebugSettingAsItWas)
{
    CPLSetThreadLocalConfigOption("CPL_DEBUG", "MINE");
    BWStoreCapture *psCapture = BWStoreCaptureBegin();
    CPLFree(BWStoreCaptureEnd(psCapture));
    EXPECT_STREQ(CPLGetThreadLocalConfigOption("CPL_DEBUG", nullptr), "MINE");
    CPLSetThreadLocalConfigOption("CPL_DEBUG", nullptr);
    psCapture = BWStoreCaptureBegin();
    CPLFree(BWStoreCaptureEnd(psCapture));
    EXPECT_EQ(CPLGetThreadLocalConfigOption("CPL_DEBUG", nullptr), nullptr);
}

TEST(StoreReply, DebugMessagesTheUserAskedForStillReachThem)
{
    CPLSetConfigOption("CPL_DEBUG", "ON");
    nReachedBelow = 0;
    CPLPushErrorHandler(CountBelow);
    CPLSetCurrentErrorHandlerCatchDebug(TRUE);
    BWStoreCapture *psCapture = BWStoreCaptureBegin();
    CPLDebug("S3", "<Error><Code>AccessDenied</Code></Error>");
    char *pszReason = BWStoreCaptureEnd(psCapture);
    CPLPopErrorHandler();
    CPLSetConfigOption("CPL_DEBUG", nullptr);
    EXPECT_EQ(nReachedBelow, 1);
    ASSERT_NE(pszReason, nullptr);
    EXPECT_STREQ(pszReason, "S3: <Error><Code>AccessDenied</Code></Error>");
    CPLFree(pszReason);
}

TEST(StoreReply, AMessagePassedOnReachesTheHandlerBelowAsItWasRaised)
{
    CPLSetConfigOption("CPL_DEBUG", "ON");
    osBelow.clear();
    nCaughtAbove = 0;
    CPLPushErrorHandler(RecordBelow);
    CPLSetCurrentErrorHandlerCatchDebug(TRUE);
    CPLPushErrorHandlerEx(PassEverythingOn, &nCaughtAbove);
    CPLSetCurrentErrorHandlerCatchDebug(TRUE);
    CPLDebug("S3", "a reply");
    CPLError(CE_Warning, CPLE_AppDefined, "a warning");
    CPLDebug("S3", "another");
    // The handler that passed them on is on top again, with its data.
    EXPECT_EQ(CPLGetErrorHandlerUserData(), &nCaughtAbove);
    CPLPopErrorHandler();
    CPLPopErrorHandler();
    CPLSetConfigOption("CPL_DEBUG", nullptr);
    EXPECT_EQ(nCaughtAbove, 3);
    EXPECT_EQ(osBelow, std::to_string(static_cast<int>(CE_Debug)) + "/0:S3: a reply\n" +
                           std::to_string(static_cast<int>(CE_Warning)) + "/" +
                           std::to_string(CPLE_AppDefined) + ":a warning\n" +
                           std::to_string(static_cast<int>(CE_Debug)) + "/0:S3: another\n");
}

} // namespace
