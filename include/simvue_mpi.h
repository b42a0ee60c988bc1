/* libsimvue: optional MPI helpers, header-only (static inline), so that libsimvue itself never
 * links MPI. Include it in a program compiled against MPI (mpicc, or CMake's MPI::MPI_C).
 *
 * One rank (rank 0 of the communicator) owns the run; the others hold no run at all. Each step,
 * every rank calls simvue_mpi_log_reduced() with its own values of some metrics; rank 0 logs
 * their minimum, maximum, mean and sum over the ranks. simvue_mpi_record_context() records the
 * job's size in rank 0's run, and simvue_mpi_log_resources() the CPU and memory used by every
 * rank, so that a many-rank job's footprint shows, not only rank 0's. */
#ifndef SIMVUE_MPI_H
#define SIMVUE_MPI_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvue.h"

/** Number of metrics simvue_mpi_log_reduced() logs per name: `.min`, `.max`, `.mean`, `.sum`. */
#define SIMVUE_MPI_STATISTICS 4

/**
 * Collective over `comm`: every rank passes its values of the `n` metrics `names` (the same
 * names, in the same order, on every rank). Rank 0 of `comm` logs, as one set of metrics, for
 * each name `<name>.min`, `<name>.max`, `<name>.mean` and `<name>.sum` of the values over the
 * ranks, at `step` (>= 0; a negative step means the run's automatic step). The other ranks log
 * nothing, write nothing, and may pass `run` = NULL.
 *
 * Returns on rank 0 what simvue_run_log_metrics_ex() returns; on the other ranks SIMVUE_OK.
 * A failed reduction (only possible when `comm` does not abort on errors) or a failed memory
 * allocation returns SIMVUE_ERROR_IO; no last-error message is set for those.
 */
static inline simvue_result simvue_mpi_log_reduced(simvue_run *run, MPI_Comm comm,
                                                   const char *const *names,
                                                   const double *values, size_t n,
                                                   int64_t step) {
    static const char *const suffix[SIMVUE_MPI_STATISTICS] = {".min", ".max", ".mean", ".sum"};
    int rank = 0;
    int size = 1;
    size_t i;
    size_t k;
    size_t chars = 0;
    double *send;
    double *recv;
    char *text = NULL;
    const char **all_names = NULL;
    double *all_values = NULL;
    simvue_result rc = SIMVUE_OK;

    if (n == 0) {
        return SIMVUE_OK;
    }
    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS) {
        return SIMVUE_ERROR_IO;
    }
    /* One MAX reduction of (v, -v) gives the maximum and minus the minimum; one SUM the sum. */
    send = (double *)malloc(sizeof(double) * 3 * n);
    recv = (double *)malloc(sizeof(double) * 3 * n);
    if (send == NULL || recv == NULL) {
        free(send);
        free(recv);
        return SIMVUE_ERROR_IO;
    }
    for (i = 0; i < n; i++) {
        send[i] = values[i];
        send[n + i] = -values[i];
        send[2 * n + i] = values[i];
    }
    if (MPI_Reduce(send, recv, (int)(2 * n), MPI_DOUBLE, MPI_MAX, 0, comm) != MPI_SUCCESS ||
        MPI_Reduce(send + 2 * n, recv + 2 * n, (int)n, MPI_DOUBLE, MPI_SUM, 0, comm) !=
            MPI_SUCCESS) {
        rc = SIMVUE_ERROR_IO;
    }
    if (rank != 0 || rc != SIMVUE_OK) {
        free(send);
        free(recv);
        return rc;
    }

    for (i = 0; i < n; i++) {
        chars += SIMVUE_MPI_STATISTICS * (strlen(names[i]) + 6);
    }
    text = (char *)malloc(chars);
    all_names = (const char **)malloc(sizeof(char *) * SIMVUE_MPI_STATISTICS * n);
    all_values = (double *)malloc(sizeof(double) * SIMVUE_MPI_STATISTICS * n);
    if (text == NULL || all_names == NULL || all_values == NULL) {
        rc = SIMVUE_ERROR_IO;
    } else {
        char *p = text;
        for (i = 0; i < n; i++) {
            const double stats[SIMVUE_MPI_STATISTICS] = {-recv[n + i], recv[i],
                                                         recv[2 * n + i] / size, recv[2 * n + i]};
            size_t len = strlen(names[i]);
            for (k = 0; k < SIMVUE_MPI_STATISTICS; k++) {
                size_t j = SIMVUE_MPI_STATISTICS * i + k;
                all_names[j] = p;
                all_values[j] = stats[k];
                memcpy(p, names[i], len);
                strcpy(p + len, suffix[k]);
                p += len + strlen(suffix[k]) + 1;
            }
        }
        rc = simvue_run_log_metrics_ex(run, all_names, all_values, SIMVUE_MPI_STATISTICS * n,
                                       step >= 0 ? SIMVUE_METRICS_STEP : 0, step, 0.0, NULL);
    }
    free(text);
    free((void *)all_names);
    free(all_values);
    free(send);
    free(recv);
    return rc;
}

/** Names of the metrics simvue_mpi_log_resources() logs. */
#define SIMVUE_MPI_RESOURCES_CPU_SUM "resources/ranks.cpu.usage.percentage.sum"
#define SIMVUE_MPI_RESOURCES_CPU_MAX "resources/ranks.cpu.usage.percentage.max"
#define SIMVUE_MPI_RESOURCES_MEMORY_SUM "resources/ranks.cpu.usage.memory.sum"
#define SIMVUE_MPI_RESOURCES_MEMORY_MAX "resources/ranks.cpu.usage.memory.max"

/**
 * Collective over `comm`: rank 0 adds to its run's metadata (before or after init)
 * `"mpi": {"ranks": <size of comm>, "hosts": <nodes the ranks run on>, "version": "<MPI
 * standard version>"}`; hosts are counted as the shared-memory groups of MPI_Comm_split_type.
 * The other ranks may pass `run` = NULL.
 *
 * Returns on rank 0 what simvue_run_update_metadata() returns; on the other ranks SIMVUE_OK;
 * SIMVUE_ERROR_IO when an MPI call fails (no last-error message is set for that).
 */
static inline simvue_result simvue_mpi_record_context(simvue_run *run, MPI_Comm comm) {
    int rank = 0;
    int size = 1;
    int node_rank = 0;
    int leader;
    int hosts = 0;
    int version = 0;
    int subversion = 0;
    char json[160];
    MPI_Comm node;

    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS ||
        MPI_Get_version(&version, &subversion) != MPI_SUCCESS ||
        MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) !=
            MPI_SUCCESS) {
        return SIMVUE_ERROR_IO;
    }
    if (MPI_Comm_rank(node, &node_rank) != MPI_SUCCESS) {
        MPI_Comm_free(&node);
        return SIMVUE_ERROR_IO;
    }
    MPI_Comm_free(&node);
    leader = node_rank == 0;
    if (MPI_Reduce(&leader, &hosts, 1, MPI_INT, MPI_SUM, 0, comm) != MPI_SUCCESS) {
        return SIMVUE_ERROR_IO;
    }
    if (rank != 0) {
        return SIMVUE_OK;
    }
    snprintf(json, sizeof json,
             "{\"mpi\": {\"ranks\": %d, \"hosts\": %d, \"version\": \"%d.%d\"}}", size,
             hosts, version, subversion);
    return simvue_run_update_metadata(run, json);
}

/**
 * Collective over `comm`: every rank samples its own process and its children
 * (simvue_resources_sample: CPU percent since its previous call, resident memory in MiB), and
 * rank 0 logs, as one set of metrics at `step` (>= 0; negative: the run's automatic step), the
 * sum and the maximum over the ranks: SIMVUE_MPI_RESOURCES_CPU_SUM, _CPU_MAX, _MEMORY_SUM,
 * _MEMORY_MAX. Rank 0's own process is in its run's resource metrics as usual. Each call reads
 * /proc on every rank: call it every few steps (or every few seconds of solver time), not in
 * the innermost loop. The other ranks may pass `run` = NULL.
 *
 * Returns on rank 0 what simvue_run_log_metrics_ex() returns; on the other ranks SIMVUE_OK (a
 * rank that cannot sample itself contributes zeros); SIMVUE_ERROR_IO when a reduction fails.
 */
static inline simvue_result simvue_mpi_log_resources(simvue_run *run, MPI_Comm comm,
                                                     int64_t step) {
    static const char *const names[4] = {
        SIMVUE_MPI_RESOURCES_CPU_SUM, SIMVUE_MPI_RESOURCES_CPU_MAX,
        SIMVUE_MPI_RESOURCES_MEMORY_SUM, SIMVUE_MPI_RESOURCES_MEMORY_MAX};
    int rank = 0;
    double local[2] = {0.0, 0.0};
    double sum[2] = {0.0, 0.0};
    double max[2] = {0.0, 0.0};
    double values[4];

    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS) {
        return SIMVUE_ERROR_IO;
    }
    if (simvue_resources_sample(0, &local[0], &local[1]) != SIMVUE_OK) {
        local[0] = 0.0;
        local[1] = 0.0;
    }
    if (MPI_Reduce(local, sum, 2, MPI_DOUBLE, MPI_SUM, 0, comm) != MPI_SUCCESS ||
        MPI_Reduce(local, max, 2, MPI_DOUBLE, MPI_MAX, 0, comm) != MPI_SUCCESS) {
        return SIMVUE_ERROR_IO;
    }
    if (rank != 0) {
        return SIMVUE_OK;
    }
    values[0] = sum[0];
    values[1] = max[0];
    values[2] = sum[1];
    values[3] = max[1];
    return simvue_run_log_metrics_ex(run, names, values, 4, step >= 0 ? SIMVUE_METRICS_STEP : 0,
                                     step, 0.0, NULL);
}

#endif /* SIMVUE_MPI_H */
