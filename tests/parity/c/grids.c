/*
 * grids: tensor metrics through the C API, the scenario of tests/parity/py/grids.py and
 * tests/parity/fortran/grids.f90: metric T on a 2-D grid "mesh" (axes x of 3 ticks, y of 2),
 * rho on the same grid, a scalar at T's step, and a 1-D profile on a grid of its own (the
 * default one). The arrays are row-major C arrays, double T[ny][nx]. With argv[1] == "3d"
 * it also logs a 3-D array on a grid of 3 axes. The mode comes from SIMVUE_MODE.
 *
 * Output lines: run_id=..., rc_<step>=<code> <message> for every call that failed, DONE.
 */
#include <stdio.h>
#include <string.h>

#include "simvue.h"

#include "report.h"

int main(int argc, char **argv) {
    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    step("init", simvue_run_init(run, "grids", NULL, NULL, 0, NULL, "/parity/grids", 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);

    const double ticks[] = {0.0, 0.5, 1.0, /* x */ 0.0, 1.0 /* y */};
    const size_t sizes[] = {3, 2};
    const char *labels[] = {"x", "y"};
    step("assign_T", simvue_run_assign_metric_to_grid(run, "T", "mesh", ticks, sizes, 2, labels));
    step("assign_rho", simvue_run_assign_metric_to_grid(run, "rho", "mesh", NULL, NULL, 0, NULL));

    double T[2][3] = {{0.0, 1.0, 2.0}, {3.0, 4.0, 5.0}}; /* T[y][x] */
    double rho[2][3];
    for (int j = 0; j < 2; j++) {
        for (int i = 0; i < 3; i++) {
            rho[j][i] = 2.0 * T[j][i];
        }
    }
    const size_t shape[] = {2, 3};
    step("log_T", simvue_run_log_metric_array(run, "T", &T[0][0], shape, 2, SIMVUE_ROW_MAJOR,
                                              SIMVUE_METRICS_STEP, 0, 0.0, NULL));
    const char *s[] = {"s"};
    const double one[] = {1.0};
    step("log_s", simvue_run_log_metrics_ex(run, s, one, 1, SIMVUE_METRICS_STEP, 0, 0.0, NULL));
    step("log_rho", simvue_run_log_metric_array(run, "rho", &rho[0][0], shape, 2, SIMVUE_ROW_MAJOR,
                                                SIMVUE_METRICS_STEP | SIMVUE_METRICS_TIME, 5, 1.5,
                                                NULL));
    const double prof[] = {1.0, 2.0, 3.0, 4.0};
    const size_t n_prof[] = {4};
    step("log_prof", simvue_run_log_metric_array(run, "prof", prof, n_prof, 1, SIMVUE_ROW_MAJOR,
                                                 SIMVUE_METRICS_STEP, 2, 0.0, NULL));
    if (argc > 1 && strcmp(argv[1], "3d") == 0) {
        double cube[2][3][4]; /* cube[z][y][x] */
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 3; j++)
                for (int i = 0; i < 4; i++)
                    cube[k][j][i] = 100.0 * k + 10.0 * j + i;
        const double t3[] = {0, 1, 2, 3, /* x */ 0, 1, 2, /* y */ 0, 1 /* z */};
        const size_t s3[] = {4, 3, 2};
        const char *l3[] = {"x", "y", "z"};
        step("assign_cube", simvue_run_assign_metric_to_grid(run, "cube", NULL, t3, s3, 3, l3));
        const size_t cube_shape[] = {2, 3, 4};
        step("log_cube", simvue_run_log_metric_array(run, "cube", &cube[0][0][0], cube_shape, 3,
                                                     SIMVUE_ROW_MAJOR, 0, 0, 0.0, NULL));
    }
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
