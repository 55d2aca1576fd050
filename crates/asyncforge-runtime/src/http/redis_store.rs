//! A Redis-backed [`IdempotencyStore`] (feature `redis`): receiver instances behind a load
//! balancer share the ids they processed.
//!
//! One key per id (`<prefix><id>`): `p:<token>` while claimed, with the lease as its expiry
//! (`SET NX PX`, atomic), `d` once processed, with the TTL. Releasing deletes the key only if
//! it still holds the caller's token (a Lua script, atomic), so a receiver whose lease expired
//! cannot release a claim another receiver took since.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::idempotency::{BoxFuture, Claim, IdempotencyStore, StoreError};

const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

/// The Redis store. Cheap to clone (the connection manager reconnects by itself).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    release: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn err(e: redis::RedisError) -> StoreError {
    StoreError(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects to `url` (`redis://127.0.0.1:6379/`); keys are `prefix` + id.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        let conn = ConnectionManager::new(client).await.map_err(err)?;
        Ok(RedisStore {
            conn,
            prefix: prefix.into(),
            release: redis::Script::new(RELEASE),
        })
    }

    fn key(&self, id: &str) -> String {
        format!("{}{}", self.prefix, id)
    }
}

impl IdempotencyStore for RedisStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let k = self.key(key);
            let token = uuid::Uuid::new_v4().simple().to_string();
            let set: Option<String> = redis::cmd("SET")
                .arg(&k)
                .arg(format!("p:{token}"))
                .arg("NX")
                .arg("PX")
                .arg(millis(lease))
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            if set.is_some() {
                return Ok(Claim::Claimed(token));
            }
            let current: Option<String> = redis::cmd("GET")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            Ok(match current.as_deref() {
                Some("d") => Claim::Done,
                Some(_) => Claim::InProgress,
                // Expired between the two commands: the caller's retry claims it.
                None => Claim::InProgress,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        _token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: () = redis::cmd("SET")
                .arg(self.key(key))
                .arg("d")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: i64 = self
                .release
                .key(self.key(key))
                .arg(format!("p:{token}"))
                .invoke_async(&mut conn)
                .await
                .map_err(err)?;
            Ok(())
        })
    }
}
