//! The `system` object of a run (`simvue/system.py`): where it ran. Same keys and value types as
//! the Python client; `pythonversion` is empty because no Python is involved.

use std::path::Path;

use crate::json::Json;

fn uname() -> Option<libc::utsname> {
    // SAFETY: utsname is plain old data; uname fills it in and returns 0 on success.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        (libc::uname(&mut u) == 0).then_some(u)
    }
}

fn field(f: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The CPU model as `lscpu` reports it ("Model name"), falling back to the architecture.
fn cpu_model(arch: &str) -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| arch.to_owned())
}

/// Describes this host and process.
pub fn system_info() -> Json {
    let u = uname();
    let get = |f: fn(&libc::utsname) -> &[libc::c_char]| {
        u.as_ref().map(|u| field(f(u))).unwrap_or_default()
    };
    let arch = get(|u| &u.machine);
    Json::object()
        .with(
            "cwd",
            std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
        .with("hostname", get(|u| &u.nodename))
        .with("pythonversion", "")
        .with(
            "platform",
            Json::object()
                .with("system", get(|u| &u.sysname))
                .with("release", get(|u| &u.release))
                .with("version", get(|u| &u.version)),
        )
        .with(
            "cpu",
            Json::object()
                .with("arch", arch.as_str())
                .with("processor", cpu_model(&arch)),
        )
        .with("gpu", {
            // From NVML where it is (the Python client asks nvidia-smi): the first GPU's name
            // and the driver version; empty strings elsewhere, as there.
            let (name, driver) = crate::monitor::gpu::describe().unwrap_or_default();
            Json::object().with("name", name).with("driver", driver)
        })
}

/// The project environment of directory `dir` as the Python client records it
/// (`metadata.environment`, with `[run.metadata] environment` on): `rust` from `Cargo.toml`
/// and `Cargo.lock`, `julia` from `Project.toml`, `javascript` from `package-lock.json`, and
/// `python` from `pyproject.toml` with `poetry.lock` or `uv.lock`. (Python also records its
/// own interpreter's packages when there is no lock file, and reads conda's
/// `environment.yml`; neither applies to a C or Fortran program.)
pub fn project_environment(dir: &Path) -> Vec<(String, Json)> {
    let toml_of = |name: &str| -> Option<toml::Table> {
        std::fs::read_to_string(dir.join(name)).ok()?.parse().ok()
    };
    let str_of = |t: Option<&toml::Value>, k: &str| -> Option<String> {
        t?.get(k)?.as_str().map(str::to_owned)
    };
    let packages = |lock: &toml::Table| -> Json {
        let mut env = Json::object();
        for p in lock
            .get("package")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            if let (Some(n), Some(v)) = (str_of(Some(p), "name"), str_of(Some(p), "version")) {
                env.set(&n, v.into());
            }
        }
        env
    };
    let mut out = Vec::new();

    let mut python = Json::object();
    if let Some(py) = toml_of("pyproject.toml") {
        let poetry = py.get("tool").and_then(|t| t.get("poetry"));
        let project = if str_of(poetry, "name").is_some() {
            poetry
        } else {
            py.get("project")
        };
        if let (Some(n), Some(v)) = (str_of(project, "name"), str_of(project, "version")) {
            python.set("project", Json::object().with("name", n).with("version", v));
        }
    }
    if let Some(lock) = toml_of("poetry.lock").or_else(|| toml_of("uv.lock")) {
        python.set("environment", packages(&lock));
    }
    if python != Json::object() {
        out.push(("python".to_owned(), python));
    }

    let mut rust = Json::object();
    if let Some(cargo) = toml_of("Cargo.toml") {
        let package = cargo.get("package");
        let mut project = Json::object();
        if let Some(v) = str_of(package, "version") {
            project.set("version", v.into());
        }
        if let Some(n) = str_of(package, "name") {
            project.set("name", n.into());
        }
        if project != Json::object() {
            rust.set("project", project);
        }
    }
    if let Some(lock) = toml_of("Cargo.lock") {
        rust.set("environment", packages(&lock));
    }
    if rust != Json::object() {
        out.push(("rust".to_owned(), rust));
    }

    if let Some(project) = toml_of("Project.toml") {
        let plain = Json::Object(
            project
                .iter()
                .filter(|(_, v)| !v.is_table())
                .map(|(k, v)| (k.clone(), crate::config::toml_json(v)))
                .collect(),
        );
        let compat = project
            .get("compat")
            .map_or_else(Json::object, crate::config::toml_json);
        out.push((
            "julia".to_owned(),
            Json::object()
                .with("project", plain)
                .with("environment", compat),
        ));
    }

    if let Some(lock) = std::fs::read_to_string(dir.join("package-lock.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    {
        let v = lock.get("lockfileVersion").and_then(|v| v.as_i64());
        if matches!(v, Some(1..=3)) {
            let mut project = Json::object();
            for k in ["name", "version"] {
                if let Some(x) = lock.get(k) {
                    project.set(k, Json::from_serde(x));
                }
            }
            let key = if v == Some(1) {
                "dependencies"
            } else {
                "packages"
            };
            let mut env = Json::object();
            for (name, p) in lock
                .get(key)
                .and_then(|p| p.as_object())
                .into_iter()
                .flatten()
            {
                let dev = p.get("dev").and_then(|d| d.as_bool()).unwrap_or(true);
                if !name.is_empty() && !dev {
                    if let Some(ver) = p.get("version") {
                        env.set(&name.replace('@', ""), Json::from_serde(ver));
                    }
                }
            }
            out.push((
                "javascript".to_owned(),
                Json::object()
                    .with("project", project)
                    .with("environment", env),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn describes_this_linux_host() {
        let s = super::system_info();
        assert_eq!(
            s.get("platform").and_then(|p| p.get("system")),
            Some(&crate::json::Json::Str("Linux".into()))
        );
        assert!(!s
            .get("hostname")
            .and_then(|h| h.as_str())
            .unwrap()
            .is_empty());
        assert!(!s
            .get("cpu")
            .and_then(|c| c.get("arch"))
            .and_then(|a| a.as_str())
            .unwrap()
            .is_empty());
    }
}
