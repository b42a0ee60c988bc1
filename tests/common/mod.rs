//! Helpers shared by the integration tests that run through the safe Rust API: a fresh cache
//! directory, an offline run writing to it, and readers of what landed there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use simvue::config::{Config, Mode, Sources};
use simvue::run::{ConfigOptions, Run};

pub fn temp_cache(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("simvue-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub fn offline_run(cache: &Path) -> Run {
    let cache_s = cache.to_string_lossy().into_owned();
    let env = move |k: &str| (k == "SIMVUE_OFFLINE_DIRECTORY").then(|| cache_s.clone());
    let config = Config::load_from(
        Mode::Offline,
        &Sources {
            env: &env,
            cwd: std::env::temp_dir(),
            home: None,
        },
    );
    let run = Run::with_config(Mode::Offline, config);
    run.config(ConfigOptions {
        queue_blocking: Some(true),
        disable_resources_metrics: Some(true),
        suppress_errors: Some(false),
        ..Default::default()
    })
    .unwrap();
    run
}

pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn all_metric_sets(cache: &Path) -> Vec<serde_json::Value> {
    let mut sets = Vec::new();
    for f in files(&cache.join("metrics")) {
        let j = read_json(&cache.join("metrics").join(f));
        sets.extend(j["metrics"].as_array().unwrap().iter().cloned());
    }
    sets.sort_by_key(|m| m["step"].as_u64().unwrap());
    sets
}
