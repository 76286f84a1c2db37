//! The PostgreSQL side of `PostgresMessageStore`: plain Rust over `tokio-postgres`, no
//! Node types. Unlike the journal it is the store itself: every check that depends on
//! other processes (positions, expected revisions, counters) runs inside PostgreSQL,
//! in the append function of `schema.rs`, so that any number of processes share one
//! store. What does not depend on them (a message's fields, its type, its stored text)
//! is worked out here with the engine's own code, so every store decides alike.

mod history;
pub mod listen;
mod reads;
pub mod schema;
pub mod target;
pub mod tls;

pub use reads::MessageRow;
pub use target::{Failure, Target};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use crate::engine::json;
use crate::engine::{JsonString, MessageKind, Millis};

/// Why a call to the server failed.
#[derive(Debug)]
pub enum PgError {
    /// The connection string does not parse, or names an invalid schema.
    Config(String),
    /// No connection could be made: `failure` says why.
    Connect { target: String, reason: String, failure: Failure },
    /// The connection broke, or a statement failed.
    Query(String),
    /// The server no longer accepts writes (it became a standby): another of the
    /// connection string's hosts may.
    ReadOnly(String),
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Config(why) => write!(f, "{why}"),
            PgError::Connect { target, reason, failure } => match failure.what() {
                Some(what) => write!(f, "cannot connect to PostgreSQL at {target}: {what}: {reason}"),
                None => write!(f, "cannot connect to PostgreSQL at {target}: {reason}"),
            },
            PgError::Query(why) | PgError::ReadOnly(why) => write!(f, "PostgreSQL: {why}"),
        }
    }
}

impl std::error::Error for PgError {}

fn query_error(e: tokio_postgres::Error) -> PgError {
    // The server's own text (e.g. "terminating connection due to administrator
    // command") when it sent one.
    match e.as_db_error() {
        Some(db) if db.code() == &SqlState::READ_ONLY_SQL_TRANSACTION => PgError::ReadOnly(db.message().to_owned()),
        Some(db) => PgError::Query(db.message().to_owned()),
        None => PgError::Query(e.to_string()),
    }
}

/// One save of a group, as the append function takes it.
pub struct Save {
    /// The stream's JSON literal.
    pub stream: String,
    pub expected: Option<i64>,
    pub time: Millis,
    /// The current session's id literal, or `"no-session"`.
    pub session: String,
    pub messages: Vec<Message>,
}

/// One message of a save, decided and written out as every store does.
pub struct Message {
    pub kind: MessageKind,
    pub type_literal: String,
    pub correlation_id: Option<String>,
    pub request_id: Option<String>,
    /// The text as stored: `timestamp` added when the caller gave none.
    pub body: String,
}

impl Message {
    /// Reads a message's JSON text (checked by JavaScript already) the engine's way.
    pub fn new(text: &str, stream: &JsonString, given: Option<MessageKind>, time: Millis) -> Result<Message, String> {
        let fields = crate::engine::fields::Fields::parse(text)?;
        let kind = fields.kind(given, stream.kind_from_name());
        let body = if fields.has_timestamp {
            fields.text.to_owned()
        } else {
            let mut out = String::with_capacity(fields.text.len() + 40);
            crate::engine::fields::push_stamped(&mut out, fields.text, time);
            out
        };
        Ok(Message {
            kind,
            type_literal: fields.name.to_owned(),
            correlation_id: fields.correlation_id.map(str::to_owned),
            request_id: fields.request_id.map(str::to_owned),
            body,
        })
    }
}

/// A statement's parameters with their types: every statement is sent unnamed, with
/// its types given (`query_typed`), in one round trip, and nothing is left prepared on
/// the server (which a pooler in transaction mode would hand to another client).
type Params<'a> = [(&'a (dyn ToSql + Sync), Type)];

/// One connection to the store's schema.
pub struct Pg {
    client: Client,
    schema: String,
    /// Rows this store instance's steps moved out of `pending` since it was last
    /// vacuumed (shared by its connections; see `sequence`).
    moved: Arc<AtomicU64>,
}

/// How many rows the steps move out of `pending` between two `VACUUM`s of it. Each
/// moved row leaves a dead one behind, which every step's check for pending rows scans
/// until vacuumed: autovacuum may come a minute later, by which time a busy store has
/// left tens of thousands (measured: 1,000,000 dead rows made every read 30 ms slower).
const VACUUM_EVERY: u64 = 10_000;

impl Pg {
    /// Connects; with `setup`, also creates the schema if it is absent (once, however
    /// many processes start at the same time) or brings it up to this version.
    pub async fn connect(target: &Target, schema: &str, setup: bool, moved: Arc<AtomicU64>) -> Result<Pg, PgError> {
        if !schema::valid_schema(schema) {
            return Err(PgError::Config(format!(
                "schema must be a lower-case SQL name (a-z, 0-9, _; at most 63), got {schema:?}"
            )));
        }
        let (client, connection) = target.connect().await?;
        tokio::spawn(async move {
            // Ends when the connection does; the client then reports it closed.
            let _ = connection.await;
        });
        let pg = Pg { client, schema: schema.to_owned(), moved };
        if setup {
            pg.set_up().await?;
        }
        Ok(pg)
    }

    /// Created once, under an advisory lock, and only when absent: DDL on tables other
    /// processes are writing to would take locks that deadlock with them.
    async fn set_up(&self) -> Result<(), PgError> {
        let schema = &self.schema;
        let run = async {
            self.client.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({})", schema::SETUP_LOCK)).await?;
            let regclass = "SELECT to_regclass($1) IS NOT NULL";
            let store = format!("\"{schema}\".store");
            let exists: bool = self.client.query_typed(regclass, &[(&store, Type::TEXT)]).await?[0].get(0);
            if !exists {
                self.client.batch_execute(&schema::create(schema)).await?;
            } else {
                let version_table = format!("\"{schema}\".version");
                let marked: bool = self.client.query_typed(regclass, &[(&version_table, Type::TEXT)]).await?[0].get(0);
                let version: i32 = if marked {
                    let sql = format!("SELECT coalesce(max(version), 1) FROM {version_table}");
                    self.client.query_typed(&sql, &[]).await?[0].get(0)
                } else {
                    1
                };
                // A schema made by an earlier version is brought up to this one; one
                // made by a later version is left as it is.
                if version < schema::VERSION {
                    self.client.batch_execute(&schema::upgrade(schema, version)).await?;
                }
            }
            self.client.batch_execute("COMMIT").await
        };
        self.transaction(run).await
    }

    /// Awaits `run`, a transaction it began and commits; a failed one is rolled back,
    /// so that it is not left open on a connection that still works.
    async fn transaction(
        &self,
        run: impl std::future::Future<Output = Result<(), tokio_postgres::Error>>,
    ) -> Result<(), PgError> {
        match run.await {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(query_error(e))
            }
        }
    }

    /// Runs one statement, unnamed (see `Params`).
    async fn rows(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, PgError> {
        self.client.query_typed(sql, params).await.map_err(query_error)
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    fn t(&self, table: &str) -> String {
        format!("\"{}\".{table}", self.schema)
    }

    /// Appends a group of saves in one statement (one round trip, one transaction),
    /// without positions (`sequence` gives them); returns the append function's
    /// outcome. `batch` identifies the group, so that a retry after a lost reply
    /// returns the first outcome instead of applying twice.
    pub async fn append(&self, batch: &str, saves: &[Save]) -> Result<String, PgError> {
        let s_stream: Vec<&str> = saves.iter().map(|s| s.stream.as_str()).collect();
        let s_expected: Vec<Option<i64>> = saves.iter().map(|s| s.expected).collect();
        let s_count: Vec<i32> = saves.iter().map(|s| s.messages.len() as i32).collect();
        let s_time: Vec<i64> = saves.iter().map(|s| s.time).collect();
        let s_session: Vec<&str> = saves.iter().map(|s| s.session.as_str()).collect();
        let all = || saves.iter().flat_map(|s| s.messages.iter());
        let m_kind: Vec<i16> = all().map(|m| m.kind.code() as i16).collect();
        let m_type: Vec<&str> = all().map(|m| m.type_literal.as_str()).collect();
        let m_correlation: Vec<Option<&str>> = all().map(|m| m.correlation_id.as_deref()).collect();
        let m_request: Vec<Option<&str>> = all().map(|m| m.request_id.as_deref()).collect();
        let m_body: Vec<&str> = all().map(|m| m.body.as_str()).collect();
        let sql = format!("SELECT {}.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", self.quoted());
        let applied = self
            .client
            .query_typed(
                &sql,
                &[
                    (&batch, Type::TEXT),
                    (&s_stream, Type::TEXT_ARRAY),
                    (&s_expected, Type::INT8_ARRAY),
                    (&s_count, Type::INT4_ARRAY),
                    (&s_time, Type::INT8_ARRAY),
                    (&s_session, Type::TEXT_ARRAY),
                    (&m_kind, Type::INT2_ARRAY),
                    (&m_type, Type::TEXT_ARRAY),
                    (&m_correlation, Type::TEXT_ARRAY),
                    (&m_request, Type::TEXT_ARRAY),
                    (&m_body, Type::TEXT_ARRAY),
                ],
            )
            .await;
        match applied {
            Ok(rows) => Ok(rows[0].get(0)),
            // Applied before (its reply was lost): this try was undone; the first outcome stands.
            Err(e) if e.as_db_error().is_some_and(|d| d.constraint() == Some("batches_pkey")) => {
                let sql = format!("SELECT outcome FROM {} WHERE id = $1", self.t("batches"));
                Ok(self.rows(&sql, &[(&batch, Type::TEXT)]).await?[0].get(0))
            }
            Err(e) => Err(query_error(e)),
        }
    }

    /// One sequencing step (`schema.rs`): positions every committed pending message,
    /// from any process. Returns the positions it gave, `(from, to]`, if any.
    /// Every `VACUUM_EVERY` rows moved, the step's caller vacuums `pending` (a role
    /// that does not own it gets a warning, not an error).
    pub async fn sequence(&self) -> Result<Option<(i64, i64)>, PgError> {
        let sql = format!("SELECT {}.sequence()", self.quoted());
        let text: String = self.rows(&sql, &[]).await?[0].get(0);
        let step: Option<(i64, i64)> = text.split_once(' ').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        if let Some((from, to)) = step {
            let n = (to - from).max(0) as u64;
            if self.moved.fetch_add(n, Ordering::AcqRel) + n >= VACUUM_EVERY {
                self.moved.store(0, Ordering::Release);
                let _ = self.client.batch_execute(&format!("VACUUM {}.pending", self.quoted())).await;
            }
        }
        Ok(step)
    }

    /// Runs `read` after a sequencing step sent just before it on this connection
    /// (pipelined: no extra round trip; a step with nothing pending returns at once),
    /// so that it sees every append committed before it was sent, from any process.
    /// The step's own failure is not the read's: a role that may only read (or a step
    /// that failed for another reason) reads what is positioned.
    pub async fn after_step<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, PgError>>,
    ) -> Result<T, PgError> {
        // `join!` polls the step first, which sends it first.
        let (_, out) = tokio::join!(self.sequence(), read);
        out
    }

    /// The schema's name, quoted for SQL.
    fn quoted(&self) -> String {
        format!("\"{}\"", self.schema)
    }

    pub async fn create_session(&self, id: &str, stream: &str, now: Millis) -> Result<(), PgError> {
        let sql = format!("SELECT {}.create_session($1, $2, $3)", self.quoted());
        self.rows(&sql, &[(&id, Type::TEXT), (&stream, Type::TEXT), (&now, Type::INT8)]).await?;
        Ok(())
    }

    pub async fn end_session(&self, id: &str, now: Millis) -> Result<(), PgError> {
        let sql = format!("UPDATE {} SET last_activity = $2 WHERE id = $1", self.t("sessions"));
        self.rows(&sql, &[(&id, Type::TEXT), (&now, Type::INT8)]).await?;
        Ok(())
    }

    /// Empties the schema's tables, for every process that shares them, and announces
    /// it on the schema's channel as `reset <token>` (the caller's token, so that it
    /// can tell its own reset from another process's).
    pub async fn reset(&self, token: &str) -> Result<(), PgError> {
        let s = format!("\"{}\"", self.schema);
        let empty = format!(
            "TRUNCATE {s}.messages, {s}.pending, {s}.streams, {s}.stream_positions, {s}.sessions, {s}.batches; \
             UPDATE {s}.store SET position = 0, streams = 0, sessions = 0, commands = 0, events = 0, bytes = 0, oldest = NULL, newest = NULL WHERE id;"
        );
        // The reset is marked in `batches` by its token, as an append is by its batch id:
        // sent again after a lost reply, it is not applied twice (which would empty what
        // other processes saved in between).
        let mark = format!("reset {token}");
        let run = async {
            // After any sequencing step, which would otherwise write into emptied tables.
            self.client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({}); SELECT 1 FROM {s}.store WHERE id FOR UPDATE;",
                    schema::SEQUENCE_LOCK
                ))
                .await?;
            let done = format!("SELECT 1 FROM {s}.batches WHERE id = $1");
            if self.client.query_typed(&done, &[(&mark, Type::TEXT)]).await?.is_empty() {
                self.client.batch_execute(&empty).await?;
                let record = format!("INSERT INTO {s}.batches (id, outcome) VALUES ($1, '')");
                self.client.query_typed(&record, &[(&mark, Type::TEXT)]).await?;
                let channel = schema::channel(&self.schema);
                self.client
                    .query_typed("SELECT pg_notify($1, $2)", &[(&channel, Type::TEXT), (&mark, Type::TEXT)])
                    .await?;
            }
            self.client.batch_execute("COMMIT").await
        };
        self.transaction(run).await
    }
}

/// Decodes a name literal for a message that quotes it (error texts).
pub fn name_of(literal: &str) -> String {
    json::decode_lossy(literal)
}
