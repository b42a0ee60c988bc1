/*
 * monitored: a solver whose resources are sampled every second (tests/hpc). Offline (the cache
 * in SIMVUE_OFFLINE_DIRECTORY), keeps a core busy for SECONDS, logging one metric a step, then
 * closes.
 *
 * Usage: monitored SECONDS [emissions|quiet]
 *   emissions: enable the emission metrics (simvue_run_set_emission_metrics).
 *   quiet: simvue_run_set_quiet(run, 1).
 * Output lines (key=value): init_rc, run_id, close_rc.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simvue.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: monitored SECONDS [emissions|quiet]\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_OFFLINE, &run) != SIMVUE_OK) {
        return 3;
    }
    simvue_run_config(run, 0, 1, SIMVUE_KEEP, 0, 1);
    if (argc > 2 && strcmp(argv[2], "emissions") == 0) {
        simvue_run_set_emission_metrics(run, 1);
    }
    if (argc > 2 && strcmp(argv[2], "quiet") == 0) {
        simvue_run_set_quiet(run, 1);
    }
    simvue_result rc = simvue_run_init(run, "monitored", NULL, NULL, 0, NULL, "/hpc", 1);
    printf("init_rc=%s\n", simvue_result_name(rc));
    char id[SIMVUE_ID_BUFFER_SIZE];
    if (simvue_run_id(run, id, sizeof id, NULL) == SIMVUE_OK) {
        printf("run_id=%s\n", id);
    }
    double end = now_s() + seconds;
    volatile double x = 0.0;
    long step = 0;
    while (now_s() < end) {
        for (int i = 0; i < 200000; i++) {
            x += 1e-9 * i;
        }
        double v = x;
        simvue_run_log_metrics_ex(run, (const char *[]){"x"}, &v, 1, SIMVUE_METRICS_STEP, step++,
                                  0.0, NULL);
    }
    rc = simvue_run_close(run);
    printf("close_rc=%s\n", simvue_result_name(rc));
    simvue_run_free(run);
    return 0;
}
