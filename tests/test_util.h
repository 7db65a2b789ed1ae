// Helpers shared by the unit tests.
#ifndef BATCHWARP_TEST_UTIL_H_INCLUDED
#define BATCHWARP_TEST_UTIL_H_INCLUDED

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

namespace bwtest
{

// A fresh directory made by mkdtemp(), removed with its contents at the end.
class TempDir
{
  public:
    TempDir()
    {
        const char *pszBase = getenv("TMPDIR");
        std::string osTemplate =
            std::string(pszBase && *pszBase ? pszBase : "/tmp") + "/batchwarp_test_XXXXXX";
        std::vector<char> abyTemplate(osTemplate.begin(), osTemplate.end());
        abyTemplate.push_back('\0');
        if (mkdtemp(abyTemplate.data()) != nullptr)
            m_osPath = abyTemplate.data();
    }
    ~TempDir()
    {
        if (!m_osPath.empty())
        {
            std::error_code ec;
            std::filesystem::remove_all(m_osPath, ec);
        }
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    bool ok() const
    {
        return !m_osPath.empty();
    }
    const std::string &path() const
    {
        return m_osPath;
    }
    std::string operator/(const std::string &osName) const
    {
        return m_osPath + "/" + osName;
    }

  private:
    std::string m_osPath;
};

// A CSL as a vector of strings (NULL gives an empty vector).
inline std::vector<std::string> ToVector(CSLConstList papszList)
{
    std::vector<std::string> aosOut;
    for (CSLConstList papszIter = papszList; papszIter && *papszIter; ++papszIter)
        aosOut.emplace_back(*papszIter);
    return aosOut;
}

// A new CSL (CSLDestroy it) from a vector of strings.
inline char **ToCSL(const std::vector<std::string> &aosList)
{
    char **papszOut = nullptr;
    for (const auto &os : aosList)
        papszOut = CSLAddString(papszOut, os.c_str());
    return papszOut;
}

// Takes ownership of a CPLMalloc'ed string and returns it as std::string.
inline std::string TakeString(char *psz)
{
    std::string os(psz ? psz : "");
    CPLFree(psz);
    return os;
}

// Collects the CPLError() messages raised while it is alive, and keeps them
// off stderr.
class ErrorCollector
{
  public:
    ErrorCollector()
    {
        CPLErrorReset();
        CPLPushErrorHandlerEx(Handler, this);
    }
    ~ErrorCollector()
    {
        CPLPopErrorHandler();
    }
    ErrorCollector(const ErrorCollector &) = delete;
    ErrorCollector &operator=(const ErrorCollector &) = delete;

    std::vector<std::string> failures;
    std::string all() const
    {
        std::string os;
        for (const auto &osMsg : failures)
            os += osMsg + "\n";
        return os;
    }

  private:
    static void CPL_STDCALL Handler(CPLErr eClass, CPLErrorNum, const char *pszMsg)
    {
        auto *poSelf = static_cast<ErrorCollector *>(CPLGetErrorHandlerUserData());
        if (eClass == CE_Failure || eClass == CE_Fatal)
            poSelf->failures.emplace_back(pszMsg);
    }
};

} // namespace bwtest

#endif
