// Process-wide set-up of the unit tests: GDAL's drivers are registered once,
// and torn down at the end so that LeakSanitizer sees GDAL's global state
// released rather than reported.
#include <gtest/gtest.h>

#include <gdal.h>

namespace
{

class GdalEnvironment : public ::testing::Environment
{
  public:
    void SetUp() override
    {
        GDALAllRegister();
    }
    void TearDown() override
    {
        GDALDestroyDriverManager();
    }
};

// Registered before main() (gtest_main's) runs the tests.
::testing::Environment *const g_poGdalEnvironment =
    ::testing::AddGlobalTestEnvironment(new GdalEnvironment);

} // namespace
