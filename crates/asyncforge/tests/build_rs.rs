//! The generator's module output, as build scripts use it: it writes the module and reports
//! every input file.

use asyncforge::{Generator, Settings};

#[test]
fn builder_writes_module_and_lists_every_referenced_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("api.yaml");
    std::fs::write(
        &spec,
        "asyncapi: 3.0.0\ninfo: {title: Build, version: '1.0', description: d}\nchannels:\n  a:\n    address: a\n    messages:\n      ping:\n        $ref: 'messages.yaml#/ping'\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("messages.yaml"), "ping:\n  payload:\n    type: object\n    properties:\n      at: {type: string, format: date-time}\n").expect("write");
    let module = dir.path().join("out/asyncforge.rs");
    let out = Generator::new(Settings::module(&module))
        .generate(&spec)
        .expect("generate");
    assert_eq!(out.files, vec![module.clone()]);
    assert_eq!(out.changed, out.files);
    let inputs = out.inputs();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert!(inputs.iter().any(|p| p.ends_with("messages.yaml")));
    let text = std::fs::read_to_string(&module).expect("read");
    assert!(text.starts_with("// @generated"));
    assert!(text.contains("pub mod types") && text.contains("pub mod messages"));
    assert!(text.contains("pub struct Ping"), "{text}");
    // Unchanged, it is not written again (cargo would rebuild what includes it).
    let again = Generator::new(Settings::module(&module))
        .generate(&spec)
        .expect("generate");
    assert!(again.changed.is_empty(), "{:?}", again.changed);

    // An invalid document is refused with its diagnostics.
    std::fs::write(&spec, "asyncapi: 3.0.0\ninfo: {title: Build}\n").expect("write");
    let err = Generator::new(Settings::module(&module))
        .generate(&spec)
        .expect_err("invalid");
    assert!(
        err.to_string().contains("not a valid AsyncAPI document"),
        "{err}"
    );
}

/// A document without servers gets types and messages only, unless the settings say which
/// protocol serves its channels.
#[test]
fn default_protocol_serves_a_document_without_servers() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("api.yaml");
    std::fs::write(
        &spec,
        "asyncapi: 3.0.0\ninfo: {title: Bare, version: '1.0', description: d}\nchannels:\n  feed:\n    address: feed\n    messages:\n      tick:\n        payload: {type: object, properties: {n: {type: integer}}}\noperations:\n  onTick:\n    action: send\n    channel: {$ref: '#/channels/feed'}\n",
    )
    .expect("write");
    let generate = |protocol: Option<&str>, name: &str| {
        let mut settings = Settings::module(dir.path().join(name));
        if let Some(p) = protocol {
            settings = settings.default_protocol(p);
        }
        let out = Generator::new(settings).generate(&spec).expect("generate");
        std::fs::read_to_string(&out.files[0]).expect("read")
    };
    let bare = generate(None, "bare.rs");
    assert!(bare.contains("pub struct Tick"), "{bare}");
    assert!(!bare.contains("pub mod server"), "{bare}");
    let ws = generate(Some("ws"), "ws.rs");
    assert!(ws.contains("pub mod server") && ws.contains("pub mod client"));
    assert!(ws.contains("WsClient::connect"), "a WebSocket client: {ws}");
    let sse = generate(Some("sse"), "sse.rs");
    assert!(sse.contains("SseClient"), "an SSE client: {sse}");
}

/// Outside a build script, `build_script()` settings have nowhere to go.
#[test]
fn build_script_settings_need_out_dir() {
    if std::env::var_os("OUT_DIR").is_some() {
        return;
    }
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs/type-zoo.yaml");
    let err = Generator::new(Settings::build_script().cargo_lines(false))
        .generate(&spec)
        .expect_err("no OUT_DIR");
    assert!(matches!(err, asyncforge::GenerateError::NoOutDir), "{err}");
}
