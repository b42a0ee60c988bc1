// Shared by double_include_a.cpp and double_include_b.cpp: a function that uses every part of
// simvue.hpp with a definition (functions, the trampoline, templates), compiled into both
// translation units under a different name. Linking the two together fails when the header
// defines something that is not inline (as wasmtime's double-include tests check).
#include "simvue.hpp"
#include "simvue.hpp"

#include <string>

#define SIMVUE_DOUBLE_INCLUDE_BODY                                                           \
    {                                                                                        \
        int failed = 0;                                                                      \
        simvue::run run(simvue::mode::disabled);                                             \
        run.config(simvue::config_options{}.set_queue_blocking(true));                       \
        run.set_metadata("n", 1);                                                            \
        run.init("double-include", {{"x", 0.5}, {"s", "t"}}, {"tag"});                       \
        run.update_metadata({{"y", true}});                                                  \
        run.log_metrics({{"a", 1.0}}, 1);                                                    \
        run.log_event("event");                                                              \
        run.set_abort_callback([] {});                                                       \
        run.set_folder_details({}, simvue::metadata{{"f", 1}});                              \
        failed += run.name().empty() ? 0 : 1;                                                \
        failed += run.dropped().metrics == 0 ? 0 : 1;                                        \
        failed += std::string(simvue::version()) == SIMVUE_VERSION ? 0 : 1;                  \
        try {                                                                                \
            simvue::run moved = std::move(run);                                              \
            run.log_event("on a moved-from run");                                            \
            failed++;                                                                        \
        } catch (const simvue::error &e) {                                                   \
            failed += e.code() == SIMVUE_ERROR_NULL_ARGUMENT ? 0 : 1;                        \
        }                                                                                    \
        return failed;                                                                       \
    }
