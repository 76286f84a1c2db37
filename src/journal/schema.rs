//! The file's layout, and the checks that it is ours before anything is written.
//!
//! Names (streams, sessions) are stored as their JSON literals, like everything the
//! engine keeps, so every JavaScript string round-trips exactly.

/// `PRAGMA application_id`: "MSG1". Marks the file as ours.
pub const APPLICATION_ID: i64 = 0x4D53_4731;

/// `PRAGMA user_version`: bumped by each change of layout, with a migration.
/// 1: a row per message (`MESSAGES_V1`). 2: a row per chunk of messages (`chunk.rs`).
pub const SCHEMA_VERSION: i64 = 2;

/// The tables of names, as every version has them.
pub const CREATE_NAMES: &str = "
CREATE TABLE streams (
  ix INTEGER PRIMARY KEY,          -- creation order, from 0
  name TEXT NOT NULL,              -- JSON literal
  created_at INTEGER NOT NULL      -- epoch ms
);
CREATE TABLE sessions (
  ix INTEGER PRIMARY KEY,          -- creation order, from 0
  id TEXT NOT NULL,                -- JSON literal
  started_at INTEGER NOT NULL,
  last_activity INTEGER NOT NULL
);
";

/// The messages (version 2).
pub const CREATE_CHUNKS: &str = "
CREATE TABLE chunks (
  first INTEGER PRIMARY KEY,       -- position of its first message; positions from 1, gapless
  count INTEGER NOT NULL,          -- how many messages it holds
  encoding INTEGER NOT NULL,       -- of bodies: 0 the text itself, 1 LZ4 (chunk.rs)
  meta BLOB NOT NULL,              -- a fixed-size entry per message (chunk.rs)
  bodies BLOB NOT NULL             -- the messages' JSON as saved, end to end
);
";

/// Version 1's messages, read once to migrate a file to version 2.
pub const MESSAGES_V1: &str = "SELECT position, stream, kind, time, session, body FROM messages ORDER BY position";

/// The first 16 bytes of every SQLite database file.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
