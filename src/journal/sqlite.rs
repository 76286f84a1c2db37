//! `Journal`: one SQLite connection, the engine's state on disk. This file opens and
//! locks the file; reading it back is `replay.rs`, writing to it `commit.rs`.

use std::io::Read;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::chunk::Chunk;
use super::error::JournalError;
use super::schema::{APPLICATION_ID, CREATE_CHUNKS, CREATE_NAMES, SCHEMA_VERSION, SQLITE_MAGIC};
use crate::engine::{Engine, TouchMark};

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
pub(super) struct Written {
    pub(super) streams: usize,
    pub(super) sessions: usize,
    pub(super) messages: u64,
    /// Where in the engine's log of touched sessions the file is: sessions touched
    /// after it need their `last_activity` written.
    pub(super) touched: TouchMark,
}

pub struct Journal {
    pub(super) conn: Connection,
    pub(super) path: String,
    pub(super) written: Written,
    /// Counts `clear`s, so that a batch prepared before one is not written after it.
    pub(super) generation: u64,
}

/// What one write adds to the file, copied out of the engine by `Journal::prepare`.
pub struct Batch {
    pub(super) generation: u64,
    pub(super) streams: Vec<(i64, String, i64)>,
    pub(super) sessions: Vec<(i64, String, i64, i64)>,
    pub(super) activity: Vec<(i64, i64)>,
    pub(super) chunks: Vec<Chunk>,
    /// How far the file will have caught up once the batch is written.
    pub(super) after: Written,
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

    pub(super) fn io(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
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
