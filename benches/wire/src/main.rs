//! `wire-bench`: one benchmark scenario per invocation, one JSON line on stdout.
//!
//! `cargo xtask bench ws|sse` builds this binary in release mode, runs the generated code and
//! the hand-written baseline alternately in the same run, and prints medians. Every scenario
//! runs its server as a child process (this binary again, `… server`), so the server and the
//! clients never share a tokio runtime, an allocator or a process: each side gets the default
//! multi-threaded runtime (one worker per core).
//!
//! - `ws-echo --impl generated|baseline --conns N [--seconds S] [--warmup S]`: N WebSocket
//!   connections to `lobby`, each sending a `ping` and waiting for its `pong` (matched by
//!   `requestId`) in a closed loop; see `echo.rs` for what each side does per message.
//! - `sse-fanout --impl generated|baseline --subscribers N [--events K] [--interval-ms I]`: N raw
//!   TCP subscribers of `prices/btcusd`; the server publishes K `tick`s carrying their publish
//!   time; see `fanout.rs`.

mod echo;
mod fanout;

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::Duration;

/// Which implementation a scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// The code generated from `specs/pulse-rooms.yaml` (`tests/snapshots/pulse-rooms`).
    Generated,
    /// Hand-written axum + tokio-tungstenite code doing the same work.
    Baseline,
}

impl Impl {
    fn parse(s: &str) -> Result<Impl, String> {
        match s {
            "generated" => Ok(Impl::Generated),
            "baseline" => Ok(Impl::Baseline),
            other => Err(format!("unknown --impl `{other}` (generated|baseline)")),
        }
    }

    /// The name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Generated => "generated",
            Impl::Baseline => "baseline",
        }
    }
}

const HELP: &str = "\
wire-bench <scenario> [options]   (prints one JSON line)

  ws-echo     --impl generated|baseline --conns N [--seconds S] [--warmup S]
              [--server-impl generated|baseline]   (default: the same as --impl)
  sse-fanout  --impl generated|baseline --subscribers N [--events K] [--interval-ms I]
  ws-server   --impl generated|baseline   (internal: the child process of ws-echo)
  sse-server  --impl generated|baseline   (internal: the child process of sse-fanout)
";

/// Command-line options as `--name value` pairs.
struct Args {
    scenario: String,
    pairs: Vec<(String, String)>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        let scenario = it.next().ok_or("no scenario given")?;
        let mut pairs = Vec::new();
        while let Some(name) = it.next() {
            let Some(name) = name.strip_prefix("--") else {
                return Err(format!("unexpected argument `{name}`"));
            };
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_owned(), value));
        }
        Ok(Args { scenario, pairs })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn imp(&self) -> Result<Impl, String> {
        Impl::parse(self.get("impl").ok_or("--impl is required")?)
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: `{v}` is not a number")),
        }
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    raise_nofile_limit();
    let result = (|| -> Result<(), String> {
        match args.scenario.as_str() {
            "ws-echo" => echo::run(
                args.imp()?,
                args.get("server-impl").map(Impl::parse).transpose()?,
                args.num("conns", 16)?,
                Duration::from_secs_f64(args.num("seconds", 2.0)?),
                Duration::from_secs_f64(args.num("warmup", 0.5)?),
            ),
            "ws-server" => echo::serve(args.imp()?),
            "sse-fanout" => fanout::run(
                args.imp()?,
                args.num("subscribers", 10_000)?,
                args.num("events", 20)?,
                Duration::from_millis(args.num("interval-ms", 500)?),
            ),
            "sse-server" => fanout::serve(args.imp()?),
            "help" | "--help" | "-h" => {
                print!("{HELP}");
                Ok(())
            }
            other => Err(format!("unknown scenario `{other}`\n\n{HELP}")),
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wire-bench {}: {e}", args.scenario);
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit of open files to the hard limit: 10,000 connections need 10,000
/// descriptors on each side.
fn raise_nofile_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    let ok = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
        }
    };
    if !ok {
        eprintln!("wire-bench: cannot raise RLIMIT_NOFILE to its hard limit");
    }
}

/// The soft limit of open files (after [`raise_nofile_limit`]).
pub fn nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed to it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        0
    }
}

/// A multi-threaded tokio runtime with the default number of workers (one per core).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))
}

/// A server child process: `wire-bench <scenario> --impl <impl>`. It prints `ready <port>` once
/// it listens, reads commands from its stdin, and exits when its stdin closes.
pub struct ServerChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl ServerChild {
    /// Starts the child and waits for its `ready` line.
    pub fn start(scenario: &str, imp: Impl) -> Result<ServerChild, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args([scenario, "--impl", imp.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the server process: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .ok_or("the server process exited before listening")?
            .map_err(|e| e.to_string())?;
        let port = first
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("unexpected first line from the server: `{first}`"))?;
        Ok(ServerChild {
            child,
            stdin,
            lines,
            port,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a command line and waits for the one-line answer.
    pub fn command(&mut self, line: &str) -> Result<String, String> {
        let stdin = self.stdin.as_mut().ok_or("the server's stdin is closed")?;
        writeln!(stdin, "{line}").map_err(|e| format!("server stdin: {e}"))?;
        stdin.flush().map_err(|e| format!("server stdin: {e}"))?;
        self.lines
            .next()
            .ok_or("the server process exited")?
            .map_err(|e| e.to_string())
    }

    /// Resident memory of the child, in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(&format!("/proc/{}/status", self.pid()))
    }

    /// CPU time the child used so far (user + system).
    pub fn cpu(&self) -> Option<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.pid()))
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        // Closing stdin asks the server to exit; kill it if it does not within a few seconds.
        self.stdin = None;
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the server side of a scenario: prints `ready <port>`, then answers each stdin line
/// with `on_command` (run on the runtime), and exits when stdin closes.
pub fn serve_with<F, Fut>(
    rt: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    on_command: F,
) -> Result<(), String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    rt.spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("wire-bench server: {e}");
        }
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {port}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = rt.block_on(on_command(line));
        writeln!(out, "{answer}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `VmRSS` from a `/proc/<pid>/status` file, in KiB.
pub fn rss_kib(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The machine's CPU time so far as (stolen, all) clock ticks, from the `cpu` line of
/// `/proc/stat`: on a virtual machine, "steal" is time the host gave our vCPUs to others.
pub fn steal_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest times are inside user/nice).
    Some((*fields.get(7)?, fields.iter().take(8).sum()))
}

/// The share of CPU time stolen between two [`steal_ticks`] readings, in percent.
pub fn steal_percent(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, t0), (s1, t1)) = (a?, b?);
    (t1 > t0).then(|| 100.0 * s1.saturating_sub(s0) as f64 / (t1 - t0) as f64)
}

/// User + system CPU time from a `/proc/<pid>/stat` file.
pub fn cpu_time(stat: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(stat).ok()?;
    // The command name (field 2) may contain spaces: count fields after its closing `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_secs_f64(ticks as f64 / hz as f64))
}

/// Percentiles of a set of durations, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Percentiles of `samples` (nanoseconds; sorted in place), in microseconds.
pub fn percentiles(samples: &mut [u64]) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i] as f64 / 1000.0
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        max: samples[samples.len() - 1] as f64 / 1000.0,
    }
}

/// Nanoseconds since the Unix epoch on the system clock (the clock both processes share).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
