/*
 * Temporary directories. A run writes each output into a hidden directory of
 * its own beside the final one, <dir>/.batchwarp-tmp-<random>/<name>, then
 * the supervisor renames it into place: the same file system, so atomic, and
 * the same file name, so every sidecar keeps its name. Outputs staged for a
 * remote destination go to such a directory in the staging directory
 * (CPL_TMPDIR).
 *
 * These directories may sit in directories that other users can write to
 * (a sticky /tmp, a shared output directory), so:
 * - each is made with mkdir(), which fails when the name exists, under a
 *   name of 128 random bits; a name that exists is never reused, another is
 *   drawn;
 * - it is mode 0700 and holds a marker file, made and locked (flock) before
 *   it gets its name, so the directory is proven to be a run's by the marker
 *   and the owner's uid, and alive while the lock is held: for the whole run,
 *   by the supervisor, whatever its pid namespace or host name;
 * - a directory left by a run that is gone (killed) is removed by the next
 *   run in the same place only if it is a real directory (not a link) owned
 *   by the same uid, holds the marker, and its lock can be taken;
 * - removal walks the tree with openat/fstatat/unlinkat and never follows a
 *   link: a link inside is removed, not its target.
 */
#ifndef BATCHWARP_TEMP_H_INCLUDED
#define BATCHWARP_TEMP_H_INCLUDED

#include <sys/stat.h>

#define BW_TEMP_PREFIX ".batchwarp-tmp-"
/* The directories, in the run's temporary directory, in which a worker
 * writes each task alone before the supervisor moves its files into place:
 * BW_TASK_DIR_PREFIX, "w", the worker's pid, "-" and a serial (see the
 * worker's TakeTaskDir). */
#define BW_TASK_DIR_PREFIX BW_TEMP_PREFIX "task-"
/* Name of the marker file inside a temporary directory. */
#define BW_TEMP_MARKER ".batchwarp-owner"

/* Whether a directory entry name is in the temporary namespace. */
int BWIsTempName(const char *pszName);

/* Whether a path has a component in the temporary namespace. */
int BWPathEntersTempNamespace(const char *pszPath);

/* Creates this run's temporary directory in pszDir (exclusively, marked,
 * locked) unless it already has one; FALSE with errno set on failure. */
int BWMakeTempDir(const char *pszDir);

/* This run's temporary directory in pszDir, or NULL if none was made. */
const char *BWTempDirOf(const char *pszDir);

/* The device and inode of this run's local temporary directory whose path is
 * pszTempDir (as BWTempDirOf gives it): FALSE when it is not one (/vsi). A
 * worker checks them before it writes there (TASK fields TMPDIR_DEV,
 * TMPDIR_INO). */
int BWTempDirIdentity(const char *pszTempDir, dev_t *pnDev, ino_t *pnIno);
/* Whether the directory open as nFd is the temporary directory pszTempDir
 * this run made (TRUE for one it does not know: /vsi, another run's). */
int BWIsTempDirMade(int nFd, const char *pszTempDir);

/* Temporary path for an output: its own name in this run's temporary
 * directory of the output's directory (CPLFree it); NULL if none was made
 * there. */
char *BWTempPathFor(const char *pszOutput);

/* Removes this run's temporary directory from pszDir, with what is left in
 * it, and releases its lock. */
void BWRemoveTempDir(const char *pszDir);

/* Removes the temporary directories that runs which are gone left in pszDir
 * (see above for what is proven first); returns how many. */
int BWRemoveStaleTemps(const char *pszDir);

/*
 * Output directories below -outdir (from -recursive's {relpath} or a
 * template). -outdir itself is opened as the user named it (a link there is
 * the user's choice); each component below it is opened with
 * openat(O_NOFOLLOW|O_DIRECTORY) from the one above, and made with mkdirat
 * when missing, so that no link below -outdir is ever followed. A link,
 * anything but a directory, or a directory of another user below -outdir is
 * refused: in a shared output directory another user's entry is not ours to
 * write into (and, being theirs, they could swap it for a link during the
 * run). Each output directory stays open for the run: outputs are renamed
 * into it with renameat() from its descriptor, and its temporary directory
 * is made, found and removed from it too.
 */

/* What stands at pszPath (an output or an output directory) below or at
 * pszOutDir, walked as above, creating and following nothing: 0 with
 * *psStat (as lstat gives it) when it exists, 1 when it (or a directory
 * above it) does not exist yet, 2 when pszPath is not below pszOutDir (look
 * at it otherwise), -1 with *ppszError when a directory on the way is a
 * link, not a directory, another user's, or cannot be read. */
int BWStatBelowOutDir(const char *pszOutDir, const char *pszPath, struct stat *psStat,
                      char **ppszError);
/* The same from nOutDirFd, -outdir opened once for many paths (-1: it could
 * not be opened, so that nothing below it exists yet). */
int BWStatBelowOutDirFd(int nOutDirFd, const char *pszOutDir, const char *pszPath,
                        struct stat *psStat, char **ppszError);

/* -outdir as the batch is planned, then once it is made: the symbolic
 * links on its path (and in their targets) must be ours, root's or of the
 * directory's owner, else FALSE with *ppszError naming the link; the
 * directory found there is kept, and BWOpenOutputDir() opens -outdir only
 * if it is still that one (a directory swapped for a link or moved since
 * the plan is not written into). Nothing for /vsi. BWUnpinOutDir() forgets
 * it. */
int BWPinOutDir(const char *pszOutDir, char **ppszError);
/* The check of links on the way to pszPath that BWPinOutDir() makes: FALSE
 * with *ppszError naming the link (and the option pszOption) if one is of
 * another user in a directory that is not theirs. */
int BWCheckLinksOnPath(const char *pszPath, const char *pszOption, char **ppszError);
void BWUnpinOutDir(void);

/* Opens the output directory pszDir, at or below pszOutDir, making what is
 * missing, and keeps its descriptor for the run: 1 on success, 0 with
 * *ppszError, 2 when pszDir is not below pszOutDir (nothing done). */
int BWOpenOutputDir(const char *pszOutDir, const char *pszDir, char **ppszError);

/* The descriptor kept for the output directory pszDir, or -1. */
int BWOutputDirFd(const char *pszDir);

/* Whether the output directory pszDir (kept open) is still the one found at
 * its path below -outdir, without following a link; if it was moved or
 * replaced (by a link) during the run, FALSE with a CPLError: nothing is
 * published there. TRUE for a directory not kept open. */
int BWOutputDirInPlace(const char *pszDir);

/* Closes the descriptor kept for pszDir, if any. */
void BWCloseOutputDir(const char *pszDir);

/* Removes the entry pszName of the directory open as nDirFd, and its whole
 * tree if it is a directory, without following any symbolic link; stays on
 * the entry's file system. 0 on success, -1 with errno. */
int BWRemoveTreeAt(int nDirFd, const char *pszName);

/* Removes pszName, and all it holds, from pszTempDir, a temporary directory
 * of this run: through the descriptor kept since it was made when it is
 * local, so never through a link nor in a directory put at its name since;
 * by path under /vsi. */
void BWRemoveInTempDir(const char *pszTempDir, const char *pszName);

/* The names in the directory open as nDirFd, but "." and "..", in
 * *ppapszNames (NULL if none; the caller's). nDirFd's offset is left at the
 * start (a dup()ed descriptor shares it). 0, or -1 with errno. */
int BWListDirAt(int nDirFd, char ***ppapszNames);

#endif
