//! Resource metrics of the monitored process and its children, under the Python client's names
//! (`simvue/metrics.py:165-176`): CPU percent summed over the process tree (can exceed 100) and
//! resident memory in MiB.

use std::collections::HashMap;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Metric name of the CPU usage, percent of one core summed over the process tree.
pub const CPU_PERCENT: &str = "resources/cpu.usage.percentage";
/// Metric name of the resident memory of the process tree, in MiB.
pub const MEMORY_MIB: &str = "resources/cpu.usage.memory";

/// Samples one process tree. The first refresh happens at construction so that the first sample
/// has a CPU percentage measured over a real interval.
pub struct Monitor {
    sys: System,
    pid: u32,
}

impl Monitor {
    /// Starts monitoring `pid` and its descendants.
    pub fn new(pid: u32) -> Monitor {
        // sysinfo keeps /proc/<pid>/stat files open by default; an HPC node may have thousands
        // of processes and the solver needs its descriptors.
        sysinfo::set_open_files_limit(0);
        let mut m = Monitor {
            sys: System::new(),
            pid,
        };
        m.refresh();
        m
    }

    /// Switches to another process (`set_pid`).
    pub fn set_pid(&mut self, pid: u32) {
        if pid != self.pid {
            self.pid = pid;
            self.refresh();
        }
    }

    /// The monitored pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn refresh(&mut self) {
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::new().with_cpu().with_memory(),
        );
    }

    /// Refreshes and returns `(cpu_percent, memory_mib)` summed over the process and its
    /// descendants, or `None` when the process no longer exists.
    pub fn sample(&mut self) -> Option<(f64, f64)> {
        self.refresh();
        let root = Pid::from_u32(self.pid);
        self.sys.process(root)?;
        let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
        for (pid, p) in self.sys.processes() {
            if let Some(parent) = p.parent() {
                children.entry(parent).or_default().push(*pid);
            }
        }
        let (mut cpu, mut mem) = (0.0f64, 0.0f64);
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            if let Some(p) = self.sys.process(pid) {
                // Threads show up as tasks whose parent is the process; count processes only.
                if p.thread_kind().is_none() {
                    cpu += f64::from(p.cpu_usage());
                    mem += p.memory() as f64 / (1024.0 * 1024.0);
                }
            }
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().copied());
            }
        }
        Some((cpu, mem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_this_process_and_a_busy_child() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        // sysinfo computes no CPU usage for a process whose CPU time was zero at the previous
        // refresh, so let the child run a little before the baseline is taken.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut m = Monitor::new(std::process::id());
        std::thread::sleep(std::time::Duration::from_millis(600));
        let (cpu, mem) = m.sample().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        // This test binary holds at least a few MiB resident, and the shell loop keeps a core
        // busy, so the tree's CPU use is well above zero.
        assert!(mem > 1.0, "memory {mem} MiB");
        assert!(cpu > 20.0, "cpu {cpu}%");
        assert!(Monitor::new(u32::MAX - 1).sample().is_none());
    }
}
