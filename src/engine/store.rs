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

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use super::error::SaveError;
use super::grow::{self, Bytes};
use super::id_index::{self, IdIndex, MAX_RECORD};
use super::message::Head;
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

/// A place in the engine's log of touched sessions (`Engine::touch_mark`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TouchMark {
    len: usize,
    touches: u64,
}

/// What a successful save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOutcome {
    /// The stream's revision after the save (-1 for a new, empty stream).
    pub revision: i64,
    /// Position of the first message saved; with `count == 0`, the next position.
    pub first_position: u64,
    pub count: usize,
}

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
    last_stream: Option<u32>,
    /// A lower capacity, so the unit tests can reach the limit.
    #[cfg(test)]
    pub(crate) capacity_for_tests: Option<usize>,
}

/// The most messages (and streams) a store holds: record numbers must fit the id
/// index's 31 bits.
pub const MAX_MESSAGES: usize = MAX_RECORD as usize;

impl Engine {
    /// How many messages the store may hold: [`MAX_MESSAGES`], or less in unit tests.
    pub(crate) fn capacity(&self) -> usize {
        #[cfg(test)]
        if let Some(n) = self.capacity_for_tests {
            return n;
        }
        MAX_MESSAGES
    }

    pub fn new() -> Self {
        Engine { times_ordered: true, ..Default::default() }
    }

    /// Saves a batch given as the JSON text of an array of messages.
    pub fn save_json_array(
        &mut self,
        stream: &JsonString,
        batch: &str,
        expected: Option<i64>,
        kind: Option<MessageKind>,
        now: Millis,
    ) -> Result<SaveOutcome, SaveError> {
        let heads = Head::parse_batch(batch).map_err(|(index, reason)| SaveError::InvalidMessage { index, reason })?;
        self.save_heads(stream, heads, expected, kind, now)
    }

    /// Saves `messages` (each the JSON text of one message object) to `stream`, all
    /// or nothing, at save time `now`.
    pub fn save(
        &mut self,
        stream: &JsonString,
        messages: &[&str],
        expected: Option<i64>,
        kind: Option<MessageKind>,
        now: Millis,
    ) -> Result<SaveOutcome, SaveError> {
        let heads = messages
            .iter()
            .enumerate()
            .map(|(index, text)| Head::parse(text).map_err(|reason| SaveError::InvalidMessage { index, reason }))
            .collect::<Result<Vec<_>, _>>()?;
        self.save_heads(stream, heads, expected, kind, now)
    }

    /// Saves messages whose heads are read: checks the stream's revision and room,
    /// then appends (nothing after the checks can fail).
    fn save_heads(
        &mut self,
        stream: &JsonString,
        heads: Vec<Head<'_>>,
        expected: Option<i64>,
        kind: Option<MessageKind>,
        now: Millis,
    ) -> Result<SaveOutcome, SaveError> {
        let existing = self.find_stream(stream);
        let current = existing.map_or(-1, |s| self.streams[s as usize].members.len() as i64 - 1);
        match (existing, expected) {
            (None, Some(e)) if e != -1 => {
                return Err(SaveError::StreamNotFound { stream: stream.clone(), expected: e })
            }
            (_, Some(e)) if e != current => {
                return Err(SaveError::WrongExpectedRevision { expected: e, actual: current })
            }
            _ => {}
        }
        if self.records.len() + heads.len() > self.capacity() || self.streams.len() >= self.capacity() {
            return Err(SaveError::CapacityExceeded);
        }

        // Nothing below can fail.
        let stream_ix = match existing {
            Some(s) => s,
            None => self.add_stream(stream.clone(), now),
        };
        let first_position = self.records.len() as u64 + 1;
        grow::reserve(&mut self.records, heads.len(), &mut self.bytes);
        for head in &heads {
            self.append(stream_ix, head, kind, now, self.current_session);
        }
        if !heads.is_empty() {
            self.streams[stream_ix as usize].last_updated = now;
            self.note_time(now);
        }
        Ok(SaveOutcome { revision: current + heads.len() as i64, first_position, count: heads.len() })
    }

    /// The stream's index. Saves often go to the stream of the save before (the
    /// message-bus server writes everything to `$all`): compare with it before hashing.
    fn find_stream(&mut self, stream: &JsonString) -> Option<u32> {
        if let Some(&last) = self.last_stream.as_ref() {
            if self.streams.get(last as usize).is_some_and(|s| s.name == *stream) {
                return Some(last);
            }
        }
        let found = self.stream_ids.get(stream.literal()).copied();
        if found.is_some() {
            self.last_stream = found;
        }
        found
    }

    pub(crate) fn add_stream(&mut self, name: JsonString, now: Millis) -> u32 {
        let ix = self.streams.len() as u32;
        // The name is held twice: as the map's key and in the stream.
        self.bytes.0 += 2 * name.heap_bytes();
        self.track_map(|e| {
            e.stream_ids.insert(name.clone(), ix);
        });
        grow::push(
            &mut self.streams,
            Stream {
                kind_from_name: name.kind_from_name(),
                name,
                members: Vec::new(),
                created_at: now,
                last_updated: now,
            },
            &mut self.bytes,
        );
        ix
    }

    /// Runs `f` and counts what it changed in the capacity of the hash maps.
    fn track_map(&mut self, f: impl FnOnce(&mut Self)) {
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

    /// Appends one message of `stream_ix`, stamped with `session` (an index into
    /// `sessions`), and updates every index and counter.
    pub(crate) fn append(
        &mut self,
        stream_ix: u32,
        head: &Head<'_>,
        kind: Option<MessageKind>,
        now: Millis,
        session: Option<u32>,
    ) {
        let index = self.records.len() as u32;
        let stream = &self.streams[stream_ix as usize];
        let kind = head.kind(kind, stream.kind_from_name);
        let revision = stream.members.len() as u32;

        let start = self.arena.len() as u64;
        grow::push_str(&mut self.arena, head.text, &mut self.bytes);

        let name = self.intern_name(head.name);
        let slot = session.map_or(0, |s| s + 1);
        grow::push(
            &mut self.records,
            Record { time: now, start, stream: stream_ix, revision, session: slot, kind, stamped: !head.has_timestamp },
            &mut self.bytes,
        );
        let bytes = &mut self.bytes;
        grow::push(&mut self.streams[stream_ix as usize].members, index, bytes);
        grow::push(&mut self.by_kind[kind as usize], index, bytes);
        grow::push(&mut self.by_name[name as usize], index, bytes);
        if let Some(s) = session {
            let session = &mut self.sessions[s as usize];
            grow::push(&mut session.members, index, bytes);
            let info = &mut session.info;
            info.message_count += 1;
            match kind {
                MessageKind::Command => info.command_count += 1,
                MessageKind::Event => info.event_count += 1,
            }
            info.last_activity = now;
            self.touch(s);
        }
        if let Some(id) = head.correlation_id {
            self.by_correlation.add(id_index::key(&self.hasher, id), index, &mut self.bytes);
        }
        if let Some(id) = head.request_id {
            self.by_request.add(id_index::key(&self.hasher, id), index, &mut self.bytes);
        }
    }

    fn intern_name(&mut self, literal: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(literal) {
            return id;
        }
        let id = self.names.len() as u32;
        let name = JsonString::from_literal(literal).expect("Head::parse checked that type is a string");
        self.bytes.0 += 2 * name.heap_bytes();
        self.track_map(|e| {
            e.name_ids.insert(name.clone(), id);
        });
        grow::push(&mut self.names, name, &mut self.bytes);
        grow::push(&mut self.by_name, Vec::new(), &mut self.bytes);
        id
    }

    pub(crate) fn note_time(&mut self, now: Millis) {
        if let Some(newest) = self.newest {
            if now < newest {
                self.times_ordered = false;
            }
        }
        self.oldest = Some(self.oldest.map_or(now, |o| o.min(now)));
        self.newest = Some(self.newest.map_or(now, |n| n.max(now)));
    }

    /// Starts a session: records it, makes it current (replacing any other) and
    /// creates its empty stream `session-<id>`. Returns the new id.
    pub fn create_session(&mut self, now: Millis) -> JsonString {
        let id = loop {
            let candidate = JsonString::new(&format!("session-{now}-{}", self.random_suffix()));
            if !self.session_ids.contains_key(candidate.literal()) {
                break candidate;
            }
        };
        let ix = self.add_session(id.clone(), now);
        self.current_session = Some(ix);
        let session_stream = JsonString::new(&format!("session-{}", unquote(id.literal())));
        if !self.stream_ids.contains_key(session_stream.literal()) {
            self.add_stream(session_stream, now);
        }
        id
    }

    /// Notes that session `ix`'s `lastActivity` changed.
    fn touch(&mut self, ix: u32) {
        self.touches += 1;
        if self.touched.last() != Some(&ix) {
            grow::push(&mut self.touched, ix, &mut self.bytes);
        }
    }

    /// The present place in the log of touched sessions, for `touched_since`.
    pub fn touch_mark(&self) -> TouchMark {
        TouchMark { len: self.touched.len(), touches: self.touches }
    }

    /// The sessions whose `lastActivity` changed since `mark` (some perhaps twice).
    pub fn touched_since(&self, mark: TouchMark) -> impl Iterator<Item = u32> + '_ {
        // A touch of the session logged last before the mark was folded into that
        // entry, so that one counts whenever anything was touched since.
        let folded = if self.touches > mark.touches {
            mark.len.checked_sub(1).and_then(|i| self.touched.get(i).copied())
        } else {
            None
        };
        folded.into_iter().chain(self.touched.get(mark.len..).unwrap_or(&[]).iter().copied())
    }

    /// Records a session started at `now`, without making it current.
    pub(crate) fn add_session(&mut self, id: JsonString, now: Millis) -> u32 {
        let ix = self.sessions.len() as u32;
        self.bytes.0 += 2 * id.heap_bytes();
        self.track_map(|e| {
            e.session_ids.insert(id.clone(), ix);
        });
        let info = SessionInfo {
            session_id: id,
            started_at: now,
            message_count: 0,
            command_count: 0,
            event_count: 0,
            last_activity: now,
        };
        grow::push(&mut self.sessions, Session { info, members: Vec::new() }, &mut self.bytes);
        ix
    }

    /// 8 characters of `A-Za-z0-9_-`, from the process's random hash keys.
    fn random_suffix(&self) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        let mut h = self.hasher.build_hasher();
        h.write_usize(self.sessions.len());
        h.write_usize(self.records.len());
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let mut bits = h.finish();
        (0..8)
            .map(|_| {
                let c = ALPHABET[(bits & 63) as usize] as char;
                bits >>= 6;
                c
            })
            .collect()
    }

    /// Ends a session: touches its `lastActivity` and clears it as current. An
    /// unknown id is not an error.
    pub fn end_session(&mut self, id: &JsonString, now: Millis) {
        if let Some(&ix) = self.session_ids.get(id.literal()) {
            self.sessions[ix as usize].info.last_activity = now;
            self.touch(ix);
            if self.current_session == Some(ix) {
                self.current_session = None;
            }
        }
    }

    /// Sessions in creation order.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionInfo> {
        self.sessions.iter().map(|s| &s.info)
    }

    pub fn session_info(&self, id: &JsonString) -> Option<&SessionInfo> {
        self.session_ids.get(id.literal()).map(|&ix| &self.sessions[ix as usize].info)
    }

    pub fn current_session(&self) -> Option<&JsonString> {
        self.current_session.map(|ix| &self.sessions[ix as usize].info.session_id)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capacity_is_two_to_the_31_minus_one_and_its_error_says_so() {
        assert_eq!(MAX_MESSAGES, (1usize << 31) - 1);
        let mut engine = Engine::new();
        engine.capacity_for_tests = Some(3);
        let stream = JsonString::new("s");
        engine.save_json_array(&stream, r#"[{"type":"A"},{"type":"B"}]"#, None, None, 1).unwrap();
        let full = engine.save_json_array(&stream, r#"[{"type":"C"},{"type":"D"}]"#, None, None, 2).unwrap_err();
        assert_eq!(full, SaveError::CapacityExceeded);
        assert_eq!(full.to_string(), "the store cannot hold more than 2147483647 messages");
        // Refused whole: the store is as it was, and the one message that fits still does.
        assert_eq!(engine.stats().total_messages, 2);
        engine.save_json_array(&stream, r#"[{"type":"C"}]"#, None, None, 3).unwrap();
        assert_eq!(engine.stats().total_messages, 3);
        assert_eq!(
            engine.save_json_array(&stream, r#"[{"type":"E"}]"#, None, None, 4),
            Err(SaveError::CapacityExceeded)
        );
    }
}
