// File names in the JSON report: strict UTF-8 validation, U+FFFD for the
// bytes that are not UTF-8, and base64 of a name's exact bytes both ways.
#include <gtest/gtest.h>

#include <string>

#include <cpl_conv.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_utf8.h"
}

namespace
{

bool IsUTF8(const std::string &os)
{
    return BWIsUTF8(os.data(), os.size()) != 0;
}

std::string Replaced(const char *psz)
{
    return bwtest::TakeString(BWUTF8Replace(psz));
}

TEST(UTF8, ValidAsStrictDecodersReadIt)
{
    for (const char *psz : {"", "plain.tif", "caf\xc3\xa9.tif", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                            "\xed\x9f\xbf" /* U+D7FF */, "\xee\x80\x80" /* U+E000 */,
                            "\xf4\x8f\xbf\xbf" /* U+10FFFF */, "\xef\xbf\xbd"})
        EXPECT_TRUE(IsUTF8(psz)) << psz;
    for (const char *psz :
         {"caf\xe9.tif", "\xff", "\xfe", "\x80", "ok\xc3", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf",
          "\xf0\x80\x80\xaf" /* overlong */, "\xed\xa0\x80", "\xed\xbf\xbf" /* surrogates */,
          "\xf4\x90\x80\x80", "\xf5\x80\x80\x80" /* above U+10FFFF */, "\xe2\x82", "\xe2\x82\x41",
          "\xf0\x9f\x98"})
        EXPECT_FALSE(IsUTF8(psz)) << psz;
    // Its own length, not the NUL: the bytes after nLen are not looked at.
    EXPECT_TRUE(BWIsUTF8("ab\xff", 2));
}

TEST(UTF8, EachBadByteBecomesTheReplacementCharacter)
{
    EXPECT_EQ(Replaced("plain.tif"), "plain.tif");
    EXPECT_EQ(Replaced("caf\xc3\xa9.tif"), "caf\xc3\xa9.tif");
    EXPECT_EQ(Replaced("caf\xe9.tif"), "caf\xef\xbf\xbd.tif");
    EXPECT_EQ(Replaced("\xff"), "\xef\xbf\xbd");
    EXPECT_EQ(Replaced("\xc3\xa9\xff\xc3\xa9"), "\xc3\xa9\xef\xbf\xbd\xc3\xa9");
    EXPECT_EQ(Replaced("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(Replaced("a\xe2\x82"), "a\xef\xbf\xbd\xef\xbf\xbd");
    for (const char *psz : {"caf\xe9.tif", "\xff\xfe\xfd", "\xf0\x9f\x98", "x\xed\xa0\x80y"})
        EXPECT_TRUE(IsUTF8(Replaced(psz))) << psz;
}

TEST(UTF8, Base64KeepsTheExactBytes)
{
    EXPECT_EQ(bwtest::TakeString(BWNameToBase64("caf\xe9.tif")), "Y2Fm6S50aWY=");
    EXPECT_EQ(bwtest::TakeString(BWNameToBase64("\xff")), "/w==");
    for (const char *psz : {"caf\xe9.tif", "\xff", "ab", "abc", "abcd", "/d/\xc3\xa9\xff.tif",
                            "\x01\x7f\x80\xfe\xff"})
    {
        char *pszBase64 = BWNameToBase64(psz);
        EXPECT_EQ(bwtest::TakeString(BWBase64ToName(pszBase64)), psz);
        CPLFree(pszBase64);
    }
}

TEST(UTF8, DamagedBase64IsRefused)
{
    // Not base64 of a name: empty, unpadded, foreign characters, padding in
    // the middle, too much padding, a NUL byte in what it decodes to.
    for (const char *psz : {"", "Y2Fm6S50aWY", "Y2Fm6S50aW Y=", "Y2Fm-S50aWY=", "Y2Fm6S50aWY=!!!",
                            "Y2=m6S50aWY=", "A===", "====", "AA=A", "AAAA", "YQBi"})
        EXPECT_EQ(BWBase64ToName(psz), nullptr) << psz;
}

} // namespace
