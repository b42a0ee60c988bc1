// uncaught: a C++ solver that dies of an uncaught exception or std::terminate (tests/hpc).
// Logs 500 metric sets, then, by argument:
//   throw:  throws std::runtime_error("solver diverged") out of main
//   thread: a std::thread throws std::logic_error("bad input on a worker thread")
//   terminate: calls std::terminate() without an exception
// The run is simvue::run's, offline (SIMVUE_OFFLINE_DIRECTORY), never closed by the program.
#include <stdexcept>
#include <string>
#include <thread>

#include "simvue.hpp"

int main(int argc, char **argv) {
    std::string what = argc > 1 ? argv[1] : "throw";
    simvue::run run(simvue::mode::offline);
    run.config(simvue::config_options{}.set_disable_resources_metrics(true));
    run.init("uncaught-" + what);
    for (int i = 0; i < 500; i++) {
        run.log_metrics({{"x", static_cast<double>(i)}}, i);
    }
    if (what == "thread") {
        std::thread worker([] { throw std::logic_error("bad input on a worker thread"); });
        worker.join();
    } else if (what == "terminate") {
        std::terminate();
    }
    throw std::runtime_error("solver diverged");
}
