//! Messages written out as JSON text, in two shapes:
//!
//! - the serving shape, `JSON.stringify` of positional messages once `revision` and
//!   `position` are decimal strings: what the message-bus server sends over HTTP, and
//!   what `getMessagesJson` / `getAllMessagesJson` return;
//! - the compact page the JavaScript face turns into objects: the messages, then
//!   seven numbers each (stream, kind, revision, position, time, session, length),
//!   with stream and session names given once per page in tables. Numbers instead of
//!   strings and no repeated keys or names make `JSON.parse` and the pass after it
//!   cheaper. A message saved without `timestamp` ends with `"timestamp":0`, where
//!   the JavaScript face puts the save time (`time`).

use std::collections::HashMap;

use super::model::MessageKind;
use super::store::{push_stamped, Engine, NO_SESSION};
use super::time::{self, Millis};

impl Engine {
    /// Writes `[` + one object per record + `]` in the serving shape:
    /// `{"streamId":…,"message":…,"messageType":…,"revision":"…","position":"…","timestamp":"…","sessionId":…}`.
    pub fn write_messages(&self, records: &[u32], out: &mut String) {
        out.reserve(self.estimate(records) + 2);
        out.push('[');
        let mut iso = IsoCache::default();
        for (n, &i) in records.iter().enumerate() {
            let r = &self.records[i as usize];
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"streamId\":");
            out.push_str(self.streams[r.stream as usize].name.literal());
            out.push_str(",\"message\":");
            if r.stamped {
                push_stamped(out, self.text(i), r.time);
            } else {
                out.push_str(self.text(i));
            }
            out.push_str(match r.kind {
                MessageKind::Command => ",\"messageType\":\"command\",\"revision\":\"",
                MessageKind::Event => ",\"messageType\":\"event\",\"revision\":\"",
            });
            push_u64(out, r.revision as u64);
            out.push_str("\",\"position\":\"");
            push_u64(out, i as u64 + 1);
            out.push_str("\",\"timestamp\":\"");
            out.push_str(iso.get(r.time));
            out.push_str("\",\"sessionId\":");
            out.push_str(self.session_literal(r.session));
            out.push('}');
        }
        out.push(']');
    }

    /// The serving-shape JSON text of `records`.
    pub fn messages_json(&self, records: &[u32]) -> String {
        let mut out = String::new();
        self.write_messages(records, &mut out);
        out
    }

    /// Bytes the serving shape of `records` takes, without writing it.
    pub fn messages_json_len(&self, records: &[u32]) -> usize {
        let mut total = 2 + records.len().saturating_sub(1);
        for &i in records {
            let r = &self.records[i as usize];
            // `,"timestamp":"` + ISO + `"` when the save time is added to the message.
            let stamp = if r.stamped { 15 + iso_len(r.time) } else { 0 };
            total += self.text(i).len()
                + stamp
                + self.streams[r.stream as usize].name.literal().len()
                + self.session_literal(r.session).len()
                + if r.kind == MessageKind::Command { 7 } else { 5 }
                + digits(r.revision as u64)
                + digits(i as u64 + 1)
                + iso_len(r.time)
                // The keys, quotes and punctuation around the fields.
                + 97;
        }
        total
    }

    /// Writes a compact page (see the module notes) of the first records of
    /// `records` that fit in about `budget` bytes, at least one; returns how many.
    ///
    /// `{"m":[message,…],"d":[s,k,r,p,t,x,n,…],"s":[stream names],"x":[session ids]}`:
    /// the messages as stored (one saved without `timestamp` gets `"timestamp":0` at
    /// the end, the place of its save time), then seven numbers a message, where `s` and `x` index
    /// the tables, `k` is 0 for a command, 1 for an event, and `n` is the stored text's
    /// length in bytes (what the JavaScript face's cache counts). One flat array of
    /// numbers, not an array a message, leaves `JSON.parse` little garbage to make.
    pub fn write_page(&self, records: &[u32], budget: usize, out: &mut String) -> usize {
        let start = out.len();
        let mut streams: HashMap<u32, u32> = HashMap::new();
        let mut stream_names: Vec<u32> = Vec::new();
        let mut sessions: HashMap<u32, u32> = HashMap::new();
        let mut session_slots: Vec<u32> = Vec::new();
        let mut data = String::new();
        out.push_str("{\"m\":[");
        let mut written = 0;
        for &i in records {
            if written > 0 {
                if out.len() - start + data.len() >= budget {
                    break;
                }
                out.push(',');
                data.push(',');
            }
            let r = &self.records[i as usize];
            let s = *streams.entry(r.stream).or_insert_with(|| {
                stream_names.push(r.stream);
                stream_names.len() as u32 - 1
            });
            let x = *sessions.entry(r.session).or_insert_with(|| {
                session_slots.push(r.session);
                session_slots.len() as u32 - 1
            });
            if r.stamped {
                // The save time's place, kept so that JavaScript fills it in without
                // adding a key to a parsed object (a map transition and a new
                // property store per message).
                let text = self.text(i);
                let open = &text[..text.len() - 1];
                out.push_str(open);
                if !open.trim_end().ends_with('{') {
                    out.push(',');
                }
                out.push_str("\"timestamp\":0}");
            } else {
                out.push_str(self.text(i));
            }
            push_u64(&mut data, s as u64);
            data.push(',');
            data.push(char::from(b'0' + r.kind.code()));
            data.push(',');
            push_u64(&mut data, r.revision as u64);
            data.push(',');
            push_u64(&mut data, i as u64 + 1);
            data.push(',');
            push_i64(&mut data, r.time);
            data.push(',');
            push_u64(&mut data, x as u64);
            data.push(',');
            push_u64(&mut data, self.text(i).len() as u64);
            written += 1;
        }
        out.push_str("],\"d\":[");
        out.push_str(&data);
        out.push_str("],\"s\":[");
        for (n, &s) in stream_names.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(self.streams[s as usize].name.literal());
        }
        out.push_str("],\"x\":[");
        for (n, &x) in session_slots.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(self.session_literal(x));
        }
        out.push_str("]}");
        written
    }

    fn session_literal(&self, slot: u32) -> &str {
        match slot {
            0 => NO_SESSION,
            s => self.sessions[s as usize - 1].info.session_id.literal(),
        }
    }

    fn estimate(&self, records: &[u32]) -> usize {
        records.len() * 160 + records.iter().map(|&i| self.text(i).len()).sum::<usize>()
    }
}

/// Messages saved together share a save time: format it once per run.
#[derive(Default)]
struct IsoCache {
    time: Option<Millis>,
    text: String,
}

impl IsoCache {
    fn get(&mut self, t: Millis) -> &str {
        if self.time != Some(t) {
            self.text.clear();
            time::write_iso(&mut self.text, t);
            self.time = Some(t);
        }
        &self.text
    }
}

/// Length of `time::write_iso(t)`: 24 for the years 0000 to 9999, else 27 (`±YYYYYY`).
fn iso_len(t: Millis) -> usize {
    const YEAR_0: Millis = -62_167_219_200_000;
    const YEAR_10000: Millis = 253_402_300_800_000;
    if (YEAR_0..YEAR_10000).contains(&t) {
        24
    } else {
        27
    }
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[at..] {
        out.push(b as char);
    }
}

fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, JsonString};

    #[test]
    fn measures_the_serving_shape_exactly() {
        let mut e = Engine::new();
        let s = JsonString::new("orders-\"1\"");
        e.save(
            &s,
            &[r#"{"type":"A"}"#, r#"{"type":"B","timestamp":"2020-01-01T00:00:00.000Z"}"#],
            None,
            None,
            1_700_000_000_123,
        )
        .unwrap();
        e.create_session(-5);
        e.save(&s, &[r#"{"type":"C","requestId":"r"}"#], None, None, 253_402_300_800_000).unwrap();
        let all: Vec<u32> = (0..3).collect();
        for n in 0..=3 {
            assert_eq!(e.messages_json_len(&all[..n]), e.messages_json(&all[..n]).len(), "first {n}");
        }
    }

    #[test]
    fn writes_compact_pages_within_budget() {
        let mut e = Engine::new();
        let s = JsonString::new("a");
        e.save(&s, &[r#"{"type":"A"}"#, r#"{"type":"B"}"#], None, None, 7).unwrap();
        e.save(&JsonString::new("b"), &[r#"{"type":"C"}"#], None, None, 8).unwrap();
        let mut out = String::new();
        assert_eq!(e.write_page(&[0, 1, 2], 1 << 20, &mut out), 3);
        assert_eq!(
            out,
            r#"{"m":[{"type":"A","timestamp":0},{"type":"B","timestamp":0},{"type":"C","timestamp":0}],"d":[0,1,0,1,7,0,12,0,1,1,2,7,0,12,1,1,0,3,8,0,12],"s":["a","b"],"x":["no-session"]}"#
        );
        out.clear();
        assert_eq!(e.write_page(&[1, 2], 1, &mut out), 1);
        assert_eq!(out, r#"{"m":[{"type":"B","timestamp":0}],"d":[0,1,1,2,7,0,12],"s":["a"],"x":["no-session"]}"#);
    }
}
