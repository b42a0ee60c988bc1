/*
 * alerts: the alert scenario of tests/parity/py/alerts.py through the C API: every kind of
 * alert with options other than the defaults, a user alert's state by id (and online by name),
 * and existing alerts attached by id (offline) or by name (online). The mode comes from
 * SIMVUE_MODE.
 *
 * Output lines: run_id=..., th=..., rg=..., ev=..., ua=... (alert ids), rc_<step>=<code name>
 * for every call that failed, DONE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvue.h"

#include "report.h"

int main(void) {
    const char *mode = getenv("SIMVUE_MODE");
    int online = mode != NULL && strcmp(mode, "online") == 0;
    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_OFFLINE, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    const char *tags[] = {"a"};
    step("init", simvue_run_init(run, "alerts", NULL, tags, 1, NULL, "/parity/alerts", 1));
    char id[SIMVUE_ID_BUFFER_SIZE], th[SIMVUE_ID_BUFFER_SIZE], rg[SIMVUE_ID_BUFFER_SIZE],
        ev[SIMVUE_ID_BUFFER_SIZE], ua[SIMVUE_ID_BUFFER_SIZE];
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);

    step("th", simvue_run_create_metric_threshold_alert(
                   run, "th", "x", 2.0, SIMVUE_ALERT_RULE_IS_BELOW, "dd", 3, 2,
                   SIMVUE_AGGREGATION_AT_LEAST_ONE, SIMVUE_NOTIFICATION_EMAIL, 1, 0, th, sizeof th));
    step("rg", simvue_run_create_metric_range_alert(
                   run, "rg", "x", 1.0, 2.0, SIMVUE_ALERT_RULE_IS_INSIDE_RANGE, NULL, 0, 1,
                   SIMVUE_AGGREGATION_SUM, SIMVUE_NOTIFICATION_NONE, 1, 1, rg, sizeof rg));
    step("ev", simvue_run_create_event_alert(run, "ev", "boom", "evd", 1, SIMVUE_NOTIFICATION_NONE,
                                             1, 1, ev, sizeof ev));
    step("ua", simvue_run_create_user_alert(run, "ua", "user alert", SIMVUE_NOTIFICATION_EMAIL, 1,
                                            1, ua, sizeof ua));
    printf("th=%s\nrg=%s\nev=%s\nua=%s\n", th, rg, ev, ua);
    step("log_alert_id", simvue_run_log_alert(run, ua, NULL, SIMVUE_ALERT_STATE_CRITICAL));
    if (online) {
        step("log_alert_name", simvue_run_log_alert(run, NULL, "ua", SIMVUE_ALERT_STATE_OK));
        const char *names[] = {"th"};
        step("add_alerts_name", simvue_run_add_alerts(run, NULL, 0, names, 1));
    } else {
        const char *ids[] = {th};
        step("add_alerts_id", simvue_run_add_alerts(run, ids, 1, NULL, 0));
    }
    step("log_metric", simvue_run_log_metric(run, "x", 1.0));
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
