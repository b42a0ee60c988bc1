/* A C program using the installed libsimvue: one offline run (cache: SIMVUE_OFFLINE_DIRECTORY). */
#include <simvue.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    if (strcmp(simvue_version(), SIMVUE_VERSION) != 0) {
        fprintf(stderr, "library %s, header %s\n", simvue_version(), SIMVUE_VERSION);
        return 1;
    }
    simvue_run *run = NULL;
    const char *tags[] = {"consumer", "c"};
    const char *names[] = {"x"};
    double values[] = {1.5};
    int bad = simvue_run_new(SIMVUE_MODE_OFFLINE, &run) != SIMVUE_OK ||
              simvue_run_init(run, "consumer-c", NULL, tags, 2, NULL, "/consumer", 1) !=
                  SIMVUE_OK ||
              simvue_run_log_metrics(run, names, values, 1) != SIMVUE_OK ||
              simvue_run_close(run) != SIMVUE_OK;
    simvue_run_free(run);
    printf("consumer_c: simvue %s %s\n", simvue_version(), bad ? "FAILED" : "ok");
    return bad;
}
