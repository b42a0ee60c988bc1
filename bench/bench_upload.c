/* Upload throughput: logs N metric sets of K values as fast as possible in online mode (the
 * server and token come from SIMVUE_URL / SIMVUE_TOKEN), closes the run (which waits until
 * everything is sent) and prints the sustained rate. Used by bench/bench_upload.py. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simvue.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int k = argc > 2 ? atoi(argv[2]) : 10;
    if (k < 1 || k > 64 || n < 1) {
        return 2;
    }
    char names_buf[64][16];
    const char *names[64];
    double values[64];
    for (int i = 0; i < k; i++) {
        snprintf(names_buf[i], sizeof names_buf[i], "m%02d", i);
        names[i] = names_buf[i];
    }
    simvue_run *run = NULL;
    simvue_run_new(SIMVUE_MODE_ONLINE, &run);
    simvue_run_config(run, 0, /*queue_blocking=*/1, 100000, /*no resources*/ 1, SIMVUE_KEEP);
    if (simvue_run_init(run, "upload-bench", NULL, NULL, 0, NULL, "/bench", 1) != SIMVUE_OK) {
        char msg[512];
        simvue_last_error_message(msg, sizeof msg);
        fprintf(stderr, "init failed: %s\n", msg);
        return 1;
    }
    double t0 = now();
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            values[j] = (double)i + j * 1e-3;
        }
        simvue_run_log_metrics(run, names, values, (size_t)k);
    }
    double t1 = now();
    int rc = simvue_run_close(run);
    double t2 = now();
    simvue_run_free(run);
    printf("%ld %d %.6f %.6f %d\n", n, k, t1 - t0, t2 - t0, rc);
    return rc == SIMVUE_OK ? 0 : 1;
}
