/*
 * gdal_BatchWarp.so: the entry object of `gdal raster batch-warp`, which GDAL
 * loads into every program that calls GDALAllRegister(). It only declares
 * the algorithm; the algorithm itself (gdal_raster_batch_warp.cpp) is in
 * libgdalbatchwarp_algorithm.so, opened the first time GDAL instantiates
 * batch-warp.
 *
 * Why it is built the way it is: what a plugin costs GDALAllRegister() is
 * mostly the dynamic loader's, not the plugin's code. A plugin that is
 * linked to libgdal (DT_NEEDED) makes the loader walk libgdal's whole
 * dependency tree again, matching each of its ~150 libraries by name against
 * every loaded object: ~4.4 million instructions, 50% of GDALAllRegister()
 * of GDAL 3.13 (bench/plugin_load_cost.py). So this object depends on the C
 * library only: it is compiled without exceptions or RTTI, its few
 * allocations go to malloc(), and it finds GDAL's registry in the libgdal
 * that is already loaded (GDAL's plugin loader is in it) rather than through
 * the linker (see GDALSymbol()). Its cost is that of an empty C plugin.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <cpl_error.h>

/* GDAL's classes, named only: their header (gdalalgorithm_cpp.h) needs
 * exceptions. The names are those of its declarations, so the types below
 * are GDAL's own. */
class GDALAlgorithm;
class GDALGlobalAlgorithmRegistry;

extern "C" void GDALBatchWarpEntryDeleteAlgorithm(GDALAlgorithm *);

/* Deleting an algorithm takes its complete type: std::unique_ptr<
 * GDALAlgorithm> here deletes through libgdalbatchwarp_algorithm.so.
 * (GDAL, which owns the algorithms this object creates, deletes them
 * itself: this is for the return type of the factory.) */
template <> struct std::default_delete<GDALAlgorithm>
{
    void operator()(GDALAlgorithm *poAlg) const noexcept
    {
        GDALBatchWarpEntryDeleteAlgorithm(poAlg);
    }
};

#ifndef BATCHWARP_GDAL_SONAME
#define BATCHWARP_GDAL_SONAME "libgdal.so"
#endif
#ifndef BATCHWARP_ALGORITHM_LIB
#define BATCHWARP_ALGORITHM_LIB "libgdalbatchwarp_algorithm.so"
#endif
#ifndef BATCHWARP_ALGORITHM_INSTALLED
#define BATCHWARP_ALGORITHM_INSTALLED BATCHWARP_ALGORITHM_LIB
#endif

/* Without libstdc++ (see above): the allocations of the few standard
 * containers built here, local to this object. */
void *operator new(size_t nSize)
{
    void *p = malloc(nSize ? nSize : 1);
    if (p == nullptr)
        abort();
    return p;
}

void operator delete(void *p) noexcept
{
    free(p);
}

void operator delete(void *p, size_t) noexcept
{
    free(p);
}

namespace std
{
/* What libstdc++'s inline code calls on an impossible length or an empty
 * std::function: never reached here. */
void __throw_length_error(const char *)
{
    abort();
}

void __throw_logic_error(const char *)
{
    abort();
}

void __throw_bad_alloc()
{
    abort();
}

void __throw_bad_array_new_length()
{
    abort();
}

void __throw_bad_function_call()
{
    abort();
}
} // namespace std

namespace
{

using GetSingletonFn = GDALGlobalAlgorithmRegistry &(*)();
/* A non-static member function called through a plain function whose first
 * argument is `this`: the Itanium C++ ABI of every GDAL >= 3.11 build this
 * plugin is built for (GCC or Clang with libstdc++ on Linux). */
using InstantiateFunc = std::function<std::unique_ptr<GDALAlgorithm>()>;
using DeclareAlgorithmFn = void (*)(GDALGlobalAlgorithmRegistry *, const std::vector<std::string> &,
                                    InstantiateFunc);
using CPLErrorFn = void (*)(CPLErr, CPLErrorNum, const char *, ...);
using NewAlgorithmFn = GDALAlgorithm *(*)();
using DeleteAlgorithmFn = void (*)(GDALAlgorithm *);
using RegisterFn = void (*)();

constexpr const char *GET_SINGLETON = "_ZN27GDALGlobalAlgorithmRegistry12GetSingletonEv";
constexpr const char *DECLARE_ALGORITHM =
    "_ZN27GDALGlobalAlgorithmRegistry16DeclareAlgorithmERKSt6vectorINSt7__cxx1112basic_"
    "stringIcSt11char_traitsIcESaIcEEESaIS6_EESt8functionIFSt10unique_ptrI13GDALAlgorithmSt14"
    "default_deleteISD_EEvEE";

pthread_mutex_t gMutex = PTHREAD_MUTEX_INITIALIZER;
bool gbRegistered = false;
NewAlgorithmFn gpfnNewAlgorithm = nullptr;
DeleteAlgorithmFn gpfnDeleteAlgorithm = nullptr;

/* One symbol of libgdal's dynamic symbol table, found with its GNU hash
 * table as the dynamic loader does, in the libgdal this process has loaded
 * (whose plugin loader calls us). */
#if UINTPTR_MAX > 0xffffffffu
using ElfDyn = Elf64_Dyn;
using ElfSym = Elf64_Sym;
using ElfAddr = Elf64_Addr;
#else
using ElfDyn = Elf32_Dyn;
using ElfSym = Elf32_Sym;
using ElfAddr = Elf32_Addr;
#endif

struct SymbolSearch
{
    const char *pszName;
    void *pAddress;
};

int FindInGDAL(struct dl_phdr_info *psInfo, size_t, void *pData)
{
    auto *psSearch = static_cast<SymbolSearch *>(pData);
    const char *pszBase = psInfo->dlpi_name ? strrchr(psInfo->dlpi_name, '/') : nullptr;
    pszBase = pszBase ? pszBase + 1 : psInfo->dlpi_name;
    if (pszBase == nullptr || strcmp(pszBase, BATCHWARP_GDAL_SONAME) != 0)
        return 0;
    const ElfDyn *psDyn = nullptr;
    for (int i = 0; i < psInfo->dlpi_phnum; ++i)
        if (psInfo->dlpi_phdr[i].p_type == PT_DYNAMIC)
            psDyn =
                reinterpret_cast<const ElfDyn *>(psInfo->dlpi_addr + psInfo->dlpi_phdr[i].p_vaddr);
    if (psDyn == nullptr)
        return 1;
    const ElfSym *pasSym = nullptr;
    const char *pszStrings = nullptr;
    const uint32_t *panHash = nullptr;
    // glibc relocates these addresses in place on most architectures, not on all.
    auto Address = [psInfo](ElfAddr nPtr)
    { return nPtr < psInfo->dlpi_addr ? nPtr + psInfo->dlpi_addr : nPtr; };
    for (; psDyn->d_tag != DT_NULL; ++psDyn)
    {
        if (psDyn->d_tag == DT_SYMTAB)
            pasSym = reinterpret_cast<const ElfSym *>(Address(psDyn->d_un.d_ptr));
        else if (psDyn->d_tag == DT_STRTAB)
            pszStrings = reinterpret_cast<const char *>(Address(psDyn->d_un.d_ptr));
        else if (psDyn->d_tag == DT_GNU_HASH)
            panHash = reinterpret_cast<const uint32_t *>(Address(psDyn->d_un.d_ptr));
    }
    if (pasSym == nullptr || pszStrings == nullptr || panHash == nullptr)
        return 1;
    const uint32_t nBuckets = panHash[0];
    const uint32_t nSymOffset = panHash[1];
    const uint32_t nBloomWords = panHash[2];
    const uint32_t *panBuckets = panHash + 4 + nBloomWords * (sizeof(ElfAddr) / sizeof(uint32_t));
    const uint32_t *panChain = panBuckets + nBuckets;
    uint32_t nHash = 5381;
    for (const char *pch = psSearch->pszName; *pch; ++pch)
        nHash = nHash * 33 + static_cast<unsigned char>(*pch);
    if (nBuckets == 0)
        return 1;
    uint32_t nIndex = panBuckets[nHash % nBuckets];
    if (nIndex < nSymOffset)
        return 1;
    for (;; ++nIndex)
    {
        const uint32_t nChain = panChain[nIndex - nSymOffset];
        const ElfSym &sSym = pasSym[nIndex];
        if ((nChain | 1) == (nHash | 1) && sSym.st_shndx != SHN_UNDEF &&
            strcmp(pszStrings + sSym.st_name, psSearch->pszName) == 0)
        {
            psSearch->pAddress = reinterpret_cast<void *>(psInfo->dlpi_addr + sSym.st_value);
            return 1;
        }
        if (nChain & 1)
            return 1;
    }
}

/* A function of the libgdal this process has loaded, found without
 * dlopen(): libgdal is not in the global scope of every program (Python
 * loads it with its module, RTLD_LOCAL), and dlopen() of a libgdal that was
 * loaded as a dependency walks its whole dependency tree once more, which is
 * the very cost this object avoids. */
template <class T> T GDALSymbol(const char *pszName)
{
    void *p = dlsym(RTLD_DEFAULT, pszName);
    if (p == nullptr)
    {
        SymbolSearch sSearch{pszName, nullptr};
        dl_iterate_phdr(FindInGDAL, &sSearch);
        p = sSearch.pAddress;
    }
    return reinterpret_cast<T>(p);
}

void ReportError(const char *pszMessage, const char *pszDetail)
{
    auto pfnError = GDALSymbol<CPLErrorFn>("CPLError");
    if (pfnError != nullptr)
        pfnError(CE_Failure, CPLE_AppDefined, "batch-warp: %s: %s", pszMessage,
                 pszDetail ? pszDetail : "unknown error");
}

/* libgdalbatchwarp_algorithm.so: beside libgdalbatchwarp, one directory above
 * this plugin's (<libdir>/gdalplugins/.. once installed, plugin/gdal_algorithm/..
 * in the build tree), else where it was installed, else wherever the dynamic
 * loader finds it. Never in the plugin directory, which GDAL's loader scans. */
void *OpenAlgorithmLib()
{
    void *hLib = nullptr;
    Dl_info sInfo;
    if (dladdr(reinterpret_cast<void *>(&OpenAlgorithmLib), &sInfo) != 0 &&
        sInfo.dli_fname != nullptr)
    {
        std::string osPath(sInfo.dli_fname);
        for (int i = 0; i < 2; ++i)
        {
            const size_t nSlash = osPath.rfind('/');
            osPath = nSlash == std::string::npos ? std::string(".") : osPath.substr(0, nSlash);
        }
        osPath += "/";
        osPath += BATCHWARP_ALGORITHM_LIB;
        hLib = dlopen(osPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    if (hLib == nullptr)
        hLib = dlopen(BATCHWARP_ALGORITHM_INSTALLED, RTLD_NOW | RTLD_LOCAL);
    if (hLib == nullptr)
        hLib = dlopen(BATCHWARP_ALGORITHM_LIB, RTLD_NOW | RTLD_LOCAL);
    return hLib;
}

/* The factory GDAL calls each time it instantiates batch-warp (for --help as
 * for a run): the algorithm lives in libgdalbatchwarp_algorithm.so, opened
 * the first time and kept. */
std::unique_ptr<GDALAlgorithm> NewAlgorithm()
{
    pthread_mutex_lock(&gMutex);
    if (gpfnNewAlgorithm == nullptr)
    {
        void *hLib = OpenAlgorithmLib();
        if (hLib == nullptr)
            ReportError("cannot load " BATCHWARP_ALGORITHM_LIB, dlerror());
        else
        {
            gpfnNewAlgorithm =
                reinterpret_cast<NewAlgorithmFn>(dlsym(hLib, "GDALBatchWarpAlgorithmNew"));
            gpfnDeleteAlgorithm =
                reinterpret_cast<DeleteAlgorithmFn>(dlsym(hLib, "GDALBatchWarpAlgorithmDelete"));
            if (gpfnNewAlgorithm == nullptr || gpfnDeleteAlgorithm == nullptr)
            {
                ReportError(BATCHWARP_ALGORITHM_LIB " lacks a function of this plugin", dlerror());
                gpfnNewAlgorithm = nullptr;
            }
        }
    }
    NewAlgorithmFn pfnNew = gpfnNewAlgorithm;
    pthread_mutex_unlock(&gMutex);
    return std::unique_ptr<GDALAlgorithm>(pfnNew ? pfnNew() : nullptr);
}

void Register()
{
    pthread_mutex_lock(&gMutex);
    // GDALAllRegister() may be called more than once: declare once.
    if (!gbRegistered)
    {
        gbRegistered = true;
        auto pfnGetSingleton = GDALSymbol<GetSingletonFn>(GET_SINGLETON);
        auto pfnDeclare = GDALSymbol<DeclareAlgorithmFn>(DECLARE_ALGORITHM);
        if (pfnGetSingleton != nullptr && pfnDeclare != nullptr)
        {
            const std::vector<std::string> aosPath{"raster", "batch-warp"};
            pfnDeclare(&pfnGetSingleton(), aosPath, NewAlgorithm);
        }
        else
        {
            // A GDAL whose registry is not found under these names (another
            // C++ ABI): the algorithm library declares itself, at the cost
            // of loading it now.
            void *hLib = OpenAlgorithmLib();
            auto pfnRegister =
                hLib ? reinterpret_cast<RegisterFn>(dlsym(hLib, "GDALBatchWarpAlgorithmRegister"))
                     : static_cast<RegisterFn>(nullptr);
            if (pfnRegister != nullptr)
                pfnRegister();
            else
                ReportError("cannot load " BATCHWARP_ALGORITHM_LIB, dlerror());
        }
    }
    pthread_mutex_unlock(&gMutex);
}

} // namespace

/* Only ever given an algorithm made by GDALBatchWarpAlgorithmNew(), once
 * gpfnDeleteAlgorithm is set. */
extern "C" void GDALBatchWarpEntryDeleteAlgorithm(GDALAlgorithm *poAlg)
{
    if (poAlg != nullptr)
        gpfnDeleteAlgorithm(poAlg);
}

/* GDAL's loader looks up GDALRegister_<Name> (from the file name
 * gdal_BatchWarp.so) first, and only then GDALRegisterMe: exporting the
 * first keeps the failed lookup from raising an error, which GDAL's Python
 * bindings with exceptions on turn into an exception at start-up. */
extern "C" __attribute__((visibility("default"))) void GDALRegister_BatchWarp();
extern "C" __attribute__((visibility("default"))) void GDALRegisterMe();

extern "C" void GDALRegister_BatchWarp()
{
    Register();
}

extern "C" void GDALRegisterMe()
{
    Register();
}
