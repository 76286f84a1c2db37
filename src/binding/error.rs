//! The one place where engine errors become JavaScript errors. Each gets a stable
//! `code`; `lib/errors.js` turns codes into the classes users catch. `Code::ALL` is
//! the list of codes; JavaScript's copy (`CODES` in `lib/errors.js`) is checked
//! against it, through `errorCodes()`, by `__test__/82.errors.test.ts`.

use crate::engine::SaveError;
use crate::journal::JournalError;

/// The `code` property of errors thrown by the native module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    StreamNotFound,
    WrongExpectedRevision,
    CapacityExceeded,
    /// The file could not be opened as a store, or (read-only) what its writer added
    /// could not be read.
    OpenFailed,
    /// A write to the file failed; the store refuses further writes.
    WriteFailed,
    /// The store was disposed.
    Closed,
    /// A PostgreSQL server could not be reached; a later call tries again.
    ConnectFailed,
    /// An open subscription ended because its store was reset (raised by the
    /// JavaScript face, `lib/subscription.js`; listed here so the list is whole).
    Reset,
    /// The PostgreSQL server refused the user: wrong or missing password, no client
    /// certificate it accepts, or no `pg_hba.conf` rule that lets it in.
    AuthFailed,
    /// The connection string requires TLS and the server offers none.
    TlsUnavailable,
    /// The server's certificate does not chain to a trusted root (`sslrootcert`, or
    /// the bundled public roots).
    TlsUnknownAuthority,
    /// The server's certificate does not name the host connected to (`verify-full`).
    TlsHostMismatch,
    /// The server's certificate has expired (or is not valid yet).
    TlsExpired,
    /// The server closed the connection while it was being set up.
    HandshakeClosed,
    /// The connection broke and no server of the connection string accepted writes
    /// within `failoverTimeout` (a failover or restart that did not finish in time).
    FailoverTimeout,
    /// A history (`importHistory`, the `message-store` command) that is not whole or
    /// not well formed: a malformed line, a gap, an unknown format version, cut short.
    InvalidHistory,
    /// A history written into a store that is not empty and does not hold its start.
    NotEmpty,
    /// A change asked of a `SqliteMessageStore` opened with `readOnly`.
    ReadOnly,
}

impl Code {
    pub const ALL: [Code; 19] = [
        Code::InvalidArgument,
        Code::StreamNotFound,
        Code::WrongExpectedRevision,
        Code::CapacityExceeded,
        Code::OpenFailed,
        Code::WriteFailed,
        Code::Closed,
        Code::ConnectFailed,
        Code::Reset,
        Code::AuthFailed,
        Code::TlsUnavailable,
        Code::TlsUnknownAuthority,
        Code::TlsHostMismatch,
        Code::TlsExpired,
        Code::HandshakeClosed,
        Code::FailoverTimeout,
        Code::InvalidHistory,
        Code::NotEmpty,
        Code::ReadOnly,
    ];

    /// The name JavaScript knows the code by (`CODES.<name>` in `lib/errors.js`).
    pub fn name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "InvalidArgument",
            Code::StreamNotFound => "StreamNotFound",
            Code::WrongExpectedRevision => "WrongExpectedRevision",
            Code::CapacityExceeded => "CapacityExceeded",
            Code::OpenFailed => "OpenFailed",
            Code::WriteFailed => "WriteFailed",
            Code::Closed => "Closed",
            Code::ConnectFailed => "ConnectFailed",
            Code::Reset => "Reset",
            Code::AuthFailed => "AuthFailed",
            Code::TlsUnavailable => "TlsUnavailable",
            Code::TlsUnknownAuthority => "TlsUnknownAuthority",
            Code::TlsHostMismatch => "TlsHostMismatch",
            Code::TlsExpired => "TlsExpired",
            Code::HandshakeClosed => "HandshakeClosed",
            Code::FailoverTimeout => "FailoverTimeout",
            Code::InvalidHistory => "InvalidHistory",
            Code::NotEmpty => "NotEmpty",
            Code::ReadOnly => "ReadOnly",
        }
    }
}

/// Every code by its name, as a JSON object: what `lib/errors.js` must hold.
#[napi_derive::napi]
pub fn error_codes() -> String {
    // Names and codes are plain ASCII words: no escaping needed.
    let entries: Vec<String> = Code::ALL.iter().map(|c| format!("\"{}\":\"{}\"", c.name(), c.as_ref())).collect();
    format!("{{{}}}", entries.join(","))
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidArgument => "ERR_MESSAGE_STORE_INVALID_ARGUMENT",
            Code::StreamNotFound => "ERR_MESSAGE_STORE_STREAM_NOT_FOUND",
            Code::WrongExpectedRevision => "ERR_MESSAGE_STORE_WRONG_EXPECTED_REVISION",
            Code::CapacityExceeded => "ERR_MESSAGE_STORE_CAPACITY_EXCEEDED",
            Code::OpenFailed => "ERR_MESSAGE_STORE_OPEN_FAILED",
            Code::WriteFailed => "ERR_MESSAGE_STORE_WRITE_FAILED",
            Code::Closed => "ERR_MESSAGE_STORE_CLOSED",
            Code::ConnectFailed => "ERR_MESSAGE_STORE_CONNECT_FAILED",
            Code::Reset => "ERR_MESSAGE_STORE_RESET",
            Code::AuthFailed => "ERR_MESSAGE_STORE_AUTH_FAILED",
            Code::TlsUnavailable => "ERR_MESSAGE_STORE_TLS_UNAVAILABLE",
            Code::TlsUnknownAuthority => "ERR_MESSAGE_STORE_TLS_UNKNOWN_CA",
            Code::TlsHostMismatch => "ERR_MESSAGE_STORE_TLS_HOST_MISMATCH",
            Code::TlsExpired => "ERR_MESSAGE_STORE_TLS_CERT_EXPIRED",
            Code::HandshakeClosed => "ERR_MESSAGE_STORE_HANDSHAKE_CLOSED",
            Code::FailoverTimeout => "ERR_MESSAGE_STORE_FAILOVER_TIMEOUT",
            Code::InvalidHistory => "ERR_MESSAGE_STORE_INVALID_HISTORY",
            Code::NotEmpty => "ERR_MESSAGE_STORE_NOT_EMPTY",
            Code::ReadOnly => "ERR_MESSAGE_STORE_READ_ONLY",
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
            // The modes' refusals share the two codes; JavaScript tells them apart by
            // the expectation the caller gave (lib/errors.js).
            SaveError::StreamExists { .. } => Code::WrongExpectedRevision,
            SaveError::NoMessages { .. } => Code::StreamNotFound,
            SaveError::CapacityExceeded { .. } => Code::CapacityExceeded,
            _ => Code::InvalidArgument,
        };
        Error::new(code, e.to_string())
    }
}

/// A failure to open the file, or (read-only) to read what its writer added.
pub fn open_failed(e: JournalError) -> Error {
    Error::new(Code::OpenFailed, e.to_string())
}

/// A change refused by a store opened read-only.
pub fn read_only(path: &str) -> Error {
    Error::new(Code::ReadOnly, JournalError::ReadOnly { path: path.to_owned() }.to_string())
}

/// A failed write, or a write refused after one.
pub fn write_failed(reason: &str) -> Error {
    Error::new(Code::WriteFailed, reason.to_owned())
}

pub fn closed() -> Error {
    Error::new(Code::Closed, "the store is closed (disposed); open the file again to use it".to_owned())
}
