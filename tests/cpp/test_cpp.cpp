// Tests of simvue.hpp (included twice, to check its include guard), against the offline cache
// the runs write. Usage: test_cpp CACHE_DIR
#include "simvue.hpp"
#include "simvue.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

int failures = 0;
int checks = 0;
std::string cache;

void check(bool ok, const std::string &what) {
    checks++;
    if (!ok) {
        failures++;
        std::printf("FAIL %s\n", what.c_str());
    }
}

std::string run_json(const std::string &id) {
    std::ifstream f(cache + "/runs/" + id + ".json");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool has(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

simvue::run offline_run() {
    simvue::run r(simvue::mode::offline);
    r.config(simvue::config_options{}.set_disable_resources_metrics(true).set_queue_blocking(true));
    return r;
}

// Returns the code of the simvue::error `f` throws, or -1 when it throws none.
template <class F>
int error_code(F f, std::string *what = nullptr) {
    try {
        f();
    } catch (const simvue::error &e) {
        if (what) {
            *what = e.what();
        }
        return e.code();
    }
    return -1;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: test_cpp CACHE_DIR\n");
        return 2;
    }
    cache = argv[1];
    // A fresh cache each time: the checks below count what this run wrote.
    std::filesystem::remove_all(cache);
    setenv("SIMVUE_OFFLINE_DIRECTORY", cache.c_str(), 1);
    setenv("SIMVUE_CPP_TEST_VAR", "recorded", 1);
    unsetenv("SIMVUE_MODE");

    check(simvue::version() == SIMVUE_VERSION, "version");

    // Leaving the scope normally closes the run: completed.
    std::string id, th_id, ua_id;
    {
        simvue::run r = offline_run();
        r.set_signals("TERM,USR1", simvue::signal_action::notify, 5.0);
        r.set_signals();
        r.set_signal_callback([](int) {});
        r.set_signal_callback(nullptr);
        r.set_record_shell_vars({"SIMVUE_CPP_TEST_*"});
        r.set_emission_metrics(false);
        r.set_quiet(true);
        r.init("raii-ok", {{"dt", 0.0}, {"n", 3}, {"ok", true}, {"s", "q\"uote\n"}},
               {"cpp", "test"}, "a description", "/cpp");
        id = r.id();
        check(r.name() == "raii-ok", "name()");
        r.log_metrics({{"b", 2.0}, {"a", 1}}, 3);
        r.log_metrics(std::map<std::string, double>{{"z", 1.0}, {"y", 2.0}});
        r.log_metric("c", 0.5, std::nullopt, 2.5, "2024-01-02 03:04:05.000006");
        r.log_event("an event", simvue::log_level::warning);
        r.set_tags({"cpp", "set"});
        r.update_tags({"more"});
        r.set_metadata("later", std::string("x"));
        r.set_folder_details({}, std::nullopt, simvue::strings{}, "folder text"); // clears tags
        check(r.add_alert(simvue::alert::events("boom", "boom")).rfind("offline_", 0) == 0,
              "add_alert returns the id");
        const std::string th = r.create_metric_threshold_alert(
            "th", "a", 2.0, simvue::alert_rule::is_below,
            simvue::alert_options{}
                .set_description("dd")
                .set_window(3)
                .set_frequency(2)
                .set_aggregation(simvue::aggregation::at_least_one)
                .set_notification(simvue::notification::email)
                .set_trigger_abort(true)
                .set_attach_to_run(false));
        check(th.rfind("offline_", 0) == 0, "create_metric_threshold_alert returns the id");
        r.create_metric_range_alert("rg", "a", 0.0, 1.0, simvue::alert_rule::is_inside_range);
        r.create_event_alert("ev", "boom", simvue::alert_options{}.set_description("evd"));
        const std::string ua = r.create_user_alert("ua");
        r.log_alert(ua, simvue::alert_state::ok);
        r.add_alerts({th});
        th_id = th;
        ua_id = ua;
        const std::string input = cache + "-input.txt";
        {
            std::ofstream(input) << "hello\n";
        }
        r.assign_metric_to_grid("T", {{0.0, 0.5, 1.0}, {0.0, 1.0}}, {"x", "y"}, "mesh");
        r.assign_metric_to_grid("rho", "mesh");
        const double T[2][3] = {{0, 1, 2}, {3, 4, 5}};
        r.log_metric_array("T", &T[0][0], {2, 3});
        r.log_metric_array("rho", &T[0][0], {3, 2}, simvue::layout::column_major, 7);
        r.set_metric_units("a", "km");
        r.set_metric_units("b", "weird", "m", 2.0);
        r.log_metric("a", 1.0);
        r.save(input, simvue::category::input, {}, false, "input.txt", simvue::save_flags::none,
               simvue::metadata{{"kind", "deck"}});
        r.save_all({input}, simvue::category::code, {}, false, simvue::save_flags::snapshot);
        const double field[3] = {1.0, 2.0, 3.0};
        r.save_bytes("field.bin", field, sizeof field, simvue::category::output);
        r.save_bytes("summary.json", std::string_view("{\"ok\": true}"), simvue::category::output,
                     "application/json", simvue::save_flags::wait);
        r.config(simvue::config_options{}.set_abort_on_alert(SIMVUE_ABORT_ON_ALERT_IGNORE));
        r.set_abort_callback([] {});
        r.set_abort_callback(nullptr);
        check(!r.abort_requested() && r.suppress_errors(), "abort_requested, suppress_errors");
        check(r.dropped().metrics == 0, "dropped");
        check(r.lost_items().metrics == 0 && r.lost_items().events == 0, "lost_items");
        check(r.signal_received() == 0, "signal_received");
    }
    simvue::close_open_runs(simvue::status::failed); // none is open: nothing happens
    check(simvue::resources_sample().memory_mib > 0.0, "resources_sample");
    check(error_code([] { simvue::resources_sample(-3); }) == SIMVUE_ERROR_INVALID_ARGUMENT,
          "resources_sample: a bad pid throws");
    std::string j = run_json(id);
    check(has(j, "\"status\": \"completed\""), "scope exit: completed");
    check(has(j, "\"dt\": 0.0") && has(j, "\"n\": 3") && has(j, "\"ok\": true") &&
              has(j, "\"s\": \"q\\\"uote\\n\"") && has(j, "\"later\": \"x\""),
          "metadata types and escapes: " + j);
    check(has(j, "\"more\"") && has(j, "\"set\"") && !has(j, "\"test\""), "set_tags, update_tags");
    check(has(j, "\"mks_conversion\": 1000.0") && has(j, "\"units\": \"weird\""), "set_metric_units: " + j);
    check(has(j, "\"" + th_id + "\"") && has(j, "\"" + ua_id + "\""),
          "create_*_alert and add_alerts attach: " + j);
    check(has(j, "\"shell\": {\n      \"SIMVUE_CPP_TEST_VAR\": \"recorded\"\n    }"),
          "set_record_shell_vars: " + j);
    std::string artifacts;
    for (const auto &f : std::filesystem::directory_iterator(cache + "/artifacts")) {
        if (f.path().extension() == ".json") {
            std::ifstream in(f.path());
            std::stringstream text;
            text << in.rdbuf();
            artifacts += text.str();
        }
    }
    check(has(artifacts, "\"kind\": \"deck\""), "artifact metadata: " + artifacts);
    int arrays = 0;
    for (const auto &f : std::filesystem::directory_iterator(cache + "/grid_metrics")) {
        std::ifstream in(f.path());
        std::stringstream text;
        text << in.rdbuf();
        if (has(text.str(), "\"run\": \"" + id + "\"")) { // the cache may hold earlier runs
            arrays += has(text.str(), "\"metric\": \"T\"") + has(text.str(), "\"metric\": \"rho\"");
        }
    }
    check(arrays == 2, "log_metric_array");
    check(has(artifacts, "\"name\": \"input.txt\"") && has(artifacts, "\"name\": \"field.bin\"") &&
              has(artifacts, "\"name\": \"summary.json\"") &&
              has(artifacts, "\"name\": \"" + std::filesystem::path(cache + "-input.txt").filename().string() + "\""),
          "saved artifacts: " + artifacts);

    // init's options and a run naming its server (offline: the server is not contacted).
    {
        simvue::run r(simvue::mode::offline, simvue::server_options{"http://127.0.0.1:1", "t", ""});
        r.config(simvue::config_options{}.set_disable_resources_metrics(true));
        r.init("init-options", {}, {}, {}, "/cpp", true,
               simvue::init_options{}
                   .set_notification(simvue::notify::all)
                   .set_retention_period("1 hour")
                   .set_timeout(120)
                   .set_users({"alice", "bob"}));
        id = r.id();
    }
    j = run_json(id);
    check(has(j, "\"ttl\": 3600") && has(j, "\"heartbeat_timeout\": 120") &&
              has(j, "\"state\": \"all\"") && has(j, "\"alice\""),
          "init options: " + j);
    check(error_code([] {
              simvue::run r(simvue::mode::offline);
              r.config(simvue::config_options{}.set_suppress_errors(false));
              r.init("x", {}, {}, {}, {}, true, simvue::init_options{}.set_retention_period("soon"));
          }) == SIMVUE_ERROR_INVALID_ARGUMENT,
          "a bad retention period throws");

    // Leaving the scope through an exception: failed.
    try {
        simvue::run r = offline_run();
        r.init("raii-throw");
        id = r.id();
        throw std::runtime_error("solver blew up");
    } catch (const std::runtime_error &) {
    }
    check(has(run_json(id), "\"status\": \"failed\""), "exception: failed");

    // An exception after an explicit close leaves the status alone.
    try {
        simvue::run r = offline_run();
        r.init("closed-then-throw");
        id = r.id();
        r.set_status(simvue::status::terminated);
        r.close();
        throw std::runtime_error("late");
    } catch (const std::runtime_error &) {
    }
    check(has(run_json(id), "\"status\": \"terminated\""), "closed before the exception");

    // suppress_errors off: errors throw simvue::error with the code and message.
    {
        simvue::run r = offline_run();
        r.config(simvue::config_options{}.set_suppress_errors(false));
        check(!r.suppress_errors(), "suppress_errors off");
        r.init("throwing");
        std::string what;
        check(error_code([&] { r.log_metric("", 1.0); }, &what) == SIMVUE_ERROR_INVALID_ARGUMENT,
              "empty metric name throws INVALID_ARGUMENT");
        check(has(what, "log_metrics"), "what() names the call: " + what);
        // A NUL inside a string is refused, never silently cut there (issue 11, item 9).
        using namespace std::string_view_literals;
        check(error_code([&] { r.log_event("before\0after"sv); }, &what) ==
                  SIMVUE_ERROR_INVALID_ARGUMENT,
              "an event with an embedded NUL throws");
        check(has(what, "NUL"), "the message names the NUL: " + what);
        check(error_code([&] { r.log_metrics({{"ok", 1.0}, {"a\0b"sv, 2.0}}); }) ==
                  SIMVUE_ERROR_INVALID_ARGUMENT,
              "a metric name with an embedded NUL throws");
        check(error_code([&] { r.set_metadata("k\0"sv, simvue::value(1.0)); }) ==
                  SIMVUE_ERROR_INVALID_ARGUMENT,
              "a metadata key with an embedded NUL throws");
        check(error_code([&] {
                  r.update_metadata({{"x", std::numeric_limits<double>::quiet_NaN()}});
              }) == SIMVUE_ERROR_INVALID_ARGUMENT,
              "NaN metadata throws");
        r.close();
        check(error_code([&] { r.log_metric("x", 1.0); }, &what) == SIMVUE_ERROR_CLOSED,
              "closed run throws CLOSED");
        check(has(what, "closed"), "message: " + what);
        check(r.name() == "throwing", "queries work after close");
        simvue::run s = offline_run();
        s.config(simvue::config_options{}.set_suppress_errors(false));
        check(error_code([&] { s.set_signals("TERM,KILL"); }, &what) ==
                  SIMVUE_ERROR_INVALID_ARGUMENT,
              "an unknown signal throws: " + what);
        check(error_code([&] { simvue::close_open_runs(static_cast<simvue::status>(9)); }) ==
                  SIMVUE_ERROR_UNKNOWN_ENUM,
              "close_open_runs: an unknown status throws");
    }

    // suppress_errors on (the default): printed, no exception.
    {
        simvue::run r = offline_run();
        r.init("suppressed");
        r.close();
        check(error_code([&] { r.log_metric("x", 1.0); }) == -1, "suppressed: no exception");
    }

    // Moving: the moved-from run has no handle and always throws.
    {
        simvue::run a = offline_run();
        a.init("moved");
        id = a.id();
        simvue::run b(std::move(a));
        check(a.handle() == nullptr && b.handle() != nullptr, "move constructor");
        check(error_code([&] { a.log_metric("x", 1.0); }) == SIMVUE_ERROR_NULL_ARGUMENT,
              "moved-from run throws");
        simvue::run c(simvue::mode::disabled);
        c = std::move(b); // the disabled run is released, c takes "moved"
        c.log_metric("x", 1.0);
    }
    check(has(run_json(id), "\"status\": \"completed\""), "moved run closed once, completed");

    // Disabled, and an invalid mode.
    {
        simvue::run r(simvue::mode::disabled);
        r.init("ignored");
        check(r.name().empty(), "disabled: empty name");
    }
    check(error_code([] { simvue::run r(static_cast<simvue::mode>(7)); }) ==
              SIMVUE_ERROR_UNKNOWN_ENUM,
          "invalid mode throws");

    std::printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
