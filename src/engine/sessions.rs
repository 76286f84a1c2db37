//! Sessions: creating and ending them, the current one, and the log of sessions whose
//! `lastActivity` changed, which a journal reads to write only those.

use std::hash::{BuildHasher, Hasher};

use super::grow;
use super::model::{JsonString, SessionInfo};
use super::store::{unquote, Engine, Session};
use super::time::Millis;

/// A place in the engine's log of touched sessions (`Engine::touch_mark`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TouchMark {
    len: usize,
    touches: u64,
}

impl Engine {
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
    pub(super) fn touch(&mut self, ix: u32) {
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
}
