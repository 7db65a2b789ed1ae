/* The --help text and the option list, both made from the option table
 * (batchwarp_option_table.c), once, on first use. */
#include <string.h>

#include <json-c/json.h>

#include <cpl_conv.h>
#include <cpl_multiproc.h>
#include <cpl_string.h>

#include "batchwarp_option_table.h"
#include "gdal_batchwarp.h"

/* Columns of --help: option names from 2, help text from 24, up to 79. */
#define BW_HELP_INDENT 2
#define BW_HELP_TEXT_COLUMN 24
#define BW_HELP_WIDTH 79

static const char szUsageHead[] =
    "Usage: gdal_batchwarp [--help] [--version] [--help-general]\n"
    "                      [--config <KEY> <VALUE>]... [--debug on|off]\n"
    "                      [<gdalwarp options>] [<batch options>]\n"
    "                      <src>... -outdir <dir>\n"
    "       gdal_batchwarp -merge_reports <report>... [-report <file>]\n"
    "\n"
    "Runs gdalwarp on every source with a pool of clean worker processes.\n"
    "Every gdalwarp option is accepted unchanged (see gdalwarp --help).\n"
    "A <src> is a raster file, a directory, whose rasters are taken in\n"
    "sorted order, or a quoted pattern (tiles/*.tif); any GDAL path works,\n"
    "/vsizip/, /vsicurl/ and /vsis3/ directories included. Use -- before\n"
    "sources whose names start with '-'.\n";

static const char szUsageTail[] =
    "\n"
    "Exit status: 0 all files succeeded, 1 some file failed or the batch\n"
    "could not run, 2 usage error (nothing was written), 130/143 stopped\n"
    "by SIGINT/SIGTERM (finished outputs are kept, temporary files removed).\n";

/* A growing string: the help is a few kB, made once. */
typedef struct
{
    char *psz;
    size_t nLen;
} BWText;

static void Append(BWText *psText, const char *pszMore, size_t nMore)
{
    psText->psz = CPLRealloc(psText->psz, psText->nLen + nMore + 1);
    memcpy(psText->psz + psText->nLen, pszMore, nMore);
    psText->nLen += nMore;
    psText->psz[psText->nLen] = '\0';
}

static void AppendString(BWText *psText, const char *pszMore)
{
    Append(psText, pszMore, strlen(pszMore));
}

static void AppendSpaces(BWText *psText, size_t nSpaces)
{
    for (size_t i = 0; i < nSpaces; ++i)
        Append(psText, " ", 1);
}

/* "-q, -quiet" or "-outdir <dir>": how the option is written in --help. */
static char *Spellings(const BWOptionSpec *psSpec)
{
    char *pszOut = CPLStrdup(psSpec->pszName);
    for (const char *const *ppszAlias = psSpec->papszAliases; ppszAlias && *ppszAlias; ++ppszAlias)
    {
        char *pszMore = CPLStrdup(CPLSPrintf("%s, %s", pszOut, *ppszAlias));
        CPLFree(pszOut);
        pszOut = pszMore;
    }
    if (psSpec->pszMetaVar != NULL)
    {
        char *pszMore = CPLStrdup(CPLSPrintf("%s %s", pszOut, psSpec->pszMetaVar));
        CPLFree(pszOut);
        pszOut = pszMore;
    }
    return pszOut;
}

/* The help with the default, "... after n tasks (default: 500)." */
static char *HelpWithDefault(const BWOptionSpec *psSpec)
{
    if (psSpec->pszDefault == NULL)
        return CPLStrdup(psSpec->pszHelp);
    size_t nLen = strlen(psSpec->pszHelp);
    const int bPeriod = nLen > 0 && psSpec->pszHelp[nLen - 1] == '.';
    if (bPeriod)
        --nLen;
    return CPLStrdup(CPLSPrintf("%.*s (default: %s)%s", (int)nLen, psSpec->pszHelp,
                                psSpec->pszDefault, bPeriod ? "." : ""));
}

/* Words of pszHelp from the current column, wrapped at BW_HELP_WIDTH and
 * indented to BW_HELP_TEXT_COLUMN. */
static void AppendWrapped(BWText *psText, const char *pszHelp, size_t nColumn)
{
    char **papszWords = CSLTokenizeString2(pszHelp, " ", 0);
    for (int i = 0; papszWords && papszWords[i]; ++i)
    {
        const size_t nWord = strlen(papszWords[i]);
        if (nColumn > BW_HELP_TEXT_COLUMN && nColumn + 1 + nWord > BW_HELP_WIDTH)
        {
            AppendString(psText, "\n");
            nColumn = 0;
        }
        if (nColumn < BW_HELP_TEXT_COLUMN)
        {
            AppendSpaces(psText, BW_HELP_TEXT_COLUMN - nColumn);
            nColumn = BW_HELP_TEXT_COLUMN;
        }
        else
        {
            AppendString(psText, " ");
            ++nColumn;
        }
        AppendString(psText, papszWords[i]);
        nColumn += nWord;
    }
    AppendString(psText, "\n");
    CSLDestroy(papszWords);
}

static void AppendOption(BWText *psText, const BWOptionSpec *psSpec)
{
    char *pszSpellings = Spellings(psSpec);
    AppendSpaces(psText, BW_HELP_INDENT);
    AppendString(psText, pszSpellings);
    size_t nColumn = BW_HELP_INDENT + strlen(pszSpellings);
    /* Names too long for the column get a line of their own. */
    if (nColumn + 2 > BW_HELP_TEXT_COLUMN)
    {
        AppendString(psText, "\n");
        nColumn = 0;
    }
    char *pszHelp = HelpWithDefault(psSpec);
    AppendWrapped(psText, pszHelp, nColumn);
    CPLFree(pszHelp);
    CPLFree(pszSpellings);
}

static char *MakeUsage(void)
{
    BWText sText = {NULL, 0};
    AppendString(&sText, szUsageHead);
    for (int eGroup = 0; eGroup < BW_GROUP_COUNT; ++eGroup)
    {
        AppendString(&sText, CPLSPrintf("\nBatch options for %s:\n",
                                        BWOptionGroupTitle((BWOptionGroup)eGroup)));
        for (int i = 0; i < BWOptionSpecCount(); ++i)
        {
            if (BWOptionSpecAt(i)->eGroup == (BWOptionGroup)eGroup)
                AppendOption(&sText, BWOptionSpecAt(i));
        }
    }
    AppendString(&sText, szUsageTail);
    return sText.psz;
}

/* The table as JSON, for documentation checks and completion scripts. */
static char *MakeOptionList(void)
{
    json_object *poList = json_object_new_array();
    for (int i = 0; i < BWOptionSpecCount(); ++i)
    {
        const BWOptionSpec *psSpec = BWOptionSpecAt(i);
        json_object *poOption = json_object_new_object();
        json_object_object_add(poOption, "name", json_object_new_string(psSpec->pszName));
        json_object *poAliases = json_object_new_array();
        for (const char *const *ppszAlias = psSpec->papszAliases; ppszAlias && *ppszAlias;
             ++ppszAlias)
            json_object_array_add(poAliases, json_object_new_string(*ppszAlias));
        json_object_object_add(poOption, "aliases", poAliases);
        json_object_object_add(poOption, "values", json_object_new_int(psSpec->nValues));
        json_object_object_add(poOption, "metavar",
                               psSpec->pszMetaVar ? json_object_new_string(psSpec->pszMetaVar)
                                                  : NULL);
        json_object_object_add(poOption, "default",
                               psSpec->pszDefault ? json_object_new_string(psSpec->pszDefault)
                                                  : NULL);
        json_object_object_add(poOption, "group",
                               json_object_new_string(BWOptionGroupTitle(psSpec->eGroup)));
        json_object_object_add(poOption, "help", json_object_new_string(psSpec->pszHelp));
        json_object_array_add(poList, poOption);
    }
    BWText sText = {NULL, 0};
    AppendString(&sText, json_object_to_json_string_ext(poList, JSON_C_TO_STRING_PRETTY |
                                                                    JSON_C_TO_STRING_SPACED));
    AppendString(&sText, "\n");
    json_object_put(poList);
    return sText.psz;
}

/* Made once, kept for the life of the process (static storage, as the API
 * promises). */
static const char *MadeOnce(char **ppszCache, char *(*pfnMake)(void))
{
    static CPLMutex *hMutex = NULL;
    CPLCreateOrAcquireMutex(&hMutex, 1000.0);
    if (*ppszCache == NULL)
        *ppszCache = pfnMake();
    CPLReleaseMutex(hMutex);
    return *ppszCache;
}

const char *GDALBatchWarpGetUsage(void)
{
    static char *pszUsage = NULL;
    return MadeOnce(&pszUsage, MakeUsage);
}

const char *GDALBatchWarpGetOptionList(void)
{
    static char *pszList = NULL;
    return MadeOnce(&pszList, MakeOptionList);
}
