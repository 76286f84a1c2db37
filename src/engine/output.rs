//! Messages written out as JSON text in the serving shape: `JSON.stringify` of
//! positional messages once `revision` and `position` are decimal strings, what the
//! message-bus server sends over HTTP and what `getMessagesJson` /
//! `getAllMessagesJson` return. (The compact pages the JavaScript face builds objects
//! from are the binding's: `src/binding/page.rs`.)

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

    /// A session slot's literal (0: no session), as reads write `sessionId`.
    pub(crate) fn session_literal(&self, slot: u32) -> &str {
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

/// Writes `n` in decimal (no allocation; this runs for every number of every page).
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
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

pub(crate) fn push_i64(out: &mut String, n: i64) {
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
}
