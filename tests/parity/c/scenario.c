/*
 * scenario: the comparison scenario of tests/parity/test_scenario.py through the C API, as
 * tests/parity/py/scenario.py does it through the Python client (online; "deck.in" in the
 * working directory). Output lines: run_id=..., rc_<step>=<code> <message> for every failed
 * call, DONE.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "simvue.h"

#include "report.h"

int main(void) {
    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    step("abort_policy", simvue_run_set_abort_on_alert(run, SIMVUE_ABORT_ON_ALERT_IGNORE));
    const char *tags[] = {"a", "b"}, *shell[] = {"PARITY_SHELL_*"};
    step("init", simvue_run_init_ex(run, "parity", "{\"nx\": 5, \"scheme\": \"ftcs\"}", tags, 2,
                                    "the parity scenario", "/parity/all", 1, SIMVUE_NOTIFY_ERROR,
                                    "2 days", 300, SIMVUE_VISIBILITY_TENANT, NULL, 0, shell, 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);
    step("metadata", simvue_run_update_metadata(run, "{\"dt\": 0.5}"));
    const char *c[] = {"c"}, *all[] = {"a", "b", "c", "d"}, *f[] = {"f"};
    step("update_tags", simvue_run_update_tags(run, c, 1));
    step("set_tags", simvue_run_set_tags(run, all, 4));
    step("folder", simvue_run_set_folder_details(run, NULL, "{\"project\": \"parity\"}", f, 1, "folder"));
    step("threshold", simvue_run_create_metric_threshold_alert(
                          run, "residual-high", "residual", 1.0, SIMVUE_ALERT_RULE_IS_ABOVE,
                          "too high", 2, 2, SIMVUE_AGGREGATION_SUM, SIMVUE_NOTIFICATION_EMAIL, 0, 1,
                          NULL, 0));
    step("range", simvue_run_create_metric_range_alert(
                      run, "t-range", "t_max", 0.0, 100.0, SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, NULL,
                      0, 1, SIMVUE_AGGREGATION_AT_LEAST_ONE, SIMVUE_NOTIFICATION_NONE, 0, 0, NULL, 0));
    step("events", simvue_run_create_event_alert(run, "diverged", "diverged", NULL, 3,
                                                 SIMVUE_NOTIFICATION_NONE, 0, 1, NULL, 0));
    step("user", simvue_run_create_user_alert(run, "manual", "set by the solver",
                                              SIMVUE_NOTIFICATION_NONE, 0, 1, NULL, 0));
    const char *names[] = {"t-range"};
    step("add_alerts", simvue_run_add_alerts(run, NULL, 0, names, 1));
    step("log_alert", simvue_run_log_alert(run, NULL, "manual", SIMVUE_ALERT_STATE_CRITICAL));
    step("units_r", simvue_run_set_metric_units(run, "residual", "1/s", NULL, NULL));
    step("units_t", simvue_run_set_metric_units(run, "t_max", "degC", NULL, NULL));
    const double rod[] = {0.0, 0.25, 0.5, 0.75, 1.0};
    const size_t rod_size[] = {5};
    const char *x[] = {"x"}, *xy[] = {"x", "y"};
    step("grid_rod", simvue_run_assign_metric_to_grid(run, "T", "rod", rod, rod_size, 1, x));
    const double plate_ticks[] = {0.0, 1.0, 2.0, 0.0, 1.0};
    const size_t plate_sizes[] = {3, 2};
    step("grid_plate", simvue_run_assign_metric_to_grid(run, "plate", "plate", plate_ticks,
                                                        plate_sizes, 2, xy));
    for (int n = 0; n < 3; n++) {
        double T[5], tmax = 0.0;
        for (int i = 0; i < 5; i++) {
            T[i] = 100.0 * (1 - fabs(2 * rod[i] - 1)) / (n + 1);
            tmax = T[i] > tmax ? T[i] : tmax;
        }
        double plate[2][3];
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 3; i++)
                plate[j][i] = n + i + 10 * j;
        const char *scalars[] = {"residual", "t_max"};
        const double values[] = {1.0 / (n + 1), tmax};
        step("log", simvue_run_log_metrics_ex(run, scalars, values, 2, SIMVUE_METRICS_STEP, n, 0.0, NULL));
        const size_t n5[] = {5}, s23[] = {2, 3};
        step("log_T", simvue_run_log_metric_array(run, "T", T, n5, 1, SIMVUE_ROW_MAJOR,
                                                  SIMVUE_METRICS_STEP, n, 0.0, NULL));
        step("log_plate", simvue_run_log_metric_array(run, "plate", &plate[0][0], s23, 2,
                                                      SIMVUE_ROW_MAJOR, SIMVUE_METRICS_STEP, n,
                                                      0.0, NULL));
    }
    step("event", simvue_run_log_event(run, "converged", NULL));
    step("event_w", simvue_run_log_event_level(run, "careful", SIMVUE_LOG_WARNING, NULL));
    step("save", simvue_run_save_ex(run, "deck.in", SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0,
                                    "{\"kind\": \"deck\"}"));
    const char summary[] = "{\"ok\": true}";
    step("save_bytes", simvue_run_save_bytes_ex(run, "summary", summary, strlen(summary),
                                                SIMVUE_CATEGORY_OUTPUT, "application/json", 0,
                                                "{\"kind\": \"summary\"}"));
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
