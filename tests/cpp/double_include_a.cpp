// simvue.hpp in a second translation unit; see double_include.hpp.
#include "double_include.hpp"

int double_include_a() SIMVUE_DOUBLE_INCLUDE_BODY
