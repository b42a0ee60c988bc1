/*
 * tensors: a run with tensor metrics in many small batches, for tests/sender (simvue send
 * uploading grids and arrays, also when it is killed and run again). Each of N steps logs a
 * scalar "s" and an array "T" on the 2-D grid "mesh" (axes x of 3 ticks, y of 2); every third
 * step also an array "prof" on a 1-D grid of its own (the default one). The values encode the
 * step, so that every array is told apart on the server.
 *
 * Usage: tensors NAME N [QUEUE_SIZE]   (the mode comes from SIMVUE_MODE)
 * Output lines: run_id=..., rc_<what>=<code> <message> for every call that failed, DONE.
 */
#include <stdio.h>
#include <stdlib.h>

#include "simvue.h"

#include "report.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tensors NAME N [QUEUE_SIZE]\n");
        return 2;
    }
    const char *name = argv[1];
    long n = atol(argv[2]);
    long queue_size = argc > 3 ? atol(argv[3]) : SIMVUE_KEEP;

    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    step("config", simvue_run_config(run, 0, /*queue_blocking=*/1, queue_size,
                                      /*disable_resources=*/1, SIMVUE_KEEP));
    step("init", simvue_run_init(run, name, NULL, NULL, 0, "tensor metrics", "/sender/tensors", 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);

    const double ticks[] = {0.0, 0.5, 1.0, /* x */ 0.0, 1.0 /* y */};
    const size_t sizes[] = {3, 2};
    const char *labels[] = {"x", "y"};
    step("assign_T", simvue_run_assign_metric_to_grid(run, "T", "mesh", ticks, sizes, 2, labels));

    const char *s[] = {"s"};
    const size_t shape[] = {2, 3};
    const size_t n_prof[] = {4};
    for (long k = 0; k < n && failures == 0; k++) {
        double T[2][3]; /* T[y][x] = 1000 k + 10 y + x */
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 3; i++)
                T[j][i] = 1000.0 * (double)k + 10.0 * j + i;
        double v[] = {(double)k};
        step("log_s", simvue_run_log_metrics_ex(run, s, v, 1, SIMVUE_METRICS_STEP, k, 0.0, NULL));
        step("log_T", simvue_run_log_metric_array(run, "T", &T[0][0], shape, 2, SIMVUE_ROW_MAJOR,
                                                   SIMVUE_METRICS_STEP, k, 0.0, NULL));
        if (k % 3 == 0) {
            const double prof[] = {(double)k, k + 0.25, k + 0.5, k + 0.75};
            step("log_prof", simvue_run_log_metric_array(run, "prof", prof, n_prof, 1,
                                                          SIMVUE_ROW_MAJOR, SIMVUE_METRICS_STEP, k,
                                                          0.0, NULL));
        }
    }
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
