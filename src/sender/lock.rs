//! One sender per cache, on a shared filesystem too.
//!
//! `simvue send` takes `<cache>/simvue-send.lock` by creating it exclusively (`O_EXCL`, atomic on
//! local filesystems and on NFSv3+), writing its host, PID and process start time, and touching
//! it every 30 s while it runs. A lock is stale, and is taken over with a message, when its
//! process is gone from this host (or the PID now belongs to another process), or when it has
//! not been touched for `stale_after` (a sender on another host that died). Taking over goes
//! through a second exclusive file so that two senders finding the same stale lock cannot both
//! win.
//!
//! The Python `simvue-sender` has its own lock, `sender.lock`, holding a bare PID: a live PID in
//! it stops `simvue send`, and `simvue send` writes its own PID there while it runs so that a
//! Python sender on this host refuses to start (protocol doc §8.4 step 2).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, ErrorKind};
use crate::json::Json;
use crate::time::Timestamp;

/// How often a held lock is touched.
const REFRESH: Duration = Duration::from_secs(30);
/// A takeover guard older than this was left by a killed process.
const GUARD_STALE: Duration = Duration::from_secs(60);

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another sender holds it (the message says which).
    Busy(String),
    /// The lock file could not be read or written.
    Failed(Error),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Busy(m) => f.write_str(m),
            LockError::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    host: String,
    pid: u32,
    /// The process start time (clock ticks since boot, `/proc/<pid>/stat`), to tell a PID
    /// reused by another process; 0 where unknown.
    start: u64,
    since: String,
}

impl Holder {
    fn me() -> Holder {
        let pid = std::process::id();
        Holder {
            host: hostname(),
            pid,
            start: process_start(pid).unwrap_or(0),
            since: Timestamp::now().to_string(),
        }
    }

    fn to_json(&self) -> Json {
        Json::object()
            .with("host", self.host.as_str())
            .with("pid", i64::from(self.pid))
            .with("start", self.start as i64)
            .with("since", self.since.as_str())
            .with("program", format!("simvue send {}", crate::VERSION))
    }

    fn from_text(text: &str) -> Option<Holder> {
        let j = Json::parse(text).ok()?;
        Some(Holder {
            host: j.get("host")?.as_str()?.to_owned(),
            pid: u32::try_from(j.get("pid")?.as_i64()?).ok()?,
            start: j.get("start").and_then(Json::as_i64).unwrap_or(0) as u64,
            since: j
                .get("since")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "simvue send (pid {} on {}, since {} UTC)",
            self.pid, self.host, self.since
        )
    }

    /// Whether the holder is known to be gone: on this host, its PID is dead or belongs to a
    /// process started at another time.
    fn dead_here(&self) -> bool {
        self.host == hostname()
            && (!pid_alive(self.pid)
                || (self.start != 0 && process_start(self.pid).is_some_and(|s| s != self.start)))
    }
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    python: PathBuf,
    wrote_python: bool,
    me: Holder,
    stop: Arc<AtomicBool>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl Lock {
    /// Takes the lock of the cache at `root`. `notes` receives what was done on the way (a stale
    /// lock taken over).
    pub fn acquire(
        root: &Path,
        stale_after: Duration,
        notes: &mut Vec<String>,
    ) -> std::result::Result<Lock, LockError> {
        let python = root.join("sender.lock");
        let path = root.join("simvue-send.lock");
        let me = Holder::me();
        let mut took_over = false;
        loop {
            match create_exclusive(&path, me.to_json().to_python_json().as_bytes()) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !took_over => {
                    take_over(&path, &me, stale_after, notes)?;
                    took_over = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| Holder::from_text(&t));
                    return Err(LockError::Busy(format!(
                        "another {} holds {}",
                        holder.map_or_else(|| "simvue send".to_owned(), |h| h.describe()),
                        path.display()
                    )));
                }
                Err(e) => {
                    return Err(LockError::Failed(Error::io(
                        format!("cannot create the lock {}", path.display()),
                        e,
                    )))
                }
            }
        }
        // Holding our lock, a live PID in the Python sender's lock is a Python sender.
        if let Some(pid) = python_sender_pid(&python) {
            let _ = fs::remove_file(&path);
            return Err(LockError::Busy(format!(
                "a Python simvue-sender (pid {pid}) is uploading this cache ({} exists)",
                python.display()
            )));
        }
        // Keep a Python sender on this host out while we run (it reads a bare PID).
        let wrote_python = fs::write(&python, me.pid.to_string()).is_ok();
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::Builder::new()
                .name("simvue-send-lock".into())
                .spawn(move || {
                    let mut waited = Duration::ZERO;
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(200));
                        waited += Duration::from_millis(200);
                        if waited >= REFRESH {
                            waited = Duration::ZERO;
                            if let Ok(f) = fs::OpenOptions::new().append(true).open(&path) {
                                let _ = f.set_modified(SystemTime::now());
                            }
                        }
                    }
                })
                .ok()
        };
        Ok(Lock {
            path,
            python,
            wrote_python,
            me,
            stop,
            refresher,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let mine = fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| Holder::from_text(&t))
            .is_some_and(|h| h == self.me);
        if mine {
            let _ = fs::remove_file(&self.path);
        }
        if self.wrote_python
            && fs::read_to_string(&self.python).is_ok_and(|t| t.trim() == self.me.pid.to_string())
        {
            let _ = fs::remove_file(&self.python);
        }
    }
}

/// Removes the lock at `path` if it is stale, saying so in `notes`; `Busy` if it is not.
fn take_over(
    path: &Path,
    me: &Holder,
    stale_after: Duration,
    notes: &mut Vec<String>,
) -> std::result::Result<(), LockError> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let holder = Holder::from_text(&text);
    let age = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or(Duration::ZERO);
    let why = match &holder {
        Some(h) if h.dead_here() => format!("its process {} is gone", h.pid),
        _ if age > stale_after => format!("it was not refreshed for {} s", age.as_secs()),
        // Being written this instant by its creator: not stale.
        None if age < GUARD_STALE => {
            return Err(LockError::Busy(format!(
                "another simvue send is taking {}",
                path.display()
            )))
        }
        None => "it is unreadable".to_owned(),
        Some(h) => {
            return Err(LockError::Busy(format!(
                "another {} holds {}{}",
                h.describe(),
                path.display(),
                if h.host == hostname() {
                    String::new()
                } else {
                    format!(
                        " (it is taken over once it is {} s old without refresh)",
                        stale_after.as_secs()
                    )
                }
            )))
        }
    };
    // One taker at a time: whoever creates the guard checks again and removes the lock. A
    // guard left by a taker that died (its process gone, or old) is removed first.
    let guard = path.with_extension("lock.takeover");
    let mut guarded = false;
    for _ in 0..2 {
        match create_exclusive(&guard, me.to_json().to_python_json().as_bytes()) {
            Ok(()) => {
                guarded = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let taker = fs::read_to_string(&guard)
                    .ok()
                    .and_then(|t| Holder::from_text(&t));
                let age = fs::metadata(&guard)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .unwrap_or(Duration::ZERO);
                if !(taker.is_some_and(|t| t.dead_here()) || age > GUARD_STALE) {
                    break;
                }
                let _ = fs::remove_file(&guard);
            }
            Err(e) => {
                return Err(LockError::Failed(Error::io(
                    format!("cannot create {}", guard.display()),
                    e,
                )))
            }
        }
    }
    if !guarded {
        return Err(LockError::Busy(format!(
            "another simvue send is taking over {}",
            path.display()
        )));
    }
    let still = fs::read_to_string(path).unwrap_or_default() == text;
    if still {
        let _ = fs::remove_file(path);
        notes.push(format!(
            "took over the stale lock {} ({}: {why})",
            path.display(),
            holder.map_or_else(|| "unknown holder".to_owned(), |h| h.describe()),
        ));
    }
    let _ = fs::remove_file(&guard);
    Ok(())
}

/// Creates `path` holding `bytes`, failing if it exists. The content is written to a temporary
/// file first and linked into place (atomic, also on NFS), so that nobody ever finds the lock
/// empty, as they could if its creator died between creating and writing it.
fn create_exclusive(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}-0", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// The PID in the Python sender's `sender.lock`, if that process is alive (its own test:
/// `psutil.pid_exists`, `sender/base.py`). Our own PID (a lock we wrote and did not remove)
/// does not count.
fn python_sender_pid(path: &Path) -> Option<u32> {
    let pid: u32 = fs::read_to_string(path).ok()?.trim().parse().ok()?;
    (pid != std::process::id() && pid_alive(pid)).then_some(pid)
}

/// Whether process `pid` exists on this host.
pub(super) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The start time of process `pid` in clock ticks since boot (Linux), to tell a reused PID.
fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it
    // when the name fits.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if r != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl From<LockError> for Error {
    fn from(e: LockError) -> Error {
        match e {
            LockError::Busy(m) => Error::new(ErrorKind::State, m),
            LockError::Failed(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("simvue-lock-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let d = tmp("one");
        let mut notes = Vec::new();
        let lock = Lock::acquire(&d, Duration::from_secs(600), &mut notes).unwrap();
        let text = fs::read_to_string(lock.path()).unwrap();
        assert!(
            text.contains(&format!("\"pid\": {}", std::process::id())),
            "{text}"
        );
        assert_eq!(
            fs::read_to_string(d.join("sender.lock")).unwrap(),
            std::process::id().to_string()
        );
        let again = Lock::acquire(&d, Duration::from_secs(600), &mut notes);
        assert!(matches!(again, Err(LockError::Busy(_))), "{again:?}");
        drop(lock);
        assert!(!d.join("simvue-send.lock").exists() && !d.join("sender.lock").exists());
        assert!(notes.is_empty());
    }

    #[test]
    fn a_dead_holder_or_an_old_lock_is_taken_over() {
        let d = tmp("stale");
        let dead = Holder {
            host: hostname(),
            pid: 0x7fff_fff0,
            start: 0,
            since: "then".into(),
        };
        fs::write(d.join("simvue-send.lock"), dead.to_json().to_python_json()).unwrap();
        let mut notes = Vec::new();
        let lock = Lock::acquire(&d, Duration::from_secs(600), &mut notes).unwrap();
        assert!(notes[0].contains("is gone"), "{notes:?}");
        drop(lock);

        // Elsewhere and recent: busy. Elsewhere and old: taken over.
        let remote = Holder {
            host: "another-login-node".into(),
            pid: 1,
            start: 0,
            since: "then".into(),
        };
        fs::write(
            d.join("simvue-send.lock"),
            remote.to_json().to_python_json(),
        )
        .unwrap();
        let busy = Lock::acquire(&d, Duration::from_secs(600), &mut notes).unwrap_err();
        assert!(busy.to_string().contains("another-login-node"), "{busy}");
        let old = SystemTime::now() - Duration::from_secs(3600);
        fs::OpenOptions::new()
            .append(true)
            .open(d.join("simvue-send.lock"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut notes = Vec::new();
        drop(Lock::acquire(&d, Duration::from_secs(600), &mut notes).unwrap());
        assert!(notes[0].contains("not refreshed"), "{notes:?}");
    }

    #[test]
    fn a_takeover_left_half_done_by_a_dead_process_is_finished() {
        let d = tmp("guard");
        let dead = Holder {
            host: hostname(),
            pid: 0x7fff_fff0,
            start: 0,
            since: "then".into(),
        };
        fs::write(d.join("simvue-send.lock"), dead.to_json().to_python_json()).unwrap();
        fs::write(
            d.join("simvue-send.lock.takeover"),
            dead.to_json().to_python_json(),
        )
        .unwrap();
        let mut notes = Vec::new();
        drop(Lock::acquire(&d, Duration::from_secs(600), &mut notes).unwrap());
        assert!(notes[0].contains("is gone"), "{notes:?}");
        assert!(!d.join("simvue-send.lock.takeover").exists());
    }

    #[test]
    fn a_live_python_sender_keeps_us_out() {
        let d = tmp("python");
        // PID 1 is alive on any Linux machine.
        fs::write(d.join("sender.lock"), "1").unwrap();
        let e = Lock::acquire(&d, Duration::from_secs(600), &mut Vec::new()).unwrap_err();
        assert!(
            e.to_string().contains("Python simvue-sender (pid 1)"),
            "{e}"
        );
        fs::write(d.join("sender.lock"), "2147483632").unwrap();
        drop(Lock::acquire(&d, Duration::from_secs(600), &mut Vec::new()).unwrap());
    }
}
