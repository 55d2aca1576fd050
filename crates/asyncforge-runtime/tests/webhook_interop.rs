//! Interop with the Standard Webhooks reference implementation (Python `standardwebhooks`,
//! driven by `tests/interop/webhooks/standard_webhooks.py`): it verifies what our sender puts
//! on the wire, and our receiver verifies what it signs. Skipped, with a notice, when python3
//! or the package is missing (`.ci/run` installs it).

mod http_common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use asyncforge_runtime::http::outbox::MemoryOutbox;
use asyncforge_runtime::http::receiver::{Receiver, ReceiverConfig, Webhook};
use asyncforge_runtime::http::sender::{Sender, SenderConfig, Subscriber};
use asyncforge_runtime::http::signature::{Scheme, Signer, generate_secret, unix_now};
use asyncforge_runtime::http::ssrf::AddressPolicy;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use http_common::{OrderPlaced, serve};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/webhooks/standard_webhooks.py"
);

/// Runs the script; `None` when python3 or the library is missing.
fn python(command: &str, input: serde_json::Value) -> Option<(i32, String)> {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()?
        .write_all(input.to_string().as_bytes())
        .ok()?;
    let out = child.wait_with_output().ok()?;
    let code = out.status.code().unwrap_or(-1);
    if code == 3 {
        return None;
    }
    Some((code, String::from_utf8_lossy(&out.stdout).trim().to_owned()))
}

fn available() -> bool {
    let ok = python("sign", serde_json::json!({
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id": "x", "timestamp": 1, "body": ""
    }))
    .is_some_and(|(code, _)| code == 0);
    if !ok {
        asyncforge_testkit::skip(
            "python3 with the `standardwebhooks` package",
            "python3 -m pip install standardwebhooks",
        );
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_library_verifies_our_signatures() {
    if !available() {
        return;
    }
    // Capture exactly what the sender puts on the wire.
    let captured: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let c = captured.clone();
    let app = Router::new().route(
        "/capture",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let c = c.clone();
            async move {
                c.lock().expect("lock").push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let base = serve(app).await;
    let sender = Sender::new(
        SenderConfig {
            addresses: AddressPolicy::allow_loopback(),
            ..SenderConfig::default()
        },
        Arc::new(MemoryOutbox::default()),
    )
    .expect("sender");
    let (old, new) = (generate_secret(), generate_secret());
    // During a rotation we sign with both; a receiver knowing either accepts.
    let sub = Subscriber {
        id: "py".into(),
        url: format!("{base}/capture"),
        secrets: vec![new.clone(), old.clone()],
        scheme: Scheme::StandardWebhooks,
    };
    sender
        .deliver(&sub, &OrderPlaced::new(42))
        .await
        .expect("delivered");
    let (headers, body) = captured.lock().expect("lock")[0].clone();
    let header_map: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = String::from_utf8(body.to_vec()).expect("utf-8");
    for secret in [&old, &new] {
        let (code, out) = python(
            "verify",
            serde_json::json!({ "secret": secret, "headers": header_map, "body": body }),
        )
        .expect("python");
        assert_eq!(code, 0, "reference rejected our signature: {out}");
    }
    // And it is not a rubber stamp: another secret or a changed body is rejected.
    let (code, _) = python(
        "verify",
        serde_json::json!({ "secret": generate_secret(), "headers": header_map, "body": body }),
    )
    .expect("python");
    assert_eq!(code, 1);
    let (code, _) = python(
        "verify",
        serde_json::json!({ "secret": new, "headers": header_map, "body": body.replace("42", "43") }),
    )
    .expect("python");
    assert_eq!(code, 1);

    // Byte-identical signatures for the same input.
    let ts = unix_now();
    let ours = Signer::new(Scheme::StandardWebhooks, &[&new])
        .expect("signer")
        .sign("msg_x", ts, body.as_bytes())
        .into_iter()
        .find(|(k, _)| k == "webhook-signature")
        .and_then(|(_, v)| v.to_str().ok().map(str::to_owned))
        .expect("signature");
    let (code, theirs) = python(
        "sign",
        serde_json::json!({ "secret": new, "id": "msg_x", "timestamp": ts, "body": body }),
    )
    .expect("python");
    assert_eq!(code, 0);
    assert_eq!(ours, theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_receiver_verifies_reference_signatures() {
    if !available() {
        return;
    }
    let secret = generate_secret();
    let seen: Arc<Mutex<Vec<u32>>> = Arc::default();
    let s = seen.clone();
    let rx = Receiver::new(
        ReceiverConfig::new(&secret),
        move |hook: Webhook<OrderPlaced>| {
            let s = s.clone();
            async move {
                s.lock().expect("lock").push(hook.message.0.id);
                Ok(())
            }
        },
    )
    .expect("receiver");
    let base = serve(Router::new().route("/hook", rx.endpoint())).await;
    let url = format!("{base}/hook");
    let body = r#"{"id":5,"item":"lamp"}"#;
    let post = |secret: &str, id: &str| {
        let input = serde_json::json!({ "secret": secret, "id": id, "body": body, "url": url });
        // The script blocks on HTTP; run it off the runtime's workers.
        tokio::task::spawn_blocking(move || python("post", input))
    };
    let status = |r: Option<(i32, String)>| r.expect("python").1;
    assert_eq!(status(post(&secret, "msg_py1").await.expect("task")), "204");
    // The reference sends the same message again: acknowledged, handled once.
    assert_eq!(status(post(&secret, "msg_py1").await.expect("task")), "204");
    assert_eq!(*seen.lock().expect("lock"), vec![5]);
    // Signed with a secret the receiver does not know: refused.
    assert_eq!(
        status(post(&generate_secret(), "msg_py2").await.expect("task")),
        "401"
    );
    assert_eq!(*seen.lock().expect("lock"), vec![5]);
}
