// Output name templates.
#include <gtest/gtest.h>

#include <string>

#include <cpl_conv.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_naming.h"
#include "batchwarp_plan.h"
#include "batchwarp_util.h"
}

namespace
{

std::string Expand(const char *pszTemplate, const char *pszSource, const char *pszRel = "",
                   const char *pszSuffix = "", const char *pszExt = "tif")
{
    char *pszError = nullptr;
    char *pszName =
        BWExpandOutputTemplate(pszTemplate, pszSource, pszRel, pszSuffix, pszExt, &pszError);
    if (pszName == nullptr)
        return "ERROR: " + bwtest::TakeString(pszError);
    return bwtest::TakeString(pszName);
}

TEST(OutputTemplate, DefaultTemplate)
{
    EXPECT_EQ(Expand(BW_DEFAULT_OUTPUT_TEMPLATE, "/in/x.tif"), "x.tif");
    EXPECT_EQ(Expand(BW_DEFAULT_OUTPUT_TEMPLATE, "/in/a/b/x.jp2", "a/b", "_m"), "a/b/x_m.tif");
    // A driver without an extension (ENVI): no trailing dot.
    EXPECT_EQ(Expand(BW_DEFAULT_OUTPUT_TEMPLATE, "/in/x.tif", "", "", ""), "x");
}

TEST(OutputTemplate, Placeholders)
{
    EXPECT_EQ(Expand("{parent}/{name}.{ext}", "/data/in/x.y.tif", "", "", "vrt"), "in/x.y.tif.vrt");
    EXPECT_EQ(Expand("{stem}{suffix}", "/d/x.tif", "", "_3857"), "x_3857");
    EXPECT_EQ(Expand("fixed/{relpath}/{stem}.{ext}", "/d/q/x.tif", "q"), "fixed/q/x.tif");
}

TEST(OutputTemplate, RefusesNamesOutsideOutdir)
{
    for (const char *pszTemplate : {"../{stem}.tif", "/abs/{stem}", "{relpath}/../x", "./x", ""})
    {
        const std::string os = Expand(pszTemplate, "/d/x.tif");
        EXPECT_EQ(os.rfind("ERROR: ", 0), 0u) << pszTemplate << " gave " << os;
    }
    EXPECT_NE(Expand("{nope}", "/d/x.tif").find("unknown placeholder '{nope}'"), std::string::npos);
    EXPECT_NE(Expand("{stem", "/d/x.tif").find("unclosed"), std::string::npos);
}

std::string Dir(const char *pszPath)
{
    return bwtest::TakeString(BWPathDir(pszPath));
}

std::string Stem(const char *pszPath)
{
    return bwtest::TakeString(BWPathStem(pszPath));
}

// On POSIX a backslash is part of a file name, never a separator.
TEST(PathSplit, OnlySlashSeparatesLocalPaths)
{
    EXPECT_STREQ(BWPathName("d\\a\\b.tif"), "d\\a\\b.tif");
    EXPECT_STREQ(BWPathName("/in/x\\y.tif"), "x\\y.tif");
    EXPECT_EQ(Dir("/in/x\\y.tif"), "/in");
    EXPECT_EQ(Dir("x\\y.tif"), "");
    EXPECT_EQ(Stem("/in/x\\y.tif"), "x\\y");
    EXPECT_EQ(Stem("/in.d/x\\y"), "x\\y");
    EXPECT_EQ(Stem("a.b\\c"), "a");
    EXPECT_EQ(Stem("/d/a.b.tif"), "a.b");
}

TEST(PathSplit, EdgeCases)
{
    EXPECT_STREQ(BWPathName("a.tif"), "a.tif");
    EXPECT_STREQ(BWPathName("d/"), "");
    EXPECT_EQ(Dir("a.tif"), "");
    EXPECT_EQ(Dir("/a.tif"), "/");
    EXPECT_EQ(Dir("d//a.tif"), "d");
    EXPECT_EQ(Dir("/d/e/a.tif"), "/d/e");
    EXPECT_EQ(Dir("d/"), "d");
    EXPECT_EQ(Stem("d/noext"), "noext");
    EXPECT_EQ(Stem(".hidden"), "");
}

// Paths under /vsi keep GDAL's own splitting.
TEST(PathSplit, VSIPathsAsGDALSplitsThem)
{
    EXPECT_STREQ(BWPathName("/vsis3/b/k/x.tif"), "x.tif");
    EXPECT_EQ(Dir("/vsis3/b/k/x.tif"), "/vsis3/b/k");
    EXPECT_EQ(Stem("/vsis3/b/k/x.tif"), "x");
}

// The names a template gives keep the backslash: "x\\y.tif" and "y.tif" do
// not collide.
TEST(OutputTemplate, BackslashIsPartOfTheName)
{
    EXPECT_EQ(Expand("{stem}.{ext}", "/in/x\\y.tif"), "x\\y.tif");
    EXPECT_EQ(Expand("{name}", "/in/x\\y.tif"), "x\\y.tif");
    EXPECT_EQ(Expand("{parent}/{stem}.{ext}", "/in\\d/x\\y.tif"), "in\\d/x\\y.tif");
    EXPECT_NE(Expand("{stem}.{ext}", "/in/x\\y.tif"), Expand("{stem}.{ext}", "/in/y.tif"));
}

} // namespace
