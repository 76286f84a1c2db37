//! A store's history as text, the same for every store: what `exportHistory` writes,
//! what `importHistory` reads, and what the `message-store` command copies, exports
//! and imports with. NDJSON, one JSON object a line (docs/cli.md#the-history-format):
//!
//! ```text
//! {"format":"message-store-history","version":1,"after":0,"lastPosition":2,"messages":2,"streams":2,"sessions":[{"sessionId":"s","startedAt":"…","lastActivity":"…"}]}
//! {"streamId":"orders","createdAt":"2026-12-04T19:45:01.123Z"}
//! {"position":1,"streamId":"orders","revision":0,"messageType":"command","timestamp":"…","sessionId":"s","message":{"type":"Place","data":{}}}
//! {"streamId":"session-s","createdAt":"…"}
//! {"position":2,"streamId":"orders","revision":1,"messageType":"event","timestamp":"…","message":{"type":"Placed","data":{}}}
//! ```
//!
//! Line 1 is the header: the format and its version, the messages it holds (positions
//! `after + 1 ..= lastPosition`), how many lines of each kind follow, and every
//! session (messages name them). Then every stream of the store, in creation order,
//! each before its first message, and the messages in position order: the message as
//! it was stored (without `timestamp` when it was saved without one) and what the store
//! decided at the save (revision, type, time, session; no `sessionId`: none).
//!
//! What a history keeps, and importing checks line by line (`plan`):
//! - positions run `after + 1`, `after + 2`, … with no gap;
//! - a stream is declared once, before its first message; its revisions run on from
//!   the store's with no gap;
//! - a message names a session of the header;
//! - the text holds exactly the header's counts of lines (the caller counts: a file
//!   cut short ends early).
//!
//! A store is written only from empty, or, to resume, from a store whose messages are
//! the history's start: positions up to its head are skipped, the one at its head
//! compared (`Plan::at_head`).

pub mod engine;

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::engine::fields::Fields;
use crate::engine::time::{parse_iso, write_iso};
use crate::engine::{JsonString, MessageKind, Millis};

/// The header's `format`: what the first line of every history says it is.
pub const FORMAT: &str = "message-store-history";
/// The version of the format this crate writes and reads.
pub const VERSION: u64 = 1;

/// Why a history cannot be written into a store. Nothing of the text that failed was
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryError {
    /// The text is not a whole, well-formed history (a line, the header, a gap).
    Invalid(String),
    /// The store holds something the history does not continue.
    Conflict(String),
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryError::Invalid(m) | HistoryError::Conflict(m) => f.write_str(m),
        }
    }
}

fn invalid(line: u64, what: impl std::fmt::Display) -> HistoryError {
    HistoryError::Invalid(format!("line {line}: {what}"))
}

/// A session as the header lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    pub id: JsonString,
    pub started_at: Millis,
    pub last_activity: Millis,
}

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Positions up to this one are not in the text.
    pub after: u64,
    pub last_position: u64,
    /// Message lines that follow.
    pub messages: u64,
    /// Stream lines that follow.
    pub streams: u64,
    pub sessions: Vec<SessionLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawHeader<'a> {
    #[allow(dead_code)]
    format: &'a str,
    #[allow(dead_code)]
    version: u64,
    after: u64,
    last_position: u64,
    messages: u64,
    streams: u64,
    #[serde(borrow)]
    sessions: Vec<RawSession<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSession<'a> {
    #[serde(borrow)]
    session_id: &'a RawValue,
    started_at: &'a str,
    last_activity: &'a str,
}

#[derive(Deserialize)]
struct Identity<'a> {
    format: Option<&'a str>,
    version: Option<serde_json::Value>,
}

impl Header {
    /// Reads line 1. The format and version are checked first, so that a history of a
    /// later version is refused for that, whatever else it holds.
    pub fn parse(line: &str) -> Result<Header, HistoryError> {
        let line = line.trim_end_matches('\r');
        let id: Identity =
            serde_json::from_str(line).map_err(|e| invalid(1, format!("the header is not JSON ({e})")))?;
        if id.format != Some(FORMAT) {
            return Err(invalid(
                1,
                format!("not a message store history: the header's \"format\" must be \"{FORMAT}\""),
            ));
        }
        match id.version.as_ref().and_then(serde_json::Value::as_u64) {
            Some(VERSION) => {}
            Some(v) => {
                return Err(invalid(
                    1,
                    format!("format version {v} is unknown: this package reads version {VERSION}; upgrade @auto-engineer/message-store to read it"),
                ))
            }
            None => return Err(invalid(1, "the header's \"version\" must be a whole number")),
        }
        let raw: RawHeader =
            serde_json::from_str(line).map_err(|e| invalid(1, format!("the header is malformed ({e})")))?;
        if raw.messages != raw.last_position.saturating_sub(raw.after) || raw.after > raw.last_position {
            return Err(invalid(1, "the header's \"messages\" must be \"lastPosition\" - \"after\""));
        }
        let mut sessions = Vec::with_capacity(raw.sessions.len());
        for s in raw.sessions {
            let id = name(s.session_id).map_err(|w| invalid(1, format!("a session's sessionId {w}")))?;
            sessions.push(SessionLine {
                started_at: time(s.started_at).map_err(|w| invalid(1, format!("session {id:?}'s startedAt {w}")))?,
                last_activity: time(s.last_activity)
                    .map_err(|w| invalid(1, format!("session {id:?}'s lastActivity {w}")))?,
                id,
            });
        }
        Ok(Header {
            after: raw.after,
            last_position: raw.last_position,
            messages: raw.messages,
            streams: raw.streams,
            sessions,
        })
    }

    pub fn write(&self, out: &mut String) {
        out.push_str("{\"format\":\"");
        out.push_str(FORMAT);
        out.push_str("\",\"version\":");
        out.push_str(&VERSION.to_string());
        for (key, n) in [
            ("after", self.after),
            ("lastPosition", self.last_position),
            ("messages", self.messages),
            ("streams", self.streams),
        ] {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":");
            out.push_str(&n.to_string());
        }
        out.push_str(",\"sessions\":[");
        for (i, s) in self.sessions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"sessionId\":");
            out.push_str(s.id.literal());
            out.push_str(",\"startedAt\":\"");
            write_iso(out, s.started_at);
            out.push_str("\",\"lastActivity\":\"");
            write_iso(out, s.last_activity);
            out.push_str("\"}");
        }
        out.push_str("]}\n");
    }
}

/// A message as a history line holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageLine<'a> {
    pub position: u64,
    pub stream: JsonString,
    pub revision: u64,
    pub kind: MessageKind,
    pub time: Millis,
    pub session: Option<JsonString>,
    /// The message's JSON text as stored.
    pub text: &'a str,
}

/// One line after the header, with its line number in the text (1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    Stream { line: u64, name: JsonString, created_at: Millis },
    Message { line: u64, message: MessageLine<'a> },
}

pub fn write_stream_line(out: &mut String, name: &JsonString, created_at: Millis) {
    out.push_str("{\"streamId\":");
    out.push_str(name.literal());
    out.push_str(",\"createdAt\":\"");
    write_iso(out, created_at);
    out.push_str("\"}\n");
}

pub fn write_message_line(out: &mut String, m: &MessageLine<'_>) {
    use crate::engine::output::push_u64;
    out.push_str("{\"position\":");
    push_u64(out, m.position);
    out.push_str(",\"streamId\":");
    out.push_str(m.stream.literal());
    out.push_str(",\"revision\":");
    push_u64(out, m.revision);
    out.push_str(",\"messageType\":\"");
    out.push_str(m.kind.as_str());
    out.push_str("\",\"timestamp\":\"");
    write_iso(out, m.time);
    out.push('"');
    if let Some(s) = &m.session {
        out.push_str(",\"sessionId\":");
        out.push_str(s.literal());
    }
    out.push_str(",\"message\":");
    out.push_str(m.text);
    out.push_str("}\n");
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawLine<'a> {
    position: Option<u64>,
    #[serde(borrow)]
    stream_id: Option<&'a RawValue>,
    revision: Option<u64>,
    message_type: Option<&'a str>,
    timestamp: Option<&'a str>,
    #[serde(borrow)]
    session_id: Option<&'a RawValue>,
    created_at: Option<&'a str>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
}

/// A name (stream, session) from its JSON value: kept as `JSON.stringify` writes it,
/// so that `"\u0061"` and `"a"` are one stream; a literal with a lone surrogate (which
/// no Rust string holds) is kept as written.
fn name(raw: &RawValue) -> Result<JsonString, &'static str> {
    match serde_json::from_str::<String>(raw.get()) {
        Ok(s) => Ok(JsonString::new(&s)),
        Err(_) => JsonString::from_literal(raw.get()).ok_or("must be a string"),
    }
}

fn time(text: &str) -> Result<Millis, &'static str> {
    parse_iso(text).ok_or("must be a time as Date.prototype.toISOString writes it (2026-01-31T12:00:00.000Z)")
}

/// Reads the lines of `text` (whole lines; the first is line `first_line` of the
/// history). Blank lines are skipped.
pub fn parse_lines(text: &str, first_line: u64) -> Result<Vec<Line<'_>>, HistoryError> {
    let mut lines = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        lines.push(parse_line(raw, first_line + i as u64)?);
    }
    Ok(lines)
}

fn parse_line(text: &str, line: u64) -> Result<Line<'_>, HistoryError> {
    let raw: RawLine = serde_json::from_str(text).map_err(|e| invalid(line, format!("not a history line ({e})")))?;
    let stream = raw.stream_id.ok_or_else(|| invalid(line, "has no \"streamId\""))?;
    let stream = name(stream).map_err(|w| invalid(line, format!("streamId {w}")))?;
    let Some(position) = raw.position else {
        let created = raw.created_at.ok_or_else(|| {
            invalid(line, "is neither a stream (streamId, createdAt) nor a message (position, streamId, …)")
        })?;
        if raw.revision.is_some() || raw.message_type.is_some() || raw.timestamp.is_some() {
            return Err(invalid(line, "a stream line holds only \"streamId\" and \"createdAt\""));
        }
        if raw.session_id.is_some() || raw.message.is_some() {
            return Err(invalid(line, "a stream line holds only \"streamId\" and \"createdAt\""));
        }
        let created_at = time(created).map_err(|w| invalid(line, format!("createdAt {w}")))?;
        return Ok(Line::Stream { line, name: stream, created_at });
    };
    if raw.created_at.is_some() {
        return Err(invalid(line, "a message line has no \"createdAt\""));
    }
    let missing = |key: &str| invalid(line, format!("the message at position {position} has no \"{key}\""));
    let kind = match raw.message_type.ok_or_else(|| missing("messageType"))? {
        "command" => MessageKind::Command,
        "event" => MessageKind::Event,
        _ => return Err(invalid(line, "messageType must be \"command\" or \"event\"")),
    };
    let timestamp = raw.timestamp.ok_or_else(|| missing("timestamp"))?;
    let session = raw.session_id.map(|s| name(s).map_err(|w| invalid(line, format!("sessionId {w}")))).transpose()?;
    let text = raw.message.ok_or_else(|| missing("message"))?.get();
    Fields::parse(text).map_err(|why| invalid(line, format!("the message {why}")))?;
    Ok(Line::Message {
        line,
        message: MessageLine {
            position,
            stream,
            revision: raw.revision.ok_or_else(|| missing("revision"))?,
            kind,
            time: time(timestamp).map_err(|w| invalid(line, format!("timestamp {w}")))?,
            session,
            text,
        },
    })
}

/// What a store tells `plan` of itself.
pub trait View {
    /// The last position (0 when empty).
    fn head(&self) -> u64;
    /// The stream's revision (-1 when empty) and creation time; `None` when absent.
    fn stream(&self, name: &JsonString) -> Option<(i64, Millis)>;
    fn has_session(&self, id: &JsonString) -> bool;
    /// Whether the store's message at `line.position` is `line`, when the view can
    /// tell in the call (`None`: the caller checks `Plan::at_head` before writing). A
    /// store that holds another history is then named as such, before the lines
    /// after it are checked against it.
    fn holds(&self, _line: &MessageLine<'_>) -> Option<bool> {
        None
    }
}

/// What a store must do to take in some lines: every check passed.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// Streams to create, in creation order.
    pub streams: Vec<(JsonString, Millis)>,
    /// Messages to append, in position order, each of a stream created before it.
    pub messages: Vec<MessageLine<'a>>,
    /// The line of the message at the store's head, skipped: the caller checks that
    /// the store holds the same message there.
    pub at_head: Option<MessageLine<'a>>,
    /// Lines of each kind read, skipped ones included.
    pub message_lines: u64,
    pub stream_lines: u64,
}

/// Checks `lines` against the store `view` describes (and each other); what to write.
pub fn plan<'a>(lines: Vec<Line<'a>>, view: &impl View) -> Result<Plan<'a>, HistoryError> {
    let head = view.head();
    let mut plan = Plan::default();
    // Streams this text created or wrote to: their revision now.
    let mut revisions: HashMap<JsonString, i64> = HashMap::new();
    let mut declared: std::collections::HashSet<JsonString> = std::collections::HashSet::new();
    for line in lines {
        match line {
            Line::Stream { line, name, created_at } => {
                plan.stream_lines += 1;
                if declared.contains(&name) {
                    return Err(invalid(line, format!("stream {} is declared twice", name.literal())));
                }
                match view.stream(&name) {
                    Some((_, at)) if at == created_at => {}
                    Some((_, at)) => {
                        return Err(HistoryError::Conflict(format!(
                            "line {line}: the store's stream {} was created at {}, the history's at {}",
                            name.literal(),
                            crate::engine::time::iso(at),
                            crate::engine::time::iso(created_at)
                        )))
                    }
                    None => {
                        revisions.insert(name.clone(), -1);
                        declared.insert(name.clone());
                        plan.streams.push((name, created_at));
                    }
                }
            }
            Line::Message { line, message } => {
                plan.message_lines += 1;
                let p = message.position;
                if p <= head {
                    if p == head {
                        if view.holds(&message) == Some(false) {
                            return Err(check_same(None, &message).unwrap_err());
                        }
                        plan.at_head = Some(message);
                    }
                    continue;
                }
                let expected = head + 1 + plan.messages.len() as u64;
                if p != expected {
                    return Err(invalid(
                        line,
                        format!("position {p} where {expected} was expected: positions must run without a gap"),
                    ));
                }
                let revision = match revisions.get(&message.stream) {
                    Some(&r) => r,
                    None => view.stream(&message.stream).map(|(r, _)| r).ok_or_else(|| {
                        invalid(
                            line,
                            format!(
                                "the message at position {p} is in stream {}, which no line declared before it",
                                message.stream.literal()
                            ),
                        )
                    })?,
                };
                if message.revision as i64 != revision + 1 {
                    return Err(invalid(
                        line,
                        format!(
                            "revision {} of stream {} where {} was expected: a stream's revisions must run without a gap",
                            message.revision,
                            message.stream.literal(),
                            revision + 1
                        ),
                    ));
                }
                if let Some(s) = &message.session {
                    if !view.has_session(s) {
                        return Err(invalid(
                            line,
                            format!("session {} is not among the header's sessions", s.literal()),
                        ));
                    }
                }
                revisions.insert(message.stream.clone(), revision + 1);
                plan.messages.push(message);
            }
        }
    }
    Ok(plan)
}

/// Refuses a history that does not continue a store of `messages` messages: it must
/// start at position 1 for an empty store, else hold the store's last message.
pub fn check_continues(messages: u64, header: &Header) -> Result<(), HistoryError> {
    if messages == 0 && header.after > 0 {
        return Err(HistoryError::Invalid(format!(
            "the history starts after position {}: it continues a store that holds those {} messages, not an empty one",
            header.after, header.after
        )));
    }
    if messages > 0 && !(header.after < messages && messages <= header.last_position) {
        return Err(HistoryError::Conflict(format!(
            "the store holds {messages} messages and the history positions {} to {}: it does not continue the store",
            header.after + 1,
            header.last_position
        )));
    }
    Ok(())
}

/// The refusal of a store that holds something, for a history that is not resumed.
pub fn not_empty(messages: u64, streams: u64, sessions: u64) -> HistoryError {
    let count = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    HistoryError::Conflict(format!(
        "the store is not empty ({}, {}, {}): a history is written into an empty store, or resumed into one that holds its start",
        count(messages, "message"),
        count(streams, "stream"),
        count(sessions, "session")
    ))
}

/// Refuses a session the store has with another start than the history's.
pub fn check_session(id: &JsonString, ours: Millis, theirs: Millis) -> Result<(), HistoryError> {
    if ours == theirs {
        return Ok(());
    }
    Err(HistoryError::Conflict(format!(
        "the store's session {} started at {}, the history's at {}",
        id.literal(),
        crate::engine::time::iso(ours),
        crate::engine::time::iso(theirs)
    )))
}

/// Refuses to go on when the store's message at a position is not the history's.
pub fn check_same(ours: Option<&MessageLine<'_>>, theirs: &MessageLine<'_>) -> Result<(), HistoryError> {
    if ours == Some(theirs) {
        return Ok(());
    }
    Err(HistoryError::Conflict(format!(
        "the store's message at position {} is not the history's: the store holds another history",
        theirs.position
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Empty;
    impl View for Empty {
        fn head(&self) -> u64 {
            0
        }
        fn stream(&self, _: &JsonString) -> Option<(i64, Millis)> {
            None
        }
        fn has_session(&self, id: &JsonString) -> bool {
            id.literal() == "\"s\""
        }
    }

    const T: &str = "2026-12-04T19:45:01.123Z";

    fn msg(position: u64, revision: u64, stream: &str) -> String {
        format!(
            r#"{{"position":{position},"streamId":"{stream}","revision":{revision},"messageType":"event","timestamp":"{T}","message":{{"type":"A"}}}}"#
        )
    }

    fn err(text: &str) -> String {
        let lines = parse_lines(text, 2).and_then(|l| plan(l, &Empty));
        match lines {
            Err(e) => e.to_string(),
            Ok(_) => "accepted".into(),
        }
    }

    #[test]
    fn lines_round_trip() {
        let mut out = String::new();
        write_stream_line(&mut out, &JsonString::new("o\"rders"), 5);
        let m = MessageLine {
            position: 1,
            stream: JsonString::new("o\"rders"),
            revision: 0,
            kind: MessageKind::Command,
            time: 1_700_000_000_123,
            session: Some(JsonString::new("s")),
            text: r#"{"type":"A","data":{"x":[1,2]}}"#,
        };
        write_message_line(&mut out, &m);
        let lines = parse_lines(&out, 2).unwrap();
        assert_eq!(lines[0], Line::Stream { line: 2, name: JsonString::new("o\"rders"), created_at: 5 });
        assert_eq!(lines[1], Line::Message { line: 3, message: m });
        let plan = plan(lines, &Empty).unwrap();
        assert_eq!((plan.streams.len(), plan.messages.len(), plan.message_lines, plan.stream_lines), (1, 1, 1, 1));
    }

    #[test]
    fn headers_round_trip_and_versions_are_checked() {
        let h = Header {
            after: 0,
            last_position: 2,
            messages: 2,
            streams: 1,
            sessions: vec![SessionLine { id: JsonString::new("s"), started_at: 1, last_activity: 2 }],
        };
        let mut out = String::new();
        h.write(&mut out);
        assert_eq!(Header::parse(out.trim_end()).unwrap(), h);
        assert_eq!(
            Header::parse(&out.replace("\"version\":1", "\"version\":2")).unwrap_err().to_string(),
            "line 1: format version 2 is unknown: this package reads version 1; upgrade @auto-engineer/message-store to read it"
        );
        assert_eq!(
            Header::parse("{\"a\":1}").unwrap_err().to_string(),
            "line 1: not a message store history: the header's \"format\" must be \"message-store-history\""
        );
    }

    #[test]
    fn every_break_is_named_with_its_line() {
        let s = format!("{{\"streamId\":\"a\",\"createdAt\":\"{T}\"}}");
        assert_eq!(err(&format!("{s}\n{}", msg(1, 0, "a"))), "accepted");
        assert_eq!(
            err(&format!("{s}\n{}", msg(2, 0, "a"))),
            "line 3: position 2 where 1 was expected: positions must run without a gap"
        );
        assert_eq!(
            err(&format!("{s}\n{}\n{}", msg(1, 0, "a"), msg(2, 2, "a"))),
            "line 4: revision 2 of stream \"a\" where 1 was expected: a stream's revisions must run without a gap"
        );
        assert_eq!(
            err(&msg(1, 0, "b")),
            "line 2: the message at position 1 is in stream \"b\", which no line declared before it"
        );
        assert_eq!(err(&format!("{s}\n{{\"position\":1")).split(" (").next().unwrap(), "line 3: not a history line");
        assert_eq!(
            err(&format!("{s}\n{}", msg(1, 0, "a").replace("{\"type\":\"A\"}", "[1]"))),
            "line 3: the message must be an object with a string \"type\""
        );
        assert_eq!(
            err(&format!("{s}\n{}", msg(1, 0, "a").replace("\"message\"", "\"sessionId\":\"x\",\"message\""))),
            "line 3: session \"x\" is not among the header's sessions"
        );
        assert_eq!(err(&format!("{s}\n{s}")), "line 3: stream \"a\" is declared twice");
    }
}
