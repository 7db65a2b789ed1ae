// Source lists and the expansion of directories, trees and patterns.
#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <gdal.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_canonical.h"
#include "batchwarp_sources.h"
}

namespace
{

std::vector<std::string> Split(const std::string &osText, bool bNul)
{
    char **papsz = BWSplitSourceList(osText.data(), osText.size(), bNul ? TRUE : FALSE);
    auto aos = bwtest::ToVector(papsz);
    CSLDestroy(papsz);
    return aos;
}

TEST(SourceList, Lines)
{
    EXPECT_EQ(Split("a.tif\nb c.tif\r\n\n\nd.tif", false),
              (std::vector<std::string>{"a.tif", "b c.tif", "d.tif"}));
    EXPECT_TRUE(Split("", false).empty());
    EXPECT_TRUE(Split("\n\r\n", false).empty());
}

TEST(SourceList, NulSeparatedKeepsNewlines)
{
    const std::string os("a\nb.tif\0c.tif\0\0", 15);
    EXPECT_EQ(Split(os, true), (std::vector<std::string>{"a\nb.tif", "c.tif"}));
}

void MakeRaster(const std::string &osPath)
{
    GDALDriverH hDriver = GDALGetDriverByName("GTiff");
    GDALDatasetH hDS = GDALCreate(hDriver, osPath.c_str(), 4, 4, 1, GDT_Byte, nullptr);
    ASSERT_NE(hDS, nullptr) << osPath;
    GDALClose(hDS);
}

std::vector<std::string> Collect(const std::vector<std::string> &aosSources, bool bRecursive,
                                 const char *pszExclude, std::vector<std::string> *paosRel)
{
    char **papszSources = bwtest::ToCSL(aosSources);
    BWSourceList sList;
    BWCollectSourcesEx(papszSources, bRecursive ? TRUE : FALSE, pszExclude, nullptr, nullptr,
                       &sList);
    std::vector<std::string> aos;
    for (int i = 0; i < sList.nSources; ++i)
    {
        aos.emplace_back(sList.pasSources[i].pszPath);
        if (paosRel)
            paosRel->emplace_back(sList.pasSources[i].pszRelDir);
    }
    BWSourceListClear(&sList);
    CSLDestroy(papszSources);
    return aos;
}

class Tree : public ::testing::Test
{
  protected:
    bwtest::TempDir oDir;
    void SetUp() override
    {
        ASSERT_TRUE(oDir.ok());
        for (const char *pszSub : {"a", "a/b", ".hidden", "out"})
            ASSERT_EQ(VSIMkdir((oDir / pszSub).c_str(), 0755), 0);
        for (const char *pszName :
             {"z.tif", "m.tif", "a/k.tif", "a/b/c.tif", ".hidden/h.tif", ".dot.tif", "out/o.tif"})
            MakeRaster(oDir / pszName);
        std::ofstream(oDir / "notes.txt") << "text";
        std::ofstream(oDir / "m.tif.aux.xml") << "<PAMDataset/>";
    }
};

TEST_F(Tree, FlatListingIsSortedAndSkipsNonSources)
{
    const auto aos = Collect({oDir.path()}, false, nullptr, nullptr);
    EXPECT_EQ(aos, (std::vector<std::string>{oDir / "m.tif", oDir / "z.tif"}));
}

TEST_F(Tree, RecursiveListingGivesRelativeDirsAndExcludesOutdir)
{
    std::vector<std::string> aosRel;
    const std::string osOut = oDir / "out";
    const auto aos = Collect({oDir.path()}, true, osOut.c_str(), &aosRel);
    EXPECT_EQ(aos, (std::vector<std::string>{oDir / "a/b/c.tif", oDir / "a/k.tif", oDir / "m.tif",
                                             oDir / "z.tif"}));
    EXPECT_EQ(aosRel, (std::vector<std::string>{"a/b", "a", "", ""}));
}

TEST_F(Tree, PatternsAndMissingFiles)
{
    const auto aos = Collect({oDir / "*.tif", oDir / "missing.tif", oDir / "none*.tif"}, false,
                             nullptr, nullptr);
    // glob(3) skips dot-files; a pattern without a match stays, to fail as a missing file.
    EXPECT_EQ(aos, (std::vector<std::string>{oDir / "m.tif", oDir / "z.tif", oDir / "missing.tif",
                                             oDir / "none*.tif"}));
}

TEST_F(Tree, DirectoryNamedLikeARasterIsOneSource)
{
    ASSERT_EQ(VSIMkdir((oDir / "dir.tif").c_str(), 0755), 0);
    EXPECT_EQ(Collect({oDir / "dir.tif"}, false, nullptr, nullptr),
              (std::vector<std::string>{oDir / "dir.tif"}));
}

} // namespace

// In a directory of more than 256 names, a source gets as siblings only the
// names its sidecars could have: those that start with its name without the
// last extension. Dotted names (t.0001.tif) once gave every source every
// name, n squared in all.
TEST(SourceList, SiblingsInALargeDirectoryOfDottedNames)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    for (int i = 0; i < 300; ++i)
        std::ofstream(oDir / CPLSPrintf("t.%04d.tif", i)).put('x');
    for (const char *pszSidecar : {"t.0007.tif.ovr", "t.0007.aux", "t.0007_rpc.txt"})
        std::ofstream(oDir / pszSidecar).put('x');
    const char *const apszSources[] = {oDir.path().c_str(), nullptr};
    BWSourceList sList = {};
    BWCollectSourcesEx(apszSources, FALSE, nullptr, nullptr, nullptr, &sList);
    ASSERT_EQ(sList.pszError, nullptr);
    const BWSource *psSource = nullptr;
    for (int i = 0; i < sList.nSources; ++i)
    {
        if (std::string(sList.pasSources[i].pszPath) == oDir / "t.0007.tif")
            psSource = &sList.pasSources[i];
    }
    ASSERT_NE(psSource, nullptr);
    EXPECT_EQ(
        bwtest::ToVector(psSource->papszSiblings),
        (std::vector<std::string>{"t.0007.aux", "t.0007.tif", "t.0007.tif.ovr", "t.0007_rpc.txt"}));
    BWSourceListClear(&sList);
}

// The cached canonical form of a path is BWCanonicalPath's, whatever the
// path: a file, a missing one, a symbolic link (to a file, to a directory,
// dangling), a directory reached through a link, . and .., a missing
// directory, a relative path, a /vsi path; asked in any order, so that the
// cache is hit and missed.
TEST(CanonicalPath, CachedIsTheSameAsUncached)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osReal = oDir / "real";
    ASSERT_EQ(mkdir(osReal.c_str(), 0700), 0);
    ASSERT_EQ(symlink(osReal.c_str(), (oDir / "via").c_str()), 0);
    std::ofstream(osReal + "/a.tif") << "x";
    ASSERT_EQ(symlink((osReal + "/a.tif").c_str(), (osReal + "/link.tif").c_str()), 0);
    ASSERT_EQ(symlink("../real", (osReal + "/updir").c_str()), 0);
    ASSERT_EQ(symlink((oDir / "nowhere.tif").c_str(), (osReal + "/dangling.tif").c_str()), 0);
    const std::vector<std::string> aosPaths = {
        osReal + "/a.tif",
        oDir / "via/a.tif",
        osReal + "/missing.tif",
        oDir / "via/missing.tif",
        osReal + "/link.tif",
        oDir / "via/link.tif",
        osReal + "/updir",
        osReal + "/dangling.tif",
        osReal + "/.",
        osReal + "/..",
        oDir / "via/updir/a.tif",
        oDir / "none/x.tif",
        oDir / "via/../via/a.tif",
        "relative_missing.tif",
        "/vsis3/bucket/a.tif",
        osReal + "/a.tif",
        oDir / "none/y.tif",
        osReal + "/missing.tif",
    };
    BWCanonicalCache sCache = {nullptr, nullptr, FALSE};
    for (const auto &osPath : aosPaths)
    {
        char *pszExpected = BWCanonicalPath(osPath.c_str());
        char *pszGot = BWCanonicalPathCached(&sCache, osPath.c_str());
        EXPECT_STREQ(pszGot, pszExpected) << osPath;
        CPLFree(pszExpected);
        CPLFree(pszGot);
    }
    BWCanonicalCacheClear(&sCache);
}
