//! Errors of the engine, as values. The binding turns each variant into a stable
//! code in one place (`binding/error.rs`); the JavaScript face turns codes into classes.

use std::fmt;

use super::model::JsonString;

/// Why a save was refused. A refused save changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveError {
    /// The stream does not exist and an expected revision other than -1 was given.
    StreamNotFound { stream: JsonString, expected: i64 },
    /// The stream's revision is not the expected one.
    WrongExpectedRevision { expected: i64, actual: i64 },
    /// `'no_stream'` was expected, and the stream has messages.
    StreamExists { stream: JsonString, actual: i64 },
    /// `'stream_exists'` was expected, and the stream has no messages.
    NoMessages { stream: JsonString },
    /// A message is not a JSON object with a string `type` (index within the batch).
    InvalidMessage { index: usize, reason: String },
    /// The store would pass the number of messages it can address
    /// ([`MAX_MESSAGES`](crate::engine::MAX_MESSAGES), 2^31 - 1: the id index keeps
    /// the top bit of a record number for its own use; less in tests): `capacity`.
    CapacityExceeded { capacity: usize },
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The concurrency texts are also built in `lib/errors.js`, for the refusals
            // JavaScript makes itself; `__test__/82.errors.test.ts` checks they agree.
            SaveError::StreamNotFound { stream, expected } => {
                let name = crate::engine::json::decode_lossy(stream.literal());
                write!(f, "Stream {name} does not exist, but expected revision {expected} was provided")
            }
            SaveError::WrongExpectedRevision { expected, actual } => {
                write!(f, "Expected revision {expected} but stream is at revision {actual}")
            }
            SaveError::StreamExists { stream, actual } => {
                let name = crate::engine::json::decode_lossy(stream.literal());
                write!(f, "Expected stream {name} not to exist, but it is at revision {actual}")
            }
            SaveError::NoMessages { stream } => {
                let name = crate::engine::json::decode_lossy(stream.literal());
                write!(f, "Expected stream {name} to exist, but it has no messages")
            }
            SaveError::InvalidMessage { index, reason } => {
                // Reasons read as the JavaScript checks do: `messages[3] must be …` or
                // `messages[3].timestamp must be …`.
                let sep = if reason.starts_with('.') { "" } else { " " };
                write!(f, "messages[{index}]{sep}{reason}")
            }
            // Also built in `lib/scheduler.js`, which refuses before the engine is reached.
            SaveError::CapacityExceeded { capacity } => {
                write!(f, "the store cannot hold more than {capacity} messages")
            }
        }
    }
}

impl std::error::Error for SaveError {}
