#include "batchwarp_report.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <cpl_conv.h>
#include <cpl_string.h>

struct BWReport
{
    FILE *fp;
    int bOwnsFile;
    char *pszPath;
};

static const char *FileKind(mode_t nMode)
{
    return S_ISLNK(nMode)    ? "a symbolic link"
           : S_ISDIR(nMode)  ? "a directory"
           : S_ISFIFO(nMode) ? "a FIFO"
           : S_ISCHR(nMode)  ? "a character device"
           : S_ISBLK(nMode)  ? "a block device"
           : S_ISSOCK(nMode) ? "a socket"
                             : "not a regular file";
}

/* Whether what stands at the report's name, found by lstat() as *psStat and
 * (if a regular file) open as fd, may be written over: a regular file of our
 * own user, empty or holding a report (our records start with "source").
 * Anything else is not ours to truncate, and a link or a FIFO may lead
 * anywhere or block forever. */
static int CheckExisting(int fd, const struct stat *psStat, const char *pszPath, char **ppszError)
{
    if (!S_ISREG(psStat->st_mode))
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' exists and is %s: gdal_batchwarp writes a report only into a regular "
            "file of its own and left it as it was. Remove it, choose another -report path, or "
            "use -report - for standard output.",
            pszPath, FileKind(psStat->st_mode)));
        return FALSE;
    }
    if (psStat->st_uid != geteuid())
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' belongs to another user (uid %ld): gdal_batchwarp writes no report into "
            "a file of another user and left it as it was. Remove it or choose another -report "
            "path.",
            pszPath, (long)psStat->st_uid));
        return FALSE;
    }
    if (psStat->st_size == 0)
        return TRUE;
    static const char szStart[] = "{\"source\":";
    char szHead[64];
    const ssize_t nRead = pread(fd, szHead, sizeof(szHead) - 1, 0);
    szHead[nRead > 0 ? nRead : 0] = '\0';
    const char *pszFirst = szHead + strspn(szHead, " \t\r\n");
    /* An empty or blank file is fine (a report of nothing to do). */
    const int bBlank = pszFirst[0] == '\0' && psStat->st_size < (off_t)sizeof(szHead);
    if (!bBlank && strncmp(pszFirst, szStart, strlen(szStart)) != 0)
    {
        *ppszError = CPLStrdup(CPLSPrintf(
            "Report '%s' exists and is not a report of gdal_batchwarp: it was left as it was. "
            "Remove it or choose another -report path.",
            pszPath));
        return FALSE;
    }
    return TRUE;
}

int BWReportCheckPath(const char *pszPath, char **ppszError)
{
    if (strcmp(pszPath, "-") == 0)
        return TRUE;
    struct stat sStat;
    if (lstat(pszPath, &sStat) != 0)
        return TRUE; /* made when the run starts; opening it says why not */
    if (!S_ISREG(sStat.st_mode))
        return CheckExisting(-1, &sStat, pszPath, ppszError);
    const int fd = open(pszPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return TRUE;
    struct stat sOpened;
    int bOk = fstat(fd, &sOpened) != 0 || CheckExisting(fd, &sOpened, pszPath, ppszError);
    close(fd);
    return bOk;
}

BWReport *BWReportOpen(const char *pszPath, char **ppszError)
{
    FILE *fp = NULL;
    if (strcmp(pszPath, "-") == 0)
        fp = stdout;
    else
    {
        /* Never through a link, never blocking on a FIFO, never truncating
         * before the file is known to be ours (see CheckExisting). */
        const int fd =
            open(pszPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
        const int nErr = errno;
        struct stat sStat;
        if (fd < 0 && (nErr == ELOOP || nErr == ENXIO) && lstat(pszPath, &sStat) == 0 &&
            !CheckExisting(-1, &sStat, pszPath, ppszError))
            return NULL;
        if (fd < 0)
        {
            *ppszError =
                CPLStrdup(CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(nErr)));
            return NULL;
        }
        const int nFlags = fcntl(fd, F_GETFL);
        if (fstat(fd, &sStat) != 0 || !CheckExisting(fd, &sStat, pszPath, ppszError) ||
            nFlags < 0 || fcntl(fd, F_SETFL, nFlags & ~O_NONBLOCK) != 0 || ftruncate(fd, 0) != 0 ||
            (fp = fdopen(fd, "w")) == NULL)
        {
            if (*ppszError == NULL)
                *ppszError = CPLStrdup(
                    CPLSPrintf("Cannot open report file '%s': %s", pszPath, strerror(errno)));
            close(fd);
            return NULL;
        }
    }
    BWReport *psReport = CPLCalloc(1, sizeof(BWReport));
    psReport->fp = fp;
    psReport->bOwnsFile = fp != stdout;
    psReport->pszPath = CPLStrdup(pszPath);
    return psReport;
}

char *BWResultToJson(const GDALBatchWarpResult *psResult)
{
    json_object *poObj = json_object_new_object();
    json_object_object_add(poObj, "source", json_object_new_string(psResult->pszSource));
    json_object_object_add(poObj, "output", json_object_new_string(psResult->pszOutput));
    json_object_object_add(poObj, "ok", json_object_new_boolean(psResult->bOk));
    json_object_object_add(poObj, "skipped", json_object_new_boolean(psResult->bSkipped));
    json_object_object_add(poObj, "error",
                           psResult->pszError ? json_object_new_string(psResult->pszError) : NULL);
    /* Microseconds are all a wall time can claim; json-c would print 17 digits. */
    json_object_object_add(
        poObj, "seconds",
        json_object_new_double_s(psResult->dfSeconds, CPLSPrintf("%.6f", psResult->dfSeconds)));
    json_object_object_add(poObj, "worker_pid",
                           psResult->nWorkerPid ? json_object_new_int(psResult->nWorkerPid) : NULL);
    json_object_object_add(poObj, "attempts", json_object_new_int(psResult->nAttempts));
    json_object_object_add(poObj, "threads", json_object_new_int(psResult->nThreads));
    json_object_object_add(poObj, "shard",
                           psResult->pszShard ? json_object_new_string(psResult->pszShard) : NULL);
    json_object *poMessages = json_object_new_array();
    for (CSLConstList papszIter = psResult->papszMessages; papszIter && *papszIter; ++papszIter)
        json_object_array_add(poMessages, json_object_new_string(*papszIter));
    json_object_object_add(poObj, "messages", poMessages);
    char *pszJson = CPLStrdup(json_object_to_json_string_ext(
        poObj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(poObj);
    return pszJson;
}

int BWReportWriteLine(BWReport *psReport, const char *pszLine, char **ppszError)
{
    const int bOk = fprintf(psReport->fp, "%s\n", pszLine) >= 0 && fflush(psReport->fp) == 0;
    if (!bOk)
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot write report file '%s': %s", psReport->pszPath, strerror(errno)));
    return bOk;
}

int BWReportWrite(BWReport *psReport, const GDALBatchWarpResult *psResult, char **ppszError)
{
    char *pszJson = BWResultToJson(psResult);
    const int bOk = BWReportWriteLine(psReport, pszJson, ppszError);
    CPLFree(pszJson);
    return bOk;
}

int BWReportClose(BWReport *psReport, char **ppszError)
{
    if (psReport == NULL)
        return TRUE;
    int bOk = fflush(psReport->fp) == 0;
    if (psReport->bOwnsFile && fclose(psReport->fp) != 0)
        bOk = FALSE;
    if (!bOk)
        *ppszError = CPLStrdup(
            CPLSPrintf("Cannot write report file '%s': %s", psReport->pszPath, strerror(errno)));
    CPLFree(psReport->pszPath);
    CPLFree(psReport);
    return bOk;
}
