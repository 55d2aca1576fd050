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

use tokio_postgres::{Client, Statement};

use super::idempotency::{BoxFuture, Claim, IdempotencyStore, StoreError};
use super::postgres::{Conn, Database, Statements, create_tables, describe};

/// Claims between two prunes of long-expired rows.
const PRUNE_EVERY: u64 = 1024;

/// The Postgres store. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database<Prepared>,
    claims: AtomicU64,
}

/// The store's statements.
struct Prepared {
    claim: Statement,
    state: Statement,
    complete: Statement,
    release: Statement,
    prune: Statement,
}

impl Statements for Prepared {
    const WHAT: &'static str = "idempotency store";

    async fn prepare(client: &Client, table: &str) -> Result<Self, tokio_postgres::Error> {
        create_tables(
            client,
            table,
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    key text PRIMARY KEY,
                    token text,
                    done boolean NOT NULL DEFAULT false,
                    expires_at timestamptz NOT NULL
                )"
            ),
        )
        .await?;
        Ok(Prepared {
            claim: client
                .prepare(&format!(
                    "INSERT INTO {table} AS t (key, token, done, expires_at)
                     VALUES ($1, $2, false, now() + $3::bigint * interval '1 millisecond')
                     ON CONFLICT (key) DO UPDATE
                        SET token = EXCLUDED.token, done = false, expires_at = EXCLUDED.expires_at
                        WHERE t.expires_at < now()
                     RETURNING token"
                ))
                .await?,
            state: client
                .prepare(&format!(
                    "SELECT done FROM {table} WHERE key = $1 AND expires_at >= now()"
                ))
                .await?,
            complete: client
                .prepare(&format!(
                    "INSERT INTO {table} AS t (key, token, done, expires_at)
                     VALUES ($1, NULL, true, now() + $2::bigint * interval '1 millisecond')
                     ON CONFLICT (key) DO UPDATE
                        SET token = NULL, done = true, expires_at = EXCLUDED.expires_at"
                ))
                .await?,
            release: client
                .prepare(&format!(
                    "DELETE FROM {table} WHERE key = $1 AND token = $2 AND NOT done"
                ))
                .await?,
            prune: client
                .prepare(&format!(
                    "DELETE FROM {table} WHERE expires_at < now() - interval '1 day'"
                ))
                .await?,
        })
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.inner.db.table())
            .finish_non_exhaustive()
    }
}

fn err(e: tokio_postgres::Error) -> StoreError {
    StoreError(describe(&e))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl PostgresStore {
    /// Connects with a libpq-style configuration (`host=127.0.0.1 user=app dbname=app` or
    /// `postgresql://app@127.0.0.1/app`) and creates `table` if it does not exist. `table` is
    /// a plain identifier: lowercase letters, digits and `_`.
    pub async fn connect(config: &str, table: &str) -> Result<PostgresStore, StoreError> {
        let store = PostgresStore {
            inner: Arc::new(Inner {
                db: Database::new(config, table).map_err(StoreError)?,
                claims: AtomicU64::new(0),
            }),
        };
        store.conn().await?;
        Ok(store)
    }

    async fn conn(&self) -> Result<Arc<Conn<Prepared>>, StoreError> {
        self.inner.db.conn().await.map_err(StoreError)
    }

    /// Deletes rows that expired more than a day ago (a claim takes over an expired row by
    /// itself; this only keeps ids that never come back from piling up).
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let c = self.conn().await?;
        c.client
            .execute(&c.statements.prune, &[])
            .await
            .map_err(err)
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
                .query_opt(&c.statements.claim, &[&key, &token, &millis(lease)])
                .await
                .map_err(err)?;
            if claimed.is_some() {
                return Ok(Claim::Claimed(token));
            }
            let current = c
                .client
                .query_opt(&c.statements.state, &[&key])
                .await
                .map_err(err)?;
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
                .execute(&c.statements.complete, &[&key, &millis(ttl)])
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
                .execute(&c.statements.release, &[&key, &token])
                .await
                .map_err(err)?;
            Ok(())
        })
    }
}
