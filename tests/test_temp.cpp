// Temporary directories (batchwarp_temp.c): made exclusively under random
// names, marked and locked; stale ones removed only when proven to be a gone
// run's, and without following any link.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <cpl_conv.h>

#include "test_util.h"

extern "C"
{
#include "batchwarp_temp.h"
}

namespace
{

bool Exists(const std::string &osPath)
{
    struct stat sStat;
    return lstat(osPath.c_str(), &sStat) == 0;
}

// A directory as a killed run leaves it: marked, unlocked.
void MakeDeadRunDir(const std::string &osPath)
{
    ASSERT_EQ(mkdir(osPath.c_str(), 0700), 0);
    std::ofstream(osPath + "/" BW_TEMP_MARKER) << "gdal_batchwarp temporary directory\n";
    std::ofstream(osPath + "/x.tif") << "partial";
}

} // namespace

TEST(TempDir, IsNewRandomPrivateMarkedAndLocked)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    ASSERT_TRUE(BWMakeTempDir(oDir.path().c_str()));
    const std::string osTemp = BWTempDirOf(oDir.path().c_str());
    EXPECT_TRUE(BWIsTempName(CPLGetFilename(osTemp.c_str())));
    // 128 random bits in hex, nothing of the host or pid.
    EXPECT_EQ(strlen(CPLGetFilename(osTemp.c_str())), strlen(BW_TEMP_PREFIX) + 32);
    struct stat sStat;
    ASSERT_EQ(lstat(osTemp.c_str(), &sStat), 0);
    EXPECT_TRUE(S_ISDIR(sStat.st_mode));
    EXPECT_EQ(sStat.st_mode & 0777, 0700u);
    EXPECT_EQ(sStat.st_uid, geteuid());
    // The marker is locked while the run lives: nobody else can take it.
    const int fd = open((osTemp + "/" BW_TEMP_MARKER).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    EXPECT_NE(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
    // A second call keeps the same directory; another output directory gets
    // another name.
    EXPECT_TRUE(BWMakeTempDir(oDir.path().c_str()));
    EXPECT_EQ(std::string(BWTempDirOf(oDir.path().c_str())), osTemp);
    char *pszPath = BWTempPathFor((oDir / "x.tif").c_str());
    EXPECT_EQ(std::string(pszPath), osTemp + "/x.tif");
    CPLFree(pszPath);
    // Live: a stale scan of the same directory (as another run would do)
    // leaves it alone.
    EXPECT_EQ(BWRemoveStaleTemps(oDir.path().c_str()), 0);
    EXPECT_TRUE(Exists(osTemp));
    std::ofstream(osTemp + "/x.tif") << "partial";
    BWRemoveTempDir(oDir.path().c_str());
    EXPECT_FALSE(Exists(osTemp));
    EXPECT_EQ(BWTempDirOf(oDir.path().c_str()), nullptr);
}

// Out of descriptors (ulimit -n too low for the batch) just after the
// directory is made, before it is opened (one descriptor free: the parent's)
// or before its marker is (two free): it is removed, not left behind
// unmarked (which no later run can prove stale), and no other name is tried.
class TempDirOutOfDescriptors : public ::testing::TestWithParam<int>
{
};

TEST_P(TempDirOutOfDescriptors, LeavesNoDirectoryBehind)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    std::vector<int> anFds;
    for (int fd; (fd = dup(0)) >= 0;)
        anFds.push_back(fd);
    ASSERT_EQ(errno, EMFILE);
    ASSERT_GE(anFds.size(), static_cast<size_t>(GetParam()));
    for (int i = 0; i < GetParam(); ++i)
    {
        close(anFds.back());
        anFds.pop_back();
    }
    const bool bMade = BWMakeTempDir(oDir.path().c_str());
    const int nErr = errno;
    for (int fd : anFds)
        close(fd);
    EXPECT_FALSE(bMade);
    EXPECT_EQ(nErr, EMFILE);
    std::vector<std::string> aosLeft;
    if (DIR *psDir = opendir(oDir.path().c_str()))
    {
        while (const struct dirent *psEntry = readdir(psDir))
        {
            if (strcmp(psEntry->d_name, ".") != 0 && strcmp(psEntry->d_name, "..") != 0)
                aosLeft.push_back(psEntry->d_name);
        }
        closedir(psDir);
    }
    EXPECT_TRUE(aosLeft.empty()) << aosLeft.size() << " left, the first " << aosLeft[0];
}

INSTANTIATE_TEST_SUITE_P(TempDir, TempDirOutOfDescriptors, ::testing::Values(1, 2));

TEST(TempDir, NamesAreNotPredictable)
{
    std::set<std::string> oNames;
    for (int i = 0; i < 8; ++i)
    {
        bwtest::TempDir oDir;
        ASSERT_TRUE(oDir.ok());
        ASSERT_TRUE(BWMakeTempDir(oDir.path().c_str()));
        oNames.insert(CPLGetFilename(BWTempDirOf(oDir.path().c_str())));
        BWRemoveTempDir(oDir.path().c_str());
    }
    EXPECT_EQ(oNames.size(), 8u);
}

TEST(TempDir, LiveDirectoryOfAnotherRunIsKeptWhateverItsPid)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osLive = oDir / (BW_TEMP_PREFIX "live");
    MakeDeadRunDir(osLive);
    // Another run (another open file description) holds the lock.
    const int fd = open((osLive + "/" BW_TEMP_MARKER).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX), 0);
    EXPECT_EQ(BWRemoveStaleTemps(oDir.path().c_str()), 0);
    EXPECT_TRUE(Exists(osLive + "/x.tif"));
    close(fd);
    EXPECT_EQ(BWRemoveStaleTemps(oDir.path().c_str()), 1);
    EXPECT_FALSE(Exists(osLive));
}

TEST(TempDir, StaleRemovalNeverFollowsLinksNorTakesUnmarkedEntries)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osVictim = oDir / "victim";
    ASSERT_EQ(mkdir(osVictim.c_str(), 0755), 0);
    std::ofstream(osVictim + "/precious.tif") << "data";
    std::ofstream(osVictim + "/" BW_TEMP_MARKER) << "gdal_batchwarp temporary directory\n";
    const std::string osOut = oDir / "out";
    ASSERT_EQ(mkdir(osOut.c_str(), 0755), 0);
    // A link named like a temporary directory, to a directory that even
    // holds a marker.
    ASSERT_EQ(symlink(osVictim.c_str(), (osOut + "/" BW_TEMP_PREFIX "link").c_str()), 0);
    // A dead run's directory holding links to a file and a directory.
    const std::string osDead = osOut + "/" BW_TEMP_PREFIX "dead";
    MakeDeadRunDir(osDead);
    ASSERT_EQ(mkdir((osDead + "/sub").c_str(), 0700), 0);
    ASSERT_EQ(symlink(osVictim.c_str(), (osDead + "/sub/dirlink").c_str()), 0);
    ASSERT_EQ(symlink((osVictim + "/precious.tif").c_str(), (osDead + "/filelink").c_str()), 0);
    // An unmarked directory, and one whose marker is a link.
    const std::string osUnmarked = osOut + "/" BW_TEMP_PREFIX "unmarked";
    ASSERT_EQ(mkdir(osUnmarked.c_str(), 0700), 0);
    const std::string osLinkedMarker = osOut + "/" BW_TEMP_PREFIX "linkedmarker";
    ASSERT_EQ(mkdir(osLinkedMarker.c_str(), 0700), 0);
    ASSERT_EQ(symlink((osVictim + "/" BW_TEMP_MARKER).c_str(),
                      (osLinkedMarker + "/" BW_TEMP_MARKER).c_str()),
              0);

    EXPECT_EQ(BWRemoveStaleTemps(osOut.c_str()), 1);
    EXPECT_FALSE(Exists(osDead));
    EXPECT_TRUE(Exists(osVictim + "/precious.tif"));
    EXPECT_TRUE(Exists(osVictim + "/" BW_TEMP_MARKER));
    EXPECT_TRUE(Exists(osOut + "/" BW_TEMP_PREFIX "link"));
    EXPECT_TRUE(Exists(osUnmarked));
    EXPECT_TRUE(Exists(osLinkedMarker));
}

TEST(TempDir, StaleDirectoryOfAnotherUidIsKept)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to give a directory to another user";
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osOther = oDir / (BW_TEMP_PREFIX "other");
    MakeDeadRunDir(osOther);
    ASSERT_EQ(chown(osOther.c_str(), 65534, 65534), 0);
    ASSERT_EQ(chown((osOther + "/" BW_TEMP_MARKER).c_str(), 65534, 65534), 0);
    EXPECT_EQ(BWRemoveStaleTemps(oDir.path().c_str()), 0);
    EXPECT_TRUE(Exists(osOther + "/x.tif"));
}

TEST(TempDir, RemoveTreeAtRemovesLinksNotTargets)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osVictim = oDir / "victim";
    ASSERT_EQ(mkdir(osVictim.c_str(), 0755), 0);
    std::ofstream(osVictim + "/keep") << "x";
    const std::string osTree = oDir / "tree";
    std::string osDeep = osTree;
    for (int i = 0; i < 5; ++i)
    {
        ASSERT_EQ(mkdir(osDeep.c_str(), 0700), 0);
        std::ofstream(osDeep + "/f") << "x";
        ASSERT_EQ(symlink(osVictim.c_str(), (osDeep + "/l").c_str()), 0);
        osDeep += "/d";
    }
    const int fd = open(oDir.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(BWRemoveTreeAt(fd, "tree"), 0);
    // The top entry itself a link: the link goes, not its target.
    ASSERT_EQ(symlink(osVictim.c_str(), (oDir / "top").c_str()), 0);
    EXPECT_EQ(BWRemoveTreeAt(fd, "top"), 0);
    close(fd);
    EXPECT_FALSE(Exists(osTree));
    EXPECT_FALSE(Exists(oDir / "top"));
    EXPECT_TRUE(Exists(osVictim + "/keep"));
}

TEST(TempDir, TempNamespaceInPaths)
{
    EXPECT_TRUE(BWIsTempName(BW_TEMP_PREFIX "x"));
    EXPECT_FALSE(BWIsTempName("x.tif"));
    EXPECT_FALSE(BWIsTempName(".hidden.tif"));
    EXPECT_TRUE(BWPathEntersTempNamespace("/out/" BW_TEMP_PREFIX "x/a.tif"));
    EXPECT_TRUE(BWPathEntersTempNamespace(BW_TEMP_PREFIX "x/a.tif"));
    EXPECT_FALSE(BWPathEntersTempNamespace("/out/a" BW_TEMP_PREFIX "x.tif"));
    EXPECT_FALSE(BWPathEntersTempNamespace("/out/sub/a.tif"));
}

// Output directories below -outdir: made and opened without following a
// link; a link or a file on the way is refused, naming it.
TEST(OutputDir, WalkedWithoutFollowingLinks)
{
    bwtest::TempDir oDir;
    ASSERT_TRUE(oDir.ok());
    const std::string osOut = oDir.path() + "/out";
    const std::string osVictim = oDir.path() + "/victim";
    ASSERT_EQ(mkdir(osOut.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(osVictim.c_str(), 0755), 0);
    struct stat sStat;
    char *pszError = nullptr;
    // Missing: not there yet, nothing made.
    EXPECT_EQ(BWStatBelowOutDir(osOut.c_str(), (osOut + "/a/b/x.tif").c_str(), &sStat, &pszError),
              1);
    EXPECT_FALSE(Exists(osOut + "/a"));
    // Made, kept open, and then found as a directory.
    EXPECT_EQ(BWOpenOutputDir(osOut.c_str(), (osOut + "/a/b").c_str(), &pszError), 1);
    EXPECT_GE(BWOutputDirFd((osOut + "/a/b").c_str()), 0);
    EXPECT_TRUE(BWOutputDirInPlace((osOut + "/a/b").c_str()));
    EXPECT_EQ(BWStatBelowOutDir(osOut.c_str(), (osOut + "/a/b").c_str(), &sStat, &pszError), 0);
    EXPECT_TRUE(S_ISDIR(sStat.st_mode));
    BWCloseOutputDir((osOut + "/a/b").c_str());
    EXPECT_LT(BWOutputDirFd((osOut + "/a/b").c_str()), 0);
    // Not below -outdir: left to the caller.
    EXPECT_EQ(BWOpenOutputDir(osOut.c_str(), osVictim.c_str(), &pszError), 2);
    EXPECT_EQ(BWOpenOutputDir(osOut.c_str(), (osOut + "x/a").c_str(), &pszError), 2);
    // A link on the way: refused, never followed.
    ASSERT_EQ(symlink(osVictim.c_str(), (osOut + "/l").c_str()), 0);
    EXPECT_EQ(BWStatBelowOutDir(osOut.c_str(), (osOut + "/l/x.tif").c_str(), &sStat, &pszError),
              -1);
    ASSERT_NE(pszError, nullptr);
    EXPECT_NE(std::string(pszError).find("'" + osOut + "/l' below -outdir is a symbolic link"),
              std::string::npos)
        << pszError;
    CPLFree(pszError);
    pszError = nullptr;
    EXPECT_EQ(BWOpenOutputDir(osOut.c_str(), (osOut + "/l/sub").c_str(), &pszError), 0);
    ASSERT_NE(pszError, nullptr);
    EXPECT_NE(std::string(pszError).find("is a symbolic link"), std::string::npos) << pszError;
    CPLFree(pszError);
    pszError = nullptr;
    EXPECT_FALSE(Exists(osVictim + "/sub"));
    // A file on the way.
    std::ofstream(osOut + "/f") << "file";
    EXPECT_EQ(BWOpenOutputDir(osOut.c_str(), (osOut + "/f/sub").c_str(), &pszError), 0);
    ASSERT_NE(pszError, nullptr);
    EXPECT_NE(std::string(pszError).find("is a regular file, not a directory"), std::string::npos)
        << pszError;
    CPLFree(pszError);
}
