//! The build-script API writes the module and reports every input file.

use asyncforge::build::Builder;

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
    let out_dir = dir.path().join("out");
    let out = Builder::new(&spec)
        .out_dir(&out_dir)
        .emit_cargo_lines(false)
        .generate()
        .expect("generate");
    assert_eq!(out.written, vec![out_dir.join("asyncforge.rs")]);
    assert_eq!(out.inputs.len(), 2, "{:?}", out.inputs);
    assert!(out.inputs.iter().any(|p| p.ends_with("messages.yaml")));
    let text = std::fs::read_to_string(&out.written[0]).expect("read");
    assert!(text.starts_with("// @generated"));
    assert!(text.contains("pub mod types") && text.contains("pub mod messages"));
    assert!(text.contains("pub struct Ping"), "{text}");

    // An invalid document is refused with its diagnostics.
    std::fs::write(&spec, "asyncapi: 3.0.0\ninfo: {title: Build}\n").expect("write");
    let err = Builder::new(&spec)
        .out_dir(&out_dir)
        .emit_cargo_lines(false)
        .generate()
        .expect_err("invalid");
    assert!(
        err.to_string().contains("not a valid AsyncAPI document"),
        "{err}"
    );
}

/// A document without servers gets types and messages only, unless the builder is told which
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
        let mut b = Builder::new(&spec)
            .out_dir(dir.path())
            .file_name(name)
            .emit_cargo_lines(false);
        if let Some(p) = protocol {
            b = b.default_protocol(p);
        }
        let out = b.generate().expect("generate");
        std::fs::read_to_string(&out.written[0]).expect("read")
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
