//! The one place where engine errors become JavaScript errors. Each gets a stable
//! `code`; `lib/errors.js` turns codes into the classes users catch.

use crate::engine::{InputError, SaveError};

/// The `code` property of errors thrown by the native module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    StreamNotFound,
    WrongExpectedRevision,
    CapacityExceeded,
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidArgument => "ERR_MESSAGE_STORE_INVALID_ARGUMENT",
            Code::StreamNotFound => "ERR_MESSAGE_STORE_STREAM_NOT_FOUND",
            Code::WrongExpectedRevision => "ERR_MESSAGE_STORE_WRONG_EXPECTED_REVISION",
            Code::CapacityExceeded => "ERR_MESSAGE_STORE_CAPACITY_EXCEEDED",
        }
    }
}

pub type Error = napi::Error<Code>;
pub type Result<T> = std::result::Result<T, Error>;

pub fn invalid(argument: &str, reason: impl std::fmt::Display) -> Error {
    Error::new(Code::InvalidArgument, format!("{argument} {reason}"))
}

/// A read whose JSON would be longer than the longest string JavaScript can hold.
pub fn too_large(messages: usize, units: usize, max: usize) -> Error {
    Error::new(
        Code::CapacityExceeded,
        format!(
            "the {messages} messages read make {units} characters of JSON, more than the {max} one JavaScript string can hold; read fewer (a count, a filter or a position range)"
        ),
    )
}

impl From<SaveError> for Error {
    fn from(e: SaveError) -> Self {
        let code = match e {
            SaveError::StreamNotFound { .. } => Code::StreamNotFound,
            SaveError::WrongExpectedRevision { .. } => Code::WrongExpectedRevision,
            SaveError::CapacityExceeded => Code::CapacityExceeded,
            _ => Code::InvalidArgument,
        };
        Error::new(code, e.to_string())
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::new(Code::InvalidArgument, e.to_string())
    }
}
