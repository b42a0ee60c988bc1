/*
 * status_order: saves files (in the background) and then ends the run at once, with
 * set_status(failed) then close (argv[1] == "status"), or with close alone ("close"). The
 * files are argv[2..]. Online; the test server makes uploads slow.
 *
 * Output lines: run_id=..., rc_<step>=... for a failed call, DONE.
 */
#include <stdio.h>
#include <string.h>

#include "simvue.h"

#include "report.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        return 2;
    }
    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    step("init", simvue_run_init(run, "status-order", NULL, NULL, 0, NULL, "/parity/order", 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);
    for (int i = 2; i < argc; i++) {
        step("save", simvue_run_save(run, argv[i], SIMVUE_CATEGORY_OUTPUT, NULL, 0, NULL, 0));
    }
    step("log_metric", simvue_run_log_metric(run, "x", 1.0));
    if (strcmp(argv[1], "status") == 0) {
        step("set_status", simvue_run_set_status(run, SIMVUE_STATUS_FAILED));
    }
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
