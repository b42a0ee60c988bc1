/* Files for the C tests: a clean environment and a fresh folder to run in, a whole file as
 * text, and every cache file of one kind (`<cache>/<kind>/NAME.json`, not the hidden temporaries). */
#ifndef SIMVUE_TEST_FILES_H
#define SIMVUE_TEST_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Clears the environment variables that choose a run's mode or server, so that a test
 * depends on nothing of its caller's environment (test_disabled clears fewer on purpose). */
static inline void clear_simvue_environment(void) {
    unsetenv("SIMVUE_MODE");
    unsetenv("SIMVUE_URL");
    unsetenv("SIMVUE_TOKEN");
    unsetenv("SIMVUE_SERVER_PROFILE");
}

/* Makes a fresh folder `$TMPDIR/simvue-test-<name>-XXXXXX` (in /tmp without TMPDIR) into
 * `root`, the home folder (no simvue.toml can be found from there, and ~/.simvue is inside it)
 * and the working directory. Returns 0, or -1 having said why. */
static inline int enter_test_root(char *root, size_t len, const char *name) {
    const char *tmpdir = getenv("TMPDIR");
    snprintf(root, len, "%s/simvue-test-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", name);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return -1;
    }
    setenv("HOME", root, 1);
    if (chdir(root) != 0) {
        perror("chdir");
        return -1;
    }
    return 0;
}

/* The file's contents, NUL-terminated (free() them), or NULL. */
static inline char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
    }
    return buf;
}

/* Calls `each(text, ctx)` with the text of every <dir>/<kind>/NAME.json file (text NULL for
 * one that could not be read); returns the number of files read. */
static inline int for_each_json_file(const char *dir, const char *kind,
                                     void (*each)(const char *text, void *ctx), void *ctx) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, kind);
    DIR *d = opendir(path);
    if (!d) {
        return 0;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) {
            continue;
        }
        char file[4096 + 256];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        char *text = read_file(file);
        each(text, ctx);
        if (text) {
            free(text);
            files++;
        }
    }
    closedir(d);
    return files;
}

#endif
