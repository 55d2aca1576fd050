//! `--watch`: `validate` and `generate rust` run again when the document or a file it
//! references changes on disk, including a file that a new `$ref` brings in.
//!
//! The child's output is read line by line on threads; every wait has a generous deadline so
//! that a watcher that never reacts fails the test instead of hanging it (no speed is asserted).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough for a loaded CI machine; only reached when the watcher is broken.
const DEADLINE: Duration = Duration::from_secs(60);

const ROOT: &str = "\
asyncapi: 3.0.0
info:
  title: Watched Sensors
  version: 1.0.0
channels:
  readings:
    address: readings
    messages:
      reading:
        payload:
          $ref: 'schemas.yaml#/Reading'
operations:
  sendReading:
    action: send
    channel:
      $ref: '#/channels/readings'
";

const SCHEMAS: &str = "\
Reading:
  type: object
  properties:
    celsius:
      type: number
";

/// A line of the child's output: `true` for standard error.
type Line = (bool, String);

struct Watched {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Line>,
    seen: Vec<Line>,
}

impl Watched {
    fn spawn(dir: &Path, args: &[&str]) -> Watched {
        let mut child = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn asyncforge");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for (is_err, stream) in [
            (false, Box::new(out) as Box<dyn std::io::Read + Send>),
            (true, Box::new(err)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((is_err, line)).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Watched {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line matching `want`; panics with everything seen so far at the deadline.
    fn expect(&mut self, what: &str, want: impl Fn(&Line) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line.1;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no {what} within {DEADLINE:?}; output so far: {:#?}",
                        self.seen
                    );
                }
            }
        }
    }

    /// Waits until the watcher has set itself up after a run, and returns how many files it
    /// watches. Only for lines that all go to standard error (the order between the two
    /// streams is lost on the way here).
    fn watching(&mut self) -> usize {
        let line = self.expect("`watching` line", |(err, l)| *err && is_watching(l));
        watched_count(&line)
    }

    /// Waits for the next run's verdict (on standard output) and for the watcher to be set up
    /// again after it (on standard error), in whichever order they arrive; returns how many
    /// files are watched then.
    fn next_run(&mut self, want: &str) -> usize {
        let (mut verdict, mut watched, mut new_run) = (false, None, false);
        while !verdict || watched.is_none() {
            let line = self.expect(want, |_| true);
            let (err, _) = self.seen.last().cloned().unwrap_or((false, String::new()));
            if err && line.contains("· run ") {
                new_run = true;
            } else if err && new_run && is_watching(&line) {
                watched = Some(watched_count(&line));
            } else if !err && line.starts_with("asyncapi.yaml: ") {
                assert!(line.contains(want), "expected {want:?}, got {line:?}");
                verdict = true;
            }
        }
        watched.unwrap_or_default()
    }

    /// Closes standard input, which ends watching; returns the exit status and every line the
    /// child printed.
    fn finish(mut self) -> (std::process::ExitStatus, Vec<Line>) {
        drop(self.stdin.take());
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The readers end with the child's pipes.
                while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
                    self.seen.push(line);
                }
                return (status, std::mem::take(&mut self.seen));
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("--watch did not end when its standard input closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_watching(line: &str) -> bool {
    line.contains("watching") && line.contains("for changes")
}

fn watched_count(line: &str) -> usize {
    line.split_whitespace()
        .skip_while(|w| *w != "watching")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

fn write(path: PathBuf, text: &str) {
    std::fs::write(path, text).expect("write");
}

#[test]
fn validate_watch_follows_referenced_files() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path().join("asyncapi.yaml"), ROOT);
    write(dir.path().join("schemas.yaml"), SCHEMAS);
    let mut w = Watched::spawn(dir.path(), &["validate", "--watch", "asyncapi.yaml"]);
    assert_eq!(w.next_run(": valid"), 2, "the document and schemas.yaml");

    // Breaking the referenced file is reported…
    write(dir.path().join("schemas.yaml"), "Reading: [unclosed\n");
    assert_eq!(w.next_run(": invalid"), 2);
    // …and so is fixing it.
    write(dir.path().join("schemas.yaml"), SCHEMAS);
    assert_eq!(w.next_run(": valid"), 2);

    // A file that a new `$ref` brings in is watched from then on.
    write(
        dir.path().join("extra.yaml"),
        "Unit:\n  type: string\n  enum: [C, F]\n",
    );
    let with_unit = ROOT.replace(
        "          $ref: 'schemas.yaml#/Reading'\n",
        "          type: object\n          properties:\n            reading:\n              \
         $ref: 'schemas.yaml#/Reading'\n            unit:\n              $ref: 'extra.yaml#/Unit'\n",
    );
    write(dir.path().join("asyncapi.yaml"), &with_unit);
    assert_eq!(w.next_run(": valid"), 3, "extra.yaml is watched too");
    write(dir.path().join("extra.yaml"), "Unit: [unclosed\n");
    assert_eq!(w.next_run(": invalid"), 3);
    assert!(
        w.seen
            .iter()
            .any(|(err, l)| !err && l.contains("extra.yaml:")),
        "the error names extra.yaml: {:#?}",
        w.seen
    );
    let (status, _) = w.finish();
    assert_eq!(status.code(), Some(1), "the last run's status: invalid");
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generate_watch_regenerates_on_change() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path().join("asyncapi.yaml"), ROOT);
    write(dir.path().join("schemas.yaml"), SCHEMAS);
    // The output inside the watched directory: its own writes must not start runs.
    let mut w = Watched::spawn(
        dir.path(),
        &[
            "generate",
            "rust",
            "--watch",
            "--spec",
            "asyncapi.yaml",
            "--out",
            "out",
        ],
    );
    let generated = |(err, l): &Line| *err && l.starts_with("generated ");
    w.expect("first generation", generated);
    assert_eq!(w.watching(), 2);
    let before = snapshot(&dir.path().join("out"));
    assert!(!before.is_empty());

    write(
        dir.path().join("schemas.yaml"),
        &SCHEMAS.replace(
            "      type: number\n",
            "      type: number\n    sensorId:\n      type: string\n",
        ),
    );
    w.expect("run 2", |(err, l)| *err && l.contains("run 2"));
    w.expect("second generation", generated);
    w.watching();
    let after = snapshot(&dir.path().join("out"));
    assert_ne!(before, after, "a generated file changed");
    assert!(
        after
            .iter()
            .any(|(_, bytes)| String::from_utf8_lossy(bytes).contains("sensor_id")),
        "the new property is in the generated code"
    );
    let (status, seen) = w.finish();
    assert!(status.success());
    assert!(
        !seen.iter().any(|(_, l)| l.contains("run 3")),
        "writing the output did not start another run: {seen:#?}"
    );
}
