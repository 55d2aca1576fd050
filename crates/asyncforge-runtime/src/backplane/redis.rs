//! The Redis backplane: commands on one multiplexed connection (a `ConnectionManager`, which
//! reconnects by itself), a dedicated pub/sub connection per hub (and per SSE event log) for
//! the subscription, pinged so that a peer gone silent is noticed. The WebSocket hub's
//! `PUBLISH`es are here; the SSE event log (`log_redis.rs`) uses the same connections.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{BackplaneError, Failure};
#[cfg(feature = "ws")]
use super::{BoxFuture, Engine};

/// How long connecting may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the subscription's connection is pinged, and how long an answer may take.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub(super) struct Redis {
    client: redis::Client,
    /// The command connection, made on first use.
    commands: tokio::sync::Mutex<Option<ConnectionManager>>,
}

pub(super) fn unavailable(e: redis::RedisError) -> BackplaneError {
    BackplaneError::new(Failure::Unavailable, format!("redis: {e}"))
}

impl Redis {
    pub(super) fn new(url: &str) -> Result<Self, BackplaneError> {
        let client = redis::Client::open(url)
            .map_err(|e| BackplaneError::new(Failure::Config, format!("redis URL: {e}")))?;
        Ok(Redis {
            client,
            commands: tokio::sync::Mutex::new(None),
        })
    }

    /// The command connection (a handle to the one multiplexed connection).
    pub(super) async fn connection(&self) -> Result<ConnectionManager, BackplaneError> {
        let mut slot = self.commands.lock().await;
        if let Some(conn) = &*slot {
            return Ok(conn.clone());
        }
        // No retries inside the manager: a command fails at once when Redis is down (the
        // caller hears of it), and the next one tries again.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(CONNECT_TIMEOUT));
        let conn = self
            .client
            .get_connection_manager_with_config(config)
            .await
            .map_err(unavailable)?;
        Ok(slot.insert(conn).clone())
    }

    /// Forgets the command connection after a failure: the next command makes a fresh one.
    pub(super) async fn reset(&self) {
        *self.commands.lock().await = None;
    }

    /// A subscription to `channels` on a connection of its own: the payloads received, until
    /// the connection is lost or stops answering pings.
    pub(super) async fn subscribe(
        &self,
        channels: &[String],
    ) -> Result<BoxStream<'static, Vec<u8>>, BackplaneError> {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(channels).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| BackplaneError::new(Failure::Timeout, "redis: subscribing timed out"))?
            .map_err(unavailable)?;
        // A silent peer (a network partition) never closes the socket: ping it, and end
        // the stream when it stops answering.
        let (mut sink, messages) = pubsub.split();
        let alive = async move {
            let mut every = tokio::time::interval(KEEPALIVE);
            every.tick().await;
            loop {
                every.tick().await;
                match tokio::time::timeout(KEEPALIVE, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "redis backplane ping failed");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!("redis backplane ping unanswered");
                        return;
                    }
                }
            }
        };
        let messages = messages
            .map(|m| m.get_payload_bytes().to_vec())
            .take_until(alive);
        Ok(messages.boxed())
    }
}

#[cfg(feature = "ws")]
impl Engine for Redis {
    fn publish<'a>(
        &'a self,
        batch: &'a [(String, Vec<u8>)],
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let mut pipe = redis::pipe();
            for (channel, bytes) in batch {
                pipe.cmd("PUBLISH")
                    .arg(channel)
                    .arg(bytes.as_slice())
                    .ignore();
            }
            let result = pipe.query_async::<()>(&mut conn).await.map_err(unavailable);
            if result.is_err() {
                self.reset().await;
            }
            result
        })
    }

    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<BoxStream<'static, Vec<u8>>, BackplaneError>> {
        Box::pin(Redis::subscribe(self, channels))
    }
}
