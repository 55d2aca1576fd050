//! The official AsyncAPI examples `websocket-gemini` (3.0.0 and 2.6.0) and `kraken` (3.0.0,
//! both variants) generated into `tests/snapshots/official-*`: each generated client talks to
//! its generated server over loopback, with concrete values checked on both sides.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use asyncforge_runtime::Received;
use asyncforge_runtime::backoff::Backoff;
use asyncforge_runtime::endpoint::Reject;
use asyncforge_runtime::ws::client::State;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(10);

async fn listen(router: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}

fn fast_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
        ..Backoff::default()
    }
}

/// The status and body of a refused WebSocket upgrade (101 when it was accepted).
async fn upgrade_status(url: String) -> (u16, String) {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let body =
                String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned();
            (r.status().as_u16(), body)
        }
        Ok(_) => (101, String::new()),
        Err(e) => panic!("{e}"),
    }
}

/// The Gemini market data test, once per generated crate (3.0.0 and 2.6.0 name the channel
/// differently: `marketDataV1` vs. the 2.x channel key `/v1/marketdata/{symbol}`).
macro_rules! gemini_test {
    ($test:ident, $module:ident, $krate:ident, $params:ident, $query:ident, $client:ident, $event:ident, $session:ident, $opened:ident) => {
        mod $module {
            use super::*;
            use ::$krate::channels::$params;
            use ::$krate::client::{ClientOptions, $client, $event};
            use ::$krate::messages::MarketData;
            use ::$krate::server::{Config, Handler, Sender, Server, $session};
            use ::$krate::types::{
                EventsItem, EventsItemReason, EventsItemSide, EventsItemType, Heartbeat,
                HeartbeatType, Market, Update, UpdateType, $query,
            };

            struct Feed {
                out: Sender,
                /// (symbol, heartbeat, trades, auctions) of every connection, as the server saw them.
                seen: Mutex<Vec<(String, Option<bool>, Option<bool>, Option<bool>)>>,
            }

            fn change(
                price: f64,
                remaining: f64,
                delta: f64,
                reason: EventsItemReason,
            ) -> EventsItem {
                EventsItem {
                    r#type: Some(EventsItemType::Change),
                    price: Some(price),
                    side: Some(EventsItemSide::Bid),
                    reason: Some(reason),
                    remaining: Some(remaining),
                    delta: Some(delta),
                }
            }

            fn update(event_id: i64, seq: i64, events: Vec<EventsItem>) -> MarketData {
                MarketData::new(Market::Update(Update {
                    r#type: UpdateType::Update,
                    event_id,
                    events,
                    timestamp: 1619769673.0,
                    timestampms: 1619769673527.0,
                    socket_sequence: seq,
                    extra: Default::default(),
                }))
            }

            impl Handler for Feed {
                async fn $opened(&self, session: &$session) {
                    let q = &session.query;
                    self.seen.lock().unwrap().push((
                        session.params.symbol.clone(),
                        q.heartbeat,
                        q.trades,
                        q.auctions,
                    ));
                    // The initial state of the book, then a heartbeat when asked for one.
                    let initial = update(
                        36902233300,
                        0,
                        vec![change(54350.40, 0.5, 0.5, EventsItemReason::Initial)],
                    );
                    let beat = (q.heartbeat == Some(true)).then(|| {
                        MarketData::new(Market::Heartbeat(Heartbeat {
                            r#type: HeartbeatType::Heartbeat,
                            socket_sequence: 1,
                            extra: Default::default(),
                        }))
                    });
                    let conn = session.conn();
                    self.out.send_market_data_to(conn, initial).await.unwrap();
                    if let Some(beat) = beat {
                        self.out.send_market_data_to(conn, beat).await.unwrap();
                    }
                }
            }

            fn symbol(s: &str) -> $params {
                $params {
                    symbol: s.to_owned(),
                }
            }

            async fn next(c: &mut $client) -> Market {
                match tokio::time::timeout(WAIT, c.next())
                    .await
                    .expect("in time")
                    .expect("open")
                {
                    $event::SendMarketData(m) => m.payload,
                    other => panic!("unexpected {other:?}"),
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let server = Server::new(Config::default());
                let feed = std::sync::Arc::new(Feed {
                    out: server.sender(),
                    seen: Mutex::new(Vec::new()),
                });
                let (addr, task) = listen(server.router(SharedFeed(feed.clone()))).await;
                let url = format!("ws://{addr}");
                let mut options = ClientOptions::default();
                options.ws.backoff = fast_backoff();

                // The query parameters of the WebSocket binding, typed on both sides.
                let query = $query {
                    heartbeat: Some(true),
                    top_of_book: Some(false),
                    bids: Some(true),
                    offers: None,
                    trades: Some(false),
                    auctions: None,
                    extra: Default::default(),
                };
                let mut btc = $client::connect(&url, &symbol("btcusd"), &query, options.clone());
                assert!(matches!(
                    btc.wait_connected().await,
                    State::Connected { .. }
                ));
                match next(&mut btc).await {
                    Market::Update(u) => {
                        assert_eq!(u.event_id, 36902233300);
                        assert_eq!(u.socket_sequence, 0);
                        assert_eq!(u.events.len(), 1);
                        assert_eq!(u.events[0].reason, Some(EventsItemReason::Initial));
                        assert_eq!(u.events[0].price, Some(54350.40));
                        assert_eq!(u.events[0].side, Some(EventsItemSide::Bid));
                    }
                    other => panic!("expected the initial update, got {other:?}"),
                }
                match next(&mut btc).await {
                    Market::Heartbeat(h) => assert_eq!(h.socket_sequence, 1),
                    other => panic!("expected a heartbeat, got {other:?}"),
                }
                // Without `heartbeat=true` no heartbeat comes.
                let quiet = $query {
                    heartbeat: None,
                    top_of_book: None,
                    bids: None,
                    offers: None,
                    trades: None,
                    auctions: Some(true),
                    extra: Default::default(),
                };
                let mut eth = $client::connect(&url, &symbol("ethusd"), &quiet, options.clone());
                assert!(matches!(next(&mut eth).await, Market::Update(_)));
                assert_eq!(
                    *feed.seen.lock().unwrap(),
                    vec![
                        ("btcusd".to_owned(), Some(true), Some(false), None),
                        ("ethusd".to_owned(), None, None, Some(true)),
                    ]
                );

                // An update published to `btcusd` reaches its subscriber only: the example's
                // own update message, values as in the spec.
                let sent = feed
                    .out
                    .send_market_data(
                        &symbol("btcusd"),
                        update(
                            36902233362,
                            661,
                            vec![change(54350.40, 0.002, 0.002, EventsItemReason::Place)],
                        ),
                    )
                    .await
                    .unwrap();
                assert_eq!(sent, 1);
                match next(&mut btc).await {
                    Market::Update(u) => {
                        assert_eq!(u.event_id, 36902233362);
                        assert_eq!(u.socket_sequence, 661);
                        assert_eq!(u.timestampms, 1619769673527.0);
                        assert_eq!(u.events[0].reason, Some(EventsItemReason::Place));
                        assert_eq!(u.events[0].remaining, Some(0.002));
                    }
                    other => panic!("expected the update, got {other:?}"),
                }
                assert!(
                    tokio::time::timeout(Duration::from_millis(200), eth.next())
                        .await
                        .is_err(),
                    "ethusd got btcusd's update"
                );

                // A query value that is not a boolean is refused at the upgrade.
                let (status, body) =
                    upgrade_status(format!("ws://{addr}/v1/marketdata/btcusd?heartbeat=often"))
                        .await;
                assert_eq!(status, 400, "{body}");
                assert!(body.contains("heartbeat"), "{body}");
                task.abort();
            }

            /// The handler behind an `Arc`, so the test keeps a handle to what it saw.
            struct SharedFeed(std::sync::Arc<Feed>);

            impl Handler for SharedFeed {
                async fn $opened(&self, session: &$session) {
                    self.0.$opened(session).await
                }
            }
        }
    };
}

gemini_test!(
    gemini_3_0_streams_typed_market_data_to_the_symbol_and_query_asked_for,
    gemini_3_0,
    snapshot_official_gemini_3_0,
    MarketDataV1Params,
    MarketDataV1Query,
    MarketDataV1Client,
    MarketDataV1Event,
    MarketDataV1Session,
    market_data_v1_opened
);

gemini_test!(
    gemini_2_6_streams_typed_market_data_to_the_symbol_and_query_asked_for,
    gemini_2_6,
    snapshot_official_gemini_2_6,
    V1MarketdataSymbolParams,
    V1MarketdataSymbolQuery,
    V1MarketdataSymbolClient,
    V1MarketdataSymbolEvent,
    V1MarketdataSymbolSession,
    v1_marketdata_symbol_opened
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_3_0_refuses_a_symbol_outside_the_parameter_enum() {
    use snapshot_official_gemini_3_0::channels::MarketDataV1Params;
    use snapshot_official_gemini_3_0::client::{ClientOptions, MarketDataV1Client};
    use snapshot_official_gemini_3_0::server::{Config, Handler, Server};
    use snapshot_official_gemini_3_0::types::MarketDataV1Query;
    struct Nothing;
    impl Handler for Nothing {}
    let server = Server::new(Config::default());
    let (addr, task) = listen(server.router(Nothing)).await;
    // 2.6.0 declares `symbol` as any string; 3.0.0 lists the symbols.
    let (status, body) = upgrade_status(format!("ws://{addr}/v1/marketdata/dogeusd")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("symbol"), "{body}");
    let client = MarketDataV1Client::connect(
        &format!("ws://{addr}"),
        &MarketDataV1Params {
            symbol: "dogeusd".into(),
        },
        &MarketDataV1Query {
            heartbeat: None,
            top_of_book: None,
            bids: None,
            offers: None,
            trades: None,
            auctions: None,
            extra: Default::default(),
        },
        ClientOptions::default(),
    );
    match client.wait_connected().await {
        State::Refused { status, .. } => assert_eq!(status, 404),
        other => panic!("expected a refusal, got {other:?}"),
    }
    task.abort();
}

mod kraken {
    use super::*;
    use snapshot_official_kraken_3_0::channels::{KrakenWebsocketsApiParams, SubscribeReply};
    use snapshot_official_kraken_3_0::client::{
        ClientOptions, KrakenWebsocketsApiClient, KrakenWebsocketsApiEvent,
    };
    use snapshot_official_kraken_3_0::messages::{
        DummyCurrencyInfo, Heartbeat, Ping, Pong, Subscribe, SubscriptionStatus, SystemStatus,
        Unsubscribe,
    };
    use snapshot_official_kraken_3_0::server::{
        Config, Handler, KrakenWebsocketsApiSession, Sender, Server,
    };
    use snapshot_official_kraken_3_0::types::{self, Name, Status};

    struct Exchange {
        out: Sender,
    }

    fn common_subscription(
        name: Name,
        interval: Option<i64>,
        depth: Option<i64>,
    ) -> types::SubscriptionStatusErrorSubscription {
        types::SubscriptionStatusErrorSubscription {
            depth,
            interval,
            maxratecount: None,
            name,
            token: None,
            extra: Default::default(),
        }
    }

    impl Handler for Exchange {
        async fn kraken_websockets_api_opened(&self, session: &KrakenWebsocketsApiSession) {
            let status = SystemStatus::new(types::SystemStatus {
                event: Some(types::SystemStatusEvent::SystemStatus),
                connection_id: Some(8628615390848610000 + session.conn().0 as i64 % 1000),
                status: Some(Status::Online),
                version: Some("1.8.0".into()),
                extra: Default::default(),
            });
            self.out
                .system_status_to(session.conn(), status)
                .await
                .expect("status sent");
        }

        async fn receive_ping(
            &self,
            received: Received<Ping, &KrakenWebsocketsApiParams, &KrakenWebsocketsApiSession>,
        ) -> Result<Pong, Reject> {
            let ping = received.message;
            assert_eq!(ping.payload.event, types::PingEvent::Ping);
            // No reqid: the generated server copies the ping's into the pong.
            Ok(Pong::new(types::Pong {
                event: Some(types::PongEvent::Pong),
                reqid: None,
                extra: Default::default(),
            }))
        }

        async fn subscribe(
            &self,
            received: Received<Subscribe, &KrakenWebsocketsApiParams, &KrakenWebsocketsApiSession>,
        ) -> Result<SubscribeReply, Reject> {
            let m = received.message;
            let sub = m
                .payload
                .subscription
                .ok_or_else(|| Reject::invalid("subscription is required"))?;
            let pair = m.payload.pair.unwrap_or_default();
            if sub.name == Name::Ticker {
                return Ok(DummyCurrencyInfo::new(types::DummyCurrencyInfoPayload {
                    event: types::DummyCurrencyInfoPayloadEvent::CurrencyInfo,
                    reqid: None,
                    data: Some(
                        serde_json::json!({"pair": pair, "rate": "0.0577"})
                            .as_object()
                            .cloned()
                            .unwrap(),
                    ),
                    extra: Default::default(),
                })
                .into());
            }
            // Slower than an unsubscribe: replies overtake each other.
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok(
                SubscriptionStatus::new(types::SubscriptionStatus::SubscriptionStatusSuccess(
                    types::SubscriptionStatusSuccess {
                        channel_id: 10001,
                        channel_name: format!("ohlc-{}", sub.interval.unwrap_or(1)),
                        event: types::SubscriptionStatusErrorEvent::SubscriptionStatus,
                        reqid: None,
                        pair: Some(pair),
                        status: Some(Status::Online),
                        subscription: Some(common_subscription(sub.name, sub.interval, None)),
                        extra: Default::default(),
                    },
                ))
                .into(),
            )
        }

        async fn unsubscribe(
            &self,
            received: Received<
                Unsubscribe,
                &KrakenWebsocketsApiParams,
                &KrakenWebsocketsApiSession,
            >,
        ) -> Result<SubscriptionStatus, Reject> {
            let m = received.message;
            let sub = m
                .payload
                .subscription
                .ok_or_else(|| Reject::invalid("subscription is required"))?;
            Ok(SubscriptionStatus::new(
                types::SubscriptionStatus::SubscriptionStatusError(
                    types::SubscriptionStatusError {
                        error_message: "Subscription depth not supported".into(),
                        event: types::SubscriptionStatusErrorEvent::SubscriptionStatus,
                        reqid: None,
                        pair: m.payload.pair,
                        status: Some(Status::Online),
                        subscription: Some(common_subscription(sub.name, None, sub.depth)),
                        extra: Default::default(),
                    },
                ),
            ))
        }
    }

    fn subscribe(reqid: i64, name: Name, pair: &str) -> Subscribe {
        Subscribe::new(types::Subscribe {
            event: types::SubscribeEvent::Subscribe,
            reqid: Some(reqid),
            pair: Some(vec![pair.to_owned()]),
            subscription: Some(types::SubscribeSubscription {
                depth: None,
                interval: Some(5),
                name,
                ratecounter: None,
                snapshot: None,
                token: None,
                extra: Default::default(),
            }),
            extra: Default::default(),
        })
    }

    async fn next(c: &mut KrakenWebsocketsApiClient) -> KrakenWebsocketsApiEvent {
        tokio::time::timeout(WAIT, c.next())
            .await
            .expect("in time")
            .expect("open")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kraken_3_0_requests_get_their_replies_by_reqid_and_pushes_arrive_typed() {
        let server = Server::new(Config::default());
        let out = server.sender();
        let (addr, task) = listen(server.router(Exchange {
            out: server.sender(),
        }))
        .await;
        let mut options = ClientOptions::default();
        options.ws.backoff = fast_backoff();
        let mut client = KrakenWebsocketsApiClient::connect(
            &format!("ws://{addr}"),
            &KrakenWebsocketsApiParams {},
            options,
        );
        // systemStatus is pushed on connection.
        match next(&mut client).await {
            KrakenWebsocketsApiEvent::SystemStatus(s) => {
                assert_eq!(s.payload.status, Some(Status::Online));
                assert_eq!(s.payload.version.as_deref(), Some("1.8.0"));
            }
            other => panic!("expected systemStatus, got {other:?}"),
        }

        // ping → pong, the reqid copied by the server.
        let pong = client
            .send_ping(Ping::new(types::Ping {
                event: types::PingEvent::Ping,
                reqid: Some(42),
                extra: Default::default(),
            }))
            .await
            .unwrap();
        assert_eq!(pong.payload.reqid, Some(42));
        assert_eq!(pong.payload.event, Some(types::PongEvent::Pong));

        // subscribe and unsubscribe at once: both are answered with `subscriptionStatus`
        // (which declares no correlationId of its own), the unsubscribe's first; each goes to
        // its own request by reqid.
        let unsubscribe = Unsubscribe::new(types::Unsubscribe {
            event: types::UnsubscribeEvent::Unsubscribe,
            reqid: Some(8),
            pair: Some(vec!["XBT/USD".into()]),
            subscription: Some(types::UnsubscribeSubscription {
                depth: Some(25),
                interval: None,
                name: Name::Book,
                token: None,
                extra: Default::default(),
            }),
            extra: Default::default(),
        });
        let (sub, unsub) = tokio::join!(
            client.subscribe(subscribe(7, Name::Ohlc, "XBT/EUR")),
            client.unsubscribe(unsubscribe)
        );
        match sub.unwrap() {
            SubscribeReply::SubscriptionStatus(SubscriptionStatus {
                payload: types::SubscriptionStatus::SubscriptionStatusSuccess(s),
            }) => {
                assert_eq!(s.reqid, Some(7));
                assert_eq!(s.channel_id, 10001);
                assert_eq!(s.channel_name, "ohlc-5");
                assert_eq!(s.pair, Some(vec!["XBT/EUR".to_owned()]));
                assert_eq!(
                    s.subscription.map(|s| (s.name, s.interval)),
                    Some((Name::Ohlc, Some(5)))
                );
            }
            other => panic!("expected a successful subscriptionStatus, got {other:?}"),
        }
        match unsub.unwrap().payload {
            types::SubscriptionStatus::SubscriptionStatusError(e) => {
                assert_eq!(e.reqid, Some(8));
                assert_eq!(e.error_message, "Subscription depth not supported");
                assert_eq!(
                    e.subscription.map(|s| (s.name, s.depth)),
                    Some((Name::Book, Some(25)))
                );
            }
            other => panic!("expected an error subscriptionStatus, got {other:?}"),
        }
        // The other reply message of subscribe.
        match client
            .subscribe(subscribe(9, Name::Ticker, "ETH/USD"))
            .await
            .unwrap()
        {
            SubscribeReply::DummyCurrencyInfo(d) => {
                assert_eq!(d.payload.reqid, Some(9));
                assert_eq!(d.payload.data.unwrap()["rate"], "0.0577");
            }
            other => panic!("expected currencyInfo, got {other:?}"),
        }

        // heartbeat, pushed to everyone on `/`.
        let heartbeat = Heartbeat::new(types::Heartbeat {
            event: Some(types::HeartbeatEvent::Heartbeat),
            extra: Default::default(),
        });
        assert_eq!(
            out.heartbeat(&KrakenWebsocketsApiParams {}, heartbeat)
                .await
                .unwrap(),
            1
        );
        match next(&mut client).await {
            KrakenWebsocketsApiEvent::Heartbeat(h) => {
                assert_eq!(h.payload.event, Some(types::HeartbeatEvent::Heartbeat))
            }
            other => panic!("expected a heartbeat, got {other:?}"),
        }
        task.abort();
    }

    /// A client no one here wrote sends raw frames: the message is told apart by its schema
    /// alone (the `event` constant), and the reply carries its `reqid`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kraken_3_0_raw_frames_are_told_apart_by_schema() {
        let server = Server::new(Config::default());
        let (addr, task) = listen(server.router(Exchange {
            out: server.sender(),
        }))
        .await;
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        let first = loop {
            match tokio::time::timeout(WAIT, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                WsMessage::Text(t) => {
                    break serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap();
                }
                _ => continue,
            }
        };
        assert_eq!(first["event"], "systemStatus");
        assert_eq!(first["status"], "online");
        let frames = [
            r#"{"event":"unsubscribe","reqid":3,"subscription":{"name":"book","depth":10}}"#,
            r#"{"event":"ping","reqid":4}"#,
            r#"{"event":"subscribe","subscription":{"name":"nonsense"}}"#,
            r#"{"event":"trade","reqid":5}"#,
        ];
        for f in frames {
            ws.send(WsMessage::Text(f.into())).await.unwrap();
        }
        let mut replies = Vec::new();
        while replies.len() < frames.len() {
            match tokio::time::timeout(WAIT, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                WsMessage::Text(t) => {
                    replies.push(serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap())
                }
                _ => continue,
            }
        }
        assert_eq!(replies[0]["event"], "subscriptionStatus");
        assert_eq!(replies[0]["reqid"], 3);
        assert_eq!(
            replies[0]["errorMessage"],
            "Subscription depth not supported"
        );
        assert_eq!(replies[1], serde_json::json!({"event": "pong", "reqid": 4}));
        let bad_name = replies[2]["error"].as_str().unwrap();
        assert!(bad_name.contains("subscription/name"), "{bad_name}");
        let unknown = replies[3]["error"].as_str().unwrap();
        assert!(unknown.contains("matches none of"), "{unknown}");
        task.abort();
    }
}

mod kraken_filter {
    use super::*;
    use snapshot_official_kraken_filter_3_0::channels::{
        CurrencyExchangeParams, ReceiveSubscribeRequestReply,
    };
    use snapshot_official_kraken_filter_3_0::client::{
        ClientOptions, CurrencyExchangeClient, CurrencyExchangeEvent,
    };
    use snapshot_official_kraken_filter_3_0::messages::{
        Heartbeat, Ping, Pong, Subscribe, SubscriptionStatus, Unsubscribe,
    };
    use snapshot_official_kraken_filter_3_0::server::{
        Config, CurrencyExchangeSession, Handler, Server,
    };
    use snapshot_official_kraken_filter_3_0::types::{self, Name, Status};

    struct Exchange;

    fn status(name: Name, channel_id: i64) -> SubscriptionStatus {
        SubscriptionStatus::new(types::SubscriptionStatus::SubscriptionStatusSuccess(
            types::SubscriptionStatusSuccess {
                channel_id,
                channel_name: name.to_string(),
                event: types::SubscriptionStatusErrorEvent::SubscriptionStatus,
                reqid: None,
                pair: None,
                status: Some(Status::Online),
                subscription: None,
                extra: Default::default(),
            },
        ))
    }

    impl Handler for Exchange {
        async fn receive_ping(
            &self,
            _received: Received<Ping, &CurrencyExchangeParams, &CurrencyExchangeSession>,
        ) -> Result<Pong, Reject> {
            Ok(Pong::new(types::Pong {
                event: Some(types::PongEvent::Pong),
                reqid: None,
                extra: Default::default(),
            }))
        }
        async fn receive_subscribe_request(
            &self,
            received: Received<Subscribe, &CurrencyExchangeParams, &CurrencyExchangeSession>,
        ) -> Result<ReceiveSubscribeRequestReply, Reject> {
            let m = received.message;
            let name = m
                .payload
                .subscription
                .map(|s| s.name)
                .unwrap_or(Name::Trade);
            Ok(status(name, 1).into())
        }
        async fn receive_unsubscribe_request(
            &self,
            received: Received<Unsubscribe, &CurrencyExchangeParams, &CurrencyExchangeSession>,
        ) -> Result<SubscriptionStatus, Reject> {
            let m = received.message;
            let name = m
                .payload
                .subscription
                .map(|s| s.name)
                .unwrap_or(Name::Trade);
            Ok(status(name, 2))
        }
    }

    /// The variant with one channel and message filters on the operations and their replies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kraken_filter_3_0_one_channel_with_message_filters() {
        let server = Server::new(Config::default());
        let out = server.sender();
        let (addr, task) = listen(server.router(Exchange)).await;
        let mut options = ClientOptions::default();
        options.ws.backoff = fast_backoff();
        let mut client = CurrencyExchangeClient::connect(
            &format!("ws://{addr}"),
            &CurrencyExchangeParams {},
            options,
        );
        assert!(matches!(
            client.wait_connected().await,
            State::Connected { .. }
        ));
        let pong = client
            .send_ping(Ping::new(types::Ping {
                event: types::PingEvent::Ping,
                reqid: Some(1),
                extra: Default::default(),
            }))
            .await
            .unwrap();
        assert_eq!(pong.payload.reqid, Some(1));
        let sub = Subscribe::new(types::Subscribe {
            event: types::SubscribeEvent::Subscribe,
            reqid: Some(2),
            pair: Some(vec!["XBT/EUR".into()]),
            subscription: Some(types::SubscribeSubscription {
                depth: None,
                interval: None,
                name: Name::Spread,
                ratecounter: None,
                snapshot: None,
                token: None,
                extra: Default::default(),
            }),
            extra: Default::default(),
        });
        let unsub = Unsubscribe::new(types::Unsubscribe {
            event: types::UnsubscribeEvent::Unsubscribe,
            reqid: Some(3),
            pair: None,
            subscription: Some(types::UnsubscribeSubscription {
                depth: None,
                interval: None,
                name: Name::Book,
                token: None,
                extra: Default::default(),
            }),
            extra: Default::default(),
        });
        let (a, b) = tokio::join!(
            client.send_subscribe_request(sub),
            client.send_unsubscribe_request(unsub)
        );
        match a.unwrap() {
            ReceiveSubscribeRequestReply::SubscriptionStatus(SubscriptionStatus {
                payload: types::SubscriptionStatus::SubscriptionStatusSuccess(s),
            }) => {
                assert_eq!(
                    (s.reqid, s.channel_id, s.channel_name.as_str()),
                    (Some(2), 1, "spread")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        match b.unwrap().payload {
            types::SubscriptionStatus::SubscriptionStatusSuccess(s) => {
                assert_eq!(
                    (s.reqid, s.channel_id, s.channel_name.as_str()),
                    (Some(3), 2, "book")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let beat = Heartbeat::new(types::Heartbeat {
            event: Some(types::HeartbeatEvent::Heartbeat),
            extra: Default::default(),
        });
        assert_eq!(out.send_heartbeat_broadcast(beat).await.unwrap(), 1);
        match tokio::time::timeout(WAIT, client.next())
            .await
            .unwrap()
            .unwrap()
        {
            CurrencyExchangeEvent::SendHeartbeat(h) => {
                assert_eq!(h.payload.event, Some(types::HeartbeatEvent::Heartbeat))
            }
            other => panic!("unexpected {other:?}"),
        }
        task.abort();
    }
}
