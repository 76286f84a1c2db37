//! The compact page reads that build objects come back in, which only the JavaScript
//! face reads (`lib/revive.js`): the messages, then seven numbers each (stream, kind,
//! revision, position, time, session, length), with stream and session names given
//! once per page in tables. Numbers instead of strings and no repeated keys or names
//! make `JSON.parse` and the pass after it cheaper. A message saved without
//! `timestamp` ends with `"timestamp":0`, where the JavaScript face puts the save time.

use std::collections::HashMap;

use crate::engine::output::{push_i64, push_u64};
use crate::engine::Engine;

/// One message's seven numbers in `d`: stream (table index), kind, revision and
/// position, then the save time, the session (table index) and the text's length.
fn push_entry(data: &mut String, first: [u64; 4], time: i64, session: u32, len: usize) {
    for n in first {
        push_u64(data, n);
        data.push(',');
    }
    push_i64(data, time);
    data.push(',');
    push_u64(data, u64::from(session));
    data.push(',');
    push_u64(data, len as u64);
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
pub fn write(engine: &Engine, records: &[u32], budget: usize, out: &mut String) -> usize {
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
        let r = &engine.records[i as usize];
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
            let text = engine.text(i);
            let open = &text[..text.len() - 1];
            out.push_str(open);
            if !open.trim_end().ends_with('{') {
                out.push(',');
            }
            out.push_str("\"timestamp\":0}");
        } else {
            out.push_str(engine.text(i));
        }
        push_entry(
            &mut data,
            [s as u64, u64::from(r.kind.code()), r.revision as u64, i as u64 + 1],
            r.time,
            x,
            engine.text(i).len(),
        );
        written += 1;
    }
    out.push_str("],\"d\":[");
    out.push_str(&data);
    out.push_str("],\"s\":[");
    for (n, &s) in stream_names.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(engine.streams[s as usize].name.literal());
    }
    out.push_str("],\"x\":[");
    for (n, &x) in session_slots.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(engine.session_literal(x));
    }
    out.push_str("]}");
    written
}

/// A compact page of rows a PostgreSQL read returned (the same format, so the same
/// JavaScript builds the objects). The texts there already hold their `timestamp`.
pub fn write_rows(rows: &[crate::postgres::MessageRow]) -> String {
    let mut streams: HashMap<&str, u32> = HashMap::new();
    let mut stream_names: Vec<&str> = Vec::new();
    let mut sessions: HashMap<&str, u32> = HashMap::new();
    let mut session_names: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(rows.iter().map(|r| r.body.len() + 1).sum::<usize>() + 64);
    let mut data = String::with_capacity(rows.len() * 24);
    out.push_str("{\"m\":[");
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(',');
            data.push(',');
        }
        out.push_str(&r.body);
        let s = *streams.entry(&r.stream).or_insert_with(|| {
            stream_names.push(&r.stream);
            stream_names.len() as u32 - 1
        });
        let x = *sessions.entry(&r.session).or_insert_with(|| {
            session_names.push(&r.session);
            session_names.len() as u32 - 1
        });
        push_entry(
            &mut data,
            [s as u64, u64::from(r.kind.code()), r.revision as u64, r.position as u64],
            r.time,
            x,
            r.body.len(),
        );
    }
    out.push_str("],\"d\":[");
    out.push_str(&data);
    out.push_str("],\"s\":[");
    out.push_str(&stream_names.join(","));
    out.push_str("],\"x\":[");
    out.push_str(&session_names.join(","));
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::JsonString;

    #[test]
    fn writes_compact_pages_within_budget() {
        let mut e = Engine::new();
        let s = JsonString::new("a");
        e.save(&s, &[r#"{"type":"A"}"#, r#"{"type":"B"}"#], None, None, 7).unwrap();
        e.save(&JsonString::new("b"), &[r#"{"type":"C"}"#], None, None, 8).unwrap();
        let mut out = String::new();
        assert_eq!(write(&e, &[0, 1, 2], 1 << 20, &mut out), 3);
        assert_eq!(
            out,
            r#"{"m":[{"type":"A","timestamp":0},{"type":"B","timestamp":0},{"type":"C","timestamp":0}],"d":[0,1,0,1,7,0,12,0,1,1,2,7,0,12,1,1,0,3,8,0,12],"s":["a","b"],"x":["no-session"]}"#
        );
        out.clear();
        assert_eq!(write(&e, &[1, 2], 1, &mut out), 1);
        assert_eq!(out, r#"{"m":[{"type":"B","timestamp":0}],"d":[0,1,1,2,7,0,12],"s":["a"],"x":["no-session"]}"#);
    }
}
