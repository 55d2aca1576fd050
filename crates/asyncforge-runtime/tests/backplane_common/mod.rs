//! Shared by the backplane tests (`ws_backplane`, `sse_backplane`): the engines and their
//! skip rule, per-run prefixes, a round-robin TCP proxy that can cut its connections or play
//! a dead peer, replicas as child processes of the test binary, and waiting helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub const REDIS: &str = "redis://127.0.0.1:6379";
pub const NATS: &str = "nats://127.0.0.1:4222";

/// The engine at `url`, or a skip (a failure where peers are required, as in CI) when
/// nothing listens there.
pub async fn engine(url: &str) -> Option<&str> {
    let addr = url.split_once("://").map_or(url, |(_, a)| a);
    if TcpStream::connect(addr).await.is_ok() {
        return Some(url);
    }
    asyncforge_testkit::skip_none(
        &format!("the backplane engine at {url}"),
        "cargo xtask peers",
    )
}

/// A prefix of its own for each test run, so that parallel runs do not hear each other.
pub fn prefix(test: &str) -> String {
    format!(
        "asyncforge-test.{test}.{}",
        asyncforge_runtime::types::Uuid::new_v4().simple()
    )
}

/// A TCP proxy handing each new connection to the next backend in turn (no stickiness),
/// passing over a backend that refuses it, as a load balancer's health check would. It can
/// cut every connection it carries ([`Proxy::cut`]) and play a peer that is down
/// ([`Proxy::down`]: connections cut, new ones closed at once). It keeps running when its
/// handle is dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    cut: watch::Sender<u64>,
    down: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(backends: Vec<SocketAddr>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let backends = Arc::new(backends);
        let (cut, cuts) = watch::channel(0u64);
        let down = Arc::new(AtomicBool::new(false));
        let is_down = down.clone();
        tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    continue;
                }
                let first = next;
                next += 1;
                let backends = backends.clone();
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    for i in 0..backends.len() {
                        let backend = backends[(first + i) % backends.len()];
                        if let Ok(mut outbound) = TcpStream::connect(backend).await {
                            let _ = inbound.set_nodelay(true);
                            let _ = outbound.set_nodelay(true);
                            // A proxy whose handle is gone is never cut.
                            let cut = async {
                                if cuts.changed().await.is_err() {
                                    std::future::pending::<()>().await;
                                }
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                () = cut => {}
                            }
                            return;
                        }
                    }
                });
            }
        });
        Proxy { addr, cut, down }
    }

    /// Closes every connection the proxy carries now.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Down: every connection cut, new ones closed at once. Up: connections pass again.
    pub fn down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.cut();
        }
    }
}

/// A small deterministic generator for picking replicas.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Polls `f` until it holds, for up to `limit`.
pub async fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `done` holds, at most 30 s.
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts this test binary's ignored test `test` as a replica process, handing it `spec` in
/// the environment variable `var`; it prints `replica-port:{port}` once it serves. Returns the
/// process and its address.
pub fn replica_process(test: &str, var: &str, spec: &str) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--ignored", "--nocapture"])
        .env(var, spec)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start a replica");
    let stdout = child.stdout.take().expect("stdout");
    let port = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("replica-port:")
                .and_then(|p| p.parse::<u16>().ok())
        })
        .expect("the replica's port");
    (child, SocketAddr::from(([127, 0, 0, 1], port)))
}
