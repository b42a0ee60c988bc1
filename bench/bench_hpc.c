/*
 * bench_hpc: the cost of simvue_run_log_metrics (3 values) with resource monitoring on
 * (resources every second, emission metrics, GPUs when an NVML is found) and off, as a solver
 * sees it over several seconds. Run by bench/bench_hpc.py (bench/run.sh), which puts a fake
 * NVML on LD_LIBRARY_PATH.
 *
 * Usage: bench_hpc SECONDS on|off
 * Prints "calls=<n> ns_per_call=<x> dropped=<n>".
 * Offline into SIMVUE_OFFLINE_DIRECTORY; a blocking queue of 1 000 000 sets.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simvue.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_hpc SECONDS on|off\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    int on = strcmp(argv[2], "on") == 0;
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_OFFLINE, &run) != SIMVUE_OK) {
        return 3;
    }
    simvue_run_config(run, 0, 1, 1000000, on ? 0 : 1, on ? 1 : SIMVUE_KEEP);
    if (on) {
        simvue_run_set_emission_metrics(run, 1);
    }
    simvue_run_set_quiet(run, 1);
    if (simvue_run_init(run, on ? "bench-monitored" : "bench-plain", NULL, NULL, 0, NULL,
                        "/bench", 1) != SIMVUE_OK) {
        return 4;
    }
    const char *names[] = {"residual", "t_max", "dt"};
    double values[3] = {1.0, 2.0, 3.0};
    /* Bursts of 100 000 timed calls with a 0.1 s pause between them, so that the queue never
     * fills (the writer's speed is not what is measured) while resource samples are taken
     * every second throughout. */
    long calls = 0;
    double timed = 0.0;
    double end = now_s() + seconds;
    while (now_s() < end) {
        double b0 = now_s();
        for (int i = 0; i < 100000; i++) {
            values[i % 3] += 1.0;
            simvue_run_log_metrics(run, names, values, 3);
        }
        timed += now_s() - b0;
        calls += 100000;
        struct timespec pause = {0, 100000000};
        nanosleep(&pause, NULL);
    }
    uint64_t dropped = 0;
    simvue_run_dropped(run, &dropped, NULL);
    double elapsed = timed;
    simvue_run_close(run);
    simvue_run_free(run);
    printf("calls=%ld ns_per_call=%.1f dropped=%llu\n", calls, elapsed * 1e9 / (double)calls,
           (unsigned long long)dropped);
    return 0;
}
