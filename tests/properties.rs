//! Guards the engine's invariants under random operation sequences (proptest): gapless positions and revisions, refused saves that change nothing, every index answering exactly what a full scan answers, and stats and session counters equal to the scan's counts.
//!
//! Each case is a random sequence of steps: saves of 0..=4 messages to a small pool of
//! streams (random `type`, `requestId`, `correlationId`, `data`, `timestamp`, extra
//! fields, key order; expected revisions right and wrong; explicit message kinds;
//! sometimes an invalid message), `create_session` / `end_session`, an occasional
//! `reset`, and reads (`query` with a random `Filter` and limit, `read_stream`) checked
//! against a plain scan over `Engine::message(1..=len)` that reads fields with serde_json.
//! Half of the cases let the clock go backwards now and then, so that both ways of
//! answering a time range (binary search while save times are ordered, a check per
//! candidate once they are not) are exercised.
//!
//! Besides the scan, the test keeps a small model of what was accepted (input text, save
//! time, given kind, current session), so that it can say what every save must do
//! before the engine does it. `PROPTEST_CASES` overrides the number of cases.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use message_store::engine::{
    Engine, Filter, JsonCondition, JsonString, MessageKind, SaveError, SaveOutcome, SessionInfo, Stats, StreamInfo,
    NO_SESSION,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRunner};
use serde_json::Value;

use common::iso;

/// 2023-11-14T22:13:20.000Z: the clock starts here in every case.
const T0: i64 = 1_700_000_000_000;

// ---------------------------------------------------------------------------
// Pools the strategies draw from
// ---------------------------------------------------------------------------

/// Streams saved to. Names with `command` / `event` decide the message kind; the
/// others leave it to `requestId`. The empty name is a valid stream name.
const STREAMS: &[&str] = &[
    "orders-1",
    "orders-2",
    "user-commands",
    "domain-events",
    "Commands",
    "mixed-command-event",
    "weird \"q\"\tstream",
    "naïve-évent",
    "",
    "carts-😀",
];
const NAMES: &[&str] = &["CreateUser", "UserCreated", "PlaceOrder", "Ping", "Ünï \"q\"", ""];
const REQUEST_IDS: &[&str] = &["req-0", "req-1", "req-2", "5"];
const CORRELATION_IDS: &[&str] = &["corr-0", "corr-1", "corr-2", "7"];
/// Keys of `data` objects: `0`, `1` and `length` are also what arrays answer to.
const DATA_KEYS: &[&str] = &["orderId", "n", "flag", "nested", "tags", "x y", "0", "1", "length", "é"];
const STRINGS: &[&str] = &["o1", "o2", "", "x\"y", "ü", "2", "null"];
const TIMESTAMPS: &[&str] = &["2020-01-01T00:00:00.000Z", "2023-11-14T22:13:20.000Z", "1999-12-31T23:59:59.999Z"];
/// Messages the engine must refuse; the last one is not even JSON.
const INVALID: &[&str] = &[
    "[1]",
    "1",
    "null",
    "\"text\"",
    "{}",
    r#"{"data":{"type":"A"}}"#,
    r#"{"type":1}"#,
    r#"{"type":null}"#,
    r#"{"type":"A","timestamp":5}"#,
    r#"{"type":"A","timestamp":null}"#,
    r#"{"type":"A""#,
];

fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn decode(s: &JsonString) -> String {
    serde_json::from_str(s.literal()).unwrap()
}

fn no_session() -> JsonString {
    JsonString::from_literal(NO_SESSION).unwrap()
}

// ---------------------------------------------------------------------------
// Strategies: JSON values, as `JSON.stringify` writes them
// ---------------------------------------------------------------------------

fn scalar() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(STRINGS).prop_map(lit),
        3 => (-3i64..6).prop_map(|n| n.to_string()),
        1 => select(&["2.5", "-0.5", "0.1", "1e-7"][..]).prop_map(str::to_owned),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => Just("null".to_owned()),
    ]
    .boxed()
}

/// An object's entries in random order (serde_json writes keys sorted, so a filter
/// value built by serde_json often has another order than the stored one).
fn object_of(entries: Vec<String>) -> BoxedStrategy<String> {
    Just(entries).prop_shuffle().prop_map(|e| format!("{{{}}}", e.join(","))).boxed()
}

fn value() -> BoxedStrategy<String> {
    scalar()
        .prop_recursive(2, 16, 3, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
                vec(inner, 0..4).prop_flat_map(|v| {
                    object_of(v.into_iter().zip(["a", "b", "c", "d"]).map(|(x, k)| format!("{}:{x}", lit(k))).collect())
                }),
            ]
        })
        .boxed()
}

/// `data`: mostly an object with distinct keys, sometimes an array, `null`, a string
/// or a number (upstream allows any of them).
fn data() -> BoxedStrategy<String> {
    prop_oneof![
        15 => (subsequence(DATA_KEYS, 0..5), vec(value(), 5)).prop_flat_map(|(keys, values)| {
            object_of(keys.iter().zip(values).map(|(k, v)| format!("{}:{v}", lit(k))).collect())
        }),
        2 => vec(value(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        1 => Just("null".to_owned()),
        1 => select(STRINGS).prop_map(lit),
        1 => (-2i64..9).prop_map(|n| n.to_string()),
    ]
    .boxed()
}

/// A `requestId` / `correlationId` value: mostly a string of the pool, sometimes one
/// nobody filters for, or a value that is not a non-empty string.
fn id_value(pool: &'static [&'static str], prefix: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        12 => select(pool).prop_map(lit),
        2 => (0u32..40).prop_map(move |n| lit(&format!("{prefix}-u{n}"))),
        2 => (0u32..9).prop_map(|n| n.to_string()),
        1 => Just("null".to_owned()),
        1 => Just("\"\"".to_owned()),
        1 => Just("false".to_owned()),
        1 => Just("{}".to_owned()),
    ]
    .boxed()
}

fn valid_message() -> BoxedStrategy<String> {
    (
        select(NAMES),
        option::weighted(0.85, data()),
        option::of(id_value(REQUEST_IDS, "req")),
        option::of(id_value(CORRELATION_IDS, "corr")),
        option::weighted(0.15, select(TIMESTAMPS)),
        option::weighted(0.15, value()),
    )
        .prop_flat_map(|(name, data, request, correlation, timestamp, meta)| {
            let mut entries = vec![format!("\"type\":{}", lit(name))];
            entries.extend(data.map(|d| format!("\"data\":{d}")));
            entries.extend(request.map(|v| format!("\"requestId\":{v}")));
            entries.extend(correlation.map(|v| format!("\"correlationId\":{v}")));
            entries.extend(timestamp.map(|t| format!("\"timestamp\":{}", lit(t))));
            entries.extend(meta.map(|v| format!("\"meta\":{v}")));
            object_of(entries)
        })
        .boxed()
}

fn message() -> BoxedStrategy<String> {
    prop_oneof![
        40 => valid_message(),
        // Whitespace around the object: the engine stores it trimmed.
        2 => valid_message().prop_map(|m| format!(" {m}\n")),
        1 => select(INVALID).prop_map(str::to_owned),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Strategies: operations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Expected {
    Omitted,
    /// The stream's revision (-1 when unknown).
    Right,
    /// The stream's revision plus this (never 0).
    Off(i64),
    MinusOne,
    Raw(i64),
}

/// Picks that depend on the store at the time they are used are resolved then, so
/// that every generated (and shrunk) sequence stays meaningful.
#[derive(Debug, Clone)]
enum StreamPick {
    Pool(usize),
    /// Any existing stream, session streams included (index modulo their number).
    Existing(u32),
    Unknown,
}

#[derive(Debug, Clone)]
enum SessionPick {
    Current,
    Existing(u32),
    Unknown,
    NoSession,
}

#[derive(Debug, Clone)]
enum PosPick {
    /// `frac / 1000` of the way through `-1..=len + 3`.
    Frac(u32),
    Raw(i64),
}

#[derive(Debug, Clone)]
enum TimePick {
    /// The save time of a message (index modulo their number) plus `delta`.
    Near(u32, i64),
    /// `T0 + offset`.
    Raw(i64),
    Extreme(i64),
}

#[derive(Debug, Clone)]
enum CondPick {
    /// A condition that holds for the `data` of some message: one of its keys (or,
    /// for an array, an index or `length`) with its value.
    FromRow {
        row: u32,
        key: u32,
    },
    /// `None`: a key no message has.
    Equals {
        key: Option<usize>,
        value: String,
    },
    Absent(usize),
}

#[derive(Debug, Clone, Default)]
struct FilterSpec {
    kind: Option<MessageKind>,
    /// `None` entries: a name no message has.
    names: Option<Vec<Option<usize>>>,
    stream: Option<StreamPick>,
    session: Option<SessionPick>,
    correlation_id: Option<String>,
    request_id: Option<String>,
    from_position: Option<PosPick>,
    to_position: Option<PosPick>,
    from_time: Option<TimePick>,
    to_time: Option<TimePick>,
    json: Option<Vec<CondPick>>,
}

const FIELDS: [&str; 11] = [
    "kind",
    "names",
    "stream",
    "session",
    "correlation_id",
    "request_id",
    "from_position",
    "to_position",
    "from_time",
    "to_time",
    "json",
];

#[derive(Debug, Clone)]
enum Op {
    Save { stream: usize, batch: Vec<String>, expected: Expected, kind: Option<MessageKind>, as_array: bool },
    CreateSession,
    EndSession(SessionPick),
    Reset,
    Query(FilterSpec, Option<usize>),
    ReadStream { stream: StreamPick, from: Option<i64>, limit: Option<usize> },
}

#[derive(Debug, Clone)]
struct Step {
    /// How far the clock moves before the step (backwards only when the case allows it).
    dt: i64,
    op: Op,
}

fn kind_arg() -> BoxedStrategy<Option<MessageKind>> {
    prop_oneof![8 => Just(None), 1 => Just(Some(MessageKind::Command)), 1 => Just(Some(MessageKind::Event))].boxed()
}

fn expected() -> BoxedStrategy<Expected> {
    prop_oneof![
        6 => Just(Expected::Omitted),
        3 => Just(Expected::Right),
        2 => prop_oneof![-3i64..=-1, 1i64..=3].prop_map(Expected::Off),
        1 => Just(Expected::MinusOne),
        1 => (-3i64..5).prop_map(Expected::Raw),
    ]
    .boxed()
}

fn session_pick() -> BoxedStrategy<SessionPick> {
    prop_oneof![
        3 => Just(SessionPick::Current),
        3 => any::<u32>().prop_map(SessionPick::Existing),
        1 => Just(SessionPick::Unknown),
        1 => Just(SessionPick::NoSession),
    ]
    .boxed()
}

fn stream_pick() -> BoxedStrategy<StreamPick> {
    prop_oneof![
        6 => (0..STREAMS.len()).prop_map(StreamPick::Pool),
        3 => any::<u32>().prop_map(StreamPick::Existing),
        1 => Just(StreamPick::Unknown),
    ]
    .boxed()
}

fn pos_pick() -> BoxedStrategy<PosPick> {
    prop_oneof![
        10 => (0u32..=1000).prop_map(PosPick::Frac),
        1 => prop_oneof![Just(i64::MIN), -3i64..=0, Just(i64::MAX)].prop_map(PosPick::Raw),
    ]
    .boxed()
}

fn time_pick() -> BoxedStrategy<TimePick> {
    prop_oneof![
        6 => (any::<u32>(), -1i64..=1).prop_map(|(r, d)| TimePick::Near(r, d)),
        3 => (-200i64..200).prop_map(TimePick::Raw),
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX)].prop_map(TimePick::Extreme),
    ]
    .boxed()
}

fn cond_pick() -> BoxedStrategy<CondPick> {
    prop_oneof![
        6 => (any::<u32>(), any::<u32>()).prop_map(|(row, key)| CondPick::FromRow { row, key }),
        3 => (option::weighted(0.9, 0..DATA_KEYS.len()), prop_oneof![7 => scalar(), 3 => value()])
            .prop_map(|(key, value)| CondPick::Equals { key, value }),
        1 => (0..DATA_KEYS.len()).prop_map(CondPick::Absent),
    ]
    .boxed()
}

/// Which fields a filter keeps: none, one alone, two, or a sparse or dense mix.
fn field_mask() -> BoxedStrategy<u16> {
    prop_oneof![
        1 => Just(0u16),
        4 => (0..11u16).prop_map(|i| 1 << i),
        3 => (0..11u16, 0..11u16).prop_map(|(a, b)| (1 << a) | (1 << b)),
        3 => (any::<u16>(), any::<u16>()).prop_map(|(a, b)| a & b),
        2 => any::<u16>(),
    ]
    .boxed()
}

fn filter_spec() -> BoxedStrategy<FilterSpec> {
    let id = |pool: &'static [&'static str], unknown: &'static str| prop_oneof![6 => select(pool).prop_map(str::to_owned), 1 => Just(unknown.to_owned())];
    (
        field_mask(),
        prop_oneof![Just(MessageKind::Command), Just(MessageKind::Event)],
        vec(option::weighted(0.85, 0..NAMES.len()), 1..4),
        stream_pick(),
        session_pick(),
        id(CORRELATION_IDS, "corr-u1"),
        id(REQUEST_IDS, "no-such-req"),
        (pos_pick(), pos_pick()),
        (time_pick(), time_pick()),
        vec(cond_pick(), 0..4),
    )
        .prop_map(
            |(mask, kind, names, stream, session, correlation_id, request_id, (from_p, to_p), (from_t, to_t), json)| {
                let on = |i: usize| mask & (1 << i) != 0;
                FilterSpec {
                    kind: on(0).then_some(kind),
                    names: on(1).then_some(names),
                    stream: on(2).then_some(stream),
                    session: on(3).then_some(session),
                    correlation_id: on(4).then_some(correlation_id),
                    request_id: on(5).then_some(request_id),
                    from_position: on(6).then_some(from_p),
                    to_position: on(7).then_some(to_p),
                    from_time: on(8).then_some(from_t),
                    to_time: on(9).then_some(to_t),
                    json: on(10).then_some(json),
                }
            },
        )
        .boxed()
}

fn limit() -> BoxedStrategy<Option<usize>> {
    prop_oneof![5 => Just(None), 1 => Just(Some(0)), 3 => (1usize..6).prop_map(Some), 2 => (1usize..100).prop_map(Some)]
        .boxed()
}

fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        60 => (0..STREAMS.len(), vec(message(), 0..5), expected(), kind_arg(), any::<bool>())
            .prop_map(|(stream, batch, expected, kind, as_array)| Op::Save { stream, batch, expected, kind, as_array }),
        5 => Just(Op::CreateSession),
        5 => session_pick().prop_map(Op::EndSession),
        1 => Just(Op::Reset),
        12 => (filter_spec(), limit()).prop_map(|(f, l)| Op::Query(f, l)),
        6 => (stream_pick(), option::weighted(0.7, -2i64..8), limit())
            .prop_map(|(stream, from, limit)| Op::ReadStream { stream, from, limit }),
    ]
    .boxed()
}

/// A case: the steps, then filters checked on the final store.
#[derive(Debug, Clone)]
struct Case {
    backwards: bool,
    steps: Vec<Step>,
    final_queries: Vec<(FilterSpec, Option<usize>)>,
}

fn case(max_steps: usize) -> BoxedStrategy<Case> {
    any::<bool>()
        .prop_flat_map(move |backwards| {
            let dt = if backwards { prop_oneof![12 => 0i64..4, 1 => -30i64..0].boxed() } else { (0i64..3).boxed() };
            (
                Just(backwards),
                vec((dt, op()).prop_map(|(dt, op)| Step { dt, op }), 0..max_steps),
                vec((filter_spec(), limit()), 0..12),
            )
        })
        .prop_map(|(backwards, steps, final_queries)| Case { backwards, steps, final_queries })
        .boxed()
}

// ---------------------------------------------------------------------------
// What the test knows independently of the engine
// ---------------------------------------------------------------------------

/// A message accepted since the last reset, as docs/behaviour.md#data-model says it must be stored.
#[derive(Debug, Clone)]
struct Accepted {
    stream: JsonString,
    text: String,
    kind: MessageKind,
    time: i64,
    session: Option<JsonString>,
}

#[derive(Debug)]
struct ModelSession {
    id: JsonString,
    started_at: i64,
    last_activity: i64,
}

struct State {
    engine: Engine,
    clock: i64,
    accepted: Vec<Accepted>,
    /// Streams in creation order, with their creation times.
    streams: Vec<(JsonString, i64)>,
    sessions: Vec<ModelSession>,
    current: Option<JsonString>,
}

impl State {
    fn new() -> Self {
        State { engine: Engine::new(), clock: T0, accepted: vec![], streams: vec![], sessions: vec![], current: None }
    }

    fn revision(&self, stream: &JsonString) -> Option<i64> {
        self.streams
            .iter()
            .any(|(s, _)| s == stream)
            .then(|| self.accepted.iter().filter(|a| &a.stream == stream).count() as i64 - 1)
    }

    fn resolve_stream(&self, pick: &StreamPick) -> JsonString {
        match pick {
            StreamPick::Pool(i) => JsonString::new(STREAMS[*i]),
            StreamPick::Existing(i) if !self.streams.is_empty() => {
                self.streams[*i as usize % self.streams.len()].0.clone()
            }
            _ => JsonString::new("no-such-stream"),
        }
    }

    /// With no current session, `Current` is the last session; with none at all,
    /// `Current` and `Existing` are `no-session`.
    fn resolve_session(&self, pick: &SessionPick) -> JsonString {
        match pick {
            SessionPick::Current if self.current.is_some() => self.current.clone().unwrap(),
            SessionPick::Current if !self.sessions.is_empty() => self.sessions.last().unwrap().id.clone(),
            SessionPick::Existing(i) if !self.sessions.is_empty() => {
                self.sessions[*i as usize % self.sessions.len()].id.clone()
            }
            SessionPick::Unknown => JsonString::new("session-0-NoSuchId"),
            _ => no_session(),
        }
    }
}

/// docs/behaviour.md#writing-message-type: the argument, else the stream's name, else `requestId`.
fn rule_kind(stream: &JsonString, message: &Value, given: Option<MessageKind>) -> MessageKind {
    let name = decode(stream);
    given
        .or_else(|| name.contains("command").then_some(MessageKind::Command))
        .or_else(|| name.contains("event").then_some(MessageKind::Event))
        .unwrap_or(match message.get("requestId") {
            None | Some(Value::Null) => MessageKind::Event,
            Some(Value::String(s)) if s.is_empty() => MessageKind::Event,
            Some(_) => MessageKind::Command,
        })
}

/// Whether the engine must take a message (an object with a string `type`, and a
/// `timestamp`, when given, that is a date); `Some(has_timestamp)` when it must.
fn judge(text: &str) -> Option<bool> {
    let v: Value = serde_json::from_str(text).ok()?;
    let object = v.as_object()?;
    if !matches!(object.get("type"), Some(Value::String(_))) {
        return None;
    }
    match object.get("timestamp") {
        None => Some(false),
        Some(Value::String(_)) => Some(true),
        Some(_) => None,
    }
}

/// The last `limit` items.
fn last<T>(mut v: Vec<T>, limit: Option<usize>) -> Vec<T> {
    if let Some(n) = limit {
        if n < v.len() {
            v.drain(..v.len() - n);
        }
    }
    v
}

// ---------------------------------------------------------------------------
// Everything observable, to show that a refused save changed nothing
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Snapshot {
    stats: Stats,
    streams: Vec<(JsonString, Option<StreamInfo>, Vec<u32>)>,
    sessions: Vec<SessionInfo>,
    current: Option<JsonString>,
    messages: Vec<(JsonString, String, MessageKind, i64, i64, Option<JsonString>)>,
    commands: Vec<u32>,
    events: Vec<u32>,
}

fn snapshot(e: &Engine) -> Snapshot {
    let kind = |k| e.query(&Filter { kind: Some(k), ..Filter::default() }, None);
    Snapshot {
        stats: e.stats(),
        streams: e
            .stream_names()
            .map(|n| (n.clone(), e.stream_info(n), e.read_stream(n, None, None).to_vec()))
            .collect(),
        sessions: e.sessions().cloned().collect(),
        current: e.current_session().cloned(),
        messages: (1..=e.len() as u64)
            .map(|p| {
                let m = e.message(p).unwrap();
                (m.stream.clone(), m.text.into_owned(), m.kind, m.revision, m.time, m.session.cloned())
            })
            .collect(),
        commands: kind(MessageKind::Command),
        events: kind(MessageKind::Event),
    }
}

// ---------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------

/// What the cases exercised, to show that the properties were not checked vacuously.
#[derive(Default, Debug)]
struct Coverage {
    cases: usize,
    backwards_cases: usize,
    accepted_saves: usize,
    empty_saves: usize,
    refused_invalid: usize,
    refused_revision: usize,
    refused_missing_stream: usize,
    resets: usize,
    sessions: usize,
    max_len: usize,
    queries: usize,
    nonempty_queries: usize,
    cut_by_limit: usize,
    /// Per filter field: (filters using it, of which with a non-empty answer, of which alone).
    fields: BTreeMap<&'static str, (usize, usize, usize)>,
    read_streams: usize,
}

type Outcome = Result<(), TestCaseError>;

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr, $($fmt:tt)*) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(TestCaseError::fail(format!("{}\n   engine: {:?}\n expected: {:?}", format!($($fmt)*), l, r)));
        }
    }};
}

fn run_case(case: &Case, cov: &mut Coverage) -> Outcome {
    let mut st = State::new();
    cov.cases += 1;
    cov.backwards_cases += usize::from(case.backwards);
    check_invariants(&st)?;
    for (n, step) in case.steps.iter().enumerate() {
        st.clock += step.dt;
        let now = st.clock;
        match &step.op {
            Op::Save { stream, batch, expected, kind, as_array } => {
                save(&mut st, now, &JsonString::new(STREAMS[*stream]), batch, expected, *kind, *as_array, cov)
                    .map_err(|e| TestCaseError::fail(format!("step {n} (save): {e}")))?
            }
            Op::CreateSession => {
                let id = st.engine.create_session(now);
                let raw = decode(&id);
                let suffix = raw.strip_prefix(&format!("session-{now}-")).unwrap_or("");
                check!(
                    suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    "step {n}: session id {raw:?} is not session-{now}-<8 chars of A-Za-z0-9_->"
                );
                check!(st.sessions.iter().all(|s| s.id != id), "step {n}: session id {raw:?} given twice");
                st.sessions.push(ModelSession { id: id.clone(), started_at: now, last_activity: now });
                st.current = Some(id);
                let stream = JsonString::new(&format!("session-{raw}"));
                if !st.streams.iter().any(|(s, _)| *s == stream) {
                    st.streams.push((stream, now));
                }
                cov.sessions += 1;
            }
            Op::EndSession(pick) => {
                let id = st.resolve_session(pick);
                st.engine.end_session(&id, now);
                if let Some(s) = st.sessions.iter_mut().find(|s| s.id == id) {
                    s.last_activity = now;
                }
                if st.current.as_ref() == Some(&id) {
                    st.current = None;
                }
            }
            Op::Reset => {
                st.engine.reset();
                st.accepted.clear();
                st.streams.clear();
                st.sessions.clear();
                st.current = None;
                cov.resets += 1;
                check_eq!(st.engine.stats().memory_usage, 0, "step {n}: memory after reset");
            }
            Op::Query(spec, limit) => {
                let rows = rows(&st.engine);
                check_query(&st, &rows, spec, *limit, cov)
                    .map_err(|e| TestCaseError::fail(format!("step {n}: {e}")))?;
            }
            Op::ReadStream { stream, from, limit } => {
                let stream = st.resolve_stream(stream);
                let want: Vec<u64> = last(
                    st.accepted
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| a.stream == stream)
                        .enumerate()
                        .filter(|(rev, _)| from.is_none_or(|f| *rev as i64 >= f))
                        .map(|(_, (i, _))| i as u64 + 1)
                        .collect(),
                    *limit,
                );
                let got: Vec<u64> =
                    st.engine.read_stream(&stream, *from, *limit).iter().map(|&i| i as u64 + 1).collect();
                check_eq!(got, want, "step {n}: read_stream({stream:?}, {from:?}, {limit:?})");
                cov.read_streams += 1;
            }
        }
        check_invariants(&st).map_err(|e| TestCaseError::fail(format!("after step {n} ({:?}): {e}", step.op)))?;
        cov.max_len = cov.max_len.max(st.engine.len());
    }
    let rows = rows(&st.engine);
    for (i, (spec, limit)) in case.final_queries.iter().enumerate() {
        check_query(&st, &rows, spec, *limit, cov).map_err(|e| TestCaseError::fail(format!("final query {i}: {e}")))?;
    }
    Ok(())
}

/// One save: what docs/behaviour.md#writing says must happen, decided before the engine runs, then
/// checked; a refused save must leave every observable thing as it was.
#[allow(clippy::too_many_arguments)]
fn save(
    st: &mut State,
    now: i64,
    stream: &JsonString,
    batch: &[String],
    expected: &Expected,
    kind: Option<MessageKind>,
    as_array: bool,
    cov: &mut Coverage,
) -> Outcome {
    let current = st.revision(stream);
    let expected = match expected {
        Expected::Omitted => None,
        Expected::Right => Some(current.unwrap_or(-1)),
        Expected::Off(d) => Some(current.unwrap_or(-1) + d),
        Expected::MinusOne => Some(-1),
        Expected::Raw(r) => Some(*r),
    };
    let judged: Vec<Option<bool>> = batch.iter().map(|t| judge(t)).collect();
    let invalid = judged.iter().position(Option::is_none);
    // In one array text, a member that is not JSON spoils the whole array.
    let malformed = as_array && batch.iter().any(|t| serde_json::from_str::<Value>(t).is_err());
    let want_error = match (invalid, current, expected) {
        (Some(index), ..) => Some(SaveError::InvalidMessage { index, reason: String::new() }),
        (None, None, Some(e)) if e != -1 => Some(SaveError::StreamNotFound { stream: stream.clone(), expected: e }),
        (None, _, Some(e)) if e != current.unwrap_or(-1) => {
            Some(SaveError::WrongExpectedRevision { expected: e, actual: current.unwrap_or(-1) })
        }
        _ => None,
    };

    // Only a save that must be refused needs the picture of before.
    let before = want_error.is_some().then(|| snapshot(&st.engine));
    let got = if as_array {
        st.engine.save_json_array(
            stream,
            &format!("[{}]", batch.join(",")),
            expected.map(message_store::engine::Expected::Revision),
            kind,
            now,
        )
    } else {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        st.engine.save(stream, &refs, expected.map(message_store::engine::Expected::Revision), kind, now)
    };
    let call =
        format!("save({stream:?}, {batch:?}, expected {expected:?}, kind {kind:?}, at {now}, as array: {as_array})");

    if let Some(want) = want_error {
        match (&got, &want) {
            (Err(SaveError::InvalidMessage { index, .. }), SaveError::InvalidMessage { index: w, .. }) => {
                check!(malformed || index == w, "{call}: refused message {index}, expected {w}")
            }
            (Err(e), w) => check_eq!(e, w, "{call}: wrong error"),
            (Ok(o), w) => check!(false, "{call}: accepted ({o:?}) but must be refused with {w:?}"),
        }
        let after = snapshot(&st.engine);
        check_eq!(Some(after), before, "{call}: a refused save changed the store");
        match want {
            SaveError::InvalidMessage { .. } => cov.refused_invalid += 1,
            SaveError::StreamNotFound { .. } => cov.refused_missing_stream += 1,
            _ => cov.refused_revision += 1,
        }
        return Ok(());
    }

    let first_position = st.accepted.len() as u64 + 1;
    let want = SaveOutcome { revision: current.unwrap_or(-1) + batch.len() as i64, first_position, count: batch.len() };
    match &got {
        Ok(o) => check_eq!(o, &want, "{call}: outcome"),
        Err(e) => check!(false, "{call}: refused with {e:?} but must be accepted"),
    }
    cov.accepted_saves += 1;
    cov.empty_saves += usize::from(batch.is_empty());
    if current.is_none() {
        st.streams.push((stream.clone(), now));
    }
    for (text, has_timestamp) in batch.iter().zip(judged) {
        let text = text.trim();
        let value: Value = serde_json::from_str(text).unwrap();
        let stored = if has_timestamp == Some(true) {
            text.to_owned()
        } else {
            format!("{},\"timestamp\":\"{}\"}}", &text[..text.len() - 1], iso(now))
        };
        st.accepted.push(Accepted {
            stream: stream.clone(),
            text: stored,
            kind: rule_kind(stream, &value, kind),
            time: now,
            session: st.current.clone(),
        });
    }
    if !batch.is_empty() {
        if let Some(s) = st.sessions.iter_mut().find(|s| Some(&s.id) == st.current.as_ref()) {
            s.last_activity = now;
        }
    }
    Ok(())
}

/// The invariants checked after every step, from `message(1..=len)` and the model.
fn check_invariants(st: &State) -> Outcome {
    let e = &st.engine;
    let len = e.len();

    // Positions: gapless from 1, as many as were accepted since the last reset, each
    // message what the model says was saved there.
    check_eq!(len, st.accepted.len(), "len is not the number of messages accepted since the last reset");
    check_eq!(e.is_empty(), len == 0, "is_empty");
    check!(e.message(0).is_none(), "message(0) exists");
    check!(e.message(len as u64 + 1).is_none(), "message({}) exists past the end", len + 1);
    let mut per_stream: HashMap<&JsonString, Vec<u64>> = HashMap::new();
    for (i, want) in st.accepted.iter().enumerate() {
        let p = i as u64 + 1;
        let Some(m) = e.message(p) else {
            return Err(TestCaseError::fail(format!("no message at position {p} of {len}")));
        };
        let revisions = per_stream.entry(m.stream).or_default();
        check_eq!(m.position, p, "position of message({p})");
        check_eq!(m.stream, &want.stream, "stream of message({p})");
        check_eq!(m.revision, revisions.len() as i64, "revision of message({p}): not gapless in position order");
        check_eq!(m.text, want.text, "text of message({p})");
        check_eq!(m.kind, want.kind, "kind of message({p}) (behaviour.md#writing-message-type)");
        check_eq!(m.time, want.time, "save time of message({p})");
        check_eq!(m.session, want.session.as_ref(), "session of message({p})");
        revisions.push(p);
    }

    // Streams: creation order; each one's revisions gapless from 0 in position order,
    // and `read_stream`, `stream_info` and `stream_revision` agree with the scan.
    let names: Vec<JsonString> = e.stream_names().cloned().collect();
    let want: Vec<JsonString> = st.streams.iter().map(|(s, _)| s.clone()).collect();
    check_eq!(names, want, "stream names in creation order");
    let mut total = 0;
    for (name, created_at) in &st.streams {
        let positions = per_stream.get(name).cloned().unwrap_or_default();
        total += positions.len();
        let read: Vec<u64> = e.read_stream(name, None, None).iter().map(|&i| i as u64 + 1).collect();
        check_eq!(read, positions, "read_stream({name:?})");
        let n = positions.len();
        let want = StreamInfo {
            revision: n as i64 - 1,
            message_count: n as u64,
            first_position: positions.first().copied().unwrap_or(0),
            last_position: positions.last().copied().unwrap_or(0),
            created_at: *created_at,
            last_updated: positions.last().map_or(*created_at, |&p| st.accepted[p as usize - 1].time),
        };
        check_eq!(e.stream_info(name), Some(want), "stream_info({name:?})");
        check_eq!(e.stream_revision(name), Some(n as i64 - 1), "stream_revision({name:?})");
    }
    check_eq!(total, len, "messages in no known stream");
    let unknown = JsonString::new("no-such-stream");
    check!(e.stream_info(&unknown).is_none() && e.read_stream(&unknown, None, None).is_empty(), "unknown stream found");

    // Sessions: creation order, counters equal to the scan's counts.
    let sessions: Vec<SessionInfo> = e.sessions().cloned().collect();
    let want: Vec<SessionInfo> = st
        .sessions
        .iter()
        .map(|s| {
            let mine: Vec<&Accepted> = st.accepted.iter().filter(|a| a.session.as_ref() == Some(&s.id)).collect();
            let commands = mine.iter().filter(|a| a.kind == MessageKind::Command).count() as u64;
            SessionInfo {
                session_id: s.id.clone(),
                started_at: s.started_at,
                message_count: mine.len() as u64,
                command_count: commands,
                event_count: mine.len() as u64 - commands,
                last_activity: s.last_activity,
            }
        })
        .collect();
    check_eq!(sessions, want, "sessions");
    for s in &want {
        check_eq!(e.session_info(&s.session_id), Some(s), "session_info({:?})", s.session_id);
    }
    check_eq!(e.current_session(), st.current.as_ref(), "current session");

    // Stats: totals equal the scan's counts.
    let stats = e.stats();
    let commands = st.accepted.iter().filter(|a| a.kind == MessageKind::Command).count() as u64;
    let times = || st.accepted.iter().map(|a| a.time);
    let want = Stats {
        total_messages: len as u64,
        total_commands: commands,
        total_events: len as u64 - commands,
        total_streams: st.streams.len() as u64,
        total_sessions: st.sessions.len() as u64,
        memory_usage: stats.memory_usage,
        oldest_message: times().min(),
        newest_message: times().max(),
    };
    check_eq!(stats, want, "stats");
    if st.streams.is_empty() && st.sessions.is_empty() {
        check_eq!(stats.memory_usage, 0, "memory of an empty store");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The reference scan
// ---------------------------------------------------------------------------

/// One message as the scan reads it back through `Engine::message`.
struct Row {
    position: u64,
    stream: String,
    kind: MessageKind,
    time: i64,
    session: Option<String>,
    message: Value,
}

fn rows(e: &Engine) -> Vec<Row> {
    (1..=e.len() as u64)
        .map(|p| {
            let m = e.message(p).unwrap();
            Row {
                position: p,
                stream: decode(m.stream),
                kind: m.kind,
                time: m.time,
                session: m.session.map(decode),
                message: serde_json::from_str(&m.text).unwrap(),
            }
        })
        .collect()
}

/// `data[key]` as JavaScript reads it from a parsed object or array.
fn js_get(data: &Value, key: &str) -> Option<Value> {
    match data {
        Value::Object(map) => map.get(key).cloned(),
        Value::Array(items) if key == "length" => Some(Value::from(items.len())),
        Value::Array(items) if key == "0" || (!key.starts_with('0') && key.bytes().all(|b| b.is_ascii_digit())) => {
            key.parse::<usize>().ok().and_then(|i| items.get(i).cloned())
        }
        _ => None,
    }
}

/// docs/behaviour.md#reading-json-filter: `data` is an object (an array is one too, in
/// JavaScript) and every condition holds, values compared as JSON values.
fn json_holds(message: &Value, conditions: &[JsonCondition]) -> bool {
    let Some(data @ (Value::Object(_) | Value::Array(_))) = message.get("data") else { return false };
    conditions.iter().all(|c| match c {
        JsonCondition::Equals { key, value } => {
            js_get(data, &decode(key)) == Some(serde_json::from_str::<Value>(value).unwrap())
        }
        JsonCondition::Absent { key } => js_get(data, &decode(key)).is_none(),
    })
}

fn reference_query(rows: &[Row], f: &Filter, limit: Option<usize>) -> Vec<u64> {
    let names: Option<Vec<String>> = f.names.as_ref().map(|n| n.iter().map(decode).collect());
    let stream = f.stream.as_ref().map(decode);
    let session = f.session.as_ref().map(decode);
    let correlation = f.correlation_id.as_ref().map(decode);
    let request = f.request_id.as_ref().map(decode);
    let id_is = |m: &Value, field: &str, id: &Option<String>| {
        id.as_deref().is_none_or(|id| m.get(field).and_then(Value::as_str) == Some(id))
    };
    let matched = rows
        .iter()
        .filter(|r| {
            f.kind.is_none_or(|k| r.kind == k)
                && names.as_ref().is_none_or(|n| n.iter().any(|n| Some(n.as_str()) == r.message["type"].as_str()))
                && stream.as_ref().is_none_or(|s| *s == r.stream)
                && session.as_deref().is_none_or(|s| s == r.session.as_deref().unwrap_or("no-session"))
                && id_is(&r.message, "correlationId", &correlation)
                && id_is(&r.message, "requestId", &request)
                && f.from_position.is_none_or(|p| r.position as i64 >= p)
                && f.to_position.is_none_or(|p| r.position as i64 <= p)
                && f.from_time.is_none_or(|t| r.time >= t)
                && f.to_time.is_none_or(|t| r.time <= t)
                && f.json.as_ref().is_none_or(|c| json_holds(&r.message, c))
        })
        .map(|r| r.position)
        .collect();
    last(matched, limit)
}

/// Turns a spec into a `Filter` on the store as it is now.
fn resolve(st: &State, rows: &[Row], spec: &FilterSpec) -> Filter {
    let len = rows.len() as i64;
    let pos = |p: &PosPick| match p {
        PosPick::Frac(f) => *f as i64 * (len + 4) / 1000 - 1,
        PosPick::Raw(r) => *r,
    };
    let time = |t: &TimePick| match t {
        TimePick::Near(_, d) if rows.is_empty() => st.clock + d,
        TimePick::Near(r, d) => rows[*r as usize % rows.len()].time + d,
        TimePick::Raw(o) => T0 + o,
        TimePick::Extreme(x) => *x,
    };
    let cond = |c: &CondPick| match c {
        CondPick::FromRow { row, key } => {
            let data = (!rows.is_empty()).then(|| rows[*row as usize % rows.len()].message.get("data")).flatten();
            match data {
                Some(Value::Object(map)) if !map.is_empty() => {
                    let (k, v) = map.iter().nth(*key as usize % map.len()).unwrap();
                    JsonCondition::Equals { key: JsonString::new(k), value: serde_json::to_string(v).unwrap() }
                }
                Some(Value::Array(items)) if !items.is_empty() && key % 3 != 0 => {
                    let i = *key as usize % items.len();
                    JsonCondition::Equals {
                        key: JsonString::new(&i.to_string()),
                        value: serde_json::to_string(&items[i]).unwrap(),
                    }
                }
                Some(Value::Array(items)) => {
                    JsonCondition::Equals { key: JsonString::new("length"), value: items.len().to_string() }
                }
                _ => JsonCondition::Absent { key: JsonString::new(DATA_KEYS[*key as usize % DATA_KEYS.len()]) },
            }
        }
        CondPick::Equals { key, value } => JsonCondition::Equals {
            key: JsonString::new(key.map_or("missing", |k| DATA_KEYS[k])),
            value: value.clone(),
        },
        CondPick::Absent(k) => JsonCondition::Absent { key: JsonString::new(DATA_KEYS[*k]) },
    };
    Filter {
        kind: spec.kind,
        names: spec
            .names
            .as_ref()
            .map(|n| n.iter().map(|i| JsonString::new(i.map_or("NoSuchName", |i| NAMES[i]))).collect()),
        stream: spec.stream.as_ref().map(|s| st.resolve_stream(s)),
        session: spec.session.as_ref().map(|s| st.resolve_session(s)),
        correlation_id: spec.correlation_id.as_deref().map(JsonString::new),
        request_id: spec.request_id.as_deref().map(JsonString::new),
        from_position: spec.from_position.as_ref().map(pos),
        to_position: spec.to_position.as_ref().map(pos),
        from_time: spec.from_time.as_ref().map(time),
        to_time: spec.to_time.as_ref().map(time),
        json: spec.json.as_ref().map(|c| c.iter().map(cond).collect()),
    }
}

fn check_query(st: &State, rows: &[Row], spec: &FilterSpec, limit: Option<usize>, cov: &mut Coverage) -> Outcome {
    let filter = resolve(st, rows, spec);
    let want = reference_query(rows, &filter, limit);
    let got: Vec<u64> = st.engine.query(&filter, limit).iter().map(|&i| i as u64 + 1).collect();
    check_eq!(got, want, "query({filter:?}, {limit:?}) on a store of {} messages", rows.len());

    cov.queries += 1;
    cov.nonempty_queries += usize::from(!want.is_empty());
    cov.cut_by_limit += usize::from(limit.is_some_and(|n| n < reference_query(rows, &filter, None).len()));
    let used = [
        spec.kind.is_some(),
        spec.names.is_some(),
        spec.stream.is_some(),
        spec.session.is_some(),
        spec.correlation_id.is_some(),
        spec.request_id.is_some(),
        spec.from_position.is_some(),
        spec.to_position.is_some(),
        spec.from_time.is_some(),
        spec.to_time.is_some(),
        spec.json.is_some(),
    ];
    let alone = used.iter().filter(|u| **u).count() == 1;
    for (field, _) in FIELDS.iter().zip(used).filter(|(_, u)| *u) {
        let c = cov.fields.entry(field).or_default();
        c.0 += 1;
        c.1 += usize::from(!want.is_empty());
        c.2 += usize::from(alone);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

/// Runs `cases` random cases of up to `max_steps` steps; on failure, panics with the
/// shrunk case. No failure file is written: a failure worth keeping becomes a
/// regular `#[test]` below.
fn run(name: &str, cases: u32, max_steps: usize) -> Coverage {
    // XorShift: ChaCha, the default, takes most of the time of a debug build.
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_time: 120_000,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let cov = RefCell::new(Coverage::default());
    let result = runner.run(&case(max_steps), |case| run_case(&case, &mut cov.borrow_mut()));
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let cov = cov.into_inner();
    eprintln!("{name}: {cov:?}");
    cov
}

/// Asserts that a passing run exercised what it claims to (not for runs of few cases).
fn assert_coverage(name: &str, cov: &Coverage) {
    if cov.cases < 64 {
        return;
    }
    let c = cov.cases;
    assert!(cov.backwards_cases * 4 >= c && cov.backwards_cases * 4 <= 3 * c, "{name}: {cov:?}");
    assert!(cov.accepted_saves >= 5 * c && cov.empty_saves >= c / 4, "{name}: too few accepted saves: {cov:?}");
    assert!(cov.refused_invalid >= c / 4, "{name}: too few invalid messages: {cov:?}");
    assert!(
        cov.refused_revision >= c / 4 && cov.refused_missing_stream >= c / 16,
        "{name}: too few wrong revisions: {cov:?}"
    );
    assert!(cov.resets >= c / 8 && cov.sessions >= c, "{name}: {cov:?}");
    // About half of the rates a run gives, so that a passing run never fails these.
    assert!(cov.nonempty_queries * 5 >= cov.queries, "{name}: too few queries match anything: {cov:?}");
    assert!(cov.cut_by_limit * 20 >= cov.queries, "{name}: too few limits cut anything: {cov:?}");
    for field in FIELDS {
        let (used, matched, alone) = cov.fields.get(field).copied().unwrap_or_default();
        assert!(
            used >= c && matched * 12 >= used && alone * 15 >= used,
            "{name}: field {field} exercised too little: {cov:?}"
        );
    }
}

/// Many short sequences: small stores, where edge cases (empty streams, positions
/// 0 and len + 1, a first save going backwards) are frequent.
#[test]
fn short_operation_sequences_keep_every_invariant() {
    let n = cases(256);
    let cov = run("short sequences", n, 60);
    assert_coverage("short sequences", &cov);
}

/// Fewer, longer sequences: stores of a few hundred messages, where the planner has
/// real choices between posting lists.
#[test]
fn long_operation_sequences_keep_every_invariant() {
    let n = cases(256) / 2;
    let cov = run("long sequences", n, 300);
    assert_coverage("long sequences", &cov);
}

/// The test's own readers, on fixed cases, so that a wrong reference cannot agree
/// with a wrong engine.
#[test]
fn the_reference_reads_fields_as_the_spec_says() {
    let m: Value = serde_json::from_str(r#"{"type":"A","data":{"n":2,"o":{"a":1,"b":[1,2]}},"requestId":5}"#).unwrap();
    let eq = |k: &str, v: &str| JsonCondition::Equals { key: JsonString::new(k), value: v.into() };
    assert!(json_holds(&m, &[eq("n", "2")]));
    assert!(!json_holds(&m, &[eq("n", "\"2\"")]));
    assert!(json_holds(&m, &[eq("o", r#"{"b":[1,2],"a":1}"#)]));
    assert!(!json_holds(&m, &[eq("o", r#"{"b":[2,1],"a":1}"#)]));
    assert!(json_holds(&m, &[JsonCondition::Absent { key: JsonString::new("x") }]));
    assert!(!json_holds(&m, &[JsonCondition::Absent { key: JsonString::new("n") }]));
    assert!(json_holds(&m, &[]));
    let a: Value = serde_json::from_str(r#"{"type":"A","data":[1,"x"]}"#).unwrap();
    assert!(json_holds(&a, &[eq("length", "2"), eq("1", "\"x\"")]));
    assert!(!json_holds(&a, &[eq("01", "\"x\"")]));
    for data in ["null", "\"s\"", "3"] {
        let v: Value = serde_json::from_str(&format!(r#"{{"type":"A","data":{data}}}"#)).unwrap();
        assert!(!json_holds(&v, &[]), "{data}");
    }
    assert!(!json_holds(&serde_json::json!({"type": "A"}), &[]));
    let s = JsonString::new;
    assert_eq!(rule_kind(&s("x"), &m, None), MessageKind::Command);
    assert_eq!(rule_kind(&s("my-events"), &m, None), MessageKind::Event);
    assert_eq!(rule_kind(&s("Commands"), &serde_json::json!({"requestId": ""}), None), MessageKind::Event);
    assert_eq!(
        rule_kind(&s("x"), &serde_json::json!({"requestId": null}), Some(MessageKind::Command)),
        MessageKind::Command
    );
    assert_eq!(judge(r#"{"type":"A","timestamp":"x"}"#), Some(true));
    assert_eq!(judge(r#"{"type":"A"}"#), Some(false));
    assert_eq!(judge(r#"{"type":"A","timestamp":5}"#), None);
    assert_eq!(iso(T0), "2023-11-14T22:13:20.000Z");
    assert_eq!(iso(951_868_799_999), "2000-02-29T23:59:59.999Z");
    assert_eq!(last(vec![1, 2, 3], Some(2)), vec![2, 3]);
    assert_eq!(last(vec![1, 2, 3], Some(0)), Vec::<i32>::new());
}
