//! The example's server and client, as the binaries run them, over loopback.

use std::time::Duration;

use asyncforge_runtime::{axum, tokio};
use pulse_rooms_example::app::{Rooms, client_session, ticker};
use pulse_rooms_example::server::{Config, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_session_against_the_example_server() {
    let server = Server::new(Config::default());
    let router = server.router(Rooms::new(server.sender()));
    tokio::spawn(ticker(server.sender(), Duration::from_millis(20)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let transcript = client_session(&url, "grace", 2, 3).await.expect("session");
    let text = transcript.join("\n");
    let posts: Vec<&String> = transcript
        .iter()
        .filter(|l| l.contains(": hello #"))
        .collect();
    assert_eq!(posts.len(), 2, "{text}");
    assert!(posts[0].ends_with("grace: hello #1 from grace"), "{text}");
    assert!(posts[1].ends_with("grace: hello #2 from grace"), "{text}");
    assert!(
        transcript.contains(&"room: grace joined".to_owned()),
        "{text}"
    );
    assert!(
        transcript
            .iter()
            .any(|l| l.starts_with("lobby: pong for 00000000-0000-0000-0000-00000000002a")),
        "{text}"
    );
    assert!(
        transcript.contains(&"lobby: told the server who we are".to_owned()),
        "{text}"
    );
    let ticks = transcript
        .iter()
        .filter(|l| l.starts_with("prices: btcusd "))
        .count();
    assert_eq!(ticks, 3, "{text}");
    assert_eq!(
        transcript.last().map(String::as_str),
        Some("quotes: accepted as #1"),
        "{text}"
    );
}
