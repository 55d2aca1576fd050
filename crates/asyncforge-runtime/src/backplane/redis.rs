//! The Redis backplane: `PUBLISH` on one multiplexed connection (a `ConnectionManager`, which
//! reconnects by itself), a dedicated pub/sub connection per hub for the subscription, pinged
//! so that a peer gone silent is noticed.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{BackplaneError, BoxFuture, Engine, Failure};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the subscription's connection is pinged, and how long an answer may take.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub(super) struct Redis {
    client: redis::Client,
    /// The publishing connection, made on the first publish (only the publishing task uses it).
    publisher: tokio::sync::Mutex<Option<ConnectionManager>>,
}

fn unavailable(e: redis::RedisError) -> BackplaneError {
    BackplaneError::new(Failure::Unavailable, format!("redis: {e}"))
}

impl Redis {
    pub(super) fn new(url: &str) -> Result<Self, BackplaneError> {
        let client = redis::Client::open(url)
            .map_err(|e| BackplaneError::new(Failure::Config, format!("redis URL: {e}")))?;
        Ok(Redis {
            client,
            publisher: tokio::sync::Mutex::new(None),
        })
    }
}

impl Engine for Redis {
    fn publish<'a>(
        &'a self,
        batch: &'a [(String, Vec<u8>)],
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        Box::pin(async move {
            let mut publisher = self.publisher.lock().await;
            let conn = match &mut *publisher {
                Some(conn) => conn,
                slot => {
                    // No retries inside the manager: a publish fails at once when Redis is
                    // down (the caller hears of it), and the next publish tries again.
                    let config = ConnectionManagerConfig::new()
                        .set_number_of_retries(0)
                        .set_connection_timeout(Some(CONNECT_TIMEOUT));
                    let conn = self
                        .client
                        .get_connection_manager_with_config(config)
                        .await
                        .map_err(unavailable)?;
                    slot.insert(conn)
                }
            };
            let mut pipe = redis::pipe();
            for (channel, bytes) in batch {
                pipe.cmd("PUBLISH")
                    .arg(channel)
                    .arg(bytes.as_slice())
                    .ignore();
            }
            let result = pipe.query_async::<()>(conn).await.map_err(unavailable);
            if result.is_err() {
                // A fresh connection for the next publish.
                *publisher = None;
            }
            result
        })
    }

    fn subscribe<'a>(
        &'a self,
        channels: &'a [String],
    ) -> BoxFuture<'a, Result<BoxStream<'static, Vec<u8>>, BackplaneError>> {
        Box::pin(async move {
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
        })
    }
}
