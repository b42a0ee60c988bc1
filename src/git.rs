//! Git information of the working directory, as run metadata `git` (the Python client's
//! `metadata.git_info`, which asks GitPython and so the `git` program): read from the `.git`
//! directory itself, so that no git needs to be installed on the compute node.
//!
//! What it reads: `HEAD` and refs (loose and `packed-refs`), loose and packed objects (pack
//! index v2, deltas), the index (versions 2 to 4) to tell whether the work tree is dirty, and
//! the config files for `remote.origin.url` and `user.email`. Worktrees (`.git` files,
//! `commondir`) are followed. Anything unreadable gives no git metadata, as in Python.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::ZlibDecoder;
use sha1::{Digest, Sha1};

use crate::json::Json;

/// Object types of the pack format.
const COMMIT: u8 = 1;
const TREE: u8 = 2;
const BLOB: u8 = 3;
const TAG: u8 = 4;

/// `{"authors", "ref", "msg", "time_stamp", "blame", "url", "dirty"}` of the repository that
/// holds `dir`, or `None` when there is none or it has no commit (the Python client gives
/// nothing then either). Without a remote `origin`, `url` is `null` (2.6.2's `init` fails
/// there: `git_repo.remote()` raises outside its `try`).
pub fn git_info(dir: &Path) -> Option<Json> {
    let repo = Repo::discover(dir)?;
    let head = repo.head()?;
    let commit = Commit::parse(&repo.object_of(&head, COMMIT)?)?;
    let config = repo.config();
    let url = config
        .get("remote.origin.url")
        .map_or(Json::Null, |u| Json::Str(u.clone()));
    let dirty = repo.dirty(&commit.tree);
    let blame = if dirty {
        config
            .get("user.email")
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned())
    } else {
        commit.committer_email.clone()
    };
    let reference = repo.tag_of(&head).unwrap_or_else(|| head.clone());
    Some(
        Json::object()
            .with("authors", repo.authors())
            .with("ref", reference)
            .with("msg", commit.message.trim())
            .with("time_stamp", commit.committed_local())
            .with("blame", blame)
            .with("url", url)
            .with("dirty", dirty),
    )
}

/// The parts of a commit the metadata needs.
struct Commit {
    tree: String,
    parents: Vec<String>,
    author_name: String,
    author_email: String,
    committer_email: String,
    /// Seconds since the epoch and the zone offset in seconds.
    committed: (i64, i64),
    message: String,
}

/// `Name <email> 1700000000 +0100` -> (name, email, time, offset seconds).
fn person(s: &str) -> Option<(String, String, i64, i64)> {
    let lt = s.find('<')?;
    let gt = s[lt..].find('>')? + lt;
    let mut rest = s[gt + 1..].split_whitespace();
    let time = rest.next()?.parse().ok()?;
    let tz = rest.next().unwrap_or("+0000");
    let sign = if tz.starts_with('-') { -1 } else { 1 };
    let digits = tz.trim_start_matches(['+', '-']);
    let (h, m) = (
        digits.get(0..2)?.parse::<i64>().ok()?,
        digits.get(2..4)?.parse::<i64>().ok()?,
    );
    Some((
        s[..lt].trim().to_owned(),
        s[lt + 1..gt].to_owned(),
        time,
        sign * (h * 3600 + m * 60),
    ))
}

impl Commit {
    fn parse(data: &[u8]) -> Option<Commit> {
        let text = String::from_utf8_lossy(data);
        let (headers, message) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut c = Commit {
            tree: String::new(),
            parents: Vec::new(),
            author_name: String::new(),
            author_email: String::new(),
            committer_email: String::new(),
            committed: (0, 0),
            message: message.to_owned(),
        };
        for line in headers.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "tree" => c.tree = value.to_owned(),
                "parent" => c.parents.push(value.to_owned()),
                "author" => {
                    let (name, email, _, _) = person(value)?;
                    c.author_name = name;
                    c.author_email = email;
                }
                "committer" => {
                    let (_, email, time, tz) = person(value)?;
                    c.committer_email = email;
                    c.committed = (time, tz);
                }
                _ => {}
            }
        }
        (!c.tree.is_empty()).then_some(c)
    }

    /// The commit time in the committer's own zone, without the zone, as the Python client's
    /// `simvue_timestamp(committed_datetime)` writes an aware datetime (protocol doc §4.2).
    fn committed_local(&self) -> String {
        let (t, tz) = self.committed;
        crate::time::Timestamp((t + tz) * 1_000_000).to_string()
    }
}

/// An open pack: its index and the path of its data.
struct Pack {
    index: Vec<u8>,
    data: PathBuf,
}

impl Pack {
    /// Number of objects and the offset of the object `sha` (20 bytes), from a v2 index.
    fn offset(&self, sha: &[u8; 20]) -> Option<u64> {
        let idx = &self.index;
        if idx.get(0..8)? != [0xff, b't', b'O', b'c', 0, 0, 0, 2] {
            return None;
        }
        let fan = |i: usize| -> Option<usize> {
            Some(u32::from_be_bytes(idx.get(8 + 4 * i..12 + 4 * i)?.try_into().ok()?) as usize)
        };
        let n = fan(255)?;
        let first = sha[0] as usize;
        let (mut lo, mut hi) = (if first == 0 { 0 } else { fan(first - 1)? }, fan(first)?);
        let names = 8 + 256 * 4;
        while lo < hi {
            let mid = (lo + hi) / 2;
            let name = idx.get(names + 20 * mid..names + 20 * mid + 20)?;
            match name.cmp(&sha[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let offsets = names + 20 * n + 4 * n;
                    let o = u32::from_be_bytes(
                        idx.get(offsets + 4 * mid..offsets + 4 * mid + 4)?
                            .try_into()
                            .ok()?,
                    );
                    if o & 0x8000_0000 == 0 {
                        return Some(u64::from(o));
                    }
                    let large = offsets + 4 * n + 8 * (o & 0x7fff_ffff) as usize;
                    return Some(u64::from_be_bytes(
                        idx.get(large..large + 8)?.try_into().ok()?,
                    ));
                }
            }
        }
        None
    }
}

/// A repository found from a directory.
struct Repo {
    /// The `.git` directory of this work tree (for a worktree, its own directory).
    git_dir: PathBuf,
    /// Where objects, refs and the config live (`commondir`, or `git_dir`).
    common: PathBuf,
    work_tree: PathBuf,
    packs: Vec<Pack>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 20]> {
    let s = s.trim();
    if s.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn byte(r: &mut impl Read) -> Option<u8> {
    let mut b = [0u8];
    r.read_exact(&mut b).ok()?;
    Some(b[0])
}

fn inflate(r: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    ZlibDecoder::new(r).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Applies a git delta to `base`.
fn apply_delta(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    let varint = |i: &mut usize| -> Option<usize> {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let b = *delta.get(*i)?;
            *i += 1;
            v |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
    };
    let _source = varint(&mut i)?;
    let size = varint(&mut i)?;
    let mut out = Vec::with_capacity(size);
    while i < delta.len() {
        let cmd = delta[i];
        i += 1;
        if cmd & 0x80 != 0 {
            let (mut off, mut len) = (0usize, 0usize);
            for bit in 0..4 {
                if cmd & (1 << bit) != 0 {
                    off |= (*delta.get(i)? as usize) << (8 * bit);
                    i += 1;
                }
            }
            for bit in 0..3 {
                if cmd & (0x10 << bit) != 0 {
                    len |= (*delta.get(i)? as usize) << (8 * bit);
                    i += 1;
                }
            }
            if len == 0 {
                len = 0x10000;
            }
            out.extend_from_slice(base.get(off..off + len)?);
        } else if cmd != 0 {
            out.extend_from_slice(delta.get(i..i + cmd as usize)?);
            i += cmd as usize;
        } else {
            return None;
        }
    }
    (out.len() == size).then_some(out)
}

impl Repo {
    /// The repository of `dir` or of a directory above it.
    fn discover(dir: &Path) -> Option<Repo> {
        let dir = std::path::absolute(dir).ok()?;
        for d in dir.ancestors() {
            let dot = d.join(".git");
            let git_dir = if dot.is_dir() {
                dot
            } else if dot.is_file() {
                let text = fs::read_to_string(&dot).ok()?;
                let target = text.trim().strip_prefix("gitdir:")?.trim();
                d.join(target)
            } else {
                continue;
            };
            let common = match fs::read_to_string(git_dir.join("commondir")) {
                Ok(c) => git_dir.join(c.trim()),
                Err(_) => git_dir.clone(),
            };
            let mut packs = Vec::new();
            if let Ok(entries) = fs::read_dir(common.join("objects/pack")) {
                let mut idx: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "idx"))
                    .collect();
                idx.sort();
                for p in idx {
                    if let Ok(index) = fs::read(&p) {
                        packs.push(Pack {
                            index,
                            data: p.with_extension("pack"),
                        });
                    }
                }
            }
            return Some(Repo {
                git_dir,
                common,
                work_tree: d.to_path_buf(),
                packs,
            });
        }
        None
    }

    /// The object `sha`: its type and content.
    fn object(&self, sha: &str) -> Option<(u8, Vec<u8>)> {
        let raw = unhex(sha)?;
        let loose = self.common.join("objects").join(&sha[..2]).join(&sha[2..]);
        if let Ok(f) = fs::File::open(&loose) {
            let data = inflate(f)?;
            let nul = data.iter().position(|&b| b == 0)?;
            let kind = match data[..nul].split(|&b| b == b' ').next()? {
                b"commit" => COMMIT,
                b"tree" => TREE,
                b"blob" => BLOB,
                b"tag" => TAG,
                _ => return None,
            };
            return Some((kind, data[nul + 1..].to_vec()));
        }
        self.packs
            .iter()
            .find_map(|p| p.offset(&raw).and_then(|o| self.packed(p, o, 0)))
    }

    /// The packed object at `offset` of `pack`, its deltas resolved.
    fn packed(&self, pack: &Pack, offset: u64, depth: u32) -> Option<(u8, Vec<u8>)> {
        if depth > 64 {
            return None;
        }
        let mut f = fs::File::open(&pack.data).ok()?;
        f.seek(SeekFrom::Start(offset)).ok()?;
        let mut r = std::io::BufReader::new(f);
        let mut c = byte(&mut r)?;
        let kind = (c >> 4) & 7;
        while c & 0x80 != 0 {
            c = byte(&mut r)?;
        }
        match kind {
            COMMIT | TREE | BLOB | TAG => Some((kind, inflate(r)?)),
            6 => {
                // OFS_DELTA: the base is this many bytes before.
                let mut c = byte(&mut r)?;
                let mut back = u64::from(c & 0x7f);
                while c & 0x80 != 0 {
                    c = byte(&mut r)?;
                    back = ((back + 1) << 7) | u64::from(c & 0x7f);
                }
                let delta = inflate(r)?;
                let (kind, base) = self.packed(pack, offset.checked_sub(back)?, depth + 1)?;
                Some((kind, apply_delta(&base, &delta)?))
            }
            7 => {
                // REF_DELTA: the base by name.
                let mut name = [0u8; 20];
                r.read_exact(&mut name).ok()?;
                let delta = inflate(r)?;
                let (kind, base) = self.object(&hex(&name))?;
                Some((kind, apply_delta(&base, &delta)?))
            }
            _ => None,
        }
    }

    /// The content of object `sha` of type `kind`, following tags to what they point at.
    fn object_of(&self, sha: &str, kind: u8) -> Option<Vec<u8>> {
        let mut sha = sha.to_owned();
        for _ in 0..16 {
            let (k, data) = self.object(&sha)?;
            if k == kind {
                return Some(data);
            }
            if k != TAG {
                return None;
            }
            let text = String::from_utf8_lossy(&data);
            sha = text.lines().next()?.strip_prefix("object ")?.to_owned();
        }
        None
    }

    /// Every ref under `refs/` (loose files win over `packed-refs`), by name.
    fn refs(&self) -> Vec<(String, String)> {
        let mut out: HashMap<String, String> = HashMap::new();
        if let Ok(text) = fs::read_to_string(self.common.join("packed-refs")) {
            for line in text.lines() {
                if let Some((sha, name)) = line.split_once(' ') {
                    if !line.starts_with('#') && !line.starts_with('^') {
                        out.insert(name.to_owned(), sha.to_owned());
                    }
                }
            }
        }
        fn walk(dir: &Path, name: &str, out: &mut HashMap<String, String>) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let n = format!("{name}/{}", e.file_name().to_string_lossy());
                let p = e.path();
                if p.is_dir() {
                    walk(&p, &n, out);
                } else if let Ok(sha) = fs::read_to_string(&p) {
                    if unhex(&sha).is_some() {
                        out.insert(n, sha.trim().to_owned());
                    }
                }
            }
        }
        walk(&self.common.join("refs"), "refs", &mut out);
        let mut v: Vec<(String, String)> = out.into_iter().collect();
        v.sort();
        v
    }

    /// The commit `HEAD` names.
    fn head(&self) -> Option<String> {
        let mut text = fs::read_to_string(self.git_dir.join("HEAD")).ok()?;
        for _ in 0..8 {
            let t = text.trim().to_owned();
            let Some(name) = t.strip_prefix("ref:") else {
                return unhex(&t).map(|_| t);
            };
            let name = name.trim();
            text = fs::read_to_string(self.git_dir.join(name))
                .or_else(|_| fs::read_to_string(self.common.join(name)))
                .ok()
                .or_else(|| {
                    self.refs()
                        .into_iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, s)| s)
                })?;
        }
        None
    }

    /// The first tag (in name order) on commit `sha`, as GitPython's `repo.tags` finds it.
    fn tag_of(&self, sha: &str) -> Option<String> {
        self.refs().into_iter().find_map(|(name, target)| {
            let tag = name.strip_prefix("refs/tags/")?;
            let commit = self.peel(&target)?;
            (commit == sha).then(|| tag.to_owned())
        })
    }

    /// The commit a ref's target names (annotated tags followed).
    fn peel(&self, sha: &str) -> Option<String> {
        let mut sha = sha.to_owned();
        for _ in 0..16 {
            let (k, data) = self.object(&sha)?;
            match k {
                COMMIT => return Some(sha),
                TAG => {
                    let text = String::from_utf8_lossy(&data);
                    sha = text.lines().next()?.strip_prefix("object ")?.to_owned();
                }
                _ => return None,
            }
        }
        None
    }

    /// The e-mails of the authors of every commit of every ref (`git log --all`), without
    /// `noreply` addresses and bots, sorted.
    fn authors(&self) -> Vec<String> {
        let mut todo: Vec<String> = self
            .refs()
            .into_iter()
            .filter_map(|(_, sha)| self.peel(&sha))
            .chain(self.head())
            .collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut emails: HashSet<String> = HashSet::new();
        while let Some(sha) = todo.pop() {
            if !seen.insert(sha.clone()) {
                continue;
            }
            let Some(c) = self.object_of(&sha, COMMIT).and_then(|d| Commit::parse(&d)) else {
                continue;
            };
            if !c.author_email.contains("noreply") && !c.author_name.contains("[bot]") {
                emails.insert(c.author_email.clone());
            }
            todo.extend(c.parents);
        }
        let mut v: Vec<String> = emails.into_iter().collect();
        v.sort();
        v
    }

    /// `remote.origin.url` and `user.email` from the repository's config and the user's and
    /// system's (the repository's win), as `git config` reads them.
    fn config(&self) -> HashMap<String, String> {
        let mut files = vec![PathBuf::from("/etc/gitconfig")];
        if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
            let xdg = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".config"));
            files.push(xdg.join("git/config"));
            files.push(home.join(".gitconfig"));
        }
        files.push(self.common.join("config"));
        let mut out = HashMap::new();
        for f in files {
            let Ok(text) = fs::read_to_string(&f) else {
                continue;
            };
            let mut section = String::new();
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    // [remote "origin"] -> remote.origin; [user] -> user
                    let inner = line.trim_start_matches('[').trim_end_matches(']');
                    section = match inner.split_once(' ') {
                        Some((s, sub)) => {
                            format!("{}.{}", s.to_lowercase(), sub.trim().trim_matches('"'))
                        }
                        None => inner.to_lowercase(),
                    };
                } else if let Some((k, v)) = line.split_once('=') {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|x| x.strip_suffix('"'))
                        .unwrap_or(v);
                    out.insert(
                        format!("{section}.{}", k.trim().to_lowercase()),
                        v.to_owned(),
                    );
                }
            }
        }
        out
    }

    /// Whether a tracked file differs from the commit (staged) or from the index (modified in
    /// the work tree), as `git diff --cached` and `git diff` see it; untracked files do not
    /// count (GitPython's `is_dirty()`).
    fn dirty(&self, tree: &str) -> bool {
        let Some(index) = self.index() else {
            return true;
        };
        let mut committed = HashMap::new();
        if self.tree_files(tree, "", &mut committed).is_none() {
            return true;
        }
        if committed.len() != index.len() {
            return true;
        }
        for e in &index {
            if e.stage != 0 || committed.get(&e.path) != Some(&(e.mode, e.sha)) {
                return true;
            }
            if self.changed_in_work_tree(e) {
                return true;
            }
        }
        false
    }

    /// path -> (mode, sha) of every file of tree `sha`.
    fn tree_files(
        &self,
        sha: &str,
        prefix: &str,
        out: &mut HashMap<String, (u32, [u8; 20])>,
    ) -> Option<()> {
        let data = self.object_of(sha, TREE)?;
        let mut i = 0;
        while i < data.len() {
            let sp = i + data[i..].iter().position(|&b| b == b' ')?;
            let nul = sp + data[sp..].iter().position(|&b| b == 0)?;
            let mode = u32::from_str_radix(std::str::from_utf8(&data[i..sp]).ok()?, 8).ok()?;
            let name = String::from_utf8_lossy(&data[sp + 1..nul]);
            let id: [u8; 20] = data.get(nul + 1..nul + 21)?.try_into().ok()?;
            let path = format!("{prefix}{name}");
            if mode == 0o40000 {
                self.tree_files(&hex(&id), &format!("{path}/"), out)?;
            } else {
                out.insert(path, (mode, id));
            }
            i = nul + 21;
        }
        Some(())
    }

    /// The entries of the index (`.git/index`, versions 2 to 4).
    fn index(&self) -> Option<Vec<IndexEntry>> {
        let data = fs::read(self.git_dir.join("index")).ok()?;
        if data.get(0..4)? != b"DIRC" {
            return None;
        }
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_be_bytes(data.get(i..i + 4)?.try_into().ok()?))
        };
        let version = u32_at(4)?;
        let n = u32_at(8)? as usize;
        let mut out = Vec::with_capacity(n);
        let mut i = 12;
        let mut last = String::new();
        for _ in 0..n {
            let start = i;
            let mtime = (u32_at(i + 8)?, u32_at(i + 12)?);
            let mode = u32_at(i + 24)?;
            let size = u32_at(i + 36)?;
            let sha: [u8; 20] = data.get(i + 40..i + 60)?.try_into().ok()?;
            let flags = u16::from_be_bytes(data.get(i + 60..i + 62)?.try_into().ok()?);
            i += 62;
            if version >= 3 && flags & 0x4000 != 0 {
                i += 2;
            }
            let path = if version == 4 {
                // the number of bytes to drop from the previous path, then the rest
                let (mut strip, mut shift) = (0usize, 0);
                loop {
                    let b = *data.get(i)?;
                    i += 1;
                    strip = if shift == 0 {
                        (b & 0x7f) as usize
                    } else {
                        ((strip + 1) << 7) | (b & 0x7f) as usize
                    };
                    shift += 7;
                    if b & 0x80 == 0 {
                        break;
                    }
                }
                let nul = i + data[i..].iter().position(|&b| b == 0)?;
                let keep = last.len().checked_sub(strip)?;
                let p = format!(
                    "{}{}",
                    &last[..keep],
                    String::from_utf8_lossy(&data[i..nul])
                );
                i = nul + 1;
                p
            } else {
                let nul = i + data[i..].iter().position(|&b| b == 0)?;
                let p = String::from_utf8_lossy(&data[i..nul]).into_owned();
                // entries are padded with NULs to a multiple of 8 bytes
                let len = nul + 1 - start;
                i = start + len.div_ceil(8) * 8;
                p
            };
            last.clone_from(&path);
            out.push(IndexEntry {
                path,
                mode,
                sha,
                size,
                mtime,
                stage: (flags >> 12) & 3,
            });
        }
        Some(out)
    }

    /// Whether the work tree's file differs from its index entry: gone, another type, another
    /// executable bit or other content (the content is hashed only when the size matches and
    /// the modification time does not).
    fn changed_in_work_tree(&self, e: &IndexEntry) -> bool {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if e.mode == 0o160000 {
            return false; // a submodule: not looked into
        }
        let path = self.work_tree.join(&e.path);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return true;
        };
        let content = if e.mode == 0o120000 {
            if !meta.file_type().is_symlink() {
                return true;
            }
            match fs::read_link(&path) {
                Ok(t) => t.to_string_lossy().into_owned().into_bytes(),
                Err(_) => return true,
            }
        } else {
            if !meta.is_file() || (meta.permissions().mode() & 0o100 != 0) != (e.mode & 0o100 != 0)
            {
                return true;
            }
            if meta.len() != u64::from(e.size) {
                return true;
            }
            if (meta.mtime() as u32, meta.mtime_nsec() as u32) == e.mtime {
                return false;
            }
            match fs::read(&path) {
                Ok(c) => c,
                Err(_) => return true,
            }
        };
        let mut h = Sha1::new();
        h.update(format!("blob {}\0", content.len()).as_bytes());
        h.update(&content);
        h.finalize()[..] != e.sha[..]
    }
}

/// One entry of the index.
struct IndexEntry {
    path: String,
    mode: u32,
    sha: [u8; 20],
    size: u32,
    mtime: (u32, u32),
    stage: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_apply() {
        // copy 5 bytes from offset 0, insert "XY", copy 3 bytes from offset 6
        let base = b"hello world";
        let delta = [11, 10, 0x90, 5, 2, b'X', b'Y', 0x91, 6, 3];
        assert_eq!(
            apply_delta(base, &delta).as_deref(),
            Some(&b"helloXYwor"[..])
        );
    }

    #[test]
    fn people_and_times() {
        let (name, email, t, tz) = person("A U Thor <a@example.org> 1700000000 -0130").unwrap();
        assert_eq!(
            (name.as_str(), email.as_str(), t, tz),
            ("A U Thor", "a@example.org", 1700000000, -5400)
        );
    }
}
