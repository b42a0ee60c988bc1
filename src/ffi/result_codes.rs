// The result codes of the C API: their one definition. Not a module: `src/ffi/result.rs`
// expands it into the `simvue_result` enum, its names and its number list, and `build.rs`
// expands it into the plain enum cbindgen reads for include/simvue.h (cbindgen does not expand
// macros). Each side defines its own `result_codes!` macro over this same text.
//
// The numbers are part of the ABI and are never reused. To retire a code, move it from
// `codes` to `retired` (number and former name): a compile-time check in `result.rs` refuses a
// live code with a retired number, and `tests/packaging/check_bindings.py` keeps the Fortran
// parameters in step with the header.
result_codes! {
    /// Result codes of every fallible function. The numbers are part of the ABI and are never
    /// reused.
    codes {
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
        /// The handle is not a live simvue handle (NULL is `SIMVUE_ERROR_NULL_ARGUMENT`; a
        /// freed run handle is this).
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
    // Retired codes, `number => "FORMER_NAME",`: never to be given to another code.
    retired {}
}
