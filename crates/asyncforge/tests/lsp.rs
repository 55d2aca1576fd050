//! `asyncforge lsp --stdio` driven as an editor drives it: the real binary, JSON-RPC over its
//! stdin/stdout, documents in a temporary directory (its name has a space, so URIs are
//! percent-encoded). Diagnostics are compared with what `asyncforge validate --format json`
//! reports for the same files.

#[path = "lsp/client.rs"]
mod client;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use client::{Client, uri};
use serde_json::{Value, json};

/// Starts the server under test in `dir`.
fn start(dir: &Path) -> Client {
    Client::start(Path::new(env!("CARGO_BIN_EXE_asyncforge")), dir)
}

fn workspace() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("lsp test ")
        .tempdir()
        .expect("temp dir")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    uri(&path)
}

/// A diagnostic reduced to what must match `validate`: code, severity (LSP number), range.
type Key = (String, u64, u64, u64, u64, u64);

fn lsp_key(d: &Value) -> Key {
    let r = &d["range"];
    (
        d["code"].as_str().unwrap_or_default().to_owned(),
        d["severity"].as_u64().unwrap_or(0),
        r["start"]["line"].as_u64().unwrap_or(0),
        r["start"]["character"].as_u64().unwrap_or(0),
        r["end"]["line"].as_u64().unwrap_or(0),
        r["end"]["character"].as_u64().unwrap_or(0),
    )
}

/// UTF-16 column of a 1-based character column of a 1-based line of `text`.
fn utf16_col(text: &str, line: u64, col: u64) -> u64 {
    let l = text.split('\n').nth(line as usize - 1).unwrap_or("");
    l.chars()
        .take(col as usize - 1)
        .map(|c| c.len_utf16() as u64)
        .sum()
}

/// `asyncforge validate --format json <root>` in `dir`: file name → diagnostics as LSP keys.
fn validate(dir: &Path, root: &str) -> Vec<(String, BTreeSet<Key>)> {
    let out = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["validate", "--format", "json", root])
        .current_dir(dir)
        .output()
        .expect("run validate");
    let report: Value = serde_json::from_slice(&out.stdout).expect("validate prints JSON");
    let mut by_file: Vec<(String, BTreeSet<Key>)> = Vec::new();
    for d in report[0]["diagnostics"].as_array().expect("diagnostics") {
        let file = d["file"].as_str().expect("file").to_owned();
        let text = std::fs::read_to_string(dir.join(&file)).expect("read");
        let r = &d["range"];
        let n = |v: &Value| v.as_u64().expect("number");
        let key = (
            d["code"].as_str().expect("code").to_owned(),
            match d["severity"].as_str() {
                Some("error") => 1,
                Some("warning") => 2,
                Some("info") => 3,
                _ => 4,
            },
            n(&r["start"]["line"]) - 1,
            utf16_col(&text, n(&r["start"]["line"]), n(&r["start"]["column"])),
            n(&r["end"]["line"]) - 1,
            utf16_col(&text, n(&r["end"]["line"]), n(&r["end"]["column"])),
        );
        match by_file.iter_mut().find(|(f, _)| *f == file) {
            Some((_, set)) => {
                set.insert(key);
            }
            None => by_file.push((file, BTreeSet::from([key]))),
        }
    }
    by_file
}

/// Writes the files, opens `root` in the server and checks that the diagnostics published for
/// every file equal `validate`'s. Returns the root's diagnostics.
fn assert_like_validate(files: &[(&str, &str)], root: &str) -> Vec<Value> {
    let dir = workspace();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    let expected = validate(dir.path(), root);
    assert!(
        expected.iter().any(|(_, s)| s.iter().any(|k| k.1 == 1)),
        "the test document must have errors: {expected:?}"
    );
    let mut c = start(dir.path());
    let root_uri = uri(&dir.path().join(root));
    let text = files
        .iter()
        .find(|(n, _)| *n == root)
        .map(|(_, t)| *t)
        .expect("root among the files");
    c.open(&root_uri, text, 1);
    let root_diags = c.diagnostics_for_version(&root_uri, 1);
    for (file, want) in &expected {
        let file_uri = uri(&dir.path().join(file));
        let got: BTreeSet<Key> = if file_uri == root_uri {
            root_diags.iter().map(lsp_key).collect()
        } else {
            c.next_diagnostics(&file_uri).iter().map(lsp_key).collect()
        };
        assert_eq!(&got, want, "diagnostics of {file}");
    }
    for d in &root_diags {
        assert_eq!(d["source"], "asyncforge");
    }
    assert!(c.shutdown().success());
    root_diags
}

const BAD_3_0: &str = "\
asyncapi: 3.0.0
info:
  title: Shop
  version: 1.0.0
channels:
  orders:
    address: orders
    messages:
      created: { description: \"😀😀 é\", $ref: '#/components/messages/Missing' }
operations:
  sendOrder:
    action: sned
    channel:
      $ref: '#/channels/orders'
";

const BAD_2_6: &str = "\
asyncapi: 2.6.0
info:
  title: Accounts
servers:
  prod:
    url: broker.example.com
    protocol: kafkaa
channels:
  user/signedup:
    subscribe:
      message:
        $ref: '#/components/messages/Nope'
";

const BAD_JSON: &str = r##"{
  "asyncapi": "3.0.0",
  "info": { "title": "Ünïcode", "version": "1.0.0" },
  "channels": {
    "a": { "address": 42 }
  },
  "operations": {
    "op": { "action": "send", "channel": { "$ref": "#/channels/b" } }
  }
}
"##;

const ROOT: &str = "\
asyncapi: 3.0.0
info:
  title: Signups
  version: 1.0.0
channels:
  user/signedup:
    address: user/signedup
    messages:
      signedUp:
        $ref: 'messages.yaml#/UserSignedUp'
operations:
  onSignup:
    action: receive
    channel:
      $ref: '#/channels/user~1signedup'
    messages:
      - $ref: '#/channels/user~1signedup/messages/signedUp'
components:
  messages:
    again:
      $ref: '#/channels/user~1signedup/messages/signed%55p'
  schemas:
    User:
      type: object
      properties:
        name:
          type: string
    Name:
      $ref: '#/components/schemas/User/properties/name'
";

const MESSAGES: &str = "\
UserSignedUp:
  payload:
    $ref: 'root.yaml#/components/schemas/User'
";

const MESSAGES_BROKEN: &str = "\
UserSignedUp:
  payload:
    type: object
    properties:
      name:
        type: strng
";

#[test]
fn handshake_advertises_capabilities_and_exits_cleanly() {
    let dir = workspace();
    let mut c = start(dir.path());
    let caps = c.capabilities.clone();
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(caps["textDocumentSync"]["openClose"], true);
    assert_eq!(caps["definitionProvider"], true);
    assert_eq!(caps["referencesProvider"], true);
    assert_eq!(caps["documentSymbolProvider"], true);
    assert_eq!(caps["documentFormattingProvider"], true);
    assert_eq!(caps["renameProvider"]["prepareProvider"], true);
    assert_eq!(caps["hoverProvider"], true);
    let triggers = &caps["completionProvider"]["triggerCharacters"];
    for t in [" ", ":", "\"", "'", "#", "/"] {
        assert!(
            triggers.as_array().is_some_and(|a| a.contains(&json!(t))),
            "completion is triggered by {t:?}: {triggers}"
        );
    }
    assert_eq!(
        caps["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix"])
    );
    // An unknown request gets an error, not silence.
    let err = c
        .request("textDocument/signatureHelp", json!({}))
        .expect_err("signature help is not handled");
    assert_eq!(err["code"], -32601);
    // The file watcher was registered dynamically.
    let reg = c
        .server_requests
        .iter()
        .find(|r| r["method"] == "client/registerCapability")
        .expect("registerCapability sent");
    let reg = &reg["params"]["registrations"][0];
    assert_eq!(reg["method"], "workspace/didChangeWatchedFiles");
    assert_eq!(
        reg["registerOptions"]["watchers"][0]["globPattern"],
        "**/*.{yaml,yml,json}"
    );
    assert!(c.shutdown().success());

    // `exit` without `shutdown` ends the server with status 1.
    let mut c = start(dir.path());
    c.notify("exit", Value::Null);
    let deadline = Instant::now() + client::TIMEOUT;
    let status = loop {
        if let Some(s) = c.try_status() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
}

#[test]
fn diagnostics_of_a_3_0_document_equal_validate_with_utf16_columns() {
    let diags = assert_like_validate(&[("bad.yaml", BAD_3_0)], "bad.yaml");
    // The `$ref` comes after two emoji (two UTF-16 units each) and an `é` (one unit): the
    // engine's 45th character is the 47th UTF-16 unit (0-based 46).
    let unresolved = diags
        .iter()
        .find(|d| d["code"] == "ref-unresolved")
        .expect("ref-unresolved");
    assert_eq!(
        unresolved["range"]["start"],
        json!({"line": 8, "character": 46})
    );
    assert_eq!(
        unresolved["range"]["end"],
        json!({"line": 8, "character": 78})
    );
    let action = diags
        .iter()
        .find(|d| d["code"] == "struct-enum")
        .expect("struct-enum");
    assert!(
        action["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("`action` must be one of `send`, `receive`")),
        "{action}"
    );
}

#[test]
fn diagnostics_of_a_2_x_document_equal_validate() {
    assert_like_validate(&[("accounts.yaml", BAD_2_6)], "accounts.yaml");
}

#[test]
fn diagnostics_of_a_json_document_equal_validate() {
    assert_like_validate(&[("api.json", BAD_JSON)], "api.json");
}

#[test]
fn diagnostics_inside_a_referenced_file_equal_validate() {
    assert_like_validate(
        &[("root.yaml", ROOT), ("messages.yaml", MESSAGES_BROKEN)],
        "root.yaml",
    );
}

fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d["severity"] == 1)
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn incremental_edits_fix_and_break_the_document() {
    let dir = workspace();
    let u = write(dir.path(), "bad.yaml", BAD_3_0);
    let mut c = start(dir.path());
    c.open(&u, BAD_3_0, 1);
    let d = c.diagnostics_for_version(&u, 1);
    assert_eq!(codes(&d), ["ref-unresolved", "struct-enum"]);
    // `sned` → `send` (line 12, UTF-16 columns 12..16).
    c.edit(&u, 2, [11, 12, 11, 16], "send");
    assert_eq!(codes(&c.diagnostics_for_version(&u, 2)), ["ref-unresolved"]);
    // Replace `Missing` after the emoji: the string starts at UTF-16 column 46, so `Missing`
    // spans 69..76.
    c.edit(&u, 3, [8, 69, 8, 76], "Gone");
    let d = c.diagnostics_for_version(&u, 3);
    let unresolved = d
        .iter()
        .find(|d| d["code"] == "ref-unresolved")
        .expect("ref-unresolved");
    let msg = unresolved["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("`#/components/messages/Gone` does not resolve"),
        "{msg}"
    );
    // Three edits in a row, sent without waiting: the last version is what gets checked and
    // published, and it is broken again.
    c.edit(&u, 4, [11, 12, 11, 16], "sen");
    c.edit(&u, 5, [11, 12, 11, 15], "snd");
    c.edit(&u, 6, [11, 12, 11, 15], "sned");
    let d = c.diagnostics_for_version(&u, 6);
    assert_eq!(codes(&d), ["ref-unresolved", "struct-enum"]);
    let enum_diag = d.iter().find(|d| d["code"] == "struct-enum").expect("enum");
    assert!(
        enum_diag["message"]
            .as_str()
            .unwrap_or_default()
            .contains("found `sned`")
    );
    // Fix both in one notification with two changes (applied in order).
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": u, "version": 7 },
            "contentChanges": [
                { "range": { "start": { "line": 11, "character": 12 }, "end": { "line": 11, "character": 16 } }, "text": "send" },
                { "range": { "start": { "line": 8, "character": 15 }, "end": { "line": 8, "character": 79 } }, "text": "{ payload: { type: string } }" }
            ]
        }),
    );
    assert!(codes(&c.diagnostics_for_version(&u, 7)).is_empty());
    assert!(c.shutdown().success());
}

#[test]
fn multi_file_document_follows_editor_buffers_and_disk() {
    let dir = workspace();
    let root = write(dir.path(), "root.yaml", ROOT);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES_BROKEN);
    let mut c = start(dir.path());
    c.open(&root, ROOT, 1);
    assert!(codes(&c.diagnostics_for_version(&root, 1)).is_empty());
    // The error inside the referenced file (not open) is published on its URI.
    let d = c.next_diagnostics(&msgs);
    assert_eq!(codes(&d), ["struct-enum"]);
    assert_eq!(d[0]["range"]["start"], json!({"line": 5, "character": 14}));

    // Opened in the editor: same diagnostics, now with its version.
    c.open(&msgs, MESSAGES_BROKEN, 1);
    assert_eq!(codes(&c.diagnostics_for_version(&msgs, 1)), ["struct-enum"]);
    // An unsaved edit renames the message: the root now has a dangling `$ref`.
    c.edit(&msgs, 2, [0, 0, 0, 12], "UserSignedUpX");
    // Its message is no longer used, so nothing in it is checked.
    assert!(codes(&c.diagnostics_for_version(&msgs, 2)).is_empty());
    let d = c.diagnostics_where(&root, |p| {
        p["diagnostics"]
            .as_array()
            .is_some_and(|a| a.iter().any(|d| d["code"] == "ref-unresolved"))
    });
    assert_eq!(d["version"], 1, "the root's text did not change");
    let dangling = d["diagnostics"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["code"] == "ref-unresolved").cloned())
        .expect("ref-unresolved");
    assert_eq!(dangling["range"]["start"]["line"], 9);
    // Named back: used and checked again, the root's `$ref` resolves.
    c.edit(&msgs, 3, [0, 0, 0, 13], "UserSignedUp");
    assert_eq!(codes(&c.diagnostics_for_version(&msgs, 3)), ["struct-enum"]);
    let d = c.diagnostics_where(&root, |_| true);
    assert!(codes(d["diagnostics"].as_array().expect("list")).is_empty());
    // Fixing the type in the buffer clears the referenced file's error.
    c.edit(&msgs, 4, [5, 14, 5, 19], "string");
    assert!(codes(&c.diagnostics_for_version(&msgs, 4)).is_empty());

    // Closed without saving: the disk text (still broken, name intact) counts again.
    c.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": msgs } }),
    );
    let d = c.diagnostics_where(&msgs, |p| p["version"].is_null());
    assert_eq!(
        codes(d["diagnostics"].as_array().expect("list")),
        ["struct-enum"]
    );
    let d = c.diagnostics_where(&root, |p| {
        p["diagnostics"]
            .as_array()
            .is_some_and(|a| a.iter().all(|d| d["code"] != "ref-unresolved"))
    });
    assert_eq!(d["version"], 1);

    // Fixed on disk, announced by the file watcher: the error is cleared.
    std::fs::write(
        dir.path().join("messages.yaml"),
        MESSAGES_BROKEN.replace("strng", "string"),
    )
    .expect("write");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": msgs, "type": 2 }] }),
    );
    assert!(c.next_diagnostics(&msgs).is_empty());
    // Broken again on disk: published again.
    std::fs::write(dir.path().join("messages.yaml"), MESSAGES_BROKEN).expect("write");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": msgs, "type": 2 }] }),
    );
    assert_eq!(codes(&c.next_diagnostics(&msgs)), ["struct-enum"]);
    assert!(c.shutdown().success());
}

/// Nine levels of nine aliases: 9^9 nodes if expanded.
fn alias_bomb() -> String {
    let mut s = String::from("asyncapi: 3.0.0\ninfo: {title: bomb, version: 1.0.0}\n");
    s.push_str("x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        s.push_str(&format!("x-{}: &{} [{refs}]\n", w[1], w[1]));
    }
    s
}

#[test]
fn alias_bomb_typed_into_the_editor_is_reported_and_the_server_stays_responsive() {
    let dir = workspace();
    let u = write(dir.path(), "bomb.yaml", "asyncapi: 3.0.0\n");
    let mut c = start(dir.path());
    c.open(&u, "asyncapi: 3.0.0\n", 1);
    c.diagnostics_for_version(&u, 1);
    let started = Instant::now();
    c.replace(&u, 2, &alias_bomb());
    let d = c.diagnostics_for_version(&u, 2);
    let took = started.elapsed();
    assert!(
        d.iter()
            .any(|d| d["severity"] == 1
                && d["message"].as_str().unwrap_or_default().contains("alias")),
        "an error about aliases: {d:?}"
    );
    eprintln!("alias bomb: diagnostics after {took:?}");
    let symbols = c
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": u } }),
        )
        .expect("answers after the bomb");
    assert!(symbols.is_array() || symbols.is_null());
    assert!(c.shutdown().success());
}

#[test]
fn half_typed_garbage_and_empty_documents_do_not_break_the_server() {
    let dir = workspace();
    let half = write(dir.path(), "half.yaml", "");
    let mut c = start(dir.path());
    let texts = [
        "asyncapi: 3.0.0\nchannels:\n  foo:\n    addr",
        "asyncapi: 3.0.0\nchannels:\n  foo:\n    address: [",
        "\u{0}\u{1}\u{7f}\u{fffd}\u{fffd}asyncapi:\u{0}\n\t\t- : : ][}{&*!|>%@`\n",
        "",
        "{\"asyncapi\": \"3.0.0\", \"channels\": {\"a\": ",
        "asyncapi: 3.0.0\nx: *nowhere\ny: &a\n  - *a\n",
        "asyncapi: 3.0.0\n\u{feff}info: \"\u{1F600}\n",
    ];
    c.open(&half, texts[0], 1);
    let d = c.diagnostics_for_version(&half, 1);
    assert!(codes(&d).contains(&"struct-type".to_owned()), "{d:?}");
    for (i, text) in texts.iter().enumerate() {
        let v = i as i64 + 2;
        c.replace(&half, v, text);
        let diags = c.diagnostics_for_version(&half, v);
        let td = json!({ "uri": half });
        for position in [
            json!({"line": 0, "character": 3}),
            json!({"line": 99, "character": 99}),
        ] {
            let at = json!({ "textDocument": td, "position": position });
            c.request("textDocument/definition", at.clone())
                .expect("definition answers");
            c.request(
                "textDocument/references",
                json!({ "textDocument": td, "position": position, "context": { "includeDeclaration": true } }),
            )
            .expect("references answers");
            let refused = c.request("textDocument/prepareRename", at.clone());
            assert!(refused.is_err(), "nothing to rename in {text:?}");
            c.request("textDocument/hover", at.clone())
                .expect("hover answers");
            let list = c
                .request("textDocument/completion", at.clone())
                .expect("completion answers");
            assert!(list["items"].is_array(), "{list}");
        }
        let actions = c
            .request(
                "textDocument/codeAction",
                json!({ "textDocument": td, "range": range(0, 0, 0), "context": { "diagnostics": diags } }),
            )
            .expect("code actions answer");
        assert!(actions.is_array(), "{actions}");
        c.request("textDocument/documentSymbol", json!({ "textDocument": td }))
            .expect("symbols answer");
        c.request(
            "textDocument/formatting",
            json!({ "textDocument": td, "options": { "tabSize": 2, "insertSpaces": true } }),
        )
        .expect("formatting answers");
    }
    // Edits with ranges past the end of the text are clamped, not fatal.
    c.edit(&half, 100, [50, 3, 60, 0], "asyncapi: 3.0.0\n");
    c.diagnostics_for_version(&half, 100);
    assert!(c.shutdown().success());
}

fn at(u: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": u }, "position": { "line": line, "character": character } })
}

fn range(line: u32, from: u32, to: u32) -> Value {
    json!({ "start": { "line": line, "character": from }, "end": { "line": line, "character": to } })
}

#[test]
fn definition_and_references_across_files_with_escaped_pointers() {
    let dir = workspace();
    let root = write(dir.path(), "root.yaml", ROOT);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES);
    let mut c = start(dir.path());
    c.open(&root, ROOT, 1);
    c.diagnostics_for_version(&root, 1);

    // `messages.yaml#/UserSignedUp` (line 10) → the key in the other file.
    let def = c
        .request("textDocument/definition", at(&root, 9, 20))
        .expect("definition");
    assert_eq!(def, json!({ "uri": msgs, "range": range(0, 0, 12) }));
    // `#/channels/user~1signedup` → the channel key `user/signedup`.
    let def = c
        .request("textDocument/definition", at(&root, 14, 16))
        .expect("definition");
    assert_eq!(def, json!({ "uri": root, "range": range(5, 2, 15) }));
    // Percent-encoded `signed%55p` → `signedUp`.
    let def = c
        .request("textDocument/definition", at(&root, 20, 30))
        .expect("definition");
    assert_eq!(def, json!({ "uri": root, "range": range(8, 6, 14) }));
    // And back from the referenced file into the root.
    let def = c
        .request("textDocument/definition", at(&msgs, 2, 14))
        .expect("definition");
    assert_eq!(def, json!({ "uri": root, "range": range(22, 4, 8) }));
    // Not on a `$ref`: nothing.
    let def = c
        .request("textDocument/definition", at(&root, 2, 4))
        .expect("definition");
    assert_eq!(def, Value::Null);

    // References of `signedUp` (from its key): the plain and the percent-encoded `$ref`.
    let refs = c
        .request(
            "textDocument/references",
            json!({ "textDocument": { "uri": root }, "position": { "line": 8, "character": 8 }, "context": { "includeDeclaration": false } }),
        )
        .expect("references");
    let mut got: Vec<Value> = refs.as_array().cloned().unwrap_or_default();
    got.sort_by_key(|l| l["range"]["start"]["line"].as_u64());
    assert_eq!(
        got,
        vec![
            json!({ "uri": root, "range": range(16, 14, 59) }),
            json!({ "uri": root, "range": range(20, 12, 59) }),
        ]
    );
    // References of `UserSignedUp` in the referenced file, declaration included.
    let refs = c
        .request(
            "textDocument/references",
            json!({ "textDocument": { "uri": msgs }, "position": { "line": 0, "character": 3 }, "context": { "includeDeclaration": true } }),
        )
        .expect("references");
    assert_eq!(
        refs,
        json!([
            { "uri": msgs, "range": range(0, 0, 12) },
            { "uri": root, "range": range(9, 14, 43) },
        ])
    );
    // References from a `$ref` (to the schema `User`): the one in the other file.
    let refs = c
        .request(
            "textDocument/references",
            json!({ "textDocument": { "uri": msgs }, "position": { "line": 2, "character": 20 }, "context": { "includeDeclaration": false } }),
        )
        .expect("references");
    assert_eq!(refs, json!([{ "uri": msgs, "range": range(2, 10, 46) }]));
    assert!(c.shutdown().success());
}

/// Names of a symbol tree: `name[children]`.
fn names(symbols: &Value) -> String {
    symbols
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let children = names(&s["children"]);
                    let name = s["name"].as_str().unwrap_or_default();
                    if children.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{name}[{children}]")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn contains_range(outer: &Value, inner: &Value) -> bool {
    let p = |v: &Value| (v["line"].as_u64(), v["character"].as_u64());
    p(&outer["start"]) <= p(&inner["start"]) && p(&inner["end"]) <= p(&outer["end"])
}

fn check_ranges(symbols: &Value) {
    for s in symbols.as_array().into_iter().flatten() {
        assert!(
            contains_range(&s["range"], &s["selectionRange"]),
            "selectionRange inside range: {s}"
        );
        check_ranges(&s["children"]);
    }
}

#[test]
fn document_symbols_of_2_x_and_3_x_documents() {
    let dir = workspace();
    let root = write(dir.path(), "root.yaml", ROOT);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES);
    let accounts = write(dir.path(), "accounts.yaml", BAD_2_6);
    let mut c = start(dir.path());
    c.open(&root, ROOT, 1);
    c.open(&accounts, BAD_2_6, 1);
    let s = c
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": root } }),
        )
        .expect("symbols");
    assert_eq!(
        names(&s),
        "channels[user/signedup[signedUp]] operations[onSignup] components[messages[again] schemas[User Name]]"
    );
    check_ranges(&s);
    let channel = &s[0]["children"][0];
    assert_eq!(channel["detail"], "user/signedup");
    assert_eq!(channel["selectionRange"], range(5, 2, 15));
    assert_eq!(s[1]["children"][0]["detail"], "receive user/signedup");
    let s = c
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": accounts } }),
        )
        .expect("symbols");
    assert_eq!(
        names(&s),
        "servers[prod] channels[user/signedup[subscribe]]"
    );
    assert_eq!(s[0]["children"][0]["detail"], "kafkaa broker.example.com");
    check_ranges(&s);
    // A referenced file (not open, no `asyncapi`): its top-level entries.
    let s = c
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": msgs } }),
        )
        .expect("symbols");
    assert_eq!(names(&s), "UserSignedUp[payload]");
    check_ranges(&s);
    assert!(c.shutdown().success());
}

#[test]
fn rename_a_component_across_two_files() {
    let dir = workspace();
    let root = write(dir.path(), "root.yaml", ROOT);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES);
    let mut c = start(dir.path());
    c.open(&root, ROOT, 1);
    c.diagnostics_for_version(&root, 1);

    // prepareRename on the schema key `User` (line 23).
    let p = c
        .request("textDocument/prepareRename", at(&root, 22, 5))
        .expect("renamable");
    assert_eq!(
        p,
        json!({ "range": range(22, 4, 8), "placeholder": "User" })
    );
    // Not renamable: `info.title`, the `asyncapi` key.
    for (line, ch) in [(2, 4), (0, 2)] {
        let e = c
            .request("textDocument/prepareRename", at(&root, line, ch))
            .expect_err("refused");
        assert!(
            e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("component"),
            "{e}"
        );
    }

    let edit = c
        .request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": root }, "position": { "line": 22, "character": 5 }, "newName": "Person" }),
        )
        .expect("rename");
    let sorted = |v: &Value| {
        let mut a = v.as_array().cloned().unwrap_or_default();
        a.sort_by_key(|e| e["range"]["start"]["line"].as_u64());
        a
    };
    assert_eq!(
        sorted(&edit["changes"][&root]),
        vec![
            json!({ "range": range(22, 4, 8), "newText": "Person" }),
            json!({ "range": range(28, 12, 55), "newText": "'#/components/schemas/Person/properties/name'" }),
        ]
    );
    assert_eq!(
        sorted(&edit["changes"][&msgs]),
        vec![
            json!({ "range": range(2, 10, 46), "newText": "'root.yaml#/components/schemas/Person'" })
        ]
    );
    assert_eq!(edit["changes"].as_object().map(|m| m.len()), Some(2));

    // Renaming from a `$ref` works too, and a bad or taken name is refused.
    let e = c
        .request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": msgs }, "position": { "line": 2, "character": 20 }, "newName": "Na me" }),
        )
        .expect_err("invalid name");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a valid")
    );
    let e = c
        .request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": msgs }, "position": { "line": 2, "character": 20 }, "newName": "Name" }),
        )
        .expect_err("taken");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already exists")
    );
    assert!(c.shutdown().success());
}

#[test]
fn formatting_keeps_key_order_and_refuses_unparsable_text() {
    let dir = workspace();
    let text = "asyncapi: 3.0.0\nchannels: {b: {address: b}, a: {address: a}}\ninfo: {version: 1.0.0, title: T}\n";
    let u = write(dir.path(), "f.yaml", text);
    let expected = Command::new(env!("CARGO_BIN_EXE_asyncforge"))
        .args(["format", "f.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("format");
    let expected = String::from_utf8(expected.stdout).expect("utf8");
    let mut c = start(dir.path());
    c.open(&u, text, 1);
    let opts = json!({ "tabSize": 2, "insertSpaces": true });
    let edits = c
        .request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": u }, "options": opts }),
        )
        .expect("formatting");
    assert_eq!(
        edits,
        json!([{ "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 3, "character": 0 } }, "newText": expected }])
    );
    let formatted = edits[0]["newText"].as_str().unwrap_or_default();
    let pos = |k: &str| formatted.find(k).unwrap_or(usize::MAX);
    assert!(
        pos("channels:") < pos("info:")
            && pos("  b:") < pos("  a:")
            && pos("version:") < pos("title:")
    );
    // Already formatted: no edits.
    c.replace(&u, 2, formatted);
    let edits = c
        .request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": u }, "options": opts }),
        )
        .expect("formatting");
    assert_eq!(edits, json!([]));
    // Comments would be lost: refused with a reason.
    c.replace(&u, 3, &format!("# keep me\n{formatted}"));
    let e = c
        .request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": u }, "options": opts }),
        )
        .expect_err("refused");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("comments"),
        "{e}"
    );
    // Unparsable: no edits.
    c.replace(&u, 4, "asyncapi: 3.0.0\ninfo: {title: [\n");
    let edits = c
        .request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": u }, "options": opts }),
        )
        .expect("formatting");
    assert_eq!(edits, json!([]));
    assert!(c.shutdown().success());
}

#[test]
fn a_burst_of_edits_is_checked_once_the_queue_is_drained() {
    // Big enough that one check takes far longer than sending every edit.
    let mut text =
        String::from("asyncapi: 3.0.0\ninfo:\n  title: Burst\n  version: 1.0.0\nchannels:\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "  ch{i}:\n    address: 'rooms/{i}'\n    messages:\n      m{i}:\n        payload:\n          type: object\n"
        ));
    }
    let dir = workspace();
    let u = write(dir.path(), "burst.yaml", &text);
    let mut c = start(dir.path());
    c.open(&u, &text, 1);
    c.diagnostics_for_version(&u, 1);
    let edits = 30;
    for n in 0..edits {
        // Types `Burst` → `Burst` + one more `!` per edit at the end of the title.
        c.edit(&u, n + 2, [2, 14 + n as u32, 2, 14 + n as u32], "!");
    }
    let last = edits + 1;
    let mut versions = Vec::new();
    c.diagnostics_where(&u, |p| {
        versions.push(p["version"].as_i64().unwrap_or(0));
        p["version"] == json!(last)
    });
    assert!(
        versions.len() < edits as usize / 2,
        "{edits} edits were checked {} times: {versions:?}",
        versions.len()
    );
    // Still answering, on the whole document.
    let symbols = c
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": u } }),
        )
        .expect("symbols");
    assert_eq!(symbols[0]["children"].as_array().map(Vec::len), Some(3000));
    assert!(c.shutdown().success());
}

#[test]
fn a_file_shared_by_two_roots_shows_each_problem_once_until_no_root_uses_it() {
    let dir = workspace();
    let first = write(dir.path(), "root.yaml", ROOT);
    let second_text = ROOT.replace("title: Signups", "title: Signups again");
    let second = write(dir.path(), "second.yaml", &second_text);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES_BROKEN);
    let mut c = start(dir.path());
    c.open(&first, ROOT, 1);
    assert_eq!(codes(&c.next_diagnostics(&msgs)), ["struct-enum"]);
    c.open(&second, &second_text, 1);
    c.diagnostics_for_version(&second, 1);
    // Both roots reach the broken schema: still one diagnostic.
    c.open(&msgs, MESSAGES_BROKEN, 1);
    assert_eq!(codes(&c.diagnostics_for_version(&msgs, 1)), ["struct-enum"]);
    // Closed unchanged: its diagnostics stand (nothing new to publish).
    c.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": msgs } }),
    );
    // One root closed: the other still uses the file.
    c.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": first } }),
    );
    let cleared = c.diagnostics_where(&first, |p| p["version"].is_null());
    assert_eq!(
        cleared["diagnostics"],
        json!([]),
        "a closed root is cleared"
    );
    c.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": second } }),
    )
    .expect("symbols");
    assert!(
        !c.pending_for(&msgs),
        "nothing changed for messages.yaml while a root still uses it"
    );
    // The last root closed: the file's diagnostics are cleared.
    c.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": second } }),
    );
    assert!(c.next_diagnostics(&msgs).is_empty());
    assert!(c.shutdown().success());
}

/// Every document of `../shared/corpus` (skipped when it is absent): opened, outlined, asked
/// for fixes of its diagnostics, for definitions, references, hovers and completions all over,
/// formatted and closed, in one server, which must answer every request.
#[test]
fn every_corpus_document_is_served() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if !corpus.join("expected.jsonl").exists() {
        eprintln!("../shared/corpus is absent: skipped");
        return;
    }
    let mut files = Vec::new();
    for sub in ["examples", "realworld"] {
        let mut stack = vec![corpus.join(sub)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| ["yaml", "yml", "json"].contains(&x))
                {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    let mut c = start(&corpus);
    for (n, path) in files.iter().enumerate() {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let u = uri(path);
        c.open(&u, &text, 1);
        let diags = c.diagnostics_for_version(&u, 1);
        let td = json!({ "uri": u });
        let actions = c
            .request(
                "textDocument/codeAction",
                json!({
                    "textDocument": td,
                    "range": range(0, 0, 0),
                    "context": { "diagnostics": diags }
                }),
            )
            .unwrap_or_else(|e| panic!("code actions in {}: {e}", path.display()));
        assert!(actions.is_array(), "{actions}");
        c.request("textDocument/documentSymbol", json!({ "textDocument": td }))
            .unwrap_or_else(|e| panic!("symbols of {}: {e}", path.display()));
        let lines = text.lines().count() as u32;
        for line in (0..lines).step_by((lines as usize / 8).max(1)) {
            for character in [2, 10] {
                let at = json!({ "textDocument": td, "position": { "line": line, "character": character } });
                c.request("textDocument/definition", at.clone())
                    .unwrap_or_else(|e| panic!("definition in {}: {e}", path.display()));
                c.request(
                    "textDocument/references",
                    json!({ "textDocument": td, "position": at["position"], "context": { "includeDeclaration": true } }),
                )
                .unwrap_or_else(|e| panic!("references in {}: {e}", path.display()));
                c.request("textDocument/hover", at.clone())
                    .unwrap_or_else(|e| panic!("hover in {}: {e}", path.display()));
                c.request("textDocument/completion", at.clone())
                    .unwrap_or_else(|e| panic!("completion in {}: {e}", path.display()));
            }
        }
        let _ = c.request(
            "textDocument/formatting",
            json!({ "textDocument": td, "options": { "tabSize": 2, "insertSpaces": true } }),
        );
        c.notify("textDocument/didClose", json!({ "textDocument": td }));
        if n % 50 == 0 {
            eprintln!("{n}/{} served", files.len());
        }
    }
    assert!(c.shutdown().success());
}

// ---------------------------------------------------------------------------------------------
// Hover, completion and quick fixes.

/// The markdown of a hover at (`line`, `character`), `None` when the server shows nothing.
fn hover_at(c: &mut Client, u: &str, line: u32, character: u32) -> Option<(String, Value)> {
    let h = c
        .request("textDocument/hover", at(u, line, character))
        .expect("hover answers");
    if h.is_null() {
        return None;
    }
    assert_eq!(h["contents"]["kind"], "markdown", "{h}");
    let md = h["contents"]["value"]
        .as_str()
        .expect("markdown")
        .to_owned();
    Some((md, h["range"].clone()))
}

/// The items of a completion at (`line`, `character`).
fn complete_at(c: &mut Client, u: &str, line: u32, character: u32) -> Vec<Value> {
    let list = c
        .request("textDocument/completion", at(u, line, character))
        .expect("completion answers");
    assert_eq!(list["isIncomplete"], false, "{list}");
    list["items"].as_array().cloned().expect("a list of items")
}

fn item_labels(items: &[Value]) -> Vec<&str> {
    items.iter().filter_map(|i| i["label"].as_str()).collect()
}

fn item<'a>(items: &'a [Value], label: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["label"] == label)
        .unwrap_or_else(|| panic!("`{label}` among {:?}", item_labels(items)))
}

/// Byte offset of an LSP position (UTF-16 columns) in `text`.
fn byte_offset(text: &str, p: &Value) -> usize {
    let line = p["line"].as_u64().expect("line") as usize;
    let character = p["character"].as_u64().expect("character") as usize;
    let start: usize = text.split('\n').take(line).map(|l| l.len() + 1).sum();
    let mut units = 0;
    for (i, ch) in text[start..].char_indices() {
        if units >= character || ch == '\n' {
            return start + i;
        }
        units += ch.len_utf16();
    }
    text.len()
}

/// `text` with non-overlapping LSP text edits applied, as an editor applies them.
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                byte_offset(text, &e["range"]["start"]),
                byte_offset(text, &e["range"]["end"]),
                e["newText"].as_str().expect("newText"),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_owned();
    for (from, to, new) in spans {
        out.replace_range(from..to, new);
    }
    out
}

const HOVER_3_0: &str = "\
asyncapi: 3.0.0
info:
  title: Signups
  version: 1.0.0
channels:
  users:
    address: users
    messages:
      created:
        $ref: '#/components/messages/UserCreated'
operations:
  onCreated:
    action: receive
    channel:
      $ref: '#/channels/users'
components:
  messages:
    UserCreated:
      summary: A user signed up.
      payload:
        type: object
        properties:
          userId:
            type: string
          email:
            type: string
";

#[test]
fn hover_on_refs_and_keys_in_one_and_two_files() {
    let dir = workspace();
    let u = write(dir.path(), "hover.yaml", HOVER_3_0);
    let mut c = start(dir.path());
    c.open(&u, HOVER_3_0, 1);
    c.diagnostics_for_version(&u, 1);

    // On a `$ref` to a message: its name, summary and payload properties.
    let (md, shown) = hover_at(&mut c, &u, 9, 30).expect("hover on the $ref");
    assert!(md.contains("message `UserCreated`"), "{md}");
    assert!(md.contains("A user signed up."), "{md}");
    for property in ["userId", "email"] {
        assert!(md.contains(property), "{property} in {md}");
    }
    assert_eq!(shown, range(9, 14, 49));

    // On the 3.x key `action`: what it means.
    let (md, shown) = hover_at(&mut c, &u, 12, 6).expect("hover on action");
    assert!(md.contains("`action`"), "{md}");
    assert!(md.contains("Operation Object"), "{md}");
    assert!(
        md.contains("the application sends messages to the channel"),
        "{md}"
    );
    assert_eq!(shown, range(12, 4, 10));
    // On a blank line: nothing.
    assert!(hover_at(&mut c, &u, 26, 0).is_none());

    // A document in two files: a `$ref` into the other file, and a key inside it.
    let root = write(dir.path(), "root.yaml", ROOT);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES);
    c.open(&root, ROOT, 1);
    c.diagnostics_for_version(&root, 1);
    let (md, _) = hover_at(&mut c, &root, 9, 20).expect("hover on a $ref into messages.yaml");
    assert!(md.contains("message `UserSignedUp`"), "{md}");
    assert!(md.contains("messages.yaml"), "{md}");
    // Its payload is a `$ref` back to the root's `User` schema: its property is listed.
    assert!(md.contains("name"), "{md}");
    c.open(&msgs, MESSAGES, 1);
    c.diagnostics_for_version(&msgs, 1);
    let (md, _) = hover_at(&mut c, &msgs, 1, 4).expect("hover on payload in messages.yaml");
    assert!(md.contains("`payload`"), "{md}");
    assert!(md.contains("Message Object"), "{md}");
    assert!(c.shutdown().success());
}

/// LSP completion item kinds.
const PROPERTY: u64 = 10;
const VALUE: u64 = 12;
const REFERENCE: u64 = 18;

const COMPLETE_3_0: &str = "\
asyncapi: 3.0.0
info:
  title: Signups
  version: 1.0.0
channels:
  users:
    address: users
    
operations:
  onCreated:
    action: 
";

const COMPLETE_2_6: &str = "\
asyncapi: 2.6.0
info:
  title: Signups
  version: 1.0.0
channels:
  users:
    description: Users.
    
";

#[test]
fn completion_of_keys_and_values_follows_the_version() {
    let dir = workspace();
    let v3 = write(dir.path(), "v3.yaml", COMPLETE_3_0);
    let v2 = write(dir.path(), "v2.yaml", COMPLETE_2_6);
    let mut c = start(dir.path());
    c.open(&v3, COMPLETE_3_0, 1);
    c.open(&v2, COMPLETE_2_6, 1);
    c.diagnostics_for_version(&v3, 1);
    c.diagnostics_for_version(&v2, 1);

    // The keys of a 3.0 channel, without the one already written.
    let items = complete_at(&mut c, &v3, 7, 4);
    let labels = item_labels(&items);
    for key in ["messages", "title", "parameters", "servers", "bindings"] {
        assert!(labels.contains(&key), "{key} in {labels:?}");
    }
    for absent in ["address", "subscribe", "publish"] {
        assert!(!labels.contains(&absent), "{absent} not in {labels:?}");
    }
    let messages = item(&items, "messages");
    assert_eq!(messages["kind"], PROPERTY);
    assert_eq!(messages["textEdit"]["newText"], "messages: ");
    assert_eq!(messages["textEdit"]["range"], range(7, 4, 4));
    assert!(
        messages["documentation"]["kind"] == "markdown"
            && messages["documentation"]["value"].is_string(),
        "{messages}"
    );

    // The values of `action`.
    let items = complete_at(&mut c, &v3, 10, 12);
    assert_eq!(item_labels(&items), ["send", "receive"]);
    for i in &items {
        assert_eq!(i["kind"], VALUE);
        assert_eq!(i["textEdit"]["range"], range(10, 12, 12));
    }
    assert!(
        item(&items, "send")["documentation"]["value"]
            .as_str()
            .is_some_and(|d| d.contains("sends")),
        "{items:?}"
    );

    // A 2.6 channel has other keys.
    let items = complete_at(&mut c, &v2, 7, 4);
    let labels = item_labels(&items);
    for key in ["subscribe", "publish", "parameters", "bindings"] {
        assert!(labels.contains(&key), "{key} in {labels:?}");
    }
    for absent in ["address", "messages", "title", "description"] {
        assert!(!labels.contains(&absent), "{absent} not in {labels:?}");
    }
    assert!(c.shutdown().success());
}

const REFS_3_0: &str = "\
asyncapi: 3.0.0
info:
  title: Signups
  version: 1.0.0
channels:
  users:
    address: users
    messages:
      created:
components:
  messages:
    UserCreated:
      payload: {type: object}
    UserDeleted:
      payload: {type: object}
";

#[test]
fn completion_of_ref_targets_while_the_document_does_not_parse() {
    let dir = workspace();
    let u = write(dir.path(), "refs.yaml", REFS_3_0);
    let mut c = start(dir.path());
    c.open(&u, REFS_3_0, 1);
    c.diagnostics_for_version(&u, 1);
    // Half a `$ref` typed on a new line: an unterminated quote, the text does not parse.
    let typed = "        $ref: '#/components/messages/";
    c.edit(&u, 2, [9, 0, 9, 0], &format!("{typed}\n"));
    let d = c.diagnostics_for_version(&u, 2);
    assert!(
        d.iter().any(|d| d["severity"] == 1),
        "the half-typed text is an error: {d:?}"
    );
    let end = typed.len() as u32;
    let items = complete_at(&mut c, &u, 9, end);
    assert_eq!(
        item_labels(&items),
        [
            "#/components/messages/UserCreated",
            "#/components/messages/UserDeleted"
        ]
    );
    let created = item(&items, "#/components/messages/UserCreated");
    assert_eq!(created["kind"], REFERENCE);
    assert_eq!(created["detail"], "messages");
    // The edit replaces everything typed from the opening quote, `#` and `/` included.
    assert_eq!(created["textEdit"]["range"], range(9, 14, end));
    assert_eq!(
        created["textEdit"]["newText"],
        "'#/components/messages/UserCreated'"
    );
    // The editor filters on the range's text, which starts with the quote.
    assert_eq!(created["filterText"], "'#/components/messages/UserCreated'");

    // Accepted: the document parses and the `$ref` resolves.
    let text = REFS_3_0.replacen("      created:\n", &format!("      created:\n{typed}\n"), 1);
    let completed = apply_edits(&text, &[created["textEdit"].clone()]);
    assert!(completed.contains("        $ref: '#/components/messages/UserCreated'\ncomponents:"));
    c.replace(&u, 3, &completed);
    let d = c.diagnostics_for_version(&u, 3);
    assert!(codes(&d).is_empty(), "{d:?}");

    // Typed without quotes (YAML reads `#…` as a comment): the typed text is replaced too.
    c.edit(&u, 4, [9, 14, 9, 49], "#/comp");
    c.diagnostics_for_version(&u, 4);
    let items = complete_at(&mut c, &u, 9, 20);
    let deleted = item(&items, "#/components/messages/UserDeleted");
    assert_eq!(deleted["textEdit"]["range"], range(9, 14, 20));
    assert!(deleted["filterText"].is_null(), "{deleted}");
    assert!(c.shutdown().success());
}

/// The code actions offered for one published diagnostic.
fn quick_fixes(c: &mut Client, u: &str, diagnostic: &Value) -> Vec<Value> {
    let r = c
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": u },
                "range": diagnostic["range"],
                "context": { "diagnostics": [diagnostic] }
            }),
        )
        .expect("codeAction answers");
    r.as_array().cloned().unwrap_or_default()
}

/// Opens `text`, takes the diagnostic `code`, asks for its fixes, checks that the one titled
/// with `title_part` is a quick fix for it, applies it as the editor does and sends the result.
/// Returns the new text and its diagnostics.
fn apply_fix(code: &str, text: &str, title_part: &str) -> (String, Vec<Value>) {
    let dir = workspace();
    let u = write(dir.path(), "fix.yaml", text);
    let mut c = start(dir.path());
    c.open(&u, text, 1);
    let diags = c.diagnostics_for_version(&u, 1);
    let diagnostic = diags
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("{code} among {diags:?}"))
        .clone();
    let actions = quick_fixes(&mut c, &u, &diagnostic);
    let action = actions
        .iter()
        .find(|a| a["title"].as_str().is_some_and(|t| t.contains(title_part)))
        .unwrap_or_else(|| panic!("a fix titled `…{title_part}…` among {actions:?}"));
    assert_eq!(action["kind"], "quickfix");
    assert_eq!(action["diagnostics"], json!([diagnostic]));
    let changes = action["edit"]["changes"]
        .as_object()
        .expect("changes by URI");
    assert_eq!(changes.keys().collect::<Vec<_>>(), [&u]);
    let fixed = apply_edits(text, changes[&u].as_array().expect("edits"));
    c.replace(&u, 2, &fixed);
    let after = c.diagnostics_for_version(&u, 2);
    assert!(c.shutdown().success());
    (fixed, after)
}

fn has_code(diags: &[Value], code: &str) -> bool {
    diags.iter().any(|d| d["code"] == code)
}

#[test]
fn quick_fix_declares_an_undeclared_channel_parameter() {
    let text = "\
asyncapi: 3.0.0
info:
  title: Users
  version: 1.0.0
channels:
  user:
    address: users/{userId}
    messages:
      updated:
        payload: {type: object}
";
    let (fixed, after) = apply_fix("asyncapi3-channel-parameters", text, "userId");
    assert!(fixed.contains("parameters:"), "{fixed}");
    assert!(fixed.contains("userId"), "{fixed}");
    assert!(
        !has_code(&after, "asyncapi3-channel-parameters"),
        "{after:?}"
    );
    assert!(codes(&after).is_empty(), "no new error: {after:?}\n{fixed}");
}

#[test]
fn quick_fix_adds_a_missing_operation_id() {
    let text = "\
asyncapi: 2.6.0
info:
  title: Users
  version: 1.0.0
channels:
  users:
    subscribe:
      message:
        payload: {type: string}
";
    let (fixed, after) = apply_fix("asyncapi2-operation-operationId", text, "operationId");
    assert!(fixed.contains("operationId:"), "{fixed}");
    assert!(
        !has_code(&after, "asyncapi2-operation-operationId"),
        "{after:?}"
    );
    assert!(codes(&after).is_empty(), "no new error: {after:?}\n{fixed}");
}

#[test]
fn quick_fix_corrects_a_misspelt_ref_and_ignores_foreign_diagnostics() {
    let text = "\
asyncapi: 3.0.0
info:
  title: Users
  version: 1.0.0
channels:
  users:
    address: users
    messages:
      created:
        $ref: '#/components/messages/UserCreatd'
components:
  messages:
    UserCreated:
      payload: {type: object}
";
    let (fixed, after) = apply_fix("ref-unresolved", text, "UserCreated");
    assert!(
        fixed.contains("$ref: '#/components/messages/UserCreated'\n"),
        "{fixed}"
    );
    assert!(codes(&after).is_empty(), "{after:?}");

    // A diagnostic the server did not publish (another tool's, or a stale range) gets no fix,
    // and neither does a request for other kinds of actions.
    let dir = workspace();
    let u = write(dir.path(), "fix.yaml", text);
    let mut c = start(dir.path());
    c.open(&u, text, 1);
    let diags = c.diagnostics_for_version(&u, 1);
    let published = diags
        .iter()
        .find(|d| d["code"] == "ref-unresolved")
        .expect("ref-unresolved")
        .clone();
    let mut moved = published.clone();
    moved["range"] = range(2, 2, 7);
    assert!(quick_fixes(&mut c, &u, &moved).is_empty());
    let mut foreign = published.clone();
    foreign["code"] = json!("yaml-schema");
    assert!(quick_fixes(&mut c, &u, &foreign).is_empty());
    assert_eq!(quick_fixes(&mut c, &u, &published).len(), 1);
    let r = c
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": u },
                "range": published["range"],
                "context": { "diagnostics": [published], "only": ["refactor"] }
            }),
        )
        .expect("codeAction answers");
    assert!(r.as_array().is_none_or(|a| a.is_empty()), "{r}");
    assert!(c.shutdown().success());
}

#[test]
fn quick_fix_in_a_referenced_file_edits_that_file() {
    let dir = workspace();
    let root = write(dir.path(), "root.yaml", ROOT);
    let msgs = write(dir.path(), "messages.yaml", MESSAGES_BROKEN);
    let mut c = start(dir.path());
    c.open(&root, ROOT, 1);
    c.open(&msgs, MESSAGES_BROKEN, 1);
    let diags = c.diagnostics_for_version(&msgs, 1);
    let enum_error = diags
        .iter()
        .find(|d| d["code"] == "struct-enum")
        .expect("struct-enum in messages.yaml")
        .clone();
    let actions = quick_fixes(&mut c, &msgs, &enum_error);
    let action = actions
        .iter()
        .find(|a| a["title"].as_str().is_some_and(|t| t.contains("string")))
        .unwrap_or_else(|| panic!("a fix to `string` among {actions:?}"));
    let changes = action["edit"]["changes"].as_object().expect("changes");
    assert_eq!(changes.keys().collect::<Vec<_>>(), [&msgs]);
    let fixed = apply_edits(MESSAGES_BROKEN, changes[&msgs].as_array().expect("edits"));
    assert_eq!(fixed, MESSAGES_BROKEN.replace("strng", "string"));
    c.replace(&msgs, 2, &fixed);
    assert!(codes(&c.diagnostics_for_version(&msgs, 2)).is_empty());
    assert!(c.shutdown().success());
}

const REFS_JSON: &str = r##"{
  "asyncapi": "3.0.0",
  "info": { "title": "Signups", "version": "1.0.0" },
  "channels": {
    "users": {
      "address": "users",
      "messages": {
        "created": {}
      }
    }
  },
  "components": {
    "messages": {
      "UserCreated": { "payload": { "type": "object" } }
    }
  }
}
"##;

#[test]
fn completion_of_ref_targets_in_half_typed_json() {
    let dir = workspace();
    let u = write(dir.path(), "refs.json", REFS_JSON);
    let mut c = start(dir.path());
    c.open(&u, REFS_JSON, 1);
    c.diagnostics_for_version(&u, 1);
    // `"created": {}` becomes `"created": { "$ref": "#/components/` with nothing closed.
    let typed = "\"created\": { \"$ref\": \"#/components/";
    c.edit(&u, 2, [7, 8, 7, 21], typed);
    let d = c.diagnostics_for_version(&u, 2);
    assert!(d.iter().any(|d| d["severity"] == 1), "{d:?}");
    let end = 8 + typed.len() as u32;
    let items = complete_at(&mut c, &u, 7, end);
    assert_eq!(item_labels(&items), ["#/components/messages/UserCreated"]);
    let created = &items[0];
    let start = 8 + typed.find("\"#").expect("quote") as u32;
    assert_eq!(created["textEdit"]["range"], range(7, start, end));
    assert_eq!(
        created["textEdit"]["newText"],
        "\"#/components/messages/UserCreated\""
    );
    assert!(c.shutdown().success());
}
