//! `Journal`: one SQLite connection, the engine's state on disk.

use std::io::Read;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::chunk::{self, Chunk, CHUNK_BYTES};
use super::error::JournalError;
use super::schema::{APPLICATION_ID, CREATE_CHUNKS, CREATE_NAMES, MESSAGES_V1, SCHEMA_VERSION, SQLITE_MAGIC};
use crate::engine::{Engine, JsonString, MessageKind, TouchMark};

/// What a save's promise waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Written to the operating system (SQLite WAL, `synchronous=OFF`): survives the
    /// process being killed or crashing, not the machine losing power.
    #[default]
    Process,
    /// Also synced to the disk (`synchronous=FULL`, an fsync per commit): survives
    /// power loss.
    Power,
}

impl Durability {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "process" => Some(Durability::Process),
            "power" => Some(Durability::Power),
            _ => None,
        }
    }
}

/// How far the file has caught up with the engine.
#[derive(Debug, Default)]
struct Written {
    streams: usize,
    sessions: usize,
    messages: u64,
    /// Where in the engine's log of touched sessions the file is: sessions touched
    /// after it need their `last_activity` written.
    touched: TouchMark,
}

pub struct Journal {
    conn: Connection,
    path: String,
    written: Written,
    /// Counts `clear`s, so that a batch prepared before one is not written after it.
    generation: u64,
}

/// What one write adds to the file, copied out of the engine by `Journal::prepare`.
pub struct Batch {
    generation: u64,
    streams: Vec<(i64, String, i64)>,
    sessions: Vec<(i64, String, i64, i64)>,
    activity: Vec<(i64, i64)>,
    chunks: Vec<Chunk>,
    /// How far the file will have caught up once the batch is written.
    after: Written,
}

impl Journal {
    /// Opens (or creates) the file and rebuilds the engine it holds. Refuses, without
    /// writing anything, a file that is not ours or is held by another process.
    pub fn open(path: &str, durability: Durability) -> Result<(Journal, Engine), JournalError> {
        check_magic(path)?;
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(io)?;
        // A second process is refused at once, not after rusqlite's default 5 s wait.
        conn.busy_timeout(std::time::Duration::ZERO).map_err(io)?;
        // Held from the first read to close: a second process cannot read or write.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(io)?;
        let mut journal = Journal { conn, path: path.to_owned(), written: Written::default(), generation: 0 };
        let version = journal.check_ours()?;
        journal.lock()?;
        let conn = &journal.conn;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(io)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::Corrupt {
                path: path.to_owned(),
                reason: format!("cannot use WAL mode (got {mode})"),
            });
        }
        let sync = match durability {
            Durability::Process => "OFF",
            Durability::Power => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(io)?;
        journal.create_schema()?;
        let engine = journal.load(version)?;
        Ok((journal, engine))
    }

    fn io(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        move |source| {
            if source.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                || source.sqlite_error_code() == Some(ErrorCode::DatabaseLocked)
            {
                JournalError::Locked { path: self.path.clone() }
            } else if source.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
                JournalError::NotOurs { path: self.path.clone(), reason: "not a SQLite database".into() }
            } else {
                JournalError::Io { path: self.path.clone(), source }
            }
        }
    }

    /// A new file is empty; an existing one must carry our application id and a
    /// schema version we read. Returns the file's version (that of this code for a new file).
    fn check_ours(&self) -> Result<i64, JournalError> {
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

    /// Takes SQLite's exclusive lock now, and keeps it (locking_mode=EXCLUSIVE).
    fn lock(&self) -> Result<(), JournalError> {
        self.conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;").map_err(self.io())
    }

    fn create_schema(&self) -> Result<(), JournalError> {
        let app: i64 = self.conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(self.io())?;
        if app == APPLICATION_ID {
            return Ok(());
        }
        let sql = format!(
            "BEGIN; {CREATE_NAMES} {CREATE_CHUNKS} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        );
        self.conn.execute_batch(&sql).map_err(self.io())
    }

    /// Replays the file (of schema `version`) into a new engine; a version 1 file is
    /// migrated to the current version on the way.
    fn load(&mut self, version: i64) -> Result<Engine, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt { path: self.path.clone(), reason };
        let mut engine = Engine::new();
        {
            let mut q = self.conn.prepare("SELECT ix, name, created_at FROM streams ORDER BY ix").map_err(self.io())?;
            let mut rows = q.query([]).map_err(self.io())?;
            while let Some(row) = rows.next().map_err(self.io())? {
                let (ix, name, created): (i64, String, i64) =
                    (row.get(0).map_err(self.io())?, row.get(1).map_err(self.io())?, row.get(2).map_err(self.io())?);
                let name =
                    JsonString::from_literal(&name).ok_or_else(|| corrupt(format!("stream {ix} has a bad name")))?;
                if ix as usize != engine.stream_count() {
                    return Err(corrupt(format!("stream numbers skip to {ix}")));
                }
                engine.restore_stream(name, created);
            }
        }
        let mut sessions = Vec::new();
        let mut activity = Vec::new();
        {
            let mut q = self
                .conn
                .prepare("SELECT ix, id, started_at, last_activity FROM sessions ORDER BY ix")
                .map_err(self.io())?;
            let mut rows = q.query([]).map_err(self.io())?;
            while let Some(row) = rows.next().map_err(self.io())? {
                let ix: i64 = row.get(0).map_err(self.io())?;
                let id: String = row.get(1).map_err(self.io())?;
                let started: i64 = row.get(2).map_err(self.io())?;
                let last: i64 = row.get(3).map_err(self.io())?;
                let id = JsonString::from_literal(&id).ok_or_else(|| corrupt(format!("session {ix} has a bad id")))?;
                if ix as usize != sessions.len() {
                    return Err(corrupt(format!("session numbers skip to {ix}")));
                }
                engine.restore_session(id.clone(), started);
                sessions.push(id);
                activity.push(last);
            }
        }
        let count = if version == 1 { self.load_v1_messages(&mut engine)? } else { self.load_chunks(&mut engine)? };

        for (id, &last) in sessions.iter().zip(&activity) {
            engine.restore_session_activity(id, last);
        }
        self.written = Written {
            streams: engine.stream_count(),
            sessions: sessions.len(),
            messages: count,
            touched: engine.touch_mark(),
        };
        if version == 1 {
            self.migrate_v1(&engine)?;
        }
        Ok(engine)
    }

    /// Replays the chunks; returns the last position.
    fn load_chunks(&self, engine: &mut Engine) -> Result<u64, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt { path: self.path.clone(), reason };
        let mut q = self
            .conn
            .prepare("SELECT first, count, encoding, meta, bodies FROM chunks ORDER BY first")
            .map_err(self.io())?;
        let mut rows = q.query([]).map_err(self.io())?;
        let mut last = 0u64;
        while let Some(row) = rows.next().map_err(self.io())? {
            let first: i64 = row.get(0).map_err(self.io())?;
            let count: i64 = row.get(1).map_err(self.io())?;
            let encoding: i64 = row.get(2).map_err(self.io())?;
            let meta =
                row.get_ref(3).map_err(self.io())?.as_blob().map_err(|e| corrupt(format!("chunk {first}: {e}")))?;
            let stored =
                row.get_ref(4).map_err(self.io())?.as_bytes().map_err(|e| corrupt(format!("chunk {first}: {e}")))?;
            let bodies = chunk::unpack(encoding, stored, meta).map_err(|e| corrupt(format!("chunk {first} {e}")))?;
            if first as u64 != last + 1 {
                return Err(corrupt(format!("positions skip from {last} to {first}")));
            }
            let count = u32::try_from(count).map_err(|_| corrupt(format!("chunk {first} counts {count} messages")))?;
            let entries = chunk::decode(count, meta, &bodies).map_err(|e| corrupt(format!("chunk {first} {e}")))?;
            for e in entries {
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
    fn migrate_v1(&mut self, engine: &Engine) -> Result<(), JournalError> {
        let chunks = chunks_of(engine, 1, engine.len() as u64);
        let tx = self.conn.unchecked_transaction().map_err(self.io())?;
        tx.execute_batch(CREATE_CHUNKS).map_err(self.io())?;
        insert_chunks(&tx, &chunks).map_err(self.io())?;
        tx.execute_batch(&format!("DROP TABLE messages; PRAGMA user_version = {SCHEMA_VERSION};"))
            .map_err(self.io())?;
        tx.commit().map_err(self.io())
    }

    /// True when the engine has something the file does not.
    pub fn behind(&self, engine: &Engine) -> bool {
        engine.len() as u64 > self.written.messages
            || engine.stream_count() > self.written.streams
            || engine.session_count() > self.written.sessions
            || engine.touch_mark() != self.written.touched
    }

    /// Writes everything the engine gained since the last write, in one transaction,
    /// synced as the durability level says. On failure nothing of it is in the file,
    /// and a later write tries it again.
    pub fn write(&mut self, engine: &Engine) -> Result<(), JournalError> {
        match self.prepare(engine) {
            Some(batch) => self.commit(batch),
            None => Ok(()),
        }
    }

    /// Copies out of the engine what the file lacks, so that it can be written on
    /// another thread while the engine goes on; `None` when the file is up to date.
    pub fn prepare(&self, engine: &Engine) -> Option<Batch> {
        if !self.behind(engine) {
            return None;
        }
        let streams = (self.written.streams..engine.stream_count())
            .map(|ix| {
                let (name, created) = engine.stream_at(ix).expect("ix < stream_count");
                (ix as i64, name.literal().to_owned(), created)
            })
            .collect();
        let sessions = (self.written.sessions..engine.session_count())
            .map(|ix| {
                let s = engine.session_at(ix).expect("ix < session_count");
                (ix as i64, s.session_id.literal().to_owned(), s.started_at, s.last_activity)
            })
            .collect();
        // Only sessions the file already has need an update; each once, with its value now.
        let mut touched: Vec<u32> =
            engine.touched_since(self.written.touched).filter(|&ix| (ix as usize) < self.written.sessions).collect();
        touched.sort_unstable();
        touched.dedup();
        let activity = touched
            .into_iter()
            .map(|ix| (i64::from(ix), engine.session_at(ix as usize).expect("a touched session exists").last_activity))
            .collect();
        let chunks = chunks_of(engine, self.written.messages + 1, engine.len() as u64);
        let after = Written {
            streams: engine.stream_count(),
            sessions: engine.session_count(),
            messages: engine.len() as u64,
            touched: engine.touch_mark(),
        };
        Some(Batch { generation: self.generation, streams, sessions, activity, chunks, after })
    }

    /// Writes a prepared batch in one transaction. A batch prepared before the file was
    /// cleared is dropped: what it held was reset away.
    pub fn commit(&mut self, batch: Batch) -> Result<(), JournalError> {
        if batch.generation != self.generation {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction().map_err(self.io())?;
        {
            let mut q = tx
                .prepare_cached("INSERT INTO streams (ix, name, created_at) VALUES (?1, ?2, ?3)")
                .map_err(self.io())?;
            for (ix, name, created) in &batch.streams {
                q.execute(params![ix, name, created]).map_err(self.io())?;
            }
            let mut q = tx
                .prepare_cached("INSERT INTO sessions (ix, id, started_at, last_activity) VALUES (?1, ?2, ?3, ?4)")
                .map_err(self.io())?;
            for (ix, id, started, last) in &batch.sessions {
                q.execute(params![ix, id, started, last]).map_err(self.io())?;
            }
            let mut q = tx.prepare_cached("UPDATE sessions SET last_activity = ?2 WHERE ix = ?1").map_err(self.io())?;
            for (ix, last) in &batch.activity {
                q.execute(params![ix, last]).map_err(self.io())?;
            }
        }
        insert_chunks(&tx, &batch.chunks).map_err(self.io())?;
        tx.commit().map_err(self.io())?;
        self.written = batch.after;
        Ok(())
    }

    /// Empties the file (the store was reset).
    pub fn clear(&mut self) -> Result<(), JournalError> {
        self.conn
            .execute_batch("BEGIN; DELETE FROM chunks; DELETE FROM sessions; DELETE FROM streams; COMMIT;")
            .map_err(self.io())?;
        self.written = Written::default();
        self.generation += 1;
        Ok(())
    }

    /// Limits the file to `pages` pages (SQLite's `max_page_count`), so that tests can
    /// make a write fail as a full disk would.
    pub fn set_max_pages(&self, pages: u32) -> Result<(), JournalError> {
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .optional()
            .map_err(self.io())?;
        Ok(())
    }
}

/// The messages at positions `first..=last` as chunks of about `CHUNK_BYTES` each.
fn chunks_of(engine: &Engine, first: u64, last: u64) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut position = first;
    while position <= last {
        let mut c = Chunk::new(position);
        let start = position;
        let mut bytes = 0usize;
        while position <= last && (bytes < CHUNK_BYTES || c.count == 0) {
            let m = engine.journal_message(position).expect("position <= len");
            c.push_meta(m.text.len(), m.stream_index, m.session_index, m.time, m.kind);
            bytes += m.text.len();
            position += 1;
        }
        c.seal(engine.journal_texts(start, position - 1));
        chunks.push(c);
    }
    chunks
}

fn insert_chunks(conn: &Connection, chunks: &[Chunk]) -> rusqlite::Result<()> {
    let mut q =
        conn.prepare_cached("INSERT INTO chunks (first, count, encoding, meta, bodies) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for c in chunks {
        let encoding = c.bodies.encoding();
        match &c.bodies {
            chunk::Stored::Text(text) => q.execute(params![c.first as i64, c.count, encoding, c.meta, text])?,
            chunk::Stored::Lz4(packed) => q.execute(params![c.first as i64, c.count, encoding, c.meta, packed])?,
        };
    }
    Ok(())
}

/// A file that exists and has bytes must start as every SQLite database does; it is
/// checked before SQLite opens it, so a file that is not ours is never touched.
fn check_magic(path: &str) -> Result<(), JournalError> {
    let Ok(mut file) = std::fs::File::open(path) else { return Ok(()) };
    let mut head = [0u8; 16];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(_) => break,
        }
    }
    if read == 0 || head[..read] == SQLITE_MAGIC[..read] && read == head.len() {
        return Ok(());
    }
    Err(JournalError::NotOurs { path: path.to_owned(), reason: "not a SQLite database".into() })
}

/// Test hook: runs `sql` on the file at `path` as any SQLite client would, with no
/// checks of ours: a `SELECT` returns its first column as text, row by row; anything
/// else runs as a batch and returns nothing. Lets the tests make files of other
/// applications and of other schema versions. Only in the tests' build.
#[cfg(feature = "test-hooks")]
pub fn raw_sql(path: &str, sql: &str) -> Result<Vec<String>, rusqlite::Error> {
    let conn = Connection::open(path)?;
    if !sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
        conn.execute_batch(sql)?;
        return Ok(Vec::new());
    }
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| row.get::<_, rusqlite::types::Value>(0))?;
    rows.map(|v| {
        v.map(|v| match v {
            rusqlite::types::Value::Null => "NULL".to_owned(),
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Real(r) => r.to_string(),
            rusqlite::types::Value::Text(t) => t,
            rusqlite::types::Value::Blob(b) => format!("<{} bytes>", b.len()),
        })
    })
    .collect()
}
