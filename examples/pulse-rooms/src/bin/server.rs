//! The Pulse Rooms server: WebSocket rooms and lobby under `/ws`, the price stream and quotes
//! under `/sse`, on the address given as the first argument (default `127.0.0.1:8080`).
//!
//! ```sh
//! cargo run -p pulse-rooms-example --bin server
//! ```

use std::time::Duration;

use pulse_rooms_example::app::{Rooms, ticker};
use pulse_rooms_example::runtime::axum;
use pulse_rooms_example::server::{Config, Server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let server = Server::new(Config::default());
    let router = server.router(Rooms::new(server.sender()));
    tokio::spawn(ticker(server.sender(), Duration::from_millis(500)));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("pulse-rooms listening on http://{}", listener.local_addr()?);
    println!("  ws://{addr}/ws/rooms/{{roomId}}?nick=…   ws://{addr}/ws/lobby");
    println!(
        "  GET  http://{addr}/sse/prices/{{symbol}}   POST http://{addr}/sse/quotes/{{symbol}}"
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            // Close 1001 and end the streams: clients reconnect or resume elsewhere.
            server.shutdown();
        })
        .await
}
