/*
 * faulty: a tracked "solver" for the fault tests (tests/faults). One run per process, in the
 * mode SIMVUE_MODE says (online unless set); every result is printed as key=value.
 *
 *   faulty log STEPS SLEEP_MS SUPPRESS   metric x=step (explicit step) and event "e<step>" per
 *                                        step; "step=<n>" after each, flushed; then metadata
 *                                        steps_done=STEPS and an artifact summary.txt
 *   faulty snap THREADS SAVES DIR        THREADS threads each snapshot SAVES different files
 *                                        called DIR/<thread>/<save>/same.txt, sharing one name
 *   faulty status                        set_status(FAILED), then set_status(COMPLETED)
 *
 * FAULTY_FSIZE_BACK_AT=<n> (log): after step n, the soft file size limit is raised to the hard
 * one ("space_back" is printed): a disk that was full has room again.
 *
 * Output: init_rc, init_msg, run_id, log_errors, first_log_error, close_rc, close_msg,
 * dropped_metrics, lost_metrics, lost_events, DONE.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

static simvue_run *run;
static int log_errors;
static char first_log_error[1024];

static void note(simvue_result rc) {
    if (rc == SIMVUE_OK) return;
    if (log_errors++ == 0) {
        char msg[900];
        simvue_last_error_message(msg, sizeof msg);
        snprintf(first_log_error, sizeof first_log_error, "%s: %s", simvue_result_name(rc), msg);
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct snap_job {
    int thread, saves;
    const char *dir;
};

static void *snap_thread(void *arg) {
    struct snap_job *job = arg;
    char path[4096];
    for (int s = 0; s < job->saves; s++) {
        snprintf(path, sizeof path, "%s/%d", job->dir, job->thread);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%d/%d", job->dir, job->thread, s);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%d/%d/same.txt", job->dir, job->thread, s);
        FILE *f = fopen(path, "w");
        if (!f) return NULL;
        fprintf(f, "thread %d save %d pid %ld\n", job->thread, s, (long)getpid());
        fclose(f);
        char name[64];
        snprintf(name, sizeof name, "t%d-s%d.txt", job->thread, s);
        note(simvue_run_save(run, path, SIMVUE_CATEGORY_INPUT, NULL, 0, name, SIMVUE_SAVE_SNAPSHOT));
        remove(path); /* the snapshot must not need the original */
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "log";
    int suppress = (strcmp(what, "log") == 0 && argc > 4) ? atoi(argv[4]) : 1;
    if (simvue_run_new(SIMVUE_MODE_ONLINE, &run) != SIMVUE_OK) return 3;
    simvue_run_config(run, suppress, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP);
    char name[128];
    snprintf(name, sizeof name, "faulty-%s-%ld", what, (long)getpid());
    simvue_result rc = simvue_run_init(run, name, NULL, NULL, 0, NULL, "/faults", 1);
    char msg[2048] = "";
    if (rc != SIMVUE_OK) simvue_last_error_message(msg, sizeof msg);
    printf("init_rc=%s\ninit_msg=%s\n", simvue_result_name(rc), msg);
    char id[SIMVUE_ID_BUFFER_SIZE];
    if (simvue_run_id(run, id, sizeof id, NULL) == SIMVUE_OK) printf("run_id=%s\n", id);
    fflush(stdout);

    if (strcmp(what, "log") == 0) {
        int steps = argc > 2 ? atoi(argv[2]) : 10;
        long pause = argc > 3 ? atol(argv[3]) : 0;
        const char *back = getenv("FAULTY_FSIZE_BACK_AT");
        int back_at = back ? atoi(back) : -1;
        for (int n = 0; n < steps; n++) {
            const char *names[] = {"x"};
            double v[] = {(double)n};
            note(simvue_run_log_metrics_ex(run, names, v, 1, SIMVUE_METRICS_STEP, n, 0.0, NULL));
            char ev[32];
            snprintf(ev, sizeof ev, "e%d", n);
            note(simvue_run_log_event(run, ev, NULL));
            printf("step=%d\n", n);
            if (n == back_at) {
                struct rlimit rl;
                getrlimit(RLIMIT_FSIZE, &rl);
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_FSIZE, &rl) == 0) printf("space_back\n");
            }
            fflush(stdout);
            if (pause > 0) sleep_ms(pause);
        }
        char md[64], summary[64];
        snprintf(md, sizeof md, "{\"steps_done\": %d}", steps);
        note(simvue_run_update_metadata(run, md));
        int len = snprintf(summary, sizeof summary, "steps %d\n", steps);
        note(simvue_run_save_bytes(run, "summary.txt", summary, (size_t)len, SIMVUE_CATEGORY_OUTPUT,
                                   "text/plain", 0));
    } else if (strcmp(what, "snap") == 0) {
        int threads = argc > 2 ? atoi(argv[2]) : 8;
        int saves = argc > 3 ? atoi(argv[3]) : 200;
        const char *dir = argc > 4 ? argv[4] : ".";
        pthread_t tid[64];
        struct snap_job jobs[64];
        if (threads > 64) threads = 64;
        for (int t = 0; t < threads; t++) {
            jobs[t] = (struct snap_job){t, saves, dir};
            pthread_create(&tid[t], NULL, snap_thread, &jobs[t]);
        }
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    } else if (strcmp(what, "status") == 0) {
        note(simvue_run_set_status(run, SIMVUE_STATUS_FAILED));
        note(simvue_run_set_status(run, SIMVUE_STATUS_COMPLETED));
    }
    printf("log_errors=%d\nfirst_log_error=%s\n", log_errors, first_log_error);
    uint64_t dropped = 0;
    simvue_run_dropped(run, &dropped, NULL);
    rc = simvue_run_close(run);
    msg[0] = 0;
    if (rc != SIMVUE_OK) simvue_last_error_message(msg, sizeof msg);
    uint64_t lost_metrics = 0, lost_events = 0;
    simvue_run_lost_items(run, &lost_metrics, &lost_events);
    printf("close_rc=%s\nclose_msg=%s\ndropped_metrics=%llu\nlost_metrics=%llu\nlost_events=%llu\n",
           simvue_result_name(rc), msg, (unsigned long long)dropped,
           (unsigned long long)lost_metrics, (unsigned long long)lost_events);
    simvue_run_free(run);
    printf("DONE\n");
    return 0;
}
