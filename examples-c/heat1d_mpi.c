/*
 * heat1d_mpi: the solver of heat1d.c with the rod split between MPI ranks (halo exchange with
 * the neighbours each step), tracked by rank 0 only.
 *
 * Rank 0 owns the run. Each rank computes its own residual and maximum temperature; the
 * optional helper simvue_mpi_log_reduced() (simvue_mpi.h, header-only) reduces them over the
 * ranks and rank 0 logs residual.{min,max,mean,sum} and t_max.{min,max,mean,sum}. The other
 * ranks hold no run and write nothing. residual.max and t_max.max are the serial solver's
 * residual and t_max, bit for bit (the same arithmetic on the same points).
 * simvue_mpi_record_context() records the job's size in the run's metadata (`mpi`), and every
 * 100 steps simvue_mpi_log_resources() logs the CPU and memory of all ranks (sum and maximum).
 *
 * Usage: mpirun -np 4 heat1d_mpi [nx] [steps]
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "simvue.h"
#include "simvue_mpi.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static void check(simvue_result rc, const char *what) {
    if (rc != SIMVUE_OK) {
        char msg[512];
        simvue_last_error_message(msg, sizeof msg);
        fprintf(stderr, "heat1d_mpi: %s failed: %s (%s)\n", what, msg, simvue_result_name(rc));
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0;
    int size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int nx = argc > 1 ? atoi(argv[1]) : 64;
    int steps = argc > 2 ? atoi(argv[2]) : 2000;
    const double alpha = 0.01;
    if (nx < size + 2 || steps < 1) {
        if (rank == 0) {
            fprintf(stderr, "usage: heat1d_mpi [nx >= ranks + 2] [steps >= 1]\n");
        }
        MPI_Finalize();
        return 2;
    }
    const double dx = 1.0 / (nx - 1);
    const double dt = 0.4 * dx * dx / alpha;

    /* This rank's points [lo, hi) of the global 0..nx-1, stored at 1..m with halos 0 and m+1. */
    int lo = (int)((long)nx * rank / size);
    int hi = (int)((long)nx * (rank + 1) / size);
    int m = hi - lo;
    double *u = calloc((size_t)m + 2, sizeof(double));
    double *un = calloc((size_t)m + 2, sizeof(double));
    if (!u || !un) {
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int j = 1; j <= m; j++) {
        u[j] = 100.0 * sin(M_PI * (lo + j - 1) * dx);
    }
    int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    int right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;

    simvue_run *run = NULL;
    if (rank == 0) {
        check(simvue_run_new(SIMVUE_MODE_OFFLINE, &run), "simvue_run_new");
        check(simvue_run_config(run, SIMVUE_KEEP, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP), "config");
        check(simvue_run_set_metadata_int(run, "nx", nx), "set nx");
        check(simvue_run_set_metadata_int(run, "ranks", size), "set ranks");
        check(simvue_run_set_metadata_double(run, "alpha", alpha), "set alpha");
        const char *tags[] = {"heat", "1d", "mpi"};
        check(simvue_run_init(run, "heat-1d-mpi", "{\"language\": \"C\"}", tags, 3,
                              "1-D heat equation, MPI", "/examples/heat", 1),
              "simvue_run_init");
        check(simvue_run_log_event(run, "starting time loop", NULL), "log_event");
    }
    /* Collective: rank 0 records the job's size (ranks, hosts) in its run. */
    check(simvue_mpi_record_context(run, MPI_COMM_WORLD), "record_context");

    const char *names[] = {"residual", "t_max"};
    double t = 0.0;
    for (int n = 0; n < steps; n++) {
        MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[m + 1], 1, MPI_DOUBLE, right, 0,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Sendrecv(&u[m], 1, MPI_DOUBLE, right, 1, &u[0], 1, MPI_DOUBLE, left, 1,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        double residual = 0.0;
        double tmax = 0.0;
        for (int j = 1; j <= m; j++) {
            int i = lo + j - 1;
            if (i == 0 || i == nx - 1) {
                un[j] = 0.0;
                continue;
            }
            un[j] = u[j] + alpha * dt / (dx * dx) * (u[j + 1] - 2.0 * u[j] + u[j - 1]);
            residual = fmax(residual, fabs(un[j] - u[j]));
            tmax = fmax(tmax, un[j]);
        }
        double *swap = u;
        u = un;
        un = swap;
        t += dt;
        if (n % 10 == 0 || n == steps - 1) {
            double values[2] = {residual, tmax};
            /* Collective: every rank calls it; only rank 0 logs. */
            check(simvue_mpi_log_reduced(run, MPI_COMM_WORLD, names, values, 2, n),
                  "log_reduced");
        }
        if (n % 100 == 0) {
            /* Collective: the CPU and memory of every rank, summed and maximised on rank 0. */
            check(simvue_mpi_log_resources(run, MPI_COMM_WORLD, n), "log_resources");
        }
    }

    if (rank == 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "finished %d steps on %d ranks, t = %.4f", steps, size, t);
        check(simvue_run_log_event(run, msg, NULL), "log_event");
        check(simvue_run_set_status(run, SIMVUE_STATUS_COMPLETED), "set_status");
        check(simvue_run_close(run), "close");
        simvue_run_free(run);
        printf("%d ranks, t = %.4f\n", size, t);
    }
    free(u);
    free(un);
    MPI_Finalize();
    return 0;
}
