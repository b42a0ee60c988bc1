/* The tiny check harness of the C tests: CHECK(cond) counts passes and prints failures; the
 * program ends with the "N passed, M failed" line CI reads. */
#ifndef SIMVUE_TEST_CHECK_H
#define SIMVUE_TEST_CHECK_H

#include <stdio.h>

static int n_passed;
static int n_failed;

static void check_(int ok, const char *what, int line) {
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL (line %d): %s\n", line, what);
    }
}
#define CHECK(cond) check_((cond) != 0, #cond, __LINE__)

#endif
