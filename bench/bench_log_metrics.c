/*
 * bench_log_metrics: cost of simvue_run_log_metrics as a solver sees it.
 *
 * Build (see bench/run.sh):
 *   cc -std=c99 -O2 -Iinclude bench/bench_log_metrics.c -Ltarget/release -lsimvue \
 *      -Wl,-rpath,$PWD/target/release -o target/bench_log_metrics
 *
 * Usage: bench_log_metrics [n3 [n100 [n_runs]]]   (defaults 1000000 100000 50)
 *
 * Everything runs offline into a fresh temporary SIMVUE_OFFLINE_DIRECTORY (HOME is pointed at
 * a temporary directory too, so no user simvue.toml is read), with resource metrics off,
 * queue_blocking=1 and a queue that holds every call, so nothing can be dropped. Names are
 * constant arrays reused every call, as a solver does. If BENCH_KV names a file, the figures
 * are also written there as "key value" lines (bench/run.sh uses them for the ratios).
 *
 * This is a benchmark, not a test: it prints figures and exits 0 unless setup fails.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

#define TARGET_NS 200.0

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(simvue_result rc, const char *what) {
    char msg[512];
    simvue_last_error_message(msg, sizeof msg);
    fprintf(stderr, "bench_log_metrics: %s failed: %s (%s)\n", what, msg,
            simvue_result_name(rc));
    exit(1);
}

#define CHECK(call, what)                                                                      \
    do {                                                                                       \
        simvue_result rc_ = (call);                                                            \
        if (rc_ != SIMVUE_OK) {                                                                \
            die(rc_, what);                                                                    \
        }                                                                                      \
    } while (0)

static simvue_run *start_run(int mode, int64_t queue_size, const char *name) {
    simvue_run *run = NULL;
    CHECK(simvue_run_new(mode, &run), "simvue_run_new");
    CHECK(simvue_run_config(run, /*suppress_errors=*/0, /*queue_blocking=*/1, queue_size,
                            /*disable_resources_metrics=*/1, SIMVUE_KEEP),
          "simvue_run_config");
    CHECK(simvue_run_init(run, name, NULL, NULL, 0, NULL, "/bench", 1), "simvue_run_init");
    return run;
}

/* The values change every call (as a solver's do) but cost next to nothing to compute. */
static void bump(double *values, size_t n, long i) {
    values[(size_t)i % n] += 1.0;
}

struct metrics_result {
    double first_ns; /* loop time / N of the first pass, filling empty buffers */
    double call_ns;  /* loop time / N */
    double flush_ns; /* (loop + close) / N */
    uint64_t dropped;
};

/* One offline run: warm-up in a separate run, then N timed calls and a timed close. */
static struct metrics_result bench_offline(const char *const *names, size_t n, long iters) {
    double values[100];
    for (size_t k = 0; k < n; k++) {
        values[k] = (double)k;
    }
    struct metrics_result r = {0.0, 0.0, 0.0, 0};

    /* Steady state, as in a solver that has been running a while: a first pass of N calls in
     * the same run sizes the queue's buffers (and faults their pages in), the dispatcher
     * writes it out during the pause, and the timed pass reuses those buffers. The first-fill
     * cost is reported separately. */
    simvue_run *run = start_run(SIMVUE_MODE_OFFLINE, (int64_t)iters, "bench-metrics");
    double w0 = now_s();
    for (long i = 0; i < iters; i++) {
        bump(values, n, i);
        CHECK(simvue_run_log_metrics(run, names, values, n), "simvue_run_log_metrics");
    }
    r.first_ns = (now_s() - w0) * 1e9 / (double)iters;
    struct timespec pause = {2, 500000000}; /* more than the 1 s flush interval, twice */
    nanosleep(&pause, NULL);

    double t0 = now_s();
    for (long i = 0; i < iters; i++) {
        bump(values, n, i);
        CHECK(simvue_run_log_metrics(run, names, values, n), "simvue_run_log_metrics");
    }
    double t1 = now_s();
    CHECK(simvue_run_dropped(run, &r.dropped, NULL), "simvue_run_dropped");
    CHECK(simvue_run_close(run), "simvue_run_close");
    double t2 = now_s();
    simvue_run_free(run);
    r.call_ns = (t1 - t0) * 1e9 / (double)iters;
    r.flush_ns = (t2 - t0) * 1e9 / (double)iters;
    return r;
}

static double bench_disabled(const char *const *names, size_t n, long iters) {
    double values[100];
    for (size_t k = 0; k < n; k++) {
        values[k] = (double)k;
    }
    simvue_run *run = start_run(SIMVUE_MODE_DISABLED, SIMVUE_KEEP, "bench-disabled");
    for (long i = 0; i < iters / 10; i++) {
        bump(values, n, i);
        CHECK(simvue_run_log_metrics(run, names, values, n), "simvue_run_log_metrics");
    }
    double t0 = now_s();
    for (long i = 0; i < iters; i++) {
        bump(values, n, i);
        CHECK(simvue_run_log_metrics(run, names, values, n), "simvue_run_log_metrics");
    }
    double t1 = now_s();
    CHECK(simvue_run_close(run), "simvue_run_close");
    simvue_run_free(run);
    return (t1 - t0) * 1e9 / (double)iters;
}

/* Mean of new + config + init + close + free of an offline run without metrics, in us. */
static double bench_init_close(int runs) {
    /* one untimed warm-up run */
    simvue_run *run = start_run(SIMVUE_MODE_OFFLINE, SIMVUE_KEEP, "bench-init-warmup");
    CHECK(simvue_run_close(run), "simvue_run_close");
    simvue_run_free(run);
    double t0 = now_s();
    for (int i = 0; i < runs; i++) {
        run = start_run(SIMVUE_MODE_OFFLINE, SIMVUE_KEEP, "bench-init");
        CHECK(simvue_run_close(run), "simvue_run_close");
        simvue_run_free(run);
    }
    double t1 = now_s();
    return (t1 - t0) * 1e6 / (double)runs;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int main(int argc, char **argv) {
    long n3 = argc > 1 ? atol(argv[1]) : 1000000L;
    long n100 = argc > 2 ? atol(argv[2]) : 100000L;
    int runs = argc > 3 ? atoi(argv[3]) : 50;
    if (n3 < 1 || n100 < 1 || runs < 1) {
        fprintf(stderr, "usage: bench_log_metrics [n3 >= 1] [n100 >= 1] [runs >= 1]\n");
        return 2;
    }

    /* opened before the chdir below, so a relative BENCH_KV path works */
    const char *kv = getenv("BENCH_KV");
    FILE *kv_file = kv && *kv ? fopen(kv, "w") : NULL;

    char tmp[] = "/tmp/simvue-bench-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char cache[sizeof tmp + 16];
    snprintf(cache, sizeof cache, "%s/offline", tmp);
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    setenv("HOME", tmp, 1);
    unsetenv("SIMVUE_MODE");
    if (chdir(tmp) != 0) { /* no simvue.toml of the repository is picked up */
        perror("chdir");
        return 1;
    }

    static const char *const names3[3] = {"residual", "t_max", "error"};
    static char name_buf[100][16];
    static const char *names100[100];
    for (int k = 0; k < 100; k++) {
        snprintf(name_buf[k], sizeof name_buf[k], "field/v%03d", k);
        names100[k] = name_buf[k];
    }

    struct metrics_result m3 = bench_offline(names3, 3, n3);
    struct metrics_result m100 = bench_offline(names100, 100, n100);
    double d3 = bench_disabled(names3, 3, n3);
    double d100 = bench_disabled(names100, 100, n100);
    double ic = bench_init_close(runs);

    printf("libsimvue %s: simvue_run_log_metrics (offline, resource metrics off, "
           "queue_blocking=1, queue_size=N)\n",
           simvue_version());
    printf("  %-46s %9s %14s\n", "workload", "N", "per call");
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 3 values, call cost", n3, m3.call_ns);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 3 values, first fill of the queue", n3,
           m3.first_ns);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 3 values, including flush (close)", n3,
           m3.flush_ns);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 100 values, call cost", n100, m100.call_ns);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 100 values, first fill of the queue", n100,
           m100.first_ns);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 100 values, including flush (close)", n100,
           m100.flush_ns);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 3 values, disabled mode", n3, d3);
    printf("  %-46s %9ld %11.1f ns\n", "log_metrics 100 values, disabled mode", n100, d100);
    printf("  %-46s %9d %11.1f us\n", "run new+init+close+free (offline, no metrics)", runs, ic);
    printf("  dropped metric sets: %llu (3 values), %llu (100 values)%s\n",
           (unsigned long long)m3.dropped, (unsigned long long)m100.dropped,
           m3.dropped + m100.dropped ? "  <-- NOT 0: figures are not valid" : "");
    printf("  target: < %.0f ns per 3-value call: %s (%.1f ns)\n", TARGET_NS,
           m3.call_ns < TARGET_NS ? "met" : "NOT met", m3.call_ns);

    if (kv_file) {
        FILE *f = kv_file;
        {
            fprintf(f, "m3_call_ns %.3f\nm3_flush_ns %.3f\nm100_call_ns %.3f\n"
                       "m100_flush_ns %.3f\nd3_ns %.3f\nd100_ns %.3f\ninit_close_us %.3f\n"
                       "dropped %llu\n",
                    m3.call_ns, m3.flush_ns, m100.call_ns, m100.flush_ns, d3, d100, ic,
                    (unsigned long long)(m3.dropped + m100.dropped));
            fclose(f);
        }
    }

    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
