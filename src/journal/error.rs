//! Why a journal could not be opened or written.

use std::fmt;

#[derive(Debug)]
#[non_exhaustive]
pub enum JournalError {
    /// The file exists and is not one of ours (not SQLite, or another application's
    /// database); it was left untouched.
    NotOurs { path: String, reason: String },
    /// The file was written by a newer version of this package.
    NewerSchema { path: String, found: i64, supported: i64 },
    /// Another connection (another process) holds the file.
    Locked { path: String },
    /// A read-only open of a file that does not exist (it never creates one).
    Missing { path: String },
    /// A change asked of a store opened read-only.
    ReadOnly { path: String },
    /// The writer's lock file (`<path>-lock`) could not be made or locked.
    LockFile { path: String, source: std::io::Error },
    /// The file's contents do not replay (damaged, or edited by hand).
    Corrupt { path: String, reason: String },
    /// SQLite or the file system failed (disk full, I/O error, permissions...).
    Io { path: String, source: rusqlite::Error },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::NotOurs { path, reason } => {
                write!(f, "{path} is not a message-store file ({reason}); it was left untouched")
            }
            JournalError::NewerSchema { path, found, supported } => write!(
                f,
                "{path} has schema version {found}, newer than the {supported} this version of @auto-engineer/message-store reads"
            ),
            JournalError::Locked { path } => {
                write!(f, "{path} is open in another process (one writer at a time); close it there first")
            }
            JournalError::Missing { path } => {
                write!(f, "{path} does not exist (a read-only store opens an existing file and never creates one)")
            }
            JournalError::ReadOnly { path } => write!(
                f,
                "the store at {path} was opened read-only; open it without readOnly to write (one writer at a time)"
            ),
            JournalError::LockFile { path, source } => write!(f, "{path}: {source}"),
            JournalError::Corrupt { path, reason } => write!(f, "{path} does not replay: {reason}"),
            JournalError::Io { path, source } => write!(f, "{path}: {source}"),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io { source, .. } => Some(source),
            JournalError::LockFile { source, .. } => Some(source),
            _ => None,
        }
    }
}
