/* What the C programs that the Python tests drive (tests/parity/c, tests/sender/c) share: a
 * call that fails is printed as "rc_<what>=<result name> <message>", which the test reads, and
 * counted in `failures`. */
#ifndef SIMVUE_TEST_REPORT_H
#define SIMVUE_TEST_REPORT_H

#include <stdio.h>

#include "simvue.h"

static int failures = 0;

static void step(const char *what, simvue_result rc) {
    if (rc != SIMVUE_OK) {
        char msg[512];
        simvue_last_error_message(msg, sizeof msg);
        printf("rc_%s=%s %s\n", what, simvue_result_name(rc), msg);
        failures++;
    }
}

#endif
