//! `cargo xtask bench lsp`: how long the language server (release `asyncforge lsp --stdio`)
//! takes from a `didChange` to the `publishDiagnostics` of that version, on a small document,
//! a synthetic ~1 MB one and the largest corpus document (2.4 MB), driven by the test suite's
//! LSP client. Each edit inserts or removes a comment line at the top, so every check loads and
//! validates the whole document.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::{ms, release_cli};
use crate::machine;

// The client of `tests/lsp.rs`; the tests use all of it, the benchmark only a part.
#[allow(dead_code)]
#[path = "../../../crates/asyncforge/tests/lsp/client.rs"]
mod client;

/// The largest corpus document (2.4 MB, AsyncAPI 2.5).
const LARGE: &str = "realworld/Yodata__real-estate__src_public_schema_asyncapi.yaml";

/// A small valid 3.0 document.
const SMALL: &str = "\
asyncapi: 3.0.0
info:
  title: Signups
  version: 1.0.0
channels:
  signups:
    address: user/signedup
    messages:
      signedUp:
        payload:
          type: object
          properties:
            name:
              type: string
operations:
  onSignup:
    action: receive
    channel:
      $ref: '#/channels/signups'
";

/// A 3.0 document of about `bytes` bytes: channels, operations, messages and schemas that
/// reference each other.
fn synthetic(bytes: usize) -> String {
    let mut channels = String::from("channels:\n");
    let mut operations = String::from("operations:\n");
    let mut messages = String::from("components:\n  messages:\n");
    let mut schemas = String::from("  schemas:\n");
    let mut i = 0;
    while channels.len() + operations.len() + messages.len() + schemas.len() < bytes {
        channels.push_str(&format!(
            "  ch{i}:\n    address: 'rooms/{{room}}/events/{i}'\n    parameters:\n      room:\n        description: The room.\n    messages:\n      m{i}:\n        $ref: '#/components/messages/M{i}'\n"
        ));
        operations.push_str(&format!(
            "  op{i}:\n    action: send\n    summary: Sends event {i}.\n    channel:\n      $ref: '#/channels/ch{i}'\n    messages:\n      - $ref: '#/channels/ch{i}/messages/m{i}'\n"
        ));
        messages.push_str(&format!(
            "    M{i}:\n      name: M{i}\n      contentType: application/json\n      payload:\n        $ref: '#/components/schemas/S{i}'\n"
        ));
        schemas.push_str(&format!(
            "    S{i}:\n      type: object\n      required: [id, at]\n      properties:\n        id:\n          type: string\n          format: uuid\n        at:\n          type: string\n          format: date-time\n        count:\n          type: integer\n          minimum: 0\n        tags:\n          type: array\n          items:\n            type: string\n"
        ));
        i += 1;
    }
    format!(
        "asyncapi: 3.0.0\ninfo:\n  title: Synthetic\n  version: 1.0.0\ndefaultContentType: application/json\n{channels}{operations}{messages}{schemas}"
    )
}

/// Times `edits` edits of one document: (min, median, diagnostics published).
fn measure(
    cli: &Path,
    dir: &Path,
    name: &str,
    text: &str,
    edits: usize,
) -> Result<(Duration, Duration, usize), String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let uri = client::uri(&path);
    let mut c = client::Client::start(cli, dir);
    c.open(&uri, text, 1);
    let mut count = c.diagnostics_for_version(&uri, 1).len();
    let mut times = Vec::new();
    for n in 0..edits {
        let version = n as i64 + 2;
        let start = Instant::now();
        if n % 2 == 0 {
            c.edit(&uri, version, [0, 0, 0, 0], "# edited\n");
        } else {
            c.edit(&uri, version, [0, 0, 1, 0], "");
        }
        count = c.diagnostics_for_version(&uri, version).len();
        times.push(start.elapsed());
    }
    if !c.shutdown().success() {
        return Err("the server did not exit cleanly".into());
    }
    times.sort();
    let min = times.first().copied().unwrap_or_default();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    Ok((min, median, count))
}

/// `edits`: didChange/publishDiagnostics round trips per document.
pub fn run(corpus: Option<&Path>, edits: usize) -> ExitCode {
    let cli = match release_cli() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("asyncforge-bench-lsp-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    println!(
        "== lsp: didChange → publishDiagnostics of that version (release `asyncforge lsp --stdio`, {edits} edits, whole document checked each time)"
    );
    println!("  {} · {}", machine::date(), machine::describe());
    let mut docs: Vec<(String, String)> = vec![
        ("small.yaml".into(), SMALL.to_owned()),
        ("synthetic-1mb.yaml".into(), synthetic(1 << 20)),
    ];
    match corpus.map(|c| c.join(LARGE)) {
        Some(p) => match std::fs::read_to_string(&p) {
            Ok(text) => docs.push(("corpus-large.yaml".into(), text)),
            Err(e) => eprintln!("  {} skipped: {e}", p.display()),
        },
        None => println!("  ../shared/corpus is absent: the 2.4 MB corpus document is skipped"),
    }
    let mut code = ExitCode::SUCCESS;
    for (name, text) in &docs {
        match measure(&cli, &dir, name, text, edits) {
            Ok((min, median, count)) => println!(
                "  min {:>8.2} ms  median {:>8.2} ms  {:>5} diagnostics  {name} ({} B)",
                ms(min),
                ms(median),
                count,
                text.len()
            ),
            Err(e) => {
                eprintln!("  {name}: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    code
}
