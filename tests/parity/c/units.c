/*
 * units: metric units and artifact metadata, as tests/parity/py/units.py does them through
 * the Python client: set_metric_units for units unyt knows and one it does not (given and
 * not given an MKS unit), log_metrics (which sends them), a second unit later; a file and
 * bytes saved with metadata. The mode comes from SIMVUE_MODE. The file "deck.in" must exist
 * in the working directory.
 *
 * Output lines: run_id=..., rc_<step>=... for a failed call, DONE.
 */
#include <stdio.h>
#include <string.h>

#include "simvue.h"

#include "report.h"

int main(void) {
    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    step("init", simvue_run_init(run, "units", NULL, NULL, 0, NULL, "/parity/units", 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);
    double two = 2.0;
    step("u_x", simvue_run_set_metric_units(run, "x", "km", NULL, NULL));
    step("u_y", simvue_run_set_metric_units(run, "y", "weird", "m", &two));
    step("u_z", simvue_run_set_metric_units(run, "z", "J/kg", NULL, NULL));
    step("u_t", simvue_run_set_metric_units(run, "t", "degC", NULL, NULL));
    step("u_v", simvue_run_set_metric_units(run, "v", "Pa*s", NULL, NULL));
    step("u_n", simvue_run_set_metric_units(run, "n", "nonsense", NULL, NULL));
    step("u_g", simvue_run_set_metric_units(run, "g", "g/cm**3", "kg/m**3", NULL));
    const char *names[] = {"x", "y"};
    const double values[] = {1.0, 2.0};
    step("log", simvue_run_log_metrics(run, names, values, 2));
    step("u_e", simvue_run_set_metric_units(run, "e", "MeV", NULL, NULL));
    step("log2", simvue_run_log_metric(run, "e", 3.0));
    step("save", simvue_run_save_ex(run, "deck.in", SIMVUE_CATEGORY_INPUT, NULL, 0, NULL,
                                    SIMVUE_SAVE_WAIT, "{\"kind\": \"deck\", \"n\": 3}"));
    const char summary[] = "{\"ok\": true}";
    step("save_bytes", simvue_run_save_bytes_ex(run, "summary", summary, strlen(summary),
                                                SIMVUE_CATEGORY_OUTPUT, "application/json",
                                                SIMVUE_SAVE_WAIT, "{\"kind\": \"summary\"}"));
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
