/*
 * walltime: a solver stopped from outside (tests/hpc). Logs N metric sets (3 values encoding
 * the index, explicit unique steps) and the event "before the signal" as fast as it can, prints
 * READY, then waits to be stopped.
 *
 * Usage: walltime N QUEUE_SIZE [ACTION]
 *   QUEUE_SIZE: items each queue holds (non-blocking; > N keeps all N queued when READY shows)
 *   ACTION: wait (default): sleep until a signal ends the process
 *           exit1: exit(1) without closing the run
 *           checkpoint=S: a signal callback "writes a checkpoint" for S seconds (logging the
 *                         event "checkpoint written") before the library goes on
 * The mode is online; SIMVUE_MODE=offline in the environment makes it offline.
 * Output lines (key=value): init_rc, run_id, READY, CALLBACK (from the callback).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

static simvue_run *run;
static double checkpoint_seconds;

static void on_signal(int32_t signum, void *user_data) {
    (void)user_data;
    printf("CALLBACK signal=%d\n", (int)signum);
    fflush(stdout);
    struct timespec ts = {(time_t)checkpoint_seconds,
                          (long)((checkpoint_seconds - (double)(time_t)checkpoint_seconds) * 1e9)};
    nanosleep(&ts, NULL);
    simvue_run_log_event(run, "checkpoint written", NULL);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: walltime N QUEUE_SIZE [ACTION]\n");
        return 2;
    }
    long n = atol(argv[1]);
    long queue_size = atol(argv[2]);
    const char *action = argc > 3 ? argv[3] : "wait";
    if (simvue_run_new(SIMVUE_MODE_ONLINE, &run) != SIMVUE_OK) {
        return 3;
    }
    simvue_run_config(run, 1, 0, queue_size, 1, SIMVUE_KEEP);
    if (strncmp(action, "checkpoint=", 11) == 0) {
        checkpoint_seconds = atof(action + 11);
        simvue_run_set_signal_callback(run, on_signal, NULL);
    }
    simvue_result rc = simvue_run_init(run, "walltime-run", NULL, NULL, 0, NULL, "/hpc", 1);
    printf("init_rc=%s\n", simvue_result_name(rc));
    char id[SIMVUE_ID_BUFFER_SIZE];
    if (simvue_run_id(run, id, sizeof id, NULL) == SIMVUE_OK) {
        printf("run_id=%s\n", id);
    }
    const char *names[] = {"index", "twice", "neg"};
    for (long i = 0; i < n; i++) {
        double v[3] = {(double)i, 2.0 * (double)i, -(double)i};
        simvue_run_log_metrics_ex(run, names, v, 3, SIMVUE_METRICS_STEP, i, 0.0, NULL);
    }
    simvue_run_log_event(run, "before the signal", NULL);
    printf("READY\n");
    fflush(stdout);
    if (strcmp(action, "exit1") == 0) {
        exit(1);
    }
    for (;;) {
        pause();
    }
}
