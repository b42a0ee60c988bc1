//! Saved files and in-memory buffers (artifacts), as simvue 2.6.2 records them
//! (protocol doc §6 and §8.2).
//!
//! Files are streamed: the checksum and the upload read them in chunks, so a multi-gigabyte
//! output field never sits in memory. A snapshot copies the file into the offline cache at
//! save time (hashing while copying), so that a file the solver overwrites later is saved as
//! it was.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;
use crate::time::Timestamp;
use crate::{mime, validate};

/// Block size for hashing and copying.
const CHUNK: usize = 1 << 20;

/// What a saved file is to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// An input of the run (an input deck).
    Input,
    /// Something the run produced.
    Output,
    /// Source code.
    Code,
}

impl Category {
    /// The category as the server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Input => "input",
            Category::Output => "output",
            Category::Code => "code",
        }
    }
}

/// Where an artifact's bytes are.
#[derive(Debug, Clone)]
pub enum Content {
    /// A file, read when it is uploaded. `given` is the path as the user gave it.
    File {
        /// The file to read (the snapshot copy when there is one).
        path: PathBuf,
        /// The path as given, or the snapshot copy (`file_path` in the offline record).
        given: String,
    },
    /// Bytes held in memory (the C equivalent of the Python client's saved objects).
    Bytes(Arc<Vec<u8>>),
}

/// An artifact ready to be recorded.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Name on the server.
    pub name: String,
    /// Absolute path of the file read (empty for bytes).
    pub original_path: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub mime_type: String,
    /// sha256 of the content, hex.
    pub checksum: String,
    /// Metadata of the artifact (a JSON object), or `null`.
    pub metadata: Option<Json>,
    /// The bytes.
    pub content: Content,
}

impl Artifact {
    /// The body of `POST /api/artifacts`.
    pub fn to_online_json(&self) -> Json {
        Json::object()
            .with("name", self.name.as_str())
            .with("original_path", self.original_path.as_str())
            .with("size", self.size as i64)
            .with("mime_type", self.mime_type.as_str())
            .with("checksum", self.checksum.as_str())
            .with("metadata", self.metadata.clone())
    }

    /// The offline record (`artifacts/<id>.json`), attached to `run_id` with `category`.
    pub fn to_offline_json(&self, run_id: &str, category: Category) -> Json {
        let runs = Json::object().with(run_id, category.as_str());
        match &self.content {
            Content::File { given, .. } => Json::object()
                .with("obj_type", "FileArtifact")
                .with("name", self.name.as_str())
                .with("storage", Json::Null)
                .with("original_path", self.original_path.as_str())
                .with("size", self.size as i64)
                .with("mime_type", self.mime_type.as_str())
                .with("checksum", self.checksum.as_str())
                .with("metadata", self.metadata.clone())
                .with("file_path", given.as_str())
                .with("runs", runs),
            Content::Bytes(_) => Json::object()
                .with("obj_type", "ObjectArtifact")
                .with("original_path", "")
                .with("name", self.name.as_str())
                .with("storage", Json::Null)
                .with("size", self.size as i64)
                .with("mime_type", self.mime_type.as_str())
                .with("checksum", self.checksum.as_str())
                .with("metadata", self.metadata.clone())
                .with("obj", Json::Null)
                .with("runs", runs),
        }
    }

    /// Computes the size and checksum if they are not known yet (a file saved without a
    /// snapshot is hashed on the background thread, not the solver's).
    pub fn complete(&mut self) -> Result<()> {
        if self.checksum.is_empty() {
            let r = self.open()?;
            let (size, sum) = hash_stream(r, None)
                .map_err(|e| Error::io(format!("cannot read {}", self.original_path), e))?;
            self.size = size;
            self.checksum = sum;
        }
        Ok(())
    }

    /// The snapshot copy this artifact reads from, if it is one (inside `staging`).
    pub fn staged_copy(&self, staging: &Path) -> Option<PathBuf> {
        match &self.content {
            Content::File { path, .. } if path.parent() == Some(staging) => Some(path.clone()),
            _ => None,
        }
    }

    /// Opens the content for reading (again, for each upload attempt).
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match &self.content {
            Content::File { path, .. } => File::open(path)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| Error::io(format!("cannot read {}", path.display()), e)),
            Content::Bytes(b) => Ok(Box::new(std::io::Cursor::new(SharedBytes(b.clone())))),
        }
    }

    /// The file name sent with a multipart upload (`"file"` for bytes, as the Python client).
    pub fn upload_filename(&self) -> String {
        match &self.content {
            Content::File { path, .. } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into()),
            Content::Bytes(_) => "file".into(),
        }
    }
}

impl Category {
    /// Parses a category as the server spells it.
    pub fn parse(s: &str) -> Option<Category> {
        [Category::Input, Category::Output, Category::Code]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// An artifact record read back from the cache (`artifacts/<id>.json`, written by
/// [`Artifact::to_offline_json`] or by simvue 2.6.2; protocol doc §8.2, §8.5).
#[derive(Debug, Clone)]
pub struct CachedArtifact {
    /// The content to upload: the file at `original_path`, or the bytes of
    /// `artifacts/<id>.object`. Its `size` is what is there now.
    pub artifact: Artifact,
    /// The body of `POST /api/artifacts`: the record minus what stays local (its `size` is the
    /// recorded one, `len + 33` for a Python object, as the Python sender sends it).
    pub body: Json,
    /// The runs it is attached to (cache ids) and its category in each.
    pub runs: Vec<(String, Category)>,
}

impl CachedArtifact {
    /// Reads a cached artifact record; `object_file` is where an object artifact's bytes are
    /// (`artifacts/<id>.object`). A file that no longer exists is an error: the record stays
    /// for a later attempt.
    pub fn from_json(cached: &Json, object_file: &Path) -> Result<CachedArtifact> {
        let text = |k: &str| {
            cached
                .get(k)
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let name = text("name");
        if name.is_empty() {
            return Err(Error::invalid("cached artifact has no name"));
        }
        let runs = cached
            .get("runs")
            .and_then(Json::as_object)
            .unwrap_or(&[])
            .iter()
            .map(|(run, cat)| {
                cat.as_str()
                    .and_then(Category::parse)
                    .map(|c| (run.clone(), c))
                    .ok_or_else(|| {
                        Error::invalid(format!("artifact {name:?}: bad category for run {run}"))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let is_object = cached.get("obj_type").and_then(Json::as_str) == Some("ObjectArtifact")
            || text("file_path").is_empty();
        let (content, size, original_path) = if is_object {
            let bytes = std::fs::read(object_file)
                .map_err(|e| Error::io(format!("cannot read {}", object_file.display()), e))?;
            let n = bytes.len() as u64;
            (Content::Bytes(Arc::new(bytes)), n, String::new())
        } else {
            let path = PathBuf::from(text("original_path"));
            let meta = std::fs::metadata(&path).map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::NotFound {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Io
                };
                Error::new(kind, format!("artifact {name:?}: {}: {e}", path.display()))
            })?;
            let given = text("file_path");
            let original = text("original_path");
            (Content::File { path, given }, meta.len(), original)
        };
        let mut body = cached.clone();
        for k in
            crate::model::LOCAL_ONLY_KEYS
                .iter()
                .chain(&["storage", "file_path", "runs", "obj"])
        {
            body.remove(k);
        }
        Ok(CachedArtifact {
            artifact: Artifact {
                name,
                original_path,
                size,
                mime_type: match cached.get("mime_type").and_then(Json::as_str) {
                    Some(m) if !m.is_empty() => m.to_owned(),
                    _ => mime::DEFAULT.to_owned(),
                },
                checksum: text("checksum"),
                metadata: cached
                    .get("metadata")
                    .filter(|m| !matches!(m, Json::Null))
                    .cloned(),
                content,
            },
            body,
            runs,
        })
    }
}

struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Hashes everything `r` yields, optionally copying it to `copy`; returns (size, hex sha256).
fn hash_stream(mut r: impl Read, mut copy: Option<&mut File>) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(f) = copy.as_mut() {
            f.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((size, format!("{:x}", hasher.finalize())))
}

/// The sha256 of a byte buffer.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Options of one file save.
#[derive(Debug, Clone, Default)]
pub struct SaveOptions<'a> {
    /// MIME type; guessed from the file name when `None`.
    pub mime_type: Option<&'a str>,
    /// Name the artifact by its path relative to the working directory instead of its base
    /// name.
    pub preserve_path: bool,
    /// Artifact name; overrides the derived one.
    pub name: Option<&'a str>,
    /// Copy the file into the cache now and save the copy.
    pub snapshot: bool,
    /// Metadata of the artifact (a JSON object).
    pub metadata: Option<Json>,
}

/// Artifact metadata must be a JSON object (`metadata: dict[str, Any]` in the Python client).
pub fn check_metadata(metadata: Option<&Json>) -> Result<()> {
    match metadata {
        None | Some(Json::Object(_)) => Ok(()),
        Some(_) => Err(Error::invalid("artifact metadata must be a JSON object")),
    }
}

/// Checks the MIME type a user named.
pub fn check_mime(mime: &str) -> Result<()> {
    if mime::is_allowed(mime) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{mime:?} is not a MIME type the Simvue client accepts (see Python's mimetypes.types_map)"
        )))
    }
}

/// The artifact name the Python client derives: the base name, or with `preserve_path` the
/// path relative to the working directory (a file outside it is an error, as in 2.6.2).
pub fn derived_name(path: &Path, preserve_path: bool) -> Result<String> {
    if !preserve_path {
        return path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::invalid(format!("{} has no file name", path.display())));
    }
    let cwd = std::env::current_dir()
        .and_then(|c| c.canonicalize())
        .map_err(|e| Error::io("cannot read the working directory", e))?;
    let full = path
        .canonicalize()
        .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
    let rel = full.strip_prefix(&cwd).map_err(|_| {
        Error::invalid(format!(
            "cannot preserve the path of {}: it is outside the working directory {}",
            path.display(),
            cwd.display()
        ))
    })?;
    if rel.components().any(|c| matches!(c, Component::ParentDir)) || rel.as_os_str().is_empty() {
        return Err(Error::invalid(format!(
            "cannot preserve the path of {}",
            path.display()
        )));
    }
    Ok(rel.to_string_lossy().into_owned())
}

/// Creates `<dir>/<base>.<ext>`, or `<base>-<n>.<ext>` with the first free `n`, atomically
/// (`create_new`: the name is ours even when other threads or processes race for it).
fn claim_new_file(dir: &Path, base: &str, ext: &str) -> Result<(PathBuf, File)> {
    let mut n = 0u64;
    loop {
        let target = if n == 0 {
            dir.join(format!("{base}.{ext}"))
        } else {
            dir.join(format!("{base}-{n}.{ext}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
        {
            Ok(f) => return Ok((target, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(Error::io(format!("cannot create {}", target.display()), e)),
        }
    }
}

/// Checks a file and makes its artifact: the name, type, size and checksum. With
/// `snapshot_dir`, the file is first copied there (checksum computed while copying) and the
/// artifact refers to the copy. Without it, the checksum is left empty for
/// [`Artifact::complete`] to compute on the background thread.
pub fn prepare_file(
    path: &Path,
    opts: &SaveOptions<'_>,
    snapshot_dir: Option<&Path>,
) -> Result<Artifact> {
    let mut given = path.to_string_lossy().into_owned();
    if given.is_empty() {
        return Err(Error::invalid("the file name is empty"));
    }
    check_metadata(opts.metadata.as_ref())?;
    let meta = std::fs::metadata(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("cannot save {given}: {e}"))
    })?;
    if meta.is_dir() {
        return Err(Error::invalid(format!(
            "{given} is a directory: use save_directory"
        )));
    }
    if !meta.is_file() {
        return Err(Error::invalid(format!("{given} is not a regular file")));
    }
    let name = match opts.name {
        Some(n) => {
            validate::name("artifact name", n)?;
            n.to_owned()
        }
        None => derived_name(path, opts.preserve_path)?,
    };
    let mime_type = match opts.mime_type {
        Some(m) => {
            check_mime(m)?;
            m.to_owned()
        }
        None => mime::guess(path),
    };
    let file = File::open(path).map_err(|e| Error::io(format!("cannot read {given}"), e))?;
    let (read_path, size, checksum) = match snapshot_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into());
            // `<stem>_<YYYY-MM-DD_HH-MM-SS_mmm>.file`, as file.py:156-160, plus a counter when
            // that name is taken: snapshots of files sharing a name, from threads or from
            // processes sharing the cache (MPI ranks), fall in the same millisecond. The name
            // is claimed with O_EXCL, so no two saves ever write (or record) the same copy.
            let ts = Timestamp::now().to_string();
            let stamp = format!(
                "{}_{}-{}-{}_{}",
                &ts[..10],
                &ts[11..13],
                &ts[14..16],
                &ts[17..19],
                &ts[20..23]
            );
            let (target, mut out) = claim_new_file(dir, &format!("{stem}_{stamp}"), "file")?;
            let (size, sum) = hash_stream(file, Some(&mut out)).map_err(|e| {
                let _ = std::fs::remove_file(&target);
                Error::io(format!("cannot snapshot {given}"), e)
            })?;
            // simvue 2.6.2 records the copy as the file (file.py:164, 184).
            given = std::path::absolute(&target)
                .unwrap_or_else(|_| target.clone())
                .to_string_lossy()
                .into_owned();
            (target, size, sum)
        }
        None => {
            drop(file); // opened only to check that it can be read
            (path.to_path_buf(), meta.len(), String::new())
        }
    };
    let original_path = std::path::absolute(&read_path)
        .map_err(|e| Error::io(format!("cannot resolve {}", read_path.display()), e))?
        .to_string_lossy()
        .into_owned();
    Ok(Artifact {
        name,
        original_path,
        size,
        mime_type,
        checksum,
        metadata: opts.metadata.clone(),
        content: Content::File {
            path: read_path,
            given,
        },
    })
}

/// Makes the artifact of an in-memory buffer.
pub fn prepare_bytes(
    name: &str,
    bytes: Vec<u8>,
    mime_type: Option<&str>,
    metadata: Option<Json>,
) -> Result<Artifact> {
    validate::name("artifact name", name)?;
    check_metadata(metadata.as_ref())?;
    let mime_type = match mime_type {
        Some(m) => {
            check_mime(m)?;
            m.to_owned()
        }
        None => mime::DEFAULT.to_owned(),
    };
    Ok(Artifact {
        name: name.to_owned(),
        original_path: String::new(),
        size: bytes.len() as u64,
        mime_type,
        checksum: sha256_hex(&bytes),
        metadata,
        content: Content::Bytes(Arc::new(bytes)),
    })
}

/// The regular files below `dir`, recursively, in a stable order.
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::new(
            kind,
            format!("cannot save directory {}: {e}", dir.display()),
        )
    })?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| Error::io(format!("cannot list {}", d.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) if m.is_file() => out.push(p),
                // Links are followed only to regular files, as os.walk does by default.
                Ok(m) if m.file_type().is_symlink() && p.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("simvue-art-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn checksums_match_the_reference_cache() {
        // params.in of the reference scenario: "nx = 64\nalpha = 0.01\n", 21 bytes.
        let d = tmp("sum");
        let p = d.join("params.in");
        std::fs::write(&p, "nx = 64\nalpha = 0.01\n").unwrap();
        let mut a = prepare_file(&p, &SaveOptions::default(), None).unwrap();
        assert!(
            a.checksum.is_empty(),
            "hashed later, off the solver's thread"
        );
        a.complete().unwrap();
        assert_eq!(a.size, 21);
        assert_eq!(
            a.checksum,
            "b0d4991e697f9158b09a878b6a7ff5b0459f3b16436ad96221a999f083b9148f"
        );
        assert_eq!(a.mime_type, "application/octet-stream");
        assert_eq!(a.name, "params.in");
        assert!(a.original_path.starts_with('/'));
    }

    #[test]
    fn a_snapshot_keeps_the_content_at_save_time() {
        let d = tmp("snap");
        let p = d.join("field.csv");
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        let a = prepare_file(
            &p,
            &SaveOptions {
                snapshot: true,
                ..Default::default()
            },
            Some(&d.join("cache")),
        )
        .unwrap();
        std::fs::write(&p, "overwritten").unwrap();
        let Content::File { path, given } = &a.content else {
            panic!()
        };
        assert_eq!(std::fs::read_to_string(path).unwrap(), "a,b\n1,2\n");
        assert_eq!(
            given,
            &path.to_string_lossy(),
            "file_path is the copy, as in 2.6.2"
        );
        assert_eq!(a.checksum, sha256_hex(b"a,b\n1,2\n"));
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("field_"));
        assert!(path.to_string_lossy().ends_with(".file"));
        assert_eq!(a.mime_type, "text/csv");
    }

    #[test]
    fn cached_records_read_back_into_the_same_artifact() {
        let d = tmp("cached");
        let p = d.join("in.txt");
        std::fs::write(&p, "abc").unwrap();
        let mut a = prepare_file(&p, &SaveOptions::default(), None).unwrap();
        a.complete().unwrap();
        let record = a.to_offline_json("offline_r", Category::Input);
        let back = CachedArtifact::from_json(&record, &d.join("none.object")).unwrap();
        assert_eq!(back.runs, vec![("offline_r".to_string(), Category::Input)]);
        assert_eq!(back.body, a.to_online_json());
        assert_eq!(
            (back.artifact.size, &back.artifact.checksum),
            (3, &a.checksum)
        );
        assert_eq!(back.artifact.upload_filename(), "in.txt");

        let b = prepare_bytes(
            "summary.json",
            b"{}".to_vec(),
            Some("application/json"),
            None,
        )
        .unwrap();
        let record = b.to_offline_json("offline_r", Category::Output);
        let obj = d.join("x.object");
        std::fs::write(&obj, "{}").unwrap();
        let back = CachedArtifact::from_json(&record, &obj).unwrap();
        assert_eq!(back.artifact.upload_filename(), "file");
        assert_eq!(back.artifact.size, 2);
        let keys = |j: &Json| {
            let mut k: Vec<String> = j.as_object().unwrap().iter().map(|e| e.0.clone()).collect();
            k.sort();
            k
        };
        assert_eq!(keys(&back.body), keys(&b.to_online_json()));

        std::fs::remove_file(&p).unwrap();
        let gone = CachedArtifact::from_json(
            &a.to_offline_json("offline_r", Category::Input),
            &d.join("none"),
        )
        .unwrap_err();
        assert_eq!(gone.kind, ErrorKind::NotFound);
    }

    #[test]
    fn bad_input_is_refused_clearly() {
        let d = tmp("bad");
        let e = prepare_file(&d.join("missing"), &SaveOptions::default(), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = prepare_file(&d, &SaveOptions::default(), None).unwrap_err();
        assert!(e.message.contains("directory"), "{}", e.message);
        std::fs::write(d.join("f"), "x").unwrap();
        let bad_mime = SaveOptions {
            mime_type: Some("text/nonsense"),
            ..Default::default()
        };
        assert_eq!(
            prepare_file(&d.join("f"), &bad_mime, None)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidArgument
        );
        let bad_name = SaveOptions {
            name: Some("a|b"),
            ..Default::default()
        };
        assert_eq!(
            prepare_file(&d.join("f"), &bad_name, None)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidArgument
        );
        // A file outside the working directory cannot keep its path.
        let keep = SaveOptions {
            preserve_path: true,
            ..Default::default()
        };
        let outside = Path::new("/").join(d.strip_prefix("/").unwrap()).join("f");
        if !outside.starts_with(std::env::current_dir().unwrap()) {
            assert_eq!(
                prepare_file(&outside, &keep, None).unwrap_err().kind,
                ErrorKind::InvalidArgument
            );
        }
        assert_eq!(
            prepare_bytes("", vec![], None, None).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn directories_are_walked_in_order() {
        let d = tmp("walk");
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        for f in ["b", "a", "sub/c", "sub/deeper/d"] {
            std::fs::write(d.join(f), f).unwrap();
        }
        let files = files_below(&d).unwrap();
        let rel: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(&d).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(rel, vec!["a", "b", "sub/c", "sub/deeper/d"]);
        assert_eq!(
            files_below(&d.join("a")).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }
}
