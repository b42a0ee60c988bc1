//! What a run records about where it runs (shell variables; the batch job is automatic), what
//! it uses (emission metrics), and what it says on stderr (quiet).

use std::ffi::c_char;

use super::super::convert::str_array;
use super::super::result::{simvue_result, FfiError};
use super::{flag, simvue_run, with_enabled_run};

/// Chooses the environment variables recorded in the run's metadata as `shell` at init: `n`
/// `fnmatch` patterns (`"SLURM_*"`, `"OMP_NUM_THREADS"`, `"PBS_[JQ]*"`), replacing
/// `[run] record_shell_vars` of simvue.toml, as the `record_shell_vars` argument of the Python
/// client's `init` does; `n` = 0 records none. `SIMVUE_TOKEN`, and any variable holding the
/// token, are never recorded. Before `simvue_run_init`.
///
/// The batch job (SLURM, PBS/Torque, LSF, Flux) is recorded without asking, as the metadata
/// `batch_job`: `scheduler`, `id`, and where the scheduler tells them `name`, `queue`,
/// `nodes`, `tasks`, `nodelist`, `array_index`, `account`, `cluster`.
///
/// # Safety
/// `run` is NULL or a live handle; `patterns` is NULL or holds `n` string pointers.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_record_shell_vars(
    run: *mut simvue_run,
    patterns: *const *const c_char,
    n: usize,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let patterns = str_array(patterns, n, "patterns")?;
        Ok(run.set_record_shell_vars(&patterns)?)
    })
}

/// Turns the emission metrics on (1) or off (0), as `[metrics] enable_emission_metrics` and the
/// Python client's `config(enable_emission_metrics=True)` do: with every resource sample the
/// run logs `sustainability.energy_consumed.total` / `.delta` (kWh) and, given `[eco]
/// co2_intensity` (g CO2e/kWh) in simvue.toml, `sustainability.emissions.total` / `.delta` (kg
/// CO2e). The energy is measured where the machine tells it (Linux RAPL for the CPU packages
/// where readable, NVML for the GPUs the run uses) and estimated as the Python client does
/// otherwise (`[eco] cpu_thermal_design_power`, `cpu_n_cores`, `gpu_thermal_design_power`);
/// the run's metadata `sustainability` says which. Needs resource metrics
/// (`SIMVUE_ERROR_STATE` when they are disabled). Before `simvue_run_init`.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_emission_metrics(
    run: *mut simvue_run,
    enable: i32,
) -> simvue_result {
    with_enabled_run(run, |run| {
        let enable = flag(enable, "enable")?
            .ok_or_else(|| FfiError::unknown_enum("enable must be 0 or 1"))?;
        Ok(run.set_emission_metrics(enable)?)
    })
}

/// Silences (1) or restores (0) the two lines the library prints about the run on stderr: at
/// init, where to see it (online: its page on the server; offline: the cache and the command
/// that uploads it); at close, its final status and what became of what was logged (sent or
/// written, written to the cache for later upload, dropped, lost; files saved). The
/// environment variable `SIMVUE_QUIET` (`1`; `0` to keep them) wins over this. Errors are
/// still printed as `suppress_errors` says. Before `simvue_run_init`.
///
/// # Safety
/// `run` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn simvue_run_set_quiet(run: *mut simvue_run, quiet: i32) -> simvue_result {
    with_enabled_run(run, |run| {
        let quiet =
            flag(quiet, "quiet")?.ok_or_else(|| FfiError::unknown_enum("quiet must be 0 or 1"))?;
        Ok(run.set_quiet(quiet)?)
    })
}
