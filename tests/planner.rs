//! Guards the query planner and the indexes behind it: on random stores (fixed
//! seeds), `Engine::query` and `Engine::read_stream` must return exactly what a
//! plain scan over every position gives under the filter semantics of docs/behaviour.md#reading-filters, and
//! every stored message must be what an independent model of the saves predicts.

mod common;

use std::collections::BTreeMap;

use message_store::engine::{Engine, Filter, JsonCondition, JsonString, MessageKind, SaveError, NO_SESSION};
use serde_json::Value;

use common::iso;

// ---------------------------------------------------------------------------
// A small deterministic PRNG (SplitMix64)
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    /// True with probability `percent` / 100.
    fn pct(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn pick_str<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------
// Random JSON, written as JSON.stringify writes it
// ---------------------------------------------------------------------------

fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

const DATA_KEYS: &[&str] = &["orderId", "n", "flag", "nested", "tags", "k", "x y", "0", "1", "length", "é"];
const STRINGS: &[&str] = &["o1", "o2", "o3", "", "x\"y", "ü", "2", "null"];

fn random_scalar(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => lit(rng.pick_str(STRINGS)),
        4..=6 => rng.range(-3, 5).to_string(),
        7 => rng.pick(&["2.5", "-0.5", "0.1", "1e-7"]).to_string(),
        8 => rng.pick(&["true", "false"]).to_string(),
        _ => "null".into(),
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> String {
    match rng.below(if depth >= 2 { 1 } else { 10 }) {
        0..=6 => random_scalar(rng),
        7 | 8 => {
            let n = rng.below(4);
            let keys = ["a", "b", "c"];
            let mut entries: Vec<String> =
                keys[..n.min(3)].iter().map(|k| format!("{}:{}", lit(k), random_value(rng, depth + 1))).collect();
            rng.shuffle(&mut entries);
            format!("{{{}}}", entries.join(","))
        }
        _ => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| random_value(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
    }
}

fn random_data_object(rng: &mut Rng) -> String {
    let mut keys: Vec<&str> = DATA_KEYS.to_vec();
    rng.shuffle(&mut keys);
    let n = rng.below(5);
    let entries: Vec<String> = keys[..n].iter().map(|k| format!("{}:{}", lit(k), random_value(rng, 0))).collect();
    format!("{{{}}}", entries.join(","))
}

fn random_data(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..=74 => random_data_object(rng),
        75..=84 => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| random_value(rng, 1)).collect();
            format!("[{}]", items.join(","))
        }
        85..=89 => "null".into(),
        90..=94 => lit(rng.pick_str(STRINGS)),
        _ => rng.range(-2, 9).to_string(),
    }
}

// ---------------------------------------------------------------------------
// The model of what the engine should hold, kept independently of it
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ModelMessage {
    stream: String,
    /// The text the store should hold, `timestamp` included.
    text: String,
    kind: MessageKind,
    revision: i64,
    time: i64,
    session: Option<JsonString>,
}

#[derive(Debug, Clone)]
struct ModelStream {
    name: String,
    positions: Vec<u64>,
    created_at: i64,
    last_updated: i64,
}

#[derive(Debug, Clone)]
struct ModelSession {
    id: JsonString,
    started_at: i64,
    messages: u64,
    commands: u64,
    events: u64,
    last_activity: i64,
}

#[derive(Default)]
struct Model {
    messages: Vec<ModelMessage>,
    streams: Vec<ModelStream>,
    sessions: Vec<ModelSession>,
    current: Option<usize>,
}

impl Model {
    fn stream_ix(&self, name: &str) -> Option<usize> {
        self.streams.iter().position(|s| s.name == name)
    }
    fn revision(&self, name: &str) -> Option<i64> {
        self.stream_ix(name).map(|i| self.streams[i].positions.len() as i64 - 1)
    }
}

/// docs/behaviour.md#writing-message-type, on the decoded stream name and message.
fn infer_kind(stream: &str, message: &Value, given: Option<MessageKind>) -> MessageKind {
    if let Some(k) = given {
        return k;
    }
    if stream.contains("command") {
        return MessageKind::Command;
    }
    if stream.contains("event") {
        return MessageKind::Event;
    }
    match message.get("requestId") {
        None | Some(Value::Null) => MessageKind::Event,
        Some(Value::String(s)) if s.is_empty() => MessageKind::Event,
        Some(_) => MessageKind::Command,
    }
}

// ---------------------------------------------------------------------------
// Building a random store
// ---------------------------------------------------------------------------

const STREAM_POOL: &[&str] = &[
    "orders-1",
    "orders-2",
    "user-commands",
    "domain-events",
    "Commands",
    "EVENTS",
    "mixed-command-event",
    "weird \"q\" stream",
    "naïve-évent",
    "tab\tstream",
    "",
    "orders-\u{1}x",
    "carts",
    "payment-events-2",
    "😀",
];
const NAME_POOL: &[&str] =
    &["CreateUser", "UserCreated", "PlaceOrder", "OrderPlaced", "Ping", "Ünï 😀", "with \"q\"", ""];
const REQUEST_POOL: &[&str] = &["req-0", "req-1", "req-2", "req-3", "req-4", "5"];
const CORRELATION_POOL: &[&str] = &["corr-0", "corr-1", "corr-2", "corr-3", "7"];

#[derive(Clone, Copy)]
enum Times {
    /// Never backwards (often equal).
    Monotonic,
    /// Random within a window: often backwards.
    Jumpy,
    /// Monotonic, with one jump back (by this many ms) in the middle.
    OneJumpBack(i64),
}

struct Config {
    seed: u64,
    ops: usize,
    times: Times,
    /// Reset the store once, after this many operations.
    reset_at: Option<usize>,
    /// Filters to check at each checkpoint.
    filters: usize,
    /// Checkpoints (operation counts) at which to check everything.
    checkpoints: Vec<usize>,
}

struct Builder {
    rng: Rng,
    engine: Engine,
    model: Model,
    streams: Vec<&'static str>,
    names: Vec<&'static str>,
    unique: u64,
    time: i64,
    seed: u64,
}

impl Builder {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let mut streams = STREAM_POOL.to_vec();
        rng.shuffle(&mut streams);
        streams.truncate(6 + rng.below(STREAM_POOL.len() - 5));
        let mut names = NAME_POOL.to_vec();
        rng.shuffle(&mut names);
        names.truncate(3 + rng.below(NAME_POOL.len() - 2));
        Builder {
            rng,
            engine: Engine::new(),
            model: Model::default(),
            streams,
            names,
            unique: 0,
            time: 1_700_000_000_000,
            seed,
        }
    }

    fn next_time(&mut self, times: Times, op: usize, ops: usize) -> i64 {
        match times {
            Times::Monotonic => self.time += self.rng.range(0, 2),
            Times::Jumpy => self.time = 1_700_000_000_000 + self.rng.range(0, 300),
            Times::OneJumpBack(by) => {
                if op == ops / 2 {
                    // Behind the newest save, so that the next save goes backwards.
                    let newest = self.model.messages.iter().map(|m| m.time).max().unwrap_or(self.time);
                    self.time = newest - by;
                } else if op > ops / 2 && op < ops / 2 + 20 {
                    // Stay behind for a while, so that saves land behind the newest.
                } else {
                    self.time += self.rng.range(0, 3);
                }
            }
        }
        self.time
    }

    fn id_value(&mut self, pool: &[&str], prefix: &str) -> String {
        match self.rng.below(20) {
            0..=11 => lit(self.rng.pick_str(pool)),
            12 | 13 => {
                self.unique += 1;
                lit(&format!("{prefix}-u{}", self.unique))
            }
            14 | 15 => self.rng.range(0, 9).to_string(),
            16 => "null".into(),
            17 => lit(""),
            18 => "false".into(),
            _ => "{}".into(),
        }
    }

    /// The JSON text of a random valid message, keys in random order.
    fn message(&mut self) -> String {
        let mut entries = vec![format!("\"type\":{}", lit(self.rng.pick_str(&self.names.clone())))];
        if self.rng.pct(85) {
            entries.push(format!("\"data\":{}", random_data(&mut self.rng)));
        }
        if self.rng.pct(50) {
            let v = self.id_value(REQUEST_POOL, "req");
            entries.push(format!("\"requestId\":{v}"));
        }
        if self.rng.pct(50) {
            let v = self.id_value(CORRELATION_POOL, "corr");
            entries.push(format!("\"correlationId\":{v}"));
        }
        if self.rng.pct(15) {
            entries.push(format!("\"timestamp\":{}", lit(&iso(self.rng.range(0, 1_800_000_000_000)))));
        }
        if self.rng.pct(15) {
            entries.push(format!("\"meta\":{}", random_value(&mut self.rng, 0)));
        }
        self.rng.shuffle(&mut entries);
        format!("{{{}}}", entries.join(","))
    }

    fn invalid_message(&mut self) -> String {
        self.rng
            .pick(&[
                "[1]",
                "1",
                "null",
                "\"text\"",
                "{\"data\":{\"type\":\"A\"}}",
                "{\"type\":1}",
                "{\"type\":null}",
                "{\"type\":\"A\",\"timestamp\":5}",
                "{}",
            ])
            .to_string()
    }

    fn pick_stream(&mut self) -> String {
        if self.rng.pct(4) {
            self.unique += 1;
            format!("fresh-{}-{}", if self.rng.pct(50) { "event" } else { "x" }, self.unique)
        } else {
            self.rng.pick(&self.streams.clone()).to_string()
        }
    }

    fn op(&mut self, times: Times, op: usize, ops: usize) {
        let now = self.next_time(times, op, ops);
        let roll = self.rng.below(100);
        match roll {
            0..=5 => self.create_session(now),
            6..=10 => self.end_session(now),
            11..=14 => self.refused_by_revision(now),
            15..=17 => self.refused_as_invalid(now),
            _ => self.save(now),
        }
    }

    fn create_session(&mut self, now: i64) {
        let id = self.engine.create_session(now);
        assert!(self.model.sessions.iter().all(|s| s.id != id), "seed {}: session id {id:?} given twice", self.seed);
        let raw: String = serde_json::from_str(id.literal()).unwrap();
        self.model.sessions.push(ModelSession {
            id,
            started_at: now,
            messages: 0,
            commands: 0,
            events: 0,
            last_activity: now,
        });
        self.model.current = Some(self.model.sessions.len() - 1);
        let name = format!("session-{raw}");
        if self.model.stream_ix(&name).is_none() {
            self.model.streams.push(ModelStream { name, positions: vec![], created_at: now, last_updated: now });
        }
    }

    fn end_session(&mut self, now: i64) {
        let n = self.model.sessions.len();
        let which = match self.rng.below(10) {
            0..=5 => self.model.current,
            6..=8 if n > 0 => Some(self.rng.below(n)),
            _ => None,
        };
        match which {
            Some(ix) => {
                let id = self.model.sessions[ix].id.clone();
                self.engine.end_session(&id, now);
                self.model.sessions[ix].last_activity = now;
                if self.model.current == Some(ix) {
                    self.model.current = None;
                }
            }
            None => {
                let unknown = if self.rng.pct(50) {
                    JsonString::new("session-1-unknown")
                } else {
                    JsonString::from_literal(NO_SESSION).unwrap()
                };
                self.engine.end_session(&unknown, now);
            }
        }
    }

    fn batch(&mut self) -> Vec<String> {
        let n = match self.rng.below(20) {
            0 => 0,
            1..=10 => 1,
            11..=15 => 2,
            16 | 17 => 3,
            _ => 4 + self.rng.below(4),
        };
        (0..n).map(|_| self.message()).collect()
    }

    fn send(
        &mut self,
        stream: &str,
        batch: &[String],
        expected: Option<i64>,
        kind: Option<MessageKind>,
        now: i64,
    ) -> Result<message_store::engine::SaveOutcome, SaveError> {
        let name = JsonString::new(stream);
        if self.rng.pct(50) {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            self.engine.save(&name, &refs, expected.map(message_store::engine::Expected::Revision), kind, now)
        } else {
            let sep = if self.rng.pct(50) { "," } else { " , " };
            self.engine.save_json_array(
                &name,
                &format!("[{}]", batch.join(sep)),
                expected.map(message_store::engine::Expected::Revision),
                kind,
                now,
            )
        }
    }

    fn refused_by_revision(&mut self, now: i64) {
        let stream = self.pick_stream();
        let batch = self.batch();
        let current = self.model.revision(&stream);
        let (expected, want) = match current {
            None => {
                let e = self.rng.range(0, 3);
                (e, SaveError::StreamNotFound { stream: JsonString::new(&stream), expected: e })
            }
            Some(r) => {
                let e = if self.rng.pct(30) && r != -1 { -1 } else { r + 1 + self.rng.range(0, 2) };
                (e, SaveError::WrongExpectedRevision { expected: e, actual: r })
            }
        };
        let len = self.engine.len();
        let got = self.send(&stream, &batch, Some(expected), None, now);
        assert_eq!(got, Err(want), "seed {}: save to {stream:?} expecting {expected}", self.seed);
        assert_eq!(self.engine.len(), len, "seed {}", self.seed);
    }

    fn refused_as_invalid(&mut self, now: i64) {
        let stream = self.pick_stream();
        let mut batch = self.batch();
        let index = self.rng.below(batch.len() + 1);
        let bad = self.invalid_message();
        batch.insert(index, bad);
        let len = self.engine.len();
        let got = self.send(&stream, &batch, None, None, now);
        assert!(
            matches!(got, Err(SaveError::InvalidMessage { index: i, .. }) if i == index),
            "seed {}: batch {batch:?} to {stream:?} gave {got:?}",
            self.seed
        );
        assert_eq!(self.engine.len(), len, "seed {}", self.seed);
    }

    fn save(&mut self, now: i64) {
        let stream = self.pick_stream();
        let batch = self.batch();
        let current = self.model.revision(&stream);
        let expected = if self.rng.pct(30) { Some(current.unwrap_or(-1)) } else { None };
        let kind = match self.rng.below(10) {
            0 => Some(MessageKind::Command),
            1 => Some(MessageKind::Event),
            _ => None,
        };
        let first = self.model.messages.len() as u64 + 1;
        let got = self.send(&stream, &batch, expected, kind, now);
        let outcome = got.unwrap_or_else(|e| panic!("seed {}: save to {stream:?} refused: {e:?}", self.seed));
        let revision_before = current.unwrap_or(-1);
        assert_eq!(
            (outcome.revision, outcome.first_position, outcome.count),
            (revision_before + batch.len() as i64, first, batch.len()),
            "seed {}: outcome of saving {} messages to {stream:?}",
            self.seed,
            batch.len()
        );

        // The model's side of the same save.
        let six = match self.model.stream_ix(&stream) {
            Some(i) => i,
            None => {
                self.model.streams.push(ModelStream {
                    name: stream.clone(),
                    positions: vec![],
                    created_at: now,
                    last_updated: now,
                });
                self.model.streams.len() - 1
            }
        };
        let session = self.model.current;
        for text in &batch {
            let value: Value = serde_json::from_str(text).unwrap();
            let stored = if value.get("timestamp").is_some() {
                text.clone()
            } else {
                format!("{},\"timestamp\":\"{}\"}}", &text[..text.len() - 1], iso(now))
            };
            let k = infer_kind(&stream, &value, kind);
            let st = &mut self.model.streams[six];
            let revision = st.positions.len() as i64;
            st.positions.push(self.model.messages.len() as u64 + 1);
            st.last_updated = now;
            if let Some(s) = session {
                let s = &mut self.model.sessions[s];
                s.messages += 1;
                match k {
                    MessageKind::Command => s.commands += 1,
                    MessageKind::Event => s.events += 1,
                }
                s.last_activity = now;
            }
            self.model.messages.push(ModelMessage {
                stream: stream.clone(),
                text: stored,
                kind: k,
                revision,
                time: now,
                session: session.map(|s| self.model.sessions[s].id.clone()),
            });
        }
    }

    fn reset(&mut self) {
        self.engine.reset();
        self.model = Model::default();
    }
}

// ---------------------------------------------------------------------------
// Checking the store against the model
// ---------------------------------------------------------------------------

fn check_model(b: &Builder) {
    let (e, m, seed) = (&b.engine, &b.model, b.seed);
    assert_eq!(e.len(), m.messages.len(), "seed {seed}: number of messages");
    for (i, want) in m.messages.iter().enumerate() {
        let p = i as u64 + 1;
        let got = e.message(p).unwrap_or_else(|| panic!("seed {seed}: no message at position {p}"));
        assert_eq!(got.position, p, "seed {seed}");
        assert_eq!(got.stream, &JsonString::new(&want.stream), "seed {seed}: stream at position {p}");
        assert_eq!(got.text, want.text, "seed {seed}: text at position {p}");
        assert_eq!(got.kind, want.kind, "seed {seed}: kind at position {p} ({:?}, {})", want.stream, want.text);
        assert_eq!(got.revision, want.revision, "seed {seed}: revision at position {p}");
        assert_eq!(got.time, want.time, "seed {seed}: time at position {p}");
        assert_eq!(got.session, want.session.as_ref(), "seed {seed}: session at position {p}");
    }
    assert!(e.message(m.messages.len() as u64 + 1).is_none(), "seed {seed}");

    let names: Vec<JsonString> = e.stream_names().cloned().collect();
    let want: Vec<JsonString> = m.streams.iter().map(|s| JsonString::new(&s.name)).collect();
    assert_eq!(names, want, "seed {seed}: streams in creation order");
    for s in &m.streams {
        let info = e.stream_info(&JsonString::new(&s.name)).unwrap();
        let got = (
            info.revision,
            info.message_count,
            info.first_position,
            info.last_position,
            info.created_at,
            info.last_updated,
        );
        let want = (
            s.positions.len() as i64 - 1,
            s.positions.len() as u64,
            s.positions.first().copied().unwrap_or(0),
            s.positions.last().copied().unwrap_or(0),
            s.created_at,
            s.last_updated,
        );
        assert_eq!(got, want, "seed {seed}: stream info of {:?}", s.name);
    }

    let sessions: Vec<_> = e
        .sessions()
        .map(|s| (s.session_id.clone(), s.started_at, s.message_count, s.command_count, s.event_count, s.last_activity))
        .collect();
    let want: Vec<_> = m
        .sessions
        .iter()
        .map(|s| (s.id.clone(), s.started_at, s.messages, s.commands, s.events, s.last_activity))
        .collect();
    assert_eq!(sessions, want, "seed {seed}: sessions");
    for s in &m.sessions {
        assert_eq!(e.session_info(&s.id).map(|i| i.message_count), Some(s.messages), "seed {seed}");
    }
    assert_eq!(e.current_session(), m.current.map(|i| &m.sessions[i].id), "seed {seed}: current session");

    let st = e.stats();
    let commands = m.messages.iter().filter(|x| x.kind == MessageKind::Command).count() as u64;
    assert_eq!(
        (st.total_messages, st.total_commands, st.total_events, st.total_streams, st.total_sessions),
        (
            m.messages.len() as u64,
            commands,
            m.messages.len() as u64 - commands,
            m.streams.len() as u64,
            m.sessions.len() as u64
        ),
        "seed {seed}: stats"
    );
    assert_eq!(st.oldest_message, m.messages.iter().map(|x| x.time).min(), "seed {seed}: oldest");
    assert_eq!(st.newest_message, m.messages.iter().map(|x| x.time).max(), "seed {seed}: newest");
    let text: usize = m.messages.iter().map(|x| x.text.len()).sum();
    assert!(st.memory_usage as usize >= text, "seed {seed}: memory {} < text {text}", st.memory_usage);
}

// ---------------------------------------------------------------------------
// The reference scan
// ---------------------------------------------------------------------------

/// One message as the reference sees it: read back through `Engine::message`.
struct Row {
    position: u64,
    stream: JsonString,
    kind: MessageKind,
    time: i64,
    session: Option<JsonString>,
    message: Value,
}

fn rows(e: &Engine) -> Vec<Row> {
    (1..=e.len() as u64)
        .map(|p| {
            let m = e.message(p).unwrap();
            Row {
                position: p,
                stream: m.stream.clone(),
                kind: m.kind,
                time: m.time,
                session: m.session.cloned(),
                message: serde_json::from_str(&m.text).unwrap(),
            }
        })
        .collect()
}

fn decode(s: &JsonString) -> String {
    serde_json::from_str(s.literal()).unwrap()
}

/// `data[key]` as JavaScript reads it from a parsed object or array.
fn js_get<'a>(data: &'a Value, key: &str, len_holder: &'a mut Value) -> Option<&'a Value> {
    match data {
        Value::Object(map) => map.get(key),
        Value::Array(items) => {
            if key == "length" {
                *len_holder = Value::from(items.len());
                Some(len_holder)
            } else if !key.is_empty()
                && key.bytes().all(|c| c.is_ascii_digit())
                && (key == "0" || !key.starts_with('0'))
            {
                key.parse::<usize>().ok().and_then(|i| items.get(i))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A `jsonFilter` condition with its key and value decoded once.
enum Cond {
    Equals(String, Value),
    Absent(String),
}

fn prepare(conditions: &[JsonCondition]) -> Vec<Cond> {
    conditions
        .iter()
        .map(|c| match c {
            JsonCondition::Equals { key, value } => Cond::Equals(decode(key), serde_json::from_str(value).unwrap()),
            JsonCondition::Absent { key } => Cond::Absent(decode(key)),
        })
        .collect()
}

/// docs/behaviour.md#reading-json-filter: `message.data` is an object and every key of `jsonFilter` equals
/// `data[key]` (deeply for objects and arrays; a key given as `undefined` matches an
/// absent one).
fn json_filter_holds(message: &Value, conditions: &[Cond]) -> bool {
    let Some(data) = message.get("data") else { return false };
    if !matches!(data, Value::Object(_) | Value::Array(_)) {
        return false;
    }
    conditions.iter().all(|c| {
        let mut holder = Value::Null;
        match c {
            Cond::Equals(key, want) => js_get(data, key, &mut holder) == Some(want),
            Cond::Absent(key) => js_get(data, key, &mut holder).is_none(),
        }
    })
}

fn id_holds(message: &Value, field: &str, id: &str) -> bool {
    message.get(field).and_then(Value::as_str) == Some(id)
}

fn reference_query(rows: &[Row], f: &Filter, limit: Option<usize>) -> Vec<u64> {
    let no_session = JsonString::from_literal(NO_SESSION).unwrap();
    let names: Option<Vec<String>> = f.names.as_ref().map(|n| n.iter().map(decode).collect());
    let correlation = f.correlation_id.as_ref().map(decode);
    let request = f.request_id.as_ref().map(decode);
    let json = f.json.as_deref().map(prepare);
    let out: Vec<u64> = rows
        .iter()
        .filter(|r| {
            f.kind.is_none_or(|k| r.kind == k)
                && names.as_ref().is_none_or(|names| {
                    let t = r.message.get("type").and_then(Value::as_str).unwrap();
                    names.iter().any(|n| n == t)
                })
                && f.stream.as_ref().is_none_or(|s| *s == r.stream)
                && f.session.as_ref().is_none_or(|s| r.session.as_ref().unwrap_or(&no_session) == s)
                && correlation.as_deref().is_none_or(|id| id_holds(&r.message, "correlationId", id))
                && request.as_deref().is_none_or(|id| id_holds(&r.message, "requestId", id))
                && f.from_position.is_none_or(|p| r.position as i64 >= p)
                && f.to_position.is_none_or(|p| r.position as i64 <= p)
                && f.from_time.is_none_or(|t| r.time >= t)
                && f.to_time.is_none_or(|t| r.time <= t)
                && json.as_ref().is_none_or(|c| json_filter_holds(&r.message, c))
        })
        .map(|r| r.position)
        .collect();
    last(out, limit)
}

fn last(mut v: Vec<u64>, limit: Option<usize>) -> Vec<u64> {
    if let Some(n) = limit {
        if n < v.len() {
            v.drain(..v.len() - n);
        }
    }
    v
}

fn reference_read_stream(rows: &[Row], stream: &JsonString, from: Option<i64>, limit: Option<usize>) -> Vec<u64> {
    // Revisions counted here from the stream's messages in position order.
    let mut revision = -1i64;
    let out = rows
        .iter()
        .filter(|r| &r.stream == stream)
        .filter_map(|r| {
            revision += 1;
            from.is_none_or(|f| revision >= f).then_some(r.position)
        })
        .collect();
    last(out, limit)
}

// ---------------------------------------------------------------------------
// Random filters
// ---------------------------------------------------------------------------

/// Which filter fields a random filter used, to show that each was exercised.
#[derive(Default, Debug)]
struct Coverage {
    filters: usize,
    nonempty: usize,
    limited: usize,
    /// Per field: (times used, times used with a non-empty answer).
    fields: BTreeMap<&'static str, (usize, usize)>,
}

fn random_filter(rng: &mut Rng, b: &Builder, rows: &[Row]) -> (Filter, Vec<&'static str>) {
    let m = &b.model;
    let mut f = Filter::default();
    let mut used = vec![];
    // Fewer conditions on average keeps many answers non-empty.
    let p = *rng.pick(&[10, 20, 30, 45]);
    if rng.pct(p) {
        f.kind = Some(*rng.pick(&[MessageKind::Command, MessageKind::Event]));
        used.push("messageType");
    }
    if rng.pct(p) {
        let n = 1 + rng.below(3);
        let mut names: Vec<JsonString> = (0..n).map(|_| JsonString::new(rng.pick_str(NAME_POOL))).collect();
        if rng.pct(15) {
            names.push(JsonString::new("NoSuchName"));
        }
        if rng.pct(5) {
            names = vec![JsonString::new("NoSuchName")];
        }
        f.names = Some(names);
        used.push("messageNames");
    }
    if rng.pct(p) {
        // Mostly the streams that get messages; sometimes any (session streams stay
        // empty), sometimes an unknown one. Never "" (the caller drops empty ids).
        let busy: Vec<&ModelStream> =
            m.streams.iter().filter(|s| !s.name.is_empty() && !s.positions.is_empty()).collect();
        let any: Vec<&ModelStream> = m.streams.iter().filter(|s| !s.name.is_empty()).collect();
        let name = match rng.below(10) {
            0 => "no-such-stream".to_owned(),
            1 | 2 if !any.is_empty() => rng.pick(&any).name.clone(),
            _ if !busy.is_empty() => rng.pick(&busy).name.clone(),
            _ => "no-such-stream".to_owned(),
        };
        f.stream = Some(JsonString::new(&name));
        used.push("streamId");
    }
    if rng.pct(p) {
        f.session = Some(match rng.below(10) {
            0 => JsonString::new("session-0-NOSUCHID"),
            1..=3 => JsonString::from_literal(NO_SESSION).unwrap(),
            _ if m.sessions.is_empty() => JsonString::from_literal(NO_SESSION).unwrap(),
            _ => rng.pick(&m.sessions).id.clone(),
        });
        used.push("sessionId");
    }
    if rng.pct(p) {
        f.correlation_id = Some(JsonString::new(match rng.below(10) {
            0 => "no-such-corr",
            1 => "corr-u1",
            _ => rng.pick_str(CORRELATION_POOL),
        }));
        used.push("correlationId");
    }
    if rng.pct(p) {
        f.request_id = Some(JsonString::new(match rng.below(10) {
            0 => "no-such-req",
            1 => "req-u2",
            _ => rng.pick_str(REQUEST_POOL),
        }));
        used.push("requestId");
    }
    let n = rows.len() as i64;
    if rng.pct(p) {
        f.from_position = Some(rng.range(-2, n + 2));
        used.push("fromPosition");
    }
    if rng.pct(p) {
        f.to_position = Some(if rng.pct(5) { i64::MAX } else { rng.range(-2, n + 2) });
        used.push("toPosition");
    }
    let (lo, hi) = (
        rows.iter().map(|r| r.time).min().unwrap_or(1_700_000_000_000),
        rows.iter().map(|r| r.time).max().unwrap_or(1_700_000_000_000),
    );
    // Times near those saved, where an off-by-one or a wrong binary search shows,
    // and often the times on either side of a save that went backwards.
    let backwards: Vec<i64> =
        rows.windows(2).filter(|w| w[1].time < w[0].time).flat_map(|w| [w[0].time, w[1].time]).collect();
    let time = |rng: &mut Rng| {
        if !backwards.is_empty() && rng.pct(30) {
            rng.pick(&backwards) + rng.range(-1, 1)
        } else if rows.is_empty() || rng.pct(40) {
            rng.range(lo - 3, hi + 3)
        } else {
            rng.pick(rows).time + rng.range(-1, 1)
        }
    };
    if rng.pct(p) {
        f.from_time = Some(time(rng));
        used.push("fromTimestamp");
    }
    if rng.pct(p) {
        f.to_time = Some(if rng.pct(5) { i64::MIN } else { time(rng) });
        used.push("toTimestamp");
    }
    if rng.pct(p + 10) {
        f.json = Some(random_conditions(rng, rows));
        used.push("jsonFilter");
    }
    (f, used)
}

fn random_conditions(rng: &mut Rng, rows: &[Row]) -> Vec<JsonCondition> {
    let n = match rng.below(10) {
        0 => 0,
        1..=6 => 1,
        7 | 8 => 2,
        _ => 3,
    };
    // Data of one message, to build conditions that hold for at least it.
    let with_data: Vec<&Value> = rows
        .iter()
        .filter_map(|r| r.message.get("data"))
        .filter(|d| matches!(d, Value::Object(m) if !m.is_empty()) || matches!(d, Value::Array(_)))
        .collect();
    let model = if with_data.is_empty() { None } else { Some(*rng.pick(&with_data)) };
    (0..n)
        .map(|_| match (rng.below(10), model) {
            (0..=5, Some(Value::Object(map))) => {
                let keys: Vec<&String> = map.keys().collect();
                let key = *rng.pick(&keys);
                // serde_json writes object keys sorted: often another order than stored.
                JsonCondition::Equals { key: JsonString::new(key), value: serde_json::to_string(&map[key]).unwrap() }
            }
            (0..=5, Some(Value::Array(items))) => {
                if items.is_empty() || rng.pct(30) {
                    JsonCondition::Equals { key: JsonString::new("length"), value: items.len().to_string() }
                } else {
                    let i = rng.below(items.len());
                    JsonCondition::Equals {
                        key: JsonString::new(&i.to_string()),
                        value: serde_json::to_string(&items[i]).unwrap(),
                    }
                }
            }
            (6, _) => JsonCondition::Absent { key: JsonString::new(rng.pick_str(DATA_KEYS)) },
            _ => JsonCondition::Equals {
                key: JsonString::new(if rng.pct(10) { "missing" } else { rng.pick_str(DATA_KEYS) }),
                value: if rng.pct(70) { random_scalar(rng) } else { random_value(rng, 0) },
            },
        })
        .collect()
}

fn random_limit(rng: &mut Rng, n: usize) -> Option<usize> {
    match rng.below(10) {
        0..=4 => None,
        5..=7 => Some(1 + rng.below(5)),
        _ => Some(1 + rng.below(n + 3)),
    }
}

/// Checks `query` and `read_stream` against the reference at one moment.
fn check_reads(b: &Builder, rng: &mut Rng, filters: usize, cov: &mut Coverage) {
    let (e, seed) = (&b.engine, b.seed);
    let rows = rows(e);
    for i in 0..filters {
        let (filter, used) = random_filter(rng, b, &rows);
        let limit = random_limit(rng, rows.len());
        let want = reference_query(&rows, &filter, limit);
        let got: Vec<u64> = e.query(&filter, limit).iter().map(|&r| r as u64 + 1).collect();
        assert_eq!(
            got,
            want,
            "seed {seed}, filter #{i} (store of {} messages): query({filter:?}, {limit:?})\n  got (left) != reference (right)",
            rows.len()
        );
        cov.filters += 1;
        cov.nonempty += usize::from(!want.is_empty());
        cov.limited += usize::from(limit.is_some_and(|n| n < reference_query(&rows, &filter, None).len()));
        for field in used {
            let c = cov.fields.entry(field).or_default();
            c.0 += 1;
            c.1 += usize::from(!want.is_empty());
        }
    }

    let mut streams: Vec<JsonString> = b.model.streams.iter().map(|s| JsonString::new(&s.name)).collect();
    streams.push(JsonString::new("no-such-stream"));
    for stream in &streams {
        for _ in 0..4 {
            let len = b.model.stream_ix(&decode(stream)).map_or(0, |i| b.model.streams[i].positions.len()) as i64;
            let from = if rng.pct(30) { None } else { Some(rng.range(-2, len + 2)) };
            let limit = random_limit(rng, len as usize);
            let want = reference_read_stream(&rows, stream, from, limit);
            let got: Vec<u64> = e.read_stream(stream, from, limit).iter().map(|&r| r as u64 + 1).collect();
            assert_eq!(got, want, "seed {seed}: read_stream({stream:?}, {from:?}, {limit:?})");
        }
    }
}

fn run(config: Config, cov: &mut Coverage) {
    let mut b = Builder::new(config.seed);
    let mut filter_rng = Rng(config.seed ^ 0xF11_7E55);
    for op in 0..config.ops {
        if config.reset_at == Some(op) {
            check_model(&b);
            check_reads(&b, &mut filter_rng, config.filters / 4, cov);
            b.reset();
            check_model(&b);
            assert_eq!(b.engine.stats().memory_usage, 0, "seed {}: memory after reset", config.seed);
        }
        if config.checkpoints.contains(&op) {
            check_model(&b);
            check_reads(&b, &mut filter_rng, config.filters, cov);
        }
        b.op(config.times, op, config.ops);
    }
    check_model(&b);
    check_reads(&b, &mut filter_rng, config.filters, cov);
}

fn report(name: &str, cov: &Coverage) {
    eprintln!(
        "{name}: {} filters, {} with matches, {} cut by the limit; per field (used, with matches): {:?}",
        cov.filters, cov.nonempty, cov.limited, cov.fields
    );
    assert!(cov.nonempty * 3 >= cov.filters, "{name}: too few filters match anything: {cov:?}");
    assert!(cov.limited * 10 >= cov.filters, "{name}: too few limits cut anything: {cov:?}");
    for field in [
        "messageType",
        "messageNames",
        "streamId",
        "sessionId",
        "correlationId",
        "requestId",
        "fromPosition",
        "toPosition",
        "fromTimestamp",
        "toTimestamp",
        "jsonFilter",
    ] {
        let (used, matched) = cov.fields.get(field).copied().unwrap_or_default();
        assert!(
            used >= 20 && matched >= 5,
            "{name}: field {field} exercised too little: used {used}, matched {matched}"
        );
    }
}

#[test]
fn monotonic_stores_answer_like_the_reference() {
    let mut cov = Coverage::default();
    for seed in [1, 2, 3, 4, 5, 6, 0xDEAD_BEEF, 0x5EED_0000_0000_0001] {
        run(
            Config {
                seed,
                ops: 400,
                times: Times::Monotonic,
                reset_at: None,
                filters: 300,
                checkpoints: vec![40, 200],
            },
            &mut cov,
        );
    }
    report("monotonic", &cov);
}

#[test]
fn stores_with_times_going_backwards_answer_like_the_reference() {
    let mut cov = Coverage::default();
    for seed in [11, 12, 13, 14] {
        run(
            Config { seed, ops: 400, times: Times::Jumpy, reset_at: None, filters: 300, checkpoints: vec![150] },
            &mut cov,
        );
    }
    for (seed, by) in [(21, 150), (22, 1), (23, 2), (24, 1), (25, 30)] {
        run(
            Config {
                seed,
                ops: 400,
                times: Times::OneJumpBack(by),
                reset_at: None,
                filters: 300,
                checkpoints: vec![199, 201],
            },
            &mut cov,
        );
    }
    report("non-monotonic", &cov);
}

#[test]
fn stores_reset_midway_answer_like_the_reference() {
    let mut cov = Coverage::default();
    for (seed, times) in
        [(31, Times::Monotonic), (32, Times::Jumpy), (33, Times::OneJumpBack(40)), (34, Times::OneJumpBack(1))]
    {
        run(Config { seed, ops: 400, times, reset_at: Some(120), filters: 250, checkpoints: vec![250] }, &mut cov);
    }
    report("reset", &cov);
}

#[test]
fn larger_stores_answer_like_the_reference() {
    let mut cov = Coverage::default();
    run(
        Config { seed: 41, ops: 3000, times: Times::Monotonic, reset_at: None, filters: 400, checkpoints: vec![] },
        &mut cov,
    );
    run(
        Config { seed: 42, ops: 3000, times: Times::Jumpy, reset_at: None, filters: 400, checkpoints: vec![] },
        &mut cov,
    );
    run(
        Config {
            seed: 43,
            ops: 3000,
            times: Times::OneJumpBack(1),
            reset_at: None,
            filters: 400,
            checkpoints: vec![1499],
        },
        &mut cov,
    );
    report("larger", &cov);
}

#[test]
fn the_reference_itself_reads_fields_as_the_spec_says() {
    // A few fixed cases, so that a wrong reference cannot agree with a wrong engine.
    let msg: Value =
        serde_json::from_str(r#"{"type":"A","data":{"n":2,"o":{"a":1,"b":[1,2]}},"requestId":5,"correlationId":"c"}"#)
            .unwrap();
    let eq = |k: &str, v: &str| Cond::Equals(k.into(), serde_json::from_str(v).unwrap());
    let absent = |k: &str| Cond::Absent(k.into());
    let one = prepare(&[JsonCondition::Equals { key: JsonString::new("n"), value: "2".into() }]);
    assert!(matches!(&one[..], [Cond::Equals(k, v)] if k == "n" && *v == serde_json::json!(2)));
    assert!(json_filter_holds(&msg, &[eq("n", "2")]));
    assert!(!json_filter_holds(&msg, &[eq("n", "\"2\"")]));
    assert!(json_filter_holds(&msg, &[eq("o", r#"{"b":[1,2],"a":1}"#)]));
    assert!(!json_filter_holds(&msg, &[eq("o", r#"{"b":[2,1],"a":1}"#)]));
    assert!(json_filter_holds(&msg, &[absent("x")]));
    assert!(!json_filter_holds(&msg, &[absent("n")]));
    assert!(json_filter_holds(&msg, &[]));
    let arr: Value = serde_json::from_str(r#"{"type":"A","data":[1,"x"]}"#).unwrap();
    assert!(json_filter_holds(&arr, &[eq("length", "2"), eq("1", "\"x\"")]));
    assert!(!json_filter_holds(&arr, &[eq("01", "\"x\"")]));
    for data in ["null", "\"s\"", "3"] {
        let v: Value = serde_json::from_str(&format!(r#"{{"type":"A","data":{data}}}"#)).unwrap();
        assert!(!json_filter_holds(&v, &[]), "{data}");
    }
    assert!(!json_filter_holds(&serde_json::json!({"type": "A"}), &[]));
    assert!(!id_holds(&msg, "requestId", "5"));
    assert!(id_holds(&msg, "correlationId", "c"));
    assert_eq!(infer_kind("x", &msg, None), MessageKind::Command);
    assert_eq!(infer_kind("my-events", &msg, None), MessageKind::Event);
    assert_eq!(infer_kind("x", &serde_json::json!({"requestId": ""}), None), MessageKind::Event);
    assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(iso(951_868_799_999), "2000-02-29T23:59:59.999Z");
    assert_eq!(last(vec![1, 2, 3], Some(2)), vec![2, 3]);
    assert_eq!(last(vec![1, 2, 3], Some(5)), vec![1, 2, 3]);
}
