//! The `system` object of a run (`simvue/system.py`): where it ran. Same keys and value types as
//! the Python client; `pythonversion` is empty because no Python is involved.

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
