/*
 * `gdal raster batch-warp`: gdal_batchwarp in the `gdal` program of GDAL 3.11
 * and later. The algorithm's arguments follow the new CLI's conventions; they
 * are translated to the words of the gdal_batchwarp command line and run by
 * GDALBatchWarp(), so the pool, report and guarantees are the same.
 */
#include <memory>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdalalgorithm_cpp.h>

#include "gdal_batchwarp.h"

namespace
{

class RasterBatchWarpAlgorithm final : public GDALAlgorithm
{
  public:
    static constexpr const char *NAME = "batch-warp";
    static constexpr const char *DESCRIPTION =
        "Warp many rasters at once with a pool of clean worker processes (gdal_batchwarp).";
    static constexpr const char *HELP_URL = "";

    RasterBatchWarpAlgorithm() : GDALAlgorithm(NAME, DESCRIPTION, HELP_URL)
    {
        AddProgressArg();
        AddArg("input", 'i', "Input rasters, directories or patterns", &m_inputs)
            .SetPositional()
            .SetRequired()
            .SetMinCount(1);
        AddArg("output-dir", 'o', "Directory for the outputs", &m_outputDir)
            .SetPositional()
            .SetRequired();
        AddArg("dst-crs", 'd', "Destination CRS", &m_dstCrs).SetIsCRSArg();
        AddArg("src-crs", 's', "Source CRS (overrides the inputs')", &m_srcCrs).SetIsCRSArg();
        AddArg("resampling", 'r', "Resampling method", &m_resampling)
            .SetChoices("near", "bilinear", "cubic", "cubicspline", "lanczos", "average", "rms",
                        "mode", "min", "max", "med", "q1", "q3", "sum")
            .SetDefault("near");
        AddArg("resolution", 0, "Target resolution (in destination CRS units)", &m_resolution)
            .SetMinCount(2)
            .SetMaxCount(2)
            .SetRepeatedArgAllowed(false)
            .SetMetaVar("<xres>,<yres>");
        AddBBOXArg(&m_bbox, "Target bounding box (in destination CRS units)");
        AddOutputFormatArg(&m_format);
        AddCreationOptionsArg(&m_creationOptions);
        AddArg("dst-nodata", 0, "Destination nodata value", &m_dstNodata);
        AddOverwriteArg(&m_overwrite, "Redo outputs that already exist");
        AddArg("num-workers", 'j', "Number of worker processes (default: number of CPUs)",
               &m_numWorkers);
        AddArg("recursive", 0, "Take directories' whole trees, mirrored below the output",
               &m_recursive);
        AddArg("suffix", 0, "Text appended to each output's base name", &m_suffix);
        AddArg("report", 0, "JSON-lines report file ('-' for stdout)", &m_report);
        AddArg("retries", 0, "Tries again of a failed file, on a fresh worker", &m_retries);
        AddArg("timeout", 0, "Seconds after which a file's task is killed", &m_timeout);
        AddArg("memory-budget", 0, "Memory for the whole batch (e.g. 4GB)", &m_memoryBudget);
    }

  private:
    std::vector<std::string> m_inputs{};
    std::string m_outputDir{};
    std::string m_dstCrs{};
    std::string m_srcCrs{};
    std::string m_resampling{};
    std::vector<double> m_resolution{};
    std::vector<double> m_bbox{};
    std::string m_format{};
    std::vector<std::string> m_creationOptions{};
    std::string m_dstNodata{};
    bool m_overwrite = false;
    int m_numWorkers = 0;
    bool m_recursive = false;
    std::string m_suffix{};
    std::string m_report{};
    int m_retries = 0;
    double m_timeout = 0;
    std::string m_memoryBudget{};

    // The gdal_batchwarp command line these arguments stand for.
    CPLStringList BatchWarpArgs() const
    {
        CPLStringList aosArgs;
        auto Add = [&aosArgs](const char *pszName, const std::string &osValue)
        {
            if (!osValue.empty())
            {
                aosArgs.AddString(pszName);
                aosArgs.AddString(osValue.c_str());
            }
        };
        Add("-t_srs", m_dstCrs);
        Add("-s_srs", m_srcCrs);
        Add("-r", m_resampling);
        if (m_resolution.size() == 2)
        {
            aosArgs.AddString("-tr");
            aosArgs.AddString(CPLSPrintf("%.17g", m_resolution[0]));
            aosArgs.AddString(CPLSPrintf("%.17g", m_resolution[1]));
        }
        if (m_bbox.size() == 4)
        {
            aosArgs.AddString("-te");
            for (double dfValue : m_bbox)
                aosArgs.AddString(CPLSPrintf("%.17g", dfValue));
        }
        Add("-of", m_format);
        for (const auto &osOption : m_creationOptions)
            Add("-co", osOption);
        Add("-dstnodata", m_dstNodata);
        if (m_overwrite)
            aosArgs.AddString("-overwrite");
        if (m_numWorkers > 0)
            Add("-j", std::to_string(m_numWorkers));
        if (m_recursive)
            aosArgs.AddString("-recursive");
        Add("-suffix", m_suffix);
        Add("-report", m_report);
        if (m_retries > 0)
            Add("-retries", std::to_string(m_retries));
        if (m_timeout > 0)
            Add("-timeout", CPLSPrintf("%.17g", m_timeout));
        Add("-memory_budget", m_memoryBudget);
        aosArgs.AddString("-outdir");
        aosArgs.AddString(m_outputDir.c_str());
        // Sources last, after "--", so that no name is read as an option.
        aosArgs.AddString("--");
        for (const auto &osInput : m_inputs)
            aosArgs.AddString(osInput.c_str());
        return aosArgs;
    }

    // Which file failed and why, as the gdal_batchwarp program says it.
    static void ReportFailure(const GDALBatchWarpResult *psResult, void *pUserData)
    {
        if (psResult->bOk)
            return;
        static_cast<RasterBatchWarpAlgorithm *>(pUserData)->ReportError(
            CE_Warning, CPLE_AppDefined, "FAILED %s: %s", psResult->pszSource,
            psResult->pszError ? psResult->pszError : "unknown error");
    }

    bool RunImpl(GDALProgressFunc pfnProgress, void *pProgressData) override
    {
        CPLStringList aosArgs = BatchWarpArgs();
        GDALBatchWarpOptions *psOptions = GDALBatchWarpOptionsNew(aosArgs.List(), nullptr);
        if (psOptions == nullptr)
            return false;
        GDALBatchWarpOptionsSetProgress(psOptions, pfnProgress, pProgressData);
        GDALBatchWarpOptionsSetResultCallback(psOptions, ReportFailure, this);
        const GDALBatchWarpStatus eStatus = GDALBatchWarp(psOptions);
        GDALBatchWarpOptionsFree(psOptions);
        if (eStatus == GDAL_BATCHWARP_FAILED)
            ReportError(CE_Failure, CPLE_AppDefined,
                        "Some rasters could not be warped (see the messages above%s).",
                        m_report.empty() ? "" : " and the report");
        return eStatus == GDAL_BATCHWARP_OK;
    }
};

} // namespace

extern "C" __attribute__((visibility("default"))) void GDALRegisterMe();

extern "C" void GDALRegisterMe()
{
    GDALGlobalAlgorithmRegistry::GetSingleton().DeclareAlgorithm(
        {"raster", RasterBatchWarpAlgorithm::NAME},
        []() -> std::unique_ptr<GDALAlgorithm>
        { return std::make_unique<RasterBatchWarpAlgorithm>(); });
}
