//! The engine: every message's JSON text in one append-only arena, a fixed-size
//! record per message, and the indexes that let reads touch only what they return.
//!
//! Invariants (checked by the property tests):
//! - record `i` is the message at global position `i + 1`; positions are gapless;
//! - `streams[s].members` lists that stream's records in revision order, so the
//!   record at `members[r]` has revision `r`;
//! - every posting list is strictly increasing (records are only ever appended);
//! - `bytes` equals the capacity of every buffer and index, in bytes.
//!
//! A save checks everything that can fail before it changes anything, so a refused
//! save leaves the store exactly as it was.
//!
//! This file holds the data model and what reads it; the save path is `save.rs`,
//! sessions are `sessions.rs`, and what a journal replays is `restore.rs`.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;

use super::grow::Bytes;
use super::id_index::{IdIndex, MAX_RECORD};
use super::model::{JsonString, MessageKind, SessionInfo, Stats, StreamInfo};
use super::time::{self, Millis};

/// One message's fixed-size record (32 bytes). Its text runs from `start` to the
/// next record's `start` (the arena holds nothing but message texts, in order).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record {
    pub time: Millis,
    pub start: u64,
    pub stream: u32,
    pub revision: u32,
    /// 0 for no session, else index + 1 into `sessions`.
    pub session: u32,
    pub kind: MessageKind,
    /// The message had no `timestamp`: it reads back with the save time as its last
    /// key, written on the way out rather than stored.
    pub stamped: bool,
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub name: JsonString,
    /// The message type the name implies, worked out once.
    pub kind_from_name: Option<MessageKind>,
    pub members: Vec<u32>,
    pub created_at: Millis,
    pub last_updated: Millis,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub info: SessionInfo,
    pub members: Vec<u32>,
}

/// The literal `sessionId` of messages saved while no session was current.
pub const NO_SESSION: &str = "\"no-session\"";

/// The in-memory store. Knows nothing of Node: the binding owns one and converts.
#[derive(Debug, Default)]
pub struct Engine {
    pub(crate) arena: String,
    pub(crate) records: Vec<Record>,
    pub(crate) streams: Vec<Stream>,
    pub(crate) stream_ids: HashMap<JsonString, u32>,
    pub(crate) sessions: Vec<Session>,
    pub(crate) session_ids: HashMap<JsonString, u32>,
    pub(crate) current_session: Option<u32>,
    /// Sessions whose `lastActivity` changed, in the order of the changes, a repeat of
    /// the one before folded away (so it grows with session switches, not messages).
    /// A journal reads it from where it left off (`touch_mark`, `touched_since`), to
    /// write only those sessions.
    pub(crate) touched: Vec<u32>,
    /// How many times a session's `lastActivity` changed, folded repeats included.
    pub(crate) touches: u64,
    pub(crate) names: Vec<JsonString>,
    pub(crate) name_ids: HashMap<JsonString, u32>,
    pub(crate) by_name: Vec<Vec<u32>>,
    pub(crate) by_kind: [Vec<u32>; 2],
    pub(crate) by_correlation: IdIndex,
    pub(crate) by_request: IdIndex,
    pub(crate) oldest: Option<Millis>,
    pub(crate) newest: Option<Millis>,
    /// True while save times never went backwards, so time ranges can be found by
    /// binary search over records.
    pub(crate) times_ordered: bool,
    pub(crate) bytes: Bytes,
    pub(crate) hasher: RandomState,
    /// The stream the last save found, checked first by the next one.
    pub(super) last_stream: Option<u32>,
    /// A lower capacity, so the tests can reach the limit (unit tests, and the
    /// `test-hooks` build's `testCapacity`).
    #[cfg(any(test, feature = "test-hooks"))]
    pub capacity_for_tests: Option<usize>,
}

/// The most messages (and streams) a store holds: record numbers must fit the id
/// index's 31 bits.
pub const MAX_MESSAGES: usize = MAX_RECORD as usize;

impl Engine {
    /// How many messages the store may hold: [`MAX_MESSAGES`], or less in tests.
    pub fn capacity(&self) -> usize {
        #[cfg(any(test, feature = "test-hooks"))]
        if let Some(n) = self.capacity_for_tests {
            return n;
        }
        MAX_MESSAGES
    }

    pub fn new() -> Self {
        Engine { times_ordered: true, ..Default::default() }
    }

    /// Runs `f` and counts what it changed in the capacity of the hash maps.
    pub(super) fn track_map(&mut self, f: impl FnOnce(&mut Self)) {
        let before = self.map_bytes();
        f(self);
        let after = self.map_bytes();
        self.bytes.0 = self.bytes.0 + after - before.min(after);
    }

    fn map_bytes(&self) -> usize {
        fn size<K, V>(m: &HashMap<K, V>) -> usize {
            m.capacity() * (std::mem::size_of::<(K, V)>() + 1)
        }
        size(&self.stream_ids) + size(&self.session_ids) + size(&self.name_ids)
    }

    /// Stream names in creation order.
    pub fn stream_names(&self) -> impl Iterator<Item = &JsonString> {
        self.streams.iter().map(|s| &s.name)
    }

    /// The stream's revision, -1 when it is empty or unknown.
    pub fn stream_revision(&self, stream: &JsonString) -> Option<i64> {
        self.stream(stream).map(|s| s.members.len() as i64 - 1)
    }

    pub fn stream_info(&self, stream: &JsonString) -> Option<StreamInfo> {
        self.stream(stream).map(|s| StreamInfo {
            revision: s.members.len() as i64 - 1,
            message_count: s.members.len() as u64,
            first_position: s.members.first().map_or(0, |&i| i as u64 + 1),
            last_position: s.members.last().map_or(0, |&i| i as u64 + 1),
            created_at: s.created_at,
            last_updated: s.last_updated,
        })
    }

    pub(crate) fn stream(&self, stream: &JsonString) -> Option<&Stream> {
        self.stream_ids.get(stream.literal()).map(|&ix| &self.streams[ix as usize])
    }

    /// Everything `getStats` reports, in O(1).
    pub fn stats(&self) -> Stats {
        Stats {
            total_messages: self.records.len() as u64,
            total_commands: self.by_kind[MessageKind::Command as usize].len() as u64,
            total_events: self.by_kind[MessageKind::Event as usize].len() as u64,
            total_streams: self.streams.len() as u64,
            total_sessions: self.sessions.len() as u64,
            memory_usage: self.bytes.0 as u64,
            oldest_message: self.oldest,
            newest_message: self.newest,
        }
    }

    /// Number of messages saved; the last one's position.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Empties the store and frees its memory; positions start again at 1.
    pub fn reset(&mut self) {
        *self = Engine { hasher: self.hasher.clone(), ..Engine::new() };
    }

    /// The stored JSON text of the message at record `index`.
    pub(crate) fn text(&self, index: u32) -> &str {
        let i = index as usize;
        let end = self.records.get(i + 1).map_or(self.arena.len(), |next| next.start as usize);
        &self.arena[self.records[i].start as usize..end]
    }

    /// The message's JSON text as it reads back: with the save time added as the
    /// last `timestamp` key when the message had none.
    pub fn message_text(&self, index: u32) -> std::borrow::Cow<'_, str> {
        let text = self.text(index);
        let r = &self.records[index as usize];
        if !r.stamped {
            return text.into();
        }
        let mut out = String::with_capacity(text.len() + 40);
        push_stamped(&mut out, text, r.time);
        out.into()
    }

    /// One stored message, for callers in Rust.
    pub fn message(&self, position: u64) -> Option<StoredMessage<'_>> {
        let index = position.checked_sub(1)? as usize;
        let r = self.records.get(index)?;
        Some(StoredMessage {
            stream: &self.streams[r.stream as usize].name,
            text: self.message_text(index as u32),
            kind: r.kind,
            revision: r.revision as i64,
            position,
            time: r.time,
            session: r.session.checked_sub(1).map(|s| &self.sessions[s as usize].info.session_id),
        })
    }
}

/// A message as stored, borrowed from the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage<'a> {
    pub stream: &'a JsonString,
    /// The message's JSON text, `timestamp` included.
    pub text: std::borrow::Cow<'a, str>,
    pub kind: MessageKind,
    pub revision: i64,
    pub position: u64,
    pub time: Millis,
    /// `None` when no session was current.
    pub session: Option<&'a JsonString>,
}

/// Writes a message text with `"timestamp":"<ISO of time>"` added as its last key.
pub(crate) fn push_stamped(out: &mut String, text: &str, time: Millis) {
    let open = &text[..text.len() - 1];
    out.push_str(open);
    // `{"type":…}` always has a key already; the check keeps `{}` well formed too.
    if !open.trim_end().ends_with('{') {
        out.push(',');
    }
    out.push_str("\"timestamp\":\"");
    time::write_iso(out, time);
    out.push_str("\"}");
}

/// The text between a literal's quotes.
pub(crate) fn unquote(literal: &str) -> &str {
    &literal[1..literal.len() - 1]
}
