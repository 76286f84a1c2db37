//! The save path: checks that can refuse a save, all before anything changes, then
//! appending records and keeping every index in step (the invariants at the top of
//! `store.rs`).

use super::error::SaveError;
use super::grow;
use super::id_index;
use super::message::Fields;
use super::model::{JsonString, MessageKind};
use super::store::{Engine, Record, Stream};
use super::time::Millis;

/// What a successful save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOutcome {
    /// The stream's revision after the save (-1 for a new, empty stream).
    pub revision: i64,
    /// Position of the first message saved; with `count == 0`, the next position.
    pub first_position: u64,
    pub count: usize,
}

/// What a save requires of its stream before it appends: KurrentDB's expected-revision
/// modes. A save given none (`None`) is `'any'`: nothing is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The stream is at this revision; -1: it does not exist or has no messages.
    Revision(i64),
    /// `'no_stream'`: the stream does not exist or has no messages.
    NoStream,
    /// `'stream_exists'`: the stream has at least one message.
    StreamExists,
}

impl Expected {
    /// The numbers that stand for the two modes across the boundary (`EXPECTED_MODES`
    /// in `lib/validate.js`, and the append function of `postgres/schema.rs`); every
    /// other number from -1 up is a revision.
    pub const NO_STREAM: i64 = -2;
    pub const STREAM_EXISTS: i64 = -3;

    /// The expectation a boundary number stands for; `None` for one below -3.
    pub fn from_code(code: i64) -> Option<Expected> {
        match code {
            Expected::NO_STREAM => Some(Expected::NoStream),
            Expected::STREAM_EXISTS => Some(Expected::StreamExists),
            r if r >= -1 => Some(Expected::Revision(r)),
            _ => None,
        }
    }

    /// The boundary number of this expectation (the inverse of `from_code`).
    pub fn code(self) -> i64 {
        match self {
            Expected::Revision(r) => r,
            Expected::NoStream => Expected::NO_STREAM,
            Expected::StreamExists => Expected::STREAM_EXISTS,
        }
    }

    /// Why a stream at `current` (-1: no messages), which `exists` or not, fails this
    /// expectation; `None` when it meets it.
    pub fn refusal(self, stream: &JsonString, exists: bool, current: i64) -> Option<SaveError> {
        match self {
            Expected::Revision(e) if !exists && e != -1 => {
                Some(SaveError::StreamNotFound { stream: stream.clone(), expected: e })
            }
            Expected::Revision(e) if e != current => {
                Some(SaveError::WrongExpectedRevision { expected: e, actual: current })
            }
            Expected::NoStream if current != -1 => {
                Some(SaveError::StreamExists { stream: stream.clone(), actual: current })
            }
            Expected::StreamExists if current == -1 => Some(SaveError::NoMessages { stream: stream.clone() }),
            _ => None,
        }
    }
}

impl Engine {
    /// Saves a batch given as the JSON text of an array of messages.
    pub fn save_json_array(
        &mut self,
        stream: &JsonString,
        batch: &str,
        expected: Option<Expected>,
        kind: Option<MessageKind>,
        now: Millis,
    ) -> Result<SaveOutcome, SaveError> {
        let parsed =
            Fields::parse_batch(batch).map_err(|(index, reason)| SaveError::InvalidMessage { index, reason })?;
        self.save_parsed(stream, parsed, expected, kind, now)
    }

    /// Saves `messages` (each the JSON text of one message object) to `stream`, all
    /// or nothing, at save time `now`.
    pub fn save(
        &mut self,
        stream: &JsonString,
        messages: &[&str],
        expected: Option<Expected>,
        kind: Option<MessageKind>,
        now: Millis,
    ) -> Result<SaveOutcome, SaveError> {
        let parsed = messages
            .iter()
            .enumerate()
            .map(|(index, text)| Fields::parse(text).map_err(|reason| SaveError::InvalidMessage { index, reason }))
            .collect::<Result<Vec<_>, _>>()?;
        self.save_parsed(stream, parsed, expected, kind, now)
    }

    /// Saves messages whose fields are read: checks the stream's revision and room,
    /// then appends (nothing after the checks can fail).
    fn save_parsed(
        &mut self,
        stream: &JsonString,
        parsed: Vec<Fields<'_>>,
        expected: Option<Expected>,
        kind: Option<MessageKind>,
        now: Millis,
    ) -> Result<SaveOutcome, SaveError> {
        let existing = self.find_stream(stream);
        let current = existing.map_or(-1, |s| self.streams[s as usize].members.len() as i64 - 1);
        if let Some(refusal) = expected.and_then(|e| e.refusal(stream, existing.is_some(), current)) {
            return Err(refusal);
        }
        if self.records.len() + parsed.len() > self.capacity() || self.streams.len() >= self.capacity() {
            return Err(SaveError::CapacityExceeded { capacity: self.capacity() });
        }

        // Nothing below can fail.
        let stream_ix = match existing {
            Some(s) => s,
            None => self.add_stream(stream.clone(), now),
        };
        let first_position = self.records.len() as u64 + 1;
        grow::reserve(&mut self.records, parsed.len(), &mut self.bytes);
        for fields in &parsed {
            self.append(stream_ix, fields, kind, now, self.current_session);
        }
        if !parsed.is_empty() {
            self.streams[stream_ix as usize].last_updated = now;
            self.note_time(now);
        }
        Ok(SaveOutcome { revision: current + parsed.len() as i64, first_position, count: parsed.len() })
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

    /// Appends one message of `stream_ix`, stamped with `session` (an index into
    /// `sessions`), and updates every index and counter.
    pub(crate) fn append(
        &mut self,
        stream_ix: u32,
        fields: &Fields<'_>,
        kind: Option<MessageKind>,
        now: Millis,
        session: Option<u32>,
    ) {
        let index = self.records.len() as u32;
        let stream = &self.streams[stream_ix as usize];
        let kind = fields.kind(kind, stream.kind_from_name);
        let revision = stream.members.len() as u32;

        let start = self.arena.len() as u64;
        grow::push_str(&mut self.arena, fields.text, &mut self.bytes);

        let name = self.intern_name(fields.name);
        let slot = session.map_or(0, |s| s + 1);
        grow::push(
            &mut self.records,
            Record {
                time: now,
                start,
                stream: stream_ix,
                revision,
                session: slot,
                kind,
                stamped: !fields.has_timestamp,
            },
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
        if let Some(id) = fields.correlation_id {
            self.by_correlation.add(id_index::key(&self.hasher, id), index, &mut self.bytes);
        }
        if let Some(id) = fields.request_id {
            self.by_request.add(id_index::key(&self.hasher, id), index, &mut self.bytes);
        }
    }

    fn intern_name(&mut self, literal: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(literal) {
            return id;
        }
        let id = self.names.len() as u32;
        let name = JsonString::from_literal(literal).expect("Fields::parse checked that type is a string");
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::MAX_MESSAGES;

    #[test]
    fn the_capacity_is_two_to_the_31_minus_one_and_its_error_says_so() {
        assert_eq!(MAX_MESSAGES, (1usize << 31) - 1);
        let mut engine = Engine::new();
        engine.capacity_for_tests = Some(3);
        let stream = JsonString::new("s");
        engine.save_json_array(&stream, r#"[{"type":"A"},{"type":"B"}]"#, None, None, 1).unwrap();
        let full = engine.save_json_array(&stream, r#"[{"type":"C"},{"type":"D"}]"#, None, None, 2).unwrap_err();
        assert_eq!(full, SaveError::CapacityExceeded { capacity: 3 });
        assert_eq!(full.to_string(), "the store cannot hold more than 3 messages");
        assert_eq!(
            SaveError::CapacityExceeded { capacity: MAX_MESSAGES }.to_string(),
            "the store cannot hold more than 2147483647 messages"
        );
        // Refused whole: the store is as it was, and the one message that fits still does.
        assert_eq!(engine.stats().total_messages, 2);
        engine.save_json_array(&stream, r#"[{"type":"C"}]"#, None, None, 3).unwrap();
        assert_eq!(engine.stats().total_messages, 3);
        assert_eq!(
            engine.save_json_array(&stream, r#"[{"type":"E"}]"#, None, None, 4),
            Err(SaveError::CapacityExceeded { capacity: 3 })
        );
    }
}
