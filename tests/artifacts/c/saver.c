/*
 * saver: drives the artifact API of libsimvue from a list of operations on the command line,
 * for tests/artifacts/test_artifacts.py.
 *
 * Usage: saver RUNNING OP...
 *   RUNNING: 1 to start the run at init, 0 to only create it.
 *   The mode comes from SIMVUE_MODE (online/offline). Operations (each a fixed number of words):
 *     save PATH CAT MIME PRESERVE NAME FLAGS   simvue_run_save     (MIME/NAME "-" = NULL)
 *     dir PATH CAT MIME PRESERVE FLAGS         simvue_run_save_directory
 *     all N P1..PN CAT MIME PRESERVE FLAGS     simvue_run_save_all
 *     bytes NAME CAT MIME FLAGS TEXT           simvue_run_save_bytes (TEXT without its NUL)
 *     metric NAME VALUE                        simvue_run_log_metric
 *     bytes0 NAME CAT MIME FLAGS               simvue_run_save_bytes with data NULL, size 0
 *     write PATH TEXT                          overwrite PATH with TEXT (no library call)
 *     pause PATH                               print "PAUSE", wait (up to 60 s) until PATH exists
 *   CAT and FLAGS are integers (SIMVUE_CATEGORY_*, SIMVUE_SAVE_* bits).
 * Output (key=value lines): init_rc, run_id, run_name, then for the i-th operation
 *   op<i>_rc=<result name>, op<i>_msg=<last error message when not OK>, op<i>_seconds=<wall time>;
 *   then close_rc, close_msg, vmhwm_kb (VmHWM from /proc/self/status after close), maxrss_kb
 *   (getrusage), DONE.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *opt(const char *s) { return strcmp(s, "-") == 0 ? NULL : s; }

static void report(const char *what, simvue_result rc) {
    char msg[4096];
    msg[0] = 0;
    if (rc != SIMVUE_OK) simvue_last_error_message(msg, sizeof msg);
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = ' ';
    printf("%s_rc=%s\n%s_msg=%s\n", what, simvue_result_name(rc), what, msg);
    fflush(stdout);
}

static long vmhwm_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = atol(line + 6);
            break;
        }
    }
    fclose(f);
    return kb;
}

static void need(int i, int k, int argc, const char *op) {
    if (i + k >= argc) {
        fprintf(stderr, "saver: operation %s needs %d arguments\n", op, k);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: saver RUNNING OP...\n");
        return 2;
    }
    int running = atoi(argv[1]);
    simvue_run *run = NULL;
    if (simvue_run_new(SIMVUE_MODE_ONLINE, &run) != SIMVUE_OK) return 3;
    simvue_run_config(run, SIMVUE_KEEP, SIMVUE_KEEP, SIMVUE_KEEP, /*disable_resources=*/1, SIMVUE_KEEP);
    simvue_result rc = simvue_run_init(run, NULL, NULL, NULL, 0, "artifact test", "/artifacts", running);
    report("init", rc);
    if (rc != SIMVUE_OK) return 4;
    char buf[128];
    if (simvue_run_id(run, buf, sizeof buf, NULL) == SIMVUE_OK) printf("run_id=%s\n", buf);
    if (simvue_run_name(run, buf, sizeof buf, NULL) == SIMVUE_OK) printf("run_name=%s\n", buf);
    fflush(stdout);

    int n_op = 0;
    for (int i = 2; i < argc;) {
        const char *op = argv[i];
        char what[32];
        snprintf(what, sizeof what, "op%d", n_op++);
        double t0 = now_s();
        if (strcmp(op, "save") == 0) {
            need(i, 6, argc, op);
            rc = simvue_run_save(run, argv[i + 1], atoi(argv[i + 2]), opt(argv[i + 3]), atoi(argv[i + 4]),
                                 opt(argv[i + 5]), (uint32_t)atoi(argv[i + 6]));
            i += 7;
        } else if (strcmp(op, "dir") == 0) {
            need(i, 5, argc, op);
            rc = simvue_run_save_directory(run, argv[i + 1], atoi(argv[i + 2]), opt(argv[i + 3]),
                                           atoi(argv[i + 4]), (uint32_t)atoi(argv[i + 5]));
            i += 6;
        } else if (strcmp(op, "all") == 0) {
            need(i, 1, argc, op);
            int n = atoi(argv[i + 1]);
            need(i, n + 5, argc, op);
            const char *const *paths = (const char *const *)&argv[i + 2];
            int j = i + 2 + n;
            rc = simvue_run_save_all(run, paths, (size_t)n, atoi(argv[j]), opt(argv[j + 1]), atoi(argv[j + 2]),
                                     (uint32_t)atoi(argv[j + 3]));
            i = j + 4;
        } else if (strcmp(op, "bytes") == 0) {
            need(i, 5, argc, op);
            const char *text = argv[i + 5];
            rc = simvue_run_save_bytes(run, argv[i + 1], text, strlen(text), atoi(argv[i + 2]), opt(argv[i + 3]),
                                       (uint32_t)atoi(argv[i + 4]));
            i += 6;
        } else if (strcmp(op, "bytes0") == 0) {
            need(i, 4, argc, op);
            rc = simvue_run_save_bytes(run, argv[i + 1], NULL, 0, atoi(argv[i + 2]), opt(argv[i + 3]),
                                       (uint32_t)atoi(argv[i + 4]));
            i += 5;
        } else if (strcmp(op, "pause") == 0) {
            need(i, 1, argc, op);
            printf("PAUSE\n");
            fflush(stdout);
            double deadline = now_s() + 60.0;
            while (access(argv[i + 1], F_OK) != 0 && now_s() < deadline) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            rc = SIMVUE_OK;
            i += 2;
        } else if (strcmp(op, "metric") == 0) {
            need(i, 2, argc, op);
            rc = simvue_run_log_metric(run, argv[i + 1], atof(argv[i + 2]));
            i += 3;
        } else if (strcmp(op, "write") == 0) {
            need(i, 2, argc, op);
            FILE *f = fopen(argv[i + 1], "wb");
            rc = SIMVUE_OK;
            if (!f || fputs(argv[i + 2], f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "saver: cannot write %s\n", argv[i + 1]);
                return 5;
            }
            i += 3;
        } else {
            fprintf(stderr, "saver: unknown operation %s\n", op);
            return 2;
        }
        report(what, rc);
        printf("%s_seconds=%.3f\n", what, now_s() - t0);
        fflush(stdout);
    }
    double tc = now_s();
    rc = simvue_run_close(run);
    report("close", rc);
    printf("close_seconds=%.3f\n", now_s() - tc);
    simvue_run_free(run);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("vmhwm_kb=%ld\nmaxrss_kb=%ld\nDONE\n", vmhwm_kb(), (long)ru.ru_maxrss);
    return 0;
}
