/* libFuzzer target: the user-text parsers besides the report: source lists
 * (-input_file_list, with and without -null), -shard values and output name
 * templates. The first byte picks the parser; each checks what its result
 * promises, and aborts (a finding) when that does not hold. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include "batchwarp_naming.h"
#include "batchwarp_shard.h"
#include "batchwarp_sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize);

static char *AsString(const uint8_t *pabyData, size_t nSize)
{
    char *psz = CPLMalloc(nSize + 1);
    memcpy(psz, pabyData, nSize);
    psz[nSize] = '\0';
    return psz;
}

static void CheckList(const uint8_t *pabyData, size_t nSize, int bNul)
{
    char **papszNames = BWSplitSourceList((const char *)pabyData, nSize, bNul);
    for (char **papszIter = papszNames; papszIter && *papszIter; ++papszIter)
    {
        if ((*papszIter)[0] == '\0' || (!bNul && strchr(*papszIter, '\n') != NULL))
            abort();
    }
    CSLDestroy(papszNames);
}

static void CheckShard(const uint8_t *pabyData, size_t nSize)
{
    char *pszValue = AsString(pabyData, nSize);
    int nIndex = -1;
    int nCount = -1;
    if (BWShardParse(pszValue, &nIndex, &nCount) && !(nIndex >= 0 && nIndex < nCount))
        abort();
    CPLFree(pszValue);
}

static void CheckTemplate(const uint8_t *pabyData, size_t nSize)
{
    char *pszTemplate = AsString(pabyData, nSize);
    char *pszError = NULL;
    char *pszName =
        BWExpandOutputTemplate(pszTemplate, "/data/in/x.tif", "a/b", "_s", "tif", &pszError);
    /* A name never leaves -outdir: relative, with no empty, "." or ".."
     * component. */
    if (pszName != NULL)
    {
        if (pszName[0] == '/' || pszName[0] == '\0' || strstr(pszName, "//") != NULL)
            abort();
        char **papszParts = CSLTokenizeString2(pszName, "/", 0);
        for (char **papszIter = papszParts; papszIter && *papszIter; ++papszIter)
        {
            if (strcmp(*papszIter, ".") == 0 || strcmp(*papszIter, "..") == 0)
                abort();
        }
        CSLDestroy(papszParts);
    }
    if (pszName == NULL && pszError == NULL)
        abort();
    CPLFree(pszName);
    CPLFree(pszError);
    CPLFree(pszTemplate);
}

int LLVMFuzzerTestOneInput(const uint8_t *pabyData, size_t nSize)
{
    if (nSize == 0)
        return 0;
    switch (pabyData[0] % 4)
    {
    case 0:
        CheckList(pabyData + 1, nSize - 1, FALSE);
        break;
    case 1:
        CheckList(pabyData + 1, nSize - 1, TRUE);
        break;
    case 2:
        CheckShard(pabyData + 1, nSize - 1);
        break;
    default:
        CheckTemplate(pabyData + 1, nSize - 1);
        break;
    }
    return 0;
}
