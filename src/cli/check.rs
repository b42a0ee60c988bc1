//! `simvue check`: which configuration is in effect and why, whether the token is well formed
//! and when it expires, whether the server answers with a supported version, which CA bundle
//! and proxy apply. A job script runs it to decide between online and offline mode, so the
//! verdict is "online mode works" only when a run would really get through.

use std::path::Path;
use std::time::Duration;

use crate::config::{find_config_file, Config, Mode, Sources};
use crate::http::{self, Body, Http};
use crate::json::Json;
use crate::online::{parse_version, SUPPORTED};
use crate::time::Timestamp;

/// How a finding bears on online mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine.
    Ok,
    /// Worth knowing, no effect on online mode.
    Note,
    /// Online mode works, but something is off (the Python client would refuse the token).
    Warning,
    /// Online mode would not work.
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What it is about (`config file`, `URL`, `token`, `server`...).
    pub topic: &'static str,
    /// What was found, and where it comes from.
    pub text: String,
    /// Its bearing on online mode.
    pub level: Level,
}

/// Everything `check` found.
#[derive(Debug, Default)]
pub struct Report {
    /// The findings, in the order they were made.
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, topic: &'static str, level: Level, text: impl Into<String>) {
        self.findings.push(Finding {
            topic,
            text: text.into(),
            level,
        });
    }

    /// Whether online mode would work: no finding is a problem.
    pub fn works(&self) -> bool {
        self.findings.iter().all(|f| f.level != Level::Problem)
    }
}

/// The `check` of the configuration `src` describes (the process's, in real use). With
/// `contact_server` off, the server part is skipped (unit tests).
pub fn check(src: &Sources<'_>, contact_server: bool) -> Report {
    let mut r = Report::default();
    let env = |k: &str| (src.env)(k);
    let without_mode = |k: &str| if k == "SIMVUE_MODE" { None } else { env(k) };
    let sources = Sources {
        env: &without_mode,
        cwd: src.cwd.clone(),
        home: src.home.clone(),
    };

    let file = find_config_file(&src.cwd, src.home.as_deref());
    let table = file
        .as_deref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| t.parse::<toml::Table>().ok())
        .unwrap_or_default();
    match &file {
        Some(f) => r.add(
            "config file",
            Level::Ok,
            format!(
                "{} (the first simvue.toml, then .simvue.toml, from {} upwards, then in the home directory)",
                f.display(),
                src.cwd.display()
            ),
        ),
        None => r.add(
            "config file",
            Level::Note,
            format!(
                "none: no simvue.toml or .simvue.toml from {} upwards or in the home directory",
                src.cwd.display()
            ),
        ),
    }
    let fname = file
        .as_deref()
        .map_or_else(String::new, |f| f.display().to_string());
    let profile = env("SIMVUE_SERVER_PROFILE");
    match &profile {
        Some(p) => r.add(
            "profile",
            Level::Ok,
            format!("{p} (SIMVUE_SERVER_PROFILE), [profiles.{p}] in {fname}"),
        ),
        None => r.add(
            "profile",
            Level::Note,
            "none (SIMVUE_SERVER_PROFILE is not set)",
        ),
    }
    if let Some(m) = env("SIMVUE_MODE") {
        r.add(
            "mode",
            Level::Note,
            format!(
                "SIMVUE_MODE={m}: programs using libsimvue run {m} whatever they ask for \
                 (simvue send and check ignore it)"
            ),
        );
    }

    let config = match Config::load_from(Mode::Online, &sources) {
        Ok(c) => Some(c),
        Err(e) => {
            r.add("config", Level::Problem, e.message);
            None
        }
    };
    let offline = config
        .clone()
        .or_else(|| Config::load_from(Mode::Offline, &sources).ok());

    // Where a server setting came from: the variable, the profile, or [server].
    let origin = |var: &str, key: &str| -> String {
        if env(var).is_some() {
            return var.to_owned();
        }
        let in_profile = profile.as_ref().is_some_and(|p| {
            table
                .get("profiles")
                .and_then(|t| t.get(p))
                .and_then(|t| t.get(key))
                .is_some()
        });
        if in_profile {
            format!(
                "[profiles.{}] {key} in {fname}",
                profile.as_deref().unwrap_or("")
            )
        } else {
            format!("[server] {key} in {fname}")
        }
    };
    if let Some(c) = &config {
        if let Some(url) = &c.url {
            r.add(
                "URL",
                Level::Ok,
                format!(
                    "{} (from {})",
                    super::printable_url(url),
                    origin("SIMVUE_URL", "url")
                ),
            );
        }
        if let Some(token) = &c.token {
            let (level, text) = describe_token(token.expose(), Timestamp::now());
            r.add(
                "token",
                level,
                format!("{text} (from {})", origin("SIMVUE_TOKEN", "token")),
            );
        }
    }

    if let Some(c) = &offline {
        let origin = if env("SIMVUE_OFFLINE_DIRECTORY").is_some() {
            "SIMVUE_OFFLINE_DIRECTORY".to_owned()
        } else if table.get("offline").and_then(|o| o.get("cache")).is_some() {
            format!("[offline] cache in {fname}")
        } else {
            "the default, ~/.simvue".to_owned()
        };
        r.add(
            "cache",
            Level::Ok,
            format!(
                "{} (from {origin}); {}",
                c.cache_dir.display(),
                cache_state(&c.cache_dir)
            ),
        );
    }

    let Some(c) = config else {
        return r;
    };
    let ca = http::site_ca(&c, false);
    r.add(
        "CA bundle",
        Level::Ok,
        ca_text(&c, false, ca.as_deref(), &env),
    );
    let storage_ca = http::site_ca(&c, true);
    if storage_ca != ca {
        r.add(
            "storage CA",
            Level::Ok,
            ca_text(&c, true, storage_ca.as_deref(), &env),
        );
    }
    let url = c.url.clone().unwrap_or_default();
    let proxy_env = |k: &str| env(k);
    match http::proxy_for(&url, &proxy_env) {
        Some(p) => r.add(
            "proxy",
            Level::Ok,
            format!(
                "{} (from the {}_proxy / all_proxy variables)",
                super::printable_url(&p),
                url.split("://").next().unwrap_or("https")
            ),
        ),
        None => r.add("proxy", Level::Ok, "none for this URL"),
    }
    if !contact_server {
        return r;
    }
    let (Some(url), Some(token)) = (&c.url, &c.token) else {
        return r;
    };
    let started = std::time::Instant::now();
    let client = c.client_cert.as_deref().map(|cert| http::ClientIdentity {
        cert,
        key: c.client_key.as_ref(),
    });
    let answer = Http::new(url, token, ca.as_deref(), client, Duration::from_secs(10))
        .map_err(|e| http::Failure {
            error: e,
            retryable: false,
            status: None,
            body: None,
        })
        .and_then(|h| h.request("GET", "/version", Body::Empty, &[200], None));
    let ms = started.elapsed().as_millis();
    match answer {
        Ok(v) => {
            let version = v.get("version").and_then(|v| v.as_str()).unwrap_or("");
            let range = format!(
                "{}.{}.{} <= version < {}.{}.{}",
                SUPPORTED.0 .0,
                SUPPORTED.0 .1,
                SUPPORTED.0 .2,
                SUPPORTED.1 .0,
                SUPPORTED.1 .1,
                SUPPORTED.1 .2
            );
            match parse_version(version) {
                Some(v) if v >= SUPPORTED.0 && v < SUPPORTED.1 => r.add(
                    "server",
                    Level::Ok,
                    format!("answers in {ms} ms and accepts the token; API version {version} (supported: {range})"),
                ),
                _ => r.add(
                    "server",
                    Level::Problem,
                    format!("answers, but its API version {version:?} is not supported ({range})"),
                ),
            }
        }
        Err(f) if f.status == Some(401) => r.add(
            "server",
            Level::Problem,
            "answers, but refuses the token (401): get a new one from the web UI",
        ),
        Err(f) => r.add(
            "server",
            Level::Problem,
            format!("does not answer: {}", f.error),
        ),
    }
    r
}

fn ca_text(
    c: &Config,
    storage: bool,
    ca: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    let (configured, var, key) = if storage {
        (
            &c.storage_ca_cert,
            "SIMVUE_STORAGE_CA_CERTIFICATE",
            "storage_ca_cert",
        )
    } else {
        (
            &c.server_ca_cert,
            "SIMVUE_SERVER_CA_CERTIFICATE",
            "server_ca_cert",
        )
    };
    let Some(ca) = ca else {
        return "the Mozilla roots built in (no site CA configured)".into();
    };
    let origin = if configured.is_some() {
        if env(var).is_some() {
            var.to_owned()
        } else {
            format!("[server.certificates] {key}")
        }
    } else if env("REQUESTS_CA_BUNDLE").is_some() {
        "REQUESTS_CA_BUNDLE".into()
    } else {
        "SSL_CERT_FILE".into()
    };
    let state = if ca.is_file() {
        ""
    } else {
        "; the file does not exist"
    };
    format!(
        "{} (from {origin}), with the Mozilla roots{state}",
        ca.display()
    )
}

/// What a cache holds, in a few words.
fn cache_state(dir: &Path) -> String {
    if !dir.is_dir() {
        return "does not exist yet".into();
    }
    let count = |d: &str, ext: &str| -> usize {
        std::fs::read_dir(dir.join(d))
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
                    .count()
            })
            .unwrap_or(0)
    };
    let (runs, batches, files) = (
        count("runs", ".json"),
        count("metrics", ".json") + count("events", ".json"),
        count("artifacts", ".json"),
    );
    if runs + batches + files == 0 {
        "nothing waiting to be sent".into()
    } else {
        format!(
            "waiting to be sent: {runs} run file(s), {batches} batch(es), {files} file record(s) (simvue send uploads them)"
        )
    }
}

/// Whether `token` is a JWT with a future `exp` (the Python client's test, protocol doc §1.1),
/// and when it expires. Never shows the token.
pub fn describe_token(token: &str, now: Timestamp) -> (Level, String) {
    let payload = token
        .split('.')
        .collect::<Vec<_>>()
        .get(1)
        .filter(|_| token.split('.').count() == 3)
        .and_then(|p| crate::config::base64url(p))
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| Json::parse(&t).ok());
    let Some(payload) = payload else {
        return (
            Level::Warning,
            "present, but not a JWT (header.payload.signature): the server decides; \
             simvue 2.6.2 refuses such a token"
                .into(),
        );
    };
    let Some(exp) = payload.get("exp").and_then(Json::as_i64) else {
        return (
            Level::Warning,
            "a JWT without an expiry (exp): simvue 2.6.2 refuses it".into(),
        );
    };
    let when = Timestamp(exp.saturating_mul(1_000_000)).to_string();
    let when = format!("{} {} UTC", &when[..10], &when[11..16]);
    let left = exp - now.0 / 1_000_000;
    if left <= 0 {
        (
            Level::Problem,
            format!("a JWT that expired on {when}: get a new one from the web UI"),
        )
    } else {
        let days = left / 86_400;
        let span = if days >= 2 {
            format!("{days} days")
        } else {
            format!("{} hours", left / 3600)
        };
        (
            Level::Ok,
            format!("well formed (JWT); expires on {when}, in {span}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn jwt(payload: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let enc = |b: &[u8]| -> String {
            let mut out = String::new();
            for chunk in b.chunks(3) {
                let n = chunk.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x))
                    << (8 * (3 - chunk.len()));
                for i in 0..=chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        };
        format!(
            "{}.{}.c2lnbmF0dXJl",
            enc(b"{\"alg\":\"HS256\"}"),
            enc(payload.as_bytes())
        )
    }

    #[test]
    fn tokens_are_judged_as_the_python_client_judges_them_and_never_shown() {
        let now = Timestamp(1_800_000_000 * 1_000_000);
        let ok = jwt("{\"sub\":\"me\",\"exp\":1800864000}");
        let (level, text) = describe_token(&ok, now);
        assert_eq!(level, Level::Ok, "{text}");
        assert!(
            text.contains("in 10 days") && text.contains("UTC"),
            "{text}"
        );
        assert!(!text.contains(&ok) && !text.contains("c2lnbmF0dXJl"));
        let (level, text) = describe_token(&jwt("{\"exp\":1700000000}"), now);
        assert_eq!(level, Level::Problem, "{text}");
        assert!(text.contains("expired on 2023-11-14 22:13 UTC"), "{text}");
        assert_eq!(describe_token(&jwt("{\"sub\":1}"), now).0, Level::Warning);
        assert_eq!(describe_token("plain-secret", now).0, Level::Warning);
    }

    #[test]
    fn the_sources_of_each_setting_are_named() {
        let dir = std::env::temp_dir().join(format!("simvue-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("simvue.toml"),
            "[server]\nurl = \"https://simvue.example.org\"\ntoken = \"t\"\n[offline]\ncache = \"/tmp/c\"\n",
        )
        .unwrap();
        let vars: HashMap<&str, &str> = [
            ("SIMVUE_TOKEN", "x.y.z"),
            ("SIMVUE_MODE", "offline"),
            ("HTTPS_PROXY", "http://u:p@proxy:3128"),
        ]
        .into();
        let env = |k: &str| vars.get(k).map(|v| v.to_string());
        let r = check(
            &Sources {
                env: &env,
                cwd: dir.clone(),
                home: None,
            },
            false,
        );
        let text: HashMap<&str, &str> = r
            .findings
            .iter()
            .map(|f| (f.topic, f.text.as_str()))
            .collect();
        assert!(
            text["URL"].contains("https://simvue.example.org/api (from [server] url in"),
            "{text:?}"
        );
        assert!(text["token"].contains("from SIMVUE_TOKEN"), "{text:?}");
        assert!(
            text["cache"].starts_with("/tmp/c (from [offline] cache in"),
            "{text:?}"
        );
        assert!(text["mode"].contains("SIMVUE_MODE=offline"), "{text:?}");
        assert_eq!(
            text["proxy"],
            "http://proxy:3128 (from the https_proxy / all_proxy variables)"
        );
        assert!(
            r.works(),
            "a malformed token is a warning, not a problem: {text:?}"
        );
        let none = |_: &str| None;
        let r = check(
            &Sources {
                env: &none,
                cwd: std::env::temp_dir().join("nowhere-simvue"),
                home: None,
            },
            false,
        );
        assert!(!r.works());
    }
}
