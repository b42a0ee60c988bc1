//! MIME types as the Python client sees them: `mimetypes.guess_type` to guess a file's type, and
//! the values of `mimetypes.types_map` (plus `application/vnd.plotly.v1+json`) as the types a
//! user may name (`simvue/utilities.py` `get_mimetypes`, `get_mimetype_for_file`). Like Python,
//! the built-in table is extended by the system's `mime.types` files.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use once_cell::sync::Lazy;

use crate::mime_table::{ENCODINGS, SUFFIXES, TYPES};

/// The type given to files whose type is unknown.
pub const DEFAULT: &str = "application/octet-stream";

/// Python's `mimetypes.knownfiles`.
const KNOWN_FILES: &[&str] = &[
    "/etc/mime.types",
    "/etc/httpd/mime.types",
    "/etc/httpd/conf/mime.types",
    "/etc/apache/mime.types",
    "/etc/apache2/mime.types",
    "/usr/local/etc/httpd/conf/mime.types",
    "/usr/local/lib/netscape/mime.types",
    "/usr/local/etc/mime.types",
];

struct Db {
    by_ext: HashMap<String, String>,
    types: HashSet<String>,
}

static DB: Lazy<Db> = Lazy::new(|| {
    let mut by_ext: HashMap<String, String> = TYPES
        .iter()
        .map(|(e, t)| ((*e).to_owned(), (*t).to_owned()))
        .collect();
    for file in KNOWN_FILES {
        if let Ok(text) = std::fs::read_to_string(file) {
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("");
                let mut words = line.split_whitespace();
                if let Some(t) = words.next() {
                    for ext in words {
                        by_ext.insert(format!(".{ext}"), t.to_owned());
                    }
                }
            }
        }
    }
    let mut types: HashSet<String> = by_ext.values().cloned().collect();
    types.insert("application/vnd.plotly.v1+json".into());
    Db { by_ext, types }
});

/// Splits `name` as `posixpath.splitext` does: the extension starts at the last dot that is not
/// the first character.
fn splitext(name: &str) -> (&str, &str) {
    let stem_start = name.rfind('/').map_or(0, |i| i + 1);
    let file = &name[stem_start..];
    match file.rfind('.') {
        Some(i) if file[..i].chars().any(|c| c != '.') => name.split_at(stem_start + i),
        _ => (name, ""),
    }
}

/// The type Python would guess for `path`, or [`DEFAULT`].
pub fn guess(path: &Path) -> String {
    let name = path.to_string_lossy();
    let (mut base, mut ext) = {
        let (b, e) = splitext(&name);
        (b.to_owned(), e.to_owned())
    };
    while let Some((_, two)) = SUFFIXES.iter().find(|(s, _)| *s == ext.to_lowercase()) {
        let joined = format!("{base}{two}");
        let (b, e) = splitext(&joined);
        (base, ext) = (b.to_owned(), e.to_owned());
    }
    if ENCODINGS.contains(&ext.as_str()) {
        let (_, e) = splitext(&base);
        ext = e.to_owned();
    }
    let db = &*DB;
    // Python looks the lowercased extension up, so the capitalised entries of some
    // mime.types files are never matched.
    db.by_ext
        .get(&ext.to_lowercase())
        .cloned()
        .unwrap_or_else(|| DEFAULT.to_owned())
}

/// Whether the Python client accepts `mime` as a file type.
pub fn is_allowed(mime: &str) -> bool {
    DB.types.contains(mime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_like_python() {
        let g = |p: &str| guess(Path::new(p));
        assert_eq!(g("params.in"), DEFAULT);
        assert_eq!(g("out/field.csv"), "text/csv");
        assert_eq!(g("FIELD.CSV"), "text/csv");
        assert_eq!(g("data.json"), "application/json");
        assert_eq!(g("deck.csv.gz"), "text/csv");
        assert_eq!(g("a.tgz"), "application/x-tar");
        assert_eq!(g(".bashrc"), DEFAULT);
        assert_eq!(g("noext"), DEFAULT);
        assert_eq!(g("dir.d/file"), DEFAULT);
    }

    #[test]
    fn allowed_types_are_the_table_values() {
        assert!(is_allowed("text/plain"));
        assert!(is_allowed("application/octet-stream"));
        assert!(is_allowed("application/vnd.plotly.v1+json"));
        assert!(!is_allowed("text/made-up"));
        assert!(!is_allowed(""));
    }
}
