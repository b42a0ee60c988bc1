/*
 * heat1d: a small explicit finite-difference solver for the 1-D heat equation
 *
 *     du/dt = alpha d2u/dx2,  u(0) = u(1) = 0,  u(x, 0) = 100 sin(pi x)
 *
 * tracked with libsimvue: metadata, tags, per-step metrics, events, alerts, saved files and a
 * final status. The exact solution decays as exp(-alpha pi^2 t), so the error against it is
 * logged too.
 *
 * Saved with the run: the input deck heat1d.in (written here, category input), this source file
 * (code), the final field heat1d_field.csv (output, a snapshot: the copy taken at save time is
 * what gets uploaded, whatever happens to the file later) and a JSON summary from memory
 * (summary.json, output). The path of the source comes from -DHEAT1D_SOURCE="..." (the build
 * sets it), else __FILE__.
 *
 * Usage: heat1d [nx] [steps]
 * The mode comes from SIMVUE_MODE (offline by default here); offline runs go to
 * SIMVUE_OFFLINE_DIRECTORY (or ~/.simvue) for simvue-sender to upload.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvue.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#ifndef HEAT1D_SOURCE
#define HEAT1D_SOURCE __FILE__
#endif

/* Report a failed call and go on: a tracking problem must never stop the solver. */
static void check(simvue_result rc, const char *what) {
    if (rc != SIMVUE_OK) {
        char msg[512];
        simvue_last_error_message(msg, sizeof msg);
        fprintf(stderr, "heat1d: %s failed: %s (%s)\n", what, msg, simvue_result_name(rc));
    }
}

/* Writes `text` to the file `path`; 0 on success. */
static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "heat1d: cannot write %s\n", path);
        return -1;
    }
    int bad = fputs(text, f) == EOF;
    bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "heat1d: cannot write %s\n", path);
    }
    return bad ? -1 : 0;
}

/* Writes the field as CSV ("x,u", then one line per point, 6 decimals); 0 on success. */
static int write_field(const char *path, const double *u, int nx, double dx) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "heat1d: cannot write %s\n", path);
        return -1;
    }
    int bad = fputs("x,u\n", f) == EOF;
    for (int i = 0; i < nx && !bad; i++) {
        bad = fprintf(f, "%.6f,%.6f\n", i * dx, u[i]) < 0;
    }
    bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "heat1d: cannot write %s\n", path);
    }
    return bad ? -1 : 0;
}

/* `x` as a JSON number with 6 decimals (null when it is not finite: JSON has no NaN). */
static void json_number(char *buf, size_t size, double x) {
    if (isfinite(x)) {
        snprintf(buf, size, "%.6f", x);
    } else {
        snprintf(buf, size, "null");
    }
}

int main(int argc, char **argv) {
    int nx = argc > 1 ? atoi(argv[1]) : 64;
    int steps = argc > 2 ? atoi(argv[2]) : 2000;
    const double alpha = 0.01;
    if (nx < 3 || steps < 1) {
        fprintf(stderr, "usage: heat1d [nx >= 3] [steps >= 1]\n");
        return 2;
    }
    const double dx = 1.0 / (nx - 1);
    const double dt = 0.4 * dx * dx / alpha; /* stable: alpha dt / dx^2 = 0.4 < 0.5 */

    double *u = malloc(sizeof(double) * (size_t)nx);
    double *un = malloc(sizeof(double) * (size_t)nx);
    if (!u || !un) {
        return 1;
    }
    for (int i = 0; i < nx; i++) {
        u[i] = 100.0 * sin(M_PI * i * dx);
    }

    /* The input deck this run "reads", written here so that there is one to save. */
    char deck[128];
    snprintf(deck, sizeof deck, "nx = %d\nsteps = %d\nalpha = 0.01\n", nx, steps);
    const int have_deck = write_text("heat1d.in", deck) == 0;

    simvue_run *run = NULL;
    check(simvue_run_new(SIMVUE_MODE_OFFLINE, &run), "simvue_run_new");
    check(simvue_run_config(run, SIMVUE_KEEP, /*queue_blocking=*/1, SIMVUE_KEEP,
                            /*disable_resources_metrics=*/1, SIMVUE_KEEP),
          "simvue_run_config");

    /* Metadata key by key (as from Fortran) and as one JSON object. */
    check(simvue_run_set_metadata_int(run, "nx", nx), "set nx");
    check(simvue_run_set_metadata_double(run, "alpha", alpha), "set alpha");
    check(simvue_run_set_metadata_string(run, "scheme", "ftcs"), "set scheme");
    const char *tags[] = {"heat", "1d"};
    check(simvue_run_init(run, "heat-1d-demo", "{\"dt\": 0.0, \"language\": \"C\"}", tags, 2,
                          "1-D heat equation", "/examples/heat", 1),
          "simvue_run_init");
    check(simvue_run_set_metadata_double(run, "dt", dt), "set dt");

    char name[128];
    char id[128];
    check(simvue_run_name(run, name, sizeof name, NULL), "simvue_run_name");
    check(simvue_run_id(run, id, sizeof id, NULL), "simvue_run_id");
    printf("run %s (%s)\n", name, id);

    /* The input deck and this program's source, named by their base names. */
    if (have_deck) {
        check(simvue_run_save(run, "heat1d.in", SIMVUE_CATEGORY_INPUT, NULL, 0, NULL, 0),
              "save heat1d.in");
    }
    check(simvue_run_save(run, HEAT1D_SOURCE, SIMVUE_CATEGORY_CODE, NULL, 0, NULL, 0),
          "save source");

    check(simvue_run_add_alert(run, "residual-too-high", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                               SIMVUE_ALERT_RULE_IS_ABOVE, "residual", 1.0, 0.0, 0.0,
                               SIMVUE_NOTIFICATION_NONE, NULL, NULL, 0),
          "threshold alert");
    check(simvue_run_add_alert(run, "temp-out-of-range", SIMVUE_ALERT_SOURCE_METRICS, 1, 1,
                               SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE, "t_max", 0.0, 0.0, 100.0,
                               SIMVUE_NOTIFICATION_NONE, NULL, NULL, 0),
          "range alert");
    check(simvue_run_add_alert(run, "diverged", SIMVUE_ALERT_SOURCE_EVENTS, 1, 0, 0, NULL, 0.0,
                               0.0, 0.0, SIMVUE_NOTIFICATION_NONE, "diverged", NULL, 0),
          "events alert");
    check(simvue_run_log_event(run, "starting time loop", NULL), "log_event");

    const char *names[] = {"residual", "t_max", "error"};
    double t = 0.0;
    int diverged = 0;
    for (int n = 0; n < steps; n++) {
        double residual = 0.0;
        double tmax = 0.0;
        un[0] = un[nx - 1] = 0.0;
        for (int i = 1; i < nx - 1; i++) {
            un[i] = u[i] + alpha * dt / (dx * dx) * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
            residual = fmax(residual, fabs(un[i] - u[i]));
            tmax = fmax(tmax, un[i]);
        }
        double *swap = u;
        u = un;
        un = swap;
        t += dt;
        double exact = 100.0 * exp(-alpha * M_PI * M_PI * t);
        double values[3] = {residual, tmax, fabs(tmax - exact)};
        if (n % 10 == 0 || n == steps - 1) {
            check(simvue_run_log_metrics_ex(run, names, values, 3, SIMVUE_METRICS_STEP, n, 0.0,
                                            NULL),
                  "log_metrics");
        }
        if (!isfinite(tmax)) {
            diverged = 1;
            check(simvue_run_log_event(run, "solution diverged", NULL), "log_event");
            break;
        }
    }

    char msg[128];
    snprintf(msg, sizeof msg, "finished %d steps, t = %.4f, u_max = %.6f", steps, t, u[nx / 2]);
    check(simvue_run_log_event(run, msg, NULL), "log_event");

    /* The final field, saved as a snapshot (the file may be rewritten later), and a summary
     * from memory. */
    if (write_field("heat1d_field.csv", u, nx, dx) == 0) {
        check(simvue_run_save(run, "heat1d_field.csv", SIMVUE_CATEGORY_OUTPUT, NULL, 0, NULL,
                              SIMVUE_SAVE_SNAPSHOT),
              "save heat1d_field.csv");
    }
    char t_json[64];
    char u_json[64];
    json_number(t_json, sizeof t_json, t);
    json_number(u_json, sizeof u_json, u[nx / 2]);
    char summary[256];
    snprintf(summary, sizeof summary,
             "{\"nx\": %d, \"steps\": %d, \"t_final\": %s, \"u_max\": %s, \"diverged\": %s}",
             nx, steps, t_json, u_json, diverged ? "true" : "false");
    check(simvue_run_save_bytes(run, "summary.json", summary, strlen(summary),
                                SIMVUE_CATEGORY_OUTPUT, "application/json", 0),
          "save summary.json");
    check(simvue_run_update_metadata(run, "{\"t_final\": 0.0}"), "update_metadata");
    check(simvue_run_set_metadata_double(run, "t_final", t), "set t_final");
    const char *more_tags[] = {"converged"};
    if (!diverged) {
        check(simvue_run_update_tags(run, more_tags, 1), "update_tags");
    }
    check(simvue_run_set_folder_details(run, NULL, "{\"project\": \"demo\"}", (const char *[]){"examples"}, 1,
                                        "Example runs"),
          "set_folder_details");
    check(simvue_run_set_status(run, diverged ? SIMVUE_STATUS_FAILED : SIMVUE_STATUS_COMPLETED),
          "set_status");
    check(simvue_run_close(run), "close");
    simvue_run_free(run);

    printf("u(0.5, %.4f) = %.6f (exact %.6f)\n", t, u[nx / 2],
           100.0 * exp(-alpha * M_PI * M_PI * t));
    free(u);
    free(un);
    return diverged;
}
