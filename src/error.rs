//! The error type of the safe core. Every kind maps to one numbered C result code in
//! `ffi::result`; the numbers live there so that the core knows nothing about C. Errors that
//! only exist at the C boundary (NULL pointers, invalid UTF-8, unknown enumeration integers,
//! small output buffers, dead handles, caught panics) are the FFI layer's own
//! (`ffi::result::FfiError`).

use std::fmt;

/// What went wrong, coarsely: enough for a caller to decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument had an unacceptable value: an empty or ill-formed name, NaN where a number is
    /// needed, a malformed timestamp or JSON document.
    InvalidArgument,
    /// The run was already closed.
    Closed,
    /// The call is not allowed in the run's current state (for example `log_metrics` before
    /// `init`, or `config` after it).
    State,
    /// The configuration (files or environment) is unusable.
    Config,
    /// A file could not be read or written.
    Io,
    /// The requested object (a run to reconnect to) does not exist.
    NotFound,
    /// The feature is not available in this build or mode.
    Unsupported,
    /// Work done in the background on behalf of the run failed (reported by the next call
    /// when `suppress_errors` is off, and at close).
    Background,
    /// The server could not be reached (refused, timed out, DNS, TLS) after the retries.
    Network,
    /// The server answered with an error status.
    Server,
    /// The server refused the token (HTTP 401).
    Auth,
}

/// An error from the library: a kind and a message for humans. Messages never contain the API
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// A description of what failed and why.
    pub message: String,
    /// Whether the run already wrote this error to stderr (with `suppress_errors` on), so
    /// that a language binding does not write it again.
    pub reported: bool,
    /// For a failed request: whether the server may have stored it anyway (protocol doc
    /// §4.7), in which case sending it again blindly could store it twice.
    pub outcome: Outcome,
}

/// What a failed request may have left on the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: the request failed before it was sent, or the server refused it.
    #[default]
    NotStored,
    /// Unknown, but settled: the connection was lost while waiting for the answer (or a
    /// proxy's 502), so the server is done with the request, whether it stored it or not.
    Unknown,
    /// Unknown and maybe not settled yet: the answer did not come in time (a timeout, a
    /// proxy's 504); the server may still be storing it.
    Pending,
}

impl Error {
    /// Creates an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            reported: false,
            outcome: Outcome::NotStored,
        }
    }

    /// The same error with what the failed request may have left on the server.
    pub fn with_outcome(mut self, outcome: Outcome) -> Error {
        self.outcome = outcome;
        self
    }

    /// Shorthand for an [`ErrorKind::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// Shorthand for an [`ErrorKind::State`] error.
    pub fn state(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::State, message)
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("{what}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The result type of the core.
pub type Result<T> = std::result::Result<T, Error>;
