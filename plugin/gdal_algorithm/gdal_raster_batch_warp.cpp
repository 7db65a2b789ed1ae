/*
 * `gdal raster batch-warp`: gdal_batchwarp in the `gdal` program of GDAL 3.11
 * and later, and in GDAL's Python bindings (gdal.Run).
 *
 * Its arguments are those of `gdal raster reproject` of the running GDAL,
 * declared at run time from that algorithm itself (names, short names,
 * aliases, types, choices, defaults), plus the batch's own (--output-dir,
 * --num-workers, --report, ...). Each file is warped with the gdalwarp words
 * that reproject stands for, by GDALBatchWarp(), so the pool, report and
 * guarantees are those of the gdal_batchwarp program.
 *
 * Built as libgdalbatchwarp_algorithm.so, which the plugin GDAL loads
 * (gdal_BatchWarp.so, gdal_batchwarp_entry.cpp) opens only when the
 * algorithm is instantiated.
 */
#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal_priv.h>
#include <gdalalgorithm_cpp.h>
#include <ogr_spatialref.h>

#include "gdal_batchwarp.h"

namespace
{

/* libgdalbatchwarp, opened when a batch runs rather than when the algorithm
 * is instantiated (`gdal raster --help` instantiates it to describe it). */
struct BatchWarpLib
{
    decltype(&GDALBatchWarpOptionsNew) pfnOptionsNew = nullptr;
    decltype(&GDALBatchWarpOptionsFree) pfnOptionsFree = nullptr;
    decltype(&GDALBatchWarpOptionsSetProgress) pfnSetProgress = nullptr;
    decltype(&GDALBatchWarpOptionsSetResultCallback) pfnSetResultCallback = nullptr;
    decltype(&GDALBatchWarpOptionsSetSummary) pfnSetSummary = nullptr;
    decltype(&GDALBatchWarp) pfnBatchWarp = nullptr;
    decltype(&GDALBatchWarpGetVersion) pfnGetVersion = nullptr;
};

#ifndef BATCHWARP_LIB_SONAME
#define BATCHWARP_LIB_SONAME "libgdalbatchwarp.so.0"
#endif

/* The library beside this one (both in <libdir> once installed, in plugin/
 * in the build tree), else wherever the dynamic loader finds it. NULL with
 * CPLError() when it cannot be loaded. */
const BatchWarpLib *LoadBatchWarpLib()
{
    static std::mutex oMutex;
    static BatchWarpLib sLib;
    static bool bLoaded = false;
    std::lock_guard<std::mutex> oLock(oMutex);
    if (bLoaded)
        return &sLib;
    void *hLib = nullptr;
    std::string osTried;
    Dl_info sInfo;
    if (dladdr(reinterpret_cast<void *>(&LoadBatchWarpLib), &sInfo) != 0 &&
        sInfo.dli_fname != nullptr)
    {
        const std::string osDir = CPLGetPath(sInfo.dli_fname);
        const std::string osPath = CPLFormFilename(osDir.c_str(), BATCHWARP_LIB_SONAME, nullptr);
        hLib = dlopen(osPath.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (hLib == nullptr)
            osTried = dlerror();
    }
    if (hLib == nullptr)
        hLib = dlopen(BATCHWARP_LIB_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (hLib == nullptr)
    {
        CPLError(CE_Failure, CPLE_AppDefined, "batch-warp cannot load %s: %s%s%s",
                 BATCHWARP_LIB_SONAME, dlerror(), osTried.empty() ? "" : "; ", osTried.c_str());
        return nullptr;
    }
    auto Sym = [hLib](auto &pfn, const char *pszName)
    {
        pfn = reinterpret_cast<std::remove_reference_t<decltype(pfn)>>(dlsym(hLib, pszName));
        return pfn != nullptr;
    };
    if (!Sym(sLib.pfnOptionsNew, "GDALBatchWarpOptionsNew") ||
        !Sym(sLib.pfnOptionsFree, "GDALBatchWarpOptionsFree") ||
        !Sym(sLib.pfnSetProgress, "GDALBatchWarpOptionsSetProgress") ||
        !Sym(sLib.pfnSetResultCallback, "GDALBatchWarpOptionsSetResultCallback") ||
        !Sym(sLib.pfnSetSummary, "GDALBatchWarpOptionsSetSummary") ||
        !Sym(sLib.pfnBatchWarp, "GDALBatchWarp") ||
        !Sym(sLib.pfnGetVersion, "GDALBatchWarpGetVersion"))
    {
        CPLError(CE_Failure, CPLE_AppDefined,
                 "batch-warp: %s lacks a function this plugin needs (an older library?)",
                 BATCHWARP_LIB_SONAME);
        dlclose(hLib);
        sLib = BatchWarpLib();
        return nullptr;
    }
    bLoaded = true;
    return &sLib;
}

/* Values of the arguments copied from reproject, one of each type; a
 * std::vector of unique_ptr keeps their addresses stable. */
struct CopiedArgValue
{
    bool b = false;
    std::string s{};
    int i = 0;
    double d = 0;
    GDALArgDatasetValue ds{};
    std::vector<std::string> as{};
    std::vector<int> ai{};
    std::vector<double> ad{};
    std::vector<GDALArgDatasetValue> ads{};
};

/* Names GDAL has given a reproject argument across versions (the current
 * one first), used to translate it to gdalwarp's words. */
bool Is(const GDALAlgorithmArg &oArg, std::initializer_list<const char *> aosNames)
{
    for (const char *pszName : aosNames)
        if (oArg.GetName() == pszName)
            return true;
    return false;
}

/* Spellings that GDAL accepts as hidden aliases of reproject's arguments, and
 * that GetAliases() does not list: older names of the arguments and
 * gdalwarp's own. Each one is given to the copy only if reproject itself
 * accepts it for the same argument. */
std::vector<std::string> HiddenAliasCandidates(const GDALAlgorithmArg &oArg)
{
    std::vector<std::string> aos = {"s_srs",      "t_srs",     "te_srs",    "bbox_srs",
                                    "tap",        "src-crs",   "dst-crs",   "src-nodata",
                                    "dst-nodata", "srcnodata", "dstnodata", "dstalpha"};
    std::string osUnderscore = oArg.GetName();
    for (char &c : osUnderscore)
        if (c == '-')
            c = '_';
    aos.push_back(osUnderscore);
    return aos;
}

class RasterBatchWarpAlgorithm final : public GDALAlgorithm
{
  public:
    static constexpr const char *NAME = "batch-warp";
    static constexpr const char *DESCRIPTION =
        "Reproject many rasters at once, as `gdal raster reproject` does one, with a pool of "
        "clean worker processes (gdal_batchwarp).";
    static constexpr const char *HELP_URL = "";

    RasterBatchWarpAlgorithm() : GDALAlgorithm(NAME, DESCRIPTION, HELP_URL)
    {
        AddProgressArg();
        AddArg("input", 'i', "Input rasters, directories or patterns", &m_inputs, GDAL_OF_RASTER)
            .SetPositional()
            .SetRequired()
            .SetMinCount(1)
            .SetAutoOpenDataset(false);
        AddArg("output-dir", 'o', "Directory for the outputs (created if needed)", &m_outputDir)
            .SetPositional()
            .SetRequired();
        CopyReprojectArgs();
        // Reproject's -j is its threads: workers are spelled out, with -w
        // unless a reproject of this GDAL took that letter.
        AddArg("num-workers", GetArg("w") == nullptr ? 'w' : 0,
               "Number of worker processes (default: number of CPUs)", &m_numWorkers)
            .SetMinValueIncluded(1)
            .SetCategory("Batch");
        AddBatchArg("recursive", "Take directories' whole trees, mirrored below the output dir",
                    &m_recursive);
        AddBatchArg("suffix", "Text appended to each output's base name", &m_suffix);
        AddBatchArg("output-template",
                    "Output name below the output dir, with {stem} {name} {ext} {suffix} "
                    "{relpath} {parent}",
                    &m_outputTemplate);
        AddBatchArg("report", "JSON-lines report file, one line per source ('-' for stdout)",
                    &m_report);
        AddBatchArg("retries", "Tries again of a failed file, each on a fresh worker", &m_retries)
            .SetMinValueIncluded(0);
        AddBatchArg("timeout", "Seconds after which a file's task is killed and failed", &m_timeout)
            .SetMinValueExcluded(0);
        AddBatchArg("memory-budget", "Memory for the whole batch (e.g. 4GB, 25%)", &m_memoryBudget);
        AddBatchArg("worker-mem-limit", "Address-space cap of each worker (e.g. 2GB, 10%)",
                    &m_workerMemLimit);
        AddBatchArg("max-worker-rss", "Replace a worker whose resident memory grew past this size",
                    &m_maxWorkerRss);
        AddBatchArg("max-tasks-per-worker", "Replace a worker after this many tasks",
                    &m_maxTasksPerWorker)
            .SetMinValueIncluded(1);
        AddBatchArg("shard", "Do only shard <i>/<n> of the batch (from 0)", &m_shard)
            .SetMetaVar("<i>/<n>");
        AddBatchArg("dry-run",
                    "Print 'source -> output' for each source; do nothing (a line each, or "
                    "ended by a NUL byte with --null)",
                    &m_dryRun);
        AddBatchArg("print-outputs", "Print each complete output's path on stdout",
                    &m_printOutputs);
        AddBatchArg("null",
                    "End each path --print-outputs prints, and each --dry-run line, with a NUL "
                    "byte, not a newline (for xargs -0); names with a newline need it",
                    &m_null);
    }

  private:
    std::vector<GDALArgDatasetValue> m_inputs{};
    std::string m_outputDir{};
    int m_numWorkers = 0;
    bool m_recursive = false;
    std::string m_suffix{};
    std::string m_outputTemplate{};
    std::string m_report{};
    int m_retries = 0;
    double m_timeout = 0;
    std::string m_memoryBudget{};
    std::string m_workerMemLimit{};
    std::string m_maxWorkerRss{};
    int m_maxTasksPerWorker = 0;
    std::string m_shard{};
    bool m_dryRun = false;
    bool m_printOutputs = false;
    bool m_null = false;

    std::vector<std::unique_ptr<CopiedArgValue>> m_copiedValues{};
    std::vector<std::string> m_copiedNames{};
    std::vector<std::string> m_failures{}; // "source: reason" of failed files
    std::set<std::string> m_printed{};     // texts of the messages reported so far
    int m_repeated = 0;                    // messages not reported again

    template <class T>
    GDALInConstructionAlgorithmArg &AddBatchArg(const char *pszName, const char *pszHelp, T *pValue)
    {
        return AddArg(pszName, 0, pszHelp, pValue).SetCategory("Batch");
    }

    GDALInConstructionAlgorithmArg *AddCopy(const GDALAlgorithmArg &oSrc)
    {
        auto poValue = std::make_unique<CopiedArgValue>();
        CopiedArgValue &v = *poValue;
        m_copiedValues.push_back(std::move(poValue));
        const std::string &osShort = oSrc.GetShortName();
        const char chShort = osShort.empty() ? 0 : osShort[0];
        const std::string &osName = oSrc.GetName();
        const std::string &osHelp = oSrc.GetDescription();
        switch (oSrc.GetType())
        {
        case GAAT_BOOLEAN:
            return &AddArg(osName, chShort, osHelp, &v.b);
        case GAAT_STRING:
            return &AddArg(osName, chShort, osHelp, &v.s);
        case GAAT_INTEGER:
            return &AddArg(osName, chShort, osHelp, &v.i);
        case GAAT_REAL:
            return &AddArg(osName, chShort, osHelp, &v.d);
        case GAAT_DATASET:
            return &AddArg(osName, chShort, osHelp, &v.ds, oSrc.GetDatasetType());
        case GAAT_STRING_LIST:
            return &AddArg(osName, chShort, osHelp, &v.as);
        case GAAT_INTEGER_LIST:
            return &AddArg(osName, chShort, osHelp, &v.ai);
        case GAAT_REAL_LIST:
            return &AddArg(osName, chShort, osHelp, &v.ad);
        case GAAT_DATASET_LIST:
            return &AddArg(osName, chShort, osHelp, &v.ads, oSrc.GetDatasetType());
        }
        return nullptr;
    }

    template <class T>
    static void CopyDefault(const GDALAlgorithmArg &oSrc, GDALInConstructionAlgorithmArg &oDst)
    {
        oDst.SetDefault(oSrc.GetDefault<T>());
    }

    /* Every argument of `gdal raster reproject` of this GDAL, declared here
     * alike, except its single input (here a list) and its output (here
     * --output-dir). */
    void CopyReprojectArgs()
    {
        auto poRaster = GDALGlobalAlgorithmRegistry::GetSingleton().Instantiate("raster");
        auto poReproject = poRaster ? poRaster->InstantiateSubAlgorithm("reproject") : nullptr;
        if (poReproject == nullptr)
            return;
        for (const auto &poSrc : poReproject->GetArgs())
        {
            const GDALAlgorithmArg &oSrc = *poSrc;
            if (oSrc.GetName() == "input" || oSrc.GetName() == "output" ||
                GetArg(oSrc.GetName()) != nullptr)
                continue; // ours, or common to every algorithm (--help, --quiet, ...)
            auto poDst = AddCopy(oSrc);
            if (poDst == nullptr)
                continue;
            auto &oDst = *poDst;
            m_copiedNames.push_back(oSrc.GetName());
            for (const auto &osAlias : oSrc.GetAliases())
                oDst.AddAlias(osAlias);
            for (char chAlias : oSrc.GetShortNameAliases())
                oDst.AddShortNameAlias(chAlias);
            for (const auto &osCandidate : HiddenAliasCandidates(oSrc))
            {
                if (osCandidate != oSrc.GetName() && GetArg(osCandidate) == nullptr &&
                    poReproject->GetArg(osCandidate) == &oSrc)
                    oDst.AddHiddenAlias(osCandidate);
            }
            if (!oSrc.GetMetaVar().empty())
                oDst.SetMetaVar(oSrc.GetMetaVar());
            oDst.SetCategory(oSrc.GetCategory());
            if (GDALAlgorithmArgTypeIsList(oSrc.GetType()))
            {
                oDst.SetMinCount(oSrc.GetMinCount());
                oDst.SetMaxCount(oSrc.GetMaxCount());
                oDst.SetPackedValuesAllowed(oSrc.GetPackedValuesAllowed());
                oDst.SetRepeatedArgAllowed(oSrc.GetRepeatedArgAllowed());
                oDst.SetDisplayHintAboutRepetition(oSrc.GetDisplayHintAboutRepetition());
            }
            if (!oSrc.GetChoices().empty())
                oDst.SetChoices(oSrc.GetChoices());
            for (const auto &osChoice : oSrc.GetHiddenChoices())
                oDst.SetHiddenChoices(osChoice);
            const auto oMin = oSrc.GetMinValue();
            if (!std::isnan(oMin.first))
            {
                if (oMin.second)
                    oDst.SetMinValueIncluded(oMin.first);
                else
                    oDst.SetMinValueExcluded(oMin.first);
            }
            const auto oMax = oSrc.GetMaxValue();
            if (!std::isnan(oMax.first))
            {
                if (oMax.second)
                    oDst.SetMaxValueIncluded(oMax.first);
                else
                    oDst.SetMaxValueExcluded(oMax.first);
            }
            if (!oSrc.GetMutualExclusionGroup().empty())
                oDst.SetMutualExclusionGroup(oSrc.GetMutualExclusionGroup());
            for (const auto &oItem : oSrc.GetMetadata())
                oDst.AddMetadataItem(oItem.first, oItem.second);
            if (oSrc.IsHiddenForCLI())
                oDst.SetHiddenForCLI();
            if (oSrc.IsHiddenForAPI())
                oDst.SetHiddenForAPI();
            if (oSrc.HasDefaultValue())
            {
                switch (oSrc.GetType())
                {
                case GAAT_BOOLEAN:
                    CopyDefault<bool>(oSrc, oDst);
                    break;
                case GAAT_STRING:
                    CopyDefault<std::string>(oSrc, oDst);
                    break;
                case GAAT_INTEGER:
                    CopyDefault<int>(oSrc, oDst);
                    break;
                case GAAT_REAL:
                    CopyDefault<double>(oSrc, oDst);
                    break;
                case GAAT_STRING_LIST:
                    CopyDefault<std::vector<std::string>>(oSrc, oDst);
                    break;
                case GAAT_INTEGER_LIST:
                    CopyDefault<std::vector<int>>(oSrc, oDst);
                    break;
                case GAAT_REAL_LIST:
                    CopyDefault<std::vector<double>>(oSrc, oDst);
                    break;
                default:
                    break;
                }
            }
        }
    }

    static std::string Join(const std::vector<std::string> &aos, const char *pszSep)
    {
        std::string os;
        for (const auto &s : aos)
            os += (os.empty() ? "" : pszSep) + s;
        return os;
    }

    static const char *Num(double dfValue)
    {
        return CPLSPrintf("%.17g", dfValue);
    }

    /* --like: the template's CRS, extent and size, as reproject takes them
     * (arguments given explicitly win). */
    bool AddLikeArgs(const GDALArgDatasetValue &oLike, CPLStringList &aosArgs)
    {
        GDALDataset *poLike = const_cast<GDALDataset *>(oLike.GetDatasetRef());
        std::unique_ptr<GDALDataset> poOwned;
        if (poLike == nullptr)
        {
            poOwned.reset(
                GDALDataset::Open(oLike.GetName().c_str(), GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR));
            poLike = poOwned.get();
        }
        if (poLike == nullptr)
            return false;
        const OGRSpatialReference *poSRS = poLike->GetSpatialRef();
        if (poSRS == nullptr)
            return true;
        char *pszWKT = nullptr;
        poSRS->exportToWkt(&pszWKT);
        const std::string osWKT = pszWKT ? pszWKT : "";
        CPLFree(pszWKT);
        if (!IsSet("output-crs", "dst-crs"))
        {
            aosArgs.AddString("-t_srs");
            aosArgs.AddString(osWKT.c_str());
        }
        double adfGT[6];
        if (poLike->GetGeoTransform(adfGT) != CE_None)
            return true;
        if (adfGT[2] != 0 || adfGT[4] != 0)
        {
            ReportError(CE_Warning, CPLE_AppDefined,
                        "Dataset provided with --like has a geotransform with rotation. "
                        "Ignoring it");
            return true;
        }
        const int nX = poLike->GetRasterXSize();
        const int nY = poLike->GetRasterYSize();
        if (!IsSet("resolution") && !IsSet("size"))
        {
            aosArgs.AddString("-tr");
            aosArgs.AddString(Num(std::fabs(adfGT[1])));
            aosArgs.AddString(Num(std::fabs(adfGT[5])));
        }
        if (!IsSet("bbox"))
        {
            double dfMinY = adfGT[3] + nY * adfGT[5];
            double dfMaxY = adfGT[3];
            if (dfMinY > dfMaxY)
                std::swap(dfMinY, dfMaxY);
            aosArgs.AddString("-te");
            aosArgs.AddString(Num(adfGT[0]));
            aosArgs.AddString(Num(dfMinY));
            aosArgs.AddString(Num(adfGT[0] + nX * adfGT[1]));
            aosArgs.AddString(Num(dfMaxY));
            aosArgs.AddString("-te_srs");
            aosArgs.AddString(osWKT.c_str());
        }
        return true;
    }

    bool IsSet(const char *pszName, const char *pszOldName = nullptr) const
    {
        const GDALAlgorithmArg *poArg = GetArg(pszName);
        if (poArg == nullptr && pszOldName != nullptr)
            poArg = GetArg(pszOldName);
        return poArg != nullptr && poArg->IsExplicitlySet();
    }

    /* The gdalwarp words of one reproject argument given by the user, as
     * `gdal raster reproject` passes them to gdalwarp. FALSE for an argument
     * this version of batch-warp cannot translate. */
    bool TranslateReprojectArg(const GDALAlgorithmArg &oArg, CPLStringList &aosArgs,
                               std::string &osOutputFormat, bool &bCoThreads, int &nThreads)
    {
        auto AddValue = [&aosArgs](const char *pszWord, const std::string &osValue)
        {
            aosArgs.AddString(pszWord);
            aosArgs.AddString(osValue.c_str());
        };
        if (Is(oArg, {"input-crs", "src-crs"}))
            AddValue("-s_srs", oArg.Get<std::string>());
        else if (Is(oArg, {"output-crs", "dst-crs"}))
            AddValue("-t_srs", oArg.Get<std::string>());
        else if (Is(oArg, {"resampling"}))
            AddValue("-r", oArg.Get<std::string>());
        else if (Is(oArg, {"resolution"}))
        {
            aosArgs.AddString("-tr");
            for (double dfValue : oArg.Get<std::vector<double>>())
                aosArgs.AddString(Num(dfValue));
        }
        else if (Is(oArg, {"size"}))
        {
            aosArgs.AddString("-ts");
            for (int nValue : oArg.Get<std::vector<int>>())
                aosArgs.AddString(CPLSPrintf("%d", nValue));
        }
        else if (Is(oArg, {"bbox"}))
        {
            aosArgs.AddString("-te");
            for (double dfValue : oArg.Get<std::vector<double>>())
                aosArgs.AddString(Num(dfValue));
        }
        else if (Is(oArg, {"bbox-crs"}))
            AddValue("-te_srs", oArg.Get<std::string>());
        else if (Is(oArg, {"target-aligned-pixels"}))
        {
            if (oArg.Get<bool>())
                aosArgs.AddString("-tap");
        }
        else if (Is(oArg, {"input-nodata", "src-nodata"}))
            AddValue("-srcnodata", oArg.GetType() == GAAT_STRING
                                       ? oArg.Get<std::string>()
                                       : Join(oArg.Get<std::vector<std::string>>(), " "));
        else if (Is(oArg, {"output-nodata", "dst-nodata"}))
            AddValue("-dstnodata", oArg.GetType() == GAAT_STRING
                                       ? oArg.Get<std::string>()
                                       : Join(oArg.Get<std::vector<std::string>>(), " "));
        else if (Is(oArg, {"add-alpha"}))
        {
            if (oArg.Get<bool>())
                aosArgs.AddString("-dstalpha");
        }
        else if (Is(oArg, {"warp-option"}))
        {
            for (const auto &osOption : oArg.Get<std::vector<std::string>>())
                AddValue("-wo", osOption);
        }
        else if (Is(oArg, {"transform-option"}))
        {
            for (const auto &osOption : oArg.Get<std::vector<std::string>>())
                AddValue("-to", osOption);
        }
        else if (Is(oArg, {"error-threshold"}))
            AddValue("-et", Num(oArg.Get<double>()));
        else if (Is(oArg, {"num-threads"}))
        {
            const std::string &osValue = oArg.Get<std::string>();
            nThreads = EQUAL(osValue.c_str(), "ALL_CPUS") ? CPLGetNumCPUs() : atoi(osValue.c_str());
            if (nThreads < 1)
            {
                ReportError(CE_Failure, CPLE_IllegalArg, "Invalid value for --num-threads: %s",
                            osValue.c_str());
                return false;
            }
        }
        else if (Is(oArg, {"num-threads-int-hidden"}))
            nThreads = oArg.Get<int>();
        else if (Is(oArg, {"output-format"}))
        {
            osOutputFormat = oArg.Get<std::string>();
            AddValue("-of", osOutputFormat);
        }
        else if (Is(oArg, {"creation-option"}))
        {
            for (const auto &osOption : oArg.Get<std::vector<std::string>>())
            {
                if (STARTS_WITH_CI(osOption.c_str(), "NUM_THREADS="))
                    bCoThreads = true;
                AddValue("-co", osOption);
            }
        }
        else if (Is(oArg, {"open-option"}))
        {
            for (const auto &osOption : oArg.Get<std::vector<std::string>>())
                AddValue("-oo", osOption);
        }
        else if (Is(oArg, {"input-format"}))
        {
            for (const auto &osFormat : oArg.Get<std::vector<std::string>>())
                AddValue("-if", osFormat);
        }
        else if (Is(oArg, {"overwrite"}))
        {
            if (oArg.Get<bool>())
                aosArgs.AddString("-overwrite");
        }
        else if (Is(oArg, {"like"}))
            return AddLikeArgs(oArg.Get<GDALArgDatasetValue>(), aosArgs);
        else if (Is(oArg, {"append"}))
        {
            if (oArg.Get<bool>())
            {
                ReportError(CE_Failure, CPLE_NotSupported,
                            "--append is not supported by batch-warp: each output is written "
                            "whole under a temporary name and renamed into place.");
                return false;
            }
        }
        else
        {
            ReportError(CE_Failure, CPLE_NotSupported,
                        "--%s (an argument of `gdal raster reproject` of GDAL %s) is not "
                        "supported by this version of batch-warp.",
                        oArg.GetName().c_str(), GDALVersionInfo("RELEASE_NAME"));
            return false;
        }
        return true;
    }

    /* The gdal_batchwarp command line these arguments stand for. */
    bool BatchWarpArgs(CPLStringList &aosArgs)
    {
        std::string osOutputFormat;
        bool bCoThreads = false;
        int nThreads = 0;
        for (const auto &osName : m_copiedNames)
        {
            const GDALAlgorithmArg *poArg = GetArg(osName);
            if (poArg != nullptr && poArg->IsExplicitlySet() &&
                !TranslateReprojectArg(*poArg, aosArgs, osOutputFormat, bCoThreads, nThreads))
                return false;
        }
        if (nThreads > 0)
        {
            // reproject's -j: the threads of each file's warp, and of the
            // GeoTIFF compressor unless --co NUM_THREADS says otherwise.
            for (int i = 0; i + 1 < aosArgs.size(); ++i)
            {
                if (EQUAL(aosArgs[i], "-wo") && STARTS_WITH_CI(aosArgs[i + 1], "NUM_THREADS="))
                {
                    ReportError(CE_Failure, CPLE_IllegalArg,
                                "--num-threads argument and NUM_THREADS warp options are "
                                "mutually exclusive.");
                    return false;
                }
            }
            aosArgs.AddString("-wo");
            aosArgs.AddString(CPLSPrintf("NUM_THREADS=%d", nThreads));
            if (!bCoThreads && nThreads > 1 &&
                (osOutputFormat.empty() || EQUAL(osOutputFormat.c_str(), "GTiff") ||
                 EQUAL(osOutputFormat.c_str(), "COG")))
            {
                aosArgs.AddString("-co");
                aosArgs.AddString(CPLSPrintf("NUM_THREADS=%d", nThreads));
            }
        }
        auto Add = [&aosArgs](const char *pszWord, const std::string &osValue)
        {
            if (!osValue.empty())
            {
                aosArgs.AddString(pszWord);
                aosArgs.AddString(osValue.c_str());
            }
        };
        if (m_numWorkers > 0)
            Add("-j", std::to_string(m_numWorkers));
        if (m_recursive)
            aosArgs.AddString("-recursive");
        Add("-suffix", m_suffix);
        Add("-output_template", m_outputTemplate);
        Add("-report", m_report);
        if (m_retries > 0)
            Add("-retries", std::to_string(m_retries));
        if (m_timeout > 0)
            Add("-timeout", Num(m_timeout));
        Add("-memory_budget", m_memoryBudget);
        Add("-worker_mem_limit", m_workerMemLimit);
        Add("-max_worker_rss", m_maxWorkerRss);
        if (m_maxTasksPerWorker > 0)
            Add("-max_tasks_per_worker", std::to_string(m_maxTasksPerWorker));
        Add("-shard", m_shard);
        if (m_dryRun)
            aosArgs.AddString("-dry_run");
        if (m_printOutputs)
            aosArgs.AddString("-print_outputs");
        if (m_null)
            aosArgs.AddString("-null");
        const GDALAlgorithmArg *poQuiet = GetArg("quiet");
        if (poQuiet != nullptr && poQuiet->GetType() == GAAT_BOOLEAN && poQuiet->Get<bool>())
            aosArgs.AddString("-q");
        aosArgs.AddString("-outdir");
        aosArgs.AddString(m_outputDir.c_str());
        // Sources last, after "--", so that no name is read as an option.
        aosArgs.AddString("--");
        for (const auto &oInput : m_inputs)
            aosArgs.AddString(oInput.GetName().c_str());
        return true;
    }

    /* Which file failed and why, as the gdal_batchwarp program says it; kept
     * for the error that ends the run. */
    static void ReportFailure(const GDALBatchWarpResult *psResult, void *pUserData)
    {
        auto *poThis = static_cast<RasterBatchWarpAlgorithm *>(pUserData);
        // The errors and warnings GDAL logged in the task, as reproject
        // reports them for its file, named by source: each text once (the
        // same creation option typo for every file), then counted. A
        // failure's errors are in its FAILED line.
        for (CSLConstList papszIter = psResult->papszMessages; papszIter && *papszIter; ++papszIter)
        {
            if (!psResult->bOk && STARTS_WITH(*papszIter, "ERROR"))
                continue;
            if (!poThis->m_printed.insert(*papszIter).second)
                poThis->m_repeated++;
            else
                poThis->ReportError(CE_Warning, CPLE_AppDefined, "%s: %s", psResult->pszSource,
                                    *papszIter);
        }
        if (psResult->bOk)
            return;
        const char *pszError = psResult->pszError ? psResult->pszError : "unknown error";
        poThis->ReportError(CE_Warning, CPLE_AppDefined, "FAILED %s: %s", psResult->pszSource,
                            pszError);
        std::string osFirstLine(pszError);
        osFirstLine = osFirstLine.substr(0, osFirstLine.find('\n'));
        poThis->m_failures.push_back(std::string(psResult->pszSource) + " (" + osFirstLine + ")");
    }

    bool RunImpl(GDALProgressFunc pfnProgress, void *pProgressData) override
    {
        m_failures.clear();
        m_printed.clear();
        m_repeated = 0;
        CPLStringList aosArgs;
        if (!BatchWarpArgs(aosArgs))
            return false;
        const BatchWarpLib *psLib = LoadBatchWarpLib();
        if (psLib == nullptr)
            return false;
        CPLDebug("BATCHWARP", "gdal_batchwarp %s (library %s)", Join(aosArgs, " ").c_str(),
                 psLib->pfnGetVersion());
        GDALBatchWarpOptions *psOptions = psLib->pfnOptionsNew(aosArgs.List(), nullptr);
        if (psOptions == nullptr)
            return false;
        psLib->pfnSetProgress(psOptions, pfnProgress, pProgressData);
        psLib->pfnSetResultCallback(psOptions, ReportFailure, this);
        psLib->pfnSetSummary(psOptions, TRUE);
        const GDALBatchWarpStatus eStatus = psLib->pfnBatchWarp(psOptions);
        psLib->pfnOptionsFree(psOptions);
        if (m_repeated > 0)
            ReportError(CE_Warning, CPLE_AppDefined,
                        "%d more error%s or warning%s of a text reported above, from other "
                        "sources, not reported again (--report lists each source's).",
                        m_repeated, m_repeated == 1 ? "" : "s", m_repeated == 1 ? "" : "s");
        if (eStatus == GDAL_BATCHWARP_FAILED && !m_failures.empty())
        {
            // GDAL's convention: a failed run is an error (an exception in
            // Python) whose message names the failed files.
            constexpr size_t MAX_NAMED = 10;
            std::vector<std::string> aosNamed(
                m_failures.begin(),
                m_failures.begin() + static_cast<long>(std::min(m_failures.size(), MAX_NAMED)));
            std::string osMore =
                m_failures.size() > MAX_NAMED
                    ? CPLSPrintf(" and %d more", static_cast<int>(m_failures.size() - MAX_NAMED))
                    : "";
            ReportError(CE_Failure, CPLE_AppDefined, "%d raster%s could not be warped: %s%s%s",
                        static_cast<int>(m_failures.size()), m_failures.size() == 1 ? "" : "s",
                        Join(aosNamed, "; ").c_str(), osMore.c_str(),
                        m_report.empty() ? "" : CPLSPrintf(" (report: %s)", m_report.c_str()));
        }
        return eStatus == GDAL_BATCHWARP_OK;
    }

    static std::string Join(const CPLStringList &aos, const char *pszSep)
    {
        std::string os;
        for (int i = 0; i < aos.size(); ++i)
            os += (i ? pszSep : "") + std::string(aos[i]);
        return os;
    }
};

} // namespace

/* Called by gdal_BatchWarp.so, the plugin GDAL loads (gdal_batchwarp_entry.cpp),
 * each time GDAL instantiates `gdal raster batch-warp`. */
extern "C" __attribute__((visibility("default"))) GDALAlgorithm *GDALBatchWarpAlgorithmNew();
/* Called by gdal_BatchWarp.so instead when it cannot reach GDAL's registry
 * itself: declares the algorithm with a factory of this library. */
extern "C" __attribute__((visibility("default"))) void
GDALBatchWarpAlgorithmDelete(GDALAlgorithm *);
extern "C" __attribute__((visibility("default"))) void GDALBatchWarpAlgorithmRegister();

extern "C" GDALAlgorithm *GDALBatchWarpAlgorithmNew()
{
    return new RasterBatchWarpAlgorithm();
}

extern "C" void GDALBatchWarpAlgorithmDelete(GDALAlgorithm *poAlg)
{
    delete poAlg;
}

extern "C" void GDALBatchWarpAlgorithmRegister()
{
    GDALGlobalAlgorithmRegistry::GetSingleton().DeclareAlgorithm(
        {"raster", RasterBatchWarpAlgorithm::NAME},
        []() -> std::unique_ptr<GDALAlgorithm>
        { return std::make_unique<RasterBatchWarpAlgorithm>(); });
}
