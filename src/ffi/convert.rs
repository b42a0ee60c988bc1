//! Conversions at the C boundary: C strings to `&str` (NULL and invalid UTF-8 are errors),
//! arrays of C strings, and strings out into caller buffers.

use std::ffi::{c_char, CStr};

use super::result::{simvue_result, FfiError, FfiResult};

/// Reads a required C string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn cstr<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(FfiError::null(format!("{what} is NULL")));
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    // Names are nearly always ASCII, which is valid UTF-8; checking that is much cheaper than
    // the general validation, and this runs for every metric name of every call.
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(std::str::from_utf8_unchecked(bytes));
    }
    std::str::from_utf8(bytes).map_err(|_| not_utf8(bytes, what))
}

/// The error for a string that is not UTF-8. The Fortran module and the C++ header pass a NUL
/// inside a string as C0 80 (modified UTF-8, never valid UTF-8), so that it is refused as what
/// it is rather than cutting the string short.
#[cold]
fn not_utf8(bytes: &[u8], what: &str) -> FfiError {
    if bytes.windows(2).any(|w| w == [0xC0, 0x80]) {
        FfiError::new(
            simvue_result::SIMVUE_ERROR_INVALID_ARGUMENT,
            format!(
                "{what} contains a NUL character (char(0) in Fortran, '\\0' in a C++ string), which would cut it short"
            ),
        )
    } else {
        FfiError::new(
            simvue_result::SIMVUE_ERROR_INVALID_UTF8,
            format!("{what} is not valid UTF-8"),
        )
    }
}

/// Reads an optional C string: NULL means "not given".
///
/// # Safety
/// As [`cstr`].
pub(crate) unsafe fn opt_cstr<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
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
) -> FfiResult<Vec<&'a str>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(FfiError::null(format!(
            "{what} is NULL but its count is {n}"
        )));
    }
    std::slice::from_raw_parts(p, n)
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            // The element's name is formatted only for an error message.
            cstr(s, what).map_err(|e| FfiError {
                message: e.message.replacen(what, &format!("{what}[{i}]"), 1),
                ..e
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
) -> FfiResult<()> {
    if !needed.is_null() {
        *needed = s.len();
    }
    if buf.is_null() {
        return Err(FfiError::null("output buffer is NULL"));
    }
    if len < s.len() + 1 {
        return Err(FfiError::new(
            simvue_result::SIMVUE_ERROR_BUFFER_TOO_SMALL,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_nul_is_named_and_other_bad_bytes_are_not_utf8() {
        let nul = c"a\xC0\x80b";
        let e = unsafe { cstr(nul.as_ptr(), "message") }.unwrap_err();
        assert_eq!(e.code, simvue_result::SIMVUE_ERROR_INVALID_ARGUMENT);
        assert!(
            e.message.contains("message contains a NUL"),
            "{}",
            e.message
        );
        let bad = c"a\xFFb";
        let e = unsafe { cstr(bad.as_ptr(), "message") }.unwrap_err();
        assert_eq!(e.code, simvue_result::SIMVUE_ERROR_INVALID_UTF8);
        assert_eq!(
            unsafe { cstr(c"caf\xC3\xA9".as_ptr(), "m") }.unwrap(),
            "café"
        );
    }
}
