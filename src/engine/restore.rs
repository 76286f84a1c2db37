//! Rebuilding an engine from what a journal kept, and reading out what it must keep.
//!
//! A journal stores streams and sessions in creation order and messages in position
//! order, as they were saved (the stored text, the type decided at the save, the save
//! time, the session). Replaying them in that order gives back the same store: the
//! same positions, revisions, indexes, counters and times. No session is current
//! after a restore.

use super::error::SaveError;
use super::message::Fields;
use super::model::{JsonString, MessageKind, SessionInfo};
use super::store::Engine;
use super::time::Millis;

/// A message as a journal keeps it, borrowed from the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalMessage<'a> {
    pub position: u64,
    pub stream: &'a JsonString,
    /// The stream's place in creation order (`stream_at`).
    pub stream_index: u32,
    /// The stored text: without `timestamp` when the message had none.
    pub text: &'a str,
    pub kind: MessageKind,
    pub time: Millis,
    pub session: Option<&'a JsonString>,
    /// The session's place in creation order (`session_at`).
    pub session_index: Option<u32>,
}

impl Engine {
    /// Adds a stream as created at `created_at`, last in creation order.
    pub fn restore_stream(&mut self, name: JsonString, created_at: Millis) {
        if self.stream_ids.contains_key(name.literal()) {
            return;
        }
        self.add_stream(name, created_at);
    }

    /// Adds a session as started at `started_at`, not current.
    pub fn restore_session(&mut self, id: JsonString, started_at: Millis) {
        if self.session_ids.contains_key(id.literal()) {
            return;
        }
        self.add_session(id, started_at);
    }

    /// Appends a message of a restored stream as it was saved; returns its position.
    pub fn restore_message(
        &mut self,
        stream: &JsonString,
        text: &str,
        kind: MessageKind,
        time: Millis,
        session: Option<&JsonString>,
    ) -> Result<u64, SaveError> {
        let stream_ix = *self
            .stream_ids
            .get(stream.literal())
            .ok_or_else(|| SaveError::StreamNotFound { stream: stream.clone(), expected: -1 })?;
        let session =
            match session {
                Some(id) => Some(*self.session_ids.get(id.literal()).ok_or(SaveError::InvalidMessage {
                    index: 0,
                    reason: format!("names the unknown session {id:?}"),
                })?),
                None => None,
            };
        self.restore_message_at(stream_ix, text, kind, time, session)
    }

    /// `restore_message` with the stream and session given by creation order, as a
    /// journal that stores indexes has them (no name lookups on the reopen path).
    pub fn restore_message_at(
        &mut self,
        stream_index: u32,
        text: &str,
        kind: MessageKind,
        time: Millis,
        session_index: Option<u32>,
    ) -> Result<u64, SaveError> {
        if stream_index as usize >= self.streams.len() {
            return Err(SaveError::InvalidMessage {
                index: 0,
                reason: format!("names stream {stream_index}, which does not exist"),
            });
        }
        if let Some(s) = session_index {
            if s as usize >= self.sessions.len() {
                return Err(SaveError::InvalidMessage {
                    index: 0,
                    reason: format!("names session {s}, which does not exist"),
                });
            }
        }
        let fields = Fields::parse(text).map_err(|reason| SaveError::InvalidMessage { index: 0, reason })?;
        if self.records.len() >= self.capacity() {
            return Err(SaveError::CapacityExceeded { capacity: self.capacity() });
        }
        self.append(stream_index, &fields, Some(kind), time, session_index);
        self.streams[stream_index as usize].last_updated = time;
        self.note_time(time);
        Ok(self.records.len() as u64)
    }

    /// Sets a session's `lastActivity` as the journal last saw it.
    pub fn restore_session_activity(&mut self, id: &JsonString, last_activity: Millis) {
        if let Some(&ix) = self.session_ids.get(id.literal()) {
            self.sessions[ix as usize].info.last_activity = last_activity;
        }
    }

    /// Number of streams, in creation order; `stream_at` gives each.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The stream created `ix`-th and when.
    pub fn stream_at(&self, ix: usize) -> Option<(&JsonString, Millis)> {
        self.streams.get(ix).map(|s| (&s.name, s.created_at))
    }

    /// Number of sessions, in creation order; `session_at` gives each.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn session_at(&self, ix: usize) -> Option<&SessionInfo> {
        self.sessions.get(ix).map(|s| &s.info)
    }

    /// The texts of the messages at positions `first..=last`, end to end: they lie so
    /// in the arena, so a journal copies them in one piece. Empty when out of range.
    pub fn journal_texts(&self, first: u64, last: u64) -> &str {
        let (Some(a), Some(b)) = (first.checked_sub(1), last.checked_sub(1)) else { return "" };
        let (a, b) = (a as usize, b as usize);
        if a > b || b >= self.records.len() {
            return "";
        }
        let end = self.records.get(b + 1).map_or(self.arena.len(), |next| next.start as usize);
        &self.arena[self.records[a].start as usize..end]
    }

    /// The message at `position` as a journal keeps it.
    pub fn journal_message(&self, position: u64) -> Option<JournalMessage<'_>> {
        let index = position.checked_sub(1)? as usize;
        let r = self.records.get(index)?;
        Some(JournalMessage {
            position,
            stream: &self.streams[r.stream as usize].name,
            stream_index: r.stream,
            text: self.text(index as u32),
            kind: r.kind,
            time: r.time,
            session: r.session.checked_sub(1).map(|s| &self.sessions[s as usize].info.session_id),
            session_index: r.session.checked_sub(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, Filter, JsonString};

    /// Replaying what `journal_message` and friends give yields the same store.
    #[test]
    fn a_replayed_engine_reads_the_same() {
        let mut a = Engine::new();
        let s = |n: &str| JsonString::new(n);
        a.save(&s("orders"), &[r#"{"type":"A","requestId":"r"}"#], None, None, 10).unwrap();
        let sid = a.create_session(11);
        a.save(
            &s("orders"),
            &[r#"{"type":"B","timestamp":"2020-01-01T00:00:00.000Z"}"#, r#"{"type":"C"}"#],
            None,
            None,
            9,
        )
        .unwrap();
        a.save(&s("empty"), &[], None, None, 12).unwrap();
        a.end_session(&sid, 13);
        a.save(&s("user-commands"), &[r#"{"type":"D","correlationId":"c"}"#], None, None, 14).unwrap();

        let mut b = Engine::new();
        for ix in 0..a.stream_count() {
            let (name, created) = a.stream_at(ix).unwrap();
            b.restore_stream(name.clone(), created);
        }
        for ix in 0..a.session_count() {
            let info = a.session_at(ix).unwrap();
            b.restore_session(info.session_id.clone(), info.started_at);
        }
        for p in 1..=a.len() as u64 {
            let m = a.journal_message(p).unwrap();
            assert_eq!(b.restore_message(m.stream, m.text, m.kind, m.time, m.session).unwrap(), p);
        }
        for ix in 0..a.session_count() {
            let info = a.session_at(ix).unwrap();
            b.restore_session_activity(&info.session_id, info.last_activity);
        }

        let all = |e: &Engine| e.messages_json(&e.query(&Filter::default(), None));
        assert_eq!(all(&b), all(&a));
        assert_eq!(b.stats(), a.stats());
        assert_eq!(b.sessions().cloned().collect::<Vec<_>>(), a.sessions().cloned().collect::<Vec<_>>());
        for name in a.stream_names() {
            assert_eq!(b.stream_info(name), a.stream_info(name), "{name:?}");
        }
        assert_eq!(b.stream_names().collect::<Vec<_>>(), a.stream_names().collect::<Vec<_>>());
        assert_eq!(b.current_session(), None);
    }
}
