//! `simvue_resources_*`: resource samples for a process that holds no run (an MPI rank other
//! than 0, for `simvue_mpi_log_resources`).

use super::result::{guard, simvue_result, FfiError};
use crate::error::ErrorKind;

/// Samples the process `pid` (0: the calling process) and its descendants: `*cpu_percent`
/// receives their CPU use since the previous call for the same `pid` in this process (the first
/// call: since the process started), in percent of one core (it can exceed 100), and
/// `*memory_mib` their resident memory in MiB. Each call reads `/proc`; call it every few
/// steps, not in the innermost loop. `SIMVUE_ERROR_NOT_FOUND` when there is no such process.
///
/// # Safety
/// `cpu_percent` and `memory_mib` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn simvue_resources_sample(
    pid: i64,
    cpu_percent: *mut f64,
    memory_mib: *mut f64,
) -> simvue_result {
    guard(|| {
        if cpu_percent.is_null() || memory_mib.is_null() {
            return Err(FfiError::null(
                "cpu_percent and memory_mib must not be NULL",
            ));
        }
        let pid = match pid {
            0 => std::process::id(),
            p if p > 0 && p <= i64::from(i32::MAX) => p as u32,
            p => return Err(FfiError::invalid(format!("{p} is not a process id"))),
        };
        let s = crate::monitor::sample_process(pid).ok_or_else(|| {
            crate::error::Error::new(ErrorKind::NotFound, format!("no process {pid}"))
        })?;
        *cpu_percent = s.cpu_percent;
        *memory_mib = s.memory_mib;
        Ok(())
    })
}
