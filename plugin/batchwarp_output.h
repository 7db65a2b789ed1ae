/* Atomic outputs: a worker writes under a temporary name beside the final
 * one (batchwarp_temp.h) and closes it; the supervisor then moves it into
 * place and only then reports it, so a final name only ever holds a
 * complete dataset. Staged outputs are copied into place by the worker. */
#ifndef BATCHWARP_OUTPUT_H_INCLUDED
#define BATCHWARP_OUTPUT_H_INCLUDED

#include <cpl_port.h>

#include "batchwarp_plan.h"

/* The sidecars GDAL attaches to a dataset by its name (x.tif.aux.xml, .ovr,
 * .msk): those of an earlier output that the new one lacks are removed when
 * it is published. NULL-terminated; [0] metadata, [1] overviews, [2] mask. */
extern const char *const BWOutputSidecarSuffixes[];

/* Deletes a temporary output and its sidecars, if present. Quiet. */
void BWDiscardTemp(const char *pszTemp);

/* Once the new output is in place: removes the files of the earlier output
 * at pszOutput (papszStale, names in its directory, see the worker's
 * OldOutputFiles) that the new one (papszNew) lacks, as gdalwarp's delete of
 * the earlier dataset does. Only regular files of our own user: another
 * user's file is not ours to remove. Quiet. */
void BWRemoveStaleFiles(const char *pszOutput, CSLConstList papszStale, CSLConstList papszNew);

/* Removes the task directories (see BW_TASK_DIR_PREFIX) of the worker nPid,
 * lost, beside the temporary output pszTemp: what it was writing. Its
 * finished tasks were published from them before. Quiet. */
void BWDiscardWorkerTaskDirs(const char *pszTemp, int nPid);

/* Renames a closed temporary output (and its PAM .aux.xml) to its final
 * name, as BWPublishOutputFiles() does. Errors go to CPLError. */
int BWPublishOutput(const char *pszTemp, const char *pszOutput);

/* Moves a closed output from its temporary name to its final one, file by
 * file: papszFiles are the names (in the temporary directory) of the
 * dataset's files, as the worker listed them; sidecars move first, the main
 * file (pszTemp's name) last, each by one rename() over what was there, so a
 * reader finds the old dataset or the new one, never none. Nothing is ever
 * deleted at a final name: if one is not a regular file (a link, a
 * directory), nothing is moved and the task fails, leaving the old output as
 * it was. Sidecars of the old dataset that the new one lacks (.aux.xml,
 * .ovr, .msk) are removed after. Errors go to CPLError. */
int BWPublishOutputFiles(const char *pszTemp, const char *pszOutput, CSLConstList papszFiles);

/* BWPublishOutputFiles for a local output that the worker left in the
 * task's own directory pszTaskDir (a name starting with BW_TASK_DIR_PREFIX)
 * in the temporary directory, which is left empty for the worker to use
 * again (or, if the task fails, as it is, for the end of the run). A file that another output of
 * this run published (two outputs whose files share a name: ENVI names the header of "x" and of
 * "x.y" "x.hdr") fails the task, and nothing is moved. With bKeep (no -overwrite: the output was
 * not there when the batch was planned), a main file that appeared at the final name since is kept
 * (the rename never replaces it) and the task fails, as it does for a sidecar name that holds a
 * file of another user. With -overwrite, the earlier output's files that the new one lacks
 * (papszStale, the worker's STALE names, and its .aux.xml, .ovr, .msk) are removed before the new
 * main file is moved in, its earlier main file set aside meanwhile: never found together. */
int BWPublishTaskOutput(const char *pszTemp, const char *pszTaskDir, const char *pszOutput,
                        CSLConstList papszFiles, CSLConstList papszStale, int bKeep);

/* Outputs under /vsi (object stores, archives; not /vsimem/) cannot be
 * written in place by most drivers, nor renamed atomically: they are written
 * to a local staging directory (CPL_TMPDIR, else TMPDIR, else /tmp), then
 * copied. BATCHWARP_STAGE_OUTPUTS=YES forces this for local outputs too: a
 * test-only switch, which no test sets since test_s3.py covers staging. */
int BWOutputNeedsStaging(const char *pszOutput);
/* Where plan item nIndex stages its output (CPLFree it): in this run's
 * temporary directory (batchwarp_temp.h) of the staging directory, under a
 * name made unique by the index, since outputs of different directories
 * may share a name. */
char *BWStagingPathFor(int nIndex, const char *pszOutput);
const char *BWStagingDir(void);

/* Copies a closed staged dataset and its sidecars to the final name, then
 * deletes it. Each file is written whole (an object store publishes it at
 * close). A local destination gets the copies in the temporary directory of
 * pszTemp first, then renamed into place (BWPublishOutputFiles). Errors go
 * to CPLError. *ppapszPublished, if not NULL, gets the names written in the
 * output's directory (CSLDestroy them). With bEarlierMain (-overwrite over an
 * object store's output whose main file exists), a dataset of several files
 * first removes the earlier main file: a reader, or a run killed before the
 * new main file is uploaded, finds the output missing, never the earlier
 * main file with the new sidecars. With bKeep (no -overwrite), an object
 * store's output found at its name before the upload fails the task and is
 * left as it is. */
int BWPublishStagedOutput(const char *pszStaged, const char *pszOutput, const char *pszTemp,
                          int bEarlierMain, int bKeep, char ***ppapszPublished);

/* Makes -outdir if needed; FALSE with *ppszError when it is not a writable
 * directory. */
int BWPrepareOutDir(const char *pszOutDir, char **ppszError);
/* Makes every directory that receives outputs (below pszOutDir, from the
 * {relpath} of a template) and the staging directory, if used; in each,
 * removes the temporary directories of killed runs and makes this run's.
 * Those below pszOutDir are reached without following a link and kept open
 * for the run (BWOpenOutputDir). FALSE with *ppszError on the first that
 * fails. */
int BWPrepareOutputDirs(const BWPlan *psPlan, const char *pszOutDir, char **ppszError);
/* Removes this run's temporary directories made by BWPrepareOutputDirs(),
 * and closes the output directories. */
void BWCleanOutputDirs(const BWPlan *psPlan);

#endif
