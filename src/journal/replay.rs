//! Reading a file back: checking that it is ours and of a version this code reads,
//! replaying its chunks (or a version 1 file's rows) into a new engine, and migrating
//! a version 1 file to the current layout.

use super::chunk;
use super::commit::{chunks_of, insert_chunks};
use super::error::JournalError;
use super::names;
use super::schema::{APPLICATION_ID, CREATE_CHUNKS, MESSAGES_V1, SCHEMA_VERSION};
use super::sqlite::{Journal, Written};
use crate::engine::{Engine, MessageKind};

impl Journal {
    /// A new file is empty; an existing one must carry our application id and a
    /// schema version we read. Returns the file's version (that of this code for a new file).
    pub(super) fn check_ours(&self) -> Result<i64, JournalError> {
        let app: i64 = self.conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(self.io())?;
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(self.io())?;
        let tables: i64 =
            self.conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(self.io())?;
        if app == 0 && version == 0 && tables == 0 {
            return Ok(SCHEMA_VERSION);
        }
        if app != APPLICATION_ID {
            return Err(JournalError::NotOurs {
                path: self.path.clone(),
                reason: format!("a SQLite database of another application (application_id {app})"),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(JournalError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < 1 {
            return Err(JournalError::Corrupt { path: self.path.clone(), reason: format!("schema version {version}") });
        }
        Ok(version)
    }

    /// Replays the file (of schema `version`) into a new engine. A writer then migrates
    /// a version 1 file (`migrate_v1`).
    pub(super) fn load(&mut self, version: i64) -> Result<Engine, JournalError> {
        let mut engine = Engine::new();
        let (streams, sessions) = names::read(&self.conn, &self.path)?;
        for (name, created) in streams {
            engine.restore_stream(name, created);
        }
        for s in &sessions {
            engine.restore_session(s.id.clone(), s.started_at);
        }
        let count = if version == 1 { self.load_v1_messages(&mut engine)? } else { self.load_chunks(&mut engine)? };

        for s in &sessions {
            engine.restore_session_activity(&s.id, s.last_activity);
        }
        self.written = Written {
            streams: engine.stream_count(),
            sessions: sessions.len(),
            messages: count,
            touched: engine.touch_mark(),
        };
        Ok(engine)
    }

    /// Replays the chunks; returns the last position.
    fn load_chunks(&self, engine: &mut Engine) -> Result<u64, JournalError> {
        self.load_chunks_after(engine, 0)
    }

    /// Replays the messages after position `have` (which the engine holds); returns the
    /// last position. The chunk holding `have + 1` may start before it (the follower of
    /// a file whose chunks were rewritten): its messages up to `have` are skipped.
    pub(super) fn load_chunks_after(&self, engine: &mut Engine, have: u64) -> Result<u64, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt { path: self.path.clone(), reason };
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT first, count, encoding, meta, bodies FROM chunks
                 WHERE first >= (SELECT coalesce(max(first), 1) FROM chunks WHERE first <= ?1 + 1) ORDER BY first",
            )
            .map_err(self.io())?;
        let mut rows = q.query([have as i64]).map_err(self.io())?;
        let mut last = have;
        let mut skip_allowed = true;
        while let Some(row) = rows.next().map_err(self.io())? {
            let first: i64 = row.get(0).map_err(self.io())?;
            let count: i64 = row.get(1).map_err(self.io())?;
            let encoding: i64 = row.get(2).map_err(self.io())?;
            let meta =
                row.get_ref(3).map_err(self.io())?.as_blob().map_err(|e| corrupt(format!("chunk {first}: {e}")))?;
            let stored =
                row.get_ref(4).map_err(self.io())?.as_bytes().map_err(|e| corrupt(format!("chunk {first}: {e}")))?;
            let bodies = chunk::unpack(encoding, stored, meta).map_err(|e| corrupt(format!("chunk {first} {e}")))?;
            let starts_inside = skip_allowed && first >= 1 && (first as u64) <= last;
            skip_allowed = false;
            if first as u64 != last + 1 && !starts_inside {
                return Err(corrupt(format!("positions skip from {last} to {first}")));
            }
            let count = u32::try_from(count).map_err(|_| corrupt(format!("chunk {first} counts {count} messages")))?;
            let entries = chunk::decode(count, meta, &bodies).map_err(|e| corrupt(format!("chunk {first} {e}")))?;
            let skip = if starts_inside { (last + 1 - first as u64) as usize } else { 0 };
            for e in entries.into_iter().skip(skip) {
                let position = last + 1;
                last = engine
                    .restore_message_at(e.stream, e.text, e.kind, e.time, e.session)
                    .map_err(|err| corrupt(format!("message {position}: {err}")))?;
            }
        }
        Ok(last)
    }

    /// Replays version 1's row per message; returns the last position.
    fn load_v1_messages(&self, engine: &mut Engine) -> Result<u64, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt { path: self.path.clone(), reason };
        let mut count = 0u64;
        let mut q = self.conn.prepare(MESSAGES_V1).map_err(self.io())?;
        let mut rows = q.query([]).map_err(self.io())?;
        while let Some(row) = rows.next().map_err(self.io())? {
            let position: i64 = row.get(0).map_err(self.io())?;
            let stream: u32 = row.get(1).map_err(|e| corrupt(format!("message {position}: {e}")))?;
            let kind: i64 = row.get(2).map_err(self.io())?;
            let time: i64 = row.get(3).map_err(self.io())?;
            let session: Option<u32> = row.get(4).map_err(|e| corrupt(format!("message {position}: {e}")))?;
            let body = row.get_ref(5).map_err(self.io())?.as_str().map_err(|e| corrupt(e.to_string()))?;
            let kind = if kind == 0 { MessageKind::Command } else { MessageKind::Event };
            let got = engine
                .restore_message_at(stream, body, kind, time, session)
                .map_err(|e| corrupt(format!("message {position}: {e}")))?;
            if got != position as u64 {
                return Err(corrupt(format!("positions skip from {} to {position}", got - 1)));
            }
            count = got;
        }
        Ok(count)
    }

    /// Rewrites a version 1 file's messages as chunks, in one transaction: a crash
    /// leaves it at version 1, and the next open migrates again.
    pub(super) fn migrate_v1(&mut self, engine: &Engine) -> Result<(), JournalError> {
        let chunks = chunks_of(engine, 1, engine.len() as u64);
        let tx = self.conn.unchecked_transaction().map_err(self.io())?;
        tx.execute_batch(CREATE_CHUNKS).map_err(self.io())?;
        insert_chunks(&tx, &chunks).map_err(self.io())?;
        tx.execute_batch(&format!("DROP TABLE messages; PRAGMA user_version = {SCHEMA_VERSION};"))
            .map_err(self.io())?;
        tx.commit().map_err(self.io())
    }
}
