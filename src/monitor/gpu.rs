//! NVIDIA GPUs through NVML, loaded at run time with `dlopen("libnvidia-ml.so.1")`: nothing is
//! needed at build time, and on a machine without the library (or without a GPU) nothing
//! happens. NVML is initialised once per process and never shut down (initialising it takes a
//! noticeable time; the Python client pays it at every sample).
//!
//! Per GPU used by the monitored process tree (a pid of the tree among the GPU's compute or
//! graphics processes): utilisation and memory used, in percent, under the Python client's
//! names `resources/gpu.utilisation.percent.<i>` and `resources/gpu.utilisation.memory.<i>`
//! (`simvue/metrics.py`), `<i>` being NVML's device index; and the energy it used, for the
//! emission metrics. The `system.gpu` record gets the first GPU's name and the driver version,
//! which the Python client reads from `nvidia-smi`.

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr};
use std::sync::Arc;

use once_cell::sync::OnceCell;

type Device = *mut c_void;
type Ret = c_int;
const SUCCESS: Ret = 0;
const INSUFFICIENT_SIZE: Ret = 7;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Utilization {
    gpu: c_uint,
    memory: c_uint,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Memory {
    total: c_ulonglong,
    free: c_ulonglong,
    used: c_ulonglong,
}

/// `nvmlProcessInfo_t` of the `_v2` and `_v3` calls.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ProcessInfo {
    pid: c_uint,
    used_gpu_memory: c_ulonglong,
    gpu_instance_id: c_uint,
    compute_instance_id: c_uint,
}

/// `nvmlProcessInfo_v1_t` of the calls without a suffix (drivers older than 450).
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ProcessInfoV1 {
    pid: c_uint,
    used_gpu_memory: c_ulonglong,
}

type ProcessesFn = unsafe extern "C" fn(Device, *mut c_uint, *mut c_void) -> Ret;

/// The NVML functions the library uses.
struct Nvml {
    device_count: unsafe extern "C" fn(*mut c_uint) -> Ret,
    handle_by_index: unsafe extern "C" fn(c_uint, *mut Device) -> Ret,
    name: unsafe extern "C" fn(Device, *mut c_char, c_uint) -> Ret,
    driver_version: unsafe extern "C" fn(*mut c_char, c_uint) -> Ret,
    utilization: unsafe extern "C" fn(Device, *mut Utilization) -> Ret,
    memory: unsafe extern "C" fn(Device, *mut Memory) -> Ret,
    /// Compute and graphics processes, with whether the call takes `ProcessInfoV1`.
    processes: Vec<(ProcessesFn, bool)>,
    power: Option<unsafe extern "C" fn(Device, *mut c_uint) -> Ret>,
    energy: Option<unsafe extern "C" fn(Device, *mut c_ulonglong) -> Ret>,
}

// SAFETY: NVML's functions are thread-safe (NVML documentation, "Multi-threaded usage").
unsafe impl Send for Nvml {}
unsafe impl Sync for Nvml {}

/// Looks `name` up in the library `lib`.
///
/// # Safety
/// `lib` is a handle from dlopen; `T` is the function's true type.
unsafe fn symbol<T: Copy>(lib: *mut c_void, name: &CStr) -> Option<T> {
    let p = libc::dlsym(lib, name.as_ptr());
    (!p.is_null()).then(|| std::mem::transmute_copy::<*mut c_void, T>(&p))
}

impl Nvml {
    /// Loads and initialises NVML, once per process; `None` where it is not available.
    fn get() -> Option<&'static Nvml> {
        static NVML: OnceCell<Option<Nvml>> = OnceCell::new();
        NVML.get_or_init(|| {
            // SAFETY: dlopen of a library by its SONAME; the symbols are NVML's documented C
            // functions with the signatures declared above.
            unsafe {
                let lib = libc::dlopen(c"libnvidia-ml.so.1".as_ptr(), libc::RTLD_NOW);
                if lib.is_null() {
                    return None;
                }
                let init: unsafe extern "C" fn() -> Ret =
                    symbol(lib, c"nvmlInit_v2").or_else(|| symbol(lib, c"nvmlInit"))?;
                if init() != SUCCESS {
                    return None;
                }
                let mut processes = Vec::new();
                for (v3, v2, v1) in [
                    (
                        c"nvmlDeviceGetComputeRunningProcesses_v3",
                        c"nvmlDeviceGetComputeRunningProcesses_v2",
                        c"nvmlDeviceGetComputeRunningProcesses",
                    ),
                    (
                        c"nvmlDeviceGetGraphicsRunningProcesses_v3",
                        c"nvmlDeviceGetGraphicsRunningProcesses_v2",
                        c"nvmlDeviceGetGraphicsRunningProcesses",
                    ),
                ] {
                    if let Some(f) = symbol(lib, v3).or_else(|| symbol(lib, v2)) {
                        processes.push((f, false));
                    } else if let Some(f) = symbol(lib, v1) {
                        processes.push((f, true));
                    }
                }
                Some(Nvml {
                    device_count: symbol(lib, c"nvmlDeviceGetCount_v2")
                        .or_else(|| symbol(lib, c"nvmlDeviceGetCount"))?,
                    handle_by_index: symbol(lib, c"nvmlDeviceGetHandleByIndex_v2")
                        .or_else(|| symbol(lib, c"nvmlDeviceGetHandleByIndex"))?,
                    name: symbol(lib, c"nvmlDeviceGetName")?,
                    driver_version: symbol(lib, c"nvmlSystemGetDriverVersion")?,
                    utilization: symbol(lib, c"nvmlDeviceGetUtilizationRates")?,
                    memory: symbol(lib, c"nvmlDeviceGetMemoryInfo")?,
                    processes,
                    power: symbol(lib, c"nvmlDeviceGetPowerUsage"),
                    energy: symbol(lib, c"nvmlDeviceGetTotalEnergyConsumption"),
                })
            }
        })
        .as_ref()
    }

    fn devices(&self) -> Vec<(u32, Device)> {
        let mut n: c_uint = 0;
        // SAFETY: NVML writes the count, then a handle per index.
        unsafe {
            if (self.device_count)(&mut n) != SUCCESS {
                return Vec::new();
            }
            (0..n.min(1024))
                .filter_map(|i| {
                    let mut d: Device = std::ptr::null_mut();
                    ((self.handle_by_index)(i, &mut d) == SUCCESS).then_some((i, d))
                })
                .collect()
        }
    }

    /// The pids of the processes using `d`.
    fn pids(&self, d: Device) -> Vec<u32> {
        let mut out = Vec::new();
        for &(f, v1) in &self.processes {
            let mut cap: c_uint = 64;
            loop {
                let mut n = cap;
                // SAFETY: NVML fills at most `n` entries of the buffer of `cap` entries of the
                // struct this version of the call takes, and sets `n` to the number written (or
                // needed, with INSUFFICIENT_SIZE).
                let r = unsafe {
                    if v1 {
                        let mut buf = vec![ProcessInfoV1::default(); cap as usize];
                        let r = f(d, &mut n, buf.as_mut_ptr().cast());
                        if r == SUCCESS {
                            out.extend(buf[..(n.min(cap)) as usize].iter().map(|p| p.pid));
                        }
                        r
                    } else {
                        let mut buf = vec![ProcessInfo::default(); cap as usize];
                        let r = f(d, &mut n, buf.as_mut_ptr().cast());
                        if r == SUCCESS {
                            out.extend(buf[..(n.min(cap)) as usize].iter().map(|p| p.pid));
                        }
                        r
                    }
                };
                if r == INSUFFICIENT_SIZE && cap < 65_536 {
                    cap = (n + 16).max(cap * 2);
                    continue;
                }
                break;
            }
        }
        out
    }
}

fn string(f: impl FnOnce(*mut c_char, c_uint) -> Ret) -> Option<String> {
    let mut buf = [0 as c_char; 96];
    if f(buf.as_mut_ptr(), buf.len() as c_uint) != SUCCESS {
        return None;
    }
    buf[buf.len() - 1] = 0;
    // SAFETY: NUL-terminated within the buffer (forced above).
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

/// The first GPU's name and the driver version, for the run's `system.gpu`; `None` without
/// NVML or without a GPU.
pub fn describe() -> Option<(String, String)> {
    let nvml = Nvml::get()?;
    let (_, d) = *nvml.devices().first()?;
    // SAFETY: NVML writes a NUL-terminated string of at most the length given.
    let name = string(|b, n| unsafe { (nvml.name)(d, b, n) }).unwrap_or_default();
    let driver = string(|b, n| unsafe { (nvml.driver_version)(b, n) }).unwrap_or_default();
    Some((name, driver))
}

/// One GPU used by the monitored processes.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSample {
    /// NVML's device index.
    pub index: u32,
    /// Utilisation, percent.
    pub utilisation: f64,
    /// Memory used, percent of the total.
    pub memory: f64,
    /// Energy used since the driver was loaded, joules, where the GPU counts it (Volta and
    /// later).
    pub energy_j: Option<f64>,
    /// Power now, watts.
    pub power_w: Option<f64>,
}

/// The GPUs of a machine, for a run's samples.
#[derive(Clone)]
pub struct Gpus {
    nvml: &'static Nvml,
}

impl Gpus {
    /// The GPUs through NVML; `None` without NVML.
    pub fn open() -> Option<Gpus> {
        Some(Gpus { nvml: Nvml::get()? })
    }

    /// The GPUs one of `pids` uses, by device index.
    pub fn sample(&self, pids: &[u32]) -> Vec<GpuSample> {
        let nvml = self.nvml;
        let mut out = Vec::new();
        for (index, d) in nvml.devices() {
            if !nvml.pids(d).iter().any(|p| pids.contains(p)) {
                continue;
            }
            let (mut u, mut m) = (Utilization::default(), Memory::default());
            // SAFETY: NVML fills the structs; the optional calls write one integer.
            unsafe {
                if (nvml.utilization)(d, &mut u) != SUCCESS || (nvml.memory)(d, &mut m) != SUCCESS {
                    continue;
                }
                let energy_j = nvml.energy.and_then(|f| {
                    let mut mj: c_ulonglong = 0;
                    (f(d, &mut mj) == SUCCESS).then(|| mj as f64 / 1e3)
                });
                let power_w = nvml.power.and_then(|f| {
                    let mut mw: c_uint = 0;
                    (f(d, &mut mw) == SUCCESS).then(|| f64::from(mw) / 1e3)
                });
                out.push(GpuSample {
                    index,
                    utilisation: f64::from(u.gpu),
                    memory: if m.total > 0 {
                        100.0 * m.used as f64 / m.total as f64
                    } else {
                        0.0
                    },
                    energy_j,
                    power_w,
                });
            }
        }
        out
    }

    /// The metric values of `samples`, under the Python client's names.
    pub fn values(samples: &[GpuSample]) -> Vec<(Arc<str>, f64)> {
        samples
            .iter()
            .flat_map(|g| {
                [
                    (
                        Arc::from(format!("resources/gpu.utilisation.percent.{}", g.index)),
                        g.utilisation,
                    ),
                    (
                        Arc::from(format!("resources/gpu.utilisation.memory.{}", g.index)),
                        g.memory,
                    ),
                ]
            })
            .collect()
    }
}
