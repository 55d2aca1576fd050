//! The NATS backplane: core subjects on one client connection per hub (and per SSE event log,
//! `log_nats.rs`, which uses JetStream on the same client), used to publish and to subscribe. The client reconnects by itself; the subscription ends when it reports a
//! disconnect, so that the hub's state says so, and is made again once the client is back.
//!
//! A server round trip says the server has what the connection sent before it (it handles a
//! connection's messages in order): the client's `flush` only writes the socket, so the round
//! trip is a request to a fresh inbox nobody listens on, which the server answers itself
//! ("no responders").

use std::time::Duration;

#[cfg(feature = "ws")]
use futures_util::stream::BoxStream;
#[cfg(feature = "ws")]
use futures_util::{StreamExt, stream};
use tokio::sync::watch;

use super::{BackplaneError, Failure};
#[cfg(feature = "ws")]
use super::{BoxFuture, Engine};

/// How long connecting may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Nats {
    url: String,
    /// The client and whether it is connected (from its event callback); made on first use.
    client: tokio::sync::Mutex<Option<(async_nats::Client, watch::Receiver<bool>)>>,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> BackplaneError {
    BackplaneError::new(Failure::Unavailable, format!("nats: {e}"))
}

impl Nats {
    pub(super) fn new(url: &str) -> Self {
        Nats {
            url: url.to_owned(),
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// The client, connected; an error when the server is not reachable now (the client
    /// keeps reconnecting on its own once it has connected).
    pub(super) async fn client(
        &self,
    ) -> Result<(async_nats::Client, watch::Receiver<bool>), BackplaneError> {
        let mut slot = self.client.lock().await;
        let (client, up) = match &*slot {
            Some(c) => c.clone(),
            None => {
                let (tx, rx) = watch::channel(true);
                let client = async_nats::ConnectOptions::new()
                    .connection_timeout(CONNECT_TIMEOUT)
                    .event_callback(move |event| {
                        let tx = tx.clone();
                        async move {
                            match event {
                                async_nats::Event::Connected => {
                                    tx.send_replace(true);
                                }
                                async_nats::Event::Disconnected | async_nats::Event::Closed => {
                                    tx.send_replace(false);
                                }
                                other => tracing::debug!(event = %other, "nats backplane event"),
                            }
                        }
                    })
                    .connect(self.url.as_str())
                    .await
                    .map_err(unavailable)?;
                slot.insert((client, rx)).clone()
            }
        };
        // Both the client and its events (delivered later, in order) must say connected: a
        // subscription made while a disconnect event is still on its way would end at once.
        if client.connection_state() != async_nats::connection::State::Connected || !*up.borrow() {
            return Err(BackplaneError::new(
                Failure::Unavailable,
                "nats: not connected",
            ));
        }
        Ok((client, up))
    }
}

#[cfg(feature = "ws")]
impl Engine for Nats {
    fn publish<'a>(
        &'a self,
        batch: &'a [(String, Vec<u8>)],
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        Box::pin(async move {
            let (client, _) = self.client().await?;
            for (subject, bytes) in batch {
                client
                    .publish(subject.clone(), bytes.clone().into())
                    .await
                    .map_err(unavailable)?;
            }
            round_trip(&client).await
        })
    }

    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<BoxStream<'static, Vec<u8>>, BackplaneError>> {
        Box::pin(async move {
            let (client, mut up) = self.client().await?;
            let mut subscriptions = Vec::with_capacity(channels.len());
            for subject in channels {
                subscriptions.push(
                    client
                        .subscribe(subject.clone())
                        .await
                        .map_err(unavailable)?,
                );
            }
            // The server has the subscriptions once it answered.
            tokio::time::timeout(CONNECT_TIMEOUT, round_trip(&client))
                .await
                .map_err(|_| {
                    BackplaneError::new(Failure::Timeout, "nats: subscribing timed out")
                })??;
            let messages = stream::select_all(subscriptions).map(|m| m.payload.to_vec());
            let lost = async move {
                let _ = up.wait_for(|connected| !connected).await;
            };
            Ok(messages.take_until(lost).boxed())
        })
    }
}

/// Waits until the server has handled everything this client sent so far.
#[cfg(feature = "ws")]
async fn round_trip(client: &async_nats::Client) -> Result<(), BackplaneError> {
    match client.request(client.new_inbox(), Default::default()).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}
