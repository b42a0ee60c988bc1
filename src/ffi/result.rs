//! `simvue_result`: the numbered result codes, the FFI layer's error type, the calling thread's
//! last error, and the panic boundary every export goes through.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};

/// Expands the one definition in `result_codes.rs` into the enum, its names and its number
/// list (`build.rs` expands the same text for cbindgen).
macro_rules! result_codes {
    (
        $(#[doc = $enum_doc:literal])*
        codes { $($(#[doc = $doc:literal])* $name:ident = $n:literal,)* }
        retired { $($old_n:literal => $old_name:literal,)* }
    ) => {
        $(#[doc = $enum_doc])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum simvue_result {
            $($(#[doc = $doc])* $name = $n,)*
        }

        impl simvue_result {
            /// Every code, in the order of the definition.
            pub(crate) const ALL: &'static [simvue_result] = &[$(simvue_result::$name,)*];
            /// Numbers and names of retired codes; no live code may take these numbers.
            pub(crate) const RETIRED: &'static [(i32, &'static str)] = &[$(($old_n, $old_name),)*];

            /// The code's name as a static C string (`"SIMVUE_ERROR_CLOSED"`).
            pub(crate) fn name(self) -> &'static CStr {
                match self {
                    $(simvue_result::$name => {
                        const NAME: &CStr = cstr_lit(concat!(stringify!($name), "\0"));
                        NAME
                    })*
                }
            }
        }
    };
}

/// A string literal with its NUL as a `CStr`, at compile time.
const fn cstr_lit(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("not a NUL-terminated string without inner NULs"),
    }
}

include!("result_codes.rs");

// A retired number is never given to a live code (the compiler refuses duplicates among the
// live codes itself).
const _: () = {
    let mut i = 0;
    while i < simvue_result::ALL.len() {
        let mut j = 0;
        while j < simvue_result::RETIRED.len() {
            assert!(
                simvue_result::ALL[i] as i32 != simvue_result::RETIRED[j].0,
                "a result code reuses a retired number"
            );
            j += 1;
        }
        i += 1;
    }
};

impl simvue_result {
    /// The code of an error of the core.
    fn from_kind(kind: ErrorKind) -> simvue_result {
        use simvue_result::*;
        match kind {
            ErrorKind::InvalidArgument => SIMVUE_ERROR_INVALID_ARGUMENT,
            ErrorKind::Closed => SIMVUE_ERROR_CLOSED,
            ErrorKind::State => SIMVUE_ERROR_STATE,
            ErrorKind::Config => SIMVUE_ERROR_CONFIG,
            ErrorKind::Io => SIMVUE_ERROR_IO,
            ErrorKind::NotFound => SIMVUE_ERROR_NOT_FOUND,
            ErrorKind::Unsupported => SIMVUE_ERROR_UNSUPPORTED,
            ErrorKind::Background => SIMVUE_ERROR_BACKGROUND,
            ErrorKind::Network => SIMVUE_ERROR_NETWORK,
            ErrorKind::Server => SIMVUE_ERROR_SERVER,
            ErrorKind::Auth => SIMVUE_ERROR_AUTH,
        }
    }
}

/// An error at the C boundary: the code the caller gets, the message, and whether the run
/// already printed it. It comes either from the core (`From<Error>`, the code follows the
/// core's kind) or from checking C arguments here (NULL pointers, invalid UTF-8, unknown
/// enumeration values, small buffers, dead handles), which the core knows nothing about.
/// A code and a message is all the C side needs of either, so one struct serves both.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) code: simvue_result,
    pub(crate) message: String,
    pub(crate) reported: bool,
}

/// The result type of the FFI layer.
pub(crate) type FfiResult<T> = std::result::Result<T, FfiError>;

impl FfiError {
    /// An error with `code` and `message`, not yet reported.
    pub(crate) fn new(code: simvue_result, message: impl Into<String>) -> FfiError {
        FfiError {
            code,
            message: message.into(),
            reported: false,
        }
    }

    /// A required pointer was NULL.
    pub(crate) fn null(message: impl Into<String>) -> FfiError {
        FfiError::new(simvue_result::SIMVUE_ERROR_NULL_ARGUMENT, message)
    }

    /// An integer named no member of its enumeration.
    pub(crate) fn unknown_enum(message: impl Into<String>) -> FfiError {
        FfiError::new(simvue_result::SIMVUE_ERROR_UNKNOWN_ENUM, message)
    }

    /// An argument had an unacceptable value.
    pub(crate) fn invalid(message: impl Into<String>) -> FfiError {
        FfiError::new(simvue_result::SIMVUE_ERROR_INVALID_ARGUMENT, message)
    }

    /// The error as the core's reporter takes it: the core knows no C argument errors, so
    /// those travel as `InvalidArgument` (only the message is printed; the precise code stays
    /// here).
    pub(crate) fn to_core(&self) -> Error {
        let kind = simvue_result_kind(self.code).unwrap_or(ErrorKind::InvalidArgument);
        let mut e = Error::new(kind, self.message.clone());
        e.reported = self.reported;
        e
    }
}

/// The core kind a code comes from, if it comes from one.
fn simvue_result_kind(code: simvue_result) -> Option<ErrorKind> {
    use ErrorKind::*;
    [
        InvalidArgument,
        Closed,
        State,
        Config,
        Io,
        NotFound,
        Unsupported,
        Background,
        Network,
        Server,
        Auth,
    ]
    .into_iter()
    .find(|&k| simvue_result::from_kind(k) == code)
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError {
            code: simvue_result::from_kind(e.kind),
            message: e.message,
            reported: e.reported,
        }
    }
}

thread_local! {
    /// The calling thread's last error: code, message, and whether the library wrote it to
    /// stderr already.
    static LAST_ERROR: RefCell<(simvue_result, String, bool)> =
        const { RefCell::new((simvue_result::SIMVUE_OK, String::new(), false)) };
}

/// Records `e` as the calling thread's last error and returns its code.
fn fail(e: &FfiError) -> simvue_result {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.0 = e.code;
        last.1.clear();
        last.1.push_str(&e.message);
        last.2 = e.reported;
    });
    e.code
}

/// The panic boundary and result conversion every export goes through.
#[inline]
pub(crate) fn guard(f: impl FnOnce() -> FfiResult<()>) -> simvue_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => simvue_result::SIMVUE_OK,
        Ok(Err(e)) => fail(&e),
        Err(panic) => panicked(panic),
    }
}

/// The result of an export that caught a panic (`SIMVUE_ERROR_PANIC`, with what it said as
/// the last error).
#[cold]
pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send>) -> simvue_result {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    fail(&FfiError::new(
        simvue_result::SIMVUE_ERROR_PANIC,
        format!("internal error in libsimvue: {what}"),
    ))
}

/// The name of a result code as a static string (`"SIMVUE_ERROR_CLOSED"`), or
/// `"SIMVUE_UNKNOWN_RESULT"` for a number that is not a result code.
#[no_mangle]
pub extern "C" fn simvue_result_name(code: i32) -> *const c_char {
    simvue_result::ALL
        .iter()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_variant_names_and_numbers_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &r in simvue_result::ALL {
            assert!(seen.insert(r as i32), "{r:?} reuses a number");
            // SAFETY: simvue_result_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(simvue_result_name(r as i32)) };
            assert_eq!(name.to_str().unwrap(), format!("{r:?}"));
        }
        for (n, old) in simvue_result::RETIRED {
            assert!(seen.insert(*n), "retired number {n} ({old}) is in use");
            assert!(!simvue_result::ALL.iter().any(|r| format!("{r:?}") == *old));
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(simvue_result_name(12345)) };
        assert_eq!(unknown.to_str().unwrap(), "SIMVUE_UNKNOWN_RESULT");
    }

    #[test]
    fn core_kinds_round_trip() {
        let e = FfiError::from(Error::new(ErrorKind::Closed, "closed"));
        assert_eq!(e.code, simvue_result::SIMVUE_ERROR_CLOSED);
        assert_eq!(e.to_core().kind, ErrorKind::Closed);
        let arg = FfiError::null("x is NULL");
        assert_eq!(arg.to_core().kind, ErrorKind::InvalidArgument);
    }
}
