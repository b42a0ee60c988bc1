//! libsimvue: a native client for the [Simvue](https://simvue.io) simulation tracking and
//! monitoring service, with a C ABI for C, C++ and Fortran solvers.
//!
//! The crate is a safe Rust core (everything but [`ffi`]) and a thin C skin over it. The core
//! tracks a [`run::Run`] as the Python client `simvue` 2.6.2 does: in `offline` mode it writes
//! the same on-disk cache that `simvue-sender` uploads; in `disabled` mode it does nothing.
//!
//! Layout: [`config`] reads `simvue.toml` and the environment; [`run`] is the API;
//! [`dispatch`] queues and batches metrics and events on a background thread; [`model`] is the
//! wire model; [`sink`] / [`offline`] are where objects go; [`monitor`] samples resources.
//! [`sender`] is `simvue send`, the uploader of offline caches (the offline reader feeding the
//! online sink), and [`cli`] the rest of the `simvue` command (`check`, `show`).

pub mod artifact;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod ffi;
pub mod git;
pub mod http;
pub mod ids;
pub mod job;
pub mod json;
pub mod mime;
mod mime_table;
pub mod model;
pub mod monitor;
pub mod msgpack;
pub mod offline;
pub mod online;
pub mod retry;
pub mod run;
pub mod sender;
pub mod signals;
pub mod sink;
pub mod system;
pub mod time;
pub mod units;
pub mod validate;

pub use config::Mode;
pub use error::{Error, ErrorKind, Result};
pub use run::Run;

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
