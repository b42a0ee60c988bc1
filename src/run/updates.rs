//! Changing an initialised (or not yet initialised) run: metadata, tags, and folder details.

use std::sync::atomic::Ordering;

use super::{closed, Phase, Run};
use crate::error::{Error, Result};
use crate::json::Json;
use crate::model::Folder;
use crate::sink::{ListField, RunPatch};
use crate::validate;

/// Checked tags, without duplicates, in the order given.
fn tag_list(tags: &[&str]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        validate::non_empty("tag", t)?;
        if !out.iter().any(|x| x == t) {
            out.push((*t).to_owned());
        }
    }
    Ok(out)
}

impl Run {
    /// Adds or replaces metadata. Before `init` the keys are kept for `init`; after it they are
    /// merged into the run's metadata.
    pub fn update_metadata(&self, metadata: Json) -> Result<()> {
        self.api((), || {
            let Json::Object(entries) = &metadata else {
                return Err(Error::invalid("metadata must be a JSON object"));
            };
            for (k, _) in entries {
                validate::non_empty("metadata key", k)?;
            }
            {
                let mut c = self.control.lock();
                match c.phase {
                    Phase::New => {
                        c.staged_metadata.extend(entries.iter().cloned());
                        return Ok(());
                    }
                    Phase::Closed => return Err(closed()),
                    Phase::Active(_) => {}
                }
            }
            let a = self.active()?;
            a.update(
                RunPatch::Fields(Json::object().with("metadata", metadata.clone())),
                |r| r.metadata.merge(&metadata),
            )
        })
    }

    /// Sets one metadata key (for callers without dictionaries, such as Fortran).
    pub fn set_metadata(&self, key: &str, value: Json) -> Result<()> {
        if let Json::Float(f) = value {
            if let Err(e) = validate::finite(&format!("metadata {key:?}"), f) {
                return self.reporter.check(Err(e));
            }
        }
        self.update_metadata(Json::Object(vec![(key.to_owned(), value)]))
    }

    /// Records the units of a metric (`set_metric_units`): the unit symbol, and the MKS unit
    /// and conversion factor, which are worked out as the Python client's unyt does when not
    /// given (or left out when unknown, as there). They are sent as run metadata
    /// `simvue.metrics.<name>` with the next `log_metrics`, as in Python; unlike Python, that
    /// update holds the units of every metric so far, so that a server that merges metadata
    /// one level deep keeps them all (protocol doc §4.5).
    pub fn set_metric_units(
        &self,
        metric: &str,
        units: &str,
        mks_unit: Option<&str>,
        mks_conversion: Option<f64>,
    ) -> Result<()> {
        self.api((), || {
            validate::metric_name(metric)?;
            if let Some(c) = mks_conversion {
                validate::finite("mks_conversion", c)?;
            }
            if matches!(self.control.lock().phase, Phase::Closed) {
                return Err(closed());
            }
            // `mks_conversion or <unyt's>`, `mks_unit or <unyt's>` (run.py set_metric_units).
            let (conversion, unit) = match crate::units::to_mks(units) {
                Some((factor, mks)) => (
                    Json::Float(mks_conversion.filter(|c| *c != 0.0).unwrap_or(factor)),
                    Json::Str(
                        mks_unit
                            .filter(|u| !u.is_empty())
                            .unwrap_or(&mks)
                            .to_owned(),
                    ),
                ),
                None => (
                    mks_conversion.map_or(Json::Null, Json::Float),
                    mks_unit.map_or(Json::Null, Json::from),
                ),
            };
            self.units.lock().set(
                metric,
                Json::object()
                    .with("units", units)
                    .with("mks_conversion", conversion)
                    .with("mks_units", unit),
            );
            self.units_pending.store(true, Ordering::Relaxed);
            Ok(())
        })
    }

    /// Sends the metric units recorded so far as run metadata.
    pub(super) fn send_metric_units(&self) -> Result<()> {
        self.units_pending.store(false, Ordering::Relaxed);
        let all = self.units.lock().clone();
        let md = Json::object().with("simvue", Json::object().with("metrics", all));
        let a = self.active()?;
        a.update(
            RunPatch::Fields(Json::object().with("metadata", md.clone())),
            |r| r.metadata.merge(&md),
        )
    }

    /// Adds tags to the run: a union with its current tags, which online are read from the
    /// server first (as the Python client does), so that tags added in the web UI are kept.
    pub fn update_tags(&self, tags: &[&str]) -> Result<()> {
        self.api((), || {
            let new = tag_list(tags)?;
            let a = self.active()?;
            a.update(RunPatch::Add(ListField::Tags, new.clone()), |r| {
                for t in new {
                    if !r.tags.contains(&t) {
                        r.tags.push(t);
                    }
                }
            })
        })
    }

    /// Replaces the run's tags (`set_tags`).
    pub fn set_tags(&self, tags: &[&str]) -> Result<()> {
        self.api((), || {
            let new = tag_list(tags)?;
            let a = self.active()?;
            a.update(
                RunPatch::Fields(Json::object().with("tags", new.clone())),
                |r| r.tags = new,
            )
        })
    }

    /// Sets metadata, tags and a description on a folder: the run's own folder when `path` is
    /// `None` or equal to it, otherwise the folder at `path`.
    pub fn set_folder_details(
        &self,
        path: Option<&str>,
        metadata: Option<Json>,
        tags: Option<&[&str]>,
        description: Option<&str>,
    ) -> Result<()> {
        self.api((), || {
            if let Some(p) = path {
                validate::folder(p)?;
            }
            if let Some(m) = &metadata {
                if !matches!(m, Json::Object(_)) {
                    return Err(Error::invalid("folder metadata must be a JSON object"));
                }
            }
            for t in tags.unwrap_or(&[]) {
                validate::non_empty("tag", t)?;
            }
            let a = self.active()?;
            let run_folder = a.record.lock().folder.clone();
            let path = path.unwrap_or(&run_folder);
            let apply = |f: &mut Folder| {
                if let Some(m) = &metadata {
                    f.metadata.get_or_insert_with(Json::object).merge(m);
                }
                if let Some(t) = tags {
                    f.tags = Some(t.iter().map(|s| (*s).to_owned()).collect());
                }
                if let Some(d) = description {
                    f.description = Some(d.to_owned());
                }
            };
            if path == run_folder {
                let mut slot = a.folder.lock();
                match slot.as_mut() {
                    Some((id, f)) => {
                        apply(f);
                        a.sink.update_folder(id, f)
                    }
                    None => {
                        let mut f = Folder::new(path);
                        apply(&mut f);
                        let id = a.sink.create_folder(&f)?;
                        *slot = Some((id, f));
                        Ok(())
                    }
                }
            } else {
                let mut f = Folder::new(path);
                apply(&mut f);
                a.sink.create_folder(&f).map(|_| ())
            }
        })
    }
}
