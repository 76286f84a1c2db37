//! Reads of a schema: a stream, a filtered query (SQL narrows with indexes, then the
//! engine's exact `jsonFilter` test), a subscription's page, the head, and the small
//! records (stream info, stats, sessions), each as the engine's types.

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{Pg, PgError};
use crate::engine::{Filter, JsonString, MessageKind, Millis};

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

impl Pg {
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
                self.rows(&sql, &[(&stream, Type::TEXT), (&from, Type::INT8), (&n, Type::INT8)]).await
            }
            _ => {
                let sql = format!(
                    "SELECT {ROW} FROM {} WHERE stream = $1 AND revision >= $2 ORDER BY revision",
                    self.t("messages")
                );
                self.rows(&sql, &[(&stream, Type::TEXT), (&from, Type::INT8)]).await
            }
        }?;
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
        Ok(self.rows(&sql, &[]).await?[0].get(0))
    }

    /// The position of the stream's message at `revision`, if there is one.
    pub async fn stream_position(&self, stream: &str, revision: i64) -> Result<Option<i64>, PgError> {
        let sql = format!("SELECT position FROM {} WHERE stream = $1 AND revision = $2", self.t("messages"));
        let rows = self.rows(&sql, &[(&stream, Type::TEXT), (&revision, Type::INT8)]).await?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    /// Rows `filter` lets through in position order, limited as asked; with
    /// `Limit::First`, also the last position the SQL returned when it filled the page
    /// (the page reads through it), else `None` (it read through the range).
    async fn select(&self, filter: &Filter, limit: Option<Limit>) -> Result<(Vec<MessageRow>, Option<i64>), PgError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<(Box<dyn ToSql + Sync + Send>, Type)> = Vec::new();
        let mut param = |clause: &str, value: Box<dyn ToSql + Sync + Send>, ty: Type, clauses: &mut Vec<String>| {
            params.push((value, ty));
            clauses.push(clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(kind) = filter.kind {
            param("kind = ?", Box::new(kind.code() as i16), Type::INT2, &mut clauses);
        }
        if let Some(names) = &filter.names {
            let names: Vec<String> = names.iter().map(|n| n.literal().to_owned()).collect();
            param("type = ANY(?)", Box::new(names), Type::TEXT_ARRAY, &mut clauses);
        }
        let text = |s: &JsonString| -> Box<dyn ToSql + Sync + Send> { Box::new(s.literal().to_owned()) };
        if let Some(s) = &filter.stream {
            param("stream = ?", text(s), Type::TEXT, &mut clauses);
        }
        if let Some(s) = &filter.session {
            param("session = ?", text(s), Type::TEXT, &mut clauses);
        }
        if let Some(s) = &filter.correlation_id {
            param("correlation_id = ?", text(s), Type::TEXT, &mut clauses);
        }
        if let Some(s) = &filter.request_id {
            param("request_id = ?", text(s), Type::TEXT, &mut clauses);
        }
        if let Some(p) = filter.from_position {
            param("position >= ?", Box::new(p), Type::INT8, &mut clauses);
        }
        if let Some(p) = filter.to_position {
            param("position <= ?", Box::new(p), Type::INT8, &mut clauses);
        }
        if let Some(t) = filter.from_time {
            param("time >= ?", Box::new(t), Type::INT8, &mut clauses);
        }
        if let Some(t) = filter.to_time {
            param("time <= ?", Box::new(t), Type::INT8, &mut clauses);
        }
        // `jsonFilter` is tested here, on the stored text, after the SQL narrowed by the
        // other fields: no `jsonb` copy of the data is written (it cost every write).
        let exact = filter.json.as_deref();
        let filtered = exact.is_some();
        let mut sql = format!("SELECT {ROW} FROM {}", self.t("messages"));
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        match limit {
            Some(Limit::Last(n)) if !filtered => {
                params.push((Box::new(n), Type::INT8));
                sql =
                    format!("SELECT * FROM ({sql} ORDER BY position DESC LIMIT ${}) q ORDER BY position", params.len());
            }
            Some(Limit::First(n)) => {
                params.push((Box::new(n), Type::INT8));
                sql.push_str(&format!(" ORDER BY position LIMIT ${}", params.len()));
            }
            _ => sql.push_str(" ORDER BY position"),
        }
        let refs: Vec<(&(dyn ToSql + Sync), Type)> =
            params.iter().map(|(p, t)| (p.as_ref() as &(dyn ToSql + Sync), t.clone())).collect();
        let rows = self.rows(&sql, &refs).await?;
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
            "SELECT s.revision, coalesce(p.first_position, 0), coalesce(p.last_position, 0), s.created_at, s.last_updated \
             FROM {} s LEFT JOIN {} p ON p.name = s.name WHERE s.name = $1",
            self.t("streams"),
            self.t("stream_positions")
        );
        let rows = self.rows(&sql, &[(&stream, Type::TEXT)]).await?;
        Ok(rows.first().map(|r| {
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
        let rows = self.rows(&sql, &[]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn stats(&self) -> Result<crate::engine::Stats, PgError> {
        let sql = format!(
            "SELECT position, commands, events, streams, sessions, bytes, oldest, newest FROM {} WHERE id",
            self.t("store")
        );
        let rows = self.rows(&sql, &[]).await?;
        let r = &rows[0];
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

    /// Sessions in creation order, or the one named.
    pub async fn sessions(&self, id: Option<&str>) -> Result<Vec<crate::engine::SessionInfo>, PgError> {
        let cols = "id, started_at, message_count, command_count, event_count, last_activity";
        let rows = match id {
            Some(id) => {
                let sql = format!("SELECT {cols} FROM {} WHERE id = $1", self.t("sessions"));
                self.rows(&sql, &[(&id, Type::TEXT)]).await
            }
            None => {
                let sql = format!("SELECT {cols} FROM {} ORDER BY ordinal", self.t("sessions"));
                self.rows(&sql, &[]).await
            }
        }?;
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
}
