//! What a run does when the process is asked to stop by a signal (a batch system's walltime
//! warning or kill, ^C): the run side of [`crate::signals`].
//!
//! Each run has a set of signals (default [`crate::signals::DEFAULT_SIGNALS`]), an action and a
//! deadline, chosen with [`Run::set_signals`] before `init` and overridden by the environment
//! (`SIMVUE_SIGNALS`, `SIMVUE_SIGNAL_ACTION`, `SIMVUE_SIGNAL_TIMEOUT`) so that a job script
//! decides without recompiling. When one of its signals arrives, on the library's watcher
//! thread:
//!
//! - the run records it ([`Run::signal_received`], a flag the solver can poll) and calls the
//!   solver's callback, if any ([`Run::set_signal_callback`]; it may write a checkpoint);
//! - [`SignalAction::Exit`] (the default): every open run of the process is terminated
//!   ([`Active::terminate`]: an event naming the signal, everything flushed, status
//!   `terminated`, closed, within the deadline), then the signal's previous disposition is put
//!   back and the signal raised again, so that the process ends by it, as it would have without
//!   the library;
//! - [`SignalAction::Notify`]: the run only logs an event and lets the solver stop by itself
//!   (closing the run later marks it `terminated`); a second signal then acts as `Exit`. Meant
//!   for an early warning such as SLURM's `--signal=B:USR1@120`.
//!
//! A signal that no open run handles is raised again at once.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::active::Active;
use super::{exit, Run};
use crate::error::{Error, ErrorKind, Result};
use crate::signals;

/// The deadline for flushing and closing the runs after a signal, by default.
pub const DEFAULT_SIGNAL_DEADLINE: Duration = Duration::from_secs(10);

/// What a run does when one of its signals arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    /// Flush, mark the run `terminated`, close it, and end the process by the signal.
    Exit,
    /// Log an event and let the solver stop by itself; a second signal acts as `Exit`.
    Notify,
}

impl SignalAction {
    fn parse(s: &str) -> Option<SignalAction> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exit" => Some(SignalAction::Exit),
            "notify" => Some(SignalAction::Notify),
            _ => None,
        }
    }
}

/// A run's signal settings.
#[derive(Debug, Clone)]
pub struct SignalSettings {
    /// The signals handled (those whose disposition is still the default when the run starts).
    pub signals: Vec<i32>,
    /// What happens when one arrives.
    pub action: SignalAction,
    /// How long flushing and closing may take before the process ends anyway.
    pub deadline: Duration,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            signals: signals::DEFAULT_SIGNALS.to_vec(),
            action: SignalAction::Exit,
            deadline: DEFAULT_SIGNAL_DEADLINE,
        }
    }
}

/// A function the solver gives to learn that a signal arrived (the signal number).
pub type SignalCallback = Arc<dyn Fn(i32) + Send + Sync>;

/// The signal side of one run, shared by the `Run` and its active state.
#[derive(Default)]
pub(super) struct SignalWatch {
    settings: Mutex<SignalSettings>,
    callback: Mutex<Option<SignalCallback>>,
    /// The first signal that arrived, 0 before.
    received: AtomicI32,
}

impl SignalWatch {
    /// The first signal that arrived for this run, or 0.
    pub(super) fn received(&self) -> i32 {
        self.received.load(Ordering::Acquire)
    }

    /// Applies the environment's choices over the program's: `SIMVUE_SIGNALS` (the set),
    /// `SIMVUE_SIGNAL_ACTION` (`exit` or `notify`), `SIMVUE_SIGNAL_TIMEOUT` (seconds). Called
    /// by init and reconnect before anything is created, so that a mistake there fails them.
    pub(super) fn apply_environment(&self) -> Result<()> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let bad = |msg: String| Error::new(ErrorKind::Config, msg);
        let mut s = self.settings.lock();
        if let Some(v) = env("SIMVUE_SIGNALS") {
            s.signals = signals::parse_set(&v).map_err(|e| bad(format!("SIMVUE_SIGNALS: {e}")))?;
        }
        if let Some(v) = env("SIMVUE_SIGNAL_ACTION") {
            s.action = SignalAction::parse(&v).ok_or_else(|| {
                bad(format!(
                    "SIMVUE_SIGNAL_ACTION={v:?} is not one of exit, notify"
                ))
            })?;
        }
        if let Some(v) = env("SIMVUE_SIGNAL_TIMEOUT") {
            s.deadline = v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    bad(format!(
                        "SIMVUE_SIGNAL_TIMEOUT={v:?} is not a positive number of seconds"
                    ))
                })?;
        }
        Ok(())
    }

    pub(super) fn settings(&self) -> SignalSettings {
        self.settings.lock().clone()
    }

    fn wants(&self, sig: i32) -> bool {
        self.settings.lock().signals.contains(&sig)
    }

    fn call_back(&self, sig: i32) {
        let cb = self.callback.lock().clone();
        if let Some(cb) = cb {
            cb(sig);
        }
    }
}

impl Run {
    /// Chooses the signals this run handles, what it does when one arrives and how long
    /// flushing and closing may take then (see [`SignalAction`]); `None` keeps a setting
    /// (default: SIGTERM, SIGINT, SIGXCPU, SIGUSR1, SIGUSR2; `Exit`; 10 s). An empty set turns
    /// signal handling off. The environment (`SIMVUE_SIGNALS`, `SIMVUE_SIGNAL_ACTION`,
    /// `SIMVUE_SIGNAL_TIMEOUT`) overrides these. Only before `init`.
    pub fn set_signals(
        &self,
        set: Option<&[i32]>,
        action: Option<SignalAction>,
        deadline: Option<Duration>,
    ) -> Result<()> {
        self.configure("signal handling must be set before init", |_| {
            if let Some(d) = deadline {
                if d.is_zero() {
                    return Err(Error::invalid("the signal deadline must be positive"));
                }
            }
            let mut s = self.signals.settings.lock();
            if let Some(set) = set {
                s.signals = set.to_vec();
            }
            s.action = action.unwrap_or(s.action);
            s.deadline = deadline.unwrap_or(s.deadline);
            Ok(())
        })
    }

    /// The run's signal settings (after the environment once the run is initialised).
    pub fn signal_settings(&self) -> SignalSettings {
        self.signals.settings()
    }

    /// Registers a function called (on the library's signal thread, with the signal number)
    /// when one of the run's signals arrives, before the library acts on it: with `Exit` the
    /// library flushes and ends the process once it returns, so it may write a checkpoint
    /// first. It must not close or free the run.
    pub fn set_signal_callback(&self, callback: Option<SignalCallback>) {
        *self.signals.callback.lock() = callback;
    }

    /// The first of the run's signals that arrived, or 0 (cheap enough for every time step).
    pub fn signal_received(&self) -> i32 {
        self.signals.received()
    }
}

/// Orders installing (a run starting) and taking the handlers away (the last run closing), so
/// that a run starting while the last other one closes keeps its handlers.
static GATE: Mutex<()> = parking_lot::const_mutex(());

/// Starts handling the run's signals (called when a run starts running, once it is registered
/// as open).
pub(super) fn watch(active: &Arc<Active>) -> Result<()> {
    let set = active.signals.settings().signals;
    if set.is_empty() {
        return Ok(());
    }
    let _gate = GATE.lock();
    signals::set_action(on_signal);
    signals::install(&set).map(|_| ())
}

/// Called when a run is closed: once no run is left open, the library's handlers are taken
/// away and every signal is as the program had it.
pub(super) fn run_closed(active: &Active) {
    let _gate = GATE.lock();
    if !exit::forget(active) {
        signals::uninstall();
    }
}

/// The watcher thread's action for `sig`.
fn on_signal(sig: i32) {
    let runs: Vec<Arc<Active>> = exit::live_runs()
        .into_iter()
        .filter(|a| !a.finished.load(Ordering::Acquire))
        .collect();
    let wanting: Vec<&Arc<Active>> = runs.iter().filter(|a| a.signals.wants(sig)).collect();
    if wanting.is_empty() {
        signals::reraise(sig);
    }
    let name = signals::name(sig);
    let exiting = wanting
        .iter()
        .any(|a| a.signals.settings().action == SignalAction::Exit || a.signals.received() != 0);
    // The event first, so that it is written even if the callback (a checkpoint) outlasts the
    // batch system's patience.
    if exiting {
        let why = format!("received {name}: the run is terminated and the process ends");
        for a in &runs {
            a.note(&why);
        }
    }
    for a in &wanting {
        let first = a
            .signals
            .received
            .compare_exchange(0, sig, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if !exiting && first {
            let why = format!("received {name}: the solver is asked to stop");
            a.note(&why);
            if !a.feedback.quiet {
                eprintln!("[simvue] run {}: {why}", a.record.lock().name);
            }
        }
    }
    for a in &wanting {
        a.signals.call_back(sig);
    }
    if !exiting {
        return;
    }
    std::thread::scope(|scope| {
        for a in &runs {
            let name = name.as_str();
            scope.spawn(move || {
                let started = Instant::now();
                let deadline = a.signals.settings().deadline;
                let run_name = a.record.lock().name.clone();
                match a.terminate(None, deadline) {
                    Ok(()) if a.feedback.quiet => {}
                    Ok(()) => eprintln!(
                        "[simvue] {name}: run {run_name} flushed and closed as terminated in {:.2} s; the process ends by {name}",
                        started.elapsed().as_secs_f64()
                    ),
                    Err(e) => eprintln!(
                        "[simvue] {name}: run {run_name}: {}; the process ends by {name}",
                        e.message
                    ),
                }
            });
        }
    });
    signals::reraise(sig);
}
