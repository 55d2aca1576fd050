//! Watch mode (`--watch`): run a command once, then again whenever one of the files it read
//! changes on disk.
//!
//! The files to watch come from the run itself (a document and every file its `$ref`s reach,
//! [`Workspace::disk_paths`](crate::spec::Workspace::disk_paths)) and are recomputed after each
//! run, so a file that a new `$ref` brings in is watched from the next run on. Their parent
//! directories are watched, not recursively: editors often save by writing a new file and
//! renaming it over the old one, which a watch on the file itself would lose. Changes arriving
//! within [`DEBOUNCE`] of each other make one run.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};

/// How long the files must stay quiet after a change before the command runs again.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// What one run of the watched command reports.
#[derive(Debug)]
pub struct Run {
    /// The run's exit status, as the command would exit without `--watch`.
    pub status: ExitCode,
    /// Every file the run read (more may be added by the loop: the documents named on the
    /// command line are always watched, even when they could not be read).
    pub inputs: Vec<PathBuf>,
}

/// What to watch besides the run's inputs, and what to leave alone.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Files always watched (the documents named on the command line).
    pub roots: Vec<PathBuf>,
    /// A directory whose changes never start a run (the generated output).
    pub ignore: Option<PathBuf>,
}

/// Why watching could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The operating system's file watcher failed.
    #[error("cannot watch files: {0}")]
    Notify(#[from] notify::Error),
    /// The document is read from standard input (`-`): there is no file to watch.
    #[error("--watch needs files, not standard input")]
    Stdin,
}

enum Message {
    /// A change somewhere in a watched directory.
    Change(notify::Result<notify::Event>),
    /// Standard input was closed (Ctrl-D on a terminal, or the writing end of a pipe).
    Eof,
}

/// Runs `once`, then runs it again after every change to one of its inputs, until standard
/// input ends (Ctrl-D on a terminal, or the other end of a pipe closing; Ctrl-C ends the process
/// as usual). Returns the last run's exit status. Status lines (a separator with the time before
/// each run) go to standard error, so that standard output carries only what the command prints.
pub fn run(options: &Options, mut once: impl FnMut() -> Run) -> Result<ExitCode, WatchError> {
    if options.roots.iter().any(|r| r.as_os_str() == "-") {
        return Err(WatchError::Stdin);
    }
    let (tx, rx) = mpsc::channel();
    let fs_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = fs_tx.send(Message::Change(event));
    })?;
    if stdin_can_end() {
        std::thread::spawn(move || {
            let mut sink = [0u8; 512];
            let mut stdin = std::io::stdin();
            // Input is read and dropped until it ends.
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = tx.send(Message::Eof);
        });
    }
    let ignore = options.ignore.as_deref().map(absolute);
    let roots: BTreeSet<PathBuf> = options.roots.iter().map(|p| absolute(p)).collect();
    let mut watched_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut number = 0u64;
    loop {
        number += 1;
        eprintln!("── {} · run {number} ──", clock());
        let outcome = once();
        let mut files = roots.clone();
        files.extend(outcome.inputs.iter().map(|p| absolute(p)));
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in watched_dirs.difference(&dirs) {
            // A directory that vanished is no longer watched by the system either.
            let _ = watcher.unwatch(gone);
        }
        let mut now_watched = BTreeSet::new();
        for dir in &dirs {
            if watched_dirs.contains(dir) || watcher.watch(dir, RecursiveMode::NonRecursive).is_ok()
            {
                now_watched.insert(dir.clone());
            } else {
                eprintln!("warning: cannot watch {}", dir.display());
            }
        }
        watched_dirs = now_watched;
        eprintln!(
            "── watching {} file{} for changes (Ctrl-C to stop) ──",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        // Wait for a change to one of the files, then for the burst it starts to end.
        loop {
            match rx.recv() {
                Ok(Message::Change(event)) => {
                    if relevant(&event, &files, &roots, ignore.as_deref()) {
                        break;
                    }
                }
                Ok(Message::Eof) | Err(_) => return Ok(outcome.status),
            }
        }
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(Message::Change(_)) => {}
                Ok(Message::Eof) => return Ok(outcome.status),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(outcome.status),
            }
        }
    }
}

/// Whether a file-system event should start a run: it changes one of `roots`, or one of
/// `files` outside `ignore` (or any file, when the system could not say which). Reads (our own,
/// too) and metadata-only changes do not count. A document named on the command line counts
/// even inside `ignore` (a document kept in the output directory); other files there do not,
/// so that a run writing a file it also reads cannot start the next one.
fn relevant(
    event: &notify::Result<notify::Event>,
    files: &BTreeSet<PathBuf>,
    roots: &BTreeSet<PathBuf>,
    ignore: Option<&Path>,
) -> bool {
    let Ok(event) = event else {
        // Events were lost (a queue overflow): better one run too many.
        return true;
    };
    let counts = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Any | EventKind::Other => true,
    };
    if !counts {
        return false;
    }
    if event.paths.is_empty() {
        return true;
    }
    event.paths.iter().any(|p| {
        let p = absolute(p);
        roots.contains(&p) || (files.contains(&p) && !ignore.is_some_and(|dir| p.starts_with(dir)))
    })
}

/// `path` made absolute, its directory resolved through symbolic links where it exists (so
/// that the paths the watcher reports compare equal to the ones the document was read from).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    match (joined.parent(), joined.file_name()) {
        (Some(dir), Some(name)) => match dir.canonicalize() {
            Ok(dir) => dir.join(name),
            Err(_) => joined,
        },
        _ => joined,
    }
}

/// Whether standard input can end while we watch: a terminal (Ctrl-D) or a pipe. Not
/// `/dev/null` or a file, which end at once — watching goes on until Ctrl-C then.
fn stdin_can_end() -> bool {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        stdin
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.file_type().is_fifo())
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The time of day (UTC) as `HH:MM:SS UTC`.
fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, path: &Path) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(path.to_path_buf()))
    }

    #[test]
    fn only_writes_to_watched_files_outside_the_output_count() {
        let dir = std::env::temp_dir();
        let doc = absolute(&dir.join("asyncforge-watch-doc.yaml"));
        let part = absolute(&dir.join("asyncforge-watch-part.yaml"));
        let roots: BTreeSet<PathBuf> = [doc.clone()].into();
        let files: BTreeSet<PathBuf> = [doc.clone(), part.clone()].into();
        let write = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        let renamed = EventKind::Modify(ModifyKind::Name(notify::event::RenameMode::To));
        let touched = EventKind::Modify(ModifyKind::Metadata(notify::event::MetadataKind::Any));
        assert!(relevant(&event(write, &part), &files, &roots, None));
        assert!(relevant(&event(renamed, &part), &files, &roots, None));
        assert!(!relevant(&event(read, &part), &files, &roots, None));
        assert!(!relevant(&event(touched, &part), &files, &roots, None));
        let other = dir.join("asyncforge-watch-other.yaml");
        assert!(!relevant(&event(write, &other), &files, &roots, None));
        // Inside the output directory only the document named on the command line counts.
        let out = absolute(&dir);
        assert!(!relevant(&event(write, &part), &files, &roots, Some(&out)));
        assert!(relevant(&event(write, &doc), &files, &roots, Some(&out)));
    }
}
