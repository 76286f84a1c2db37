//! Messages written out as JSON text: the shape `JSON.stringify` gives a positional
//! message once `revision` and `position` are decimal strings, which is what the
//! message-bus server sends over HTTP and what the JavaScript face parses.

use super::model::MessageKind;
use super::store::{Engine, NO_SESSION};
use super::time;

impl Engine {
    /// Writes `[` + one object per record + `]`:
    /// `{"streamId":…,"message":…,"messageType":…,"revision":"…","position":"…","timestamp":"…","sessionId":…}`.
    pub fn write_messages(&self, records: &[u32], out: &mut String) {
        let total: usize = records.iter().map(|&i| self.records[i as usize].len as usize + 160).sum();
        out.reserve(total + 2);
        out.push('[');
        // Messages saved together share a save time: format it once per run.
        let mut last_time = None;
        let mut iso = String::with_capacity(32);
        for (n, &i) in records.iter().enumerate() {
            let r = &self.records[i as usize];
            if last_time != Some(r.time) {
                iso.clear();
                time::write_iso(&mut iso, r.time);
                last_time = Some(r.time);
            }
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"streamId\":");
            out.push_str(self.streams[r.stream as usize].name.literal());
            out.push_str(",\"message\":");
            out.push_str(self.text(i));
            out.push_str(match r.kind {
                MessageKind::Command => ",\"messageType\":\"command\",\"revision\":\"",
                MessageKind::Event => ",\"messageType\":\"event\",\"revision\":\"",
            });
            push_u64(out, r.revision as u64);
            out.push_str("\",\"position\":\"");
            push_u64(out, i as u64 + 1);
            out.push_str("\",\"timestamp\":\"");
            out.push_str(&iso);
            out.push_str("\",\"sessionId\":");
            out.push_str(match r.session {
                0 => NO_SESSION,
                s => self.sessions[s as usize - 1].info.session_id.literal(),
            });
            out.push('}');
        }
        out.push(']');
    }

    /// The JSON text of `records`, as [`Engine::write_messages`] writes it.
    pub fn messages_json(&self, records: &[u32]) -> String {
        let mut out = String::new();
        self.write_messages(records, &mut out);
        out
    }
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
    // Digits are ASCII.
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}
