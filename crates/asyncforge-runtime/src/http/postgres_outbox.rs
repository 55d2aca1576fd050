//! A Postgres-backed [`Outbox`] (feature `postgres`): senders on several replicas share one
//! table of pending deliveries and retry whichever delivery is due, whichever replica stored
//! it.
//!
//! One row per pending delivery: `(seq, id, delivery, attempts, not_before, owner,
//! lease_until)`, `delivery` being the delivery as JSON text (it holds the subscriber's
//! secrets, to sign retries: grant the table like any secret store). A claim is one `UPDATE`
//! that takes the row only while no other sender holds an unexpired claim; claiming due
//! deliveries selects them `FOR UPDATE SKIP LOCKED`, so senders polling at once split the rows
//! between them instead of waiting on each other, and Postgres re-checks the claim condition
//! on a row another sender changed meanwhile: two senders never hold one delivery. Claim
//! expiry runs on the database's clock; `not_before` (the earliest next attempt) is the
//! sender's clock in Unix milliseconds. A finished delivery's row is deleted.
//!
//! A lost connection fails the call with [`OutboxError::Database`] and the next call connects
//! again; a delivery whose sender died is taken over once its claim expired.

use std::time::Duration;

use tokio_postgres::{Client, Row, Statement};

use super::idempotency::BoxFuture;
use super::outbox::{Delivery, Lease, Outbox, OutboxError, now_ms};
use super::postgres::{Database, Statements, create_tables, describe};

/// The Postgres outbox.
pub struct PostgresOutbox {
    db: Database<Prepared>,
}

impl std::fmt::Debug for PostgresOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOutbox")
            .field("table", &self.db.table())
            .finish_non_exhaustive()
    }
}

/// The outbox's statements.
struct Prepared {
    put: Statement,
    claim: Statement,
    claim_due: Statement,
    attempt: Statement,
    done: Statement,
    pending: Statement,
}

impl Statements for Prepared {
    const WHAT: &'static str = "outbox";

    async fn prepare(client: &Client, table: &str) -> Result<Self, tokio_postgres::Error> {
        create_tables(
            client,
            table,
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    seq bigserial,
                    id text PRIMARY KEY,
                    delivery text NOT NULL,
                    attempts integer NOT NULL DEFAULT 0,
                    not_before bigint,
                    owner text,
                    lease_until timestamptz
                );
                CREATE INDEX IF NOT EXISTS {table}_seq ON {table} (seq)"
            ),
        )
        .await?;
        let lease = "now() + $LEASE::bigint * interval '1 millisecond'";
        let free = "(owner IS NULL OR lease_until < now())";
        Ok(Prepared {
            put: client
                .prepare(&format!(
                    "INSERT INTO {table} (id, delivery, attempts, not_before, owner, lease_until)
                     VALUES ($1, $2, $3, $4, $5::text,
                             CASE WHEN $5::text IS NULL THEN NULL ELSE {} END)
                     ON CONFLICT (id) DO NOTHING",
                    lease.replace("$LEASE", "$6")
                ))
                .await?,
            claim: client
                .prepare(&format!(
                    "UPDATE {table} SET owner = $2, lease_until = {}
                     WHERE id = $1 AND (owner = $2 OR {free})
                     RETURNING delivery, attempts, not_before",
                    lease.replace("$LEASE", "$3")
                ))
                .await?,
            claim_due: client
                .prepare(&format!(
                    "UPDATE {table} SET owner = $1, lease_until = {}
                     WHERE id IN (
                        SELECT id FROM {table}
                        WHERE {free} AND (not_before IS NULL OR not_before <= $3)
                        ORDER BY seq LIMIT $4
                        FOR UPDATE SKIP LOCKED)
                     RETURNING delivery, attempts, not_before, seq",
                    lease.replace("$LEASE", "$2")
                ))
                .await?,
            attempt: client
                .prepare(&format!(
                    "UPDATE {table} SET attempts = $3, not_before = $4, owner = NULL,
                            lease_until = NULL
                     WHERE id = $1 AND (owner = $2 OR {free})"
                ))
                .await?,
            done: client
                .prepare(&format!("DELETE FROM {table} WHERE id = $1"))
                .await?,
            pending: client
                .prepare(&format!(
                    "SELECT delivery, attempts, not_before FROM {table} ORDER BY seq"
                ))
                .await?,
        })
    }
}

fn err(e: tokio_postgres::Error) -> OutboxError {
    OutboxError::Database(describe(&e))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A delivery from its row: the stored JSON with the row's attempts and next attempt time.
fn delivery(row: &Row) -> Result<Delivery, OutboxError> {
    let text: &str = row.try_get(0).map_err(err)?;
    let mut d: Delivery = serde_json::from_str(text)
        .map_err(|e| OutboxError::Database(format!("a stored delivery is corrupt: {e}")))?;
    let attempts: i32 = row.try_get(1).map_err(err)?;
    d.attempts = u32::try_from(attempts).unwrap_or(0);
    d.not_before_ms = row.try_get(2).map_err(err)?;
    Ok(d)
}

impl PostgresOutbox {
    /// Connects with a libpq-style configuration (`host=127.0.0.1 user=app dbname=app` or
    /// `postgresql://app@127.0.0.1/app`) and creates `table` if it does not exist. `table` is
    /// a plain identifier: lowercase letters, digits and `_`.
    pub async fn connect(config: &str, table: &str) -> Result<PostgresOutbox, OutboxError> {
        let outbox = PostgresOutbox {
            db: Database::new(config, table).map_err(OutboxError::Database)?,
        };
        outbox.db.conn().await.map_err(OutboxError::Database)?;
        Ok(outbox)
    }

    async fn conn(&self) -> Result<std::sync::Arc<super::postgres::Conn<Prepared>>, OutboxError> {
        self.db.conn().await.map_err(OutboxError::Database)
    }
}

impl Outbox for PostgresOutbox {
    fn put<'a>(
        &'a self,
        delivery: &'a Delivery,
        lease: Option<&'a Lease>,
    ) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move {
            let json = serde_json::to_string(delivery)?;
            let attempts = i32::try_from(delivery.attempts).unwrap_or(i32::MAX);
            let owner = lease.map(|l| l.owner.as_str());
            let duration = lease.map_or(1, |l| millis(l.duration));
            let c = self.conn().await?;
            c.client
                .execute(
                    &c.statements.put,
                    &[
                        &delivery.id,
                        &json,
                        &attempts,
                        &delivery.not_before_ms,
                        &owner,
                        &duration,
                    ],
                )
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<Option<Delivery>, OutboxError>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let row = c
                .client
                .query_opt(
                    &c.statements.claim,
                    &[&id, &lease.owner, &millis(lease.duration)],
                )
                .await
                .map_err(err)?;
            row.as_ref().map(delivery).transpose()
        })
    }

    fn claim_due<'a>(
        &'a self,
        lease: &'a Lease,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, OutboxError>> {
        Box::pin(async move {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let c = self.conn().await?;
            let mut rows = c
                .client
                .query(
                    &c.statements.claim_due,
                    &[&lease.owner, &millis(lease.duration), &now_ms(), &limit],
                )
                .await
                .map_err(err)?;
            rows.sort_by_key(|r| r.try_get::<_, i64>(3).unwrap_or(i64::MAX));
            let mut claimed = Vec::with_capacity(rows.len());
            for row in &rows {
                match delivery(row) {
                    Ok(d) => claimed.push(d),
                    // Left claimed: it is tried again, and reported again, when the claim expires.
                    Err(e) => tracing::error!(error = %e, "outbox: skipping a delivery"),
                }
            }
            Ok(claimed)
        })
    }

    fn attempt<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        attempts: u32,
        not_before_ms: i64,
    ) -> BoxFuture<'a, Result<bool, OutboxError>> {
        Box::pin(async move {
            let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
            let c = self.conn().await?;
            let n = c
                .client
                .execute(
                    &c.statements.attempt,
                    &[&id, &owner, &attempts, &not_before_ms],
                )
                .await
                .map_err(err)?;
            Ok(n == 1)
        })
    }

    fn done<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), OutboxError>> {
        Box::pin(async move {
            let c = self.conn().await?;
            c.client
                .execute(&c.statements.done, &[&id])
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn pending(&self) -> BoxFuture<'_, Result<Vec<Delivery>, OutboxError>> {
        Box::pin(async move {
            let c = self.conn().await?;
            let rows = c
                .client
                .query(&c.statements.pending, &[])
                .await
                .map_err(err)?;
            rows.iter().map(delivery).collect()
        })
    }
}
