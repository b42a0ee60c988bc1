//! Process signals that announce the end of a job (a batch system's walltime, a user's ^C),
//! caught so that a run can be flushed and closed before the process ends, and then passed on
//! so that the process ends exactly as it would have without the library.
//!
//! This module knows nothing of runs: it installs handlers, wakes one watcher thread and lets
//! a function given by [`set_action`] decide; [`reraise`] ends the process by the signal.
//!
//! - A handler is installed only where a signal's disposition is still the default: a handler
//!   the application or its MPI runtime installed is never replaced, and a signal the process
//!   ignores stays ignored.
//! - The handler itself only stores the signal number in an atomic and writes one byte to a
//!   pipe (both async-signal-safe), keeping `errno`. Everything else happens on the watcher
//!   thread (`simvue-signals`), woken by the pipe. No thread's signal mask is changed, so the
//!   solver's threads keep theirs.
//! - In a child made by `fork()` without `exec` the handler restores the default and raises the
//!   signal again at once, so that the child's signals never act on the parent's runs.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};

/// The signals handled by default: SIGTERM (walltime in SLURM, PBS, LSF; `scancel`), SIGINT
/// (^C), SIGXCPU (CPU time limit; LSF, PBS), SIGUSR1 and SIGUSR2 (the early warnings of
/// `sbatch --signal`, LSF's `-wa`).
pub const DEFAULT_SIGNALS: [i32; 5] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGXCPU,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// The signals that may be chosen (`SIMVUE_SIGNALS`): those whose default action ends the
/// process and that a batch system or a user sends to ask a job to stop.
const CHOOSABLE: [(&str, i32); 7] = [
    ("TERM", libc::SIGTERM),
    ("INT", libc::SIGINT),
    ("XCPU", libc::SIGXCPU),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("HUP", libc::SIGHUP),
    ("ALRM", libc::SIGALRM),
];

/// The name of a signal, `SIGTERM` style (`signal 42` for others).
pub fn name(sig: i32) -> String {
    CHOOSABLE
        .iter()
        .find(|(_, s)| *s == sig)
        .map_or_else(|| format!("signal {sig}"), |(n, _)| format!("SIG{n}"))
}

/// Parses a set of signals as `SIMVUE_SIGNALS` gives it: names separated by commas or spaces,
/// with or without `SIG`, in any case (`TERM,USR2`, `sigterm sigusr1`); `none` (or nothing)
/// is the empty set.
pub fn parse_set(text: &str) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let upper = word.to_ascii_uppercase();
        if upper == "NONE" {
            continue;
        }
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        let sig = CHOOSABLE
            .iter()
            .find(|(n, _)| *n == bare)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let known: Vec<&str> = CHOOSABLE.iter().map(|(n, _)| *n).collect();
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "{word:?} is not a signal the library can handle; choose from {} or none",
                        known.join(", ")
                    ),
                )
            })?;
        if !out.contains(&sig) {
            out.push(sig);
        }
    }
    Ok(out)
}

/// The write end of the pipe the handler wakes the watcher with (-1 before the first install).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The process that installed the handlers (a forked child is another).
static OWNER: AtomicI32 = AtomicI32::new(0);

/// What the watcher thread does with a signal.
type Action = Arc<dyn Fn(i32) + Send + Sync>;
static ACTION: OnceCell<Action> = OnceCell::new();

struct Installed {
    sig: i32,
    previous: libc::sigaction,
}

struct State {
    installed: Vec<Installed>,
    watcher: bool,
}

static STATE: Mutex<State> = parking_lot::const_mutex(State {
    installed: Vec::new(),
    watcher: false,
});

/// The handler: async-signal-safe only (getpid, sigaction, raise, write, an atomic store).
extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: each call below is async-signal-safe; errno is saved and restored so that the
    // interrupted code sees its own.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        if libc::getpid() != OWNER.load(Ordering::Relaxed) {
            // A forked child: it has no watcher, and its pipe is its parent's.
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
            libc::raise(sig);
        } else {
            let byte = sig as u8;
            // A full pipe drops the byte; the watcher is then busy with an earlier signal.
            libc::write(
                WAKE_FD.load(Ordering::Relaxed),
                (&byte as *const u8).cast(),
                1,
            );
        }
        *errno = saved;
    }
}

/// Sets what the watcher thread does when a handled signal arrives (once per process; later
/// calls are ignored).
pub fn set_action(action: impl Fn(i32) + Send + Sync + 'static) {
    let _ = ACTION.set(Arc::new(action));
}

/// Installs the handler for each of `sigs` whose disposition is the default, starting the
/// watcher thread the first time. Returns the signals now handled by the library (already
/// handled ones included); the others are left as they are.
pub fn install(sigs: &[i32]) -> Result<Vec<i32>> {
    let mut st = STATE.lock();
    if !st.watcher && !sigs.is_empty() {
        start_watcher()?;
        st.watcher = true;
    }
    for &sig in sigs {
        if st.installed.iter().any(|i| i.sig == sig) {
            continue;
        }
        // SAFETY: sigaction with a zeroed struct to read, then our handler (a plain extern "C"
        // fn) with SA_RESTART so that the solver's system calls are not interrupted.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut previous) != 0 {
                continue;
            }
            if previous.sa_flags & libc::SA_SIGINFO != 0 || previous.sa_sigaction != libc::SIG_DFL {
                continue; // the application's own (or ignored): left alone
            }
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            ours.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut ours.sa_mask);
            if libc::sigaction(sig, &ours, std::ptr::null_mut()) == 0 {
                st.installed.push(Installed { sig, previous });
            }
        }
    }
    Ok(st.installed.iter().map(|i| i.sig).collect())
}

/// Puts back the previous disposition of every signal whose handler is still the library's
/// (one the application replaced since is left as it is).
pub fn uninstall() {
    let mut st = STATE.lock();
    for i in st.installed.drain(..) {
        restore(&i);
    }
}

fn restore(i: &Installed) {
    // SAFETY: reading the current disposition, then writing back the saved one.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(i.sig, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
        {
            libc::sigaction(i.sig, &i.previous, std::ptr::null_mut());
        }
    }
}

/// Whether the library handles `sig` now.
pub fn handled(sig: i32) -> bool {
    STATE.lock().installed.iter().any(|i| i.sig == sig)
}

/// Ends the process by `sig`, as it would have ended without the library: every disposition
/// is put back, the signal is unblocked on this thread and raised. Should the process survive
/// it (the application made the signal harmless meanwhile), it exits with 128 + `sig`, the
/// status a shell reports for a process killed by it.
pub fn reraise(sig: i32) -> ! {
    uninstall();
    // SAFETY: plain libc calls on a local signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
}

fn start_watcher() -> Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors; the write end is non-blocking so that the handler
    // never waits, the read end blocks the watcher.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::io(
            "cannot create the signal pipe",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fcntl on a descriptor just created.
    unsafe {
        let flags = libc::fcntl(fds[1], libc::F_GETFL);
        libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    // SAFETY: getpid has no preconditions.
    OWNER.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    WAKE_FD.store(fds[1], Ordering::Relaxed);
    let read_fd = fds[0];
    std::thread::Builder::new()
        .name("simvue-signals".into())
        .spawn(move || loop {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a local.
            let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                let sig = i32::from(byte);
                match ACTION.get() {
                    Some(action) => action(sig),
                    None => reraise(sig),
                }
            } else if n == 0
                || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                return;
            }
        })
        .map_err(|e| Error::io("cannot start the signal thread", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sets_simvue_signals_takes() {
        assert_eq!(
            parse_set("TERM,USR2").unwrap(),
            vec![libc::SIGTERM, libc::SIGUSR2]
        );
        assert_eq!(
            parse_set(" sigterm  SIGusr1,term ").unwrap(),
            vec![libc::SIGTERM, libc::SIGUSR1]
        );
        assert!(parse_set("none").unwrap().is_empty());
        assert!(parse_set("").unwrap().is_empty());
        let e = parse_set("TERM,KILL").unwrap_err();
        assert!(e.message.contains("\"KILL\""), "{}", e.message);
        assert_eq!(name(libc::SIGXCPU), "SIGXCPU");
        assert_eq!(name(libc::SIGSEGV), format!("signal {}", libc::SIGSEGV));
    }
}
