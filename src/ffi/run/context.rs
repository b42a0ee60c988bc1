//! What a run records about where it runs: shell variables (the batch job is automatic).

use std::ffi::c_char;

use super::super::convert::str_array;
use super::super::result::simvue_result;
use super::{simvue_run, with_enabled_run};

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
