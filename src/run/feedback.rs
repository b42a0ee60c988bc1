//! What the library tells the user about a run on stderr, unasked: one line when it starts
//! (where to see it: the run's page on the server, or the cache and the command that uploads
//! it) and one when it is closed (what became of what was logged). `SIMVUE_QUIET=1` in the
//! environment, or [`Run::set_quiet`], silences both (and the lines about signals); errors and
//! warnings are the error policy's ([`super::report`]) and are not silenced by it.

use std::path::PathBuf;

use super::Run;
use crate::config::Config;
use crate::dispatch::Stats;
use crate::error::Result;
use crate::model::Status;

/// Where a run's feedback lines point, decided when it starts.
pub(super) struct Feedback {
    /// Nothing is printed.
    pub(super) quiet: bool,
    /// The web UI's address (the server URL without `/api`, passwords hidden).
    ui: Option<String>,
    cache: PathBuf,
}

/// `SIMVUE_QUIET`, when set: `0`, `false`, `no` or empty mean not quiet, anything else quiet.
fn quiet_from_env() -> Option<bool> {
    let v = std::env::var("SIMVUE_QUIET").ok()?;
    let v = v.trim().to_ascii_lowercase();
    Some(!matches!(v.as_str(), "" | "0" | "false" | "no" | "off"))
}

impl Feedback {
    /// The feedback of a run with the program's `quiet` setting and `config`.
    pub(super) fn new(quiet: bool, config: Option<&Config>) -> Feedback {
        Feedback {
            quiet: quiet_from_env().unwrap_or(quiet),
            ui: config.and_then(|c| c.url.as_deref()).map(|u| {
                let u = u.trim_end_matches('/');
                crate::http::redact(u.strip_suffix("/api").unwrap_or(u))
            }),
            cache: config.map(|c| c.cache_dir.clone()).unwrap_or_default(),
        }
    }

    /// The line at init: online, the run's page (as the Python client prints it); offline,
    /// where it is and how to upload it.
    pub(super) fn started(&self, name: &str, id: &str, remote: bool) {
        if self.quiet {
            return;
        }
        match (&self.ui, remote) {
            (Some(ui), true) => eprintln!("[simvue] run {name}: {ui}/dashboard/runs/run/{id}"),
            _ => {
                let cache = self.cache.display();
                eprintln!(
                    "[simvue] run {name} is recorded offline in {cache}; upload it with `simvue send -i {cache}` (or Python's `simvue-sender -i {cache}`)"
                );
            }
        }
    }

    /// The line at close: the final status and what became of the logged items and saved
    /// files.
    pub(super) fn closed(
        &self,
        name: &str,
        status: Status,
        stats: Option<Stats>,
        files: u64,
        remote: bool,
    ) {
        if self.quiet {
            return;
        }
        let mut line = format!("[simvue] run {name} closed as {}", status.as_str());
        if let Some(s) = stats {
            let done = if remote { "sent" } else { "written" };
            line.push_str(&format!(
                ": {} metric sets and {} events {done}",
                s.metrics_sent, s.events_sent
            ));
            let spilled = s.metrics_spilled + s.events_spilled;
            if spilled > 0 {
                line.push_str(&format!(
                    ", {spilled} written to {} for `simvue send`",
                    self.cache.display()
                ));
            }
            let dropped = s.metrics_dropped + s.events_dropped;
            if dropped > 0 {
                line.push_str(&format!(", {dropped} dropped (queue full)"));
            }
            let lost = s.metrics_failed + s.events_failed;
            if lost > 0 {
                line.push_str(&format!(", {lost} lost"));
            }
            line.push(',');
        } else {
            line.push(':');
        }
        line.push_str(&format!(
            " {files} file{} saved",
            if files == 1 { "" } else { "s" }
        ));
        eprintln!("{line}");
    }
}

impl Run {
    /// Silences the two lines the library prints about the run (where it is, at init; what
    /// became of it, at close), as `SIMVUE_QUIET=1` does, which wins over this. Errors are
    /// still reported as `suppress_errors` says. Only before `init`.
    pub fn set_quiet(&self, quiet: bool) -> Result<()> {
        self.configure("quiet must be set before init", |s| {
            s.quiet = quiet;
            Ok(())
        })
    }
}
