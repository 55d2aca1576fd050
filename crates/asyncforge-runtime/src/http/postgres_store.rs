//! A Postgres-backed [`IdempotencyStore`] (feature `postgres`): receiver instances behind a
//! load balancer share the ids they processed, in one table.
//!
//! One row per id: `(key, token, done, expires_at)`. A claim is one statement, an insert
//! that takes over only an expired row (`ON CONFLICT … DO UPDATE … WHERE expires_at <
//! now()`), so two receivers claiming at once cannot both win. Completing marks the row done
//! and keeps it for the TTL; releasing deletes it only while it still holds the caller's token,
//! so a receiver whose lease expired cannot release a claim another receiver took since.
//! Expiry is measured on the database's clock, which every receiver shares. Rows expired for
//! longer than a day are pruned now and then by the claims.
//!
//! Each connection makes sure the table exists (`CREATE TABLE IF NOT EXISTS`) and prepares
//! the store's statements once, so a call is one round trip. A lost connection is reported as
//! a [`StoreError`] (the receiver answers 503 and the sender retries) and the next call
//! connects again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

use super::idempotency::{BoxFuture, Claim, IdempotencyStore, StoreError};

/// Claims between two prunes of long-expired rows.
const PRUNE_EVERY: u64 = 1024;

/// The Postgres store. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: String,
    table: String,
    conn: Mutex<Option<Arc<Conn>>>,
    claims: AtomicU64,
}

/// A connection and the store's statements, prepared on it.
struct Conn {
    client: Client,
    claim: Statement,
    state: Statement,
    complete: Statement,
    release: Statement,
    prune: Statement,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.inner.table)
            .finish_non_exhaustive()
    }
}

fn err(e: tokio_postgres::Error) -> StoreError {
    // A server error's own message ("terminating connection due to administrator command"),
    // not only "db error".
    match e.as_db_error() {
        Some(db) => StoreError(format!("Postgres: {} ({})", db.message(), db.code().code())),
        None => StoreError(format!("Postgres: {e}")),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// Whether `name` is a plain SQL identifier (it is written into statements unquoted).
fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

impl PostgresStore {
    /// Connects with a libpq-style configuration (`host=127.0.0.1 user=app dbname=app` or
    /// `postgresql://app@127.0.0.1/app`) and creates `table` if it does not exist. `table` is
    /// a plain identifier: lowercase letters, digits and `_`.
    pub async fn connect(config: &str, table: &str) -> Result<PostgresStore, StoreError> {
        if !plain_identifier(table) {
            return Err(StoreError(format!(
                "`{table}` is not a plain table name (lowercase letters, digits, `_`)"
            )));
        }
        let store = PostgresStore {
            inner: Arc::new(Inner {
                config: config.to_owned(),
                table: table.to_owned(),
                conn: Mutex::new(None),
                claims: AtomicU64::new(0),
            }),
        };
        store.conn().await?;
        Ok(store)
    }

    /// The live connection, connecting again (and preparing the statements) when the last
    /// one is gone.
    async fn conn(&self) -> Result<Arc<Conn>, StoreError> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(c.clone());
        }
        let (client, connection) = tokio_postgres::connect(&self.inner.config, NoTls)
            .await
            .map_err(err)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "idempotency store: Postgres connection ended");
            }
        });
        let table = &self.inner.table;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    key text PRIMARY KEY,
                    token text,
                    done boolean NOT NULL DEFAULT false,
                    expires_at timestamptz NOT NULL
                )"
            ))
            .await
            .map_err(err)?;
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await.map_err(err) }
        };
        let claim = prepare(format!(
            "INSERT INTO {table} AS t (key, token, done, expires_at)
             VALUES ($1, $2, false, now() + $3::bigint * interval '1 millisecond')
             ON CONFLICT (key) DO UPDATE
                SET token = EXCLUDED.token, done = false, expires_at = EXCLUDED.expires_at
                WHERE t.expires_at < now()
             RETURNING token"
        ))
        .await?;
        let state = prepare(format!(
            "SELECT done FROM {table} WHERE key = $1 AND expires_at >= now()"
        ))
        .await?;
        let complete = prepare(format!(
            "INSERT INTO {table} AS t (key, token, done, expires_at)
             VALUES ($1, NULL, true, now() + $2::bigint * interval '1 millisecond')
             ON CONFLICT (key) DO UPDATE
                SET token = NULL, done = true, expires_at = EXCLUDED.expires_at"
        ))
        .await?;
        let release = prepare(format!(
            "DELETE FROM {table} WHERE key = $1 AND token = $2 AND NOT done"
        ))
        .await?;
        let prune = prepare(format!(
            "DELETE FROM {table} WHERE expires_at < now() - interval '1 day'"
        ))
        .await?;
        let conn = Arc::new(Conn {
            client,
            claim,
            state,
            complete,
            release,
            prune,
        });
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Deletes rows that expired more than a day ago (a claim takes over an expired row by
    /// itself; this only keeps ids that never come back from piling up).
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let c = self.conn().await?;
        c.client.execute(&c.prune, &[]).await.map_err(err)
    }
}

impl IdempotencyStore for PostgresStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            if self.inner.claims.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1
                && let Err(e) = self.prune().await
            {
                tracing::warn!(error = %e, "idempotency store: pruning failed");
            }
            let c = self.conn().await?;
            let token = uuid::Uuid::new_v4().simple().to_string();
            let claimed = c
                .client
                .query_opt(&c.claim, &[&key, &token, &millis(lease)])
                .await
                .map_err(err)?;
            if claimed.is_some() {
                return Ok(Claim::Claimed(token));
            }
            let current = c.client.query_opt(&c.state, &[&key]).await.map_err(err)?;
            Ok(match current.map(|row| row.get::<_, bool>(0)) {
                Some(true) => Claim::Done,
                Some(false) => Claim::InProgress,
                // Expired between the two statements: the caller's retry claims it.
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
            let c = self.conn().await?;
            c.client
                .execute(&c.complete, &[&key, &millis(ttl)])
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
            let c = self.conn().await?;
            c.client
                .execute(&c.release, &[&key, &token])
                .await
                .map_err(err)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::plain_identifier;

    #[test]
    fn table_names_are_plain_identifiers() {
        assert!(plain_identifier("asyncforge_webhook_ids"));
        assert!(plain_identifier("_t1"));
        for bad in [
            "",
            "1t",
            "T",
            "a-b",
            "a;drop table x",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(!plain_identifier(bad), "{bad}");
        }
    }
}
