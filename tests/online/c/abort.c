/*
 * abort: a solver that polls simvue_run_abort_requested every step and stops early when an
 * abort is requested from the server; an abort callback sets a flag too.
 *
 * Usage: abort MAX_STEPS [POLICY]   (POLICY: a SIMVUE_ABORT_ON_ALERT_* number; default IGNORE,
 *                                   so that the solver sets the final status itself)
 * Output lines: run_id, then "aborted_at=<step> callback=<0|1> requested=<0|1>" or
 * "finished_all", then status_rc, close_rc, DONE. With a policy other than IGNORE the library
 * ends the run itself: the program then logs 5 more steps (refused_after=<how many were
 * refused>), sets no status, and closes. Every step also prints "step=<n>" without flushing
 * (what the process's exit must still write out).
 * `abort MAX_STEPS POLICY chatter`: instead of sleeping 10 ms a step, and after the abort
 * until the library ends the process (policy TERMINATE), the program prints "chat=<k>" for
 * k = 0, 1, ... about every 2 microseconds, never flushing: the process's exit, which happens
 * on another thread while it prints, must write out whole lines, a prefix of each sequence.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simvue.h"

static volatile sig_atomic_t callback_flag = 0;
static void on_abort(void *user_data) {
    callback_flag = 1;
    *(volatile int *)user_data = 1;
}

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Prints "chat=<k>" lines, one about every 2 microseconds, for `ns` nanoseconds. */
static void chat(long *k, long ns) {
    long end = now_ns() + ns;
    while (now_ns() < end) {
        printf("chat=%ld\n", (*k)++);
        long next = now_ns() + 2000;
        while (now_ns() < next) {
        }
    }
}

int main(int argc, char **argv) {
    int max_steps = argc > 1 ? atoi(argv[1]) : 3000;
    int chatter = argc > 3;
    long chats = 0;
    static volatile int user_flag = 0;
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_ONLINE, &run) != SIMVUE_OK) return 3;
    simvue_run_config(run, 1, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP);
    simvue_result rc = simvue_run_set_abort_poll_interval(run, 0.2);
    printf("poll_rc=%s\n", simvue_result_name(rc));
    int policy = argc > 2 ? atoi(argv[2]) : SIMVUE_ABORT_ON_ALERT_IGNORE;
    rc = simvue_run_set_abort_on_alert(run, policy);
    printf("policy_rc=%s\n", simvue_result_name(rc));
    rc = simvue_run_set_abort_callback(run, on_abort, (void *)&user_flag);
    printf("callback_rc=%s\n", simvue_result_name(rc));
    rc = simvue_run_init(run, "abort-run", NULL, NULL, 0, NULL, "/abort", 1);
    printf("init_rc=%s\n", simvue_result_name(rc));
    char id[128];
    if (simvue_run_id(run, id, sizeof id, NULL) == SIMVUE_OK) printf("run_id=%s\n", id);
    fflush(stdout);
    int n;
    int stopped = 0;
    for (n = 0; n < max_steps; n++) {
        simvue_run_log_metric(run, "step_value", (double)n);
        printf("step=%d\n", n);
        if (chatter) {
            chat(&chats, 10 * 1000 * 1000);
        } else {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        int32_t requested = 0;
        simvue_run_abort_requested(run, &requested);
        if (requested) {
            printf("aborted_at=%d callback=%d user_flag=%d\n", n, (int)callback_flag, (int)user_flag);
            stopped = 1;
            break;
        }
    }
    if (!stopped) printf("finished_all=%d\n", n);
    fflush(stdout);
    while (stopped && chatter) {
        chat(&chats, 1000000000L);
    }
    if (policy == SIMVUE_ABORT_ON_ALERT_IGNORE || !stopped) {
        rc = simvue_run_set_status(run, stopped ? SIMVUE_STATUS_TERMINATED : SIMVUE_STATUS_COMPLETED);
        printf("status_rc=%s\n", simvue_result_name(rc));
    } else {
        /* the library ended the run: what comes after is refused */
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int refused = 0;
        for (int k = 0; k < 5; k++) {
            refused += simvue_run_log_metric(run, "step_value", (double)(n + 1 + k)) == SIMVUE_ERROR_STATE;
        }
        printf("refused_after=%d\n", refused);
    }
    rc = simvue_run_close(run);
    printf("close_rc=%s\n", simvue_result_name(rc));
    simvue_run_free(run);
    printf("DONE\n");
    return 0;
}
