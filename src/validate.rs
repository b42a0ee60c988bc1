//! Validation rules of the Python client (protocol doc §9), as plain character checks so that
//! the hot path needs no regex engine.

use crate::error::{Error, Result};

/// Python's `\s` in a `str` pattern: ASCII whitespace plus Unicode whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\x1c'..='\x1f')
}

fn check_chars(what: &str, value: &str, extra: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if let Some(bad) = value
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || is_py_space(c) || extra.contains(c)))
    {
        return Err(Error::invalid(format!(
            "{what} {value:?} contains {bad:?}; allowed are letters, digits, whitespace and {extra}"
        )));
    }
    Ok(())
}

/// Run, artifact and alert names: `^[a-zA-Z0-9\-\_\s\/\.:]+$`.
pub fn name(what: &str, value: &str) -> Result<()> {
    check_chars(what, value, "-_/.:")
}

/// Metric names: `^[a-zA-Z0-9\-\_\s\/\.:=><+\(\)%]+$` (2.6.2 added `%`).
pub fn metric_name(value: &str) -> Result<()> {
    check_chars("metric name", value, "-_/.:=><+()%")
}

/// Folder paths must start with `/` (`^/.*`).
pub fn folder(value: &str) -> Result<()> {
    if value.starts_with('/') {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "folder {value:?} must start with '/'"
        )))
    }
}

/// Tags and metadata keys: any non-empty string (the client defines `^[\w\-\s\.]+$` for tags
/// but does not enforce it, and the server accepts more).
pub fn non_empty(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

/// A number that must be finite.
pub fn finite(what: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} must be finite, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_follow_the_python_regex() {
        assert!(metric_name("aB0-_/.:=><+()%").is_ok());
        assert!(metric_name("loss train").is_ok());
        assert!(metric_name("resources/cpu.usage.percentage").is_ok());
        assert!(metric_name("").is_err());
        assert!(metric_name("a,b").is_err());
        assert!(metric_name("naïve").is_err());
        assert!(metric_name("x*y").is_err());
    }

    #[test]
    fn names_and_folders() {
        assert!(name("run name", "heat-1d demo_2/x.y:z").is_ok());
        assert!(name("run name", "a=b").is_err());
        assert!(name("run name", "").is_err());
        assert!(folder("/a/b").is_ok());
        assert!(folder("/").is_ok());
        assert!(folder("a/b").is_err());
        assert!(folder("").is_err());
    }

    #[test]
    fn finite_rejects_nan_and_infinity() {
        assert!(finite("x", 1.0).is_ok());
        assert!(finite("x", f64::NAN).is_err());
        assert!(finite("x", f64::NEG_INFINITY).is_err());
    }
}
