// libsimvue: header-only C++17 layer over the C API (simvue.h): RAII, std::string_view, maps
// and initializer lists, exceptions. It adds no behaviour of its own: every call is one call of
// the C API.
//
//     #include "simvue.hpp"
//
//     simvue::run run(simvue::mode::offline);       // SIMVUE_MODE=... overrides at run time
//     run.config(simvue::config_options{}.set_queue_blocking(true));
//     run.set_metadata("nx", 64);
//     run.init("my-run", {{"scheme", "ftcs"}}, {"heat", "1d"}, "description", "/my/folder");
//     run.log_metrics({{"residual", 1e-3}, {"t_max", 99.5}});
//     run.log_event("converged");
//     // leaving the scope closes the run: `completed`, or `failed` when an exception leaves it
//
// Errors. A failing call throws simvue::error (the result code and the library's message) when
// the run's suppress_errors setting is off. With it on (the default, as in Simvue's Python
// client) the solver goes on: the library itself writes the message to stderr (the first 20 of
// the run) and the call returns. Creating a run, and any call on a moved-from run, always
// throw on failure: there is no run to report through.
//
// Strings are std::string_view and need not be NUL-terminated. A string containing a NUL
// character is refused (SIMVUE_ERROR_INVALID_ARGUMENT), never silently cut at the NUL. An optional string parameter that receives a default-constructed
// std::string_view{} (data() == nullptr) is "not given"; "" is the empty string.
#ifndef SIMVUE_HPP
#define SIMVUE_HPP

#include "simvue.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace simvue::detail {

/// A NUL-terminated copy of `s` for the C API. A C string cannot carry a NUL: one inside `s`
/// is passed as the two bytes C0 80 (its "modified UTF-8" form, never valid UTF-8), which the
/// library rejects with SIMVUE_ERROR_INVALID_ARGUMENT and a message saying so, instead of the
/// string being silently cut short at the NUL.
inline std::string c_string(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 1);
    for (char c : s) {
        if (c == '\0') {
            out += "\xC0\x80";
        } else {
            out += c;
        }
    }
    return out;
}

/// The C string of an optional string (NULL when there is none); valid while `o` is.
inline const char *c_str_or_null(const std::optional<std::string> &o) noexcept {
    return o ? o->c_str() : nullptr;
}

} // namespace simvue::detail

/// Calls the std::function<void()> behind `user_data` for simvue::run::set_abort_callback.
extern "C" inline void simvue_hpp_abort_trampoline(void *user_data) {
    try {
        (*static_cast<std::function<void()> *>(user_data))();
    } catch (...) {
        // An exception must not cross into the library's thread.
    }
}

/// Calls the std::function<void(int)> behind `user_data` for simvue::run::set_signal_callback.
extern "C" inline void simvue_hpp_signal_trampoline(std::int32_t signum, void *user_data) {
    try {
        (*static_cast<std::function<void(int)> *>(user_data))(static_cast<int>(signum));
    } catch (...) {
        // An exception must not cross into the library's thread.
    }
}

namespace simvue {

/// The library's version at run time (SIMVUE_VERSION is the header's).
inline std::string_view version() noexcept { return simvue_version(); }

/// A failed call: the C API's result code and message.
class error : public std::runtime_error {
public:
    error(simvue_result code, const std::string &what) : std::runtime_error(what), code_(code) {}
    /// The result code (SIMVUE_ERROR_...).
    simvue_result code() const noexcept { return code_; }
    /// The code's name, e.g. "SIMVUE_ERROR_CLOSED".
    const char *code_name() const noexcept { return simvue_result_name(code_); }

private:
    simvue_result code_;
};

enum class mode : std::int32_t {
    online = SIMVUE_MODE_ONLINE,
    offline = SIMVUE_MODE_OFFLINE,
    disabled = SIMVUE_MODE_DISABLED,
};

enum class status : std::int32_t {
    completed = SIMVUE_STATUS_COMPLETED,
    failed = SIMVUE_STATUS_FAILED,
    terminated = SIMVUE_STATUS_TERMINATED,
};

enum class log_level : std::int32_t {
    debug = SIMVUE_LOG_DEBUG,
    info = SIMVUE_LOG_INFO,
    warning = SIMVUE_LOG_WARNING,
    error = SIMVUE_LOG_ERROR,
    critical = SIMVUE_LOG_CRITICAL,
};

enum class alert_source : std::int32_t {
    metrics = SIMVUE_ALERT_SOURCE_METRICS,
    events = SIMVUE_ALERT_SOURCE_EVENTS,
};

enum class alert_rule : std::int32_t {
    is_above = SIMVUE_ALERT_RULE_IS_ABOVE,
    is_below = SIMVUE_ALERT_RULE_IS_BELOW,
    is_outside_range = SIMVUE_ALERT_RULE_IS_OUTSIDE_RANGE,
    is_inside_range = SIMVUE_ALERT_RULE_IS_INSIDE_RANGE,
};

enum class notification : std::int32_t {
    none = SIMVUE_NOTIFICATION_NONE,
    email = SIMVUE_NOTIFICATION_EMAIL,
};

/// How a metrics alert combines the values in its window.
enum class aggregation : std::int32_t {
    average = SIMVUE_AGGREGATION_AVERAGE,
    sum = SIMVUE_AGGREGATION_SUM,
    at_least_one = SIMVUE_AGGREGATION_AT_LEAST_ONE,
    all = SIMVUE_AGGREGATION_ALL,
};

/// The state of a user alert (`run::log_alert`).
enum class alert_state : std::int32_t {
    ok = SIMVUE_ALERT_STATE_OK,
    critical = SIMVUE_ALERT_STATE_CRITICAL,
};

/// How an array's values lie in memory (`run::log_metric_array`).
enum class layout : std::int32_t {
    row_major = SIMVUE_ROW_MAJOR,       ///< C: the last index varies fastest
    column_major = SIMVUE_COLUMN_MAJOR, ///< Fortran: the first index varies fastest
};

/// Artifact categories (`run::save` and the others).
enum class category : std::int32_t {
    input = SIMVUE_CATEGORY_INPUT,
    output = SIMVUE_CATEGORY_OUTPUT,
    code = SIMVUE_CATEGORY_CODE,
};

/// Flags of `run::save` and the others; combine them with `|`.
enum class save_flags : std::uint32_t {
    none = 0,
    snapshot = SIMVUE_SAVE_SNAPSHOT, ///< save a copy taken now
    wait = SIMVUE_SAVE_WAIT,         ///< return once it is saved, with the outcome
};

constexpr save_flags operator|(save_flags a, save_flags b) noexcept {
    return static_cast<save_flags>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}

/// A metadata value: a string, an integer, a floating-point number or a boolean, as JSON types.
class value {
public:
    value(bool b) : v_(b) {}
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    value(T i) : v_(static_cast<std::int64_t>(i)) {}
    template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
    value(T d) : v_(static_cast<double>(d)) {}
    value(const char *s) : v_(std::string(s)) {}
    value(std::string_view s) : v_(std::string(s)) {}
    value(std::string s) : v_(std::move(s)) {}

    /// The held alternative: std::string, std::int64_t, double or bool.
    const std::variant<std::string, std::int64_t, double, bool> &get() const noexcept {
        return v_;
    }

private:
    std::variant<std::string, std::int64_t, double, bool> v_;
};

/// Metadata: key -> value.
using metadata = std::map<std::string, value>;

/// A list of strings (tags), from an initializer list of string views or a vector of strings.
class strings {
public:
    strings() = default;
    strings(std::initializer_list<std::string_view> l) : v_(l.begin(), l.end()) {}
    strings(const std::vector<std::string> &v) : v_(v.begin(), v.end()) {}
    const std::vector<std::string> &get() const noexcept { return v_; }

private:
    std::vector<std::string> v_;
};

/// What `run::config` changes; every setting left unset keeps its value.
struct config_options {
    std::optional<bool> suppress_errors;            ///< default true
    std::optional<bool> queue_blocking;             ///< default false
    std::optional<std::int64_t> queue_size;         ///< default 10000
    std::optional<bool> disable_resources_metrics;  ///< default false
    std::optional<std::int64_t> resources_metrics_interval; ///< seconds, default 30
    /// What an abort requested from the server does: SIMVUE_ABORT_ON_ALERT_RUN (default),
    /// _TERMINATE or _IGNORE.
    std::optional<std::int32_t> abort_on_alert;

    config_options &set_suppress_errors(bool v) { suppress_errors = v; return *this; }
    config_options &set_queue_blocking(bool v) { queue_blocking = v; return *this; }
    config_options &set_queue_size(std::int64_t v) { queue_size = v; return *this; }
    config_options &set_disable_resources_metrics(bool v) {
        disable_resources_metrics = v;
        return *this;
    }
    config_options &set_resources_metrics_interval(std::int64_t v) {
        resources_metrics_interval = v;
        return *this;
    }
    config_options &set_abort_on_alert(std::int32_t v) {
        abort_on_alert = v;
        return *this;
    }
};

/// An alert definition for `run::add_alert` (see simvue_run_add_alert).
struct alert {
    std::string name;
    alert_source source = alert_source::metrics;
    std::int64_t frequency = 1;       ///< seconds between evaluations
    std::int64_t window = 0;          ///< averaging window in seconds; 0: the frequency
    alert_rule rule = alert_rule::is_above; ///< metrics alerts
    std::string metric;               ///< metrics alerts
    double threshold = 0.0;           ///< is_above / is_below
    double range_low = 0.0;           ///< range rules
    double range_high = 0.0;          ///< range rules
    notification notify = notification::none;
    std::string pattern;              ///< events alerts

    /// A metrics alert with a threshold rule (is_above, is_below).
    static alert threshold_rule(std::string name, std::string metric, alert_rule rule,
                                double threshold, std::int64_t frequency = 1,
                                std::int64_t window = 0) {
        alert a;
        a.name = std::move(name);
        a.metric = std::move(metric);
        a.rule = rule;
        a.threshold = threshold;
        a.frequency = frequency;
        a.window = window;
        return a;
    }
    /// A metrics alert with a range rule (is_outside_range, is_inside_range).
    static alert range_rule(std::string name, std::string metric, alert_rule rule, double low,
                            double high, std::int64_t frequency = 1, std::int64_t window = 0) {
        alert a;
        a.name = std::move(name);
        a.metric = std::move(metric);
        a.rule = rule;
        a.range_low = low;
        a.range_high = high;
        a.frequency = frequency;
        a.window = window;
        return a;
    }
    /// An events alert on a message pattern.
    static alert events(std::string name, std::string pattern, std::int64_t frequency = 1) {
        alert a;
        a.name = std::move(name);
        a.source = alert_source::events;
        a.pattern = std::move(pattern);
        a.frequency = frequency;
        return a;
    }
};

/// The options every `run::create_*_alert` shares, with the Python client's defaults.
struct alert_options {
    std::string description;                    ///< empty: none
    std::int64_t window = 0;                    ///< seconds; 0: the frequency (metrics alerts)
    std::int64_t frequency = 1;                 ///< seconds between evaluations
    simvue::aggregation aggregation = simvue::aggregation::average; ///< metrics alerts
    simvue::notification notify = notification::none;
    bool trigger_abort = false;                 ///< the alert firing aborts the run
    bool attach_to_run = true;                  ///< false: only create it

    alert_options &set_description(std::string v) { description = std::move(v); return *this; }
    alert_options &set_window(std::int64_t v) { window = v; return *this; }
    alert_options &set_frequency(std::int64_t v) { frequency = v; return *this; }
    alert_options &set_aggregation(simvue::aggregation v) { aggregation = v; return *this; }
    alert_options &set_notification(simvue::notification v) { notify = v; return *this; }
    alert_options &set_trigger_abort(bool v) { trigger_abort = v; return *this; }
    alert_options &set_attach_to_run(bool v) { attach_to_run = v; return *this; }

    /// The description as the C API takes it (NULL when empty; a NUL in it refused, as in
    /// every string).
    std::optional<std::string> c_description() const {
        if (description.empty()) {
            return std::nullopt;
        }
        return detail::c_string(description);
    }
};

/// When the server sends an e-mail about the run's end (`init_options::notification`).
enum class notify : std::int32_t {
    none = SIMVUE_NOTIFY_NONE,
    all = SIMVUE_NOTIFY_ALL,
    error = SIMVUE_NOTIFY_ERROR,
    lost = SIMVUE_NOTIFY_LOST,
};

/// Who may see the run (`init_options::visibility`): Python's None, "public", "tenant" and a
/// list of users.
enum class visibility : std::int32_t {
    owner_only = SIMVUE_VISIBILITY_PRIVATE,
    everyone = SIMVUE_VISIBILITY_PUBLIC,
    tenant = SIMVUE_VISIBILITY_TENANT,
    users = SIMVUE_VISIBILITY_USERS, ///< the users of `init_options::users`
};

/// The options of `run::init` beyond name, metadata, tags, description, folder and running,
/// with the Python client's defaults.
struct init_options {
    simvue::notify notification = notify::none;
    std::string retention_period;          ///< "1 hour", "30m", ...; empty: for ever
    std::int64_t timeout = SIMVUE_KEEP;     ///< seconds; SIMVUE_KEEP: 180; SIMVUE_NO_TIMEOUT: never
    simvue::visibility visibility = visibility::owner_only;
    strings users;                          ///< with visibility::users
    strings record_shell_vars;              ///< environment variables to record (globs)

    init_options &set_notification(simvue::notify v) { notification = v; return *this; }
    init_options &set_retention_period(std::string v) { retention_period = std::move(v); return *this; }
    init_options &set_timeout(std::int64_t v) { timeout = v; return *this; }
    init_options &set_visibility(simvue::visibility v) { visibility = v; return *this; }
    init_options &set_users(strings v) {
        visibility = visibility::users;
        users = std::move(v);
        return *this;
    }
    init_options &set_record_shell_vars(strings v) { record_shell_vars = std::move(v); return *this; }
};

/// The server a run names itself (Python's `Run(server_url=..., server_token=...,
/// server_profile=...)`); empty strings are not given. SIMVUE_URL, SIMVUE_TOKEN and
/// SIMVUE_SERVER_PROFILE in the environment still win.
struct server_options {
    std::string url;
    std::string token;
    std::string profile;
};

/// What a run does when one of its signals arrives (`run::set_signals`).
enum class signal_action : std::int32_t {
    exit = SIMVUE_SIGNALS_EXIT,     ///< flush, mark `terminated`, close, end the process by it
    notify = SIMVUE_SIGNALS_NOTIFY, ///< log an event and let the solver stop by itself
};

/// Items dropped because a queue was full (`run::dropped`).
struct dropped_counts {
    std::uint64_t metrics = 0;
    std::uint64_t events = 0;
};

/// Items written neither to the server nor to the offline cache (`run::lost_items`).
struct lost_counts {
    std::uint64_t metrics = 0;
    std::uint64_t events = 0;
};

namespace detail {

inline std::string last_error_message() {
    std::string msg(256, '\0');
    std::size_t n = simvue_last_error_message(msg.data(), msg.size());
    if (n >= msg.size()) {
        msg.assign(n + 1, '\0');
        n = simvue_last_error_message(msg.data(), msg.size());
    }
    msg.resize(n < msg.size() ? n : msg.size() - 1);
    return msg;
}

/// NUL-terminated copies of a few strings and the array of pointers to them, on the stack when
/// they are small (log_metrics runs in time loops). `get` maps an element to a string_view
/// that stays valid while the element does.
class c_strings {
public:
    template <class It, class Get>
    c_strings(It first, It last, Get get) {
        std::size_t total = 0;
        for (It it = first; it != last; ++it) {
            std::string_view s = get(*it);
            total += s.size() + 1;
            if (s.find('\0') != std::string_view::npos) {
                total += static_cast<std::size_t>(std::count(s.begin(), s.end(), '\0'));
            }
            ++n_;
        }
        char *buf = small_chars_.data();
        if (total > small_chars_.size()) {
            big_chars_.resize(total);
            buf = big_chars_.data();
        }
        ptrs_ = small_ptrs_.data();
        if (n_ > small_ptrs_.size()) {
            big_ptrs_.resize(n_);
            ptrs_ = big_ptrs_.data();
        }
        std::size_t i = 0;
        for (It it = first; it != last; ++it, ++i) {
            std::string_view s = get(*it);
            ptrs_[i] = buf;
            if (s.find('\0') == std::string_view::npos) {
                s.copy(buf, s.size());
                buf += s.size();
            } else {
                for (char c : s) { // as c_string: a NUL goes as C0 80, which the library refuses
                    if (c == '\0') {
                        *buf++ = '\xC0';
                        *buf++ = '\x80';
                    } else {
                        *buf++ = c;
                    }
                }
            }
            *buf++ = '\0';
        }
    }
    c_strings(const c_strings &) = delete;
    c_strings &operator=(const c_strings &) = delete;

    const char *const *data() const noexcept { return n_ ? ptrs_ : nullptr; }
    std::size_t size() const noexcept { return n_; }

private:
    std::size_t n_ = 0;
    std::array<char, 512> small_chars_;
    std::vector<char> big_chars_;
    std::array<const char *, 32> small_ptrs_;
    std::vector<const char *> big_ptrs_;
    const char **ptrs_ = nullptr;
};

/// An optional string as the C API takes it: NULL when not given.
class opt_c_string {
public:
    explicit opt_c_string(std::string_view s) : given_(s.data() != nullptr), s_(c_string(s)) {}
    const char *get() const noexcept { return given_ ? s_.c_str() : nullptr; }

private:
    bool given_;
    std::string s_;
};

inline void append_json_string(std::string &out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char esc[8];
                std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
                out += esc;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

/// Metadata as the JSON object the C API takes (init, update_metadata and folder details take
/// one object: setting the keys one by one would change the order of the run's metadata and
/// send one update per key). Doubles are written in their shortest round-trip form, always as
/// JSON numbers with a fraction or exponent (so 0.0 stays a float). NaN and infinities have no
/// JSON form: nullopt, and `*bad_key` names the key.
inline std::optional<std::string> to_json(const metadata &md, std::string *bad_key) {
    std::string out = "{";
    bool first = true;
    for (const auto &[key, val] : md) {
        if (!first) {
            out += ", ";
        }
        first = false;
        append_json_string(out, key);
        out += ": ";
        const auto &v = val.get();
        if (const auto *s = std::get_if<std::string>(&v)) {
            append_json_string(out, *s);
        } else if (const auto *i = std::get_if<std::int64_t>(&v)) {
            out += std::to_string(*i);
        } else if (const auto *b = std::get_if<bool>(&v)) {
            out += *b ? "true" : "false";
        } else {
            double d = std::get<double>(v);
            if (!std::isfinite(d)) {
                *bad_key = key;
                return std::nullopt;
            }
            char buf[32];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
            std::string_view num(buf, static_cast<std::size_t>(end - buf));
            out += num;
            if (ec == std::errc() && num.find_first_of(".e") == std::string_view::npos) {
                out += ".0";
            }
        }
    }
    out += "}";
    return out;
}

/// The handler installed by the first simvue::run (std::set_terminate, keeping the one before):
/// an uncaught exception, also one thrown on a std::thread, or a call of std::terminate,
/// flushes every open run and marks it `failed` (with an event naming the exception), then
/// calls the previous handler, which ends the program as before.
inline std::terminate_handler &previous_terminate_handler() noexcept {
    static std::terminate_handler previous = nullptr;
    return previous;
}

[[noreturn]] inline void on_terminate() noexcept {
    static const char *const fallback = "std::terminate was called";
    std::string message = fallback;
    if (std::exception_ptr e = std::current_exception()) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &x) {
            message = std::string("uncaught exception: ") + x.what();
        } catch (...) {
            message = "uncaught exception of a type not derived from std::exception";
        }
    }
    simvue_close_open_runs(SIMVUE_STATUS_FAILED, message.c_str());
    if (std::terminate_handler previous = previous_terminate_handler()) {
        previous();
    }
    std::abort();
}

inline void install_terminate_handler() noexcept {
    static const bool installed = [] {
        previous_terminate_handler() = std::set_terminate(on_terminate);
        return true;
    }();
    (void)installed;
}

} // namespace detail

/// One resource sample of a process tree (`resources_sample`).
struct resources {
    double cpu_percent = 0.0; ///< CPU use since the previous sample, percent of one core
    double memory_mib = 0.0;  ///< resident memory, MiB
};

/// Samples the process `pid` (0: this one) and its children, for a process that holds no run
/// (an MPI rank): CPU use since the previous call for `pid` (the first: since it started).
inline resources resources_sample(std::int64_t pid = 0) {
    resources r;
    simvue_result rc = simvue_resources_sample(pid, &r.cpu_percent, &r.memory_mib);
    if (rc != SIMVUE_OK) {
        throw error(rc, "simvue::resources_sample: " + detail::last_error_message());
    }
    return r;
}

/// Closes every open run now with `s` (`failed` or `terminated`), logging `message` as an
/// event first; for a program about to end abnormally. The handler simvue::run installs for
/// std::terminate does it for uncaught exceptions.
inline void close_open_runs(status s, std::string_view message = {}) {
    detail::opt_c_string c_message(message);
    simvue_result rc = simvue_close_open_runs(static_cast<std::int32_t>(s), c_message.get());
    if (rc != SIMVUE_OK) {
        throw error(rc, "simvue::close_open_runs: " + detail::last_error_message());
    }
}

/// A Simvue run (Simvue's `Run`). Closes itself when destroyed: with status `failed` when the
/// scope is left through an exception, otherwise as simvue_run_free does (`completed` if it was
/// running). Movable, not copyable.
class run {
public:
    /// Creates a run in `m`; the environment variable SIMVUE_MODE overrides it.
    explicit run(mode m) : run(m, server_options{}) {}

    /// Creates a run in `m` on the server `server` (no config file needed).
    run(mode m, const server_options &server) : exceptions_(std::uncaught_exceptions()) {
        auto opt = [](const std::string &s) {
            return detail::opt_c_string(s.empty() ? std::string_view{} : std::string_view(s));
        };
        simvue_result rc = simvue_run_new_ex(static_cast<std::int32_t>(m), opt(server.url).get(),
                                             opt(server.token).get(), opt(server.profile).get(),
                                             &handle_);
        detail::install_terminate_handler();
        if (rc != SIMVUE_OK) {
            throw error(rc, "simvue::run: " + detail::last_error_message());
        }
    }

    run(const run &) = delete;
    run &operator=(const run &) = delete;

    run(run &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          exceptions_(other.exceptions_),
          started_(other.started_),
          closed_(other.closed_),
          callback_(std::move(other.callback_)),
          signal_callback_(std::move(other.signal_callback_)) {}

    run &operator=(run &&other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
            exceptions_ = other.exceptions_;
            started_ = other.started_;
            closed_ = other.closed_;
            callback_ = std::move(other.callback_);
            signal_callback_ = std::move(other.signal_callback_);
        }
        return *this;
    }

    ~run() { release(); }

    /// The C handle, for calls this layer does not wrap.
    simvue_run *handle() const noexcept { return handle_; }

    /// Configures the run (before init).
    void config(const config_options &o) {
        auto flag = [](const std::optional<bool> &b) -> std::int32_t {
            return b ? (*b ? 1 : 0) : SIMVUE_KEEP;
        };
        // abort_on_alert alone may be set after init, when the other settings no longer can.
        if (o.suppress_errors || o.queue_blocking || o.queue_size || o.disable_resources_metrics ||
            o.resources_metrics_interval || !o.abort_on_alert) {
            check(simvue_run_config(handle_, flag(o.suppress_errors), flag(o.queue_blocking),
                                    o.queue_size.value_or(SIMVUE_KEEP),
                                    flag(o.disable_resources_metrics),
                                    o.resources_metrics_interval.value_or(SIMVUE_KEEP)),
                  "config");
        }
        if (o.abort_on_alert) {
            check(simvue_run_set_abort_on_alert(handle_, *o.abort_on_alert), "config");
        }
    }

    /// Initialises the run. Every argument is optional: a random name, no metadata (keys set
    /// with set_metadata before are added), no tags, no description, folder `/`, running, and
    /// the Python client's defaults for the rest (`opts`).
    void init(std::string_view name = {}, const metadata &md = {}, const strings &tags = {},
              std::string_view description = {}, std::string_view folder = {},
              bool running = true, const init_options &opts = {}) {
        detail::opt_c_string c_name(name), c_description(description), c_folder(folder);
        std::optional<std::string> json;
        if (!md.empty() && !(json = metadata_json(md, "init"))) {
            return;
        }
        auto view = [](const std::string &s) { return std::string_view(s); };
        const auto &t = tags.get();
        const auto &u = opts.users.get();
        const auto &v = opts.record_shell_vars.get();
        detail::c_strings c_tags(t.begin(), t.end(), view), c_users(u.begin(), u.end(), view),
            c_vars(v.begin(), v.end(), view);
        simvue_result rc = simvue_run_init_ex(
            handle_, c_name.get(), json ? json->c_str() : nullptr, c_tags.data(), c_tags.size(),
            c_description.get(), c_folder.get(), running ? 1 : 0,
            static_cast<std::int32_t>(opts.notification),
            opts.retention_period.empty() ? nullptr : detail::c_string(opts.retention_period).c_str(), opts.timeout,
            static_cast<std::int32_t>(opts.visibility), c_users.data(), c_users.size(),
            c_vars.data(), c_vars.size());
        if (rc == SIMVUE_OK) {
            started_ = true;
        }
        check(rc, "init");
    }

    /// The run's name (after init; empty for a disabled run).
    std::string name() const { return get_string(simvue_run_name, "name"); }

    /// The run's id (after init), to reconnect to it later.
    std::string id() const { return get_string(simvue_run_id, "id"); }

    /// Sets the process whose tree is sampled for resource metrics.
    void set_pid(std::int64_t pid) { check(simvue_run_set_pid(handle_, pid), "set_pid"); }

    /// Reconnects this new, uninitialised run to the run `run_id` and starts it.
    void reconnect(std::string_view run_id) {
        simvue_result rc = simvue_run_reconnect(handle_, detail::c_string(run_id).c_str());
        if (rc == SIMVUE_OK) {
            started_ = true;
        }
        check(rc, "reconnect");
    }

    /// Adds or replaces metadata keys.
    void update_metadata(const metadata &md) {
        if (auto json = metadata_json(md, "update_metadata")) {
            check(simvue_run_update_metadata(handle_, json->c_str()), "update_metadata");
        }
    }

    /// Adds or replaces metadata given as a JSON object.
    void update_metadata_json(std::string_view json) {
        check(simvue_run_update_metadata(handle_, detail::c_string(json).c_str()), "update_metadata");
    }

    /// Sets one metadata key (before init: kept for init).
    void set_metadata(std::string_view key, const value &v) {
        const std::string k = detail::c_string(key);
        const auto &x = v.get();
        simvue_result rc;
        if (const auto *s = std::get_if<std::string>(&x)) {
            rc = simvue_run_set_metadata_string(handle_, k.c_str(), detail::c_string(*s).c_str());
        } else if (const auto *i = std::get_if<std::int64_t>(&x)) {
            rc = simvue_run_set_metadata_int(handle_, k.c_str(), *i);
        } else if (const auto *b = std::get_if<bool>(&x)) {
            rc = simvue_run_set_metadata_bool(handle_, k.c_str(), *b ? 1 : 0);
        } else {
            rc = simvue_run_set_metadata_double(handle_, k.c_str(), std::get<double>(x));
        }
        check(rc, "set_metadata");
    }

    /// Adds tags.
    void update_tags(const strings &tags) {
        const auto &t = tags.get();
        detail::c_strings c_tags(t.begin(), t.end(), [](const std::string &s) { return std::string_view(s); });
        check(simvue_run_update_tags(handle_, c_tags.data(), c_tags.size()), "update_tags");
    }

    /// Replaces the run's tags (`set_tags`).
    void set_tags(const strings &tags) {
        const auto &t = tags.get();
        detail::c_strings c_tags(t.begin(), t.end(), [](const std::string &s) { return std::string_view(s); });
        check(simvue_run_set_tags(handle_, c_tags.data(), c_tags.size()), "set_tags");
    }

    /// Logs one set of metrics, in the order given. `step` (>= 0), `time` and `timestamp`
    /// (`YYYY-MM-DD hh:mm:ss.ffffff`, UTC) replace the automatic ones when given.
    void log_metrics(std::initializer_list<std::pair<std::string_view, double>> metrics,
                     std::optional<std::int64_t> step = std::nullopt,
                     std::optional<double> time = std::nullopt,
                     std::string_view timestamp = {}) {
        log_metrics_range(metrics.begin(), metrics.end(), step, time, timestamp);
    }

    /// Logs one set of metrics from a map (in the map's key order).
    void log_metrics(const std::map<std::string, double> &metrics,
                     std::optional<std::int64_t> step = std::nullopt,
                     std::optional<double> time = std::nullopt,
                     std::string_view timestamp = {}) {
        log_metrics_range(metrics.begin(), metrics.end(), step, time, timestamp);
    }

    /// Logs one metric.
    void log_metric(std::string_view name, double v,
                    std::optional<std::int64_t> step = std::nullopt,
                    std::optional<double> time = std::nullopt, std::string_view timestamp = {}) {
        log_metrics({{name, v}}, step, time, timestamp);
    }

    /// Records the units of metric `name`: the unit symbol, and the MKS unit and the factor to
    /// it (worked out as the Python client does when not given). Sent with the next
    /// log_metrics.
    void set_metric_units(std::string_view name, std::string_view units,
                          std::string_view mks_unit = {},
                          std::optional<double> mks_conversion = std::nullopt) {
        detail::opt_c_string c_mks(mks_unit);
        check(simvue_run_set_metric_units(handle_, detail::c_string(name).c_str(),
                                          detail::c_string(units).c_str(), c_mks.get(),
                                          mks_conversion ? &*mks_conversion : nullptr),
              "set_metric_units");
    }

    /// Assigns `metric` to a new grid `grid_name` (empty: the metric's name) with the ticks of
    /// each axis (axis 0 first: the axis along which a row-major array's last index runs) and
    /// one label per axis.
    void assign_metric_to_grid(std::string_view metric,
                               const std::vector<std::vector<double>> &axes_ticks,
                               const strings &axes_labels, std::string_view grid_name = {}) {
        std::vector<double> ticks;
        std::vector<std::size_t> sizes;
        for (const auto &axis : axes_ticks) {
            ticks.insert(ticks.end(), axis.begin(), axis.end());
            sizes.push_back(axis.size());
        }
        const auto &l = axes_labels.get();
        detail::c_strings c_labels(l.begin(), l.end(), [](const std::string &s) { return std::string_view(s); });
        detail::opt_c_string c_grid(grid_name);
        // The C API takes one count for both; with a different number of labels it gets none,
        // and refuses the call with its own message.
        const char *const *labels = l.size() == sizes.size() ? c_labels.data() : nullptr;
        check(simvue_run_assign_metric_to_grid(handle_, detail::c_string(metric).c_str(), c_grid.get(),
                                               ticks.empty() ? nullptr : ticks.data(),
                                               sizes.empty() ? nullptr : sizes.data(),
                                               sizes.size(), labels),
              "assign_metric_to_grid");
    }

    /// Assigns `metric` to the grid `grid_name` this run created before.
    void assign_metric_to_grid(std::string_view metric, std::string_view grid_name) {
        check(simvue_run_assign_metric_to_grid(handle_, detail::c_string(metric).c_str(),
                                               detail::c_string(grid_name).c_str(), nullptr, nullptr, 0,
                                               nullptr),
              "assign_metric_to_grid");
    }

    /// Logs the array of values of `name` at one step: `values` holds an array of `shape`
    /// (1 to 3 dimensions) in `l` order; `double f[ny][nx]` is `shape {ny, nx}`, row-major, on
    /// a grid with axes x, y. `step`, `time` and `timestamp` as for log_metrics.
    void log_metric_array(std::string_view name, const double *values,
                          const std::vector<std::size_t> &shape, layout l = layout::row_major,
                          std::optional<std::int64_t> step = std::nullopt,
                          std::optional<double> time = std::nullopt,
                          std::string_view timestamp = {}) {
        std::uint32_t flags = (step ? SIMVUE_METRICS_STEP : 0u) | (time ? SIMVUE_METRICS_TIME : 0u);
        detail::opt_c_string c_ts(timestamp);
        check(simvue_run_log_metric_array(handle_, detail::c_string(name).c_str(), values,
                                          shape.empty() ? nullptr : shape.data(), shape.size(),
                                          static_cast<std::int32_t>(l), flags, step.value_or(0),
                                          time.value_or(0.0), c_ts.get()),
              "log_metrics");
    }

    /// Logs an event message (at `level`, at `timestamp` or now).
    void log_event(std::string_view message, log_level level = log_level::info,
                   std::string_view timestamp = {}) {
        detail::opt_c_string c_ts(timestamp);
        check(simvue_run_log_event_level(handle_, detail::c_string(message).c_str(),
                                         static_cast<std::int32_t>(level), c_ts.get()),
              "log_event");
    }

    /// Sets the final status.
    void set_status(status s) {
        check(simvue_run_set_status(handle_, static_cast<std::int32_t>(s)), "set_status");
    }

    /// Closes the run now (the destructor does it otherwise); queries keep working.
    void close() {
        simvue_result rc = simvue_run_close(handle_);
        closed_ = closed_ || rc == SIMVUE_OK || rc == SIMVUE_ERROR_CLOSED;
        check(rc, "close");
    }

    /// Sets metadata, tags and a description on the folder `path` (not given: the run's own).
    /// A field not given is left as it is; empty tags clear the folder's tags.
    void set_folder_details(std::string_view path = {}, const std::optional<metadata> &md = {},
                            const std::optional<strings> &tags = {},
                            std::string_view description = {}) {
        detail::opt_c_string c_path(path), c_description(description);
        std::optional<std::string> json;
        if (md && !(json = metadata_json(*md, "set_folder_details"))) {
            return;
        }
        static const std::vector<std::string> none;
        const auto &t = tags ? tags->get() : none;
        detail::c_strings c_tags(t.begin(), t.end(), [](const std::string &s) { return std::string_view(s); });
        static const char *const empty[1] = {nullptr};
        const char *const *tag_ptrs = tags ? (t.empty() ? empty : c_tags.data()) : nullptr;
        check(simvue_run_set_folder_details(handle_, c_path.get(),
                                            json ? json->c_str() : nullptr, tag_ptrs,
                                            c_tags.size(), c_description.get()),
              "set_folder_details");
    }

    /// Defines an alert and attaches it; returns its id (empty for a disabled run, or when the
    /// failure was suppressed).
    std::string add_alert(const alert &a) {
        char id[SIMVUE_ID_BUFFER_SIZE] = {0};
        simvue_result rc = simvue_run_add_alert(
            handle_, detail::c_string(a.name).c_str(), static_cast<std::int32_t>(a.source), a.frequency, a.window,
            static_cast<std::int32_t>(a.rule), detail::c_string(a.metric).c_str(), a.threshold, a.range_low,
            a.range_high, static_cast<std::int32_t>(a.notify), detail::c_string(a.pattern).c_str(), id,
            sizeof id);
        check(rc, "add_alert");
        return rc == SIMVUE_OK ? std::string(id) : std::string();
    }

    /// Creates a metric threshold alert (rule is_above / is_below `threshold`) and, unless
    /// `opts.attach_to_run` is false, attaches it; returns its id (empty when the run is
    /// disabled or the failure was suppressed).
    std::string create_metric_threshold_alert(std::string_view name, std::string_view metric,
                                              double threshold, alert_rule rule,
                                              const alert_options &opts = {}) {
        return create_alert("create_metric_threshold_alert", [&](char *id, std::size_t n) {
            return simvue_run_create_metric_threshold_alert(
                handle_, detail::c_string(name).c_str(), detail::c_string(metric).c_str(), threshold,
                static_cast<std::int32_t>(rule), detail::c_str_or_null(opts.c_description()), opts.window,
                opts.frequency, static_cast<std::int32_t>(opts.aggregation),
                static_cast<std::int32_t>(opts.notify), opts.trigger_abort ? 1 : 0,
                opts.attach_to_run ? 1 : 0, id, n);
        });
    }

    /// Creates a metric range alert (rule is_inside_range / is_outside_range [low, high]).
    std::string create_metric_range_alert(std::string_view name, std::string_view metric,
                                          double range_low, double range_high, alert_rule rule,
                                          const alert_options &opts = {}) {
        return create_alert("create_metric_range_alert", [&](char *id, std::size_t n) {
            return simvue_run_create_metric_range_alert(
                handle_, detail::c_string(name).c_str(), detail::c_string(metric).c_str(), range_low,
                range_high, static_cast<std::int32_t>(rule), detail::c_str_or_null(opts.c_description()), opts.window,
                opts.frequency, static_cast<std::int32_t>(opts.aggregation),
                static_cast<std::int32_t>(opts.notify), opts.trigger_abort ? 1 : 0,
                opts.attach_to_run ? 1 : 0, id, n);
        });
    }

    /// Creates an events alert that fires when an event message contains `pattern` (window
    /// and aggregation of `opts` are not used).
    std::string create_event_alert(std::string_view name, std::string_view pattern,
                                   const alert_options &opts = {}) {
        return create_alert("create_event_alert", [&](char *id, std::size_t n) {
            return simvue_run_create_event_alert(
                handle_, detail::c_string(name).c_str(), detail::c_string(pattern).c_str(),
                detail::c_str_or_null(opts.c_description()), opts.frequency, static_cast<std::int32_t>(opts.notify),
                opts.trigger_abort ? 1 : 0, opts.attach_to_run ? 1 : 0, id, n);
        });
    }

    /// Creates a user alert, whose state the program sets with `log_alert`.
    std::string create_user_alert(std::string_view name, const alert_options &opts = {}) {
        return create_alert("create_user_alert", [&](char *id, std::size_t n) {
            return simvue_run_create_user_alert(
                handle_, detail::c_string(name).c_str(), detail::c_str_or_null(opts.c_description()),
                static_cast<std::int32_t>(opts.notify), opts.trigger_abort ? 1 : 0,
                opts.attach_to_run ? 1 : 0, id, n);
        });
    }

    /// Sets the state of the user alert with id `identifier` for this run.
    void log_alert(std::string_view identifier, alert_state state = alert_state::critical) {
        check(simvue_run_log_alert(handle_, detail::c_string(identifier).c_str(), nullptr,
                                   static_cast<std::int32_t>(state)),
              "log_alert");
    }

    /// Sets the state of the user alert named `name` (online: looked up on the server).
    void log_alert_by_name(std::string_view name, alert_state state = alert_state::critical) {
        check(simvue_run_log_alert(handle_, nullptr, detail::c_string(name).c_str(),
                                   static_cast<std::int32_t>(state)),
              "log_alert");
    }

    /// Attaches existing alerts by id and (online) by name.
    void add_alerts(const strings &ids, const strings &names = {}) {
        const auto &i = ids.get();
        const auto &n = names.get();
        auto view = [](const std::string &s) { return std::string_view(s); };
        detail::c_strings c_ids(i.begin(), i.end(), view), c_names(n.begin(), n.end(), view);
        check(simvue_run_add_alerts(handle_, c_ids.data(), c_ids.size(), c_names.data(),
                                    c_names.size()),
              "add_alerts");
    }

    /// Metric sets and events dropped so far because a queue was full.
    dropped_counts dropped() const {
        dropped_counts d;
        check(simvue_run_dropped(handle_, &d.metrics, &d.events), "dropped");
        return d;
    }

    /// Metric sets and events lost so far: written neither to the server nor to the offline
    /// cache (final after `close`, which then throws; the run ends `lost`).
    lost_counts lost_items() const {
        lost_counts l;
        check(simvue_run_lost_items(handle_, &l.metrics, &l.events), "lost_items");
        return l;
    }

    /// Whether the run suppresses errors.
    bool suppress_errors() const {
        std::int32_t out = 1;
        check(simvue_run_suppress_errors(handle_, &out), "suppress_errors");
        return out != 0;
    }

    /// Calls `f` once, on the library's background thread, when an abort is requested from the
    /// web UI (online runs); an empty function removes it. `f` should only set a flag.
    void set_abort_callback(std::function<void()> f) {
        auto holder = f ? std::make_unique<std::function<void()>>(std::move(f)) : nullptr;
        simvue_result rc = simvue_run_set_abort_callback(
            handle_, holder ? simvue_hpp_abort_trampoline : nullptr, holder.get());
        if (rc == SIMVUE_OK) {
            // The library no longer holds the previous one; the new one lives with the run.
            callback_ = std::move(holder);
        }
        check(rc, "set_abort_callback");
    }

    /// Whether an abort was requested from the web UI.
    bool abort_requested() const {
        std::int32_t out = 0;
        check(simvue_run_abort_requested(handle_, &out), "abort_requested");
        return out != 0;
    }

    /// How often (seconds) an online run asks whether an abort was requested; before init.
    void set_abort_poll_interval(double seconds) {
        check(simvue_run_set_abort_poll_interval(handle_, seconds), "set_abort_poll_interval");
    }

    /// Chooses the signals the run handles (`"TERM,USR2"`, `"none"`; not given: the default
    /// TERM, INT, XCPU, USR1, USR2), what it does when one arrives, and how long flushing and
    /// closing may take then (seconds; not given: 10). Before init; the environment
    /// (SIMVUE_SIGNALS, SIMVUE_SIGNAL_ACTION, SIMVUE_SIGNAL_TIMEOUT) overrides it.
    void set_signals(std::string_view signals = {}, std::optional<signal_action> action = {},
                     std::optional<double> deadline_seconds = {}) {
        detail::opt_c_string c_signals(signals);
        check(simvue_run_set_signals(handle_, c_signals.get(),
                                     action ? static_cast<std::int32_t>(*action) : SIMVUE_KEEP,
                                     deadline_seconds.value_or(-1.0)),
              "set_signals");
    }

    /// Calls `f` with the signal number, on the library's signal thread, when one of the run's
    /// signals arrives and before the library acts on it (it may write a checkpoint); an empty
    /// function removes it.
    void set_signal_callback(std::function<void(int)> f) {
        auto holder = f ? std::make_unique<std::function<void(int)>>(std::move(f)) : nullptr;
        simvue_result rc = simvue_run_set_signal_callback(
            handle_, holder ? simvue_hpp_signal_trampoline : nullptr, holder.get());
        if (rc == SIMVUE_OK) {
            signal_callback_ = std::move(holder);
        }
        check(rc, "set_signal_callback");
    }

    /// The environment variables recorded as the metadata `shell` at init (`fnmatch` patterns
    /// such as "SLURM_*"), replacing `[run] record_shell_vars`; before init.
    void set_record_shell_vars(const strings &patterns) {
        const auto &p = patterns.get();
        detail::c_strings c_p(p.begin(), p.end(), [](const std::string &s) { return std::string_view(s); });
        check(simvue_run_set_record_shell_vars(handle_, c_p.data(), c_p.size()),
              "set_record_shell_vars");
    }

    /// Energy and emissions with every resource sample (`[metrics] enable_emission_metrics`);
    /// see simvue_run_set_emission_metrics. Before init.
    void set_emission_metrics(bool enable) {
        check(simvue_run_set_emission_metrics(handle_, enable ? 1 : 0), "set_emission_metrics");
    }

    /// Silences the lines the library prints about the run at init and close (SIMVUE_QUIET
    /// wins); before init.
    void set_quiet(bool quiet) { check(simvue_run_set_quiet(handle_, quiet ? 1 : 0), "set_quiet"); }

    /// The first of the run's signals that arrived (e.g. SIGUSR1), or 0.
    int signal_received() const {
        std::int32_t out = 0;
        check(simvue_run_signal_received(handle_, &out), "signal_received");
        return static_cast<int>(out);
    }

    /// Saves the file `filename` as `c`. `filetype`: a MIME type (not given: guessed from the
    /// name); `preserve_path`: name the artifact by its path relative to the working directory;
    /// `name`: the artifact's name (not given: derived from the file's); `md`: the artifact's
    /// metadata.
    void save(std::string_view filename, category c, std::string_view filetype = {},
              bool preserve_path = false, std::string_view name = {},
              save_flags flags = save_flags::none, const std::optional<metadata> &md = {}) {
        detail::opt_c_string c_type(filetype), c_name(name);
        std::optional<std::string> json;
        if (md && !(json = metadata_json(*md, "save"))) {
            return;
        }
        check(simvue_run_save_ex(handle_, detail::c_string(filename).c_str(),
                                 static_cast<std::int32_t>(c), c_type.get(), preserve_path ? 1 : 0,
                                 c_name.get(), static_cast<std::uint32_t>(flags),
                                 json ? json->c_str() : nullptr),
              "save");
    }

    /// Saves every regular file below `directory`; as `save`.
    void save_directory(std::string_view directory, category c, std::string_view filetype = {},
                        bool preserve_path = false, save_flags flags = save_flags::none) {
        detail::opt_c_string c_type(filetype);
        check(simvue_run_save_directory(handle_, detail::c_string(directory).c_str(),
                                        static_cast<std::int32_t>(c), c_type.get(),
                                        preserve_path ? 1 : 0, static_cast<std::uint32_t>(flags)),
              "save_directory");
    }

    /// Saves the files and directories `paths`; as `save_directory`.
    void save_all(const strings &paths, category c, std::string_view filetype = {},
                  bool preserve_path = false, save_flags flags = save_flags::none) {
        const auto &p = paths.get();
        detail::c_strings c_paths(p.begin(), p.end(),
                                  [](const std::string &s) { return std::string_view(s); });
        detail::opt_c_string c_type(filetype);
        check(simvue_run_save_all(handle_, c_paths.data(), c_paths.size(),
                                  static_cast<std::int32_t>(c), c_type.get(),
                                  preserve_path ? 1 : 0, static_cast<std::uint32_t>(flags)),
              "save_all");
    }

    /// Saves `size` bytes at `data` as the artifact `name` (copied before the call returns).
    /// `filetype`: a MIME type (not given: application/octet-stream); `flags` may hold `wait`.
    void save_bytes(std::string_view name, const void *data, std::size_t size, category c,
                    std::string_view filetype = {}, save_flags flags = save_flags::none,
                    const std::optional<metadata> &md = {}) {
        detail::opt_c_string c_type(filetype);
        std::optional<std::string> json;
        if (md && !(json = metadata_json(*md, "save_bytes"))) {
            return;
        }
        check(simvue_run_save_bytes_ex(handle_, detail::c_string(name).c_str(), data, size,
                                       static_cast<std::int32_t>(c), c_type.get(),
                                       static_cast<std::uint32_t>(flags),
                                       json ? json->c_str() : nullptr),
              "save_bytes");
    }

    /// Saves a string (text, JSON) as the artifact `name`.
    void save_bytes(std::string_view name, std::string_view data, category c,
                    std::string_view filetype = {}, save_flags flags = save_flags::none,
                    const std::optional<metadata> &md = {}) {
        save_bytes(name, data.data(), data.size(), c, filetype, flags, md);
    }

private:
    void release() noexcept {
        if (handle_ == nullptr) {
            return;
        }
        if (started_ && !closed_ && std::uncaught_exceptions() > exceptions_) {
            // The run's scope is left through an exception: the run failed.
            simvue_run_set_status(handle_, SIMVUE_STATUS_FAILED);
        }
        simvue_run_free(handle_); // closes the run if it is open
        handle_ = nullptr;
    }

    /// Translates a result: an error the library has reported (printed, because the run
    /// suppresses errors) returns; any other throws. The policy is the library's.
    void check(simvue_result rc, const char *op) const {
        if (rc == SIMVUE_OK || simvue_last_error_reported() != 0) {
            return;
        }
        throw error(rc, std::string("simvue::run::") + op + ": " + detail::last_error_message());
    }

    std::optional<std::string> metadata_json(const metadata &md, const char *op) const {
        std::string bad_key;
        std::optional<std::string> json = detail::to_json(md, &bad_key);
        if (!json) {
            // No JSON form: the C API refuses the value itself, with its message and its
            // error policy (a disabled run accepts it and records nothing).
            check(simvue_run_set_metadata_double(handle_, bad_key.c_str(),
                                                 std::get<double>(md.at(bad_key).get())),
                  op);
        }
        return json;
    }

    template <class F>
    std::string create_alert(const char *op, F f) {
        char id[SIMVUE_ID_BUFFER_SIZE] = {0};
        simvue_result rc = f(id, sizeof id);
        check(rc, op);
        return rc == SIMVUE_OK ? std::string(id) : std::string();
    }

    template <class F>
    std::string get_string(F f, const char *op) const {
        std::string s(128, '\0');
        std::size_t needed = 0;
        simvue_result rc = f(handle_, s.data(), s.size(), &needed);
        if (rc == SIMVUE_ERROR_BUFFER_TOO_SMALL) {
            s.assign(needed + 1, '\0');
            rc = f(handle_, s.data(), s.size(), &needed);
        }
        check(rc, op);
        s.resize(rc == SIMVUE_OK ? needed : 0);
        return s;
    }

    template <class It>
    void log_metrics_range(It first, It last, std::optional<std::int64_t> step,
                           std::optional<double> time, std::string_view timestamp) {
        detail::c_strings names(first, last, [](const auto &kv) { return std::string_view(kv.first); });
        std::array<double, 32> small;
        std::vector<double> big;
        double *values = small.data();
        if (names.size() > small.size()) {
            big.resize(names.size());
            values = big.data();
        }
        std::size_t i = 0;
        for (It it = first; it != last; ++it) {
            values[i++] = it->second;
        }
        std::uint32_t flags = (step ? SIMVUE_METRICS_STEP : 0u) | (time ? SIMVUE_METRICS_TIME : 0u);
        detail::opt_c_string c_ts(timestamp);
        check(simvue_run_log_metrics_ex(handle_, names.data(), values, names.size(), flags,
                                        step.value_or(0), time.value_or(0.0), c_ts.get()),
              "log_metrics");
    }

    simvue_run *handle_ = nullptr;
    int exceptions_ = 0;
    bool started_ = false;
    bool closed_ = false;
    std::unique_ptr<std::function<void()>> callback_;
    std::unique_ptr<std::function<void(int)>> signal_callback_;
};

} // namespace simvue

#endif // SIMVUE_HPP
