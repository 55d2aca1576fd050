//! Resources, lock tokens and change notices in Postgres (feature `postgres`): the resource
//! stores of several replicas share one table, so a conditional write, a lock or a long poll
//! means the same on every replica.
//!
//! One row per resource (or per lock on a resource that does not exist yet): `(store, key,
//! body, version, modified, lock_token, lock_holder, lock_until)`. `version` comes from one
//! sequence per table, which starts at the table's creation time in microseconds, so a version
//! is never handed out twice — not after a delete and re-create, nor after the table was
//! dropped and made again — and the `ETag` is the version. A write is one statement
//! conditional on the version the request's preconditions were evaluated against and on the
//! row's lock (free, expired, or held by the writer's token): the row lock Postgres takes for
//! the statement orders it after every concurrent write or lock of the same resource, and
//! Postgres re-checks the condition on the newest row, so no update is lost and no write
//! passes a lock. A lock is the row's three lock columns, taken by one conditional upsert;
//! expiry is the database's clock. Every write notifies the table's channel (`LISTEN`/
//! `NOTIFY`) with the store and key, and a listener connection per process wakes the long
//! polls waiting on that resource, whichever replica wrote it.
//!
//! A lost connection fails the call (`503` over HTTP) and the next call connects again; the
//! listener reconnects with backoff and wakes every waiter once it listens again, so a change
//! made while it was away is not missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, Client, NoTls, Row, Statement};

use super::lock::{Grant, Held};
use super::postgres::{Database, Statements, create_tables, describe};
use super::resource::ResourceError;
use crate::backoff::Backoff;

/// The resource table of a service, with the connections that use it and the listener that
/// wakes long polls. Share one between the stores of a process
/// ([`ResourceBackend::postgres`](super::resource::ResourceBackend::postgres)).
pub struct PostgresResources {
    db: Database<Prepared>,
    notices: Arc<Notices>,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PostgresResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresResources")
            .field("table", &self.db.table())
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresResources {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// A resource as stored.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub body: Vec<u8>,
    pub version: i64,
    pub modified: SystemTime,
}

/// A resource's row: its current representation, if any, and the lock on it, if live.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub current: Option<Stored>,
    pub lock: Option<(String, Held)>,
}

/// Why a lock operation did not go through.
#[derive(Debug)]
pub(crate) enum LockRefusal {
    /// Another holder has the lock.
    Held(Held),
    /// The lock expired or was released.
    NotLocked,
}

/// The table's statements.
struct Prepared {
    read: Statement,
    count: Statement,
    update: Statement,
    create: Statement,
    set: Statement,
    delete: Statement,
    delete_locked: Statement,
    acquire: Statement,
    refresh: Statement,
    release: Statement,
    forget: Statement,
}

/// The row's lock does not stop a writer carrying token `$N`.
fn lock_free(row: &str, token: &str) -> String {
    format!("({row}.lock_until IS NULL OR {row}.lock_until <= now() OR {row}.lock_token = {token})")
}

/// Wraps a data-changing statement that returns `store, key, version, modified` so that it
/// also notifies the table's channel of each row it changed.
fn notifying(table: &str, statement: &str) -> String {
    format!(
        "WITH w AS ({statement})
         SELECT w.version, w.modified, pg_notify('{table}', {}) IS NULL FROM w",
        notice_payload("w")
    )
}

/// The payload of a change notice: the store and the key, or nothing when it would be longer
/// than `NOTIFY` takes (which wakes every waiter of the process instead).
fn notice_payload(row: &str) -> String {
    format!(
        "CASE WHEN octet_length({row}.store) + octet_length({row}.key) < 7000
              THEN {row}.store || ' ' || {row}.key ELSE '' END"
    )
}

impl Statements for Prepared {
    const WHAT: &'static str = "resources";

    async fn prepare(client: &Client, table: &str) -> Result<Self, tokio_postgres::Error> {
        let start = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(1))
            .unwrap_or(1);
        create_tables(
            client,
            table,
            &format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    store text NOT NULL,
                    key text NOT NULL,
                    body bytea,
                    version bigint NOT NULL,
                    modified timestamptz NOT NULL DEFAULT now(),
                    lock_token text,
                    lock_holder text,
                    lock_until timestamptz,
                    PRIMARY KEY (store, key)
                );
                CREATE SEQUENCE IF NOT EXISTS {table}_version START WITH {start}
                    OWNED BY {table}.version"
            ),
        )
        .await?;
        let next = format!("nextval('{table}_version')");
        let returning = "RETURNING t.store, t.key, t.version, t.modified";
        let ttl = "now() + $4::bigint * interval '1 millisecond'";
        // Writes representation $3 of key $2 in store $1, over whatever the row holds.
        let upsert = format!(
            "INSERT INTO {table} AS t (store, key, body, version, modified)
             VALUES ($1, $2, $3, {next}, now())
             ON CONFLICT (store, key) DO UPDATE
                SET body = EXCLUDED.body, version = EXCLUDED.version,
                    modified = EXCLUDED.modified"
        );
        let unlocked = "(t.lock_until IS NULL OR t.lock_until <= now())";
        Ok(Prepared {
            read: client
                .prepare(&format!(
                    "SELECT body, version, modified, lock_token, lock_holder, lock_until,
                            NOT {unlocked}
                     FROM {table} t WHERE store = $1 AND key = $2"
                ))
                .await?,
            count: client
                .prepare(&format!(
                    "SELECT count(*) FROM {table} WHERE store = $1 AND body IS NOT NULL"
                ))
                .await?,
            // The current representation, if it still has version $3 (any version when NULL)
            // and the lock lets the bearer of token $5 write.
            update: client
                .prepare(&notifying(
                    table,
                    &format!(
                        "UPDATE {table} t SET body = $4, version = {next}, modified = now()
                         WHERE store = $1 AND key = $2 AND body IS NOT NULL
                           AND ($3::bigint IS NULL OR version = $3) AND {}
                         {returning}",
                        lock_free("t", "$5")
                    ),
                ))
                .await?,
            // A new representation where there is none (no row, or only a lock).
            create: client
                .prepare(&notifying(
                    table,
                    &format!(
                        "{upsert} WHERE t.body IS NULL AND {} {returning}",
                        lock_free("t", "$4")
                    ),
                ))
                .await?,
            // The application's own write: past any lock.
            set: client
                .prepare(&notifying(table, &format!("{upsert} {returning}")))
                .await?,
            // Deleting an unlocked resource removes its row.
            delete: client
                .prepare(&notifying(
                    table,
                    &format!(
                        "DELETE FROM {table} t
                         WHERE store = $1 AND key = $2 AND body IS NOT NULL
                           AND ($3::bigint IS NULL OR version = $3) AND {unlocked}
                         {returning}"
                    ),
                ))
                .await?,
            // Deleting under one's own lock keeps the lock.
            delete_locked: client
                .prepare(&notifying(
                    table,
                    &format!(
                        "UPDATE {table} t SET body = NULL, version = {next}, modified = now()
                         WHERE store = $1 AND key = $2 AND body IS NOT NULL
                           AND ($3::bigint IS NULL OR version = $3)
                           AND lock_token = $4 AND lock_until > now()
                         {returning}"
                    ),
                ))
                .await?,
            acquire: client
                .prepare(&format!(
                    "INSERT INTO {table} AS t
                        (store, key, version, lock_token, lock_holder, lock_until)
                     VALUES ($1, $2, {next}, $3, $5, {ttl})
                     ON CONFLICT (store, key) DO UPDATE
                        SET lock_token = EXCLUDED.lock_token,
                            lock_holder = EXCLUDED.lock_holder,
                            lock_until = EXCLUDED.lock_until
                        WHERE {unlocked}
                     RETURNING lock_until"
                ))
                .await?,
            refresh: client
                .prepare(&format!(
                    "UPDATE {table} SET lock_until = {ttl}
                     WHERE store = $1 AND key = $2 AND lock_token = $3 AND lock_until > now()
                     RETURNING lock_holder, lock_until"
                ))
                .await?,
            release: client
                .prepare(&format!(
                    "UPDATE {table} t
                     SET lock_token = NULL, lock_holder = NULL, lock_until = NULL
                     WHERE store = $1 AND key = $2 AND lock_token IS NOT NULL AND {}",
                    lock_free("t", "$3")
                ))
                .await?,
            // A row left with neither a representation nor a live lock.
            forget: client
                .prepare(&format!(
                    "DELETE FROM {table} t
                     WHERE store = $1 AND key = $2 AND body IS NULL AND {unlocked}"
                ))
                .await?,
        })
    }
}

fn unavailable(e: tokio_postgres::Error) -> String {
    describe(&e)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// The version and time of a write that went through, if it did.
fn written(row: Option<Row>) -> Result<Option<(i64, SystemTime)>, String> {
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
        .map_err(unavailable)
}

impl PostgresResources {
    /// Connects with a libpq-style configuration (`host=127.0.0.1 user=app dbname=app` or
    /// `postgresql://app@127.0.0.1/app`), creates `table` if it does not exist, and starts
    /// listening for changes. `table` is a plain identifier: lowercase letters, digits and
    /// `_`. Call inside a Tokio runtime.
    pub async fn connect(config: &str, table: &str) -> Result<PostgresResources, ResourceError> {
        let db = Database::new(config, table).map_err(ResourceError::Unavailable)?;
        db.conn().await.map_err(ResourceError::Unavailable)?;
        let notices = Arc::new(Notices::default());
        let listener = tokio::spawn(listen(
            config.to_owned(),
            table.to_owned(),
            Arc::downgrade(&notices),
        ));
        Ok(PostgresResources {
            db,
            notices,
            listener,
        })
    }

    async fn conn(&self) -> Result<Arc<super::postgres::Conn<Prepared>>, String> {
        self.db.conn().await
    }

    /// The row of `key` in `store`.
    pub(crate) async fn read(&self, store: &str, key: &str) -> Result<Snapshot, String> {
        let c = self.conn().await?;
        let Some(row) = c
            .client
            .query_opt(&c.statements.read, &[&store, &key])
            .await
            .map_err(unavailable)?
        else {
            return Ok(Snapshot::default());
        };
        let body: Option<Vec<u8>> = row.try_get(0).map_err(unavailable)?;
        let current = match body {
            Some(body) => Some(Stored {
                body,
                version: row.try_get(1).map_err(unavailable)?,
                modified: row.try_get(2).map_err(unavailable)?,
            }),
            None => None,
        };
        let live: bool = row.try_get(6).map_err(unavailable)?;
        let lock = if live {
            let token: Option<String> = row.try_get(3).map_err(unavailable)?;
            let holder: Option<String> = row.try_get(4).map_err(unavailable)?;
            let until: Option<SystemTime> = row.try_get(5).map_err(unavailable)?;
            token
                .zip(holder)
                .zip(until)
                .map(|((token, holder), until)| (token, Held { holder, until }))
        } else {
            None
        };
        Ok(Snapshot { current, lock })
    }

    /// How many resources `store` holds.
    pub(crate) async fn count(&self, store: &str) -> Result<usize, String> {
        let c = self.conn().await?;
        let row = c
            .client
            .query_one(&c.statements.count, &[&store])
            .await
            .map_err(unavailable)?;
        let n: i64 = row.try_get(0).map_err(unavailable)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Writes `body` if the resource is as expected — `Some(Some(v))`: it has version `v`;
    /// `Some(None)`: it does not exist; `None`: it exists (any version) — and its lock lets
    /// `token` write. `None` when the resource or its lock was not as expected.
    pub(crate) async fn write(
        &self,
        store: &str,
        key: &str,
        body: &[u8],
        expected: Option<Option<i64>>,
        token: Option<&str>,
    ) -> Result<Option<(i64, SystemTime)>, String> {
        let c = self.conn().await?;
        let s = &c.statements;
        let row = match expected {
            Some(None) => {
                c.client
                    .query_opt(&s.create, &[&store, &key, &body, &token])
                    .await
            }
            Some(Some(v)) => {
                c.client
                    .query_opt(&s.update, &[&store, &key, &Some(v), &body, &token])
                    .await
            }
            None => {
                c.client
                    .query_opt(&s.update, &[&store, &key, &None::<i64>, &body, &token])
                    .await
            }
        }
        .map_err(unavailable)?;
        written(row)
    }

    /// Writes `body` whatever the resource's version and lock.
    pub(crate) async fn set(
        &self,
        store: &str,
        key: &str,
        body: &[u8],
    ) -> Result<(i64, SystemTime), String> {
        let c = self.conn().await?;
        let row = c
            .client
            .query_one(&c.statements.set, &[&store, &key, &body])
            .await
            .map_err(unavailable)?;
        Ok((
            row.try_get(0).map_err(unavailable)?,
            row.try_get(1).map_err(unavailable)?,
        ))
    }

    /// Deletes the resource if it has version `expected` (any when `None`) and its lock
    /// lets `token` write; whether it did.
    pub(crate) async fn delete(
        &self,
        store: &str,
        key: &str,
        expected: Option<i64>,
        token: Option<&str>,
    ) -> Result<bool, String> {
        let c = self.conn().await?;
        let s = &c.statements;
        let row = c
            .client
            .query_opt(&s.delete, &[&store, &key, &expected])
            .await
            .map_err(unavailable)?;
        if row.is_some() {
            return Ok(true);
        }
        let Some(token) = token else {
            return Ok(false);
        };
        let row = c
            .client
            .query_opt(&s.delete_locked, &[&store, &key, &expected, &token])
            .await
            .map_err(unavailable)?;
        Ok(row.is_some())
    }

    /// Locks the resource for `holder` for `ttl`.
    pub(crate) async fn acquire(
        &self,
        store: &str,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Result<Grant, LockRefusal>, String> {
        let token = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let c = self.conn().await?;
        // A lock released between the refused attempt and the read of its holder is tried
        // again.
        for _ in 0..3 {
            let row = c
                .client
                .query_opt(
                    &c.statements.acquire,
                    &[&store, &key, &token, &millis(ttl), &holder],
                )
                .await
                .map_err(unavailable)?;
            if let Some(row) = row {
                return Ok(Ok(Grant {
                    token,
                    holder: holder.to_owned(),
                    until: row.try_get(0).map_err(unavailable)?,
                    ttl,
                }));
            }
            if let Some((_, held)) = self.read(store, key).await?.lock {
                return Ok(Err(LockRefusal::Held(held)));
            }
        }
        Err("the lock changed hands too often to be taken".into())
    }

    /// Extends the lock held with `token` to `ttl` from now.
    pub(crate) async fn refresh(
        &self,
        store: &str,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Result<Grant, LockRefusal>, String> {
        let c = self.conn().await?;
        let row = c
            .client
            .query_opt(&c.statements.refresh, &[&store, &key, &token, &millis(ttl)])
            .await
            .map_err(unavailable)?;
        if let Some(row) = row {
            return Ok(Ok(Grant {
                token: token.to_owned(),
                holder: row.try_get(0).map_err(unavailable)?,
                until: row.try_get(1).map_err(unavailable)?,
                ttl,
            }));
        }
        Ok(Err(match self.read(store, key).await?.lock {
            Some((_, held)) => LockRefusal::Held(held),
            None => LockRefusal::NotLocked,
        }))
    }

    /// Releases the lock held with `token`; releasing a lock that expired or was never
    /// taken succeeds, releasing someone else's is refused.
    pub(crate) async fn release(
        &self,
        store: &str,
        key: &str,
        token: &str,
    ) -> Result<Result<(), LockRefusal>, String> {
        let c = self.conn().await?;
        let s = &c.statements;
        let n = c
            .client
            .execute(&s.release, &[&store, &key, &token])
            .await
            .map_err(unavailable)?;
        if n == 0
            && let Some((other, held)) = self.read(store, key).await?.lock
            && other != token
        {
            return Ok(Err(LockRefusal::Held(held)));
        }
        c.client
            .execute(&s.forget, &[&store, &key])
            .await
            .map_err(unavailable)?;
        Ok(Ok(()))
    }

    /// Waits until the resource no longer has version `known` (changed, deleted, or an error
    /// reading it), at most `timeout`; whether it changed.
    pub(crate) async fn wait_change(
        &self,
        store: &str,
        key: &str,
        known: i64,
        timeout: Duration,
    ) -> bool {
        let mut waiter = self.notices.subscribe(store, key);
        // Read after subscribing: a change made since the caller's read is seen either here
        // or as a notice.
        match self.read(store, key).await {
            Ok(s) if s.current.as_ref().map(|c| c.version) == Some(known) => {}
            _ => return true,
        }
        tokio::time::timeout(timeout, waiter.changed())
            .await
            .is_ok()
    }
}

/// The long polls of one process, by `store key`, and a signal that wakes them all.
#[derive(Default)]
struct Notices {
    keys: Mutex<HashMap<String, watch::Sender<u64>>>,
    all: watch::Sender<u64>,
}

/// One long poll's subscription.
struct Waiter {
    key: watch::Receiver<u64>,
    all: watch::Receiver<u64>,
}

impl Waiter {
    async fn changed(&mut self) {
        tokio::select! {
            _ = self.key.changed() => {}
            _ = self.all.changed() => {}
        }
    }
}

impl Notices {
    fn subscribe(&self, store: &str, key: &str) -> Waiter {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= 1024 {
            keys.retain(|_, tx| tx.receiver_count() > 0);
        }
        let key = keys
            .entry(format!("{store} {key}"))
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Waiter {
            key,
            all: self.all.subscribe(),
        }
    }

    fn notify(&self, payload: &str) {
        if payload.is_empty() {
            self.wake_all();
            return;
        }
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = keys.get(payload) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn wake_all(&self) {
        self.all.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// How often the listener removes rows that hold neither a representation nor a live lock
/// (left by holders that never released a lock on a resource that does not exist).
const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// Listens on the table's channel for as long as the store lives, reconnecting with backoff;
/// wakes every waiter whenever it starts listening again.
async fn listen(config: String, table: String, notices: Weak<Notices>) {
    let mut delays = Backoff::default().delays();
    let sweep = format!(
        "DELETE FROM {table} WHERE body IS NULL AND (lock_until IS NULL OR lock_until <= now())"
    );
    loop {
        if notices.strong_count() == 0 {
            return;
        }
        match tokio_postgres::connect(&config, NoTls).await {
            Ok((client, mut connection)) => {
                let drive = async {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                let Some(notices) = notices.upgrade() else {
                                    return;
                                };
                                notices.notify(n.payload());
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                return tracing::warn!(error = %e, "resources: listener lost");
                            }
                            None => return tracing::warn!("resources: listener closed"),
                        }
                    }
                };
                let work = async {
                    if let Err(e) = client.batch_execute(&format!("LISTEN {table}")).await {
                        tracing::warn!(error = %describe(&e), "resources: LISTEN failed");
                        return;
                    }
                    delays.reset();
                    if let Some(n) = notices.upgrade() {
                        n.wake_all();
                    }
                    let mut every = tokio::time::interval(SWEEP_EVERY);
                    loop {
                        every.tick().await;
                        if let Err(e) = client.execute(sweep.as_str(), &[]).await {
                            tracing::warn!(error = %describe(&e), "resources: sweep failed");
                        }
                    }
                };
                tokio::select! {
                    () = drive => {}
                    () = work => {}
                }
            }
            Err(e) => tracing::warn!(error = %describe(&e), "resources: listener cannot connect"),
        }
        let wait = delays.next().unwrap_or(Duration::from_secs(30));
        tokio::time::sleep(wait).await;
    }
}
