//! `simvue`: upload offline caches (`send`), look at them (`show`) and check the set-up
//! (`check`), with no Python and no libsimvue.so needed. The logic lives in the library
//! ([`simvue::sender`], [`simvue::cli`]); this file parses arguments, shows progress and sets
//! the exit status.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;

use simvue::cli;
use simvue::online::OnlineSink;
use simvue::sender::report::human_bytes;
use simvue::sender::{Kind, Lock, LockError, Observer, Options, Outcome, Sender, Summary, Tally};

/// Exit status: everything was sent (or nothing was to send); `check`: online mode works.
const EXIT_OK: i32 = 0;
/// Something was left in the cache (failed, waiting, skipped), or `check` found a problem.
const EXIT_LEFT: i32 = 1;
/// Bad usage or configuration.
const EXIT_CONFIG: i32 = 2;
/// Another sender holds the cache.
const EXIT_BUSY: i32 = 3;

#[derive(Parser)]
#[command(
    name = "simvue",
    version,
    about = "Upload Simvue offline caches, look at them, and check the set-up (no Python needed)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload an offline cache to the Simvue server: a drop-in for `simvue-sender` 2.6.2
    Send(SendArgs),
    /// List the runs of an offline cache, or show one run's metrics and events
    Show(ShowArgs),
    /// Say which configuration is in effect and whether the server answers; exit status 0
    /// only when online mode would work
    Check(CheckArgs),
}

#[derive(Args)]
struct SendArgs {
    /// Cache directory to upload [default: SIMVUE_OFFLINE_DIRECTORY, [offline] cache, ~/.simvue]
    #[arg(short = 'i', long = "cache-directory", value_name = "DIR")]
    cache_directory: Option<PathBuf>,
    /// Threads sending items of one kind in parallel
    #[arg(short = 'w', long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_workers: u32,
    /// Number of items of one kind from which they are sent in parallel
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    threading_threshold: u32,
    /// Object kinds to upload, repeatable [default: all]: tenants, users, storage, folders,
    /// tags, alerts, runs, grids, artifacts, metrics, grid_metrics, events, heartbeat,
    /// co2_intensity, version
    #[arg(short = 'o', long = "objects-to-upload", value_name = "KIND", value_parser = parse_kind)]
    objects: Vec<Kind>,
    /// Keep sending new data as it appears, looking every SECONDS, until SIGTERM/SIGINT or
    /// --max-time
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    watch: Option<f64>,
    /// Stop after SECONDS (the item in progress is finished)
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    max_time: Option<f64>,
    /// Also send items that simvue-sender marked `upload_failed`
    #[arg(long)]
    retry_failed: bool,
    /// Take over a lock not refreshed for SECONDS (a sender on another host that died)
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    stale_lock_after: u64,
    /// Progress display: a bar on a terminal, else log lines
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    /// One line per item sent
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Args)]
struct ShowArgs {
    /// Cache directory [default: the configured one]
    dir: Option<PathBuf>,
    /// A run to show in detail: its name, cache id, or the start of either
    #[arg(short, long)]
    run: Option<String>,
    /// Write the run's metrics as CSV to FILE (`-` for standard output)
    #[arg(long, value_name = "FILE", requires = "run")]
    csv: Option<PathBuf>,
    /// Number of last values each chart shows
    #[arg(long, default_value_t = 60)]
    last: usize,
}

#[derive(Args)]
struct CheckArgs {}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProgressMode {
    /// A bar on a terminal, log lines otherwise
    Auto,
    /// Progress bars
    Bar,
    /// Plain log lines
    Log,
    /// Only the summary
    None,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| {
        format!(
            "unknown object kind {s:?}; one of: {}",
            Kind::ORDER.map(Kind::name).join(", ")
        )
    })
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

/// Set by SIGINT/SIGTERM (and by --max-time): finish the current item and stop.
static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM stop cleanly; a second one kills at once (`SA_RESETHAND`).
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to atomics, which is
        // async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Send(args) => send(args),
        Command::Show(args) => show(args),
        Command::Check(args) => check(args),
    };
    std::process::exit(code);
}

// ------------------------------------------------------------------------------------- send

fn send(args: SendArgs) -> i32 {
    install_signal_handlers();
    let config = match cli::online_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("simvue send: {e}");
            return EXIT_CONFIG;
        }
    };
    let cache_dir = match &args.cache_directory {
        Some(d) if !d.is_dir() => {
            eprintln!("simvue send: {} is not a directory", d.display());
            return EXIT_CONFIG;
        }
        Some(d) => d.clone(),
        None if !config.cache_dir.is_dir() => {
            println!(
                "simvue send: there is no offline cache at {}: nothing to send",
                config.cache_dir.display()
            );
            return EXIT_OK;
        }
        None => config.cache_dir.clone(),
    };
    let mut notes = Vec::new();
    let stale = Duration::from_secs(args.stale_lock_after);
    let lock = match Lock::acquire(&cache_dir, stale, &mut notes) {
        Ok(l) => l,
        Err(LockError::Busy(why)) => {
            eprintln!("simvue send: not sending {}: {why}", cache_dir.display());
            return EXIT_BUSY;
        }
        Err(LockError::Failed(e)) => {
            eprintln!("simvue send: {e}");
            return EXIT_CONFIG;
        }
    };
    for n in &notes {
        eprintln!("simvue send: {n}");
    }
    if let Some(t) = args.max_time {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(t));
            STOP.store(true, Ordering::SeqCst);
        });
    }
    let mode = match args.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
        ProgressMode::Auto => ProgressMode::Log,
        m => m,
    };
    let display = Display::new(mode, args.verbose);
    let mut opts = Options::new(cache_dir.clone());
    opts.max_workers = args.max_workers as usize;
    opts.threading_threshold = args.threading_threshold as usize;
    opts.kinds = args.objects.clone();
    opts.retry_failed = args.retry_failed;

    let started = Instant::now();
    let mut total = Summary::default();
    let mut sender: Option<Sender<'_>> = None;
    let mut passes = 0u64;
    loop {
        if sender.is_none() {
            match OnlineSink::connect(&config)
                .and_then(|sink| Sender::new(sink, opts.clone(), &display, &STOP))
            {
                Ok(s) => {
                    display.line(&format!(
                        "simvue send: {} -> {}",
                        cache_dir.display(),
                        cli::printable_url(s.url())
                    ));
                    sender = Some(s);
                }
                Err(e) if args.watch.is_some() && !STOP.load(Ordering::SeqCst) => {
                    display.line(&format!("simvue send: {e}; trying again"));
                }
                Err(e) => {
                    eprintln!("simvue send: {e}");
                    return if e.kind == simvue::ErrorKind::Config {
                        EXIT_CONFIG
                    } else {
                        EXIT_LEFT
                    };
                }
            }
        }
        if let Some(s) = &sender {
            let summary = s.pass();
            passes += 1;
            if args.watch.is_some() && summary.kinds.values().any(|t| t.sent + t.already > 0) {
                display.line(&format!(
                    "simvue send: pass {passes}: {}",
                    summary
                        .lines()
                        .iter()
                        .filter(|l| !l.starts_with("left") && !l.starts_with("    "))
                        .map(|l| l.trim().to_owned())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            total.absorb(summary);
        }
        let Some(every) = args.watch else { break };
        if !wait(Duration::from_secs_f64(every)) {
            break;
        }
    }
    display.finish();
    let interrupted = SIGNALLED.load(Ordering::SeqCst)
        || args
            .max_time
            .is_some_and(|t| started.elapsed().as_secs_f64() >= t);
    // Stopping a --watch is its normal end: what the stop interrupted is not a failure.
    let failed = total
        .left
        .iter()
        .filter(|(_, _, why)| why != "interrupted")
        .count();
    let complete = failed == 0 && (args.watch.is_some() || total.left.is_empty());
    println!(
        "simvue send: {} in {:.1} s{}",
        if complete {
            "done"
        } else {
            "finished with items left"
        },
        started.elapsed().as_secs_f64(),
        if interrupted { " (stopped)" } else { "" }
    );
    for line in total.lines() {
        println!("{line}");
    }
    drop(lock);
    if complete {
        EXIT_OK
    } else {
        EXIT_LEFT
    }
}

/// Sleeps `d`, waking early on a stop; false when stopped.
fn wait(d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if STOP.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
    !STOP.load(Ordering::SeqCst)
}

/// Progress as bars (a terminal) or log lines; the summary is printed by `send`.
struct Display {
    mode: ProgressMode,
    verbose: bool,
    bars: MultiProgress,
    current: Mutex<Option<(ProgressBar, u64, u64)>>,
}

impl Display {
    fn new(mode: ProgressMode, verbose: bool) -> Display {
        let target = if mode == ProgressMode::Bar {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Display {
            mode,
            verbose,
            bars: MultiProgress::with_draw_target(target),
            current: Mutex::new(None),
        }
    }

    fn line(&self, text: &str) {
        match self.mode {
            ProgressMode::Bar => {
                let _ = self.bars.println(text);
            }
            ProgressMode::None => {}
            _ => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some((bar, ..)) = self.current.lock().take() {
            bar.finish();
        }
    }
}

impl Observer for Display {
    fn kind_started(&self, kind: Kind, items: usize, bytes: u64) {
        match self.mode {
            ProgressMode::Bar => {
                let bar = self.bars.add(ProgressBar::new(items as u64));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>10} [{bar:30}] {pos}/{len} {msg} {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(kind.name());
                bar.set_message(format!("0 B of {}", human_bytes(bytes)));
                if let Some((old, ..)) = self.current.lock().replace((bar, bytes, 0)) {
                    old.finish();
                }
            }
            ProgressMode::Log => eprintln!(
                "simvue send: {}: {items} item(s), {}",
                kind.name(),
                human_bytes(bytes)
            ),
            _ => {}
        }
    }

    fn item_done(&self, kind: Kind, id: &str, bytes: u64, outcome: &Outcome) {
        if let Some((bar, total, sent)) = self.current.lock().as_mut() {
            bar.inc(1);
            *sent += bytes;
            bar.set_message(format!("{} of {}", human_bytes(*sent), human_bytes(*total)));
        }
        let show = match outcome {
            Outcome::Failed(e) => Some(format!("failed: {}", e.message)),
            Outcome::Waiting(w) => Some(format!("waiting: {w}")),
            Outcome::Skipped(s) if s != "interrupted" => Some(format!("skipped: {s}")),
            Outcome::Sent { records, .. } if self.verbose => Some(if *records > 1 {
                format!("sent ({records} records, {})", human_bytes(bytes))
            } else {
                format!("sent ({})", human_bytes(bytes))
            }),
            Outcome::AlreadyThere { .. } if self.verbose => {
                Some("already on the server (an interrupted attempt delivered it)".into())
            }
            _ => None,
        };
        if let Some(s) = show {
            self.line(&format!("simvue send: {}/{id}: {s}", kind.name()));
        }
    }

    fn kind_finished(&self, kind: Kind, tally: &Tally) {
        if let Some((bar, ..)) = self.current.lock().take() {
            bar.finish_with_message(format!("{} sent", tally.sent + tally.already));
        }
        if self.mode == ProgressMode::Log {
            eprintln!(
                "simvue send: {}: {} sent, {} left",
                kind.name(),
                tally.sent + tally.already,
                tally.failed + tally.waiting + tally.skipped
            );
        }
    }

    fn note(&self, message: &str) {
        self.line(&format!("simvue send: {message}"));
    }
}

// ------------------------------------------------------------------------------------- show

fn show(args: ShowArgs) -> i32 {
    use simvue::cli::show;
    let dir = match args.dir {
        Some(d) => d,
        None => match simvue::config::Config::load(simvue::Mode::Offline) {
            Ok(c) => c.cache_dir,
            Err(e) => {
                eprintln!("simvue show: {e}");
                return EXIT_CONFIG;
            }
        },
    };
    let runs = match show::runs(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simvue show: {e}");
            return EXIT_CONFIG;
        }
    };
    let Some(wanted) = args.run else {
        println!("{}", dir.display());
        print!("{}", show::table(&runs));
        return EXIT_OK;
    };
    let run = match show::find(&runs, &wanted) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simvue show: {e}");
            return EXIT_LEFT;
        }
    };
    let (metrics, events) = match show::records(&dir, run) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simvue show: {e}");
            return EXIT_LEFT;
        }
    };
    match args.csv {
        Some(path) if path.as_os_str() == "-" => print!("{}", show::csv(&metrics)),
        Some(path) => {
            if let Err(e) = std::fs::write(&path, show::csv(&metrics)) {
                eprintln!("simvue show: cannot write {}: {e}", path.display());
                return EXIT_LEFT;
            }
            println!(
                "wrote {} metric records of run {} to {}",
                metrics.len(),
                run.name(),
                path.display()
            );
        }
        None => print!("{}", show::detail(run, &metrics, &events, args.last.max(1))),
    }
    EXIT_OK
}

// ------------------------------------------------------------------------------------ check

fn check(_args: CheckArgs) -> i32 {
    use simvue::cli::check::Level;
    let report = cli::check::check(&simvue::config::Sources::process(), true);
    println!("simvue check");
    for f in &report.findings {
        let mark = match f.level {
            Level::Ok | Level::Note => "",
            Level::Warning => "warning: ",
            Level::Problem => "PROBLEM: ",
        };
        println!("  {:<12} {mark}{}", f.topic, f.text);
    }
    if report.works() {
        println!("online mode works");
        EXIT_OK
    } else {
        let n = report
            .findings
            .iter()
            .filter(|f| f.level == Level::Problem)
            .count();
        println!("online mode would not work: {n} problem(s) above");
        EXIT_LEFT
    }
}
