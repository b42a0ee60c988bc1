/*
 * init_options: the init scenario of tests/parity/py/init_options.py through the C API:
 * notification, retention_period, timeout, visibility (a list of users) and record_shell_vars,
 * on a run that names its server itself. Arguments: `env` (the server from the environment or
 * config file), `args URL TOKEN` (simvue_run_new_ex with the URL and token) or `profile NAME`
 * (simvue_run_new_ex with a profile of simvue.toml). The mode comes from SIMVUE_MODE (online
 * when unset).
 *
 * Output lines: run_id=..., rc_<step>=<code name> <message> for every call that failed, DONE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvue.h"

#include "report.h"

int main(int argc, char **argv) {
    const char *url = NULL, *token = NULL, *profile = NULL;
    if (argc >= 4 && strcmp(argv[1], "args") == 0) {
        url = argv[2];
        token = argv[3];
    } else if (argc >= 3 && strcmp(argv[1], "profile") == 0) {
        profile = argv[2];
    }
    const char *mode = getenv("SIMVUE_MODE");
    int32_t m = mode && strcmp(mode, "offline") == 0 ? SIMVUE_MODE_OFFLINE : SIMVUE_MODE_ONLINE;
    simvue_run *run = NULL;
    step("new", simvue_run_new_ex(m, url, token, profile, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    const char *tags[] = {"init"};
    const char *users[] = {"alice", "bob"};
    const char *shell[] = {"PARITY_SHELL_*"};
    step("init", simvue_run_init_ex(run, "init-options", "{\"k\": 1}", tags, 1, "described",
                                    "/parity/init", 1, SIMVUE_NOTIFY_ALL, "1 hour", 120,
                                    SIMVUE_VISIBILITY_USERS, users, 2, shell, 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);
    step("log_metric", simvue_run_log_metric(run, "x", 1.0));
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
