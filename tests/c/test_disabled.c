/*
 * test_disabled: a disabled run (SIMVUE_MODE_DISABLED, or SIMVUE_MODE=disabled in the
 * environment overriding the mode the program asks for) accepts a full run with SIMVUE_OK
 * everywhere, writes nothing (the offline directory is never created) and makes no network
 * call (a listening socket the test owns, given as SIMVUE_URL, sees no connection).
 *
 * Prints "N passed, M failed" and exits non-zero when a check failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simvue.h"

#include "check.h"
#include "files.h"


static void expect_ok_(simvue_result got, const char *call, int line) {
    if (got == SIMVUE_OK) {
        n_passed++;
    } else {
        char msg[1024];
        simvue_last_error_message(msg, sizeof msg);
        n_failed++;
        printf("FAIL (line %d): %s\n  returned %s: \"%s\"\n", line, call,
               simvue_result_name((int32_t)got), msg);
    }
}
#define EXPECT_OK(...) expect_ok_((__VA_ARGS__), #__VA_ARGS__, __LINE__)

static int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries in a folder other than . and .. (-1 when it cannot be read). */
static int count_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* A full run: every function of the API with valid arguments. */
static void full_run(int32_t mode) {
    simvue_run *run = NULL;
    EXPECT_OK(simvue_run_new(mode, &run));
    CHECK(run != NULL);
    if (!run) {
        return;
    }
    EXPECT_OK(simvue_run_config(run, 0, 1, 100, 0, 1));
    EXPECT_OK(simvue_run_set_metadata_string(run, "scheme", "ftcs"));
    EXPECT_OK(simvue_run_set_metadata_int(run, "nx", 64));
    EXPECT_OK(simvue_run_set_metadata_double(run, "alpha", 0.01));
    EXPECT_OK(simvue_run_set_metadata_bool(run, "implicit", 0));
    EXPECT_OK(simvue_run_update_metadata(run, "{\"before\": true}"));
    EXPECT_OK(simvue_run_set_signals(run, "TERM,USR1", SIMVUE_SIGNALS_NOTIFY, 5.0));
    EXPECT_OK(simvue_run_set_signal_callback(run, NULL, NULL));
    const char *patterns[] = {"SLURM_*"};
    EXPECT_OK(simvue_run_set_record_shell_vars(run, patterns, 1));
    EXPECT_OK(simvue_run_set_emission_metrics(run, 1));
    EXPECT_OK(simvue_run_set_quiet(run, 7));
    const char *tags[] = {"disabled", "test"};
    EXPECT_OK(simvue_run_init(run, "disabled-run", "{\"nx\": 64}", tags, 2, "nothing recorded",
                              "/tests/disabled", 1));
    EXPECT_OK(simvue_run_set_pid(run, (int64_t)getpid()));
    EXPECT_OK(simvue_run_init_ex(run, NULL, "not json", NULL, 3, NULL, NULL, 9, 9, "never", -9, 9,
                                 NULL, 2, NULL, 1)); /* ignored: already initialised */
    /* No signal handler is installed for a disabled run. */
    struct sigaction current;
    CHECK(sigaction(SIGTERM, NULL, &current) == 0 && current.sa_handler == SIG_DFL);
    int32_t signum = 7;
    EXPECT_OK(simvue_run_signal_received(run, &signum));
    CHECK(signum == 0);

    /* A disabled run's name and id are empty. */
    char buf[64] = "x";
    size_t needed = 12345;
    EXPECT_OK(simvue_run_name(run, buf, sizeof buf, &needed));
    CHECK(buf[0] == '\0' && needed == 0);
    strcpy(buf, "x");
    needed = 12345;
    EXPECT_OK(simvue_run_id(run, buf, sizeof buf, &needed));
    CHECK(buf[0] == '\0' && needed == 0);

    EXPECT_OK(simvue_run_add_alert(run, "too-high", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                   SIMVUE_ALERT_RULE_IS_ABOVE, "residual", 1.0, 0.0, 0.0,
                                   SIMVUE_NOTIFICATION_EMAIL, NULL, NULL, 0));
    EXPECT_OK(simvue_run_add_alert(run, "range", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                                   SIMVUE_ALERT_RULE_IS_INSIDE_RANGE, "t_max", 0.0, 0.0, 1.0,
                                   SIMVUE_NOTIFICATION_NONE, NULL, NULL, 0));
    char alert_id[64];
    EXPECT_OK(simvue_run_add_alert(run, "diverged", SIMVUE_ALERT_SOURCE_EVENTS, 1, 0, 0, NULL,
                                   0.0, 0.0, 0.0, SIMVUE_NOTIFICATION_NONE, "diverged", alert_id,
                                   sizeof alert_id));
    EXPECT_OK(simvue_run_create_metric_threshold_alert(run, "th", "x", 1.0, 99, NULL, 0, 0, 99, 99,
                                                       7, 7, NULL, 0));
    EXPECT_OK(simvue_run_create_metric_range_alert(run, "rg", "x", 2.0, 1.0, 99, NULL, 0, 0, 99,
                                                   99, 7, 7, NULL, 0));
    EXPECT_OK(simvue_run_create_event_alert(run, "ev", NULL, NULL, 0, 99, 7, 7, NULL, 0));
    EXPECT_OK(simvue_run_create_user_alert(run, NULL, NULL, 99, 7, 7, alert_id, sizeof alert_id));
    EXPECT_OK(simvue_run_log_alert(run, NULL, NULL, 99));
    EXPECT_OK(simvue_run_add_alerts(run, NULL, 0, NULL, 0));
    EXPECT_OK(simvue_run_set_tags(run, NULL, 3));
    EXPECT_OK(simvue_run_set_metric_units(run, NULL, NULL, NULL, NULL));
    EXPECT_OK(simvue_run_set_abort_on_alert(run, 42));
    EXPECT_OK(simvue_run_assign_metric_to_grid(run, NULL, NULL, NULL, NULL, 3, NULL));
    EXPECT_OK(simvue_run_log_metric_array(run, NULL, NULL, NULL, 9, 9, 99, -1, NAN, "x"));
    EXPECT_OK(simvue_run_save_ex(run, NULL, 9, NULL, 7, NULL, 99, "not json"));
    EXPECT_OK(simvue_run_save_bytes_ex(run, NULL, NULL, 5, 9, NULL, 99, "not json"));
    EXPECT_OK(simvue_run_log_event(run, "starting", NULL));
    EXPECT_OK(simvue_run_log_event_level(run, "careful", SIMVUE_LOG_WARNING,
                                         "2024-01-01 00:00:00.000001"));

    const char *names[] = {"residual", "t_max"};
    for (int i = 0; i < 50; i++) {
        double v[2] = {1.0 / (i + 1), 100.0 - i};
        EXPECT_OK(simvue_run_log_metrics(run, names, v, 2));
        EXPECT_OK(simvue_run_log_metric(run, "residual", v[0]));
        EXPECT_OK(simvue_run_log_metrics_ex(run, names, v, 2,
                                            SIMVUE_METRICS_STEP | SIMVUE_METRICS_TIME, i,
                                            0.1 * i, "2024-01-01T00:00:00"));
    }
    double nan_value[1] = {NAN};
    EXPECT_OK(simvue_run_log_metrics(run, names, nan_value, 1));
    EXPECT_OK(simvue_run_update_metadata(run, "{\"t_final\": 1.5}"));
    EXPECT_OK(simvue_run_set_metadata_double(run, "dt", 0.001));
    const char *more[] = {"converged"};
    EXPECT_OK(simvue_run_update_tags(run, more, 1));
    EXPECT_OK(simvue_run_set_folder_details(run, NULL, "{\"project\": \"demo\"}", more, 1,
                                            "folder"));
    EXPECT_OK(simvue_run_set_folder_details(run, "/elsewhere", NULL, NULL, 0, NULL));
    uint64_t dm = 7, de = 7;
    EXPECT_OK(simvue_run_dropped(run, &dm, &de));
    CHECK(dm == 0 && de == 0);
    dm = de = 7;
    EXPECT_OK(simvue_run_lost_items(run, &dm, &de));
    CHECK(dm == 0 && de == 0);
    int32_t flag = 7;
    EXPECT_OK(simvue_run_suppress_errors(run, &flag));
    CHECK(flag == 0 || flag == 1);
    /* Disabled means every call succeeds without looking at its arguments. */
    EXPECT_OK(simvue_run_set_status(run, 9));
    EXPECT_OK(simvue_run_config(run, 2, 2, -5, 2, -5));
    EXPECT_OK(simvue_run_set_pid(run, -5));
    EXPECT_OK(simvue_run_set_signals(run, "KILL", 9, -7.0));
    EXPECT_OK(simvue_run_name(run, NULL, 0, NULL));
    EXPECT_OK(simvue_run_log_event_level(run, "x", 42, NULL));
    EXPECT_OK(simvue_run_set_metadata_double(run, "nan", NAN));
    EXPECT_OK(simvue_run_set_status(run, SIMVUE_STATUS_COMPLETED));
    EXPECT_OK(simvue_run_close(run));
    simvue_run_free(run);

    /* A disabled run that is created and reconnected, and one freed without close. */
    run = NULL;
    EXPECT_OK(simvue_run_new(mode, &run));
    EXPECT_OK(simvue_run_init(run, NULL, NULL, NULL, 0, NULL, NULL, 0));
    simvue_run_free(run);
    run = NULL;
    EXPECT_OK(simvue_run_new(mode, &run));
    EXPECT_OK(simvue_run_reconnect(run, "offline_0123"));
    EXPECT_OK(simvue_run_log_metric(run, "x", 1.0));
    simvue_run_free(run);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    unsetenv("SIMVUE_MODE");
    unsetenv("SIMVUE_SERVER_PROFILE");

    char root[1024];
    if (enter_test_root(root, sizeof root, "disabled") != 0) {
        return 2;
    }
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/cache-never-created", root);
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache, 1);

    /* A server that must never be called: a listening socket on a free port. */
    int server = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(server >= 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t addr_len = sizeof addr;
    int listening = server >= 0 && bind(server, (struct sockaddr *)&addr, sizeof addr) == 0 &&
                    listen(server, 16) == 0 &&
                    getsockname(server, (struct sockaddr *)&addr, &addr_len) == 0 &&
                    fcntl(server, F_SETFL, fcntl(server, F_GETFL) | O_NONBLOCK) == 0;
    CHECK(listening);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    setenv("SIMVUE_URL", url, 1);
    setenv("SIMVUE_TOKEN", "dummy-token-for-test_disabled", 1);

    /* 1. The mode the program asks for. */
    full_run(SIMVUE_MODE_DISABLED);
    CHECK(!path_exists(cache));

    /* 2. SIMVUE_MODE=disabled overrides offline and online. */
    setenv("SIMVUE_MODE", "disabled", 1);
    full_run(SIMVUE_MODE_OFFLINE);
    CHECK(!path_exists(cache));
    full_run(SIMVUE_MODE_ONLINE);
    CHECK(!path_exists(cache));
    setenv("SIMVUE_MODE", " Disabled ", 1); /* trimmed, any case */
    full_run(SIMVUE_MODE_OFFLINE);
    unsetenv("SIMVUE_MODE");

    /* Nothing was written at all: not the cache, not ~/.simvue, not the working folder. */
    CHECK(!path_exists(cache));
    CHECK(count_entries(root) == 0);

    /* No connection was attempted. */
    if (listening) {
        int c = accept(server, NULL, NULL);
        int err = errno;
        CHECK(c < 0 && (err == EAGAIN || err == EWOULDBLOCK));
        if (c >= 0) {
            printf("  a disabled run connected to %s\n", url);
            close(c);
        }
        /* The probe itself works: a real connection is seen. */
        int client = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(client >= 0 && connect(client, (struct sockaddr *)&addr, sizeof addr) == 0);
        struct pollfd p = {server, POLLIN, 0};
        CHECK(poll(&p, 1, 5000) == 1);
        c = accept(server, NULL, NULL);
        CHECK(c >= 0);
        if (c >= 0) {
            close(c);
        }
        if (client >= 0) {
            close(client);
        }
    }
    if (server >= 0) {
        close(server);
    }

    if (chdir("/") == 0) {
        rmdir(root);
    }
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
