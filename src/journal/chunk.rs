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
//!
//! `bodies` is stored LZ4-compressed when that pays (`encode`), as Kafka compresses
//! its record batches: messages of one commit share keys and often values, so a
//! commit of 100 typical messages shrinks several times over, for about 60 ns a
//! message, and the kernel has that much less to copy into the WAL, to sync at
//! `'power'`, and to copy again at checkpoints.

use std::borrow::Cow;

use crate::engine::{MessageKind, Millis};

pub const META_BYTES: usize = 21;

/// A chunk's bodies stop growing past this many bytes; a longer commit writes several
/// chunks, in the same transaction. Keeps rows well inside SQLite's length limit.
pub const CHUNK_BYTES: usize = 16 << 20;

/// Texts shorter than this are stored as they are: one or two messages gain little,
/// and LZ4's setup (a 16 KiB table) costs more than the write it would save.
pub const COMPRESS_FROM: usize = 2048;

/// How a chunk's `bodies` are stored: the `encoding` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// 0: the texts themselves (a TEXT value).
    Text(String),
    /// 1: an LZ4 block of the texts (a BLOB), without its length: the entries give it.
    Lz4(Vec<u8>),
}

impl Default for Stored {
    fn default() -> Self {
        Stored::Text(String::new())
    }
}

impl Stored {
    pub fn encoding(&self) -> i64 {
        match self {
            Stored::Text(_) => 0,
            Stored::Lz4(_) => 1,
        }
    }
}

/// The stored form of a chunk's texts: compressed when that saves at least an eighth.
/// Compressing straight from the engine's arena, the texts are never copied whole.
pub fn encode(bodies: &str) -> Stored {
    if bodies.len() < COMPRESS_FROM {
        return Stored::Text(bodies.to_owned());
    }
    let packed = lz4_flex::block::compress(bodies.as_bytes());
    if packed.len() > bodies.len() - bodies.len() / 8 {
        return Stored::Text(bodies.to_owned());
    }
    Stored::Lz4(packed)
}

/// The texts of a stored chunk, from its `encoding` and `bodies` columns; `meta` (its
/// entries) says how long they are, checked before anything is allocated, so a damaged
/// row cannot ask for more.
pub fn unpack<'a>(encoding: i64, stored: &'a [u8], meta: &[u8]) -> Result<Cow<'a, str>, String> {
    match encoding {
        0 => std::str::from_utf8(stored).map(Cow::Borrowed).map_err(|e| format!("has text that is not UTF-8 ({e})")),
        1 => {
            let len: usize = meta
                .chunks_exact(META_BYTES)
                .map(|e| u32::from_le_bytes(e[0..4].try_into().expect("4 bytes")) as usize)
                .sum();
            let text = lz4_flex::block::decompress(stored, len).map_err(|e| format!("does not decompress ({e})"))?;
            if text.len() != len {
                return Err(format!("decompresses to {} bytes, not the {len} its entries say", text.len()));
            }
            String::from_utf8(text).map(Cow::Owned).map_err(|e| format!("has text that is not UTF-8 ({e})"))
        }
        e => Err(format!("has encoding {e}")),
    }
}

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
    /// The texts, once `seal` has them.
    pub bodies: Stored,
}

impl Chunk {
    pub fn new(first: u64) -> Self {
        Chunk { first, ..Default::default() }
    }

    /// Adds the entry of a message; its text comes with the others in `seal`.
    pub fn push_meta(&mut self, text_len: usize, stream: u32, session: Option<u32>, time: Millis, kind: MessageKind) {
        let len = u32::try_from(text_len).expect("a message text is shorter than 4 GiB");
        self.meta.extend_from_slice(&len.to_le_bytes());
        self.meta.extend_from_slice(&stream.to_le_bytes());
        self.meta.extend_from_slice(&session.map_or(0, |s| s + 1).to_le_bytes());
        self.meta.extend_from_slice(&time.to_le_bytes());
        self.meta.push(kind.code());
        self.count += 1;
    }

    /// Takes the texts of the messages whose entries were pushed, end to end.
    pub fn seal(&mut self, texts: &str) {
        self.bodies = encode(texts);
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
        let kind = MessageKind::from_code(u32::from(e[20]))
            .ok_or_else(|| format!("message {} has kind {}", out.len(), e[20]))?;
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

    /// A chunk of `entries`, and its texts end to end.
    fn chunk(entries: &[Entry]) -> (Chunk, String) {
        let mut c = Chunk::new(7);
        let mut texts = String::new();
        for e in entries {
            c.push_meta(e.text.len(), e.stream, e.session, e.time, e.kind);
            texts.push_str(e.text);
        }
        c.seal(&texts);
        (c, texts)
    }

    #[test]
    fn entries_round_trip() {
        let entries = [
            Entry {
                text: r#"{"type":"A"}"#,
                stream: 0,
                session: None,
                time: 1_700_000_000_000,
                kind: MessageKind::Event,
            },
            Entry {
                text: r#"{"type":"é","x":"\ud800"}"#,
                stream: 4_000_000_000,
                session: Some(0),
                time: -5,
                kind: MessageKind::Command,
            },
            Entry { text: "{}", stream: 3, session: Some(u32::MAX - 1), time: i64::MAX, kind: MessageKind::Event },
        ];
        let (c, texts) = chunk(&entries);
        assert_eq!((c.first, c.count, c.meta.len()), (7, 3, 3 * META_BYTES));
        assert_eq!(c.bodies, Stored::Text(texts.clone()));
        assert_eq!(decode(c.count, &c.meta, &texts).unwrap(), entries);
        assert_eq!(decode(0, &[], "").unwrap(), vec![]);
    }

    #[test]
    fn bodies_are_compressed_when_it_pays_and_unpack_back() {
        let small = r#"{"type":"A"}"#;
        assert_eq!(encode(small), Stored::Text(small.to_owned()));
        let e = |i: usize| {
            format!(r#"{{"type":"OrderPlaced","data":{{"orderId":"ord-{i}","note":"Leave at the front door"}}}}"#)
        };
        let texts: Vec<String> = (0..100).map(e).collect();
        let entries: Vec<Entry> = texts
            .iter()
            .map(|t| Entry { text: t, stream: 0, session: None, time: 1, kind: MessageKind::Event })
            .collect();
        let (c, all) = chunk(&entries);
        let Stored::Lz4(packed) = &c.bodies else { panic!("100 alike messages were not compressed") };
        assert!(packed.len() * 4 < all.len(), "{} of {}", packed.len(), all.len());
        assert_eq!(unpack(1, packed, &c.meta).unwrap(), all);
        assert_eq!(unpack(0, all.as_bytes(), &c.meta).unwrap(), all);
        // Random-looking text does not shrink by an eighth: stored as it is.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: String = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x % 90) as u8)
            })
            .collect();
        assert_eq!(encode(&noise), Stored::Text(noise.clone()));
        // Damage is refused with the reason, never more memory than the entries say.
        assert_eq!(unpack(2, b"", &c.meta).unwrap_err(), "has encoding 2");
        assert!(unpack(1, &packed[..packed.len() / 2], &c.meta).unwrap_err().starts_with("does not decompress"));
        assert!(unpack(1, packed, &c.meta[..META_BYTES * 99])
            .unwrap_err()
            .starts_with("does not decompress (provided output is too small"));
        assert!(unpack(0, &[0xff, 0xfe], &[]).unwrap_err().starts_with("has text that is not UTF-8"));
    }

    #[test]
    fn a_damaged_chunk_is_refused_with_the_reason() {
        let e = Entry { text: r#"{"type":"A"}"#, stream: 1, session: None, time: 2, kind: MessageKind::Event };
        let (c, texts) = chunk(&[e, e]);
        assert_eq!(decode(3, &c.meta, &texts).unwrap_err(), "has 42 bytes of entries for 3 messages");
        assert_eq!(decode(2, &c.meta, &texts[..20]).unwrap_err(), "message 1 does not fit the chunk's text");
        assert_eq!(decode(2, &c.meta, &format!("{texts} ")).unwrap_err(), "has 1 bytes of text after its last message");
        let mut bad = c.meta.clone();
        bad[META_BYTES + 20] = 9;
        assert_eq!(decode(2, &bad, &texts).unwrap_err(), "message 1 has kind 9");
    }
}
