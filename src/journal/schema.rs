//! The file's layout, and the checks that it is ours before anything is written.
//!
//! Names (streams, sessions) are stored as their JSON literals, like everything the
//! engine keeps, so every JavaScript string round-trips exactly.

/// `PRAGMA application_id`: "MSG1". Marks the file as ours.
pub const APPLICATION_ID: i64 = 0x4D53_4731;

/// `PRAGMA user_version`: bumped by each change of layout, with a migration.
pub const SCHEMA_VERSION: i64 = 1;

pub const CREATE: &str = "
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
CREATE TABLE messages (
  position INTEGER PRIMARY KEY,    -- global position, from 1, gapless
  stream INTEGER NOT NULL,         -- streams.ix
  kind INTEGER NOT NULL,           -- 0 command, 1 event
  time INTEGER NOT NULL,           -- save time, epoch ms
  session INTEGER,                 -- sessions.ix, NULL outside sessions
  body TEXT NOT NULL               -- the message's JSON as saved
);
";

/// The first 16 bytes of every SQLite database file.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
