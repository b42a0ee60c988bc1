//! Where a run is running: the batch job around it and the shell variables the user asked to
//! keep, added to the run's metadata at `init`.
//!
//! - `batch_job` ([`BATCH_JOB_KEY`]): the scheduler's job (SLURM, PBS/Torque, LSF, Flux) from
//!   the variables it sets in the job's environment, one object whatever the scheduler, so that
//!   runs can be found by job id: `scheduler`, `id`, and where known `name`, `queue` (SLURM's
//!   partition), `nodes`, `tasks`, `nodelist`, `array_index`, `account`, `cluster`.
//! - `shell`: the variables matching the `record_shell_vars` patterns, as simvue 2.6.2 records
//!   them (`metadata.py` `environment`: `fnmatch` patterns over the environment), except the
//!   API token.

use std::path::Path;

use crate::json::Json;

/// The metadata key of the batch job.
pub const BATCH_JOB_KEY: &str = "batch_job";
/// The metadata key of the recorded shell variables (simvue 2.6.2's).
pub const SHELL_KEY: &str = "shell";

/// One scheduler's variables: which says the process is in one of its jobs, and the others.
struct Scheduler {
    name: &'static str,
    id: &'static [&'static str],
    job_name: &'static [&'static str],
    queue: &'static [&'static str],
    nodes: &'static [&'static str],
    tasks: &'static [&'static str],
    nodelist: &'static [&'static str],
    array_index: &'static [&'static str],
    account: &'static [&'static str],
    cluster: &'static [&'static str],
}

/// Flux first: a Flux instance started inside a SLURM or LSF allocation runs the job, and its
/// processes see the outer scheduler's variables too.
const SCHEDULERS: [Scheduler; 4] = [
    Scheduler {
        name: "flux",
        id: &["FLUX_JOB_ID"],
        job_name: &[],
        queue: &["FLUX_JOB_QUEUE"],
        nodes: &["FLUX_JOB_NNODES"],
        tasks: &["FLUX_JOB_SIZE"],
        nodelist: &[],
        array_index: &[],
        account: &[],
        cluster: &[],
    },
    Scheduler {
        name: "slurm",
        id: &["SLURM_JOB_ID", "SLURM_JOBID"],
        job_name: &["SLURM_JOB_NAME"],
        queue: &["SLURM_JOB_PARTITION"],
        nodes: &["SLURM_JOB_NUM_NODES", "SLURM_NNODES"],
        tasks: &["SLURM_NTASKS", "SLURM_NPROCS"],
        nodelist: &["SLURM_JOB_NODELIST", "SLURM_NODELIST"],
        array_index: &["SLURM_ARRAY_TASK_ID"],
        account: &["SLURM_JOB_ACCOUNT"],
        cluster: &["SLURM_CLUSTER_NAME"],
    },
    Scheduler {
        name: "pbs",
        id: &["PBS_JOBID"],
        job_name: &["PBS_JOBNAME"],
        queue: &["PBS_QUEUE"],
        nodes: &["PBS_NUM_NODES"],
        tasks: &["PBS_NP"],
        nodelist: &[],
        array_index: &["PBS_ARRAY_INDEX", "PBS_ARRAYID"],
        account: &["PBS_ACCOUNT"],
        cluster: &["PBS_SERVER"],
    },
    Scheduler {
        name: "lsf",
        id: &["LSB_JOBID"],
        job_name: &["LSB_JOBNAME"],
        queue: &["LSB_QUEUE"],
        nodes: &[],
        tasks: &["LSB_DJOB_NUMPROC"],
        nodelist: &[],
        array_index: &["LSB_JOBINDEX"],
        account: &["LSB_PROJECT_NAME"],
        cluster: &["LSF_CLUSTER_NAME"],
    },
];

/// The batch job this process runs in, from `env` (the process environment in real use), or
/// `None` outside one. Counts are integers; a count a scheduler only gives as a host list
/// (PBS's `PBS_NODEFILE`, LSF's `LSB_MCPU_HOSTS`) is counted from it.
pub fn batch_job(env: &dyn Fn(&str) -> Option<String>) -> Option<Json> {
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| env(k).filter(|v| !v.trim().is_empty()))
    };
    let s = SCHEDULERS.iter().find(|s| first(s.id).is_some())?;
    let mut job = Json::object()
        .with("scheduler", s.name)
        .with("id", first(s.id));
    for (key, keys) in [("name", s.job_name), ("queue", s.queue)] {
        if let Some(v) = first(keys) {
            job.set(key, Json::Str(v));
        }
    }
    let count = |keys: &[&str]| first(keys).and_then(|v| v.trim().parse::<i64>().ok());
    let (mut nodes, mut tasks) = (count(s.nodes), count(s.tasks));
    match s.name {
        "pbs" => {
            if let Some(hosts) = env("PBS_NODEFILE").and_then(|f| read_host_file(Path::new(&f))) {
                tasks = tasks.or(Some(hosts.len() as i64));
                nodes = nodes.or(Some(distinct(&hosts) as i64));
            }
        }
        "lsf" => {
            // "host1 4 host2 4": hosts and their slot counts.
            if let Some(v) = env("LSB_MCPU_HOSTS") {
                let words: Vec<&str> = v.split_whitespace().collect();
                let hosts: Vec<String> = words.chunks(2).map(|c| c[0].to_owned()).collect();
                nodes = nodes.or(Some(distinct(&hosts) as i64));
            }
        }
        _ => {}
    }
    for (key, n) in [("nodes", nodes), ("tasks", tasks)] {
        if let Some(n) = n {
            job.set(key, Json::Int(n));
        }
    }
    for (key, keys) in [
        ("nodelist", s.nodelist),
        ("array_index", s.array_index),
        ("account", s.account),
        ("cluster", s.cluster),
    ] {
        if let Some(v) = first(keys) {
            job.set(key, Json::Str(v));
        }
    }
    Some(job)
}

fn read_host_file(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

fn distinct(hosts: &[String]) -> usize {
    let mut v: Vec<&String> = hosts.iter().collect();
    v.sort();
    v.dedup();
    v.len()
}

/// Tokens shorter than this are not looked for inside longer values (see [`shell_vars`]).
const SHORT_TOKEN: usize = 8;

/// The variables of `vars` (name, value, in the environment's order) whose names match one of
/// `patterns` (`fnmatch` patterns: `*`, `?`, `[abc]`, `[!abc]`), pattern by pattern as the
/// Python client collects them. `SIMVUE_TOKEN`, and any variable holding `token`, are left
/// out: the token is never written anywhere. (A value holding a token shorter than
/// [`SHORT_TOKEN`] bytes is left out only when it is the token: a test token such as `t` would
/// otherwise hide every variable with a `t` in it.)
pub fn shell_vars(patterns: &[String], vars: &[(String, String)], token: Option<&str>) -> Json {
    let mut out = Json::object();
    for p in patterns {
        for (name, value) in vars {
            let secret = name == "SIMVUE_TOKEN"
                || token.is_some_and(|t| {
                    !t.is_empty() && (value == t || (t.len() >= SHORT_TOKEN && value.contains(t)))
                });
            if !secret && fnmatch(p, name) {
                out.set(name, Json::Str(value.clone()));
            }
        }
    }
    out
}

/// Python's `fnmatch.fnmatchcase`: `*` any run of characters, `?` one, `[seq]` one of them
/// (ranges `a-z`), `[!seq]` one not among them; everything else literally.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() {
            match p[i] {
                '*' => {
                    star = Some((i, j));
                    i += 1;
                    continue;
                }
                '?' => {
                    i += 1;
                    j += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, i, n[j]) {
                        if matched {
                            i = next;
                            j += 1;
                            continue;
                        }
                    } else if n[j] == '[' {
                        // An unclosed `[` is a literal, as in Python.
                        i += 1;
                        j += 1;
                        continue;
                    }
                }
                c if c == n[j] => {
                    i += 1;
                    j += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((si, sj)) => {
                i = si + 1;
                j = sj + 1;
                star = Some((si, sj + 1));
            }
            None => return false,
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The class `[...]` starting at `p[start]` applied to `c`: whether it matches and the index
/// after the class; `None` when the class is not closed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut k = start + 1;
    let negate = p.get(k) == Some(&'!');
    if negate {
        k += 1;
    }
    let first = k;
    let mut matched = false;
    while k < p.len() && (p[k] != ']' || k == first) {
        if k + 2 < p.len() && p[k + 1] == '-' && p[k + 2] != ']' {
            if p[k] <= c && c <= p[k + 2] {
                matched = true;
            }
            k += 3;
        } else {
            if p[k] == c {
                matched = true;
            }
            k += 1;
        }
    }
    if k >= p.len() {
        return None;
    }
    Some((matched != negate, k + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn fnmatch_edge_cases_are_pythons() {
        let m = fnmatch;
        assert!(m("SLURM_*", "SLURM_JOB_ID") && !m("SLURM_*", "slurm_job"));
        assert!(m("?ATH", "PATH") && !m("?ATH", "PPATH"));
        assert!(m("X[0-9]", "X5") && !m("X[!0-9]", "X5") && m("X[!0-9]", "Xa"));
        assert!(m("[]]", "]") && m("a[", "a["));
        assert!(m("*", "") && m("HOME", "HOME") && !m("HOME", "HOMES"));
    }

    #[test]
    fn fnmatch_is_pythons() {
        for (p, n, want) in [
            ("SLURM_*", "SLURM_JOB_ID", true),
            ("SLURM_*", "XSLURM_JOB_ID", false),
            ("*_ID", "SLURM_JOB_ID", true),
            ("OMP_NUM_THREADS", "OMP_NUM_THREADS", true),
            ("OMP_NUM_THREAD?", "OMP_NUM_THREADS", true),
            ("OMP_NUM_THREAD?", "OMP_NUM_THREAD", false),
            ("slurm_*", "SLURM_JOB_ID", false),
            ("PBS_[JQ]*", "PBS_JOBID", true),
            ("PBS_[JQ]*", "PBS_QUEUE", true),
            ("PBS_[!JQ]*", "PBS_QUEUE", false),
            ("PBS_[!JQ]*", "PBS_NP", true),
            ("X[0-9]", "X7", true),
            ("X[0-9]", "Xa", false),
            ("A*B*C", "AxxBxxC", true),
            ("A*B*C", "AxxBxx", false),
            ("[", "[", true),
            ("*", "", true),
        ] {
            assert_eq!(fnmatch(p, n), want, "{p} vs {n}");
        }
    }

    #[test]
    fn shell_vars_follow_the_patterns_and_never_the_token() {
        let vars: Vec<(String, String)> = [
            ("SLURM_JOB_ID", "42"),
            ("HOME", "/home/u"),
            ("SIMVUE_TOKEN", "secret-token"),
            ("SIMVUE_URL", "https://x"),
            ("COPY", "Bearer secret-token"),
            ("OMP_NUM_THREADS", "8"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let got = shell_vars(
            &["OMP_*".into(), "SLURM_*".into(), "*".into()],
            &vars,
            Some("secret-token"),
        );
        let Json::Object(pairs) = got else {
            panic!("an object")
        };
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["OMP_NUM_THREADS", "SLURM_JOB_ID", "HOME", "SIMVUE_URL"]
        );
    }

    #[test]
    fn a_short_token_hides_only_itself() {
        let vars: Vec<(String, String)> = [("HOME", "/home/t"), ("SECRET", "t")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = shell_vars(&["*".into()], &vars, Some("t"));
        assert_eq!(got.to_compact_json(), r#"{"HOME":"/home/t"}"#);
    }

    #[test]
    fn a_slurm_job_is_described_in_one_object() {
        let env = env_of(&[
            ("SLURM_JOB_ID", "123456"),
            ("SLURM_JOB_NAME", "heat"),
            ("SLURM_JOB_PARTITION", "standard"),
            ("SLURM_JOB_NUM_NODES", "4"),
            ("SLURM_NTASKS", "512"),
            ("SLURM_JOB_NODELIST", "nid[001-004]"),
            ("SLURM_JOB_ACCOUNT", "e123"),
        ]);
        let job = batch_job(&env).unwrap();
        assert_eq!(
            job.to_compact_json(),
            r#"{"scheduler":"slurm","id":"123456","name":"heat","queue":"standard","nodes":4,"tasks":512,"nodelist":"nid[001-004]","account":"e123"}"#
        );
        assert!(batch_job(&env_of(&[("HOME", "/h")])).is_none());
    }

    #[test]
    fn pbs_counts_come_from_the_node_file_and_flux_wins_inside_slurm() {
        let file = std::env::temp_dir().join(format!("simvue-nodefile-{}", std::process::id()));
        std::fs::write(&file, "n1\nn1\nn2\nn2\n").unwrap();
        let env = env_of(&[
            ("PBS_JOBID", "99.server"),
            ("PBS_QUEUE", "workq"),
            ("PBS_NODEFILE", file.to_str().unwrap()),
        ]);
        let job = batch_job(&env).unwrap();
        assert_eq!(job.get("nodes"), Some(&Json::Int(2)));
        assert_eq!(job.get("tasks"), Some(&Json::Int(4)));
        assert_eq!(job.get("queue"), Some(&Json::Str("workq".into())));
        let _ = std::fs::remove_file(&file);

        let env = env_of(&[("SLURM_JOB_ID", "1"), ("FLUX_JOB_ID", "f2Ab")]);
        assert_eq!(
            batch_job(&env).unwrap().get("scheduler"),
            Some(&Json::Str("flux".into()))
        );
        let lsf = env_of(&[("LSB_JOBID", "7"), ("LSB_MCPU_HOSTS", "a 4 b 4 a 2")]);
        assert_eq!(batch_job(&lsf).unwrap().get("nodes"), Some(&Json::Int(2)));
    }
}
