/*
 * fake_nvml: a stand-in for libnvidia-ml.so.1 with the few NVML functions libsimvue uses, so
 * that the GPU metrics are tested on machines without a GPU (tests/hpc/test_gpu.py builds it as
 * libnvidia-ml.so.1 and puts it on LD_LIBRARY_PATH).
 *
 * FAKE_NVML_GPUS devices (default 2). Device i runs 100 processes of others (pids 4000000 +
 * k, so that a caller's first buffer is too small) and, when i is listed in FAKE_NVML_USED
 * (default "0"), the process that loaded the library. Utilisation 40 + i percent; memory
 * (4 + i) GiB used of 16 GiB; a constant 250 W, so the energy counter grows by 250 J a
 * second from the first call. Every nvmlInit is counted in the file FAKE_NVML_LOG, if set.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;
typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;
typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define OTHERS 100

struct fake_device {
    unsigned int index;
};
static struct fake_device devices[64];
static double started = -1.0;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned int count(void) {
    const char *v = getenv("FAKE_NVML_GPUS");
    int n = v ? atoi(v) : 2;
    return n < 0 ? 0 : (n > 64 ? 64 : (unsigned int)n);
}

static int used(unsigned int index) {
    const char *v = getenv("FAKE_NVML_USED");
    char digit[16];
    snprintf(digit, sizeof digit, "%u", index);
    if (!v) {
        return index == 0;
    }
    char list[256];
    snprintf(list, sizeof list, ",%s,", v);
    char needle[20];
    snprintf(needle, sizeof needle, ",%s,", digit);
    return strstr(list, needle) != NULL;
}

nvmlReturn_t nvmlInit_v2(void) {
    const char *log = getenv("FAKE_NVML_LOG");
    if (log) {
        FILE *f = fopen(log, "a");
        if (f) {
            fputs("init\n", f);
            fclose(f);
        }
    }
    if (started < 0) {
        started = now();
    }
    for (unsigned int i = 0; i < 64; i++) {
        devices[i].index = i;
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) { return NVML_SUCCESS; }

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
    *n = count();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index >= count()) {
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    *device = &devices[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    snprintf(name, length, "NVIDIA Fake A100 #%u", device->index);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    snprintf(version, length, "999.99.01");
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *u) {
    u->gpu = 40 + device->index;
    u->memory = 10;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *m) {
    const unsigned long long gib = 1024ULL * 1024ULL * 1024ULL;
    m->total = 16 * gib;
    m->used = (4 + device->index) * gib;
    m->free = m->total - m->used;
    return NVML_SUCCESS;
}

static nvmlReturn_t processes(nvmlDevice_t device, unsigned int *n, nvmlProcessInfo_t *infos,
                              int graphics) {
    unsigned int total = graphics ? 0 : OTHERS;
    int mine = used(device->index) && !graphics;
    total += mine ? 1 : 0;
    if (*n < total) {
        *n = total;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int k = 0; k < total; k++) {
        memset(&infos[k], 0, sizeof infos[k]);
        infos[k].pid = (mine && k == total - 1) ? (unsigned int)getpid() : 4000000 + k;
        infos[k].usedGpuMemory = 1024;
    }
    *n = total;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                                     nvmlProcessInfo_t *infos) {
    return processes(d, n, infos, 0);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                                      nvmlProcessInfo_t *infos) {
    return processes(d, n, infos, 1);
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *milliwatts) {
    (void)device;
    *milliwatts = 250000;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device,
                                                 unsigned long long *millijoules) {
    (void)device;
    *millijoules = (unsigned long long)((now() - started) * 250000.0);
    return NVML_SUCCESS;
}
