//! Resource metrics of the monitored process and its children, under the Python client's names
//! (`simvue/metrics.py:165-176`): CPU percent summed over the process tree (can exceed 100),
//! resident memory in MiB, and the GPUs the tree uses; with emission metrics, energy and
//! emissions.
//!
//! [`process`] reads the process tree from `/proc`, [`gpu`] the GPUs through NVML (loaded at
//! run time, if there), [`energy`] measures or estimates the energy used.

pub mod energy;
pub mod gpu;
pub mod process;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use energy::{EnergySettings, Meter};
use gpu::Gpus;
use process::{ProcessTree, TreeSample};

/// What a run's resource samples hold besides CPU, memory and GPUs.
#[derive(Debug, Clone, Default)]
pub struct MonitorOptions {
    /// Energy and emissions (`enable_emission_metrics`), on what they rest.
    pub energy: Option<EnergySettings>,
}

/// Metric name of the CPU usage, percent of one core summed over the process tree.
pub const CPU_PERCENT: &str = "resources/cpu.usage.percentage";
/// Metric name of the resident memory of the process tree, in MiB.
pub const MEMORY_MIB: &str = "resources/cpu.usage.memory";

/// Samples one process tree for a run's resource metrics. The baseline is taken at
/// construction, so the first sample has a CPU percentage (and energy) measured over a real
/// interval.
pub struct Monitor {
    tree: ProcessTree,
    gpus: Option<Gpus>,
    meter: Option<Meter>,
}

impl Monitor {
    /// Starts monitoring `pid` and its descendants.
    pub fn new(pid: u32, options: &MonitorOptions) -> Monitor {
        Monitor {
            tree: ProcessTree::new(pid),
            gpus: Gpus::open(),
            meter: options.energy.clone().map(Meter::new),
        }
    }

    /// Switches to another process (`set_pid`).
    pub fn set_pid(&mut self, pid: u32) {
        self.tree.set_root(pid);
    }

    /// The monitored pid.
    pub fn pid(&self) -> u32 {
        self.tree.root()
    }

    /// The metric values of one sample, or `None` when the process no longer exists.
    pub fn sample(&mut self) -> Option<Vec<(Arc<str>, f64)>> {
        let s = self.tree.sample()?;
        let mut values = vec![
            (Arc::from(CPU_PERCENT), s.cpu_percent),
            (Arc::from(MEMORY_MIB), s.memory_mib),
        ];
        let gpus = self
            .gpus
            .as_ref()
            .map(|g| g.sample(&s.pids))
            .unwrap_or_default();
        values.extend(Gpus::values(&gpus));
        if let Some(m) = &mut self.meter {
            values.extend(m.sample(s.cpu_percent, &gpus));
        }
        Some(values)
    }
}

/// Process trees sampled by [`sample_process`], by root pid.
static TREES: Mutex<Option<HashMap<u32, ProcessTree>>> = parking_lot::const_mutex(None);

/// Samples the tree of `pid` for a program that holds no run (an MPI rank other than 0): CPU
/// use since the previous call for the same pid in this process (the first call: since the
/// process started) and resident memory. `None` when there is no such process.
pub fn sample_process(pid: u32) -> Option<TreeSample> {
    let mut trees = TREES.lock();
    let trees = trees.get_or_insert_with(HashMap::new);
    let tree = match trees.entry(pid) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => e.insert(ProcessTree::since_start(pid)?),
    };
    let sample = tree.sample();
    if sample.is_none() {
        trees.remove(&pid);
    }
    sample
}
