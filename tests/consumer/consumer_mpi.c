/* The installed header-only MPI helper compiles and links (rank 0 would own the run). */
#include <simvue.h>
#include <simvue_mpi.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    simvue_run *run = NULL;
    if (rank == 0) {
        simvue_run_new(SIMVUE_MODE_DISABLED, &run);
    }
    const char *names[] = {"x"};
    double values[] = {(double)rank};
    simvue_result rc = simvue_mpi_log_reduced(run, MPI_COMM_WORLD, names, values, 1, -1);
    simvue_run_free(run);
    MPI_Finalize();
    return rc == SIMVUE_OK ? 0 : 1;
}
