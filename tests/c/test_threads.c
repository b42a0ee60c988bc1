/*
 * test_threads: several threads log metrics into one run at once, through the C API (names as C
 * strings, each thread its own array), offline. Each thread has a queue of its own in the run
 * (a lane) up to 16 threads; the test uses more threads than that, so the queue they share
 * when lanes run out is used too.
 *
 * - With queue_blocking and a small queue_size: every set is written once, the automatic
 *   steps are 0..N-1 (each once), and within each cache file each thread's sets come in the
 *   order it logged them.
 * - Without blocking: the sets written and the sets counted dropped add up to the calls.
 *
 * Prints "N passed, M failed" and exits non-zero when a check failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simvue.h"

#include "check.h"
#include "files.h"

enum { THREADS = 20, PER_THREAD = 1500 };

struct worker {
    simvue_run *run;
    int index;
    int failures; /* calls that did not return SIMVUE_OK */
};

static void *log_sets(void *arg) {
    struct worker *w = arg;
    /* Each thread its own array (its own call site), the same names. */
    const char *names[3] = {"thread", "i", "x"};
    for (int i = 0; i < PER_THREAD; i++) {
        double values[3] = {(double)w->index, (double)i, 0.5 * i};
        if (simvue_run_log_metrics(w->run, names, values, 3) != SIMVUE_OK) {
            w->failures++;
        }
    }
    return NULL;
}

/* What the metrics files of a cache hold. */
struct found {
    long sets;         /* sets read */
    long bad;          /* sets that could not be read as written */
    long out_of_order; /* sets of a thread before one it logged earlier, in one file */
    unsigned char *steps; /* how often each step was seen (steps below `max_steps`) */
    long max_steps;
    unsigned char seen[THREADS][PER_THREAD]; /* how often each (thread, i) was seen */
};

/* Reads the sets of one metrics file into `ctx` (a struct found). */
static void read_sets(const char *text, void *ctx) {
    struct found *f = ctx;
    if (!text) {
        f->bad++;
        return;
    }
    long last[THREADS];
    for (int t = 0; t < THREADS; t++) {
        last[t] = -1;
    }
    for (const char *p = strstr(text, "\"step\":"); p; p = strstr(p + 1, "\"step\":")) {
        char *end;
        long step = strtol(p + 7, &end, 10);
        const char *v = "\"values\":{\"thread\":";
        char *q = strstr(end, v);
        double t = -1, i = -1;
        if (q) {
            t = strtod(q + strlen(v), &end);
            if (strncmp(end, ",\"i\":", 5) == 0) {
                i = strtod(end + 5, &end);
            }
        }
        f->sets++;
        if (step < 0 || step >= f->max_steps || t < 0 || t >= THREADS || i < 0 ||
            i >= PER_THREAD) {
            f->bad++;
            continue;
        }
        f->steps[step]++;
        f->seen[(int)t][(int)i]++;
        if ((long)i <= last[(int)t]) {
            f->out_of_order++;
        }
        last[(int)t] = (long)i;
    }
}

static void read_metrics(const char *cache, struct found *f) {
    for_each_json_file(cache, "metrics", read_sets, f);
}

/* Runs THREADS threads logging PER_THREAD sets each into a new offline run in `cache`. Returns
 * the calls that failed; `dropped` gets the metric sets the run counted dropped. */
static int run_threads(const char *cache, int blocking, int64_t queue_size, uint64_t *dropped) {
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    simvue_run *run = NULL;
    CHECK(simvue_run_new(SIMVUE_MODE_OFFLINE, &run) == SIMVUE_OK);
    CHECK(simvue_run_config(run, 1, blocking, queue_size, 1, SIMVUE_KEEP) == SIMVUE_OK);
    CHECK(simvue_run_init(run, "threads", NULL, NULL, 0, NULL, "/tests/c", 1) == SIMVUE_OK);
    struct worker w[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct worker){.run = run, .index = t, .failures = 0};
        CHECK(pthread_create(&th[t], NULL, log_sets, &w[t]) == 0);
    }
    int failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        failures += w[t].failures;
    }
    uint64_t events = 0;
    CHECK(simvue_run_close(run) == SIMVUE_OK);
    CHECK(simvue_run_dropped(run, dropped, &events) == SIMVUE_OK);
    simvue_run_free(run);
    return failures;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    clear_simvue_environment();
    char root[1024];
    if (enter_test_root(root, sizeof root, "threads") != 0) {
        return 2;
    }
    const long calls = (long)THREADS * PER_THREAD;

    /* Blocking, a queue of 200 sets: everything arrives once, in each thread's order. */
    char cache[2048];
    snprintf(cache, sizeof cache, "%s/blocking", root);
    uint64_t dropped = 99;
    CHECK(run_threads(cache, 1, 200, &dropped) == 0);
    CHECK(dropped == 0);
    struct found *f = calloc(1, sizeof *f);
    f->max_steps = calls;
    f->steps = calloc((size_t)calls, 1);
    read_metrics(cache, f);
    CHECK(f->sets == calls);
    CHECK(f->bad == 0);
    CHECK(f->out_of_order == 0);
    long steps_once = 0, sets_once = 0;
    for (long s = 0; s < calls; s++) {
        steps_once += f->steps[s] == 1;
    }
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            sets_once += f->seen[t][i] == 1;
        }
    }
    CHECK(steps_once == calls);
    CHECK(sets_once == calls);
    printf("blocking: %ld sets read, %ld steps once, %ld sets once\n", f->sets, steps_once,
           sets_once);

    /* Not blocking, a queue of 50 sets: what was written and what was dropped add up. */
    snprintf(cache, sizeof cache, "%s/dropping", root);
    CHECK(run_threads(cache, 0, 50, &dropped) == 0);
    memset(f->steps, 0, (size_t)calls);
    memset(f->seen, 0, sizeof f->seen);
    f->sets = f->bad = f->out_of_order = 0;
    read_metrics(cache, f);
    CHECK(f->bad == 0);
    CHECK(f->out_of_order == 0);
    CHECK(f->sets + (long)dropped == calls);
    long repeated = 0;
    for (long s = 0; s < calls; s++) {
        repeated += f->steps[s] > 1;
    }
    CHECK(repeated == 0);
    printf("dropping: %ld sets written, %lu dropped, of %ld calls\n", f->sets,
           (unsigned long)dropped, calls);
    free(f->steps);
    free(f);

    if (chdir("/") == 0 && !getenv("SIMVUE_TEST_KEEP")) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0) {
            printf("could not remove %s\n", root);
        }
    }
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
