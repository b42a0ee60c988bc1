/*
 * bench_throughput: one scenario of the throughput benchmark (bench/throughput.py runs them
 * all, next to the Python client's bench/bench_throughput.py, and prints the table).
 *
 * Usage: bench_throughput key=value ...
 *   mode=offline|online|disabled   (online: SIMVUE_URL/SIMVUE_TOKEN from the environment)
 *   config=default|blocking|roomy  default: the library's defaults (queue 10000, dropping when
 *                                  full), resource metrics off; blocking: queue_blocking=1;
 *                                  roomy: blocking, and a queue_size of every call, so that the
 *                                  loop measures the call, not the writer (within the 16 MiB
 *                                  the library holds at most)
 *   k=3                            values per call
 *   n=1000000                      calls per thread
 *   threads=1                      threads logging into the same run
 *   alt=0                          1: two call sites taking turns, each with its own names
 *   pace=0                         sets per second for all threads together; 0: as fast as it goes
 *   lat=0                          1: time every call (p50, p99, max) in a second, timed pass
 *   search=0                       1: find the highest paced rate with nothing dropped (runs of
 *                                  `secs` seconds at rising rates; n is ignored)
 *   secs=0.5                       length of one paced run of the search
 *   jitter=0                       T > 0: no run; T threads each read the clock in a loop for
 *                                  `secs` seconds and report the longest time between two reads
 *                                  (the machine's own pauses of a busy thread: the floor under
 *                                  any latency figure) and how many exceeded 1 ms
 *
 * Prints one JSON object: calls, loop_s (the logging loop), total_s (loop + close),
 * call_ns (loop_s / calls per thread), dropped, loop_faults (page faults the logging threads
 * took in their loops: filling fresh memory), loop_switches (times the scheduler gave their
 * core to another thread), cpu_call_ns (their CPU time per call: the call's cost without the
 * time they waited for a core, which call_ns includes), p50_ns / p99_ns / max_ns (with lat=1),
 * best_rate (with search=1), empty_loop_ns (mode=disabled: the same loop calling a function
 * that does nothing), rss_kb (peak resident memory of the process, VmHWM).
 * HOME and SIMVUE_OFFLINE_DIRECTORY are the caller's to set. Not a test: it prints figures.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simvue.h"

static struct {
    int mode, blocking, roomy, k, threads, alt, lat, search, jitter;
    long n;
    double pace, secs;
} cfg = {SIMVUE_MODE_OFFLINE, 0, 0, 3, 1, 0, 0, 0, 0, 1000000, 0.0, 0.5};

static char name_buf[2][1000][24];
static const char *names[2][1000];

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(simvue_result rc, const char *what) {
    char msg[512];
    simvue_last_error_message(msg, sizeof msg);
    fprintf(stderr, "bench_throughput: %s failed: %s (%s)\n", what, msg, simvue_result_name(rc));
    exit(1);
}

static simvue_run *start_run(void) {
    simvue_run *run = NULL;
    simvue_result rc = simvue_run_new(cfg.mode, &run);
    if (rc != SIMVUE_OK) {
        die(rc, "simvue_run_new");
    }
    /* Only the resource metrics are switched off (and the queue made blocking, if asked). */
    int64_t queue = cfg.roomy ? (int64_t)cfg.n * cfg.threads + 1 : SIMVUE_KEEP;
    rc = simvue_run_config(run, SIMVUE_KEEP, cfg.blocking ? 1 : SIMVUE_KEEP, queue, 1, SIMVUE_KEEP);
    if (rc != SIMVUE_OK) {
        die(rc, "simvue_run_config");
    }
    rc = simvue_run_init(run, "bench-throughput", NULL, NULL, 0, NULL, "/bench", 1);
    if (rc != SIMVUE_OK) {
        die(rc, "simvue_run_init");
    }
    return run;
}

/* Call latency histogram: 64 buckets per power of two (about 1 % wide). */
#define HBUCKETS (64 * 40)
struct hist {
    uint64_t count[HBUCKETS];
    uint64_t max;
};

static int bucket(uint64_t ns) {
    if (ns < 64) {
        return (int)ns;
    }
    int e = 63 - __builtin_clzll(ns);    /* 2^e <= ns */
    int sub = (int)((ns >> (e - 6)) & 63); /* the 6 bits after the leading one */
    int b = (e - 5) * 64 + sub;
    return b < HBUCKETS ? b : HBUCKETS - 1;
}

static uint64_t bucket_low(int b) {
    if (b < 64) {
        return (uint64_t)b;
    }
    int e = b / 64 + 5, sub = b % 64;
    return ((uint64_t)1 << e) + ((uint64_t)sub << (e - 6));
}

static uint64_t percentile(const struct hist *h, double p) {
    uint64_t total = 0;
    for (int b = 0; b < HBUCKETS; b++) {
        total += h->count[b];
    }
    uint64_t want = (uint64_t)ceil(p * (double)total), seen = 0;
    for (int b = 0; b < HBUCKETS; b++) {
        seen += h->count[b];
        if (seen >= want && h->count[b]) {
            return bucket_low(b);
        }
    }
    return h->max;
}

/* What the loop calls: simvue_run_log_metrics, or (to time the loop itself) a function that
 * does nothing, called the same way. */
typedef simvue_result (*log_fn_t)(simvue_run *, const char *const *, const double *, size_t);
static __attribute__((noinline)) simvue_result no_op(simvue_run *r, const char *const *n,
                                                     const double *v, size_t k) {
    __asm__ volatile("" : : "r"(r), "r"(n), "r"(v), "r"(k) : "memory");
    return SIMVUE_OK;
}
static log_fn_t volatile log_fn = simvue_run_log_metrics;

/* What the calling thread has used so far: page faults (minor and major), CPU time (user and
 * system, ns), and times the scheduler took its core away (involuntary context switches). */
struct usage {
    long faults, switches;
    uint64_t cpu_ns;
};
static struct usage thread_usage(void) {
    struct rusage u;
    getrusage(RUSAGE_THREAD, &u);
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    return (struct usage){u.ru_minflt + u.ru_majflt, u.ru_nivcsw,
                          (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec};
}

struct worker {
    pthread_t thread;
    simvue_run *run;
    long n;
    double pace; /* per thread; 0: unpaced */
    int timed;
    struct hist *hist;
    uint64_t t0, t1;
    struct usage used; /* what the thread used in its loop */
    int failed;
};

static void *logger(void *arg) {
    struct worker *w = arg;
    double values[1000];
    for (int j = 0; j < cfg.k; j++) {
        values[j] = 0.5 * j;
    }
    uint64_t period = w->pace > 0 ? (uint64_t)(1e9 / w->pace) : 0;
    struct usage before = thread_usage();
    w->t0 = now_ns();
    uint64_t next = w->t0;
    int j = 0;
    for (long i = 0; i < w->n; i++) {
        values[j] += 1.0; /* the values change every call, as a solver's do */
        j = j + 1 == cfg.k ? 0 : j + 1;
        if (period) {
            while (now_ns() < next) {
            }
            next += period;
        }
        const char *const *site = names[cfg.alt ? (int)(i & 1) : 0];
        simvue_result rc;
        if (w->timed) {
            uint64_t a = now_ns();
            rc = simvue_run_log_metrics(w->run, site, values, (size_t)cfg.k);
            uint64_t d = now_ns() - a;
            w->hist->count[bucket(d)]++;
            if (d > w->hist->max) {
                w->hist->max = d;
            }
        } else {
            rc = log_fn(w->run, site, values, (size_t)cfg.k);
        }
        if (rc != SIMVUE_OK) {
            w->failed = 1;
            break;
        }
    }
    w->t1 = now_ns();
    struct usage after = thread_usage();
    w->used = (struct usage){after.faults - before.faults, after.switches - before.switches,
                             after.cpu_ns - before.cpu_ns};
    return NULL;
}

struct result {
    double loop_s, total_s, call_ns;
    uint64_t dropped, calls;
    struct usage used;
    struct hist hist;
};

/* One run: threads log n calls each (paced at `pace` sets/s in all), then close. */
static void one_run(long n, double pace, int timed, struct result *r) {
    simvue_run *run = start_run();
    struct worker w[64];
    memset(r, 0, sizeof *r);
    uint64_t start = now_ns();
    for (int t = 0; t < cfg.threads; t++) {
        w[t] = (struct worker){.run = run, .n = n, .pace = pace / cfg.threads, .timed = timed};
        w[t].hist = calloc(1, sizeof(struct hist));
        pthread_create(&w[t].thread, NULL, logger, &w[t]);
    }
    uint64_t loop_end = start;
    for (int t = 0; t < cfg.threads; t++) {
        pthread_join(w[t].thread, NULL);
        if (w[t].failed) {
            die(simvue_last_error(), "simvue_run_log_metrics");
        }
        r->used.faults += w[t].used.faults;
        r->used.switches += w[t].used.switches;
        r->used.cpu_ns += w[t].used.cpu_ns;
        if (w[t].t1 > loop_end) {
            loop_end = w[t].t1;
        }
        for (int b = 0; b < HBUCKETS; b++) {
            r->hist.count[b] += w[t].hist->count[b];
        }
        if (w[t].hist->max > r->hist.max) {
            r->hist.max = w[t].hist->max;
        }
        free(w[t].hist);
    }
    simvue_run_dropped(run, &r->dropped, NULL);
    simvue_result rc = simvue_run_close(run);
    uint64_t end = now_ns();
    if (rc != SIMVUE_OK && cfg.mode != SIMVUE_MODE_DISABLED) {
        die(rc, "simvue_run_close");
    }
    simvue_run_dropped(run, &r->dropped, NULL);
    simvue_run_free(run);
    r->calls = (uint64_t)n * (uint64_t)cfg.threads;
    r->loop_s = (double)(loop_end - start) * 1e-9;
    r->total_s = (double)(end - start) * 1e-9;
    r->call_ns = r->loop_s * 1e9 / (double)n;
}

/* The highest rate (sets/s, all threads) at which a run of cfg.secs drops nothing and keeps
 * the pace: doubling from 125 000/s, then halving the interval four times. */
static double search_rate(void) {
    double good = 0, bad = 0, rate = 125000;
    struct result r;
    for (;;) {
        long n = (long)(rate * cfg.secs / cfg.threads);
        one_run(n, rate, 0, &r);
        int ok = r.dropped == 0 && r.loop_s <= cfg.secs * 1.05;
        if (!ok) {
            bad = rate;
            break;
        }
        good = rate;
        if (rate > 64e6) {
            return good;
        }
        rate *= 2;
    }
    for (int i = 0; i < 4; i++) {
        rate = (good + bad) / 2;
        long n = (long)(rate * cfg.secs / cfg.threads);
        one_run(n, rate, 0, &r);
        if (r.dropped == 0 && r.loop_s <= cfg.secs * 1.05) {
            good = rate;
        } else {
            bad = rate;
        }
    }
    return good;
}

/* Peak resident memory of this process (VmHWM): getrusage's ru_maxrss would also count the
 * parent's memory at fork time, which exec does not reset. */
static long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

/* One thread of jitter=T: the longest gap between two clock reads in `secs` seconds of
 * reading it, and the gaps over 1 ms. */
struct gaps {
    uint64_t max_ns;
    long over_1ms;
};

static void *spin_gaps(void *arg) {
    struct gaps *g = arg;
    uint64_t prev = now_ns();
    uint64_t end = prev + (uint64_t)(cfg.secs * 1e9);
    while (prev < end) {
        uint64_t t = now_ns();
        uint64_t d = t - prev;
        if (d > g->max_ns) {
            g->max_ns = d;
        }
        g->over_1ms += d > 1000000u;
        prev = t;
    }
    return NULL;
}

static void jitter(int threads) {
    pthread_t th[64];
    struct gaps g[64];
    memset(g, 0, sizeof g);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&th[i], NULL, spin_gaps, &g[i]) != 0) {
            fprintf(stderr, "bench_throughput: cannot start a thread\n");
            exit(1);
        }
    }
    uint64_t max = 0;
    long over = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        max = g[i].max_ns > max ? g[i].max_ns : max;
        over += g[i].over_1ms;
    }
    printf("{\"client\":\"machine\",\"jitter_threads\":%d,\"secs\":%.2f,\"max_gap_ns\":%llu"
           ",\"gaps_over_1ms\":%ld}\n",
           threads, cfg.secs, (unsigned long long)max, over);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char key[32];
        char val[64];
        if (sscanf(argv[i], "%31[^=]=%63s", key, val) != 2) {
            fprintf(stderr, "bench_throughput: bad argument %s\n", argv[i]);
            return 2;
        }
        if (!strcmp(key, "mode")) {
            cfg.mode = !strcmp(val, "online")     ? SIMVUE_MODE_ONLINE
                       : !strcmp(val, "disabled") ? SIMVUE_MODE_DISABLED
                                                  : SIMVUE_MODE_OFFLINE;
        } else if (!strcmp(key, "config")) {
            cfg.roomy = !strcmp(val, "roomy");
            cfg.blocking = cfg.roomy || !strcmp(val, "blocking");
        } else if (!strcmp(key, "k")) {
            cfg.k = atoi(val);
        } else if (!strcmp(key, "n")) {
            cfg.n = atol(val);
        } else if (!strcmp(key, "threads")) {
            cfg.threads = atoi(val);
        } else if (!strcmp(key, "alt")) {
            cfg.alt = atoi(val);
        } else if (!strcmp(key, "pace")) {
            cfg.pace = atof(val);
        } else if (!strcmp(key, "lat")) {
            cfg.lat = atoi(val);
        } else if (!strcmp(key, "search")) {
            cfg.search = atoi(val);
        } else if (!strcmp(key, "secs")) {
            cfg.secs = atof(val);
        } else if (!strcmp(key, "jitter")) {
            cfg.jitter = atoi(val);
        } else {
            fprintf(stderr, "bench_throughput: unknown key %s\n", key);
            return 2;
        }
    }
    if (cfg.k < 1 || cfg.k > 1000 || cfg.threads < 1 || cfg.threads > 64 || cfg.n < 1) {
        fprintf(stderr, "bench_throughput: k in 1..1000, threads in 1..64, n >= 1\n");
        return 2;
    }
    if (cfg.jitter > 0) {
        jitter(cfg.jitter > 64 ? 64 : cfg.jitter);
        return 0;
    }
    for (int s = 0; s < 2; s++) {
        for (int j = 0; j < cfg.k; j++) {
            snprintf(name_buf[s][j], sizeof name_buf[s][j], "%s/v%03d", s ? "other" : "field", j);
            names[s][j] = name_buf[s][j];
        }
    }

    printf("{\"client\":\"libsimvue\"");
    if (cfg.search) {
        printf(",\"best_rate\":%.0f", search_rate());
    } else {
        struct result r;
        one_run(cfg.n, cfg.pace, 0, &r);
        printf(",\"calls\":%llu,\"loop_s\":%.6f,\"total_s\":%.6f,\"call_ns\":%.2f,\"dropped\":%llu"
               ",\"loop_faults\":%ld,\"loop_switches\":%ld,\"cpu_call_ns\":%.2f",
               (unsigned long long)r.calls, r.loop_s, r.total_s, r.call_ns,
               (unsigned long long)r.dropped, r.used.faults, r.used.switches,
               (double)r.used.cpu_ns / (double)r.calls);
        if (cfg.mode == SIMVUE_MODE_DISABLED) {
            /* the loop alone, so that the call's own cost can be told */
            log_fn = no_op;
            struct result e;
            one_run(cfg.n, cfg.pace, 0, &e);
            log_fn = simvue_run_log_metrics;
            printf(",\"empty_loop_ns\":%.2f", e.call_ns);
        }
        if (cfg.lat) {
            struct result t;
            one_run(cfg.n, cfg.pace, 1, &t);
            printf(",\"p50_ns\":%llu,\"p99_ns\":%llu,\"max_ns\":%llu,\"lat_dropped\":%llu",
                   (unsigned long long)percentile(&t.hist, 0.5),
                   (unsigned long long)percentile(&t.hist, 0.99), (unsigned long long)t.hist.max,
                   (unsigned long long)t.dropped);
        }
    }
    printf(",\"rss_kb\":%ld}\n", peak_rss_kb());
    return 0;
}
