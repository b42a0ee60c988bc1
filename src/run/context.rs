//! What init records about where the run runs, besides the `system` record: the batch job and
//! the shell variables chosen with `record_shell_vars` ([`crate::job`]); and whether the run's
//! resource samples carry energy and emissions ([`crate::monitor::energy`]).

use super::{Run, Settings};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::json::Json;
use crate::monitor::energy::EnergySettings;

/// The metadata key saying where the energy figures come from.
pub(super) const SUSTAINABILITY_KEY: &str = "sustainability";

impl Run {
    /// Chooses the environment variables recorded as the metadata `shell` at `init`:
    /// `fnmatch` patterns (`SLURM_*`, `OMP_NUM_THREADS`), replacing `[run] record_shell_vars`
    /// of the configuration, as the `record_shell_vars` argument of the Python client's `init`
    /// does. An empty list records none. Only before `init`.
    pub fn set_record_shell_vars(&self, patterns: &[&str]) -> Result<()> {
        self.api((), || {
            if patterns.iter().any(|p| p.is_empty()) {
                return Err(Error::invalid("a record_shell_vars pattern is empty"));
            }
            let mut c = self.control.lock();
            if !matches!(c.phase, super::Phase::New) {
                return Err(Error::state("record_shell_vars must be set before init"));
            }
            c.record_shell_vars = Some(patterns.iter().map(|p| (*p).to_owned()).collect());
            Ok(())
        })
    }

    /// Turns the emission metrics on or off (`[metrics] enable_emission_metrics`, as the
    /// Python client's `config(enable_emission_metrics=...)`): energy and emissions logged with
    /// every resource sample, so resource metrics must be on. Only before `init`.
    pub fn set_emission_metrics(&self, enable: bool) -> Result<()> {
        self.configure("emission metrics must be set before init", |s| {
            if enable && s.disable_resources_metrics {
                return Err(Error::state(
                    "emission metrics need resource metrics, which are disabled",
                ));
            }
            s.enable_emission_metrics = enable;
            Ok(())
        })
    }
}

/// What the energy figures of a run rest on, when it logs them (probed on this machine).
pub(super) fn energy_settings(settings: &Settings, config: &Config) -> Option<EnergySettings> {
    (settings.enable_emission_metrics && !settings.disable_resources_metrics)
        .then(|| EnergySettings::probe(&config.eco))
}

/// Adds the run's context to its `metadata` at init: `shell` (the variables matching
/// `patterns`; replacing a `shell` key given, as in the Python client, where the environment is
/// merged over the metadata) and `batch_job` (unless the program set that key itself).
pub(super) fn add_context(metadata: &mut Json, patterns: &[String], token: Option<&str>) {
    if !patterns.is_empty() {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        metadata.set(
            crate::job::SHELL_KEY,
            crate::job::shell_vars(patterns, &vars, token),
        );
    }
    if metadata.get(crate::job::BATCH_JOB_KEY).is_none() {
        let env = |k: &str| std::env::var(k).ok();
        if let Some(job) = crate::job::batch_job(&env) {
            metadata.set(crate::job::BATCH_JOB_KEY, job);
        }
    }
}
