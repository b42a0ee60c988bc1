/*
 * test_api: every function of the C API given bad input must return its specific result code
 * and leave a non-empty message for simvue_last_error_message, and bad calls must not lose
 * data already logged.
 *
 * Each expected failure is checked after "priming" the last error with a different, known
 * error (simvue_run_new with mode -12345), so that a stale message cannot pass for a new one.
 *
 * Checks for library bugs that are known and not fixed yet are compiled only with
 * test_regressions() holds checks for bugs this suite found.
 *
 * Prints "N passed, M failed" and exits non-zero when a check failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simvue.h"

#include "check.h"
#include "files.h"


#define SENTINEL_MODE (-12345)
#define SENTINEL_TEXT "-12345"

/* Sets the calling thread's last error to a known one that no check below expects. */
static void prime_last_error(void) {
    simvue_run *dummy = NULL;
    (void)simvue_run_new(SENTINEL_MODE, &dummy);
}

static void expect_(simvue_result got, simvue_result want, const char *call, int line) {
    char msg[1024];
    size_t len = simvue_last_error_message(msg, sizeof msg);
    int ok;
    if (want == SIMVUE_OK) {
        ok = got == SIMVUE_OK;
    } else {
        ok = got == want && simvue_last_error() == want && len > 0 && msg[0] != '\0' &&
             strstr(msg, SENTINEL_TEXT) == NULL;
    }
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL (line %d): %s\n  returned %s, expected %s; last error %s: \"%s\"\n", line,
               call, simvue_result_name((int32_t)got), simvue_result_name((int32_t)want),
               simvue_result_name((int32_t)simvue_last_error()), msg);
    }
}
/* EXPECT(code, call): the call returns `code`; for an error code, the last error is that code
 * and has a fresh non-empty message. */
#define EXPECT(want, ...)                                                                         \
    do {                                                                                          \
        prime_last_error();                                                                       \
        expect_((__VA_ARGS__), (want), #__VA_ARGS__, __LINE__);                                   \
    } while (0)

/* Strings that are not UTF-8. */
static const char BAD[] = "\xff\xfe";
static const char BAD_TRUNCATED[] = "ok\xc3";

/* ------------------------------------------------------------------------------------------ */
/* Files */

static size_t count_substr(const char *text, const char *needle) {
    size_t n = 0;
    size_t k = strlen(needle);
    for (const char *p = strstr(text, needle); p; p = strstr(p + k, needle)) {
        n++;
    }
    return n;
}

/* Counts `needle` in the <dir>/<sub>/NAME.json files (not the hidden temporaries); *files gets the
 * number of files read. */
struct count {
    const char *needle;
    size_t total;
};

static void count_in(const char *text, void *ctx) {
    struct count *c = ctx;
    if (text) {
        c->total += count_substr(text, c->needle);
    }
}

static size_t count_in_json_files(const char *dir, const char *sub, const char *needle,
                                  int *files) {
    struct count c = {needle, 0};
    *files = for_each_json_file(dir, sub, count_in, &c);
    return c.total;
}

/* Whether `json` has `"key": value` (value given as JSON text) anywhere, any spacing. */
static int json_has(const char *json, const char *key, const char *value) {
    char quoted[256];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    for (const char *p = strstr(json, quoted); p; p = strstr(p + 1, quoted)) {
        const char *q = p + strlen(quoted);
        while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') {
            q++;
        }
        if (*q != ':') {
            continue;
        }
        q++;
        while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') {
            q++;
        }
        if (strncmp(q, value, strlen(value)) == 0) {
            return 1;
        }
    }
    return 0;
}

static int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                    continue;
                }
                char child[4096];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char tmp_root[1024];

/* A fresh, not yet existing path under the test's temporary folder. */
static void fresh_path(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", tmp_root, name);
}

/* ------------------------------------------------------------------------------------------ */
/* Functions that need no run */

static void test_static_functions(void) {
    /* Nothing failed yet on this thread. */
    CHECK(simvue_last_error() == SIMVUE_OK);
    CHECK(simvue_last_error_message(NULL, 0) == 0);

    CHECK(simvue_version() != NULL);
    CHECK(strcmp(simvue_version(), SIMVUE_VERSION) == 0);
    char numeric[64];
    snprintf(numeric, sizeof numeric, "%d.%d.%d", SIMVUE_VERSION_MAJOR, SIMVUE_VERSION_MINOR,
             SIMVUE_VERSION_PATCH);
    CHECK(strncmp(SIMVUE_VERSION, numeric, strlen(numeric)) == 0);

    static const struct {
        simvue_result code;
        const char *name;
    } known[] = {
        {SIMVUE_OK, "SIMVUE_OK"},
        {SIMVUE_ERROR_NULL_ARGUMENT, "SIMVUE_ERROR_NULL_ARGUMENT"},
        {SIMVUE_ERROR_INVALID_UTF8, "SIMVUE_ERROR_INVALID_UTF8"},
        {SIMVUE_ERROR_INVALID_ARGUMENT, "SIMVUE_ERROR_INVALID_ARGUMENT"},
        {SIMVUE_ERROR_UNKNOWN_ENUM, "SIMVUE_ERROR_UNKNOWN_ENUM"},
        {SIMVUE_ERROR_CLOSED, "SIMVUE_ERROR_CLOSED"},
        {SIMVUE_ERROR_STATE, "SIMVUE_ERROR_STATE"},
        {SIMVUE_ERROR_CONFIG, "SIMVUE_ERROR_CONFIG"},
        {SIMVUE_ERROR_IO, "SIMVUE_ERROR_IO"},
        {SIMVUE_ERROR_BUFFER_TOO_SMALL, "SIMVUE_ERROR_BUFFER_TOO_SMALL"},
        {SIMVUE_ERROR_NOT_FOUND, "SIMVUE_ERROR_NOT_FOUND"},
        {SIMVUE_ERROR_UNSUPPORTED, "SIMVUE_ERROR_UNSUPPORTED"},
        {SIMVUE_ERROR_BACKGROUND, "SIMVUE_ERROR_BACKGROUND"},
        {SIMVUE_ERROR_INVALID_HANDLE, "SIMVUE_ERROR_INVALID_HANDLE"},
        {SIMVUE_ERROR_PANIC, "SIMVUE_ERROR_PANIC"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *name = simvue_result_name((int32_t)known[i].code);
        if (!(name && strcmp(name, known[i].name) == 0)) {
            printf("  simvue_result_name(%d) = %s\n", (int)known[i].code, name ? name : "NULL");
        }
        CHECK(name && strcmp(name, known[i].name) == 0);
    }
    static const int32_t unknown[] = {-1, 100, 98, 1000, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *name = simvue_result_name(unknown[i]);
        CHECK(name && strcmp(name, "SIMVUE_UNKNOWN_RESULT") == 0);
    }
    /* Every code below 99 that is not listed in the header is unknown too. */
    for (int32_t c = 0; c < 99; c++) {
        const char *name = simvue_result_name(c);
        CHECK(name != NULL && strncmp(name, "SIMVUE_", 7) == 0);
    }

    /* simvue_run_new: unknown modes and a NULL out-pointer. */
    simvue_run *run = NULL;
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_new(7, &run));
    CHECK(run == NULL);
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_new(-1, &run));
    CHECK(run == NULL);
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_new(3, &run));
    CHECK(run == NULL);
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_new(SIMVUE_MODE_OFFLINE, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_new(SIMVUE_MODE_DISABLED, NULL));

    /* simvue_last_error_message: length, truncation, NUL termination. */
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_new(7, &run));
    size_t full = simvue_last_error_message(NULL, 0);
    CHECK(full > 3);
    char big[1024];
    CHECK(simvue_last_error_message(big, sizeof big) == full);
    CHECK(strlen(big) == full);
    char small[4] = {'x', 'x', 'x', 'x'};
    CHECK(simvue_last_error_message(small, sizeof small) == full);
    CHECK(small[3] == '\0' && strlen(small) == 3 && strncmp(small, big, 3) == 0);
    char one[1] = {'x'};
    CHECK(simvue_last_error_message(one, 1) == full);
    CHECK(one[0] == '\0');
    char untouched[2] = {'y', 'y'};
    CHECK(simvue_last_error_message(untouched, 0) == full);
    CHECK(untouched[0] == 'y');

    /* A successful call does not reset the last error. */
    prime_last_error();
    simvue_run *ok = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_DISABLED, &ok));
    CHECK(simvue_last_error() == SIMVUE_ERROR_UNKNOWN_ENUM);
    simvue_run_free(ok);

    /* simvue_run_free(NULL) is harmless. */
    simvue_run_free(NULL);
    CHECK(1);
}

/* ------------------------------------------------------------------------------------------ */
/* NULL handle: every function that takes one. */

static void test_null_handle(void) {
    const char *names[] = {"x"};
    const double values[] = {1.0};
    const char *tags[] = {"t"};
    char buf[64];
    size_t needed = 12345;
    uint64_t m = 7, e = 7;
    int32_t flag = 7;

    simvue_run_free(NULL);
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_config(NULL, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_init(NULL, "n", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_name(NULL, buf, sizeof buf, &needed));
    CHECK(needed == 12345);
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_id(NULL, buf, sizeof buf, &needed));
    CHECK(needed == 12345);
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_pid(NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_reconnect(NULL, "offline_x"));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_update_metadata(NULL, "{}"));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_string(NULL, "k", "v"));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_int(NULL, "k", 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_double(NULL, "k", 1.0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_bool(NULL, "k", 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_update_tags(NULL, tags, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_tags(NULL, tags, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(NULL, names, values, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metric(NULL, "x", 1.0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_log_metrics_ex(NULL, names, values, 1, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_event(NULL, "m", NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_event_level(NULL, "m", 1, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_status(NULL, SIMVUE_STATUS_COMPLETED));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_close(NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_set_folder_details(NULL, NULL, "{}", NULL, 0, "d"));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_add_alert(NULL, "a", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                SIMVUE_ALERT_RULE_IS_ABOVE, "x", 1.0, 0.0, 0.0,
                                SIMVUE_NOTIFICATION_NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_abort_on_alert(NULL, SIMVUE_ABORT_ON_ALERT_RUN));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_dropped(NULL, &m, &e));
    CHECK(m == 7 && e == 7);
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_lost_items(NULL, &m, &e));
    CHECK(m == 7 && e == 7);
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_suppress_errors(NULL, &flag));
    CHECK(flag == 7);
}

/* A pointer that is not a run handle (zeroed memory, so no magic number) is refused. */
static void test_invalid_handle(void) {
    static uint64_t fake[8192]; /* zero-filled and larger than any simvue_run */
    simvue_run *run = (simvue_run *)(void *)fake;
    int32_t flag = 7;
    EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_close(run));
    EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_log_metric(run, "x", 1.0));
    EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_suppress_errors(run, &flag));
    CHECK(flag == 7);
    simvue_run_free(run); /* ignored */
    CHECK(fake[0] == 0);
}

/* A freed handle (a Fortran program frees a run through one copy of a variable and uses
 * another): every call, and a second free, is SIMVUE_ERROR_INVALID_HANDLE, never a read of
 * freed memory (this runs under valgrind too), and later runs never get its address. */
static void test_freed_handle(void) {
    const int32_t modes[] = {SIMVUE_MODE_OFFLINE, SIMVUE_MODE_DISABLED};
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        char cache[2048];
        fresh_path(cache, sizeof cache, "cache-freed");
        setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
        const char *names[] = {"x"};
        const double values[] = {1.0};
        const char *tags[] = {"t"};
        char buf[64] = "untouched";
        size_t needed = 12345;
        uint64_t m = 7, e = 7;
        int32_t flag = 7;

        simvue_run *run = NULL;
        EXPECT(SIMVUE_OK, simvue_run_new(modes[k], &run));
        EXPECT(SIMVUE_OK, simvue_run_config(run, 1, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
        EXPECT(SIMVUE_OK, simvue_run_init(run, "freed-handle", NULL, NULL, 0, NULL, NULL, 1));
        simvue_run_free(run);

        EXPECT(SIMVUE_ERROR_INVALID_HANDLE,
               simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
        CHECK(simvue_last_error() == SIMVUE_ERROR_INVALID_HANDLE);
        CHECK(simvue_last_error_reported() == 0); /* no run left to print it */
        char msg[256];
        simvue_last_error_message(msg, sizeof msg);
        CHECK(strstr(msg, "freed") != NULL);
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE,
               simvue_run_init(run, "n", NULL, NULL, 0, NULL, NULL, 1));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_name(run, buf, sizeof buf, &needed));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_id(run, buf, sizeof buf, &needed));
        CHECK(needed == 12345 && strcmp(buf, "untouched") == 0);
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_set_pid(run, 1));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_reconnect(run, "offline_x"));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_update_metadata(run, "{}"));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_set_metadata_int(run, "k", 1));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_update_tags(run, tags, 1));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_log_metrics(run, names, values, 1));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_log_metric(run, "x", 1.0));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_log_event(run, "m", NULL));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_set_status(run, SIMVUE_STATUS_FAILED));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_close(run));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE,
               simvue_run_set_folder_details(run, NULL, "{}", NULL, 0, "d"));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_dropped(run, &m, &e));
        CHECK(m == 7 && e == 7);
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_lost_items(run, &m, &e));
        CHECK(m == 7 && e == 7);
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_suppress_errors(run, &flag));
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_abort_requested(run, &flag));
        CHECK(flag == 7);
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE,
               simvue_run_save_bytes(run, "b", "x", 1, SIMVUE_CATEGORY_OUTPUT, NULL, 0));

        /* A second free is recorded as the last error and does nothing else. */
        prime_last_error();
        simvue_run_free(run);
        CHECK(simvue_last_error() == SIMVUE_ERROR_INVALID_HANDLE);

        /* The freed address is never handed out again. */
        simvue_run *later = NULL;
        EXPECT(SIMVUE_OK, simvue_run_new(modes[k], &later));
        CHECK(later != run);
        EXPECT(SIMVUE_ERROR_INVALID_HANDLE, simvue_run_log_metric(run, "x", 1.0));
        simvue_run_free(later);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Bad metric and event calls on a running run; none of them may queue anything. Each call
 * picks one case, so that a loop interleaves them with good calls. */

#define N_BAD_METRIC_CASES 32
static void bad_metric_call(simvue_run *run, int k) {
    const char *one[] = {"loss"};
    const char *two[] = {"loss", "acc"};
    const char *dup[] = {"loss", "loss"};
    const char *empty[] = {""};
    const char *comma[] = {"a,b"};
    const char *star[] = {"x*y"};
    const char *nonascii[] = {"na\xc3\xafve"};
    const char *bad[] = {BAD};
    const char *truncated[] = {BAD_TRUNCATED};
    const char *null_name[] = {"loss", NULL};
    const double v[2] = {1.0, 2.0};
    switch (k) {
    case 0: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, NULL, v, 1)); break;
    case 1: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, one, NULL, 1)); break;
    case 2: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, NULL, NULL, 3)); break;
    case 3: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, null_name, v, 2)); break;
    case 4: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, empty, v, 1)); break;
    case 5: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, comma, v, 1)); break;
    case 6: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, star, v, 1)); break;
    case 7: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, nonascii, v, 1)); break;
    case 8: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_metrics(run, bad, v, 1)); break;
    case 9: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_metrics(run, truncated, v, 1)); break;
    case 10: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, dup, v, 2)); break;
    case 11: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, NULL, NULL, 0)); break;
    case 12: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metric(run, NULL, 1.0)); break;
    case 13: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metric(run, "", 1.0)); break;
    case 14: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metric(run, "a;b", 1.0)); break;
    case 15: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_metric(run, BAD, 1.0)); break;
    case 16: EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_log_metrics_ex(run, two, v, 2, 4, 0, 0.0, NULL)); break;
    case 17: EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_log_metrics_ex(run, two, v, 2, 0x80000000u, 0, 0.0, NULL)); break;
    case 18: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, SIMVUE_METRICS_STEP, -1, 0.0, NULL)); break;
    case 19: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, SIMVUE_METRICS_STEP | SIMVUE_METRICS_TIME, INT64_MIN, 0.0, NULL)); break;
    case 20: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, SIMVUE_METRICS_TIME, 0, NAN, NULL)); break;
    case 21: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, SIMVUE_METRICS_TIME, 0, INFINITY, NULL)); break;
    case 22: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, SIMVUE_METRICS_TIME, 0, -INFINITY, NULL)); break;
    case 23: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "yesterday")); break;
    case 24: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "")); break;
    case 25: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "2024-13-01 00:00:00")); break;
    case 26: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "2023-02-29 00:00:00")); break;
    case 27: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "2024-01-01 24:00:00")); break;
    case 28: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "2024-01-01 00:00:00.1234567")); break;
    case 29: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "2024-01-01 00:00:00.")); break;
    case 30: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, "2024/01/01 00:00:00")); break;
    case 31: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_metrics_ex(run, two, v, 2, 0, 0, 0.0, BAD)); break;
    default: break;
    }
}

#define N_BAD_EVENT_CASES 10
static void bad_event_call(simvue_run *run, int k) {
    switch (k) {
    case 0: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_event(run, NULL, NULL)); break;
    case 1: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_event(run, BAD, NULL)); break;
    case 2: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_event(run, "m", BAD)); break;
    case 3: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_event(run, "m", "now")); break;
    case 4: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_event(run, "m", "2024-01-32 00:00:00")); break;
    case 5: EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_log_event_level(run, "m", 42, NULL)); break;
    case 6: EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_log_event_level(run, "m", -1, NULL)); break;
    case 7: EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_event_level(run, NULL, SIMVUE_LOG_ERROR, NULL)); break;
    case 8: EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_event_level(run, BAD_TRUNCATED, SIMVUE_LOG_ERROR, NULL)); break;
    case 9: EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_event_level(run, "m", SIMVUE_LOG_DEBUG, "2024-01-01 00:60:00")); break;
    default: break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Bad metadata, tags, folder and alert calls (before and after init). */

static void bad_metadata_calls(simvue_run *run) {
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_update_metadata(run, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_update_metadata(run, BAD));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "{"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, ""));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "{\"a\": 1} x"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "{'a': 1}"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "[1, 2]"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "42"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "\"text\""));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "null"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_metadata(run, "{\"\": 1}"));

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_string(run, NULL, "v"));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_string(run, "bad_s", NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_string(run, "", "v"));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metadata_string(run, BAD, "v"));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metadata_string(run, "bad_s", BAD));

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_int(run, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_int(run, "", 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metadata_int(run, BAD, 1));

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_double(run, NULL, 1.0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_double(run, "", 1.0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metadata_double(run, BAD, 1.0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_double(run, "bad_d", NAN));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_double(run, "bad_d", INFINITY));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_double(run, "bad_d", -INFINITY));

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metadata_bool(run, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metadata_bool(run, "", 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metadata_bool(run, BAD, 1));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_metadata_bool(run, "bad_b", 2));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_metadata_bool(run, "bad_b", -1));
}

static void bad_tag_calls(simvue_run *run) {
    const char *empty[] = {""};
    const char *bad[] = {"ok", BAD};
    const char *null_tag[] = {"ok", NULL};
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_update_tags(run, NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_update_tags(run, null_tag, 2));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_update_tags(run, empty, 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_update_tags(run, bad, 2));
}

static void bad_folder_calls(simvue_run *run) {
    const char *empty[] = {""};
    const char *bad[] = {BAD};
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_set_folder_details(run, "relative/path", NULL, NULL, 0, "d"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_folder_details(run, "", NULL, NULL, 0, "d"));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_folder_details(run, BAD, NULL, NULL, 0, "d"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_folder_details(run, NULL, "{", NULL, 0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_folder_details(run, NULL, "[1]", NULL, 0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_folder_details(run, NULL, "3.5", NULL, 0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_folder_details(run, NULL, BAD, NULL, 0, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_folder_details(run, NULL, NULL, NULL, 2, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_folder_details(run, NULL, NULL, empty, 1, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_folder_details(run, NULL, NULL, bad, 1, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_folder_details(run, NULL, NULL, NULL, 0, BAD));
}

/* A metrics alert with one argument changed; the base is valid. */
#define ALERT(name, source, freq, rule, metric, thr, lo, hi, notif, pattern, buf, len)           \
    simvue_run_add_alert(run, name, source, freq, 1, rule, metric, thr, lo, hi, notif, pattern,  \
                         buf, len)
static void bad_alert_calls(simvue_run *run) {
    const int32_t M = SIMVUE_ALERT_SOURCE_METRICS, E = SIMVUE_ALERT_SOURCE_EVENTS;
    const int32_t ABOVE = SIMVUE_ALERT_RULE_IS_ABOVE, INSIDE = SIMVUE_ALERT_RULE_IS_INSIDE_RANGE;
    const int32_t OUTSIDE = SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, NONE = SIMVUE_NOTIFICATION_NONE;
    /* name */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, ALERT(NULL, M, 1, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("", M, 1, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("bad,name", M, 1, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, ALERT(BAD, M, 1, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    /* enumerations */
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", 2, 1, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", -1, 1, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", M, 1, 4, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", M, 1, -1, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", M, 1, ABOVE, "x", 1.0, 0.0, 0.0, 2, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", M, 1, ABOVE, "x", 1.0, 0.0, 0.0, -1, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, ALERT("a", E, 1, ABOVE, NULL, 0.0, 0.0, 0.0, 9, "p", NULL, 0));
    /* frequency */
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 0, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, -5, ABOVE, "x", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    /* metric */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, ALERT("a", M, 1, ABOVE, NULL, 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, ABOVE, "", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, ABOVE, "a,b", 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, ALERT("a", M, 1, ABOVE, BAD, 1.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    /* numbers */
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, ABOVE, "x", NAN, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, SIMVUE_ALERT_RULE_IS_BELOW, "x", INFINITY, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, INSIDE, "x", 0.0, NAN, 1.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, INSIDE, "x", 0.0, 0.0, NAN, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, OUTSIDE, "x", 0.0, -INFINITY, 1.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, OUTSIDE, "x", 0.0, 2.0, 1.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", M, 1, OUTSIDE, "x", 0.0, 1.0, 1.0, NONE, NULL, NULL, 0));
    /* events alerts */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, ALERT("a", E, 1, 0, NULL, 0.0, 0.0, 0.0, NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, ALERT("a", E, 1, 0, NULL, 0.0, 0.0, 0.0, NONE, "", NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, ALERT("a", E, 1, 0, NULL, 0.0, 0.0, 0.0, NONE, BAD, NULL, 0));
}

/* ------------------------------------------------------------------------------------------ */
/* The offline run: bad calls in every state, interleaved with good ones, and the cache checked
 * afterwards. */

#define N_GOOD_METRIC_SETS 100
#define N_GOOD_EVENTS 10

static void test_offline_run(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);

    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    CHECK(run != NULL);
    if (!run) {
        return;
    }

    /* --- before init --------------------------------------------------------------------- */
    int32_t flag = 7;
    EXPECT(SIMVUE_OK, simvue_run_suppress_errors(run, &flag));
    CHECK(flag == 1); /* the default */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_suppress_errors(run, NULL));

    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_config(run, 2, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_config(run, 0, 2, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_config(run, 0, -2, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 2, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_config(run, 0, 1, 0, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_config(run, 0, 1, -5, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, -7));
    /* A refused config changed nothing. */
    flag = 7;
    EXPECT(SIMVUE_OK, simvue_run_suppress_errors(run, &flag));
    CHECK(flag == 1);
    /* Quiet (errors are returned, not printed), blocking queues, no resource sampling. */
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_OK, simvue_run_suppress_errors(run, &flag));
    CHECK(flag == 0);

    char buf[256];
    size_t needed = 12345;
    const char *names2[] = {"loss", "acc"};
    const double values2[] = {1.0, 2.0};
    const char *tag1[] = {"t1"};
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_name(run, buf, sizeof buf, &needed));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_id(run, buf, sizeof buf, &needed));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_update_tags(run, tag1, 1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_metrics(run, names2, values2, 2));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_metric(run, "loss", 1.0));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_metrics_ex(run, names2, values2, 2, SIMVUE_METRICS_STEP, 3, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_event(run, "m", NULL));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_event_level(run, "m", SIMVUE_LOG_WARNING, NULL));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_status(run, SIMVUE_STATUS_FAILED));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_folder_details(run, NULL, "{}", NULL, 0, "d"));
    EXPECT(SIMVUE_ERROR_STATE,
           simvue_run_add_alert(run, "a", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                SIMVUE_ALERT_RULE_IS_ABOVE, "x", 1.0, 0.0, 0.0,
                                SIMVUE_NOTIFICATION_NONE, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_close(run));
    uint64_t dm = 7, de = 7;
    EXPECT(SIMVUE_OK, simvue_run_dropped(run, &dm, &de));
    CHECK(dm == 0 && de == 0);
    EXPECT(SIMVUE_OK, simvue_run_dropped(run, NULL, NULL));
    dm = de = 7;
    EXPECT(SIMVUE_OK, simvue_run_lost_items(run, &dm, &de));
    CHECK(dm == 0 && de == 0);
    EXPECT(SIMVUE_OK, simvue_run_lost_items(run, NULL, NULL));

    /* set_pid: only real process ids. */
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_pid(run, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_pid(run, -5));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_pid(run, (int64_t)1 << 40));
    EXPECT(SIMVUE_OK, simvue_run_set_pid(run, (int64_t)getpid()));

    /* reconnect: bad ids (a run id never contains '/' nor starts with '.'). */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_reconnect(run, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_reconnect(run, BAD));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_reconnect(run, ""));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_reconnect(run, "../runs/x"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_reconnect(run, ".hidden"));
    EXPECT(SIMVUE_ERROR_NOT_FOUND, simvue_run_reconnect(run, "offline_no-such-run"));

    /* Metadata before init is kept for init; bad metadata is refused and not kept. */
    bad_metadata_calls(run);
    EXPECT(SIMVUE_OK, simvue_run_set_metadata_int(run, "staged_int", 42));
    EXPECT(SIMVUE_OK, simvue_run_update_metadata(run, "{\"staged_json\": \"yes\"}"));

    /* init: bad arguments, none of which may leave the run half-initialised. */
    const char *tags_ok[] = {"alpha", "beta"};
    const char *tags_null[] = {"alpha", NULL};
    const char *tags_empty[] = {"alpha", ""};
    const char *tags_bad[] = {BAD};
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_init(run, BAD, NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "bad,name", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "n", "{", NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "n", "[1]", NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "n", "true", NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_init(run, "n", BAD, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_init(run, "n", NULL, NULL, 2, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_init(run, "n", NULL, tags_null, 2, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "n", NULL, tags_empty, 2, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_init(run, "n", NULL, tags_bad, 1, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_init(run, "n", NULL, NULL, 0, BAD, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "n", NULL, NULL, 0, NULL, "no/slash", 1));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_init(run, "n", NULL, NULL, 0, NULL, "", 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_init(run, "n", NULL, NULL, 0, NULL, BAD, 1));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_init(run, "n", NULL, NULL, 0, NULL, NULL, 2));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_init(run, "n", NULL, NULL, 0, NULL, NULL, -1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_name(run, buf, sizeof buf, NULL));

    EXPECT(SIMVUE_OK, simvue_run_init(run, "api-test", "{\"init_key\": 1}", tags_ok, 2,
                                      "bad-input test", "/tests/c", 1));

    /* --- initialised and running ------------------------------------------------------- */
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_config(run, SIMVUE_KEEP, SIMVUE_KEEP, SIMVUE_KEEP, SIMVUE_KEEP, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_init(run, "again", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_reconnect(run, "offline_x"));

    /* name and id: NULL and too small buffers. */
    const char *expected_name = "api-test";
    needed = 12345;
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_name(run, NULL, 0, &needed));
    CHECK(needed == strlen(expected_name));
    char tiny[4] = {'z', 'z', 'z', 'z'};
    needed = 12345;
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL, simvue_run_name(run, tiny, sizeof tiny, &needed));
    CHECK(needed == strlen(expected_name));
    CHECK(tiny[0] == 'z'); /* written only on success */
    char exact[8]; /* strlen("api-test") == 8: no room for the NUL */
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL, simvue_run_name(run, exact, sizeof exact, &needed));
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL, simvue_run_name(run, tiny, 0, NULL));
    needed = 0;
    EXPECT(SIMVUE_OK, simvue_run_name(run, buf, strlen(expected_name) + 1, &needed));
    CHECK(strcmp(buf, expected_name) == 0 && needed == strlen(expected_name));

    char id[256];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, &needed));
    CHECK(strncmp(id, "offline_", 8) == 0 && needed == strlen(id));
    needed = 0;
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL, simvue_run_id(run, tiny, sizeof tiny, &needed));
    CHECK(needed == strlen(id));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_id(run, NULL, 10, &needed));

    /* 100 good metric sets of every kind (and 10 events), each followed by bad calls. */
    const char *loss[] = {"loss"};
    for (int i = 0; i < N_GOOD_METRIC_SETS; i++) {
        double v[2] = {(double)i, 0.5 * i};
        if (i == 50) {
            v[0] = NAN; /* values may be NaN or infinite (Python writes NaN, Infinity) */
            v[1] = INFINITY;
        } else if (i == 51) {
            v[0] = -INFINITY;
        } else if (i == 52) {
            v[0] = NAN;
        }
        switch (i % 5) {
        case 0: EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, names2, v, 2)); break;
        case 1: EXPECT(SIMVUE_OK, simvue_run_log_metric(run, "loss", v[0])); break;
        case 2:
            EXPECT(SIMVUE_OK, simvue_run_log_metrics_ex(run, names2, v, 2, SIMVUE_METRICS_STEP,
                                                        1000 + i, 0.0, NULL));
            break;
        case 3:
            EXPECT(SIMVUE_OK, simvue_run_log_metrics_ex(run, loss, v, 1, SIMVUE_METRICS_TIME, 0,
                                                        0.25 * i, "2024-02-29 23:59:59.5"));
            break;
        default:
            EXPECT(SIMVUE_OK, simvue_run_log_metrics_ex(run, names2, v, 2,
                                                        SIMVUE_METRICS_STEP | SIMVUE_METRICS_TIME,
                                                        i, 1.0, "2024-01-01T00:00:00Z"));
            break;
        }
        bad_metric_call(run, i % N_BAD_METRIC_CASES);
        bad_metric_call(run, (i + 7) % N_BAD_METRIC_CASES);
        bad_event_call(run, i % N_BAD_EVENT_CASES);
        if (i % (N_GOOD_METRIC_SETS / N_GOOD_EVENTS) == 0) {
            EXPECT(SIMVUE_OK, simvue_run_log_event_level(run, "good event", SIMVUE_LOG_INFO, NULL));
        }
    }
    /* Long name lists take another path (more than 32 names). */
    {
        char storage[40][16];
        const char *many[40];
        double vals[40];
        for (int k = 0; k < 40; k++) {
            snprintf(storage[k], sizeof storage[k], "m%d", k);
            many[k] = storage[k];
            vals[k] = k;
        }
        many[35] = "bad,name";
        EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, many, vals, 40));
        many[35] = NULL;
        EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, many, vals, 40));
        many[35] = BAD;
        EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_metrics(run, many, vals, 40));
        many[35] = storage[0];
        EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, many, vals, 40));
    }

    bad_metadata_calls(run);
    EXPECT(SIMVUE_OK, simvue_run_set_metadata_double(run, "good_double", 0.125));
    EXPECT(SIMVUE_OK, simvue_run_set_metadata_bool(run, "good_bool", 1));
    bad_tag_calls(run);
    EXPECT(SIMVUE_OK, simvue_run_update_tags(run, NULL, 0));
    EXPECT(SIMVUE_OK, simvue_run_update_tags(run, tag1, 1));
    {
        const char *bad_tags[] = {"ok", BAD}, *empty_tag[] = {""}, *set[] = {"set-1", "set-2"};
        EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_tags(run, bad_tags, 2));
        EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_tags(run, empty_tag, 1));
        EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_tags(run, NULL, 2));
        EXPECT(SIMVUE_OK, simvue_run_set_tags(run, set, 2));
        EXPECT(SIMVUE_OK, simvue_run_set_tags(run, tags_ok, 2)); /* as the checks below want */
        EXPECT(SIMVUE_OK, simvue_run_update_tags(run, tag1, 1));
    }
    bad_folder_calls(run);
    EXPECT(SIMVUE_OK, simvue_run_set_folder_details(run, NULL, "{\"project\": \"api\"}", NULL, 0,
                                                    "C API tests"));
    bad_alert_calls(run);
    /* Arguments a rule does not use are ignored, even when they would be bad. */
    EXPECT(SIMVUE_OK, simvue_run_add_alert(run, "events-alert", SIMVUE_ALERT_SOURCE_EVENTS, 1, 0,
                                           42, NULL, NAN, NAN, NAN, SIMVUE_NOTIFICATION_NONE,
                                           "diverged", NULL, 0));
    char alert_id[128];
    EXPECT(SIMVUE_OK, simvue_run_add_alert(run, "above-alert", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                           SIMVUE_ALERT_RULE_IS_ABOVE, "loss", 10.0, NAN, NAN,
                                           SIMVUE_NOTIFICATION_EMAIL, NULL, alert_id,
                                           sizeof alert_id));
    CHECK(strncmp(alert_id, "offline_", 8) == 0);
    char alert_id2[128];
    EXPECT(SIMVUE_OK, simvue_run_add_alert(run, "above-alert", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                           SIMVUE_ALERT_RULE_IS_ABOVE, "loss", 10.0, NAN, NAN,
                                           SIMVUE_NOTIFICATION_EMAIL, NULL, alert_id2,
                                           sizeof alert_id2));
    CHECK(strcmp(alert_id, alert_id2) == 0);
    /* Same name, different definition. */
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_add_alert(run, "above-alert", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                SIMVUE_ALERT_RULE_IS_BELOW, "loss", 10.0, 0.0, 0.0,
                                SIMVUE_NOTIFICATION_EMAIL, NULL, NULL, 0));
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL,
           simvue_run_add_alert(run, "above-alert", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                SIMVUE_ALERT_RULE_IS_ABOVE, "loss", 10.0, NAN, NAN,
                                SIMVUE_NOTIFICATION_EMAIL, NULL, tiny, sizeof tiny));
    /* A too small id buffer is refused before anything is created. */
    int alerts_before = 0, alerts_after = 0, alert_files = 0;
    count_in_json_files(cache, "alerts", "\"obj_type\"", &alert_files);
    alerts_before = alert_files;
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL,
           simvue_run_add_alert(run, "new-alert-tiny-buffer", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                SIMVUE_ALERT_RULE_IS_ABOVE, "loss", 10.0, NAN, NAN,
                                SIMVUE_NOTIFICATION_EMAIL, NULL, tiny, SIMVUE_ID_BUFFER_SIZE - 1));
    count_in_json_files(cache, "alerts", "\"obj_type\"", &alert_files);
    alerts_after = alert_files;
    CHECK(alerts_before > 0 && alerts_after == alerts_before);

    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_status(run, 9));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_status(run, -1));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_status(run, 3));

    /* Blocking queues drop nothing. */
    EXPECT(SIMVUE_OK, simvue_run_dropped(run, &dm, &de));
    CHECK(dm == 0 && de == 0);
    /* A writable cache loses nothing. */
    EXPECT(SIMVUE_OK, simvue_run_lost_items(run, &dm, &de));
    CHECK(dm == 0 && de == 0);

    /* After set_status, metrics and events are refused (what was logged is still written). */
    EXPECT(SIMVUE_OK, simvue_run_set_status(run, SIMVUE_STATUS_COMPLETED));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_metric(run, "loss", 1.0));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_metrics(run, names2, values2, 2));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_log_event(run, "late", NULL));

    EXPECT(SIMVUE_OK, simvue_run_close(run));

    /* --- closed ------------------------------------------------------------------------ */
    /* Changing calls report SIMVUE_ERROR_CLOSED; config and reconnect, which are only allowed
     * on a new handle, report SIMVUE_ERROR_STATE. */
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_close(run));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_init(run, "n", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_reconnect(run, id));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_pid(run, (int64_t)getpid()));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_update_metadata(run, "{\"late\": 1}"));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_metadata_string(run, "late", "v"));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_metadata_int(run, "late", 1));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_metadata_double(run, "late", 1.0));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_metadata_bool(run, "late", 0));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_update_tags(run, tag1, 1));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_tags(run, tag1, 1));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_metrics(run, names2, values2, 2));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_metric(run, "loss", 1.0));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_metrics_ex(run, names2, values2, 2, SIMVUE_METRICS_STEP, 1, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_event(run, "late", NULL));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_event_level(run, "late", SIMVUE_LOG_CRITICAL, NULL));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_status(run, SIMVUE_STATUS_FAILED));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_folder_details(run, NULL, "{}", NULL, 0, NULL));
    EXPECT(SIMVUE_ERROR_CLOSED,
           simvue_run_add_alert(run, "late-alert", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                SIMVUE_ALERT_RULE_IS_ABOVE, "x", 1.0, 0.0, 0.0,
                                SIMVUE_NOTIFICATION_NONE, NULL, NULL, 0));
    /* Bad arguments are still reported as such on a closed run. */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, NULL, values2, 2));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_status(run, 9));
    /* Queries keep working on a closed run (the header does not say otherwise for them):
     * the name and id, the dropped and lost counts and the error policy. */
    EXPECT(SIMVUE_OK, simvue_run_name(run, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, expected_name) == 0);
    EXPECT(SIMVUE_OK, simvue_run_id(run, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, id) == 0);
    EXPECT(SIMVUE_OK, simvue_run_dropped(run, &dm, &de));
    EXPECT(SIMVUE_OK, simvue_run_lost_items(run, &dm, &de));
    CHECK(dm == 0 && de == 0);
    EXPECT(SIMVUE_OK, simvue_run_suppress_errors(run, &flag));
    simvue_run_free(run);

    /* A closed run cannot be reconnected. */
    simvue_run *again = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &again));
    EXPECT(SIMVUE_OK, simvue_run_config(again, 0, SIMVUE_KEEP, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_reconnect(again, id));
    simvue_run_free(again);

    /* --- the cache: nothing lost, nothing extra ------------------------------------------- */
    int files = 0;
    size_t steps = count_in_json_files(cache, "metrics", "\"step\":", &files);
    if (steps != N_GOOD_METRIC_SETS) {
        printf("  metric sets written: %zu in %d files, expected %d\n", steps, files,
               N_GOOD_METRIC_SETS);
    }
    CHECK(steps == N_GOOD_METRIC_SETS);
    CHECK(count_in_json_files(cache, "metrics", "NaN", &files) == 2);
    CHECK(count_in_json_files(cache, "metrics", "-Infinity", &files) == 1);
    CHECK(count_in_json_files(cache, "metrics", "Infinity", &files) == 2);
    CHECK(count_in_json_files(cache, "metrics", "\"step\": 1002", &files) +
              count_in_json_files(cache, "metrics", "\"step\":1002", &files) == 1);
    size_t events = count_in_json_files(cache, "events", "\"message\":", &files);
    if (events != N_GOOD_EVENTS) {
        printf("  events written: %zu, expected %d\n", events, N_GOOD_EVENTS);
    }
    CHECK(events == N_GOOD_EVENTS);
    CHECK(count_in_json_files(cache, "alerts", "\"name\":", &files) == 2);
    CHECK(files == 2);

    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL);
    if (json) {
        CHECK(json_has(json, "status", "\"completed\""));
        CHECK(json_has(json, "name", "\"api-test\""));
        CHECK(json_has(json, "folder", "\"/tests/c\""));
        CHECK(json_has(json, "init_key", "1"));
        CHECK(json_has(json, "staged_int", "42"));
        CHECK(json_has(json, "staged_json", "\"yes\""));
        CHECK(json_has(json, "good_double", "0.125"));
        CHECK(json_has(json, "good_bool", "true"));
        /* Nothing from the refused calls. */
        CHECK(strstr(json, "bad_s") == NULL && strstr(json, "bad_d") == NULL &&
              strstr(json, "bad_b") == NULL && strstr(json, "\"late\"") == NULL);
        CHECK(strstr(json, "\"t1\"") != NULL && strstr(json, "\"alpha\"") != NULL);
        free(json);
    }
    snprintf(path, sizeof path, "%s/runs/%s.closed", cache, id);
    CHECK(path_exists(path));
}

/* ------------------------------------------------------------------------------------------ */
/* Names the library saw before are recognised in place (by comparing bytes, without strlen or
 * UTF-8 checks); a name rewritten in the same buffer must be read anew, and call sites taking
 * turns (more of them than the library remembers) must each log their own names. */

static void test_names_rewritten_in_place(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-names");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_OK, simvue_run_init(run, "names", NULL, NULL, 0, NULL, "/tests/c", 1));

    char slot[2][16];
    const char *arr[2] = {slot[0], slot[1]};
    double v[2] = {1.0, 2.0};
    strcpy(slot[0], "alpha");
    strcpy(slot[1], "beta");
    EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, arr, v, 2));
    EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, arr, v, 2));
    strcpy(slot[0], "alphabet"); /* longer, same start */
    v[0] = 3.0;
    EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, arr, v, 2));
    strcpy(slot[0], "alp"); /* shorter, same start */
    v[0] = 4.0;
    EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, arr, v, 2));
    strcpy(slot[0], "bad,name");
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, arr, v, 2));
    strcpy(slot[0], "beta"); /* now twice in the call */
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metrics(run, arr, v, 2));
    strcpy(slot[0], BAD);
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_metrics(run, arr, v, 2));
    arr[0] = NULL;
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_log_metrics(run, arr, v, 2));
    arr[0] = slot[0];
    strcpy(slot[0], "alpha");
    v[0] = 5.0;
    EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, arr, v, 2));

    /* 12 call sites, each with its own array and names, taking turns 5 times. */
    enum { SITES = 12, ROUNDS = 5 };
    char site_names[SITES][2][16];
    const char *sites[SITES][2];
    for (int k = 0; k < SITES; k++) {
        snprintf(site_names[k][0], 16, "site%d/x", k);
        snprintf(site_names[k][1], 16, "site%d/y", k);
        sites[k][0] = site_names[k][0];
        sites[k][1] = site_names[k][1];
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < SITES; k++) {
            double w[2] = {100.0 * k + r, -1.0};
            EXPECT(SIMVUE_OK, simvue_run_log_metrics(run, sites[k], w, 2));
        }
    }
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    simvue_run_free(run);

    int files = 0;
    CHECK(count_in_json_files(cache, "metrics", "\"step\":", &files) == 5 + SITES * ROUNDS);
    CHECK(count_in_json_files(cache, "metrics", "\"alpha\":1.0", &files) == 2);
    CHECK(count_in_json_files(cache, "metrics", "\"alphabet\":3.0", &files) == 1);
    CHECK(count_in_json_files(cache, "metrics", "\"alp\":4.0", &files) == 1);
    CHECK(count_in_json_files(cache, "metrics", "\"alpha\":5.0", &files) == 1);
    CHECK(count_in_json_files(cache, "metrics", "\"beta\":2.0", &files) == 5);
    /* A key beginning "bad" (the run's id is hex, and may hold "bad" elsewhere). */
    CHECK(count_in_json_files(cache, "metrics", "\"bad", &files) == 0);
    for (int k = 0; k < SITES; k++) {
        for (int r = 0; r < ROUNDS; r++) {
            char want[64];
            snprintf(want, sizeof want, "\"site%d/x\":%d.0,\"site%d/y\":-1.0", k, 100 * k + r, k);
            CHECK(count_in_json_files(cache, "metrics", want, &files) == 1);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration problems are reported by init. */

static void test_config_errors(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-config");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);

    /* An unknown SIMVUE_MODE. */
    setenv("SIMVUE_MODE", "sideways", 1);
    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    unsetenv("SIMVUE_MODE");
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, SIMVUE_KEEP, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_CONFIG, simvue_run_init(run, "n", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_close(run));
    simvue_run_free(run);

    /* Online without a server URL or token. */
    run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, SIMVUE_KEEP, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_CONFIG, simvue_run_init(run, "n", NULL, NULL, 0, NULL, NULL, 1));
    simvue_run_free(run);
    CHECK(!path_exists(cache));
}

/* simvue_run_free on a running run closes it first (status completed), and a handle that was
 * only created is released without writing anything. */
static void test_free_without_close(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-free");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);

    simvue_run *unused = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &unused));
    simvue_run_free(unused);
    CHECK(!path_exists(cache));

    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_OK, simvue_run_init(run, "freed", NULL, NULL, 0, NULL, NULL, 1));
    for (int i = 0; i < 10; i++) {
        EXPECT(SIMVUE_OK, simvue_run_log_metric(run, "x", i));
        EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_log_metric(run, "x|y", i));
    }
    char id[256];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    simvue_run_free(run);

    int files = 0;
    CHECK(count_in_json_files(cache, "metrics", "\"step\":", &files) == 10);
    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL && json_has(json, "status", "\"completed\""));
    free(json);
}

/* Regressions: bugs found by this suite and fixed. */
static void test_regressions(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-bugs");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));

    /* Metadata staged before a failed init must survive for the next init: make the cache
     * folder a file so that init fails with SIMVUE_ERROR_IO, then fix it and retry. */
    FILE *f = fopen(cache, "w");
    if (f) {
        fclose(f);
    }
    EXPECT(SIMVUE_OK, simvue_run_set_metadata_int(run, "staged_bug", 7));
    EXPECT(SIMVUE_ERROR_IO, simvue_run_init(run, "bugs", NULL, NULL, 0, NULL, NULL, 1));
    unlink(cache);
    EXPECT(SIMVUE_OK, simvue_run_init(run, "bugs", NULL, NULL, 0, NULL, NULL, 1));

    /* A malformed timestamp with a multi-byte character at byte 18 must be refused, not
     * panic. */
    const char *one[] = {"x"};
    const double v[] = {1.0};
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_metrics_ex(run, one, v, 1, 0, 0, 0.0, "2024-01-01 00:00:0\xc3\xa9"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_event(run, "m", "2024-01-01 00:00:0\xc3\xa9"));

    char id[256];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    simvue_run_free(run);
    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL && json_has(json, "staged_bug", "7"));
    free(json);
}

/* The create_*_alert functions, log_alert and add_alerts: every bad argument has its code, and
 * the offline cache gets what simvue 2.6.2 writes. */
static void test_alert_functions(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-alerts");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    char id[SIMVUE_ID_BUFFER_SIZE], th[SIMVUE_ID_BUFFER_SIZE], ua[SIMVUE_ID_BUFFER_SIZE];
    char tiny[8];
    simvue_run *run = NULL;

    /* NULL handle */
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_create_metric_threshold_alert(NULL, "a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE,
                                                    NULL, 0, 1, SIMVUE_AGGREGATION_AVERAGE,
                                                    SIMVUE_NOTIFICATION_NONE, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_create_metric_range_alert(NULL, "a", "x", 0.0, 1.0,
                                                SIMVUE_ALERT_RULE_IS_INSIDE_RANGE, NULL, 0, 1,
                                                SIMVUE_AGGREGATION_AVERAGE,
                                                SIMVUE_NOTIFICATION_NONE, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_create_event_alert(NULL, "a", "p", NULL, 1, SIMVUE_NOTIFICATION_NONE, 0, 1,
                                         NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_create_user_alert(NULL, "a", NULL, SIMVUE_NOTIFICATION_NONE, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_log_alert(NULL, "x", NULL, SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_add_alerts(NULL, NULL, 0, NULL, 0));

    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    /* the abort policy: before init and after */
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_abort_on_alert(run, 3));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_abort_on_alert(run, -1));
    EXPECT(SIMVUE_OK, simvue_run_set_abort_on_alert(run, SIMVUE_ABORT_ON_ALERT_TERMINATE));
    /* before init */
    EXPECT(SIMVUE_ERROR_STATE,
           simvue_run_create_user_alert(run, "early", NULL, SIMVUE_NOTIFICATION_NONE, 0, 1, NULL,
                                        0));
    EXPECT(SIMVUE_OK, simvue_run_init(run, "alerts", NULL, NULL, 0, NULL, "/alerts", 1));
    EXPECT(SIMVUE_OK, simvue_run_set_abort_on_alert(run, SIMVUE_ABORT_ON_ALERT_IGNORE));

    /* threshold: rule, aggregation, notification, flags, strings, numbers */
#define TH(name, metric, thr, rule, desc, window, freq, agg, notif, abort_, attach, buf, len)       \
    simvue_run_create_metric_threshold_alert(run, name, metric, thr, rule, desc, window, freq, agg, \
                                             notif, abort_, attach, buf, len)
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_INSIDE_RANGE, NULL,
                                         0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, TH("a", "x", 1.0, 7, NULL, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 4, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, -1, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 2, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 2, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 0, -1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 0, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           TH("a", "x", NAN, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           TH("a b*", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           TH(NULL, "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           TH("a", NULL, 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, BAD, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_BUFFER_TOO_SMALL,
           TH("a", "x", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE, NULL, 0, 1, 0, 0, 0, 1, tiny, sizeof tiny));
    EXPECT(SIMVUE_OK, TH("th", "x", 2.0, SIMVUE_ALERT_RULE_IS_BELOW, "dd", 3, 2,
                         SIMVUE_AGGREGATION_AT_LEAST_ONE, SIMVUE_NOTIFICATION_EMAIL, 1, 0, th,
                         sizeof th));
    CHECK(strncmp(th, "offline_", 8) == 0);
#undef TH
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           simvue_run_create_metric_range_alert(run, "r", "x", 0.0, 1.0, SIMVUE_ALERT_RULE_IS_ABOVE,
                                                NULL, 0, 1, 0, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_create_metric_range_alert(run, "r", "x", 2.0, 1.0,
                                                SIMVUE_ALERT_RULE_IS_INSIDE_RANGE, NULL, 0, 1, 0, 0,
                                                0, 1, NULL, 0));
    EXPECT(SIMVUE_OK, simvue_run_create_metric_range_alert(
                          run, "rg", "x", 1.0, 2.0, SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, NULL, 0, 1,
                          SIMVUE_AGGREGATION_ALL, SIMVUE_NOTIFICATION_NONE, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_create_event_alert(run, "e", NULL, NULL, 1, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_create_event_alert(run, "e", "", NULL, 1, 0, 0, 1, NULL, 0));
    EXPECT(SIMVUE_OK, simvue_run_create_event_alert(run, "ev", "boom", "evd", 1,
                                                    SIMVUE_NOTIFICATION_NONE, 1, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           simvue_run_create_user_alert(run, "u", NULL, 5, 0, 1, NULL, 0));
    EXPECT(SIMVUE_OK, simvue_run_create_user_alert(run, "ua", "user alert",
                                                   SIMVUE_NOTIFICATION_EMAIL, 1, 1, ua, sizeof ua));

    /* log_alert: exactly one of id and name; user alerts only; names are online only */
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_log_alert(run, ua, NULL, 2));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_alert(run, ua, "ua", SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_alert(run, NULL, NULL, SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_log_alert(run, BAD, NULL, SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_UNSUPPORTED,
           simvue_run_log_alert(run, NULL, "ua", SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_alert(run, th, NULL, SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_NOT_FOUND,
           simvue_run_log_alert(run, "offline_nope", NULL, SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_OK, simvue_run_log_alert(run, ua, NULL, SIMVUE_ALERT_STATE_CRITICAL));

    /* add_alerts */
    const char *ids[] = {th};
    const char *names[] = {"th"};
    const char *bad_ids[] = {BAD};
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_add_alerts(run, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_add_alerts(run, NULL, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_add_alerts(run, bad_ids, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNSUPPORTED, simvue_run_add_alerts(run, NULL, 0, names, 1));
    EXPECT(SIMVUE_OK, simvue_run_add_alerts(run, ids, 1, NULL, 0));
    EXPECT(SIMVUE_OK, simvue_run_add_alerts(run, ids, 1, NULL, 0)); /* attached once */

    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_alert(run, ua, NULL, SIMVUE_ALERT_STATE_OK));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_add_alerts(run, ids, 1, NULL, 0));
    EXPECT(SIMVUE_ERROR_CLOSED,
           simvue_run_create_user_alert(run, "late", NULL, SIMVUE_NOTIFICATION_NONE, 0, 1, NULL,
                                        0));
    simvue_run_free(run);

    /* The cache: the user alert's state for the run, the options, four alerts attached once. */
    char path[4096];
    snprintf(path, sizeof path, "%s/alerts/%s.json", cache, ua);
    char *json = read_file(path);
    CHECK(json != NULL && strstr(json, "\"status\": {\n    \"") != NULL &&
          strstr(json, "\": \"critical\"") != NULL && json_has(json, "abort", "true"));
    free(json);
    snprintf(path, sizeof path, "%s/alerts/%s.json", cache, th);
    json = read_file(path);
    CHECK(json != NULL && json_has(json, "aggregation", "\"at least one\"") &&
          json_has(json, "notification", "\"email\"") && json_has(json, "description", "\"dd\""));
    free(json);
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    json = read_file(path);
    CHECK(json != NULL && strstr(json, th) != NULL && strstr(json, ua) != NULL);
    free(json);
}

/* simvue_run_new_ex and simvue_run_init_ex: every bad argument has its code; the options land
 * in the run's cache file as simvue 2.6.2 writes them. */
static void test_init_options(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-init");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    simvue_run *run = NULL;
    const char *users[] = {"alice", "bob"};
    const char *bad_users[] = {"alice", BAD};
    const char *vars[] = {"TEST_API_SHELL_*"};
    setenv("TEST_API_SHELL_X", "x-value", 1);

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_new_ex(SIMVUE_MODE_OFFLINE, NULL, NULL, NULL, NULL));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_new_ex(7, NULL, NULL, NULL, &run));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_new_ex(SIMVUE_MODE_OFFLINE, BAD, NULL, NULL, &run));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_new_ex(SIMVUE_MODE_OFFLINE, NULL, BAD, NULL, &run));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_new_ex(SIMVUE_MODE_OFFLINE, NULL, NULL, BAD, &run));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_init_ex(NULL, "n", NULL, NULL, 0, NULL, NULL, 1, 0, NULL, -1, 0, NULL, 0,
                              NULL, 0));
    /* A profile the (absent) config file does not define: reported by init. */
    EXPECT(SIMVUE_OK, simvue_run_new_ex(SIMVUE_MODE_OFFLINE, NULL, NULL, "nope", &run));
    EXPECT(SIMVUE_ERROR_CONFIG,
           simvue_run_init_ex(run, "n", NULL, NULL, 0, NULL, NULL, 1, 0, NULL, -1, 0, NULL, 0,
                              NULL, 0));
    simvue_run_free(run);

    EXPECT(SIMVUE_OK, simvue_run_new_ex(SIMVUE_MODE_OFFLINE, "http://127.0.0.1:1", "not-a-jwt",
                                        NULL, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
#define INIT(notif, retention, timeout, vis, u, nu, v, nv)                                         \
    simvue_run_init_ex(run, "init-options", NULL, NULL, 0, NULL, "/init", 1, notif, retention,     \
                       timeout, vis, u, nu, v, nv)
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, INIT(4, NULL, -1, 0, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, INIT(-1, NULL, -1, 0, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, INIT(0, "one hour", -1, 0, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, INIT(0, "1 hour 5 min", -1, 0, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, INIT(0, BAD, -1, 0, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, INIT(0, NULL, -2, 0, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, INIT(0, NULL, -1, 4, NULL, 0, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, INIT(0, NULL, -1, SIMVUE_VISIBILITY_PUBLIC, users, 2, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, INIT(0, NULL, -1, SIMVUE_VISIBILITY_USERS, NULL, 2, NULL, 0));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, INIT(0, NULL, -1, SIMVUE_VISIBILITY_USERS, bad_users, 2, NULL, 0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, INIT(0, NULL, -1, 0, NULL, 0, NULL, 1));
    EXPECT(SIMVUE_OK, INIT(SIMVUE_NOTIFY_LOST, "2 days", SIMVUE_NO_TIMEOUT, SIMVUE_VISIBILITY_USERS,
                           users, 2, vars, 1));
#undef INIT
    char id[SIMVUE_ID_BUFFER_SIZE];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    simvue_run_free(run);
    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL && json_has(json, "ttl", "172800") && json_has(json, "heartbeat_timeout", "null") &&
          json_has(json, "state", "\"lost\"") && strstr(json, "\"alice\",\n      \"bob\"") != NULL &&
          json_has(json, "TEST_API_SHELL_X", "\"x-value\""));
    free(json);
    unsetenv("TEST_API_SHELL_X");
}

/* set_metric_units, and metadata on saved files and bytes. */
static void test_units_and_artifact_metadata(void) {
    char cache[2048], deck[2300];
    fresh_path(cache, sizeof cache, "cache-units");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    snprintf(deck, sizeof deck, "%s-deck.in", cache);
    FILE *f = fopen(deck, "w");
    if (f) {
        fputs("nx = 4\n", f);
        fclose(f);
    }
    double nan = NAN, two = 2.0;
    simvue_run *run = NULL;
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metric_units(NULL, "x", "m", NULL, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_save_ex(NULL, deck, SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0, "{}"));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_save_bytes_ex(NULL, "b", "x", 1, SIMVUE_CATEGORY_INPUT, NULL, 0, "{}"));
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    /* units may be set before init */
    EXPECT(SIMVUE_OK, simvue_run_set_metric_units(run, "x", "km", NULL, NULL));
    EXPECT(SIMVUE_OK, simvue_run_init(run, "units", NULL, NULL, 0, NULL, "/units", 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metric_units(run, NULL, "m", NULL, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_metric_units(run, "x", NULL, NULL, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metric_units(run, "a,b", "m", NULL, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_metric_units(run, "x", "m", NULL, &nan));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metric_units(run, "x", BAD, NULL, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_metric_units(run, "x", "m", BAD, NULL));
    EXPECT(SIMVUE_OK, simvue_run_set_metric_units(run, "y", "weird", "m", &two));
    EXPECT(SIMVUE_OK, simvue_run_log_metric(run, "x", 1.0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_save_ex(run, deck, SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0, "[1, 2]"));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_save_ex(run, deck, SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0, "{oops"));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8,
           simvue_run_save_ex(run, deck, SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0, BAD));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_save_bytes_ex(run, "b", "x", 1, SIMVUE_CATEGORY_INPUT, NULL, 0, "3"));
    EXPECT(SIMVUE_OK, simvue_run_save_ex(run, deck, SIMVUE_CATEGORY_INPUT, NULL, 0, "deck.in",
                                         SIMVUE_SAVE_WAIT, "{\"kind\": \"deck\"}"));
    EXPECT(SIMVUE_OK, simvue_run_save_bytes_ex(run, "blob", "xyz", 3, SIMVUE_CATEGORY_OUTPUT, NULL,
                                               SIMVUE_SAVE_WAIT, "{\"kind\": \"blob\"}"));
    char id[SIMVUE_ID_BUFFER_SIZE];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_set_metric_units(run, "z", "m", NULL, NULL));
    EXPECT(SIMVUE_ERROR_CLOSED,
           simvue_run_save_ex(run, deck, SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0, NULL));
    simvue_run_free(run);
    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL && json_has(json, "mks_conversion", "1000.0") &&
          json_has(json, "mks_units", "\"m\"") && json_has(json, "units", "\"weird\""));
    free(json);
    int files = 0;
    CHECK(count_in_json_files(cache, "artifacts", "\"kind\"", &files) == 2);
    unlink(deck);
}

/* assign_metric_to_grid and log_metric_array: bad arguments, and what lands in the cache. */
static void test_grids(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-grids");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    const double ticks[] = {0.0, 0.5, 1.0, 0.0, 1.0};
    const double unordered[] = {0.0, 1.0, 0.5, 0.0, 1.0};
    const double with_nan[] = {0.0, NAN, 1.0, 0.0, 1.0};
    const size_t sizes[] = {3, 2}, empty_axis[] = {3, 0};
    const char *labels[] = {"x", "y"}, *bad_labels[] = {"x", BAD}, *blank[] = {"x", ""};
    const double field[6] = {0, 1, 2, 3, 4, 5};
    const size_t shape[] = {2, 3}, wrong[] = {3, 2}, too_big[] = {50001}, zero[] = {0, 3};
    const size_t four[] = {1, 1, 1, 1};
    simvue_run *run = NULL;
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_assign_metric_to_grid(NULL, "T", NULL, ticks, sizes, 2, labels));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_log_metric_array(NULL, "T", field, shape, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_STATE,
           simvue_run_assign_metric_to_grid(run, "T", NULL, ticks, sizes, 2, labels));
    EXPECT(SIMVUE_OK, simvue_run_init(run, "grids", NULL, NULL, 0, NULL, "/grids", 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, NULL, NULL, ticks, sizes, 2, labels));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, NULL, sizes, 2, labels));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, ticks, NULL, 2, labels));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, ticks, sizes, 2, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8,
           simvue_run_assign_metric_to_grid(run, "T", NULL, ticks, sizes, 2, bad_labels));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, ticks, sizes, 2, blank));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, unordered, sizes, 2, labels));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, with_nan, sizes, 2, labels));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "T", NULL, ticks, empty_axis, 2, labels));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_assign_metric_to_grid(run, "a,b", NULL, ticks, sizes, 2, labels));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, /* no such grid */
           simvue_run_assign_metric_to_grid(run, "T", "nope", NULL, NULL, 0, NULL));
    EXPECT(SIMVUE_OK, simvue_run_assign_metric_to_grid(run, "T", "mesh", ticks, sizes, 2, labels));
    EXPECT(SIMVUE_OK, simvue_run_assign_metric_to_grid(run, "rho", "mesh", NULL, NULL, 0, NULL));

    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           simvue_run_log_metric_array(run, "T", field, shape, 2, 2, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM,
           simvue_run_log_metric_array(run, "T", field, shape, 2, SIMVUE_ROW_MAJOR, 8, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_log_metric_array(run, "T", NULL, shape, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT,
           simvue_run_log_metric_array(run, "T", field, NULL, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, /* the grid is 3 x 2 (x, y): T[2][3] row-major */
           simvue_run_log_metric_array(run, "T", field, wrong, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_metric_array(run, "T", field, shape, 0, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_metric_array(run, "T", field, four, 4, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, /* checked before reading the values */
           simvue_run_log_metric_array(run, "big", field, too_big, 1, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_metric_array(run, "T", field, zero, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_log_metric_array(run, "T", field, shape, 2, SIMVUE_ROW_MAJOR,
                                       SIMVUE_METRICS_STEP, -1, 0.0, NULL));
    EXPECT(SIMVUE_OK,
           simvue_run_log_metric_array(run, "T", field, shape, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_OK, /* the same memory, described Fortran's way */
           simvue_run_log_metric_array(run, "rho", field, wrong, 2, SIMVUE_COLUMN_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_OK, /* a default grid */
           simvue_run_log_metric_array(run, "prof", field, shape + 1, 1, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    EXPECT(SIMVUE_ERROR_CLOSED,
           simvue_run_log_metric_array(run, "T", field, shape, 2, SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    EXPECT(SIMVUE_ERROR_CLOSED,
           simvue_run_assign_metric_to_grid(run, "q", "mesh", NULL, NULL, 0, NULL));
    simvue_run_free(run);
    int files = 0;
    size_t grids = count_in_json_files(cache, "grids", "\"obj_type\": \"Grid\"", &files);
    size_t arrays = count_in_json_files(cache, "grid_metrics", "\"metric\"", &files);
    CHECK(grids == 2 && arrays == 3);
}

/* ------------------------------------------------------------------------------------------ */
/* Signals and abnormal ends (issue 10): bad input to the settings; closing every open run.
 * What a signal does to a run is tested from outside the process (tests/hpc, tests/hpc.rs). */

static void on_signal_cb(int32_t signum, void *user_data) {
    (void)signum;
    (void)user_data;
}

static void test_signals_api(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-signals");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    int32_t sig = 7;

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_signals(NULL, "TERM", 0, 5.0));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_signal_callback(NULL, on_signal_cb, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_signal_received(NULL, &sig));
    CHECK(sig == 7);
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_close_open_runs(42, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_close_open_runs(SIMVUE_STATUS_FAILED, BAD));

    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_signals(run, BAD, SIMVUE_KEEP, -1.0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_signals(run, "TERM,KILL", 0, 5.0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_signals(run, NULL, 2, 5.0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_signals(run, NULL, SIMVUE_KEEP, 0.0));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_signals(run, NULL, SIMVUE_KEEP, NAN));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT,
           simvue_run_set_signals(run, NULL, SIMVUE_KEEP, INFINITY));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_signals(run, NULL, SIMVUE_KEEP, -5.0));
    /* "none": the library leaves every signal to the program. */
    EXPECT(SIMVUE_OK, simvue_run_set_signals(run, "none", SIMVUE_SIGNALS_NOTIFY, 2.5));
    EXPECT(SIMVUE_OK, simvue_run_set_signal_callback(run, on_signal_cb, NULL));
    EXPECT(SIMVUE_OK, simvue_run_set_signal_callback(run, NULL, NULL));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_signal_received(run, NULL));
    EXPECT(SIMVUE_OK, simvue_run_signal_received(run, &sig));
    CHECK(sig == 0);
    EXPECT(SIMVUE_OK, simvue_run_init(run, "abnormal", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_signals(run, "TERM", SIMVUE_KEEP, -1.0));
    EXPECT(SIMVUE_OK, simvue_run_log_metric(run, "x", 1.0));

    /* An abnormal end: every open run is flushed and closed as failed, with the message as an
     * event; the handle then refuses to record more. */
    EXPECT(SIMVUE_OK, simvue_close_open_runs(SIMVUE_STATUS_FAILED, "uncaught exception: boom"));
    EXPECT(SIMVUE_ERROR_CLOSED, simvue_run_log_metric(run, "x", 2.0));
    EXPECT(SIMVUE_OK, simvue_run_close(run)); /* the program's own close finds it closed */
    char id[256];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    simvue_run_free(run);
    EXPECT(SIMVUE_OK, simvue_close_open_runs(SIMVUE_STATUS_TERMINATED, NULL)); /* none open */

    int files = 0;
    CHECK(count_in_json_files(cache, "metrics", "\"step\":", &files) == 1);
    CHECK(count_in_json_files(cache, "events", "uncaught exception: boom", &files) == 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL && json_has(json, "status", "\"failed\""));
    free(json);
}

/* Where the run runs (issue 10): the shell variables asked for and the batch job, recorded at
 * init; a resource sample for a process that holds no run. */
static void test_context_api(void) {
    char cache[2048];
    fresh_path(cache, sizeof cache, "cache-context");
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);
    const char *patterns[] = {"SIMVUE_TEST_SHELL_*", "SLURM_JOB_I?"};
    const char *bad[] = {"ok", BAD};
    const char *empty[] = {""};
    double cpu = -1.0, mem = -1.0;

    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_record_shell_vars(NULL, patterns, 2));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_emission_metrics(NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_quiet(NULL, 1));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_resources_sample(0, NULL, &mem));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_resources_sample(0, &cpu, NULL));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_resources_sample(-1, &cpu, &mem));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_resources_sample(INT64_MAX, &cpu, &mem));
    EXPECT(SIMVUE_ERROR_NOT_FOUND, simvue_resources_sample(2147483646, &cpu, &mem));
    CHECK(cpu == -1.0 && mem == -1.0);
    EXPECT(SIMVUE_OK, simvue_resources_sample(0, &cpu, &mem));
    CHECK(cpu >= 0.0 && mem > 0.0);

    setenv("SIMVUE_TEST_SHELL_A", "alpha", 1);
    setenv("SIMVUE_TEST_SHELL_B", "beta", 1);
    setenv("SLURM_JOB_ID", "4242", 1);
    setenv("SLURM_JOB_NAME", "ctest", 1);
    setenv("SLURM_NTASKS", "8", 1);
    simvue_run *run = NULL;
    EXPECT(SIMVUE_OK, simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    EXPECT(SIMVUE_OK, simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    EXPECT(SIMVUE_ERROR_NULL_ARGUMENT, simvue_run_set_record_shell_vars(run, NULL, 1));
    EXPECT(SIMVUE_ERROR_INVALID_UTF8, simvue_run_set_record_shell_vars(run, bad, 2));
    EXPECT(SIMVUE_ERROR_INVALID_ARGUMENT, simvue_run_set_record_shell_vars(run, empty, 1));
    EXPECT(SIMVUE_OK, simvue_run_set_record_shell_vars(run, patterns, 2));
    /* Emission metrics need resource metrics, which this run has off. */
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_emission_metrics(run, 2));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_emission_metrics(run, 1));
    EXPECT(SIMVUE_OK, simvue_run_set_emission_metrics(run, 0));
    EXPECT(SIMVUE_ERROR_UNKNOWN_ENUM, simvue_run_set_quiet(run, -1));
    EXPECT(SIMVUE_OK, simvue_run_set_quiet(run, 1));
    EXPECT(SIMVUE_OK, simvue_run_init(run, "context", NULL, NULL, 0, NULL, NULL, 1));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_quiet(run, 0));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_emission_metrics(run, 0));
    EXPECT(SIMVUE_ERROR_STATE, simvue_run_set_record_shell_vars(run, patterns, 2));
    char id[256];
    EXPECT(SIMVUE_OK, simvue_run_id(run, id, sizeof id, NULL));
    EXPECT(SIMVUE_OK, simvue_run_close(run));
    simvue_run_free(run);
    unsetenv("SLURM_JOB_ID");
    unsetenv("SLURM_JOB_NAME");
    unsetenv("SLURM_NTASKS");

    char path[4096];
    snprintf(path, sizeof path, "%s/runs/%s.json", cache, id);
    char *json = read_file(path);
    CHECK(json != NULL && json_has(json, "SIMVUE_TEST_SHELL_A", "\"alpha\"") &&
          json_has(json, "SIMVUE_TEST_SHELL_B", "\"beta\"") &&
          json_has(json, "SLURM_JOB_ID", "\"4242\""));
    CHECK(json != NULL && json_has(json, "scheduler", "\"slurm\"") &&
          json_has(json, "id", "\"4242\"") && json_has(json, "name", "\"ctest\"") &&
          json_has(json, "tasks", "8"));
    free(json);
}

/* ------------------------------------------------------------------------------------------ */

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* Isolate the test from the caller's environment and simvue.toml files. */
    clear_simvue_environment();
    if (enter_test_root(tmp_root, sizeof tmp_root, "api") != 0) {
        return 2;
    }

    test_static_functions();
    test_null_handle();
    test_invalid_handle();
    test_freed_handle();
    test_offline_run();
    test_names_rewritten_in_place();
    test_config_errors();
    test_free_without_close();
    test_regressions();
    test_alert_functions();
    test_init_options();
    test_units_and_artifact_metadata();
    test_grids();
    test_signals_api();
    test_context_api();

    if (chdir("/") == 0 && !getenv("SIMVUE_TEST_KEEP")) {
        remove_tree(tmp_root);
    } else {
        printf("files kept in %s\n", tmp_root);
    }
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
