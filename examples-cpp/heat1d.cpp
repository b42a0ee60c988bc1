// heat1d: the explicit finite-difference solver of examples-c/heat1d.c for the 1-D heat equation
//
//     du/dt = alpha d2u/dx2,  u(0) = u(1) = 0,  u(x, 0) = 100 sin(pi x)
//
// tracked with simvue.hpp exactly as the C example tracks it: the same run name, folder, tags,
// metadata keys and types, alerts, events, metric names and steps, saved files and final status
// (only the metadata value `language` and the saved source differ). The run closes itself at the
// end of main's scope; an exception leaving it would mark the run `failed`.
//
// Saved with the run, as by the C example: the input deck heat1d.in (input), this source file
// (code), the final field heat1d_field.csv (output, a snapshot) and summary.json from memory
// (output); the files have the C example's contents byte for byte. The source's path comes from
// -DHEAT1D_SOURCE="..." (the build sets it), else __FILE__.
//
// Usage: heat1d_cpp [nx] [steps]
// The mode comes from SIMVUE_MODE (offline by default here); offline runs go to
// SIMVUE_OFFLINE_DIRECTORY (or ~/.simvue) for simvue-sender to upload.
#include "simvue.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#ifndef HEAT1D_SOURCE
#define HEAT1D_SOURCE __FILE__
#endif

namespace {

// Writes `text` to the file `path`; true on success.
bool write_text(const char *path, const std::string &text) {
    std::FILE *f = std::fopen(path, "w");
    bool ok = f != nullptr && std::fputs(text.c_str(), f) != EOF;
    if (f != nullptr && std::fclose(f) != 0) {
        ok = false;
    }
    if (!ok) {
        std::fprintf(stderr, "heat1d: cannot write %s\n", path);
    }
    return ok;
}

// `x` with 6 decimals, as printf's "%.6f".
std::string fixed6(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", x);
    return buf;
}

// `x` as a JSON number with 6 decimals (null when it is not finite: JSON has no NaN).
std::string json_number(double x) { return std::isfinite(x) ? fixed6(x) : "null"; }

} // namespace

int main(int argc, char **argv) {
    const int nx = argc > 1 ? std::atoi(argv[1]) : 64;
    const int steps = argc > 2 ? std::atoi(argv[2]) : 2000;
    const double alpha = 0.01;
    const double pi = 3.14159265358979323846;
    if (nx < 3 || steps < 1) {
        std::fprintf(stderr, "usage: heat1d [nx >= 3] [steps >= 1]\n");
        return 2;
    }
    const double dx = 1.0 / (nx - 1);
    const double dt = 0.4 * dx * dx / alpha; // stable: alpha dt / dx^2 = 0.4 < 0.5

    std::vector<double> u(static_cast<std::size_t>(nx)), un(u.size());
    for (int i = 0; i < nx; i++) {
        u[i] = 100.0 * std::sin(pi * i * dx);
    }

    // The input deck this run "reads", written here so that there is one to save.
    const bool have_deck = write_text("heat1d.in", "nx = " + std::to_string(nx) + "\nsteps = " +
                                                       std::to_string(steps) + "\nalpha = 0.01\n");

    double t = 0.0;
    bool diverged = false;
    {
        simvue::run run(simvue::mode::offline);
        run.config(simvue::config_options{}.set_queue_blocking(true).set_disable_resources_metrics(
            true));

        // Metadata key by key and as one object.
        run.set_metadata("nx", nx);
        run.set_metadata("alpha", alpha);
        run.set_metadata("scheme", "ftcs");
        run.init("heat-1d-demo", {{"dt", 0.0}, {"language", "C++"}}, {"heat", "1d"},
                 "1-D heat equation", "/examples/heat");
        run.set_metadata("dt", dt);
        std::printf("run %s (%s)\n", run.name().c_str(), run.id().c_str());

        // The input deck and this program's source, named by their base names.
        if (have_deck) {
            run.save("heat1d.in", simvue::category::input);
        }
        run.save(HEAT1D_SOURCE, simvue::category::code);

        using simvue::alert;
        using simvue::alert_rule;
        run.add_alert(alert::threshold_rule("residual-too-high", "residual", alert_rule::is_above,
                                            1.0, 1, 1));
        run.add_alert(alert::range_rule("temp-out-of-range", "t_max",
                                        alert_rule::is_outside_range, 0.0, 100.0, 1, 1));
        run.add_alert(alert::events("diverged", "diverged", 1));
        run.log_event("starting time loop");

        for (int n = 0; n < steps; n++) {
            double residual = 0.0;
            double tmax = 0.0;
            un[0] = un[nx - 1] = 0.0;
            for (int i = 1; i < nx - 1; i++) {
                un[i] = u[i] + alpha * dt / (dx * dx) * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
                residual = std::fmax(residual, std::fabs(un[i] - u[i]));
                tmax = std::fmax(tmax, un[i]);
            }
            std::swap(u, un);
            t += dt;
            const double exact = 100.0 * std::exp(-alpha * pi * pi * t);
            if (n % 10 == 0 || n == steps - 1) {
                run.log_metrics(
                    {{"residual", residual}, {"t_max", tmax}, {"error", std::fabs(tmax - exact)}},
                    n);
            }
            if (!std::isfinite(tmax)) {
                diverged = true;
                run.log_event("solution diverged");
                break;
            }
        }

        char msg[128];
        std::snprintf(msg, sizeof msg, "finished %d steps, t = %.4f, u_max = %.6f", steps, t,
                      u[nx / 2]);
        run.log_event(msg);

        // The final field, saved as a snapshot (the file may be rewritten later), and a summary
        // from memory.
        std::string field = "x,u\n";
        for (int i = 0; i < nx; i++) {
            field += fixed6(i * dx) + "," + fixed6(u[i]) + "\n";
        }
        if (write_text("heat1d_field.csv", field)) {
            run.save("heat1d_field.csv", simvue::category::output, {}, false, {},
                     simvue::save_flags::snapshot);
        }
        const std::string summary = "{\"nx\": " + std::to_string(nx) + ", \"steps\": " +
                                    std::to_string(steps) + ", \"t_final\": " + json_number(t) +
                                    ", \"u_max\": " + json_number(u[nx / 2]) +
                                    ", \"diverged\": " + (diverged ? "true" : "false") + "}";
        run.save_bytes("summary.json", summary, simvue::category::output, "application/json");
        run.update_metadata({{"t_final", 0.0}});
        run.set_metadata("t_final", t);
        if (!diverged) {
            run.update_tags({"converged"});
        }
        run.set_folder_details({}, simvue::metadata{{"project", "demo"}},
                               simvue::strings{"examples"}, "Example runs");
        run.set_status(diverged ? simvue::status::failed : simvue::status::completed);
    } // the run is closed here

    std::printf("u(0.5, %.4f) = %.6f (exact %.6f)\n", t, u[nx / 2],
                100.0 * std::exp(-alpha * pi * pi * t));
    return diverged ? 1 : 0;
}
