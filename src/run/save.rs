//! Saving files, directories and in-memory buffers with the run; the bytes are hashed and
//! sent by the upload thread ([`super::uploads`]).

use std::path::Path;
use std::sync::Arc;

use super::active::Active;
use super::Run;
use crate::artifact::{self, Category, SaveOptions};
use crate::error::{Error, Result};
use crate::json::Json;
use crate::model::Status;

impl Run {
    /// Saves a file with the run (`save` of the seed). The file is checked now; it is hashed
    /// and uploaded on a background thread unless `wait` is set, and `close` waits for it.
    /// With `snapshot`, it is first copied into the cache, so later changes to it are not
    /// saved. Output files are refused while the run is only `created`.
    pub fn save_file(
        &self,
        path: &Path,
        category: Category,
        opts: SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        self.api((), || {
            self.saving(category)?;
            self.save_file_quiet(path, category, &opts, wait)
        })
    }

    /// Saves every regular file below `dir`. A file that cannot be saved is reported and does
    /// not stop the others; the error returned then names how many failed and the first cause.
    pub fn save_directory(
        &self,
        dir: &Path,
        category: Category,
        opts: SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        self.api((), || {
            self.saving(category)?;
            let files = artifact::files_below(dir)?;
            // A name given for a directory would name every file the same.
            let opts = SaveOptions {
                name: None,
                metadata: None,
                ..opts
            };
            let failures: Vec<Error> = files
                .iter()
                .filter_map(|f| {
                    self.reporter
                        .check(self.save_file_quiet(f, category, &opts, wait))
                        .err()
                })
                .collect();
            summarise(files.len(), failures)
        })
    }

    /// Saves a list of files and directories; as `save_directory`, failures are reported
    /// together after the rest has been saved.
    pub fn save_all(
        &self,
        paths: &[&Path],
        category: Category,
        opts: SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        self.api((), || {
            self.saving(category)?;
            let opts = SaveOptions {
                name: None,
                metadata: None,
                ..opts
            };
            let mut failures = Vec::new();
            let mut total = 0;
            for p in paths {
                if p.is_dir() {
                    match artifact::files_below(p) {
                        Ok(files) => {
                            total += files.len();
                            failures.extend(files.iter().filter_map(|f| {
                                self.reporter
                                    .check(self.save_file_quiet(f, category, &opts, wait))
                                    .err()
                            }));
                        }
                        Err(e) => {
                            total += 1;
                            failures.push(e);
                        }
                    }
                } else {
                    total += 1;
                    if let Err(e) = self
                        .reporter
                        .check(self.save_file_quiet(p, category, &opts, wait))
                    {
                        failures.push(e);
                    }
                }
            }
            summarise(total, failures)
        })
    }

    /// Saves bytes held in memory under `name` (a field, a JSON summary), with optional
    /// `metadata` (a JSON object): the C counterpart of the Python client's `save_object`.
    pub fn save_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        category: Category,
        mime_type: Option<&str>,
        metadata: Option<Json>,
        wait: bool,
    ) -> Result<()> {
        self.api((), || {
            let a = self.saving(category)?;
            let artifact = artifact::prepare_bytes(name, bytes, mime_type, metadata)?;
            a.enqueue_save(artifact, category, wait)
        })
    }

    fn save_file_quiet(
        &self,
        path: &Path,
        category: Category,
        opts: &SaveOptions<'_>,
        wait: bool,
    ) -> Result<()> {
        let a = self.active()?;
        let snapshot = opts.snapshot.then_some(a.staging.as_path());
        let artifact = artifact::prepare_file(path, opts, snapshot)?;
        a.enqueue_save(artifact, category, wait)
    }

    /// The active run, if it may save a file of `category` now.
    fn saving(&self, category: Category) -> Result<&Arc<Active>> {
        let a = self.active()?;
        if category == Category::Output && a.record.lock().status == Status::Created {
            return Err(Error::state(
                "output files cannot be saved while the run is only created (run.py:2004)",
            ));
        }
        Ok(a)
    }
}

/// Turns the failures of a multi-file save into one error (the first cause, and how many).
fn summarise(total: usize, failures: Vec<Error>) -> Result<()> {
    let Some(first) = failures.first() else {
        return Ok(());
    };
    Err(Error::new(
        first.kind,
        format!(
            "{} of {total} files could not be saved (the others were); first: {}",
            failures.len(),
            first.message
        ),
    ))
}
