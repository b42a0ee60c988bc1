/*
 * initfail: a "solver" whose simvue_run_init may fail. It reports init's result and message,
 * then runs its loop whatever happened (logging metrics every step), closes and exits 0.
 *
 * Usage: initfail STEPS SUPPRESS_ERRORS
 * Output lines: init_rc, init_msg, run_id (if any), loop_done, log_errors, close_rc, DONE.
 */
#include <stdio.h>
#include <stdlib.h>

#include "simvue.h"

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 50;
    int suppress = argc > 2 ? atoi(argv[2]) : 1;
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_ONLINE, &run) != SIMVUE_OK) {
        return 3;
    }
    simvue_run_config(run, suppress, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP);
    const char *tags[] = {"initfail"};
    simvue_result rc = simvue_run_init(run, "initfail-run", "{\"k\": 1}", tags, 1, "init failure",
                                       "/initfail", 1);
    char msg[2048];
    simvue_last_error_message(msg, sizeof msg);
    printf("init_rc=%s\ninit_msg=%s\n", simvue_result_name(rc), rc == SIMVUE_OK ? "" : msg);
    char id[128];
    if (simvue_run_id(run, id, sizeof id, NULL) == SIMVUE_OK) printf("run_id=%s\n", id);
    fflush(stdout);
    int errors = 0;
    double x = 1.0;
    int n;
    for (n = 0; n < steps; n++) {
        x = 0.5 * x + 1.0; /* the "solver" */
        const char *names[] = {"x", "n"};
        double v[2] = {x, (double)n};
        if (simvue_run_log_metrics(run, names, v, 2) != SIMVUE_OK) errors++;
    }
    if (simvue_run_log_event(run, "loop finished", NULL) != SIMVUE_OK) errors++;
    printf("loop_done=%d\nlog_errors=%d\n", n, errors);
    rc = simvue_run_close(run);
    printf("close_rc=%s\n", simvue_result_name(rc));
    simvue_run_free(run);
    printf("DONE\n");
    return 0;
}
