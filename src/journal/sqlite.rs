//! `Journal`: one SQLite connection, the engine's state on disk. This file opens and
//! locks the file; reading it back is `replay.rs`, writing to it `commit.rs`,
//! following another process's writes `follow.rs`.
//!
//! One writer at a time, any number of readers: the writer holds an operating-system
//! lock on `<path>-lock` (`flock`, `LockFileEx`) for as long as it is open, and uses
//! SQLite's ordinary WAL locking, so read-only connections (`Follower`, `FileHistory`)
//! read the file alongside it. (SQLite's `locking_mode=EXCLUSIVE`, used before, keeps
//! the WAL index out of shared memory and so shuts every reader out.) The writer
//! removes the lock file when it closes, still holding the lock; a writer that locked
//! the file just as it went checks that its lock is on the file at the path, and tries
//! again if not (`LockFile::take`). On Windows, where a name can be taken again while
//! an old handle is open, the file stays.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Read;
use std::time::Duration;

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
    /// The writer's hold on `<path>-lock`, released when the journal is dropped; `None`
    /// for a read-only connection.
    pub(super) _lock: Option<LockFile>,
}

/// How long a connection waits for another one's brief hold (WAL recovery, a
/// checkpoint's locks) before a call fails. A second writer is refused by the lock
/// file, at once.
const BUSY_WAIT: Duration = Duration::from_secs(5);

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
        // An older version's writer (SQLite's exclusive lock) is reported at once.
        conn.busy_timeout(Duration::ZERO).map_err(io)?;
        let mut journal =
            Journal { conn, path: path.to_owned(), written: Written::default(), generation: 0, _lock: None };
        let version = journal.check_ours()?;
        // Taken only once the file is known to be ours: a refused file gets no sibling.
        journal._lock = Some(LockFile::take(path)?);
        let conn = &journal.conn;
        conn.busy_timeout(BUSY_WAIT).map_err(io)?;
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
        if version == 1 {
            journal.migrate_v1(&engine)?;
        }
        Ok((journal, engine))
    }

    /// Opens an existing file read-only, without the writer's lock, checked as `open`
    /// checks it. Creates nothing: a missing file is refused.
    pub(super) fn open_read_only(path: &str) -> Result<(Journal, i64), JournalError> {
        if !std::path::Path::new(path).is_file() {
            return Err(JournalError::Missing { path: path.to_owned() });
        }
        check_magic(path)?;
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(io)?;
        conn.busy_timeout(BUSY_WAIT).map_err(io)?;
        let journal = Journal { conn, path: path.to_owned(), written: Written::default(), generation: 0, _lock: None };
        let version = journal.check_ours()?;
        let app: i64 = journal.conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(journal.io())?;
        if app != APPLICATION_ID {
            // `check_ours` takes an empty database for a new store; only a writer makes one.
            return Err(JournalError::NotOurs {
                path: path.to_owned(),
                reason: "an empty database, not yet a message store".into(),
            });
        }
        Ok((journal, version))
    }

    pub(super) fn io(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        move |source| io_error(&self.path, source)
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

    /// Empties the file (the store was reset). The tables are made anew rather than
    /// emptied: that moves SQLite's schema cookie (`PRAGMA schema_version`), which is
    /// how a reader (`follow.rs`) tells a reset from new saves, however many follow it.
    pub fn clear(&mut self) -> Result<(), JournalError> {
        self.conn
            .execute_batch(&format!(
                "BEGIN; DROP TABLE chunks; DROP TABLE sessions; DROP TABLE streams; {CREATE_NAMES} {CREATE_CHUNKS} COMMIT;"
            ))
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

/// The writer's lock: `<path>-lock`, locked by this process alone while it is held.
pub(super) struct LockFile {
    file: File,
    path: String,
}

impl LockFile {
    /// Locks `<path>-lock`, without waiting: `Locked` when another writer holds it.
    fn take(path: &str) -> Result<LockFile, JournalError> {
        let lock_path = format!("{path}-lock");
        let io = |source| JournalError::LockFile { path: lock_path.clone(), source };
        loop {
            let file =
                OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path).map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(JournalError::Locked { path: path.to_owned() }),
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            // Opened just before the writer that held it removed it: the lock is on a
            // file that is no longer at the path, and holds nobody off.
            if is_at(&file, &lock_path) {
                return Ok(LockFile { file, path: lock_path });
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Removed while still locked: whoever opened it meanwhile finds it gone (`take`).
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether `file` is the file at `path` now.
#[cfg(unix)]
fn is_at(file: &File, path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Windows never removes it (`Drop`): the file locked is the one at the path.
#[cfg(not(unix))]
fn is_at(_file: &File, _path: &str) -> bool {
    true
}

/// What a SQLite failure on the file at `path` means for the store: held by another
/// process, not a database at all, or an I/O error.
pub(super) fn io_error(path: &str, source: rusqlite::Error) -> JournalError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => JournalError::Locked { path: path.to_owned() },
        Some(ErrorCode::NotADatabase) => {
            JournalError::NotOurs { path: path.to_owned(), reason: "not a SQLite database".into() }
        }
        _ => JournalError::Io { path: path.to_owned(), source },
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
