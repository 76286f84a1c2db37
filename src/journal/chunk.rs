//! A chunk: consecutive messages stored as one row, so that a commit costs one
//! insert however many messages it holds.
//!
//! A row per message cost about 1.2 µs per message to insert (B-tree work and six
//! bound values each), more than half of what a save costs in total. A chunk is two
//! values: `bodies`, the messages' JSON texts end to end (copied in one piece out of
//! the engine's arena, where they already lie in position order), and `meta`, a fixed
//! `META_BYTES`-byte entry per message, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | length of the text in `bodies`, in bytes |
//! | 4..8 | stream, by creation order (`streams.ix`) |
//! | 8..12 | session, by creation order, plus one; 0 outside sessions |
//! | 12..20 | save time, epoch ms |
//! | 20 | 0 command, 1 event |

use crate::engine::{MessageKind, Millis};

pub const META_BYTES: usize = 21;

/// A chunk's bodies stop growing past this many bytes; a longer commit writes several
/// chunks, in the same transaction. Keeps rows well inside SQLite's length limit.
pub const CHUNK_BYTES: usize = 16 << 20;

/// One message of a chunk, as the engine saved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub text: &'a str,
    pub stream: u32,
    pub session: Option<u32>,
    pub time: Millis,
    pub kind: MessageKind,
}

/// A chunk being built, then written as one row.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Position of the first message.
    pub first: u64,
    pub count: u32,
    pub meta: Vec<u8>,
    pub bodies: String,
}

impl Chunk {
    pub fn new(first: u64) -> Self {
        Chunk { first, ..Default::default() }
    }

    /// Adds the entry of a message whose text the caller appends to `bodies` (all the
    /// texts of a chunk are copied in one piece).
    pub fn push_meta(&mut self, text_len: usize, stream: u32, session: Option<u32>, time: Millis, kind: MessageKind) {
        let len = u32::try_from(text_len).expect("a message text is shorter than 4 GiB");
        self.meta.extend_from_slice(&len.to_le_bytes());
        self.meta.extend_from_slice(&stream.to_le_bytes());
        self.meta.extend_from_slice(&session.map_or(0, |s| s + 1).to_le_bytes());
        self.meta.extend_from_slice(&time.to_le_bytes());
        self.meta.push(match kind {
            MessageKind::Command => 0,
            MessageKind::Event => 1,
        });
        self.count += 1;
    }
}

/// The entries of a stored chunk, checked against each other: an error names what
/// does not fit (a damaged or hand-edited row).
pub fn decode<'a>(count: u32, meta: &'a [u8], bodies: &'a str) -> Result<Vec<Entry<'a>>, String> {
    if meta.len() != count as usize * META_BYTES {
        return Err(format!("has {} bytes of entries for {count} messages", meta.len()));
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut at = 0usize;
    for e in meta.chunks_exact(META_BYTES) {
        let u32_at = |i: usize| u32::from_le_bytes(e[i..i + 4].try_into().expect("4 bytes"));
        let len = u32_at(0) as usize;
        let text = at
            .checked_add(len)
            .and_then(|end| bodies.get(at..end))
            .ok_or_else(|| format!("message {} does not fit the chunk's text", out.len()))?;
        at += len;
        let kind = match e[20] {
            0 => MessageKind::Command,
            1 => MessageKind::Event,
            k => return Err(format!("message {} has kind {k}", out.len())),
        };
        out.push(Entry {
            text,
            stream: u32_at(4),
            session: u32_at(8).checked_sub(1),
            time: i64::from_le_bytes(e[12..20].try_into().expect("8 bytes")),
            kind,
        });
    }
    if at != bodies.len() {
        return Err(format!("has {} bytes of text after its last message", bodies.len() - at));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(entries: &[Entry]) -> Chunk {
        let mut c = Chunk::new(7);
        for e in entries {
            c.push_meta(e.text.len(), e.stream, e.session, e.time, e.kind);
            c.bodies.push_str(e.text);
        }
        c
    }

    #[test]
    fn entries_round_trip() {
        let entries = [
            Entry { text: r#"{"type":"A"}"#, stream: 0, session: None, time: 1_700_000_000_000, kind: MessageKind::Event },
            Entry { text: r#"{"type":"é","x":"\ud800"}"#, stream: 4_000_000_000, session: Some(0), time: -5, kind: MessageKind::Command },
            Entry { text: "{}", stream: 3, session: Some(u32::MAX - 1), time: i64::MAX, kind: MessageKind::Event },
        ];
        let c = chunk(&entries);
        assert_eq!((c.first, c.count, c.meta.len()), (7, 3, 3 * META_BYTES));
        assert_eq!(decode(c.count, &c.meta, &c.bodies).unwrap(), entries);
        assert_eq!(decode(0, &[], "").unwrap(), vec![]);
    }

    #[test]
    fn a_damaged_chunk_is_refused_with_the_reason() {
        let e = Entry { text: r#"{"type":"A"}"#, stream: 1, session: None, time: 2, kind: MessageKind::Event };
        let c = chunk(&[e, e]);
        assert_eq!(decode(3, &c.meta, &c.bodies).unwrap_err(), "has 42 bytes of entries for 3 messages");
        assert_eq!(decode(2, &c.meta, &c.bodies[..20]).unwrap_err(), "message 1 does not fit the chunk's text");
        assert_eq!(decode(2, &c.meta, &format!("{} ", c.bodies)).unwrap_err(), "has 1 bytes of text after its last message");
        let mut bad = c.meta.clone();
        bad[META_BYTES + 20] = 9;
        assert_eq!(decode(2, &bad, &c.bodies).unwrap_err(), "message 1 has kind 9");
    }
}
