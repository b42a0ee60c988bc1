// Compiles simvue.h as C++17 (-Wall -Wextra -Werror -pedantic) and includes it twice to check
// its include guard; then makes a few calls to check that the C linkage is right.
#include "simvue.h"
#include "simvue.h"

#include <cstdio>
#include <cstring>

int main() {
    int failed = 0;
    if (std::strcmp(simvue_version(), SIMVUE_VERSION) != 0) {
        std::printf("FAIL: simvue_version() = %s, SIMVUE_VERSION = %s\n", simvue_version(),
                    SIMVUE_VERSION);
        failed++;
    }
    if (std::strcmp(simvue_result_name(SIMVUE_ERROR_CLOSED), "SIMVUE_ERROR_CLOSED") != 0) {
        std::printf("FAIL: simvue_result_name(SIMVUE_ERROR_CLOSED)\n");
        failed++;
    }
    simvue_run *run = nullptr;
    simvue_result rc = simvue_run_new(SIMVUE_MODE_DISABLED, &run);
    if (rc != SIMVUE_OK || run == nullptr) {
        std::printf("FAIL: simvue_run_new -> %s\n", simvue_result_name(rc));
        failed++;
    }
    simvue_run_free(run);
    std::printf("%d passed, %d failed\n", 3 - failed, failed);
    return failed == 0 ? 0 : 1;
}
