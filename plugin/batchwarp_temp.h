/*
 * Temporary outputs. A run writes each output into a hidden directory of
 * its own beside the final one, <dir>/.batchwarp-tmp-<host>-<pid>/<name>,
 * then renames it into place: the same file system, so the rename is atomic,
 * and the same file name, so GDAL's driver rename carries every sidecar
 * (.aux.xml, .msk, .ovr, ENVI's .hdr) whatever the driver's naming.
 * A run killed with SIGKILL leaves its directory behind; the next run on the
 * same machine removes it once that process is gone. Directories of other
 * machines (shared file systems, array jobs) are left to the runs there.
 */
#ifndef BATCHWARP_TEMP_H_INCLUDED
#define BATCHWARP_TEMP_H_INCLUDED

/* ".batchwarp-tmp-<host>-<pid>" of this process (CPLFree it). */
char *BWTempDirName(void);

/* Temporary path for an output (CPLFree it). pszExtension is unused: the
 * temporary file has the output's own name. */
char *BWTempPathFor(const char *pszOutput, const char *pszExtension);

/* Whether a directory entry name is a run's temporary directory. */
int BWIsTempName(const char *pszName);

/* Creates this run's temporary directory in pszDir; FALSE on failure. */
int BWMakeTempDir(const char *pszDir);
/* Removes this run's temporary directory from pszDir, with what is left in it. */
void BWRemoveTempDir(const char *pszDir);

/* Removes the temporary directories that dead runs of this machine left in
 * pszDir; returns how many. */
int BWRemoveStaleTemps(const char *pszDir);

#endif
