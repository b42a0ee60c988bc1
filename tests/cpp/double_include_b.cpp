// simvue.hpp in two translation units linked into one program (ctest: cpp_double_include); see
// double_include.hpp.
#include "double_include.hpp"

#include <cstdio>

int double_include_a();

static int double_include_b() SIMVUE_DOUBLE_INCLUDE_BODY

int main() {
    int failed = double_include_a() + double_include_b();
    std::printf("%d failed\n", failed);
    return failed == 0 ? 0 : 1;
}
