//! Configuration, read as simvue 2.6.2 reads it (protocol doc §1): `simvue.toml` / `.simvue.toml`
//! searched from the working directory upwards and then in the home directory, `[tool.simvue]` of
//! the nearest `pyproject.toml` underneath it, and the `SIMVUE_*` environment variables on top.
//!
//! We only read the file, never write it, and accept every section 2.6.2 accepts (unknown keys are
//! ignored rather than refused, so a file written for a newer client still works here).
//! `SIMVUE_MODE` is ours: it lets a job script switch a compiled solver to `offline` or `disabled`
//! without recompiling.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::json::Json;

/// How a run is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sent live to a Simvue server.
    Online,
    /// Written to the offline cache for `simvue-sender` to upload later.
    Offline,
    /// Nothing is recorded; every call succeeds at once.
    Disabled,
}

impl Mode {
    /// Parses `online`, `offline` or `disabled` (case-insensitive).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "online" => Some(Mode::Online),
            "offline" => Some(Mode::Offline),
            "disabled" => Some(Mode::Disabled),
            _ => None,
        }
    }

    /// The mode's name as Simvue spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Online => "online",
            Mode::Offline => "offline",
            Mode::Disabled => "disabled",
        }
    }
}

/// The API token. Its `Debug` and `Display` never show the value, so it cannot leak into a log
/// line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(s: impl Into<String>) -> Token {
        Token(s.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Defaults for runs taken from the `[run]` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunDefaults {
    /// `[run] name`.
    pub name: Option<String>,
    /// `[run] description`.
    pub description: Option<String>,
    /// `[run] tags`, appended to the tags given at init.
    pub tags: Vec<String>,
    /// `[run] folder`, used when init gives none.
    pub folder: Option<String>,
    /// Custom metadata: `[run] metadata` as a table of values (2.5 style) or its `custom` table
    /// (2.6 style). Merged over init metadata, as the Python client does.
    pub metadata: Vec<(String, Json)>,
    /// Record the environment of the working directory's project (`[run.metadata]
    /// environment`; off with `SIMVUE_DISABLE_ENVIRONMENT_METRICS`).
    pub record_environment: bool,
    /// Record the git information of the working directory (`[run.metadata] git`; off with
    /// `SIMVUE_DISABLE_GIT_METRICS`).
    pub record_git: bool,
    /// Record the host (`system`) of a running run (`[run.metadata] system`; off with
    /// `SIMVUE_DISABLE_SYSTEM_METRICS`).
    pub record_system: bool,
    /// `[run] record_shell_vars` (what simvue 2.6.2 reads), and `[run.metadata]
    /// record_shell_vars` (accepted by its model, unused there; used here too): patterns of
    /// environment variables recorded as the metadata `shell`.
    pub record_shell_vars: Vec<String>,
}

/// `[eco]`: what an estimate of the energy used rests on when it cannot be measured, and the
/// carbon intensity of the electricity (`simvue/eco/config.py`). No value is looked up online.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Eco {
    /// `co2_intensity`: grams of CO2 equivalent per kWh.
    pub co2_intensity: Option<f64>,
    /// `cpu_thermal_design_power`: watts per CPU (default 80 W, as the Python client).
    pub cpu_thermal_design_power: Option<f64>,
    /// `cpu_n_cores`: cores per CPU (default 4, as the Python client).
    pub cpu_n_cores: Option<u64>,
    /// `gpu_thermal_design_power`: watts per GPU (default 130 W, as the Python client).
    pub gpu_thermal_design_power: Option<f64>,
}

/// The resolved configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The tracking mode after `SIMVUE_MODE` was applied.
    pub mode: Mode,
    /// Server API base URL, always ending in `/api`.
    pub url: Option<String>,
    /// API token.
    pub token: Option<Token>,
    /// Offline cache directory.
    pub cache_dir: PathBuf,
    /// `[run]` defaults.
    pub run: RunDefaults,
    /// `[metrics] system_metrics_interval` in seconds, when set to a positive value.
    pub system_metrics_interval: Option<u64>,
    /// `[metrics] enable_emission_metrics`: log energy and emissions with the resources.
    pub enable_emission_metrics: bool,
    /// `[eco]`.
    pub eco: Eco,
    /// CA bundle for API calls (`[server.certificates] server_ca_cert`,
    /// `SIMVUE_SERVER_CA_CERTIFICATE`).
    pub server_ca_cert: Option<PathBuf>,
    /// CA bundle for artifact storage (`[server.certificates] storage_ca_cert`,
    /// `SIMVUE_STORAGE_CA_CERTIFICATE`).
    pub storage_ca_cert: Option<PathBuf>,
    /// A client certificate presented to the server (`[server.certificates] client_cert`,
    /// `SIMVUE_SERVER_CLIENT_CERTIFICATE`): a PEM file, which may hold the key as well.
    pub client_cert: Option<PathBuf>,
    /// Its private key (`[server.certificates] client_key`): a PEM file, or the PEM text.
    pub client_key: Option<Token>,
    /// `SIMVUE_NO_SERVER_CHECK` is set: no `GET /api/version` before the first request.
    pub no_server_check: bool,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// The working directory the configuration was found from (whose git information and
    /// project environment a run records).
    pub cwd: PathBuf,
}

/// Checks the API token as the Python client does before any request (`check_token`,
/// `parameters.py`): a JWT whose `exp` has not passed. The signature is not checked. The error
/// says when it expired; neither it nor anything else ever shows the token.
pub fn check_token(token: &Token, now_secs: f64) -> Result<()> {
    let exp = token
        .expose()
        .split('.')
        .nth(1)
        .and_then(base64url)
        .and_then(|payload| serde_json::from_slice::<serde_json::Value>(&payload).ok())
        .and_then(|claims| claims.get("exp").and_then(|e| e.as_f64()))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Auth,
                "the API token is not a Simvue token (a JWT with an expiry, exp); the Python client refuses it too",
            )
        })?;
    if now_secs > exp {
        let when = crate::time::Timestamp((exp * 1e6) as i64).to_string();
        return Err(Error::new(
            ErrorKind::Auth,
            format!(
                "the API token expired at {} UTC: get a new one from the Simvue web UI",
                when.replace('T', " ").split('.').next().unwrap_or(&when)
            ),
        ));
    }
    Ok(())
}

/// Decodes unpadded base64url (a JWT segment).
pub(crate) fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The server a run names itself (`Run(server_url=..., server_token=..., server_profile=...)`).
/// The environment still wins over these, and these over the config file (`SIMVUE_URL` >
/// argument > file, `SIMVUE_SERVER_PROFILE` > argument; `config/user.py` `fetch`).
#[derive(Debug, Clone, Default)]
pub struct ServerArgs {
    /// Server URL.
    pub url: Option<String>,
    /// API token.
    pub token: Option<Token>,
    /// Profile (`[profiles.<name>]`) to take the URL and token from.
    pub profile: Option<String>,
}

/// Where configuration comes from; the process environment in real use, a fixed map in tests.
pub struct Sources<'a> {
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The working directory the search starts from.
    pub cwd: PathBuf,
    /// The user's home directory.
    pub home: Option<PathBuf>,
}

impl Sources<'_> {
    /// The real process environment, working directory and home.
    pub fn process() -> Sources<'static> {
        Sources {
            env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: home_dir(),
        }
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn config_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg)
}

/// Finds the config file as simvue 2.6.2 does: `simvue.toml` in the cwd and each parent (stopping
/// at an unreadable directory), then the same walk for `.simvue.toml`, then both in the home
/// directory.
pub fn find_config_file(cwd: &Path, home: Option<&Path>) -> Option<PathBuf> {
    for name in ["simvue.toml", ".simvue.toml"] {
        for dir in cwd.ancestors() {
            if !readable(dir) {
                break;
            }
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let home = home?;
    ["simvue.toml", ".simvue.toml"]
        .iter()
        .map(|n| home.join(n))
        .find(|p| p.is_file())
}

fn readable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::R_OK) == 0 }
}

fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| config_error(format!("cannot read {}: {e}", path.display())))?;
    text.parse::<toml::Table>()
        .map_err(|e| config_error(format!("cannot parse {}: {e}", path.display())))
}

/// A TOML value as JSON (for metadata read from TOML files).
pub fn toml_json(v: &toml::Value) -> Json {
    toml_to_json(v)
}

fn toml_to_json(v: &toml::Value) -> Json {
    match v {
        toml::Value::String(s) => Json::Str(s.clone()),
        toml::Value::Integer(i) => Json::Int(*i),
        toml::Value::Float(f) => Json::Float(*f),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::Str(d.to_string()),
        toml::Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// One table of the configuration and the file it came from, read with the types of the Python
/// client's model: a value of another type is refused with a message naming the file, the key
/// and the type expected (pydantic refuses it too), never silently ignored.
#[derive(Clone, Copy)]
struct Section<'a> {
    name: &'a str,
    table: Option<&'a toml::Table>,
    file: Option<&'a Path>,
}

impl<'a> Section<'a> {
    /// The error for `key` holding `v`. Only the type of `v` is named, never its value, which
    /// may be a secret (a token of the wrong type).
    fn wrong(&self, key: &str, expected: &str, v: &toml::Value) -> Error {
        self.refuse(key, expected, &format!("a value of type {}", v.type_str()))
    }

    fn refuse(&self, key: &str, expected: &str, found: &str) -> Error {
        let file = self.file.map_or_else(
            || "the configuration".to_owned(),
            |f| f.display().to_string(),
        );
        let place = if self.name.is_empty() {
            key.to_owned()
        } else {
            format!("[{}] {key}", self.name)
        };
        config_error(format!("{file}: {place} must be {expected}, not {found}"))
    }

    fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.table?.get(key)
    }

    /// The sub-table `key` (absent: an empty section), called `name` in messages.
    fn table(&self, key: &str, name: &'a str) -> Result<Section<'a>> {
        let table = match self.get(key) {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(v) => return Err(self.wrong(key, "a table", v)),
        };
        Ok(Section {
            name,
            table,
            ..*self
        })
    }

    fn str(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(key, "true or false", v)),
        }
    }

    /// A path, or `true`/`false` (the certificates' "verify with the default roots" switch).
    fn path_or_bool(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            Some(toml::Value::Boolean(_)) => Ok(None),
            Some(toml::Value::String(_)) | None => self.str(key),
            Some(v) => Err(self.wrong(key, "a file path or a boolean", v)),
        }
    }

    fn str_list(&self, key: &str) -> Result<Vec<String>> {
        let expected = "a list of strings";
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.wrong(key, expected, t))
                })
                .collect(),
            Some(v) => Err(self.wrong(key, expected, v)),
        }
    }

    /// A number > 0 (an integer or a float).
    fn positive_number(&self, key: &str) -> Result<Option<f64>> {
        let x = match self.get(key) {
            None => return Ok(None),
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(f)) => *f,
            Some(v) => return Err(self.wrong(key, "a positive number", v)),
        };
        if x.is_finite() && x > 0.0 {
            Ok(Some(x))
        } else {
            Err(self.refuse(key, "a positive number", &x.to_string()))
        }
    }

    fn positive_int(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if *i > 0 => Ok(Some(*i as u64)),
            Some(toml::Value::Integer(i)) => {
                Err(self.refuse(key, "a positive integer", &i.to_string()))
            }
            Some(v) => Err(self.wrong(key, "a positive integer", v)),
        }
    }
}

fn expand_user(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ if p == "~" && home.is_some() => home.unwrap_or(Path::new("/")).to_path_buf(),
        _ => PathBuf::from(p),
    }
}

/// Appends `/api` unless the URL already ends with it (`parameters.py:33-40`).
pub fn normalise_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/api") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/api")
    }
}

/// The `[run] metadata` keys 2.6.2 uses to switch automatic metadata on and off; everything else
/// in a 2.5-style `[run] metadata` table is a custom value.
const METADATA_SWITCHES: [&str; 4] = ["environment", "git", "system", "record_shell_vars"];

fn run_defaults(run: Section<'_>, env: &dyn Fn(&str) -> Option<String>) -> Result<RunDefaults> {
    // [run.metadata] switches; their defaults come from SIMVUE_DISABLE_* (parameters.py).
    let md = run.table("metadata", "run.metadata")?;
    let switch = |key: &str, var: &str| -> Result<bool> {
        Ok(md.bool(key)?.unwrap_or_else(|| env(var).is_none()))
    };
    let mut d = RunDefaults {
        name: run.str("name")?,
        description: run.str("description")?,
        folder: run.str("folder")?,
        tags: run.str_list("tags")?,
        record_environment: switch("environment", "SIMVUE_DISABLE_ENVIRONMENT_METRICS")?,
        record_git: switch("git", "SIMVUE_DISABLE_GIT_METRICS")?,
        record_system: switch("system", "SIMVUE_DISABLE_SYSTEM_METRICS")?,
        record_shell_vars: run.str_list("record_shell_vars")?,
        ..RunDefaults::default()
    };
    let custom = md.table("custom", "run.metadata.custom")?;
    for (k, v) in md.table.into_iter().flatten() {
        if k != "custom" && !METADATA_SWITCHES.contains(&k.as_str()) {
            d.metadata.push((k.clone(), toml_to_json(v)));
        }
    }
    for (k, v) in custom.table.into_iter().flatten() {
        d.metadata.push((k.clone(), toml_to_json(v)));
    }
    d.record_shell_vars = run.str_list("record_shell_vars")?;
    for p in md.str_list("record_shell_vars")? {
        if !d.record_shell_vars.contains(&p) {
            d.record_shell_vars.push(p);
        }
    }
    Ok(d)
}

impl Config {
    /// Loads the configuration for `requested` mode from the process environment.
    pub fn load(requested: Mode) -> Result<Config> {
        Config::load_from(requested, &Sources::process())
    }

    /// Loads the configuration for `requested` mode from explicit sources.
    pub fn load_from(requested: Mode, src: &Sources<'_>) -> Result<Config> {
        Config::load_with(requested, &ServerArgs::default(), src)
    }

    /// Loads the configuration for `requested` mode, with the server the run names itself.
    pub fn load_with(requested: Mode, args: &ServerArgs, src: &Sources<'_>) -> Result<Config> {
        let env = |k: &str| (src.env)(k);
        let mode = match env("SIMVUE_MODE") {
            Some(m) => Mode::parse(&m).ok_or_else(|| {
                config_error(format!(
                    "SIMVUE_MODE={m:?} is not one of online, offline, disabled"
                ))
            })?,
            None => requested,
        };

        let file = find_config_file(&src.cwd, src.home.as_deref());
        let mut table = toml::Table::new();
        // Which file each top-level table came from, for messages.
        let mut origin: Vec<(String, PathBuf)> = Vec::new();
        if let Some(pyproject) = src
            .cwd
            .ancestors()
            .map(|d| d.join("pyproject.toml"))
            .find(|p| p.is_file())
        {
            // Non-secret defaults only, shallow-merged under simvue.toml (user.py:78-108, 215).
            if let Ok(t) = read_toml(&pyproject) {
                if let Some(tool) = t
                    .get("tool")
                    .and_then(|t| t.get("simvue"))
                    .and_then(|s| s.as_table())
                {
                    origin.extend(tool.keys().map(|k| (k.clone(), pyproject.clone())));
                    let set = |section: &str, key: &str| {
                        tool.get(section)
                            .and_then(|s| s.get(key))
                            .is_some_and(|v| v.as_str().map_or(true, |s| !s.is_empty()))
                    };
                    if mode != Mode::Disabled
                        && (set("server", "url")
                            || set("server", "token")
                            || set("offline", "cache"))
                    {
                        return Err(config_error(format!(
                            "{} sets the server URL, token or offline cache in [tool.simvue], which is not allowed (the Python client refuses it too): put them in simvue.toml or the environment",
                            pyproject.display()
                        )));
                    }
                    table.extend(tool.clone());
                }
            }
        }
        if let Some(path) = &file {
            let t = read_toml(path)?;
            origin.extend(t.keys().map(|k| (k.clone(), path.clone())));
            table.extend(t);
        }
        let section = |name: &'static str| {
            let root = Section {
                name: "",
                table: Some(&table),
                file: origin
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, p)| p.as_path()),
            };
            root.table(name, name)
        };

        // A profile's table replaces `[server]` as a whole (url, token, certificates), and a
        // profile that is not defined is an error (config/user.py `fetch`); a disabled run
        // needs no server, so it never fails for that.
        let profile = env("SIMVUE_SERVER_PROFILE").or_else(|| args.profile.clone());
        let server = match &profile {
            None => section("server")?,
            Some(name) => {
                let p = section("profiles")?.table(name, "profiles.<name>")?;
                match p.table.filter(|t| !t.is_empty()) {
                    Some(_) => p,
                    None if mode == Mode::Disabled => Section {
                        table: None,
                        ..p
                    },
                    None => {
                    return Err(config_error(format!(
                        "server profile {name:?} (from {}) is not defined: there is no [profiles.{name}] in {}",
                        if env("SIMVUE_SERVER_PROFILE").is_some() {
                            "SIMVUE_SERVER_PROFILE"
                        } else {
                            "the run's server_profile"
                        },
                        file.as_ref()
                            .map_or("any config file (none was found)".to_owned(), |f| {
                                f.display().to_string()
                            })
                    )))
                    }
                }
            }
        };
        // Environment > the run's own arguments > the config file (user.py:245-257).
        let url = env("SIMVUE_URL")
            .or_else(|| args.url.clone())
            .or(server.str("url")?);
        let token = env("SIMVUE_TOKEN")
            .or_else(|| args.token.as_ref().map(|t| t.expose().to_owned()))
            .or(server.str("token")?);

        let certs = server.table("certificates", "server.certificates")?;
        let cert_path = |env_key: &str, key: &str| -> Result<Option<PathBuf>> {
            Ok(env(env_key)
                .or(certs.path_or_bool(key)?)
                .map(|p| expand_user(&p, src.home.as_deref())))
        };
        let server_ca_cert = cert_path("SIMVUE_SERVER_CA_CERTIFICATE", "server_ca_cert")?;
        let storage_ca_cert = cert_path("SIMVUE_STORAGE_CA_CERTIFICATE", "storage_ca_cert")?;
        let client_cert = cert_path("SIMVUE_SERVER_CLIENT_CERTIFICATE", "client_cert")?;
        let client_key = certs.str("client_key")?.map(Token::new);

        let cache = env("SIMVUE_OFFLINE_DIRECTORY")
            .map(|c| ("SIMVUE_OFFLINE_DIRECTORY", c))
            .or(section("offline")?
                .str("cache")?
                .map(|c| ("[offline] cache", c)));
        if let Some((from, c)) = &cache {
            // 2.6.2 does not expand `~`: it makes a directory named `~` in the working
            // directory, where simvue-sender (run from elsewhere) would not look. Refused
            // rather than expanded, so that both agree on where the cache is.
            if mode != Mode::Disabled && (c == "~" || c.starts_with("~/")) {
                return Err(config_error(format!(
                    "{from} = {c:?}: the Python client and simvue-sender 2.6.2 do not expand '~' (they would use a directory named '~' in the working directory); give the full path"
                )));
            }
        }
        let cache_dir = cache
            .map(|(_, c)| PathBuf::from(c))
            .or_else(|| src.home.as_ref().map(|h| h.join(".simvue")))
            .unwrap_or_else(|| PathBuf::from(".simvue"));

        let metrics = section("metrics")?;
        let system_metrics_interval = metrics.positive_int("system_metrics_interval")?;
        let enable_emission_metrics = metrics.bool("enable_emission_metrics")?.unwrap_or(false);
        let eco_section = section("eco")?;
        let eco = Eco {
            co2_intensity: eco_section.positive_number("co2_intensity")?,
            cpu_thermal_design_power: eco_section.positive_number("cpu_thermal_design_power")?,
            cpu_n_cores: eco_section.positive_int("cpu_n_cores")?,
            gpu_thermal_design_power: eco_section.positive_number("gpu_thermal_design_power")?,
        };

        let run = run_defaults(section("run")?, &env)?;
        if let Some(folder) = &run.folder {
            crate::validate::folder(folder)
                .map_err(|e| config_error(format!("[run] folder: {e}")))?;
        }

        if mode == Mode::Online {
            if url.is_none() {
                return Err(config_error(
                    "online mode needs a server URL: set SIMVUE_URL or [server] url in simvue.toml",
                ));
            }
            if token.is_none() {
                return Err(config_error(
                    "online mode needs an API token: set SIMVUE_TOKEN or [server] token in simvue.toml",
                ));
            }
        }

        Ok(Config {
            mode,
            url: url.map(|u| normalise_url(&u)),
            token: token.map(Token::new),
            cache_dir,
            run,
            system_metrics_interval,
            enable_emission_metrics,
            eco,
            server_ca_cert,
            storage_ca_cert,
            client_cert,
            client_key,
            no_server_check: env("SIMVUE_NO_SERVER_CHECK").is_some(),
            file,
            cwd: src.cwd.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(mode: Mode, env: &[(&str, &str)], cwd: &Path, home: Option<&Path>) -> Result<Config> {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| map.get(k).cloned();
        Config::load_from(
            mode,
            &Sources {
                env: &lookup,
                cwd: cwd.to_path_buf(),
                home: home.map(Path::to_path_buf),
            },
        )
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "simvue-config-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn offline_needs_no_url_or_token_and_defaults_to_home_cache() {
        let home = tempdir("home1");
        let cwd = tempdir("cwd1");
        let c = load(Mode::Offline, &[], &cwd, Some(&home)).unwrap();
        assert_eq!(c.mode, Mode::Offline);
        assert_eq!(c.cache_dir, home.join(".simvue"));
        assert!(c.url.is_none() && c.token.is_none());
    }

    #[test]
    fn online_without_url_is_a_config_error() {
        let cwd = tempdir("cwd2");
        let e = load(Mode::Online, &[], &cwd, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("SIMVUE_URL"));
    }

    #[test]
    fn simvue_mode_overrides_the_compiled_mode() {
        let cwd = tempdir("cwd3");
        let c = load(Mode::Online, &[("SIMVUE_MODE", "disabled")], &cwd, None).unwrap();
        assert_eq!(c.mode, Mode::Disabled);
        let e = load(Mode::Online, &[("SIMVUE_MODE", "sideways")], &cwd, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
    }

    #[test]
    fn reads_a_2_6_2_file_from_a_parent_directory_with_env_on_top() {
        let root = tempdir("tree");
        let cwd = root.join("a/b");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::write(
            root.join("simvue.toml"),
            r#"
[server]
url = "https://simvue.example.org"
token = "file-token"
env = "prod"

[server.certificates]
server_ca_cert = "/etc/ssl/site-ca.pem"

[offline]
cache = "/tmp/simvue-cache-from-file"

[run]
folder = "/campaign"
tags = ["from-config"]

[run.metadata]
environment = false
git = false
system = true
record_shell_vars = ["SLURM_*"]

[run.metadata.custom]
site = "archer2"

[metrics]
system_metrics_interval = 15

[profiles.other]
url = "https://other.example.org/api"
token = "other-token"
"#,
        )
        .unwrap();
        let c = load(Mode::Online, &[], &cwd, None).unwrap();
        assert_eq!(c.url.as_deref(), Some("https://simvue.example.org/api"));
        assert_eq!(c.token.as_ref().unwrap().expose(), "file-token");
        assert_eq!(c.cache_dir, PathBuf::from("/tmp/simvue-cache-from-file"));
        assert_eq!(c.run.folder.as_deref(), Some("/campaign"));
        assert_eq!(c.run.tags, vec!["from-config"]);
        assert_eq!(
            c.run.metadata,
            vec![("site".to_string(), Json::Str("archer2".into()))]
        );
        assert_eq!(c.system_metrics_interval, Some(15));
        assert_eq!(c.run.record_shell_vars, vec!["SLURM_*"]);
        assert_eq!(
            c.server_ca_cert,
            Some(PathBuf::from("/etc/ssl/site-ca.pem"))
        );

        let c = load(
            Mode::Online,
            &[
                ("SIMVUE_SERVER_PROFILE", "other"),
                ("SIMVUE_OFFLINE_DIRECTORY", "/tmp/env-cache"),
            ],
            &cwd,
            None,
        )
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("https://other.example.org/api"));
        assert_eq!(c.cache_dir, PathBuf::from("/tmp/env-cache"));

        let c = load(
            Mode::Online,
            &[("SIMVUE_URL", "http://127.0.0.1:9"), ("SIMVUE_TOKEN", "t")],
            &cwd,
            None,
        )
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("http://127.0.0.1:9/api"));
        assert_eq!(c.token.as_ref().unwrap().expose(), "t");
    }

    #[test]
    fn the_runs_own_server_sits_between_the_environment_and_the_file() {
        let cwd = tempdir("args");
        std::fs::write(
            cwd.join("simvue.toml"),
            "[server]\nurl = \"http://file\"\ntoken = \"file-token\"\n\n[profiles.p]\nurl = \"http://profile\"\n",
        )
        .unwrap();
        let load_args = |env: &[(&str, &str)], args: ServerArgs| {
            let map: std::collections::HashMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let lookup = move |k: &str| map.get(k).cloned();
            Config::load_with(
                Mode::Online,
                &args,
                &Sources {
                    env: &lookup,
                    cwd: cwd.clone(),
                    home: None,
                },
            )
        };
        let args = ServerArgs {
            url: Some("http://arg".into()),
            token: Some(Token::new("arg-token")),
            profile: None,
        };
        let c = load_args(&[], args.clone()).unwrap();
        assert_eq!(c.url.as_deref(), Some("http://arg/api"));
        assert_eq!(c.token.unwrap().expose(), "arg-token");
        let c = load_args(&[("SIMVUE_URL", "http://env")], args).unwrap();
        assert_eq!(c.url.as_deref(), Some("http://env/api"));
        // A profile replaces [server] as a whole: its missing token is not taken from [server].
        let profile = ServerArgs {
            profile: Some("p".into()),
            ..ServerArgs::default()
        };
        let e = load_args(&[], profile.clone()).unwrap_err();
        assert!(e.message.contains("token"), "{e}");
        let c = load_args(&[("SIMVUE_TOKEN", "t")], profile).unwrap();
        assert_eq!(c.url.as_deref(), Some("http://profile/api"));
        // An unknown profile is an error, also offline; not for a disabled run.
        let e = load_args(&[("SIMVUE_SERVER_PROFILE", "nope")], ServerArgs::default()).unwrap_err();
        assert!(e.message.contains("[profiles.nope]"), "{e}");
        let e = load(
            Mode::Offline,
            &[("SIMVUE_SERVER_PROFILE", "nope")],
            &cwd,
            None,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(load(
            Mode::Disabled,
            &[("SIMVUE_SERVER_PROFILE", "nope")],
            &cwd,
            None
        )
        .is_ok());
    }

    #[test]
    fn simvue_toml_beats_dot_simvue_toml_even_further_up() {
        let root = tempdir("prio");
        let cwd = root.join("x");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::write(cwd.join(".simvue.toml"), "[offline]\ncache = \"/dot\"\n").unwrap();
        std::fs::write(root.join("simvue.toml"), "[offline]\ncache = \"/plain\"\n").unwrap();
        let c = load(Mode::Offline, &[], &cwd, None).unwrap();
        assert_eq!(c.cache_dir, PathBuf::from("/plain"));
    }

    #[test]
    fn a_broken_file_is_a_clear_error() {
        let cwd = tempdir("broken");
        std::fs::write(cwd.join("simvue.toml"), "[server\nurl=").unwrap();
        let e = load(Mode::Offline, &[], &cwd, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("simvue.toml"));
    }

    #[test]
    fn a_tilde_cache_and_secrets_in_pyproject_are_refused_as_python_cannot_use_them() {
        let cwd = tempdir("tilde");
        std::fs::write(cwd.join("simvue.toml"), "[offline]\ncache = \"~/cache\"\n").unwrap();
        let e = load(Mode::Offline, &[], &cwd, None).unwrap_err();
        assert!(
            e.message.contains("'~'") && e.message.contains("[offline] cache"),
            "{e}"
        );
        let e = load(
            Mode::Offline,
            &[("SIMVUE_OFFLINE_DIRECTORY", "~")],
            &cwd,
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("SIMVUE_OFFLINE_DIRECTORY"), "{e}");
        assert!(load(Mode::Disabled, &[], &cwd, None).is_ok());
        let c = load(
            Mode::Offline,
            &[("SIMVUE_OFFLINE_DIRECTORY", "/c/~x")],
            &cwd,
            None,
        )
        .unwrap();
        assert_eq!(c.cache_dir, PathBuf::from("/c/~x"));

        let proj = tempdir("pyproject");
        std::fs::write(
            proj.join("pyproject.toml"),
            "[tool.simvue.run]\nfolder = \"/from-pyproject\"\n",
        )
        .unwrap();
        let c = load(Mode::Offline, &[], &proj, None).unwrap();
        assert_eq!(c.run.folder.as_deref(), Some("/from-pyproject"));
        for secret in [
            "[tool.simvue.server]\ntoken = \"t\"\n",
            "[tool.simvue.server]\nurl = \"http://x\"\n",
            "[tool.simvue.offline]\ncache = \"/c\"\n",
        ] {
            std::fs::write(proj.join("pyproject.toml"), secret).unwrap();
            let e = load(Mode::Offline, &[], &proj, None).unwrap_err();
            assert!(e.message.contains("[tool.simvue]"), "{e}");
            assert!(
                !e.message.contains("http://x") && !e.message.contains("\"t\""),
                "{e}"
            );
        }
    }

    #[test]
    fn tokens_are_checked_for_their_expiry() {
        // header.payload.signature with payload {"sub": "x", "exp": 1700000000}
        let b64 = |s: &str| {
            let t = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in s.as_bytes().chunks(3) {
                let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b))
                    << (8 * (3 - chunk.len()));
                for i in 0..=chunk.len() {
                    out.push(t[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        };
        let jwt = |exp: &str| {
            Token::new(format!(
                "{}.{}.sig",
                b64(r#"{"alg":"HS256"}"#),
                b64(&format!(r#"{{"sub":"x","exp":{exp}}}"#))
            ))
        };
        assert!(check_token(&jwt("1700000000"), 1_699_999_999.0).is_ok());
        let e = check_token(&jwt("1700000000"), 1_700_000_001.0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(
            e.message.contains("expired at 2023-11-14 22:13:20 UTC"),
            "{e}"
        );
        let e = check_token(&Token::new("not-a-jwt"), 0.0).unwrap_err();
        assert!(
            e.message.contains("not a Simvue token") && !e.message.contains("not-a-jwt"),
            "{e}"
        );
        let c = load(
            Mode::Offline,
            &[("SIMVUE_NO_SERVER_CHECK", "1")],
            &tempdir("nsc"),
            None,
        )
        .unwrap();
        assert!(c.no_server_check);
    }

    #[test]
    fn the_token_never_formats() {
        let t = Token::new("super-secret-value");
        assert!(!format!("{t:?} {t}").contains("super-secret"));
    }

    #[test]
    fn values_of_the_wrong_type_are_refused_naming_file_key_and_type() {
        let cwd = tempdir("types");
        std::fs::create_dir_all(&cwd).unwrap();
        let file = cwd.join("simvue.toml");
        for (toml, key, expected) in [
            ("[offline]\ncache = 3", "[offline] cache", "a string"),
            ("[run]\ntags = \"x\"", "[run] tags", "a list of strings"),
            (
                "[run]\ntags = [\"a\", 1]",
                "[run] tags",
                "a list of strings",
            ),
            ("[run]\nmetadata = 5", "[run] metadata", "a table"),
            ("[run]\nname = 1.5", "[run] name", "a string"),
            (
                "[metrics]\nsystem_metrics_interval = \"x\"",
                "[metrics] system_metrics_interval",
                "a positive integer",
            ),
            (
                "[metrics]\nsystem_metrics_interval = -5",
                "[metrics] system_metrics_interval",
                "a positive integer, not -5",
            ),
            ("server = 3", "server", "a table"),
            (
                "[metrics]\nenable_emission_metrics = \"yes\"",
                "[metrics] enable_emission_metrics",
                "true or false",
            ),
            (
                "[eco]\nco2_intensity = -1",
                "[eco] co2_intensity",
                "a positive number, not -1",
            ),
            (
                "[run]\nrecord_shell_vars = \"SLURM_*\"",
                "[run] record_shell_vars",
                "a list of strings",
            ),
            ("[server]\ntoken = 12345", "[server] token", "a string"),
        ] {
            std::fs::write(&file, toml).unwrap();
            let e = load(Mode::Offline, &[], &cwd, None).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{toml}: {}", e.message);
            for part in [&file.display().to_string(), key, expected] {
                assert!(
                    e.message.contains(part),
                    "{toml}: {:?} lacks {part:?}",
                    e.message
                );
            }
        }
        std::fs::write(&file, "[server]\ntoken = 12345").unwrap();
        let e = load(Mode::Offline, &[], &cwd, None).unwrap_err();
        assert!(
            !e.message.contains("12345"),
            "a secret's value is never shown"
        );
        std::fs::write(
            &file,
            "[run]\ntags = [\"a\"]\n[metrics]\nsystem_metrics_interval = 5\n\
             [server.certificates]\nserver_ca_cert = true",
        )
        .unwrap();
        let c = load(Mode::Offline, &[], &cwd, None).unwrap();
        assert_eq!(
            (c.run.tags, c.system_metrics_interval),
            (vec!["a".into()], Some(5))
        );
    }

    #[test]
    fn reads_emission_settings_and_shell_variable_patterns() {
        let cwd = tempdir("eco");
        std::fs::write(
            cwd.join("simvue.toml"),
            "[run]\nrecord_shell_vars = [\"OMP_*\"]\n[run.metadata]\n\
             record_shell_vars = [\"SLURM_*\", \"OMP_*\"]\n[metrics]\n\
             enable_emission_metrics = true\n[eco]\nco2_intensity = 212.5\n\
             cpu_thermal_design_power = 280\ncpu_n_cores = 64\n",
        )
        .unwrap();
        let c = load(Mode::Offline, &[], &cwd, None).unwrap();
        assert_eq!(c.run.record_shell_vars, vec!["OMP_*", "SLURM_*"]);
        assert!(
            c.run.metadata.is_empty(),
            "the patterns are not custom metadata"
        );
        assert!(c.enable_emission_metrics);
        assert_eq!(
            c.eco,
            Eco {
                co2_intensity: Some(212.5),
                cpu_thermal_design_power: Some(280.0),
                cpu_n_cores: Some(64),
                gpu_thermal_design_power: None,
            }
        );
        let c = load(Mode::Offline, &[], &tempdir("eco-none"), None).unwrap();
        assert!(!c.enable_emission_metrics && c.eco == Eco::default());
    }
}
