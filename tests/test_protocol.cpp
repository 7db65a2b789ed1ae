// The framed protocol between supervisor and workers.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_protocol.h"
}

namespace
{

std::vector<unsigned char> Encode(BWMessageType eType, const std::vector<std::string> &aosFields)
{
    char **papsz = bwtest::ToCSL(aosFields);
    unsigned char *pabyOut = nullptr;
    size_t nOut = 0;
    char *pszError = nullptr;
    EXPECT_TRUE(BWMessageEncode(eType, papsz, &pabyOut, &nOut, &pszError)) << pszError;
    CPLFree(pszError);
    std::vector<unsigned char> aby(pabyOut, pabyOut + nOut);
    CPLFree(pabyOut);
    CSLDestroy(papsz);
    return aby;
}

// Feeds bytes in chunks of nChunk and collects every message decoded.
struct Decoded
{
    std::vector<std::pair<int, std::vector<std::string>>> aoMessages;
    std::string osError;
    int nLast = 0;
};

Decoded Decode(const std::vector<unsigned char> &aby, size_t nChunk)
{
    Decoded o;
    BWFrameDecoder *psDecoder = BWFrameDecoderNew();
    for (size_t nPos = 0; nPos < aby.size() && o.osError.empty(); nPos += nChunk)
    {
        BWFrameDecoderFeed(psDecoder, aby.data() + nPos, std::min(nChunk, aby.size() - nPos));
        for (;;)
        {
            BWMessage sMsg = {BW_MSG_INIT, nullptr};
            char *pszError = nullptr;
            o.nLast = BWFrameDecoderNext(psDecoder, &sMsg, &pszError);
            if (o.nLast < 0)
                o.osError = pszError ? pszError : "?";
            CPLFree(pszError);
            if (o.nLast <= 0)
                break;
            o.aoMessages.emplace_back(static_cast<int>(sMsg.eType),
                                      bwtest::ToVector(sMsg.papszFields));
            BWMessageClear(&sMsg);
        }
    }
    BWFrameDecoderFree(psDecoder);
    return o;
}

TEST(Protocol, RoundTripWholeAndByteByByte)
{
    const std::vector<std::string> aosFields{"ID=7", "SRC=/a b/é.tif", "ERROR=x=y, z", "EMPTY="};
    auto aby = Encode(BW_MSG_TASK, aosFields);
    ASSERT_EQ(aby.size() > BW_HEADER_SIZE, true);
    EXPECT_EQ(aby[0], 'B');
    EXPECT_EQ(aby[1], 'W');
    EXPECT_EQ(aby[2], BW_PROTOCOL_VERSION);
    EXPECT_EQ(aby[3], BW_MSG_TASK);
    for (size_t nChunk : {aby.size(), static_cast<size_t>(1), static_cast<size_t>(3)})
    {
        Decoded o = Decode(aby, nChunk);
        ASSERT_TRUE(o.osError.empty()) << o.osError;
        ASSERT_EQ(o.aoMessages.size(), 1u);
        EXPECT_EQ(o.aoMessages[0].first, BW_MSG_TASK);
        EXPECT_EQ(o.aoMessages[0].second, aosFields);
    }
}

TEST(Protocol, SeveralFramesInOneFeedAndEmptyPayload)
{
    auto aby = Encode(BW_MSG_INIT, {"A=1"});
    auto abyQuit = Encode(BW_MSG_QUIT, {});
    auto abyResult = Encode(BW_MSG_RESULT, {"OK=1"});
    aby.insert(aby.end(), abyQuit.begin(), abyQuit.end());
    aby.insert(aby.end(), abyResult.begin(), abyResult.end());
    Decoded o = Decode(aby, aby.size());
    ASSERT_TRUE(o.osError.empty()) << o.osError;
    ASSERT_EQ(o.aoMessages.size(), 3u);
    EXPECT_EQ(o.aoMessages[1].first, BW_MSG_QUIT);
    EXPECT_TRUE(o.aoMessages[1].second.empty());
    EXPECT_EQ(o.aoMessages[2].second, std::vector<std::string>{"OK=1"});
}

TEST(Protocol, RejectsCorruptFrames)
{
    auto aby = Encode(BW_MSG_TASK, {"ID=1"});
    auto abyBadMagic = aby;
    abyBadMagic[0] = 'X';
    EXPECT_NE(Decode(abyBadMagic, 64).osError.find("bad magic"), std::string::npos);
    auto abyBadVersion = aby;
    abyBadVersion[2] = 99;
    EXPECT_NE(Decode(abyBadVersion, 64).osError.find("version"), std::string::npos);
    auto abyBadType = aby;
    abyBadType[3] = 42;
    EXPECT_NE(Decode(abyBadType, 64).osError.find("unknown type 42"), std::string::npos);
    auto abyHuge = aby;
    abyHuge[4] = abyHuge[5] = abyHuge[6] = abyHuge[7] = 0xff; // 4 GiB payload
    EXPECT_FALSE(Decode(abyHuge, 64).osError.empty());
    auto abyNotKV = Encode(BW_MSG_TASK, {"IDONLY"});
    EXPECT_FALSE(Decode(abyNotKV, 64).osError.empty()) << "a field must be KEY=VALUE";
}

TEST(Protocol, IncompleteFrameWaitsForMore)
{
    auto aby = Encode(BW_MSG_RESULT, {"OK=1", "SECONDS=0.5"});
    aby.pop_back();
    Decoded o = Decode(aby, aby.size());
    EXPECT_TRUE(o.osError.empty());
    EXPECT_TRUE(o.aoMessages.empty());
    EXPECT_EQ(o.nLast, 0);
}

TEST(Protocol, ReadWriteOverASocketpairAndEndOfStream)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char **papsz = bwtest::ToCSL({"ID=3", "DST=/out/x.tif"});
    char *pszError = nullptr;
    ASSERT_TRUE(BWMessageWrite(sv[0], BW_MSG_TASK, papsz, &pszError)) << pszError;
    ASSERT_TRUE(BWMessageWrite(sv[0], BW_MSG_QUIT, nullptr, &pszError)) << pszError;
    close(sv[0]);
    BWFrameDecoder *psDecoder = BWFrameDecoderNew();
    BWMessage sMsg = {BW_MSG_INIT, nullptr};
    ASSERT_EQ(BWMessageRead(sv[1], psDecoder, &sMsg, &pszError), 1);
    EXPECT_EQ(sMsg.eType, BW_MSG_TASK);
    EXPECT_STREQ(BWMessageGet(&sMsg, "DST"), "/out/x.tif");
    EXPECT_EQ(BWMessageGet(&sMsg, "SRC"), nullptr);
    BWMessageClear(&sMsg);
    ASSERT_EQ(BWMessageRead(sv[1], psDecoder, &sMsg, &pszError), 1);
    EXPECT_EQ(sMsg.eType, BW_MSG_QUIT);
    BWMessageClear(&sMsg);
    EXPECT_EQ(BWMessageRead(sv[1], psDecoder, &sMsg, &pszError), 0) << "end of stream";
    BWFrameDecoderFree(psDecoder);
    CSLDestroy(papsz);
    close(sv[1]);
}

TEST(Protocol, EndOfStreamInsideAFrameIsAnError)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    auto aby = Encode(BW_MSG_RESULT, {"OK=1"});
    ASSERT_EQ(write(sv[0], aby.data(), aby.size() - 2), static_cast<ssize_t>(aby.size() - 2));
    close(sv[0]);
    BWFrameDecoder *psDecoder = BWFrameDecoderNew();
    BWMessage sMsg = {BW_MSG_INIT, nullptr};
    char *pszError = nullptr;
    EXPECT_EQ(BWMessageRead(sv[1], psDecoder, &sMsg, &pszError), -1);
    EXPECT_NE(bwtest::TakeString(pszError).find("in the middle of a message"), std::string::npos);
    BWFrameDecoderFree(psDecoder);
    close(sv[1]);
}

} // namespace
