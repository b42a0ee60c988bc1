//! The upload thread of a run: saved files are hashed (sha256, streamed) and handed to the
//! sink in the background, in the order they were saved. Started by the first save; `close`
//! waits for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::report::Reporter;
use crate::artifact::{Artifact, Category};
use crate::error::{Error, Result};
use crate::sink::Sink;

/// One save handed to the upload thread; `done` gets the outcome when the caller waits.
struct UploadJob {
    artifact: Artifact,
    category: Category,
    done: Option<Sender<Result<()>>>,
}

/// What the upload thread is handed: a save, or a marker answered once every save handed
/// over before it is done.
enum Job {
    Save(UploadJob),
    Barrier(Sender<()>),
}

struct Thread {
    jobs: Sender<Job>,
    handle: JoinHandle<()>,
}

/// The uploads of one run.
#[derive(Default)]
pub(super) struct Uploads {
    thread: Mutex<Option<Thread>>,
    /// Files (and buffers) saved so far.
    saved: Arc<AtomicU64>,
}

impl Uploads {
    /// Hands an artifact to the upload thread (starting it if needed) for run `run_id` in
    /// `sink`; with `wait`, returns the outcome of this save, otherwise failures go to
    /// `reporter` as background errors.
    pub(super) fn enqueue(
        &self,
        sink: &Arc<dyn Sink>,
        run_id: &str,
        reporter: &Arc<Reporter>,
        artifact: Artifact,
        category: Category,
        wait: bool,
    ) -> Result<()> {
        let (done, outcome) = if wait {
            let (tx, rx) = channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        {
            let mut slot = self.thread.lock();
            if slot.is_none() {
                *slot = Some(start(
                    sink.clone(),
                    run_id.to_owned(),
                    reporter.clone(),
                    self.saved.clone(),
                )?);
            }
            let up = slot.as_ref().expect("just started");
            up.jobs
                .send(Job::Save(UploadJob {
                    artifact,
                    category,
                    done,
                }))
                .map_err(|_| Error::state("the upload thread has stopped"))?;
        }
        match outcome {
            Some(rx) => rx
                .recv()
                .unwrap_or_else(|_| Err(Error::state("the upload thread has stopped"))),
            None => Ok(()),
        }
    }

    /// Waits until every save queued so far is done (uploaded and attached, or failed), so
    /// that what comes next (a final status) reaches the server after them.
    pub(super) fn wait_idle(&self) {
        let (tx, rx) = channel();
        let sent = match self.thread.lock().as_ref() {
            Some(up) => up.jobs.send(Job::Barrier(tx)).is_ok(),
            None => false,
        };
        if sent {
            let _ = rx.recv();
        }
    }

    /// How many saves succeeded so far.
    pub(super) fn saved(&self) -> u64 {
        self.saved.load(Ordering::Relaxed)
    }

    /// Waits for every queued save to finish.
    pub(super) fn finish(&self) {
        if let Some(up) = self.thread.lock().take() {
            drop(up.jobs);
            let _ = up.handle.join();
        }
    }
}

fn start(
    sink: Arc<dyn Sink>,
    id: String,
    reporter: Arc<Reporter>,
    saved: Arc<AtomicU64>,
) -> Result<Thread> {
    let (jobs, rx) = channel::<Job>();
    let handle = std::thread::Builder::new()
        .name("simvue-upload".into())
        .spawn(move || {
            for job in rx {
                let mut job = match job {
                    Job::Save(job) => job,
                    Job::Barrier(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                let r = job
                    .artifact
                    .complete()
                    .and_then(|()| sink.save_artifact(&id, &job.artifact, job.category));
                if r.is_ok() {
                    saved.fetch_add(1, Ordering::Relaxed);
                }
                match job.done {
                    Some(tx) => {
                        let _ = tx.send(r);
                    }
                    None => {
                        if let Err(e) = r {
                            reporter.background(e);
                        }
                    }
                }
            }
        })
        .map_err(|e| Error::io("cannot start the upload thread", e))?;
    Ok(Thread { jobs, handle })
}
