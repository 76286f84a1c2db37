//! The text forms that cross the boundary besides messages: the filter JavaScript
//! sends, and the small records (stream info, sessions, stats) it gets back. Times
//! travel as epoch milliseconds and counts as JSON numbers; JavaScript makes the
//! `Date`s and `bigint`s.

use std::fmt::Write;

use super::error::{invalid, Result};
use crate::engine::json::{self, Kind};
use crate::engine::{Expected, Filter, JsonCondition, JsonString, MessageKind, Millis, SessionInfo, Stats, StreamInfo};

/// A literal as sent by JavaScript (`JSON.stringify(name)`).
pub fn literal(argument: &str, text: &str) -> Result<JsonString> {
    JsonString::from_literal(text).ok_or_else(|| invalid(argument, "must be a JSON string literal"))
}

/// A message type as JavaScript sends it: its code (`MessageKind::code`).
pub fn kind(argument: &str, code: u32) -> Result<MessageKind> {
    MessageKind::from_code(code).ok_or_else(|| invalid(argument, "must be 0 (command) or 1 (event)"))
}

/// Reads the filter object the JavaScript face builds from a `MessageFilter`: the
/// same field names, ids as strings, positions as integers, timestamps as epoch
/// milliseconds, and `jsonFilter` as `[[key, value], [key]]` (a lone key stands for
/// a value of `undefined`).
pub fn filter(text: &str) -> Result<Filter> {
    let mut f = Filter::default();
    let entries = json::object_entries(text).map_err(|e| invalid("filter", e))?;
    for (key, value) in entries {
        let field = &key[1..key.len() - 1];
        match field {
            "messageType" => f.kind = Some(kind("filter.messageType", integer("filter.messageType", value)? as u32)?),
            "messageNames" => {
                let names = json::array_elements(value)
                    .map_err(|e| invalid("filter.messageNames", e))?
                    .into_iter()
                    .map(|n| literal("filter.messageNames", n))
                    .collect::<Result<Vec<_>>>()?;
                f.names = Some(names);
            }
            "streamId" => f.stream = Some(literal("filter.streamId", value)?),
            "sessionId" => f.session = Some(literal("filter.sessionId", value)?),
            "correlationId" => f.correlation_id = Some(literal("filter.correlationId", value)?),
            "requestId" => f.request_id = Some(literal("filter.requestId", value)?),
            "fromPosition" => f.from_position = Some(integer("filter.fromPosition", value)?),
            "toPosition" => f.to_position = Some(integer("filter.toPosition", value)?),
            "fromTimestamp" => f.from_time = Some(integer("filter.fromTimestamp", value)?),
            "toTimestamp" => f.to_time = Some(integer("filter.toTimestamp", value)?),
            "jsonFilter" => {
                let mut conditions = Vec::new();
                for pair in json::array_elements(value).map_err(|e| invalid("filter.jsonFilter", e))? {
                    let parts = json::array_elements(pair).map_err(|e| invalid("filter.jsonFilter", e))?;
                    let key = literal("filter.jsonFilter", parts.first().copied().unwrap_or(""))?;
                    conditions.push(match parts.get(1) {
                        Some(v) => JsonCondition::Equals { key, value: (*v).to_owned() },
                        None => JsonCondition::Absent { key },
                    });
                }
                f.json = Some(conditions);
            }
            _ => return Err(invalid("filter", format!("has an unknown field {key}"))),
        }
    }
    Ok(f)
}

fn integer(argument: &str, value: &str) -> Result<i64> {
    if json::kind_of(value) != Kind::Other {
        return Err(invalid(argument, "must be an integer"));
    }
    value
        .parse::<i64>()
        .or_else(|_| value.parse::<f64>().map(|v| v as i64))
        .map_err(|_| invalid(argument, "must be an integer"))
}

pub fn stream_info(i: &StreamInfo) -> String {
    format!(
        r#"{{"revision":{},"messageCount":{},"firstPosition":{},"lastPosition":{},"createdAt":{},"lastUpdated":{}}}"#,
        i.revision, i.message_count, i.first_position, i.last_position, i.created_at, i.last_updated
    )
}

pub fn write_session(out: &mut String, s: &SessionInfo) {
    let _ = write!(
        out,
        r#"{{"sessionId":{},"startedAt":{},"messageCount":{},"commandCount":{},"eventCount":{},"lastActivity":{}}}"#,
        s.session_id.literal(),
        s.started_at,
        s.message_count,
        s.command_count,
        s.event_count,
        s.last_activity
    );
}

pub fn stats(s: &Stats) -> String {
    let time = |t: Option<i64>| t.map_or_else(|| "null".to_owned(), |t| t.to_string());
    format!(
        r#"{{"totalMessages":{},"totalCommands":{},"totalEvents":{},"totalStreams":{},"totalSessions":{},"memoryUsage":{},"oldestMessage":{},"newestMessage":{}}}"#,
        s.total_messages,
        s.total_commands,
        s.total_events,
        s.total_streams,
        s.total_sessions,
        s.memory_usage,
        time(s.oldest_message),
        time(s.newest_message)
    )
}

/// A save's expectation from its boundary number (see `Expected::from_code`).
pub fn expected(code: Option<i64>) -> Result<Option<Expected>> {
    code.map(|c| {
        Expected::from_code(c).ok_or_else(|| invalid("expectedRevision", format!("must be at least -3, got {c}")))
    })
    .transpose()
}

/// The first line of each save in a `saveMany` payload (see `saveMany`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveHeader {
    pub kind: Option<MessageKind>,
    /// The text is a JSON array of messages rather than one message.
    pub batch: bool,
    pub now: Millis,
    pub expected: Option<Expected>,
}

impl SaveHeader {
    pub fn parse(line: &str) -> Result<SaveHeader> {
        let bad = || invalid("saveMany", format!("has a malformed save header {line:?}"));
        let b = line.as_bytes();
        let kind = match b.first() {
            Some(b'-') => None,
            Some(&digit) if digit.is_ascii_digit() => {
                Some(kind("saveMany", u32::from(digit - b'0')).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        let batch = match b.get(1) {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(bad()),
        };
        let rest = &line[2..];
        let (now, expected) = match rest.split_once(' ') {
            Some((now, expected)) => {
                let code = expected.parse::<i64>().map_err(|_| bad())?;
                (now, Some(Expected::from_code(code).ok_or_else(bad)?))
            }
            None => (rest, None),
        };
        Ok(SaveHeader { kind, batch, now: now.parse().map_err(|_| bad())?, expected })
    }
}

/// Records in position order as runs of consecutive ones: `[start, end, …]`, each
/// `end` exclusive. A whole stream or log is one run, so the JavaScript face can take
/// its kept objects in one slice.
pub fn runs(records: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut iter = records.iter().copied();
    let Some(first) = iter.next() else { return out };
    let (mut start, mut end) = (first, first + 1);
    for r in iter {
        if r != end {
            out.push(start);
            out.push(end);
            start = r;
        }
        end = r + 1;
    }
    out.push(start);
    out.push(end);
    out
}

/// A JSON array of the given texts.
pub fn array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_filter_field() {
        let f = filter(
            r#"{"messageType":1,"messageNames":["A","B"],"streamId":"s","sessionId":"no-session","correlationId":"c","requestId":"r","fromPosition":2,"toPosition":9007199254740991,"fromTimestamp":-5,"toTimestamp":10,"jsonFilter":[["k",{"a":1}],["gone"]]}"#,
        )
        .unwrap();
        assert_eq!(f.kind, Some(MessageKind::Event));
        assert_eq!(f.names, Some(vec![JsonString::new("A"), JsonString::new("B")]));
        assert_eq!(f.stream, Some(JsonString::new("s")));
        assert_eq!(f.to_position, Some(9_007_199_254_740_991));
        assert_eq!(f.from_time, Some(-5));
        assert_eq!(
            f.json,
            Some(vec![
                JsonCondition::Equals { key: JsonString::new("k"), value: r#"{"a":1}"#.into() },
                JsonCondition::Absent { key: JsonString::new("gone") },
            ])
        );
        assert!(filter(r#"{"bogus":1}"#).is_err());
        assert!(filter(r#"{"fromPosition":"1"}"#).is_err());
    }

    #[test]
    fn records_become_runs() {
        assert_eq!(runs(&[]), Vec::<u32>::new());
        assert_eq!(runs(&[0, 1, 2, 3]), vec![0, 4]);
        assert_eq!(runs(&[2, 3, 7, 9, 10]), vec![2, 4, 7, 8, 9, 11]);
    }

    #[test]
    fn reads_save_heads() {
        let h = |s: &str| SaveHeader::parse(s).ok();
        assert_eq!(
            h("001700"),
            Some(SaveHeader { kind: Some(MessageKind::Command), batch: false, now: 1700, expected: None })
        );
        assert_eq!(
            h("-1-5 -1"),
            Some(SaveHeader { kind: None, batch: true, now: -5, expected: Some(Expected::Revision(-1)) })
        );
        assert_eq!(
            h("1012 7"),
            Some(SaveHeader {
                kind: Some(MessageKind::Event),
                batch: false,
                now: 12,
                expected: Some(Expected::Revision(7))
            })
        );
        for bad in ["", "x012", "02", "00", "00x", "001 x", "001 ", "2012", "c012"] {
            assert_eq!(h(bad), None, "{bad:?}");
        }
    }
}

/// The numbers that stand for things across the boundary, as JavaScript must write
/// them (`lib/wire.js`, checked against these by `__test__/82.errors.test.ts`).
#[napi_derive::napi(object)]
pub struct WireCodes {
    /// `expectedRevision: 'no_stream'`.
    pub no_stream: i64,
    /// `expectedRevision: 'stream_exists'`.
    pub stream_exists: i64,
    /// The message types by their code (`MessageKind::code`).
    pub message_types: Vec<String>,
}

#[napi_derive::napi]
pub fn wire_codes() -> WireCodes {
    let kinds = [MessageKind::Command, MessageKind::Event];
    let mut message_types = vec![String::new(); kinds.len()];
    for k in kinds {
        message_types[usize::from(k.code())] = k.as_str().to_owned();
    }
    WireCodes { no_stream: Expected::NO_STREAM, stream_exists: Expected::STREAM_EXISTS, message_types }
}
