/*
 * updater: makes run updates while the server does not answer. It initialises an online run,
 * logs a few metrics, waits for the file named by argv[1] to appear (the test creates it once
 * the server holds run updates), then calls update_metadata, update_tags and set_status, says
 * so at once (update_ms, flushed: the test reads it while the server still holds the updates),
 * logs more metrics and closes.
 *
 * Output lines: run_id, update_ms, close_rc, DONE.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    simvue_run *run = NULL;
    simvue_run_new(SIMVUE_MODE_ONLINE, &run);
    simvue_run_config(run, 1, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP);
    if (simvue_run_init(run, "updater", NULL, NULL, 0, NULL, "/updater", 1) != SIMVUE_OK) {
        return 3;
    }
    char id[128];
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);
    fflush(stdout);
    for (int i = 0; i < 10; i++) {
        simvue_run_log_metric(run, "x", (double)i);
    }
    for (int i = 0; i < 600 && access(argv[1], F_OK) != 0; i++) {
        struct timespec pause = {0, 50000000};
        nanosleep(&pause, NULL);
    }
    double t0 = now_ms();
    simvue_run_update_metadata(run, "{\"late\": \"yes\"}");
    const char *tags[] = {"late-tag"};
    simvue_run_update_tags(run, tags, 1);
    simvue_run_set_status(run, SIMVUE_STATUS_FAILED);
    printf("update_ms=%.1f\n", now_ms() - t0);
    fflush(stdout);
    int rc = simvue_run_close(run);
    printf("close_rc=%s\n", simvue_result_name(rc));
    simvue_run_free(run);
    printf("DONE\n");
    return 0;
}
