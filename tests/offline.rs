//! End-to-end tests of offline mode through the safe Rust API: what lands in the cache, in what
//! order, and what survives a process that forgets to close its run.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use simvue::config::{Config, Mode, Sources};
use simvue::dispatch::MetricOptions;
use simvue::json::Json;
use simvue::model::Status;
use simvue::run::{AlertOptions, AlertRuleKind, InitOptions, Run};
use simvue::ErrorKind;

use common::*;

#[test]
fn a_whole_run_lands_in_the_cache_with_the_python_layout() {
    let cache = temp_cache("whole");
    let run = offline_run(&cache);
    run.set_metadata("nx", Json::Int(64)).unwrap();
    run.init(InitOptions {
        name: Some("it-run"),
        metadata: Some(Json::object().with("scheme", "ftcs")),
        tags: &["a", "b", "a"],
        description: Some("integration"),
        folder: Some("/it/folder"),
        running: true,
        ..InitOptions::default()
    })
    .unwrap();
    let id = run.id().unwrap();
    assert!(id.starts_with("offline_"));
    assert_eq!(run.name().as_deref(), Some("it-run"));
    let alert_id = run
        .add_alert(AlertOptions {
            name: "too-hot",
            frequency: 2,
            rule: Some(AlertRuleKind::IsAbove),
            metric: Some("t"),
            threshold: Some(10.0),
            notify_email: true,
            ..AlertOptions::default()
        })
        .unwrap();
    for i in 0..1000 {
        run.log_metrics(
            &["t", "r"],
            &[i as f64, 1.0 / (i + 1) as f64],
            MetricOptions::default(),
        )
        .unwrap();
    }
    run.log_event("hello", None).unwrap();
    run.update_tags(&["c", "b"]).unwrap();
    run.update_metadata(Json::object().with("iterations", 1000i64))
        .unwrap();
    run.set_folder_details(
        None,
        Some(Json::object().with("project", "p")),
        Some(&["x"]),
        Some("d"),
    )
    .unwrap();
    run.close().unwrap();

    let runs = cache.join("runs");
    assert_eq!(
        files(&runs),
        vec![
            format!("{id}.closed"),
            format!("{id}.heartbeat"),
            format!("{id}.json")
        ]
    );
    let r = read_json(&runs.join(format!("{id}.json")));
    assert_eq!(r["status"], "completed");
    assert_eq!(r["folder"], "/it/folder");
    assert_eq!(r["tags"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(
        r["metadata"],
        serde_json::json!({"scheme": "ftcs", "nx": 64, "iterations": 1000})
    );
    assert_eq!(r["alerts"], serde_json::json!([alert_id]));
    assert!(r["endtime"].is_string() && r["started"].is_string());

    let alert = read_json(&cache.join("alerts").join(format!("{alert_id}.json")));
    assert_eq!(alert["notification"], "email");
    assert_eq!(
        alert["alert"]["window"], 2,
        "window defaults to the frequency"
    );

    let folders = files(&cache.join("folders"));
    assert_eq!(folders.len(), 1);
    let f = read_json(&cache.join("folders").join(&folders[0]));
    assert_eq!(f["metadata"]["project"], "p");

    let sets = all_metric_sets(&cache);
    assert_eq!(sets.len(), 1000);
    for (i, m) in sets.iter().enumerate() {
        assert_eq!(m["step"], i as u64);
        assert_eq!(m["values"]["t"], i as f64);
        assert_eq!(m["run"], serde_json::Value::Null, "items carry no run key");
    }
    let ev = files(&cache.join("events"));
    assert_eq!(ev.len(), 1);
    let e = read_json(&cache.join("events").join(&ev[0]));
    assert_eq!(e["run"], id.as_str());
    assert_eq!(e["events"][0]["message"], "hello");

    // Closed: every call now says so, and nothing more is written.
    assert_eq!(
        run.log_metrics(&["t"], &[1.0], MetricOptions::default())
            .unwrap_err()
            .kind,
        ErrorKind::Closed
    );
    assert_eq!(run.close().unwrap_err().kind, ErrorKind::Closed);
    assert_eq!(all_metric_sets(&cache).len(), 1000);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn sender_files_in_the_cache_are_left_alone() {
    let cache = temp_cache("sender");
    std::fs::create_dir_all(cache.join("server_ids")).unwrap();
    std::fs::write(cache.join("server_ids/offline_x.txt"), "abc").unwrap();
    std::fs::write(cache.join("sender.lock"), "999999").unwrap();
    std::fs::write(
        cache.join("version.json"),
        r#"{"server": "1.2.3", "nosim": "None"}"#,
    )
    .unwrap();
    let run = offline_run(&cache);
    run.init(InitOptions::default()).unwrap();
    run.close().unwrap();
    assert_eq!(
        std::fs::read_to_string(cache.join("server_ids/offline_x.txt")).unwrap(),
        "abc"
    );
    assert_eq!(
        std::fs::read_to_string(cache.join("sender.lock")).unwrap(),
        "999999"
    );
    assert!(std::fs::read_to_string(cache.join("version.json"))
        .unwrap()
        .contains("None"));
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn an_unnamed_run_gets_an_adjective_noun_name_and_created_runs_reconnect() {
    let cache = temp_cache("reconnect");
    let run = offline_run(&cache);
    run.init(InitOptions {
        running: false,
        ..Default::default()
    })
    .unwrap();
    let name = run.name().unwrap();
    assert_eq!(name.split('-').count(), 2, "{name}");
    let id = run.id().unwrap();
    assert_eq!(run.status(), Some(Status::Created));
    // A created run accepts no metrics, and closing it leaves no `.closed` marker.
    assert_eq!(
        run.log_metrics(&["x"], &[1.0], MetricOptions::default())
            .unwrap_err()
            .kind,
        ErrorKind::State
    );
    run.close().unwrap();
    assert!(!cache.join(format!("runs/{id}.closed")).exists());
    let r = read_json(&cache.join(format!("runs/{id}.json")));
    assert_eq!(r["status"], "created");
    assert!(r["system"].is_null());

    let again = offline_run(&cache);
    again.reconnect(&id).unwrap();
    assert_eq!(again.name(), Some(name));
    again
        .log_metrics(&["x"], &[1.0], MetricOptions::default())
        .unwrap();
    again.close().unwrap();
    let r = read_json(&cache.join(format!("runs/{id}.json")));
    assert_eq!(r["status"], "completed");
    assert!(r["system"]["hostname"].is_string());
    assert!(cache.join(format!("runs/{id}.closed")).exists());
    assert_eq!(all_metric_sets(&cache).len(), 1);

    // A closed run cannot be reconnected; an unknown one is not found.
    assert_eq!(
        offline_run(&cache).reconnect(&id).unwrap_err().kind,
        ErrorKind::State
    );
    assert_eq!(
        offline_run(&cache)
            .reconnect("offline_nope")
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        offline_run(&cache).reconnect("../etc").unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn set_status_ends_logging_but_keeps_what_was_logged() {
    let cache = temp_cache("status");
    let run = offline_run(&cache);
    run.init(InitOptions::default()).unwrap();
    for i in 0..10 {
        run.log_metrics(&["x"], &[i as f64], MetricOptions::default())
            .unwrap();
    }
    run.set_status(Status::Failed).unwrap();
    assert_eq!(
        run.log_event("late", None).unwrap_err().kind,
        ErrorKind::State
    );
    assert_eq!(
        run.set_status(Status::Running).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    run.close().unwrap();
    let id = run.id().unwrap();
    let r = read_json(&cache.join(format!("runs/{id}.json")));
    assert_eq!(r["status"], "failed");
    assert!(cache.join(format!("runs/{id}.closed")).exists());
    assert_eq!(all_metric_sets(&cache).len(), 10);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_broken_config_file_is_reported_at_init() {
    let dir = temp_cache("broken-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("simvue.toml"), "[server\n").unwrap();
    let env = |_: &str| None;
    let config = Config::load_from(
        Mode::Offline,
        &Sources {
            env: &env,
            cwd: dir.clone(),
            home: None,
        },
    );
    let run = Run::with_config(Mode::Offline, config);
    let e = run.init(InitOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("simvue.toml"), "{}", e.message);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child half of `a_forgotten_run_is_closed_at_exit`: logs, then exits without closing.
#[test]
fn child_forgets_to_close() {
    let Ok(cache) = std::env::var("SIMVUE_IT_CHILD_CACHE") else {
        return; // only meaningful when started by the parent test
    };
    let run = offline_run(Path::new(&cache));
    run.init(InitOptions::default()).unwrap();
    for i in 0..500 {
        run.log_metrics(&["x"], &[i as f64], MetricOptions::default())
            .unwrap();
    }
    run.log_event("about to exit", None).unwrap();
    std::mem::forget(run);
    std::process::exit(0);
}

#[test]
fn a_forgotten_run_is_closed_at_exit() {
    let cache = temp_cache("atexit");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_forgets_to_close",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SIMVUE_IT_CHILD_CACHE", &cache)
        .status()
        .unwrap();
    assert!(status.success());
    let runs = files(&cache.join("runs"));
    let json = runs.iter().find(|f| f.ends_with(".json")).unwrap();
    let r = read_json(&cache.join("runs").join(json));
    assert_eq!(r["status"], "completed");
    assert!(runs.iter().any(|f| f.ends_with(".closed")));
    assert_eq!(all_metric_sets(&cache).len(), 500);
    assert_eq!(files(&cache.join("events")).len(), 1);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn metrics_are_batched_about_once_per_flush_interval() {
    let cache = temp_cache("batching");
    let run = offline_run(&cache);
    run.set_flush_interval(Duration::from_millis(100)).unwrap();
    run.init(InitOptions::default()).unwrap();
    for i in 0..5 {
        run.log_metrics(&["x"], &[i as f64], MetricOptions::default())
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    // Written by the dispatcher on its own, before close.
    assert_eq!(all_metric_sets(&cache).len(), 5);
    run.close().unwrap();
    let _ = std::fs::remove_dir_all(&cache);
}

mod saving {
    use super::*;
    use simvue::artifact::{Category, SaveOptions};

    fn artifact_records(cache: &Path) -> Vec<serde_json::Value> {
        files(&cache.join("artifacts"))
            .into_iter()
            .filter(|f| f.ends_with(".json"))
            .map(|f| read_json(&cache.join("artifacts").join(f)))
            .collect()
    }

    #[test]
    fn files_buffers_and_snapshots_are_recorded_as_the_python_client_does() {
        let cache = temp_cache("save");
        let work = temp_cache("save-work");
        std::fs::create_dir_all(&work).unwrap();
        let deck = work.join("params.in");
        std::fs::write(&deck, "nx = 64\nalpha = 0.01\n").unwrap();
        let field = work.join("field.csv");
        std::fs::write(&field, "x,u\n0,1\n").unwrap();

        let run = offline_run(&cache);
        run.init(InitOptions::default()).unwrap();
        let id = run.id().unwrap();
        run.save_file(&deck, Category::Input, SaveOptions::default(), false)
            .unwrap();
        let snap = SaveOptions {
            snapshot: true,
            ..Default::default()
        };
        run.save_file(&field, Category::Output, snap, true).unwrap();
        std::fs::write(&field, "overwritten after save").unwrap();
        run.save_bytes(
            "summary.json",
            b"{\"ok\": true}".to_vec(),
            Category::Output,
            Some("application/json"),
            None,
            false,
        )
        .unwrap();
        run.close().unwrap();

        let records = artifact_records(&cache);
        assert_eq!(records.len(), 3);
        let by_name = |n: &str| records.iter().find(|r| r["name"] == n).unwrap().clone();

        let d = by_name("params.in");
        assert_eq!(d["obj_type"], "FileArtifact");
        assert_eq!(
            d["checksum"],
            "b0d4991e697f9158b09a878b6a7ff5b0459f3b16436ad96221a999f083b9148f"
        );
        assert_eq!(d["size"], 21);
        assert_eq!(d["mime_type"], "application/octet-stream");
        assert_eq!(d["runs"][id.as_str()], "input");
        assert_eq!(d["original_path"], deck.to_string_lossy().as_ref());
        assert_eq!(d["storage"], serde_json::Value::Null);

        let f = by_name("field.csv");
        assert_eq!(f["mime_type"], "text/csv");
        assert_eq!(f["runs"][id.as_str()], "output");
        let copy = PathBuf::from(f["original_path"].as_str().unwrap());
        assert_eq!(copy.parent().unwrap(), cache.join("artifacts"));
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "x,u\n0,1\n");
        // As simvue 2.6.2 records a snapshot: the copy is the file.
        assert_eq!(f["file_path"], f["original_path"]);

        let b = by_name("summary.json");
        assert_eq!(b["obj_type"], "ObjectArtifact");
        assert_eq!(b["original_path"], "");
        assert_eq!(b["mime_type"], "application/json");
        let object = files(&cache.join("artifacts"))
            .into_iter()
            .find(|f| f.ends_with(".object"))
            .unwrap();
        assert_eq!(
            std::fs::read(cache.join("artifacts").join(object)).unwrap(),
            b"{\"ok\": true}"
        );
        let _ = std::fs::remove_dir_all(&cache);
        let _ = std::fs::remove_dir_all(&work);
    }

    #[test]
    fn bad_saves_fail_clearly_and_lose_nothing_else() {
        let cache = temp_cache("badsave");
        let work = temp_cache("badsave-work");
        std::fs::create_dir_all(work.join("dir/sub")).unwrap();
        std::fs::write(work.join("dir/a.txt"), "a").unwrap();
        std::fs::write(work.join("dir/sub/b.txt"), "b").unwrap();
        let run = offline_run(&cache);
        run.init(InitOptions::default()).unwrap();
        run.log_metrics(&["x"], &[1.0], MetricOptions::default())
            .unwrap();
        let e = run
            .save_file(
                &work.join("missing"),
                Category::Input,
                SaveOptions::default(),
                false,
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = run
            .save_file(
                &work.join("dir"),
                Category::Input,
                SaveOptions::default(),
                false,
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("save_directory"), "{}", e.message);
        let mime = SaveOptions {
            mime_type: Some("text/unheard-of"),
            ..Default::default()
        };
        assert_eq!(
            run.save_file(&work.join("dir/a.txt"), Category::Input, mime, false)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidArgument
        );
        // save_all: one missing entry does not stop the others.
        let paths = [work.join("dir"), work.join("nope")];
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let e = run
            .save_all(&refs, Category::Code, SaveOptions::default(), true)
            .unwrap_err();
        assert!(e.message.starts_with("1 of 3 files"), "{}", e.message);
        run.log_metrics(&["x"], &[2.0], MetricOptions::default())
            .unwrap();
        run.close().unwrap();
        let names: Vec<String> = artifact_records(&cache)
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"a.txt".into()) && names.contains(&"b.txt".into()));
        assert_eq!(all_metric_sets(&cache).len(), 2);
        let _ = std::fs::remove_dir_all(&cache);
        let _ = std::fs::remove_dir_all(&work);
    }

    #[test]
    fn output_files_wait_for_a_started_run() {
        let cache = temp_cache("created-save");
        let run = offline_run(&cache);
        run.init(InitOptions {
            running: false,
            ..Default::default()
        })
        .unwrap();
        let e = run
            .save_bytes("x", vec![1], Category::Output, None, None, true)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::State);
        run.save_bytes("x", vec![1], Category::Input, None, None, true)
            .unwrap();
        run.close().unwrap();
        assert_eq!(artifact_records(&cache).len(), 1);
        let _ = std::fs::remove_dir_all(&cache);
    }
}

/// Threads of one solver (OpenMP, say) may share a run: every call lands, each with its own step.
#[test]
fn threads_can_share_a_run() {
    let cache = temp_cache("threads");
    let run = std::sync::Arc::new(offline_run(&cache));
    run.init(InitOptions::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let run = run.clone();
            std::thread::spawn(move || {
                let name = format!("thread{t}");
                for i in 0..5000 {
                    run.log_metrics(
                        &[name.as_str(), "i"],
                        &[t as f64, i as f64],
                        MetricOptions::default(),
                    )
                    .unwrap();
                    if i % 1000 == 0 {
                        run.log_event(&format!("{name} at {i}"), None).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    run.close().unwrap();
    let sets = all_metric_sets(&cache);
    assert_eq!(sets.len(), 20_000);
    let steps: std::collections::HashSet<u64> =
        sets.iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(steps.len(), 20_000, "every call has its own step");
    for t in 0..4 {
        let mine: Vec<f64> = sets
            .iter()
            .filter(|m| m["values"].get(format!("thread{t}")).is_some())
            .map(|m| m["values"]["i"].as_f64().unwrap())
            .collect();
        assert_eq!(mine.len(), 5000);
        // A thread's own calls keep their order.
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
    }
    let events: usize = files(&cache.join("events"))
        .iter()
        .map(|f| {
            read_json(&cache.join("events").join(f))["events"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(events, 20);
    let _ = std::fs::remove_dir_all(&cache);
}
