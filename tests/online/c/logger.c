/*
 * logger: logs N metric sets (3 values encoding the index, explicit unique steps) and an event
 * every EVERY sets, with queue_blocking on, as fast as it can. Used by tests/online to check
 * that nothing is lost or duplicated when the server fails or goes away.
 *
 * Usage: logger N PAUSE_AT SYNC_FILE EVERY [QUEUE_SIZE]
 *   PAUSE_AT > 0: after PAUSE_AT sets, print "PAUSE" and wait until SYNC_FILE exists (the test
 *   changes the server meanwhile); the sets after it are "phase 2", whose wall time is printed.
 * Output lines (key=value): init_rc, init_msg, run_name, run_id, alert_rc, alert_id, phase2_seconds, close_rc, close_seconds,
 * log_errors, dropped_metrics, dropped_events, DONE.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *what, simvue_result rc) {
    char msg[2048];
    simvue_last_error_message(msg, sizeof msg);
    printf("%s_rc=%s\n%s_msg=%s\n", what, simvue_result_name(rc), what, rc == SIMVUE_OK ? "" : msg);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: logger N PAUSE_AT SYNC_FILE EVERY\n");
        return 2;
    }
    long n = atol(argv[1]);
    long pause_at = atol(argv[2]);
    const char *sync_file = argv[3];
    long every = atol(argv[4]);
    long queue_size = argc > 5 ? atol(argv[5]) : SIMVUE_KEEP;

    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_ONLINE, &run) != SIMVUE_OK) {
        return 3;
    }
    simvue_run_config(run, 1, /*queue_blocking=*/1, queue_size, /*disable_resources=*/1, SIMVUE_KEEP);
    const char *tags[] = {"faults"};
    simvue_result rc = simvue_run_init(run, "logger-run", "{\"n\": 1}", tags, 1, "fault test", "/faults", 1);
    report("init", rc);
    char buf[128];
    if (simvue_run_name(run, buf, sizeof buf, NULL) == SIMVUE_OK) printf("run_name=%s\n", buf);
    if (simvue_run_id(run, buf, sizeof buf, NULL) == SIMVUE_OK) printf("run_id=%s\n", buf);
    char alert_id[SIMVUE_ID_BUFFER_SIZE];
    rc = simvue_run_add_alert(run, "index-too-high", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                              SIMVUE_ALERT_RULE_IS_ABOVE, "index", 1e12, 0.0, 0.0,
                              SIMVUE_NOTIFICATION_NONE, NULL, alert_id, sizeof alert_id);
    report("alert", rc);
    if (rc == SIMVUE_OK) printf("alert_id=%s\n", alert_id);
    fflush(stdout);

    const char *names[] = {"index", "twice", "neg"};
    long errors = 0;
    double t2 = now_s();
    for (long i = 0; i < n; i++) {
        if (pause_at > 0 && i == pause_at) {
            printf("PAUSE\n");
            fflush(stdout);
            double deadline = now_s() + 120.0;
            while (access(sync_file, F_OK) != 0 && now_s() < deadline) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            t2 = now_s();
        }
        double v[3] = {(double)i, 2.0 * (double)i, -(double)i};
        if (simvue_run_log_metrics_ex(run, names, v, 3, SIMVUE_METRICS_STEP, i, 0.0, NULL) != SIMVUE_OK)
            errors++;
        if (every > 0 && i % every == 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "event %ld", i);
            if (simvue_run_log_event(run, msg, NULL) != SIMVUE_OK) errors++;
        }
    }
    double t_end = now_s();
    printf("phase2_seconds=%.6f\n", t_end - t2);
    fflush(stdout);
    double tc = now_s();
    rc = simvue_run_close(run);
    printf("close_seconds=%.3f\n", now_s() - tc);
    report("close", rc);
    uint64_t dm = 0, de = 0;
    simvue_run_dropped(run, &dm, &de);
    printf("log_errors=%ld\ndropped_metrics=%llu\ndropped_events=%llu\n", errors,
           (unsigned long long)dm, (unsigned long long)de);
    simvue_run_free(run);
    printf("DONE\n");
    return 0;
}
