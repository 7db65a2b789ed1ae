/*
 * Test-only fault injection in workers, compiled in only with the CMake
 * option BATCHWARP_FAULT_HOOKS, and active only when the environment
 * variable GDAL_BATCHWARP_TEST_FAULTS is set, e.g.
 *   GDAL_BATCHWARP_TEST_FAULTS="segv:t007.tif,hang:t013.tif,exit:t021.tif,segv_once:t030.tif"
 * Each entry is ACTION:BASENAME; the action runs when a task's source has
 * that base name. Actions: segv and abort raise the signal, hang sleeps
 * forever, exit ends the worker with status 3 without replying, errors
 * raises BW_FAULT_ERROR_COUNT GDAL errors and fails the task, gate
 * creates $GDAL_BATCHWARP_TEST_GATE.reached and waits until the file
 * $GDAL_BATCHWARP_TEST_GATE exists (a test acts in between, e.g. swaps a
 * directory); a "_once" suffix acts on the first attempt only, so a retry
 * succeeds. The action gate_after (BWInjectFaultAfterWrite) is gate once
 * the output is written and closed, before the supervisor renames it. The
 * entry gate_plan (no base name) is the gate in the supervisor once the
 * plan is built, before the output directories are prepared
 * (BWFaultPlanBuilt).
 */
#ifndef BATCHWARP_FAULT_HOOKS_H_INCLUDED
#define BATCHWARP_FAULT_HOOKS_H_INCLUDED

/* Whether this build carries the hooks. */
int BWFaultHooksCompiled(void);

#define BW_FAULT_ERROR_COUNT 100

/* Runs the fault meant for this task, if any; TRUE when the task is to fail
 * with the errors it raised. */
int BWInjectFault(const char *pszSource, int nAttempt);
void BWInjectFaultAfterWrite(const char *pszSource);
/* The entry gate_publish:NAME is the gate in the supervisor while it
 * publishes the output whose main file is NAME: its sidecars are in place,
 * its main file not yet. */
void BWFaultBeforeMainFile(const char *pszMain);
/* gate_published:NAME: the same gate once the main file NAME is in place,
 * before the earlier output's files that the new one lacks are removed. */
void BWFaultAfterMainFile(const char *pszMain);

/*
 * GDAL_BATCHWARP_TEST_EVENTS=FILE: the order in which a batch starts, one
 * line appended to FILE per event: "worker_started PID" when a worker
 * process begins (BWFaultWorkerStarted), "plan_built" once the supervisor
 * has built its plan, or "plan_refused" (BWFaultPlanBuilt). So that the
 * order says what overlaps and not how fast each side was, BWFaultPlanBuilt
 * first waits, up to BW_FAULT_EVENT_WAIT_SECONDS, for a worker_started line:
 * a worker that only starts after the plan is built never writes it in time.
 */
#define BW_FAULT_EVENT_WAIT_SECONDS 20
void BWFaultWorkerStarted(void);
/* Called with what BWPlanBuild returned (built or refused), which it
 * returns; logs "plan_built" or "plan_refused". */
int BWFaultPlanBuilt(int bBuilt);

#endif
