//! The PostgreSQL side of `PostgresMessageStore`: plain Rust over `tokio-postgres`, no
//! Node types. Unlike the journal it is the store itself: every check that depends on
//! other processes (positions, expected revisions, counters) runs inside PostgreSQL,
//! in the append function of `schema.rs`, so that any number of processes share one
//! store. What does not depend on them (a message's fields, its type, its stored text)
//! is worked out here with the engine's own code, so every store decides alike.

pub mod listen;
pub mod schema;

use std::fmt;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::engine::json;
use crate::engine::{Filter, JsonCondition, JsonString, MessageKind, Millis};

/// Why a call to the server failed.
#[derive(Debug)]
pub enum PgError {
    /// The connection string does not parse, or names an invalid schema.
    Config(String),
    /// The server could not be reached or refused the connection.
    Connect { target: String, reason: String },
    /// The connection broke, or a statement failed.
    Query(String),
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Config(why) => write!(f, "{why}"),
            PgError::Connect { target, reason } => write!(f, "cannot connect to PostgreSQL at {target}: {reason}"),
            PgError::Query(why) => write!(f, "PostgreSQL: {why}"),
        }
    }
}

impl std::error::Error for PgError {}

fn query_error(e: tokio_postgres::Error) -> PgError {
    // The server's own text (e.g. "terminating connection due to administrator
    // command") when it sent one.
    match e.as_db_error() {
        Some(db) => PgError::Query(db.message().to_owned()),
        None => PgError::Query(e.to_string()),
    }
}

/// An error and its causes, as one line ("error connecting to server: Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
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
    /// `data` as JSON text for the `jsonb` column, when `jsonb` can hold it.
    pub data: Option<String>,
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
        let data = crate::engine::fields::data_of(&body).filter(|d| jsonb_can_hold(d)).map(str::to_owned);
        Ok(Message {
            kind,
            type_literal: fields.name.to_owned(),
            correlation_id: fields.correlation_id.map(str::to_owned),
            request_id: fields.request_id.map(str::to_owned),
            body,
            data,
        })
    }
}

/// `jsonb` refuses `\u0000` and unpaired surrogate escapes, which `JSON.stringify`
/// writes for a NUL or a lone surrogate; such data stays in the text only.
fn jsonb_can_hold(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = memchr::memmem::find(&b[i..], b"\\u") {
        let hex = &b[i + at + 2..(i + at + 6).min(b.len())];
        if hex.eq_ignore_ascii_case(b"0000")
            || (hex.len() == 4
                && hex[0].eq_ignore_ascii_case(&b'd')
                && (b'8'..=b'f').contains(&hex[1].to_ascii_lowercase()))
        {
            return false;
        }
        i += at + 2;
    }
    true
}

/// How many rows a read returns: the last N (upstream's `count`) or the first N (a
/// subscription's page).
#[derive(Clone, Copy)]
enum Limit {
    Last(i64),
    First(i64),
}

/// A message row, as reads return them.
pub struct MessageRow {
    pub position: i64,
    pub stream: String,
    pub revision: i64,
    pub kind: MessageKind,
    pub time: Millis,
    pub session: String,
    pub body: String,
}

const ROW: &str = "position, stream, revision, kind, time, session, body";

fn message_row(row: &Row) -> MessageRow {
    MessageRow {
        position: row.get(0),
        stream: row.get(1),
        revision: row.get(2),
        kind: MessageKind::from_code(row.get::<_, i16>(3) as u32).unwrap_or(MessageKind::Event),
        time: row.get(4),
        session: row.get(5),
        body: row.get(6),
    }
}

/// One connection to the store's schema.
pub struct Pg {
    client: Client,
    schema: String,
    append: Statement,
}

/// A parsed connection string and the `host:port` it names (for errors).
pub fn config(url: &str) -> Result<(tokio_postgres::Config, String), PgError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e| PgError::Config(format!("the connection string does not parse: {e}")))?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Ok((config, format!("{host}:{port}")))
}

impl Pg {
    /// Connects, and creates the schema if it is absent (once, however many processes
    /// start at the same time).
    pub async fn connect(url: &str, schema: &str) -> Result<Pg, PgError> {
        if !schema::valid_schema(schema) {
            return Err(PgError::Config(format!(
                "schema must be a lower-case SQL name (a-z, 0-9, _; at most 63), got {schema:?}"
            )));
        }
        let (config, target) = config(url)?;
        let (client, connection) =
            config.connect(NoTls).await.map_err(|e| PgError::Connect { target: target.clone(), reason: chain(&e) })?;
        tokio::spawn(async move {
            // Ends when the connection does; the client then reports it closed.
            let _ = connection.await;
        });
        // Created once, under an advisory lock, and only when absent: DDL on tables
        // other processes are writing to would take locks that deadlock with them.
        let setup = async {
            client.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({})", schema::SETUP_LOCK)).await?;
            let store = format!("\"{schema}\".store");
            let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&store]).await?.get(0);
            if !exists {
                client.batch_execute(&schema::create(schema)).await?;
            } else {
                let version_table = format!("\"{schema}\".version");
                let marked: bool =
                    client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&version_table]).await?.get(0);
                let version: i32 = if marked {
                    let sql = format!("SELECT coalesce(max(version), 1) FROM {version_table}");
                    client.query_one(&sql, &[]).await?.get(0)
                } else {
                    1
                };
                // A schema made by an earlier version gets this version's functions;
                // one made by a later version is left as it is.
                if version < schema::VERSION {
                    client.batch_execute(&schema::upgrade(schema)).await?;
                }
            }
            client.batch_execute("COMMIT").await
        };
        setup.await.map_err(query_error)?;
        let append = client
            .prepare(&format!("SELECT \"{schema}\".append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
            .await
            .map_err(query_error)?;
        Ok(Pg { client, schema: schema.to_owned(), append })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    fn t(&self, table: &str) -> String {
        format!("\"{}\".{table}", self.schema)
    }

    /// Appends a group of saves in one statement (one round trip, one transaction);
    /// returns the append function's outcome. `batch` identifies the group, so that a
    /// retry after a lost reply returns the first outcome instead of applying twice.
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
        let m_data: Vec<Option<&str>> = all().map(|m| m.data.as_deref()).collect();
        let row = self
            .client
            .query_one(
                &self.append,
                &[
                    &batch,
                    &s_stream,
                    &s_expected,
                    &s_count,
                    &s_time,
                    &s_session,
                    &m_kind,
                    &m_type,
                    &m_correlation,
                    &m_request,
                    &m_body,
                    &m_data,
                ],
            )
            .await
            .map_err(query_error)?;
        Ok(row.get(0))
    }

    pub async fn read_stream(
        &self,
        stream: &str,
        from: Option<i64>,
        count: Option<i64>,
    ) -> Result<Vec<MessageRow>, PgError> {
        let from = from.unwrap_or(i64::MIN);
        let rows = match count {
            Some(n) if n > 0 => {
                let sql = format!(
                    "SELECT * FROM (SELECT {ROW} FROM {} WHERE stream = $1 AND revision >= $2 ORDER BY revision DESC LIMIT $3) q ORDER BY revision",
                    self.t("messages")
                );
                self.client.query(&sql, &[&stream, &from, &n]).await
            }
            _ => {
                let sql =
                    format!("SELECT {ROW} FROM {} WHERE stream = $1 AND revision >= $2 ORDER BY revision", self.t("messages"));
                self.client.query(&sql, &[&stream, &from]).await
            }
        }
        .map_err(query_error)?;
        Ok(rows.iter().map(message_row).collect())
    }

    /// Every message the filter lets through, in position order, then the last `count`.
    /// The SQL narrows with indexes (and `jsonb` containment for `jsonFilter`); the
    /// exact `jsonFilter` test the other stores apply runs here, on the stored text.
    pub async fn query(&self, filter: &Filter, count: Option<i64>) -> Result<Vec<MessageRow>, PgError> {
        Ok(self.select(filter, count.filter(|&n| n > 0).map(Limit::Last)).await?.0)
    }

    /// A subscription's page: the first `limit` messages `filter` lets through with
    /// positions in `(after, up_to]`, and the position the page reads through.
    pub async fn follow(
        &self,
        filter: &Filter,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> Result<(Vec<MessageRow>, i64), PgError> {
        let mut f = filter.clone();
        f.from_position = Some(f.from_position.map_or(after + 1, |p| p.max(after + 1)));
        f.to_position = Some(f.to_position.map_or(up_to, |p| p.min(up_to)));
        let limit = limit.max(1);
        let (rows, scanned) = self.select(&f, Some(Limit::First(limit))).await?;
        // Rows the SQL returned before the exact `jsonFilter` test: all of them, or a full page.
        let through = match scanned {
            Some(last) => last,
            None => up_to.max(after),
        };
        Ok((rows, through))
    }

    /// The store's last position: every message up to it is committed and visible.
    pub async fn head(&self) -> Result<i64, PgError> {
        let sql = format!("SELECT position FROM {} WHERE id", self.t("store"));
        Ok(self.client.query_one(&sql, &[]).await.map_err(query_error)?.get(0))
    }

    /// The position of the stream's message at `revision`, if there is one.
    pub async fn stream_position(&self, stream: &str, revision: i64) -> Result<Option<i64>, PgError> {
        let sql = format!("SELECT position FROM {} WHERE stream = $1 AND revision = $2", self.t("messages"));
        Ok(self.client.query_opt(&sql, &[&stream, &revision]).await.map_err(query_error)?.map(|r| r.get(0)))
    }

    /// Rows `filter` lets through in position order, limited as asked; with
    /// `Limit::First`, also the last position the SQL returned when it filled the page
    /// (the page reads through it), else `None` (it read through the range).
    async fn select(&self, filter: &Filter, limit: Option<Limit>) -> Result<(Vec<MessageRow>, Option<i64>), PgError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut param = |clause: &str, value: Box<dyn ToSql + Sync + Send>, clauses: &mut Vec<String>| {
            params.push(value);
            clauses.push(clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(kind) = filter.kind {
            param("kind = ?", Box::new(kind.code() as i16), &mut clauses);
        }
        if let Some(names) = &filter.names {
            let names: Vec<String> = names.iter().map(|n| n.literal().to_owned()).collect();
            param("type = ANY(?)", Box::new(names), &mut clauses);
        }
        if let Some(s) = &filter.stream {
            param("stream = ?", Box::new(s.literal().to_owned()), &mut clauses);
        }
        if let Some(s) = &filter.session {
            param("session = ?", Box::new(s.literal().to_owned()), &mut clauses);
        }
        if let Some(s) = &filter.correlation_id {
            param("correlation_id = ?", Box::new(s.literal().to_owned()), &mut clauses);
        }
        if let Some(s) = &filter.request_id {
            param("request_id = ?", Box::new(s.literal().to_owned()), &mut clauses);
        }
        if let Some(p) = filter.from_position {
            param("position >= ?", Box::new(p), &mut clauses);
        }
        if let Some(p) = filter.to_position {
            param("position <= ?", Box::new(p), &mut clauses);
        }
        if let Some(t) = filter.from_time {
            param("time >= ?", Box::new(t), &mut clauses);
        }
        if let Some(t) = filter.to_time {
            param("time <= ?", Box::new(t), &mut clauses);
        }
        // Even `{}` tests the data: it must be an object or an array.
        let exact = filter.json.as_deref();
        if let Some(conditions) = exact {
            // Containment is implied by equality for every value of object data, so it
            // only narrows; array data (index keys, `length`) and data jsonb cannot hold
            // (NULL) are left to the exact test, on the text.
            let entries: Vec<String> = conditions
                .iter()
                .filter_map(|c| match c {
                    JsonCondition::Equals { key, value } if jsonb_can_hold(value) && jsonb_can_hold(key.literal()) => {
                        Some(format!("{}:{}", key.literal(), value))
                    }
                    _ => None,
                })
                .collect();
            if !entries.is_empty() {
                param(
                    "(data @> ?::text::jsonb OR data IS NULL OR jsonb_typeof(data) = 'array')",
                    Box::new(format!("{{{}}}", entries.join(","))),
                    &mut clauses,
                );
            }
        }
        let filtered = exact.is_some();
        let mut sql = format!("SELECT {ROW} FROM {}", self.t("messages"));
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        match limit {
            Some(Limit::Last(n)) if !filtered => {
                params.push(Box::new(n));
                sql =
                    format!("SELECT * FROM ({sql} ORDER BY position DESC LIMIT ${}) q ORDER BY position", params.len());
            }
            Some(Limit::First(n)) => {
                params.push(Box::new(n));
                sql.push_str(&format!(" ORDER BY position LIMIT ${}", params.len()));
            }
            _ => sql.push_str(" ORDER BY position"),
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        let rows = self.client.query(&sql, &refs).await.map_err(query_error)?;
        let mut out: Vec<MessageRow> = rows.iter().map(message_row).collect();
        let scanned = match limit {
            Some(Limit::First(n)) if out.len() as i64 >= n => out.last().map(|m| m.position),
            _ => None,
        };
        if let Some(conditions) = exact {
            out.retain(|m| crate::engine::data_matches(crate::engine::fields::data_of(&m.body), conditions));
            if let Some(Limit::Last(n)) = limit {
                let n = n as usize;
                if out.len() > n {
                    out.drain(..out.len() - n);
                }
            }
        }
        Ok((out, scanned))
    }

    /// `{revision, messageCount, firstPosition, lastPosition, createdAt, lastUpdated}`.
    pub async fn stream_info(&self, stream: &str) -> Result<Option<crate::engine::StreamInfo>, PgError> {
        let sql = format!(
            "SELECT revision, first_position, last_position, created_at, last_updated FROM {} WHERE name = $1",
            self.t("streams")
        );
        let row = self.client.query_opt(&sql, &[&stream]).await.map_err(query_error)?;
        Ok(row.map(|r| {
            let revision: i64 = r.get(0);
            crate::engine::StreamInfo {
                revision,
                message_count: (revision + 1) as u64,
                first_position: r.get::<_, i64>(1) as u64,
                last_position: r.get::<_, i64>(2) as u64,
                created_at: r.get(3),
                last_updated: r.get(4),
            }
        }))
    }

    /// The stream names (JSON literals) in creation order.
    pub async fn streams(&self) -> Result<Vec<String>, PgError> {
        let sql = format!("SELECT name FROM {} ORDER BY ordinal", self.t("streams"));
        let rows = self.client.query(&sql, &[]).await.map_err(query_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn stats(&self) -> Result<crate::engine::Stats, PgError> {
        let sql = format!(
            "SELECT position, commands, events, streams, sessions, bytes, oldest, newest FROM {} WHERE id",
            self.t("store")
        );
        let r = self.client.query_one(&sql, &[]).await.map_err(query_error)?;
        Ok(crate::engine::Stats {
            total_messages: r.get::<_, i64>(0) as u64,
            total_commands: r.get::<_, i64>(1) as u64,
            total_events: r.get::<_, i64>(2) as u64,
            total_streams: r.get::<_, i64>(3) as u64,
            total_sessions: r.get::<_, i64>(4) as u64,
            memory_usage: r.get::<_, i64>(5) as u64,
            oldest_message: r.get(6),
            newest_message: r.get(7),
        })
    }

    pub async fn create_session(&self, id: &str, stream: &str, now: Millis) -> Result<(), PgError> {
        let sql = format!("SELECT \"{}\".create_session($1, $2, $3)", self.schema);
        self.client.execute(&sql, &[&id, &stream, &now]).await.map_err(query_error)?;
        Ok(())
    }

    pub async fn end_session(&self, id: &str, now: Millis) -> Result<(), PgError> {
        let sql = format!("UPDATE {} SET last_activity = $2 WHERE id = $1", self.t("sessions"));
        self.client.execute(&sql, &[&id, &now]).await.map_err(query_error)?;
        Ok(())
    }

    /// Sessions in creation order, or the one named.
    pub async fn sessions(&self, id: Option<&str>) -> Result<Vec<crate::engine::SessionInfo>, PgError> {
        let cols = "id, started_at, message_count, command_count, event_count, last_activity";
        let rows = match id {
            Some(id) => {
                let sql = format!("SELECT {cols} FROM {} WHERE id = $1", self.t("sessions"));
                self.client.query(&sql, &[&id]).await
            }
            None => {
                let sql = format!("SELECT {cols} FROM {} ORDER BY ordinal", self.t("sessions"));
                self.client.query(&sql, &[]).await
            }
        }
        .map_err(query_error)?;
        Ok(rows
            .iter()
            .map(|r| crate::engine::SessionInfo {
                session_id: JsonString::from_literal(r.get::<_, &str>(0)).unwrap_or_else(|| JsonString::new("")),
                started_at: r.get(1),
                message_count: r.get::<_, i64>(2) as u64,
                command_count: r.get::<_, i64>(3) as u64,
                event_count: r.get::<_, i64>(4) as u64,
                last_activity: r.get(5),
            })
            .collect())
    }

    /// Empties the schema's tables, for every process that shares them, and announces
    /// it on the schema's channel as `reset <token>` (the caller's token, so that it
    /// can tell its own reset from another process's).
    pub async fn reset(&self, token: &str) -> Result<(), PgError> {
        let s = format!("\"{}\"", self.schema);
        let sql = format!(
            "BEGIN; SELECT 1 FROM {s}.store WHERE id FOR UPDATE; \
             TRUNCATE {s}.messages, {s}.streams, {s}.sessions, {s}.batches; \
             UPDATE {s}.store SET position = 0, streams = 0, sessions = 0, commands = 0, events = 0, bytes = 0, oldest = NULL, newest = NULL WHERE id;"
        );
        let run = async {
            self.client.batch_execute(&sql).await?;
            let payload = format!("reset {token}");
            self.client.execute("SELECT pg_notify($1, $2)", &[&schema::channel(&self.schema), &payload]).await?;
            self.client.batch_execute("COMMIT").await
        };
        match run.await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Not left open on a connection that still works.
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(query_error(e))
            }
        }
    }
}

/// Decodes a name literal for a message that quotes it (error texts).
pub fn name_of(literal: &str) -> String {
    json::decode_lossy(literal)
}
