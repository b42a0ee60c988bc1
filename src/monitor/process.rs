//! The monitored process and its descendants, read from `/proc`: CPU time and resident memory
//! of each process (threads are part of their process), and the tree's pids (for the GPUs it
//! uses).
//!
//! CPU percent is the tree's CPU time over the wall time since the previous sample (percent of
//! one core; can exceed 100). The first sample has a real value too: the baseline is taken when
//! monitoring starts ([`ProcessTree::new`]), or is the start of the process
//! ([`ProcessTree::since_start`]).

use std::collections::HashMap;

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: u32,
    ppid: u32,
    /// utime + stime, in clock ticks.
    ticks: u64,
    /// Start time, in clock ticks after boot.
    start: u64,
    /// Resident set size, in pages.
    rss: u64,
}

fn read_stat(pid: u32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    // Fields counted from 3 (state): ppid 4, utime 14, stime 15, starttime 22, rss 24.
    Some(Proc {
        pid,
        ppid: num(1)? as u32,
        ticks: num(11)? + num(12)?,
        start: num(19)?,
        rss: num(21)?,
    })
}

fn all_processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_stat)
        .collect()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Seconds since boot, the clock of `/proc/<pid>/stat`'s start times.
fn boot_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// One sample of a process tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSample {
    /// CPU use since the previous sample, percent of one core, summed over the tree.
    pub cpu_percent: f64,
    /// Resident memory of the tree, MiB.
    pub memory_mib: f64,
    /// The pids of the tree, the root first.
    pub pids: Vec<u32>,
}

/// A process and its descendants, sampled again and again.
pub struct ProcessTree {
    root: u32,
    /// CPU ticks of each process of the tree at the previous sample.
    seen: HashMap<u32, u64>,
    /// When the previous sample was taken, seconds after boot.
    at: f64,
    tck: f64,
}

impl ProcessTree {
    /// Monitors `root` and its descendants from now on (the first sample covers the time since
    /// this call).
    pub fn new(root: u32) -> ProcessTree {
        let mut t = ProcessTree {
            root,
            seen: HashMap::new(),
            at: 0.0,
            tck: clock_ticks_per_second(),
        };
        t.rebase();
        t
    }

    /// Monitors `root` and its descendants with the first sample covering the time since the
    /// process started; `None` when there is no such process.
    pub fn since_start(root: u32) -> Option<ProcessTree> {
        let p = read_stat(root)?;
        let tck = clock_ticks_per_second();
        Some(ProcessTree {
            root,
            seen: HashMap::new(),
            at: p.start as f64 / tck,
            tck,
        })
    }

    /// The monitored process.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// Monitors another process from now on.
    pub fn set_root(&mut self, root: u32) {
        if root != self.root {
            self.root = root;
            self.rebase();
        }
    }

    fn rebase(&mut self) {
        // The time first: a process that starts during the scan is in it.
        self.at = boot_seconds();
        let procs = all_processes();
        self.seen = tree(self.root, &procs)
            .iter()
            .map(|p| (p.pid, p.ticks))
            .collect();
    }

    /// Samples the tree, or `None` when the root process is gone.
    pub fn sample(&mut self) -> Option<TreeSample> {
        let now = boot_seconds();
        let procs = all_processes();
        let members = tree(self.root, &procs);
        if members.is_empty() {
            return None;
        }
        let mut ticks = 0u64;
        for p in &members {
            ticks += match self.seen.get(&p.pid) {
                Some(&before) => p.ticks.saturating_sub(before),
                // Started since the previous sample (start times are whole clock ticks, so
                // within one tick of it): all its time is in this interval. One that joined
                // the tree otherwise has no baseline: counted from now on.
                None if (p.start + 1) as f64 / self.tck >= self.at => p.ticks,
                None => 0,
            };
        }
        let interval = (now - self.at).max(1e-3);
        let page = page_size() as f64;
        let sample = TreeSample {
            cpu_percent: ticks as f64 / self.tck / interval * 100.0,
            memory_mib: members.iter().map(|p| p.rss as f64 * page).sum::<f64>()
                / (1024.0 * 1024.0),
            pids: members.iter().map(|p| p.pid).collect(),
        };
        self.seen = members.iter().map(|p| (p.pid, p.ticks)).collect();
        self.at = now;
        Some(sample)
    }
}

/// `root` and its descendants among `procs` (empty when `root` is not there).
fn tree(root: u32, procs: &[Proc]) -> Vec<Proc> {
    let mut children: HashMap<u32, Vec<&Proc>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let Some(first) = procs.iter().find(|p| p.pid == root) else {
        return Vec::new();
    };
    let mut out = vec![*first];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i].pid) {
            out.extend(kids.iter().map(|p| **p));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(seconds: f64) {
        let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
        let mut x = 0u64;
        while std::time::Instant::now() < end {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
    }

    #[test]
    fn the_first_sample_is_a_real_value() {
        let mut t = ProcessTree::new(std::process::id());
        busy(0.3);
        let s = t.sample().unwrap();
        assert!(s.cpu_percent > 5.0, "cpu {}%", s.cpu_percent);
        assert!(s.memory_mib > 1.0, "memory {} MiB", s.memory_mib);
        assert_eq!(s.pids[0], std::process::id());
        // Since the start of the process: this test binary has used CPU time.
        let s = ProcessTree::since_start(std::process::id())
            .unwrap()
            .sample()
            .unwrap();
        assert!(s.cpu_percent > 0.0, "cpu {}%", s.cpu_percent);
        assert!(ProcessTree::since_start(u32::MAX - 1).is_none());
    }

    #[test]
    fn counts_a_busy_child() {
        let mut t = ProcessTree::new(std::process::id());
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        let s = t.sample().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(s.pids.contains(&child.id()), "{:?}", s.pids);
        assert!(s.cpu_percent > 20.0, "cpu {}%", s.cpu_percent);
        let mut gone = ProcessTree::new(u32::MAX - 1);
        assert!(gone.sample().is_none());
    }
}
