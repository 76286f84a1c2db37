//! The values the engine stores and hands out.

use super::json;
use super::time::Millis;
use std::fmt;

/// `'command'` or `'event'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageKind {
    Command = 0,
    Event = 1,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Command => "command",
            MessageKind::Event => "event",
        }
    }

    /// The number that stands for the kind wherever it crosses a boundary (from
    /// JavaScript, in result pages, in the journal's chunks). JavaScript's one table
    /// of the two is `MESSAGE_TYPES` in `lib/validate.js`, where the string is parsed.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(MessageKind::Command),
            1 => Some(MessageKind::Event),
            _ => None,
        }
    }
}

/// A string as its JSON literal, quotes included, exactly as `JSON.stringify` writes
/// it. Names and ids are kept this way so that any JavaScript string, lone surrogates
/// included, is stored and compared without loss (a Rust `String` cannot hold a lone
/// surrogate), and so that writing it back out costs a copy.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonString(Box<str>);

impl JsonString {
    /// Escapes a Rust string.
    pub fn new(s: &str) -> Self {
        JsonString(json::string_literal(s).into_boxed_str())
    }

    /// Takes a literal as `JSON.stringify` wrote it; `None` when it is not one string literal.
    pub fn from_literal(literal: &str) -> Option<Self> {
        let b = literal.as_bytes();
        if b.len() >= 2 && b[0] == b'"' && json::skip_value(b, 0).ok() == Some(b.len()) {
            Some(JsonString(literal.into()))
        } else {
            None
        }
    }

    /// The literal, quotes included.
    pub fn literal(&self) -> &str {
        &self.0
    }

    /// The message type upstream infers from a stream's name: `'command'` when it
    /// contains `command`, else `'event'` when it contains `event` (case-sensitive).
    pub fn kind_from_name(&self) -> Option<MessageKind> {
        // Decode first: an escape such as `\u001c` ends in a letter that must not
        // join the name's own letters.
        let name = json::decode_lossy(&self.0);
        if name.contains("command") {
            Some(MessageKind::Command)
        } else if name.contains("event") {
            Some(MessageKind::Event)
        } else {
            None
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for JsonString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `getStreamInfo` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub revision: i64,
    pub message_count: u64,
    /// 0 for an empty stream.
    pub first_position: u64,
    /// 0 for an empty stream.
    pub last_position: u64,
    pub created_at: Millis,
    pub last_updated: Millis,
}

/// What `getSessionInfo` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: JsonString,
    pub started_at: Millis,
    pub message_count: u64,
    pub command_count: u64,
    pub event_count: u64,
    pub last_activity: Millis,
}

/// What `getStats` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub total_messages: u64,
    pub total_commands: u64,
    pub total_events: u64,
    pub total_streams: u64,
    pub total_sessions: u64,
    /// Bytes held by the store's buffers and indexes.
    pub memory_usage: u64,
    /// Earliest and latest save times; `None` on an empty store.
    pub oldest_message: Option<Millis>,
    pub newest_message: Option<Millis>,
}

impl std::borrow::Borrow<str> for JsonString {
    fn borrow(&self) -> &str {
        &self.0
    }
}
