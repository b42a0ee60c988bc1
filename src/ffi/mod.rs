//! The C ABI. This layer only converts: pointers to references, C strings to `&str`, integers to
//! enums, results to numbered codes. All behaviour lives in the safe core; deleting `src/ffi/`
//! leaves a usable Rust library.
//!
//! Conventions (also in the header):
//! - Every fallible function returns a `simvue_result`; `SIMVUE_OK` is 0 and numbers are never
//!   reused.
//! - A NULL pointer where a value is required, a string that is not UTF-8, an integer that names
//!   no enumeration member, a closed run: each is an error code, never a crash.
//! - The message of the last error on the calling thread is copied into a caller buffer by
//!   `simvue_last_error_message`. The library never hands out memory the caller must free.
//! - Outputs go to trailing out-parameters, written only on success.
//! - Every export catches panics and reports `SIMVUE_ERROR_PANIC`.

#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};

pub mod run;

/// Result codes of every fallible function. The numbers are part of the ABI and are never
/// reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum simvue_result {
    /// Success.
    SIMVUE_OK = 0,
    /// A required pointer argument was NULL.
    SIMVUE_ERROR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    SIMVUE_ERROR_INVALID_UTF8 = 2,
    /// An argument had an unacceptable value (empty or ill-formed name, NaN, bad JSON or
    /// timestamp, ...).
    SIMVUE_ERROR_INVALID_ARGUMENT = 3,
    /// An integer did not name a member of the expected enumeration.
    SIMVUE_ERROR_UNKNOWN_ENUM = 4,
    /// The run is closed.
    SIMVUE_ERROR_CLOSED = 5,
    /// The call is not allowed in the run's current state (for example before `init`).
    SIMVUE_ERROR_STATE = 6,
    /// The configuration (simvue.toml or environment) is unusable.
    SIMVUE_ERROR_CONFIG = 7,
    /// A file could not be read or written.
    SIMVUE_ERROR_IO = 8,
    /// An output buffer was too small; the size needed was reported.
    SIMVUE_ERROR_BUFFER_TOO_SMALL = 9,
    /// The object asked for does not exist.
    SIMVUE_ERROR_NOT_FOUND = 10,
    /// The feature is not available in this build or mode.
    SIMVUE_ERROR_UNSUPPORTED = 11,
    /// Background work for the run failed (reported when `suppress_errors` is off).
    SIMVUE_ERROR_BACKGROUND = 12,
    /// The handle is not a live simvue handle.
    SIMVUE_ERROR_INVALID_HANDLE = 13,
    /// The server could not be reached after the retries.
    SIMVUE_ERROR_NETWORK = 14,
    /// The server answered with an error status.
    SIMVUE_ERROR_SERVER = 15,
    /// The server refused the API token.
    SIMVUE_ERROR_AUTH = 16,
    /// An internal error (a caught panic). Please report it.
    SIMVUE_ERROR_PANIC = 99,
}

impl simvue_result {
    fn from_kind(kind: ErrorKind) -> simvue_result {
        use simvue_result::*;
        match kind {
            ErrorKind::NullArgument => SIMVUE_ERROR_NULL_ARGUMENT,
            ErrorKind::InvalidUtf8 => SIMVUE_ERROR_INVALID_UTF8,
            ErrorKind::InvalidArgument => SIMVUE_ERROR_INVALID_ARGUMENT,
            ErrorKind::UnknownEnum => SIMVUE_ERROR_UNKNOWN_ENUM,
            ErrorKind::Closed => SIMVUE_ERROR_CLOSED,
            ErrorKind::State => SIMVUE_ERROR_STATE,
            ErrorKind::Config => SIMVUE_ERROR_CONFIG,
            ErrorKind::Io => SIMVUE_ERROR_IO,
            ErrorKind::BufferTooSmall => SIMVUE_ERROR_BUFFER_TOO_SMALL,
            ErrorKind::NotFound => SIMVUE_ERROR_NOT_FOUND,
            ErrorKind::Unsupported => SIMVUE_ERROR_UNSUPPORTED,
            ErrorKind::Background => SIMVUE_ERROR_BACKGROUND,
            ErrorKind::InvalidHandle => SIMVUE_ERROR_INVALID_HANDLE,
            ErrorKind::Network => SIMVUE_ERROR_NETWORK,
            ErrorKind::Server => SIMVUE_ERROR_SERVER,
            ErrorKind::Auth => SIMVUE_ERROR_AUTH,
            ErrorKind::Panic => SIMVUE_ERROR_PANIC,
        }
    }

    fn name(self) -> &'static CStr {
        use simvue_result::*;
        match self {
            SIMVUE_OK => c"SIMVUE_OK",
            SIMVUE_ERROR_NULL_ARGUMENT => c"SIMVUE_ERROR_NULL_ARGUMENT",
            SIMVUE_ERROR_INVALID_UTF8 => c"SIMVUE_ERROR_INVALID_UTF8",
            SIMVUE_ERROR_INVALID_ARGUMENT => c"SIMVUE_ERROR_INVALID_ARGUMENT",
            SIMVUE_ERROR_UNKNOWN_ENUM => c"SIMVUE_ERROR_UNKNOWN_ENUM",
            SIMVUE_ERROR_CLOSED => c"SIMVUE_ERROR_CLOSED",
            SIMVUE_ERROR_STATE => c"SIMVUE_ERROR_STATE",
            SIMVUE_ERROR_CONFIG => c"SIMVUE_ERROR_CONFIG",
            SIMVUE_ERROR_IO => c"SIMVUE_ERROR_IO",
            SIMVUE_ERROR_BUFFER_TOO_SMALL => c"SIMVUE_ERROR_BUFFER_TOO_SMALL",
            SIMVUE_ERROR_NOT_FOUND => c"SIMVUE_ERROR_NOT_FOUND",
            SIMVUE_ERROR_UNSUPPORTED => c"SIMVUE_ERROR_UNSUPPORTED",
            SIMVUE_ERROR_BACKGROUND => c"SIMVUE_ERROR_BACKGROUND",
            SIMVUE_ERROR_INVALID_HANDLE => c"SIMVUE_ERROR_INVALID_HANDLE",
            SIMVUE_ERROR_NETWORK => c"SIMVUE_ERROR_NETWORK",
            SIMVUE_ERROR_SERVER => c"SIMVUE_ERROR_SERVER",
            SIMVUE_ERROR_AUTH => c"SIMVUE_ERROR_AUTH",
            SIMVUE_ERROR_PANIC => c"SIMVUE_ERROR_PANIC",
        }
    }
}

thread_local! {
    /// The calling thread's last error: code, message, and whether the library wrote it to
    /// stderr already.
    static LAST_ERROR: RefCell<(simvue_result, String, bool)> =
        const { RefCell::new((simvue_result::SIMVUE_OK, String::new(), false)) };
}

fn set_last_error(code: simvue_result, message: &str, reported: bool) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.0 = code;
        e.1.clear();
        e.1.push_str(message);
        e.2 = reported;
    });
}

/// Records the calling thread's last error and returns its code.
fn fail(code: simvue_result, message: &str, reported: bool) -> simvue_result {
    set_last_error(code, message, reported);
    code
}

/// The panic boundary and result conversion every export goes through.
#[inline]
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> simvue_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => simvue_result::SIMVUE_OK,
        Ok(Err(e)) => fail(simvue_result::from_kind(e.kind), &e.message, e.reported),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            fail(
                simvue_result::SIMVUE_ERROR_PANIC,
                &format!("internal error in libsimvue: {what}"),
                false,
            )
        }
    }
}

/// Reads a required C string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn cstr<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    // Names are nearly always ASCII, which is valid UTF-8; checking that is much cheaper than
    // the general validation, and this runs for every metric name of every call.
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(std::str::from_utf8_unchecked(bytes));
    }
    std::str::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not valid UTF-8")))
}

/// Reads an optional C string: NULL means "not given".
///
/// # Safety
/// As [`cstr`].
pub(crate) unsafe fn opt_cstr<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        cstr(p, what).map(Some)
    }
}

/// Reads an array of `n` C strings. A NULL array is allowed only when `n` is 0.
///
/// # Safety
/// `p` is NULL or points to `n` pointers, each NULL or a NUL-terminated string outliving `'a`.
pub(crate) unsafe fn str_array<'a>(
    p: *const *const c_char,
    n: usize,
    what: &str,
) -> Result<Vec<&'a str>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("{what} is NULL but its count is {n}"),
        ));
    }
    std::slice::from_raw_parts(p, n)
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            // The element's name is formatted only for an error message.
            cstr(s, what).map_err(|e| {
                Error::new(e.kind, e.message.replacen(what, &format!("{what}[{i}]"), 1))
            })
        })
        .collect()
}

/// Copies `s` into a caller buffer of `len` bytes with a terminating NUL, and the length
/// needed (without the NUL) into `needed` when it is not NULL. The buffer is written only when
/// it is large enough.
///
/// # Safety
/// `buf` is NULL or points to `len` writable bytes; `needed` is NULL or writable.
pub(crate) unsafe fn write_str(
    s: &str,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> Result<()> {
    if !needed.is_null() {
        *needed = s.len();
    }
    if buf.is_null() {
        return Err(Error::new(ErrorKind::NullArgument, "output buffer is NULL"));
    }
    if len < s.len() + 1 {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            format!(
                "the buffer holds {len} bytes but {} are needed",
                s.len() + 1
            ),
        ));
    }
    std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
    *buf.add(s.len()) = 0;
    Ok(())
}

/// The library version as a static NUL-terminated string, for example `"0.1.0"`. The header's
/// `SIMVUE_VERSION` macro holds the version the program was compiled against.
#[no_mangle]
pub extern "C" fn simvue_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// The name of a result code as a static string (`"SIMVUE_ERROR_CLOSED"`), or
/// `"SIMVUE_UNKNOWN_RESULT"` for a number that is not a result code.
#[no_mangle]
pub extern "C" fn simvue_result_name(code: i32) -> *const c_char {
    use simvue_result::*;
    let all = [
        SIMVUE_OK,
        SIMVUE_ERROR_NULL_ARGUMENT,
        SIMVUE_ERROR_INVALID_UTF8,
        SIMVUE_ERROR_INVALID_ARGUMENT,
        SIMVUE_ERROR_UNKNOWN_ENUM,
        SIMVUE_ERROR_CLOSED,
        SIMVUE_ERROR_STATE,
        SIMVUE_ERROR_CONFIG,
        SIMVUE_ERROR_IO,
        SIMVUE_ERROR_BUFFER_TOO_SMALL,
        SIMVUE_ERROR_NOT_FOUND,
        SIMVUE_ERROR_UNSUPPORTED,
        SIMVUE_ERROR_BACKGROUND,
        SIMVUE_ERROR_INVALID_HANDLE,
        SIMVUE_ERROR_NETWORK,
        SIMVUE_ERROR_SERVER,
        SIMVUE_ERROR_AUTH,
        SIMVUE_ERROR_PANIC,
    ];
    all.iter()
        .find(|r| **r as i32 == code)
        .map_or(c"SIMVUE_UNKNOWN_RESULT", |r| r.name())
        .as_ptr()
}

/// The code of the last error on the calling thread (`SIMVUE_OK` if there was none). A
/// successful call does not reset it.
#[no_mangle]
pub extern "C" fn simvue_last_error() -> simvue_result {
    LAST_ERROR.with(|e| e.borrow().0)
}

/// 1 if the library already wrote the calling thread's last error to stderr (a run with
/// `suppress_errors` on reports its errors there), else 0. Language bindings use it so that an
/// error is printed once.
#[no_mangle]
pub extern "C" fn simvue_last_error_reported() -> i32 {
    LAST_ERROR.with(|e| i32::from(e.borrow().2))
}

/// Copies the message of the last error on the calling thread into `buf` (`len` bytes),
/// truncated if needed and always NUL-terminated when `len > 0`. Returns the full length of the
/// message without the NUL, so a caller can retry with a larger buffer. `buf` may be NULL when
/// `len` is 0.
///
/// # Safety
/// `buf` is NULL or points to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn simvue_last_error_message(buf: *mut c_char, len: usize) -> usize {
    let r = catch_unwind(|| {
        LAST_ERROR.with(|e| {
            let e = e.borrow();
            let msg = e.1.as_bytes();
            if !buf.is_null() && len > 0 {
                // Truncate on a character boundary so the copy stays valid UTF-8.
                let mut n = msg.len().min(len - 1);
                while n > 0 && !e.1.is_char_boundary(n) {
                    n -= 1;
                }
                std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
            msg.len()
        })
    });
    r.unwrap_or(0)
}
