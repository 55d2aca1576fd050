//! What the Postgres-backed stores share: a few connections per store, used in turn, each
//! made again after it was lost, on which the store's table is created if need be and its
//! statements are prepared once, so a call is one round trip and no SQL is formatted per
//! call. Several connections let concurrent calls commit in parallel: one connection runs its
//! statements, and waits for their commits, one after the other.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// A store's prepared statements (and the table they need).
pub(crate) trait Statements: Sized + Send + Sync + 'static {
    /// What the store is, for log lines.
    const WHAT: &'static str;
    /// Creates `table` if it does not exist and prepares the statements on `client`.
    fn prepare(
        client: &Client,
        table: &str,
    ) -> impl Future<Output = Result<Self, tokio_postgres::Error>> + Send;
}

/// A live connection and the statements prepared on it.
pub(crate) struct Conn<S> {
    pub(crate) client: Client,
    pub(crate) statements: S,
}

/// Connections of one store.
const CONNECTIONS: usize = 4;

/// The connections of one store.
pub(crate) struct Database<S> {
    config: String,
    table: String,
    slots: [Mutex<Option<Arc<Conn<S>>>>; CONNECTIONS],
    next: AtomicUsize,
}

impl<S: Statements> Database<S> {
    /// A store on `table` of the database `config` (libpq style, `host=… user=… dbname=…`, or
    /// a `postgresql://` URL). `table` must be a plain identifier: it is written into
    /// statements unquoted.
    pub(crate) fn new(config: &str, table: &str) -> Result<Self, String> {
        if !plain_identifier(table) {
            return Err(format!(
                "`{table}` is not a plain table name (lowercase letters, digits, `_`)"
            ));
        }
        Ok(Database {
            config: config.to_owned(),
            table: table.to_owned(),
            slots: std::array::from_fn(|_| Mutex::new(None)),
            next: AtomicUsize::new(0),
        })
    }

    /// The table.
    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// The next connection in turn, connected (and its statements prepared) on first use and
    /// again when the last one is gone.
    pub(crate) async fn conn(&self) -> Result<Arc<Conn<S>>, String> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % CONNECTIONS;
        let mut slot = self.slots[turn].lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(c.clone());
        }
        let (client, connection) = tokio_postgres::connect(&self.config, NoTls)
            .await
            .map_err(|e| describe(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "{}: Postgres connection ended", S::WHAT);
            }
        });
        let statements = S::prepare(&client, &self.table)
            .await
            .map_err(|e| describe(&e))?;
        let conn = Arc::new(Conn { client, statements });
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

/// Runs `ddl` (statements that create `table` and what belongs to it, each `IF NOT EXISTS`)
/// in one transaction under an advisory lock named after the table, so that replicas
/// connecting at the same moment do not race to create the same objects (which fails one of
/// them).
pub(crate) async fn create_tables(
    client: &Client,
    table: &str,
    ddl: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(hashtext('asyncforge {table}'));
             {ddl};
             COMMIT"
        ))
        .await
}

/// A Postgres error with the server's own message ("terminating connection due to
/// administrator command"), not only "db error".
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("Postgres: {} ({})", db.message(), db.code().code()),
        None => format!("Postgres: {e}"),
    }
}

/// Whether `name` is a plain SQL identifier.
fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
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
