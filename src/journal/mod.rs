//! The durable journal behind `SqliteMessageStore`: plain Rust, no Node types.
//!
//! The engine stays the store (every check, every read); the journal keeps on disk,
//! in SQLite, what the engine has, so that reopening the file rebuilds the same
//! engine. It writes what the engine gained since its last write: new streams and
//! sessions (creation order), new messages (position order) and changed session
//! activity, all in one transaction, so a batch of saves is on disk whole or not at all.
//!
//! One writer per file, holding a lock file for as long as it is open: a second
//! writer is refused. Readers (`Follower`, `FileHistory`) open it read-only alongside.

mod chunk;
mod commit;
mod error;
mod export;
mod follow;
mod names;
mod replay;
mod schema;
mod sqlite;

pub use error::JournalError;
pub use export::FileHistory;
pub use follow::{Follower, Refresh};
#[cfg(feature = "test-hooks")]
pub use sqlite::raw_sql;
pub use sqlite::{Batch, Durability, Journal};
