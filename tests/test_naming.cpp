// Output name templates.
#include <gtest/gtest.h>

#include <string>

#include <cpl_conv.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_naming.h"
#include "batchwarp_plan.h"
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

} // namespace
