// A C++ program using the installed libsimvue through simvue.hpp.
#include <simvue.hpp>

#include <cstdio>

int main() {
    if (simvue::version() != SIMVUE_VERSION) {
        return 1;
    }
    simvue::run run(simvue::mode::offline);
    run.config(simvue::config_options{}.set_suppress_errors(false)); // errors throw
    run.init("consumer-cpp", {{"language", "C++"}}, {"consumer", "cpp"}, {}, "/consumer");
    run.log_metrics({{"x", 1.5}, {"y", 2}});
    run.close();
    std::printf("consumer_cpp: simvue %s ok\n", std::string(simvue::version()).c_str());
    return 0;
}
