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
//!
//! Modules: `result` (the codes, from the one definition in `result_codes.rs`; the last error;
//! the panic boundary), `convert` (C strings and buffers), and one module per C object family:
//! `run` (`simvue_run`), `resources` (`simvue_resources_*`).

#![allow(non_camel_case_types)]

use std::ffi::{c_char, CStr};

mod convert;
pub mod resources;
pub mod result;
pub mod run;

pub use result::simvue_result;

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
