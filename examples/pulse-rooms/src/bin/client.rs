//! A Pulse Rooms client session against a running server (first argument, default
//! `http://127.0.0.1:8080`; second, the nickname).
//!
//! ```sh
//! cargo run -p pulse-rooms-example --bin client -- http://127.0.0.1:8080 ada
//! ```

use pulse_rooms_example::app::client_session;

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let nick = std::env::args().nth(2).unwrap_or_else(|| "ada".into());
    match client_session(&url, &nick, 3, 5).await {
        Ok(transcript) => {
            for line in transcript {
                println!("{line}");
            }
        }
        Err(why) => {
            eprintln!("client: {why}");
            std::process::exit(1);
        }
    }
}
