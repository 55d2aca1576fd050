//! Where and when a measurement or a generated comparison was made: the date, `nproc`,
//! `uname -r` and the load average, for the figures written into the docs.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Today, UTC (`2026-12-06`).
pub fn date() -> String {
    output("date", &["-u", "+%Y-%m-%d"])
}

/// The 1, 5 and 15-minute load averages (`/proc/loadavg`).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `2 CPUs (nproc), Linux 6.18.0 (uname -r), load average 1.2 0.9 0.8`.
pub fn describe() -> String {
    format!(
        "{} CPUs (`nproc`), Linux {} (`uname -r`), load average {}",
        output("nproc", &[]),
        output("uname", &["-r"]),
        load_average()
    )
}
