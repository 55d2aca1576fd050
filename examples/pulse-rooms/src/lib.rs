//! Pulse Rooms, generated at build time: `build.rs` runs `asyncforge::Generator` on
//! `specs/pulse-rooms.yaml`, and the line below includes the generated modules — `types`,
//! `messages`, `channels`, `server` and `client`.
//!
//! [`app`] is the hand-written part: the server's [`server::Handler`] and a client session.
//! The `server` and `client` binaries run them.

include!(concat!(env!("OUT_DIR"), "/asyncforge.rs"));

pub mod app {
    //! The application code a user writes around the generated modules.

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::channels::{LobbyParams, PricesParams, QuotesParams, RelayMessage, RoomParams};
    use super::client::{
        ClientOptions, LobbyClient, LobbyEvent, PricesClient, PricesEvent, QuotesClient,
        RoomClient, RoomEvent, SseClientConfig,
    };
    use super::messages::{
        IAm, Ping, Pong, Post, Presence, Quote, QuoteAck, Relayed, Tick, WhoAreYou,
    };
    use super::server::{Handler, HeaderMap, LobbySession, RoomSession, Sender};
    use super::types::*;
    use super::{DateTime, Received, Reject, Uuid};

    /// The symbols the ticker publishes (the `symbol` enum of `prices/{symbol}`).
    pub const SYMBOLS: [&str; 3] = ["btcusd", "ethusd", "solusd"];

    /// The server's behaviour: relay room posts, answer pings, ask lobby visitors who they
    /// are, acknowledge quotes.
    pub struct Rooms {
        out: Sender,
        seq: AtomicU64,
        quotes: AtomicU64,
    }

    impl Rooms {
        /// A handler that sends through `out` (from [`super::server::Server::sender`]).
        pub fn new(out: Sender) -> Self {
            Rooms {
                out,
                seq: AtomicU64::new(0),
                quotes: AtomicU64::new(0),
            }
        }
    }

    impl Rooms {
        /// Tells a room who came or went.
        async fn announce(&self, room: &RoomParams, presence: Presence) {
            if let Err(e) = self.out.relay_message(room, presence).await {
                println!("room {}: presence not relayed: {e}", room.room_id);
            }
        }
    }

    impl Handler for Rooms {
        async fn room_opened(&self, session: &RoomSession) {
            let joined = Presence::new(PresencePayload::new(
                &session.query.nick,
                PresencePayloadState::Joined,
            ));
            self.announce(&session.params, joined).await;
        }

        async fn room_closed(&self, session: &RoomSession) {
            let left = Presence::new(PresencePayload::new(
                &session.query.nick,
                PresencePayloadState::Left,
            ));
            self.announce(&session.params, left).await;
        }

        async fn post_message(
            &self,
            post: Received<Post, &RoomParams, &RoomSession>,
        ) -> Result<(), Reject> {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            let relayed = Relayed::new(RelayedPayload::new(
                seq,
                &post.meta.query.nick,
                post.message.payload.text,
                DateTime::now(),
            ));
            self.out
                .relay_message(post.params, relayed)
                .await
                .map(drop)
                .map_err(Reject::failed)
        }

        async fn lobby_opened(&self, session: &LobbySession) {
            // Requests go the other way too: ask the new connection who it is (on a task of
            // its own: the answer is one of this connection's frames, handled once this
            // hook has returned).
            let out = self.out.clone();
            let conn = session.conn();
            let id = Uuid::from_u128(u128::from(conn.0));
            tokio::spawn(async move {
                let question = WhoAreYou::new(WhoAreYouPayload::new(id));
                match out.ask_identity(conn, question).await {
                    Ok(answer) => {
                        println!("lobby: connection {} is {}", conn.0, answer.payload.agent)
                    }
                    Err(e) => println!("lobby: connection {} did not say who it is: {e}", conn.0),
                }
            });
        }

        async fn ping(
            &self,
            _ping: Received<Ping, &LobbyParams, &LobbySession>,
        ) -> Result<Pong, Reject> {
            // The reply's requestId is left empty: the server copies the ping's.
            Ok(Pong::new(PongPayload::new(DateTime::now())))
        }

        async fn submit_quote(
            &self,
            quote: Received<Quote, QuotesParams, HeaderMap>,
        ) -> Result<QuoteAck, Reject> {
            if quote.message.payload.size > 1_000.0 {
                return Err(Reject::invalid(format!(
                    "{} quotes are limited to 1000 units",
                    quote.params.symbol
                )));
            }
            let id = self.quotes.fetch_add(1, Ordering::Relaxed) as i64 + 1;
            Ok(QuoteAck::new(QuoteAckPayload::new(true, id)))
        }
    }

    /// Publishes one tick per symbol every `every`, forever (a random walk around a start
    /// price, so the stream has something to show).
    pub async fn ticker(out: Sender, every: Duration) {
        let mut prices = [64_000.0_f64, 3_100.0, 140.0];
        let mut step = 0u64;
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            step += 1;
            for (i, symbol) in SYMBOLS.iter().enumerate() {
                let wobble = ((step * 7 + i as u64 * 13) % 11) as f64 - 5.0;
                prices[i] = (prices[i] * (1.0 + wobble / 10_000.0) * 100.0).round() / 100.0;
                let tick = Tick::new(TickPayload::new(*symbol, prices[i], DateTime::now()));
                let params = PricesParams {
                    symbol: (*symbol).to_owned(),
                };
                let _ = out.stream_prices(&params, tick).await;
            }
        }
    }

    /// What a client session saw, line by line.
    pub type Transcript = Vec<String>;

    /// A client session against the server at `url` (such as `http://127.0.0.1:8080`): joins
    /// room `general` as `nick`, posts `posts` messages and reads them back relayed, pings the
    /// lobby and answers the server's identity question, reads `ticks` price ticks of
    /// `btcusd`, submits a quote.
    pub async fn client_session(
        url: &str,
        nick: &str,
        posts: usize,
        ticks: usize,
    ) -> Result<Transcript, String> {
        let mut out = Transcript::new();
        let ws_url = url.replacen("http", "ws", 1);
        let wait = Duration::from_secs(10);

        // A room: post, then read our own posts back as the server relays them.
        let params = RoomParams {
            room_id: "general".into(),
        };
        let query = RoomQuery::new(nick);
        let mut room = RoomClient::connect(&ws_url, &params, &query, ClientOptions::default());
        room.wait_connected().await;
        for i in 1..=posts {
            room.post_message(Post::new(PostPayload::new(format!(
                "hello #{i} from {nick}"
            ))))
            .map_err(|e| e.to_string())?;
        }
        let mut relayed = 0;
        while relayed < posts {
            let event = tokio::time::timeout(wait, room.next())
                .await
                .map_err(|_| "no relayed message within 10 s".to_owned())?
                .ok_or("the room connection ended")?;
            match event {
                RoomEvent::RelayMessage(RelayMessage::Relayed(m)) => {
                    relayed += 1;
                    out.push(format!(
                        "room: #{} {}: {}",
                        m.payload.seq, m.payload.from, m.payload.text
                    ));
                }
                RoomEvent::RelayMessage(RelayMessage::Presence(p)) => {
                    out.push(format!(
                        "room: {} {}",
                        p.payload.nick,
                        p.payload.state.as_str()
                    ));
                }
                RoomEvent::Refused(why) => out.push(format!("room: refused: {why}")),
            }
        }

        // The lobby: a request of ours, and one of the server's.
        let mut lobby = LobbyClient::connect(&ws_url, &LobbyParams {}, ClientOptions::default());
        let pong = lobby
            .ping(Ping::new(
                PingPayload::new().with_request_id(Uuid::from_u128(42)),
            ))
            .await
            .map_err(|e| e.to_string())?;
        out.push(format!(
            "lobby: pong for {} at {}",
            pong.payload
                .request_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            pong.payload.server_time
        ));
        match tokio::time::timeout(wait, lobby.next()).await {
            Ok(Some(LobbyEvent::AskIdentity(question, responder))) => {
                responder
                    .reply(IAm::new(IAmPayload::new(
                        question.payload.request_id,
                        format!("{nick} (pulse-rooms example client)"),
                    )))
                    .map_err(|e| e.to_string())?;
                out.push("lobby: told the server who we are".into());
            }
            Ok(Some(LobbyEvent::Refused(why))) => out.push(format!("lobby: refused: {why}")),
            Ok(None) => return Err("the lobby connection ended".into()),
            Err(_) => return Err("the server did not ask who we are within 10 s".into()),
        }

        // Prices over Server-Sent Events.
        let btc = PricesParams {
            symbol: "btcusd".into(),
        };
        let mut prices = PricesClient::new(url).subscribe(&btc, SseClientConfig::default());
        let mut seen = 0;
        while seen < ticks {
            let event = tokio::time::timeout(wait, prices.next())
                .await
                .map_err(|_| "no price tick within 10 s".to_owned())?
                .ok_or("the price stream ended")?;
            match event {
                PricesEvent::StreamPrices(t) => {
                    seen += 1;
                    out.push(format!(
                        "prices: {} {:.2}",
                        t.payload.symbol, t.payload.price
                    ));
                }
                PricesEvent::Gap { last_event_id, .. } => {
                    out.push(format!("prices: missed events after {last_event_id}"));
                }
            }
        }

        // A quote, POSTed to the SSE channel's receive operation.
        let quotes = QuotesClient::new(url);
        let ack = quotes
            .submit_quote(
                &QuotesParams {
                    symbol: "btcusd".into(),
                },
                Quote::new(QuotePayload::new(QuotePayloadSide::Bid, 63_990.5, 0.25)),
            )
            .await
            .map_err(|e| e.to_string())?;
        out.push(format!(
            "quotes: {} as #{}",
            if ack.payload.accepted {
                "accepted"
            } else {
                "declined"
            },
            ack.payload.id
        ));
        Ok(out)
    }
}
