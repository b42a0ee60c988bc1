/*
 * merge: adds tags and alerts to a run while someone else (the web UI) changes them too; the
 * run must keep what the UI added. It initialises an online run with tag "a", adds tag "b",
 * prints READY, waits for the file argv[1] (the test creates it once it has added its own tag
 * and alert on the server), then adds tag "c" and a user alert "ua2", and closes. With
 * argv[2] == "set", it ends with set_tags(x, y) instead, which replaces the tags.
 *
 * Output lines: run_id=..., READY, rc_<step>=... for a failed call, DONE.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simvue.h"

#include "report.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    simvue_run *run = NULL;
    step("new", simvue_run_new(SIMVUE_MODE_ONLINE, &run));
    step("config", simvue_run_config(run, 0, 1, SIMVUE_KEEP, 1, SIMVUE_KEEP));
    const char *a[] = {"a"}, *b[] = {"b"}, *c[] = {"c"}, *xy[] = {"x", "y"};
    step("init", simvue_run_init(run, "merge", NULL, a, 1, NULL, "/parity/merge", 1));
    char id[SIMVUE_ID_BUFFER_SIZE] = "";
    simvue_run_id(run, id, sizeof id, NULL);
    printf("run_id=%s\n", id);
    step("update_tags_b", simvue_run_update_tags(run, b, 1));
    printf("READY\n");
    fflush(stdout);
    for (int i = 0; i < 1200 && access(argv[1], F_OK) != 0; i++) {
        struct timespec pause = {0, 50000000};
        nanosleep(&pause, NULL);
    }
    step("update_tags_c", simvue_run_update_tags(run, c, 1));
    step("user_alert", simvue_run_create_user_alert(run, "ua2", NULL, SIMVUE_NOTIFICATION_NONE, 0,
                                                    1, NULL, 0));
    if (argc > 2 && strcmp(argv[2], "set") == 0) {
        step("set_tags", simvue_run_set_tags(run, xy, 2));
    }
    step("close", simvue_run_close(run));
    simvue_run_free(run);
    printf("DONE\n");
    return failures == 0 ? 0 : 1;
}
