//! The status codes of resource channels as `curl` sees them: 201, 304, 412, 428, 409 (with
//! holder and until-when), 423, and a long poll answered 304 with `Preference-Applied`.
//! Skipped, with a notice, when curl is missing.

mod http_common;

use std::process::Command;

use asyncforge_runtime::http::resource::{ResourceConfig, ResourceStore};
use http_common::{Counter, serve};

/// Runs curl with `args`; returns (status, headers, body).
async fn curl(args: Vec<String>) -> (u16, String, String) {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let headers = dir.path().join("headers");
        let out = Command::new("curl")
            .args(["-sS", "--noproxy", "*", "--max-time", "10", "-D"])
            .arg(&headers)
            .args(["-w", "\n%{http_code}"])
            .args(&args)
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').expect("status line");
        let headers = std::fs::read_to_string(headers)
            .expect("headers")
            .to_ascii_lowercase();
        (
            code.trim().parse().expect("status"),
            headers,
            body.to_owned(),
        )
    })
    .await
    .expect("task")
}

fn header(headers: &str, name: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_owned())
    })
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_304_412_428_409() {
    if Command::new("curl").arg("--version").output().is_err() {
        return asyncforge_testkit::skip("curl", "apt-get install curl");
    }
    let store = ResourceStore::<Counter>::new(ResourceConfig {
        require_precondition: true,
        ..ResourceConfig::default()
    });
    let base = serve(store.router("/counters/{id}")).await;
    let url = format!("{base}/counters/c1");
    let json = ["-H", "content-type: application/json"];

    // 428: a write without a precondition.
    let (code, _, body) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-d",
        r#"{"value":1}"#,
    ]))
    .await;
    assert_eq!(code, 428, "{body}");
    // 201: create-only with If-None-Match: *.
    let (code, h, _) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-H",
        "If-None-Match: *",
        "-d",
        r#"{"value":1}"#,
    ]))
    .await;
    assert_eq!(code, 201);
    let etag = header(&h, "etag").expect("etag");
    // 200 with ETag and Last-Modified; 304 with If-None-Match.
    let (code, h, body) = curl(s(&[&url])).await;
    assert_eq!((code, body.as_str()), (200, r#"{"value":1}"#));
    assert_eq!(header(&h, "etag").as_deref(), Some(etag.as_str()));
    assert!(header(&h, "last-modified").is_some());
    let inm = format!("If-None-Match: {etag}");
    let (code, _, body) = curl(s(&[&url, "-H", &inm])).await;
    assert_eq!((code, body.as_str()), (304, ""));
    // 412: a stale If-Match; then the current one succeeds.
    let (code, h, _) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-H",
        "If-Match: \"stale\"",
        "-d",
        r#"{"value":2}"#,
    ]))
    .await;
    assert_eq!(code, 412);
    assert_eq!(
        header(&h, "etag").as_deref(),
        Some(etag.as_str()),
        "412 tells the current tag"
    );
    let im = format!("If-Match: {etag}");
    let (code, _, _) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-H",
        &im,
        "-d",
        r#"{"value":2}"#,
    ]))
    .await;
    assert_eq!(code, 204);
    let (code, _, _) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-H",
        &im,
        "-d",
        r#"{"value":3}"#,
    ]))
    .await;
    assert_eq!(code, 412, "the tag changed with the last write");

    // 201 lock for alice; 409 for bob with holder and until-when; 423 for bob's write.
    let lock_url = format!("{url}/lock");
    let (code, h, body) = curl(s(&[
        "-X",
        "POST",
        &lock_url,
        json[0],
        json[1],
        "-d",
        r#"{"holder":"alice","ttlMs":60000}"#,
    ]))
    .await;
    assert_eq!(code, 201, "{body}");
    let token = header(&h, "lock-token").expect("lock-token");
    let (code, h, body) = curl(s(&[
        "-X",
        "POST",
        &lock_url,
        json[0],
        json[1],
        "-d",
        r#"{"holder":"bob"}"#,
    ]))
    .await;
    assert_eq!(code, 409);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["holder"], "alice");
    assert!(
        v["until"].as_str().is_some_and(|u| u.ends_with("GMT")),
        "{body}"
    );
    assert!(header(&h, "retry-after").is_some());
    let (_, h, _) = curl(s(&[&url])).await;
    let current = header(&h, "etag").expect("etag");
    let im = format!("If-Match: {current}");
    let (code, _, body) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-H",
        &im,
        "-d",
        r#"{"value":9}"#,
    ]))
    .await;
    assert_eq!(code, 423, "{body}");
    let lt = format!("Lock-Token: {token}");
    let (code, _, _) = curl(s(&[
        "-X",
        "PUT",
        &url,
        json[0],
        json[1],
        "-H",
        &im,
        "-H",
        &lt,
        "-d",
        r#"{"value":9}"#,
    ]))
    .await;
    assert_eq!(code, 204);
    let (code, _, _) = curl(s(&["-X", "DELETE", &lock_url, "-H", &lt])).await;
    assert_eq!(code, 204);

    // Long poll with nothing changing: held, then 304 with Preference-Applied.
    let (_, h, _) = curl(s(&[&url])).await;
    let inm = format!("If-None-Match: {}", header(&h, "etag").expect("etag"));
    let (code, h, _) = curl(s(&[&url, "-H", &inm, "-H", "Prefer: wait=1"])).await;
    assert_eq!(code, 304);
    assert_eq!(header(&h, "preference-applied").as_deref(), Some("wait=1"));
}
