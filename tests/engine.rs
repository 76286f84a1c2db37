//! Guards the engine's public API with exact values: saves (positions, revisions,
//! `SaveOutcome`, stored text, message kinds, expected-revision and invalid-message
//! errors that change nothing), stream reads, every `Filter` field of `query`,
//! sessions, stats, `reset`, and the exact JSON that `messages_json` writes.

use message_store::engine::{
    Engine, Expected, Filter, JsonCondition, JsonString, MessageKind, SaveError, SaveOutcome, SessionInfo, Stats,
    StreamInfo, NO_SESSION,
};

/// 2023-11-14T22:13:20.123Z
const T0: i64 = 1_700_000_000_123;
const T0_ISO: &str = "2023-11-14T22:13:20.123Z";

fn s(name: &str) -> JsonString {
    JsonString::new(name)
}

fn no_session() -> JsonString {
    JsonString::from_literal(NO_SESSION).unwrap()
}

/// Record indexes as positions.
fn pos(records: &[u32]) -> Vec<u64> {
    records.iter().map(|&i| i as u64 + 1).collect()
}

fn names(e: &Engine) -> Vec<String> {
    e.stream_names().map(|n| n.literal().to_owned()).collect()
}

fn lits(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| s(n).literal().to_owned()).collect()
}

fn text(e: &Engine, position: u64) -> String {
    e.message(position).unwrap().text.into_owned()
}

fn field(e: &Engine, position: u64, key: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(e.message(position).unwrap().text.as_ref()).unwrap();
    v.get(key).cloned().unwrap_or(serde_json::Value::Null)
}

fn ok(o: Result<SaveOutcome, SaveError>) -> SaveOutcome {
    o.unwrap_or_else(|e| panic!("save refused: {e:?}"))
}

/// Everything observable about a store, to check that a refused save changed nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    stats: Stats,
    streams: Vec<(String, Option<StreamInfo>)>,
    sessions: Vec<SessionInfo>,
    current: Option<JsonString>,
    messages: String,
}

fn snapshot(e: &Engine) -> Snapshot {
    let streams = e.stream_names().map(|n| (n.literal().to_owned(), e.stream_info(n))).collect();
    Snapshot {
        stats: e.stats(),
        streams,
        sessions: e.sessions().cloned().collect(),
        current: e.current_session().cloned(),
        messages: e.messages_json(&e.query(&Filter::default(), None)),
    }
}

// ---------------------------------------------------------------------------
// Saving
// ---------------------------------------------------------------------------

#[test]
fn positions_are_gapless_across_streams_and_revisions_count_per_stream() {
    let mut e = Engine::new();
    assert!(e.is_empty());
    let o = ok(e.save(&s("a"), &[r#"{"type":"A1"}"#, r#"{"type":"A2"}"#], None, None, T0));
    assert_eq!(o, SaveOutcome { revision: 1, first_position: 1, count: 2 });
    let o = ok(e.save(&s("b"), &[r#"{"type":"B1"}"#], None, None, T0 + 1));
    assert_eq!(o, SaveOutcome { revision: 0, first_position: 3, count: 1 });
    let o = ok(e.save_json_array(&s("a"), r#"[{"type":"A3"}, {"type":"A4"}]"#, None, None, T0 + 2));
    assert_eq!(o, SaveOutcome { revision: 3, first_position: 4, count: 2 });
    let o = ok(e.save_json_array(&s("c"), r#" [ {"type":"C1"} ] "#, None, None, T0 + 3));
    assert_eq!(o, SaveOutcome { revision: 0, first_position: 6, count: 1 });

    let expected = [
        ("a", 0, "A1", T0),
        ("a", 1, "A2", T0),
        ("b", 0, "B1", T0 + 1),
        ("a", 2, "A3", T0 + 2),
        ("a", 3, "A4", T0 + 2),
        ("c", 0, "C1", T0 + 3),
    ];
    assert_eq!(e.len(), expected.len());
    assert!(!e.is_empty());
    for (i, (stream, revision, name, time)) in expected.iter().enumerate() {
        let p = i as u64 + 1;
        let m = e.message(p).unwrap();
        assert_eq!(m.stream, &s(stream), "position {p}");
        assert_eq!(m.revision, *revision, "position {p}");
        assert_eq!(m.position, p);
        assert_eq!(m.time, *time, "position {p}");
        assert_eq!(m.session, None);
        assert_eq!(field(&e, p, "type"), serde_json::json!(name));
    }
    assert!(e.message(0).is_none());
    assert!(e.message(7).is_none());
    assert!(e.message(u64::MAX).is_none());

    assert_eq!(names(&e), lits(&["a", "b", "c"]));
    assert_eq!(e.stream_revision(&s("a")), Some(3));
    assert_eq!(e.stream_revision(&s("b")), Some(0));
    assert_eq!(e.stream_revision(&s("zzz")), None);
    assert_eq!(
        e.stream_info(&s("a")),
        Some(StreamInfo {
            revision: 3,
            message_count: 4,
            first_position: 1,
            last_position: 5,
            created_at: T0,
            last_updated: T0 + 2
        })
    );
    assert_eq!(
        e.stream_info(&s("b")),
        Some(StreamInfo {
            revision: 0,
            message_count: 1,
            first_position: 3,
            last_position: 3,
            created_at: T0 + 1,
            last_updated: T0 + 1
        })
    );
    assert_eq!(e.stream_info(&s("zzz")), None);
}

#[test]
fn save_time_is_appended_as_the_last_timestamp_key_when_absent() {
    let mut e = Engine::new();
    ok(e.save(
        &s("s"),
        &[
            r#"{"type":"A","data":{"x":1}}"#,
            r#"{"type":"A"}"#,
            r#"{"type":"A","data":{"timestamp":"nested, not the message's"}}"#,
            r#"{"data":{"b":1,"a":2},"type":"Z","extra":[],"requestId":"r"}"#,
        ],
        None,
        None,
        T0,
    ));
    assert_eq!(text(&e, 1), format!(r#"{{"type":"A","data":{{"x":1}},"timestamp":"{T0_ISO}"}}"#));
    assert_eq!(text(&e, 2), format!(r#"{{"type":"A","timestamp":"{T0_ISO}"}}"#));
    assert_eq!(
        text(&e, 3),
        format!(r#"{{"type":"A","data":{{"timestamp":"nested, not the message's"}},"timestamp":"{T0_ISO}"}}"#)
    );
    assert_eq!(
        text(&e, 4),
        format!(r#"{{"data":{{"b":1,"a":2}},"type":"Z","extra":[],"requestId":"r","timestamp":"{T0_ISO}"}}"#)
    );
    for p in 1..=4 {
        assert_eq!(e.message(p).unwrap().time, T0, "all messages of one call share one save time");
    }
    // Times before 1970 and after 9999 are written as toISOString writes them.
    ok(e.save(&s("s"), &[r#"{"type":"Old"}"#], None, None, -1));
    assert_eq!(text(&e, 5), r#"{"type":"Old","timestamp":"1969-12-31T23:59:59.999Z"}"#);
    ok(e.save(&s("s"), &[r#"{"type":"Far"}"#], None, None, 253_402_300_800_000));
    assert_eq!(text(&e, 6), r#"{"type":"Far","timestamp":"+010000-01-01T00:00:00.000Z"}"#);
}

#[test]
fn text_is_kept_byte_for_byte_when_it_has_a_timestamp() {
    let cases = [
        r#"{"timestamp":"2020-01-01T00:00:00.000Z","type":"A","data":null}"#,
        r#"{"type":"Ünïcode 😀","data":{"s":"a\"b\\c\n\u0001\ud83d\ude00","n":-1.5e-7,"big":1e+21,"arr":[1,[2,{}],null,true,false]},"requestId":"r","timestamp":"1999-12-31T23:59:59.999Z","z":{}}"#,
        r#"{"type":"B","timestamp":"2021-06-01T12:00:00.000Z","data":{"z":1,"a":{"y":[],"b":""}},"correlationId":"c"}"#,
        r#"{"type":"","timestamp":"x"}"#,
    ];
    let mut e = Engine::new();
    ok(e.save(&s("s"), &cases, None, None, T0));
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(text(&e, i as u64 + 1), *case);
    }
    // The same through a JSON array.
    let mut e = Engine::new();
    ok(e.save_json_array(&s("s"), &format!("[{}]", cases.join(",")), None, None, T0));
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(text(&e, i as u64 + 1), *case);
    }
}

fn kind_of_save(stream: &str, message: &str, given: Option<MessageKind>) -> MessageKind {
    let mut e = Engine::new();
    ok(e.save(&s(stream), &[message], None, given, T0));
    let kind = e.message(1).unwrap().kind;
    let st = e.stats();
    let (c, ev) = match kind {
        MessageKind::Command => (1, 0),
        MessageKind::Event => (0, 1),
    };
    assert_eq!((st.total_commands, st.total_events), (c, ev), "stats follow the kind");
    kind
}

#[test]
fn message_kind_is_inferred_by_spec_writing_rule_5() {
    use MessageKind::{Command, Event};
    let plain = r#"{"type":"A"}"#;
    let req = r#"{"type":"A","requestId":"r"}"#;
    let cases: &[(&str, &str, Option<MessageKind>, MessageKind)] = &[
        // The argument wins.
        ("user-commands", plain, Some(Event), Event),
        ("domain-events", req, Some(Command), Command),
        ("orders", plain, Some(Command), Command),
        ("orders", req, Some(Event), Event),
        // Then the stream's name, `command` before `event`, case-sensitive.
        ("user-commands", plain, None, Command),
        ("user-commands", req, None, Command),
        ("domain-events", plain, None, Event),
        ("domain-events", req, None, Event),
        ("event-command", plain, None, Command),
        ("commandevent", req, None, Command),
        ("prevented", req, None, Event),
        ("say \"command\"", plain, None, Command),
        ("tab\tcommand", plain, None, Command),
        ("naïve-évent-event", req, None, Event),
        ("Commands", plain, None, Event),
        ("COMMAND", req, None, Command),
        ("EVENTS", plain, None, Event),
        ("", plain, None, Event),
        // Then a non-empty requestId.
        ("orders", plain, None, Event),
        ("orders", req, None, Command),
        ("orders", r#"{"type":"A","requestId":""}"#, None, Event),
        ("orders", r#"{"type":"A","requestId":null}"#, None, Event),
        ("orders", r#"{"type":"A","requestId":0}"#, None, Command),
        ("orders", r#"{"type":"A","requestId":false}"#, None, Command),
        ("orders", r#"{"type":"A","requestId":{}}"#, None, Command),
        ("orders", r#"{"type":"A","requestId":[]}"#, None, Command),
        ("orders", r#"{"type":"A","requestId":" "}"#, None, Command),
        ("orders", r#"{"type":"A","data":{"requestId":"nested"}}"#, None, Event),
        ("orders", r#"{"type":"A","correlationId":"c"}"#, None, Event),
    ];
    for (stream, message, given, want) in cases {
        assert_eq!(
            kind_of_save(stream, message, *given),
            *want,
            "stream {stream:?}, message {message}, given {given:?}"
        );
    }
}

/// docs/behaviour.md#writing-message-type looks for `command` / `event` in the stream's name, not in
/// its JSON literal: the escape of a control character ends in hex digits, which
/// must not join the letters after it into one of those words.
#[test]
fn message_kind_is_not_fooled_by_the_escapes_of_control_characters() {
    use MessageKind::{Command, Event};
    let plain = r#"{"type":"A"}"#;
    let req = r#"{"type":"A","requestId":"r"}"#;
    let cases: &[(&str, &str, MessageKind)] = &[
        // JSON.stringify writes U+001C as \u001c: the literal reads `\u001command`.
        ("\u{1c}ommand", plain, Event),
        ("orders-\u{1c}ommands", plain, Event),
        // U+000E and U+001E are written \u000e and \u001e: `\u000event`.
        ("\u{e}vent", req, Command),
        ("\u{1e}vents", req, Command),
        // Real words next to control characters still count.
        ("\u{1}command", plain, Command),
        ("\u{1f}event", req, Event),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(stream, message, want)| {
            let got = kind_of_save(stream, message, None);
            (got != *want).then(|| {
                format!(
                    "stream {stream:?} (literal {}), message {message}: want {want:?}, got {got:?}",
                    s(stream).literal()
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "wrong kinds:\n{}", wrong.join("\n"));
}

#[test]
fn expected_revision_is_checked_as_spec_writing_rules_1_to_3_say() {
    let mut e = Engine::new();
    for expected in [0, 5, -2, i64::MAX, i64::MIN] {
        let before = snapshot(&e);
        assert_eq!(
            e.save(&s("orders"), &[r#"{"type":"A"}"#], Some(Expected::Revision(expected)), None, T0),
            Err(SaveError::StreamNotFound { stream: s("orders"), expected })
        );
        assert_eq!(
            e.save(&s("orders"), &[], Some(Expected::Revision(expected)), None, T0),
            Err(SaveError::StreamNotFound { stream: s("orders"), expected }),
            "an empty batch is refused too"
        );
        assert_eq!(snapshot(&e), before, "a refused save changes nothing");
    }
    assert_eq!(e.stream_info(&s("orders")), None);

    assert_eq!(
        e.save(&s("orders"), &[r#"{"type":"A"}"#], Some(Expected::Revision(-1)), None, T0),
        Ok(SaveOutcome { revision: 0, first_position: 1, count: 1 })
    );
    for expected in [-1, 1, 2, -5] {
        let before = snapshot(&e);
        assert_eq!(
            e.save(
                &s("orders"),
                &[r#"{"type":"B"}"#, r#"{"type":"C"}"#],
                Some(Expected::Revision(expected)),
                None,
                T0 + 1
            ),
            Err(SaveError::WrongExpectedRevision { expected, actual: 0 })
        );
        assert_eq!(
            e.save(&s("orders"), &[], Some(Expected::Revision(expected)), None, T0 + 1),
            Err(SaveError::WrongExpectedRevision { expected, actual: 0 })
        );
        assert_eq!(snapshot(&e), before, "a refused save changes nothing");
    }
    assert_eq!(
        e.save(&s("orders"), &[r#"{"type":"B"}"#, r#"{"type":"C"}"#], Some(Expected::Revision(0)), None, T0 + 2),
        Ok(SaveOutcome { revision: 2, first_position: 2, count: 2 })
    );
    assert_eq!(
        e.save(&s("orders"), &[r#"{"type":"D"}"#], Some(Expected::Revision(0)), None, T0 + 3),
        Err(SaveError::WrongExpectedRevision { expected: 0, actual: 2 })
    );
    assert_eq!(
        e.save(&s("orders"), &[r#"{"type":"D"}"#], Some(Expected::Revision(2)), None, T0 + 3),
        Ok(SaveOutcome { revision: 3, first_position: 4, count: 1 })
    );
    // Another stream continues the global positions.
    assert_eq!(
        e.save(&s("other"), &[r#"{"type":"E"}"#], Some(Expected::Revision(-1)), None, T0 + 4),
        Ok(SaveOutcome { revision: 0, first_position: 5, count: 1 })
    );
    // An empty stream is at revision -1.
    ok(e.save(&s("empty"), &[], None, None, T0 + 5));
    assert_eq!(
        e.save(&s("empty"), &[r#"{"type":"F"}"#], Some(Expected::Revision(0)), None, T0 + 6),
        Err(SaveError::WrongExpectedRevision { expected: 0, actual: -1 })
    );
    assert_eq!(
        e.save(&s("empty"), &[r#"{"type":"F"}"#], Some(Expected::Revision(-1)), None, T0 + 6),
        Ok(SaveOutcome { revision: 0, first_position: 6, count: 1 })
    );
    assert_eq!(e.len(), 6);
}

#[test]
fn an_empty_batch_creates_the_stream_and_nothing_else() {
    let mut e = Engine::new();
    assert_eq!(e.save(&s("empty"), &[], None, None, T0), Ok(SaveOutcome { revision: -1, first_position: 1, count: 0 }));
    assert_eq!(
        e.save_json_array(&s("empty2"), " [ ] ", Some(Expected::Revision(-1)), None, T0 + 1),
        Ok(SaveOutcome { revision: -1, first_position: 1, count: 0 })
    );
    assert_eq!(names(&e), lits(&["empty", "empty2"]));
    let info = StreamInfo {
        revision: -1,
        message_count: 0,
        first_position: 0,
        last_position: 0,
        created_at: T0,
        last_updated: T0,
    };
    assert_eq!(e.stream_info(&s("empty")), Some(info));
    assert_eq!(e.stream_revision(&s("empty")), Some(-1));
    assert_eq!(e.read_stream(&s("empty"), None, None), &[] as &[u32]);
    let st = e.stats();
    assert_eq!((st.total_messages, st.total_streams, st.oldest_message, st.newest_message), (0, 2, None, None));
    assert!(e.is_empty());

    // On an existing stream: the revision, positions and last update stay.
    ok(e.save(&s("full"), &[r#"{"type":"A"}"#], None, None, T0 + 2));
    assert_eq!(
        e.save(&s("full"), &[], None, None, T0 + 10),
        Ok(SaveOutcome { revision: 0, first_position: 2, count: 0 })
    );
    assert_eq!(
        e.save(&s("full"), &[], Some(Expected::Revision(0)), None, T0 + 11),
        Ok(SaveOutcome { revision: 0, first_position: 2, count: 0 })
    );
    assert_eq!(
        e.stream_info(&s("full")),
        Some(StreamInfo {
            revision: 0,
            message_count: 1,
            first_position: 1,
            last_position: 1,
            created_at: T0 + 2,
            last_updated: T0 + 2
        })
    );
    let st = e.stats();
    assert_eq!((st.oldest_message, st.newest_message), (Some(T0 + 2), Some(T0 + 2)), "empty batches are no messages");
    assert_eq!(ok(e.save(&s("full"), &[r#"{"type":"B"}"#], None, None, T0 + 12)).first_position, 2);
}

#[test]
fn an_invalid_message_refuses_the_whole_batch_and_changes_nothing() {
    let mut e = Engine::new();
    ok(e.save(&s("a"), &[r#"{"type":"A"}"#, r#"{"type":"B"}"#], None, None, T0));
    let session = e.create_session(T0 + 1);
    ok(e.save(&s("b"), &[r#"{"type":"C","requestId":"r"}"#], None, None, T0 + 2));
    let good = r#"{"type":"G"}"#;
    let bad: &[(&str, &[&str], usize)] = &[
        ("not an object", &[good, good, "[1]"], 2),
        ("a number", &["1", good], 0),
        ("a string", &[good, r#""text""#], 1),
        ("null", &["null"], 0),
        ("no type", &[good, r#"{"data":{"type":"A"}}"#], 1),
        ("non-string type", &[r#"{"type":1}"#], 0),
        ("null type", &[good, good, good, r#"{"type":null}"#], 3),
        ("truncated", &[r#"{"type":"A""#], 0),
        ("garbage after", &[good, r#"{"type":"A"} x"#], 1),
        ("unterminated string", &[r#"{"type":"A}"#], 0),
        ("non-string timestamp", &[good, r#"{"type":"A","timestamp":5}"#], 1),
        ("empty text", &[""], 0),
    ];
    // Expected revisions that hold, so that only the message is wrong.
    for (stream, right) in [("a", 1), ("b", 0), ("fresh", -1), ("session-commands", -1)] {
        for (what, batch, index) in bad {
            for expected in [None, Some(right)] {
                let before = snapshot(&e);
                let result = e.save(&s(stream), batch, expected.map(Expected::Revision), None, T0 + 3);
                assert!(
                    matches!(result, Err(SaveError::InvalidMessage { index: i, .. }) if i == *index),
                    "{what} to {stream}: {result:?}"
                );
                assert_eq!(snapshot(&e), before, "{what} to {stream} changed the store");
            }
        }
    }
    for (batch, index) in [
        (r#"{"type":"A"}"#, 0),
        (r#"[{"type":"A"},"#, 0),
        (r#"[{"type":"A"}, 5]"#, 1),
        (r#"[{"type":"A"},{"type":"B"},{"nope":1}]"#, 2),
        ("", 0),
        (r#"[{"type":"A"}] []"#, 0),
    ] {
        let before = snapshot(&e);
        let result = e.save_json_array(&s("fresh"), batch, None, None, T0 + 3);
        assert!(matches!(result, Err(SaveError::InvalidMessage { index: i, .. }) if i == index), "{batch}: {result:?}");
        assert_eq!(snapshot(&e), before, "{batch} changed the store");
    }
    let session_stream = format!("session-{}", serde_json::from_str::<String>(session.literal()).unwrap());
    assert_eq!(names(&e), lits(&["a", &session_stream, "b"]));
    assert_eq!(e.session_info(&session).unwrap().message_count, 1);
    assert_eq!(
        e.save(&s("a"), &[good], None, None, T0 + 4),
        Ok(SaveOutcome { revision: 2, first_position: 4, count: 1 })
    );
    assert_eq!(
        e.save(&s("fresh"), &[good], None, None, T0 + 4),
        Ok(SaveOutcome { revision: 0, first_position: 5, count: 1 })
    );
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

#[test]
fn read_stream_takes_revisions_from_then_the_last_limit() {
    let mut e = Engine::new();
    // s gets positions 1, 3, 4, 6, 8 (revisions 0..=4).
    ok(e.save(&s("s"), &[r#"{"type":"S0"}"#], None, None, T0));
    ok(e.save(&s("t"), &[r#"{"type":"T0"}"#], None, None, T0));
    ok(e.save(&s("s"), &[r#"{"type":"S1"}"#, r#"{"type":"S2"}"#], None, None, T0));
    ok(e.save(&s("t"), &[r#"{"type":"T1"}"#], None, None, T0));
    ok(e.save(&s("s"), &[r#"{"type":"S3"}"#], None, None, T0));
    ok(e.save(&s("t"), &[r#"{"type":"T2"}"#], None, None, T0));
    ok(e.save(&s("s"), &[r#"{"type":"S4"}"#], None, None, T0));
    ok(e.save(&s("empty"), &[], None, None, T0));
    let r = |from: Option<i64>, limit: Option<usize>| pos(e.read_stream(&s("s"), from, limit));
    assert_eq!(r(None, None), vec![1, 3, 4, 6, 8]);
    assert_eq!(r(Some(0), None), vec![1, 3, 4, 6, 8]);
    assert_eq!(r(Some(-3), None), vec![1, 3, 4, 6, 8]);
    assert_eq!(r(Some(i64::MIN), None), vec![1, 3, 4, 6, 8]);
    assert_eq!(r(Some(2), None), vec![4, 6, 8]);
    assert_eq!(r(Some(4), None), vec![8]);
    assert_eq!(r(Some(5), None), Vec::<u64>::new());
    assert_eq!(r(Some(i64::MAX), None), Vec::<u64>::new());
    assert_eq!(r(None, Some(2)), vec![6, 8]);
    assert_eq!(r(None, Some(1)), vec![8]);
    assert_eq!(r(None, Some(5)), vec![1, 3, 4, 6, 8]);
    assert_eq!(r(None, Some(50)), vec![1, 3, 4, 6, 8]);
    assert_eq!(r(Some(1), Some(2)), vec![6, 8]);
    assert_eq!(r(Some(3), Some(5)), vec![6, 8]);
    assert_eq!(r(Some(1), Some(4)), vec![3, 4, 6, 8]);
    assert_eq!(pos(e.read_stream(&s("t"), Some(1), None)), vec![5, 7]);
    for (i, p) in r(None, None).into_iter().enumerate() {
        assert_eq!(e.message(p).unwrap().revision, i as i64);
    }
    assert!(e.read_stream(&s("unknown"), None, None).is_empty());
    assert!(e.read_stream(&s("unknown"), Some(0), Some(3)).is_empty());
    assert!(e.read_stream(&s("empty"), None, Some(3)).is_empty());
}

/// A small store with something for every filter field.
///
/// | pos | stream        | type        | requestId | correlationId | data                                   | time | session |
/// |-----|---------------|-------------|-----------|---------------|----------------------------------------|------|---------|
/// | 1   | user-commands | CreateUser  | "req-1"   | "corr-1"      | {"orderId":"o1","n":1}                 | 1000 | none    |
/// | 2   | user-events   | UserCreated |           | "corr-1"      | {"orderId":"o1","nested":{"a":[1,2]}}  | 1000 | none    |
/// | 3   | orders        | PlaceOrder  | "req-2"   |               | {"orderId":"o2","n":2}                 | 2000 | S1      |
/// | 4   | orders        | OrderPlaced |           | "corr-2"      | {"n":"2","orderId":"o2"}               | 2000 | S1      |
/// | 5   | orders        | Ping        |           |               | (absent)                               | 3000 | S1      |
/// | 6   | misc          | Ping        | 7         | 8             | [1,2]                                  | 4000 | none    |
/// | 7   | misc          | Note        | ""        | ""            | "text"                                 | 5000 | none    |
/// | 8   | misc          | Note        | null      | null          | null                                   | 5000 | S2      |
fn filter_store() -> (Engine, JsonString, JsonString) {
    let mut e = Engine::new();
    ok(e.save(
        &s("user-commands"),
        &[r#"{"type":"CreateUser","data":{"orderId":"o1","n":1},"requestId":"req-1","correlationId":"corr-1"}"#],
        None,
        None,
        1000,
    ));
    ok(e.save(
        &s("user-events"),
        &[r#"{"type":"UserCreated","data":{"orderId":"o1","nested":{"a":[1,2]}},"correlationId":"corr-1"}"#],
        None,
        None,
        1000,
    ));
    let s1 = e.create_session(1500);
    ok(e.save(
        &s("orders"),
        &[
            r#"{"type":"PlaceOrder","data":{"orderId":"o2","n":2},"requestId":"req-2"}"#,
            r#"{"type":"OrderPlaced","data":{"n":"2","orderId":"o2"},"correlationId":"corr-2"}"#,
        ],
        None,
        None,
        2000,
    ));
    ok(e.save(&s("orders"), &[r#"{"type":"Ping"}"#], None, None, 3000));
    e.end_session(&s1, 3500);
    ok(e.save(&s("misc"), &[r#"{"type":"Ping","data":[1,2],"requestId":7,"correlationId":8}"#], None, None, 4000));
    ok(e.save(&s("misc"), &[r#"{"type":"Note","data":"text","requestId":"","correlationId":""}"#], None, None, 5000));
    let s2 = e.create_session(5000);
    ok(e.save(&s("misc"), &[r#"{"type":"Note","data":null,"requestId":null,"correlationId":null}"#], None, None, 5000));
    (e, s1, s2)
}

fn eq(key: &str, value: &str) -> JsonCondition {
    JsonCondition::Equals { key: s(key), value: value.to_owned() }
}

fn absent(key: &str) -> JsonCondition {
    JsonCondition::Absent { key: s(key) }
}

#[test]
fn query_honours_every_filter_field() {
    let (e, s1, s2) = filter_store();
    let q = |f: Filter| pos(&e.query(&f, None));
    let none: Vec<u64> = vec![];

    assert_eq!(q(Filter::default()), vec![1, 2, 3, 4, 5, 6, 7, 8]);

    // messageType
    assert_eq!(q(Filter { kind: Some(MessageKind::Command), ..Filter::default() }), vec![1, 3, 6]);
    assert_eq!(q(Filter { kind: Some(MessageKind::Event), ..Filter::default() }), vec![2, 4, 5, 7, 8]);

    // messageNames
    let names = |list: &[&str]| Filter { names: Some(list.iter().map(|n| s(n)).collect()), ..Filter::default() };
    assert_eq!(q(names(&["CreateUser", "OrderPlaced"])), vec![1, 4]);
    assert_eq!(q(names(&["Ping", "Unknown"])), vec![5, 6]);
    assert_eq!(q(names(&["Ping", "Ping", "Note"])), vec![5, 6, 7, 8]);
    assert_eq!(q(names(&["Unknown"])), none);
    assert_eq!(q(names(&["ping"])), none);

    // streamId
    let stream = |n: &str| Filter { stream: Some(s(n)), ..Filter::default() };
    assert_eq!(q(stream("orders")), vec![3, 4, 5]);
    assert_eq!(q(stream("misc")), vec![6, 7, 8]);
    assert_eq!(q(stream("unknown")), none);
    let session_stream = format!("session-{}", serde_json::from_str::<String>(s1.literal()).unwrap());
    assert_eq!(q(stream(&session_stream)), none, "the session stream stays empty");

    // sessionId
    let session = |id: JsonString| Filter { session: Some(id), ..Filter::default() };
    assert_eq!(q(session(s1.clone())), vec![3, 4, 5]);
    assert_eq!(q(session(s2.clone())), vec![8]);
    assert_eq!(q(session(no_session())), vec![1, 2, 6, 7]);
    assert_eq!(q(session(s("session-0-AAAAAAAA"))), none);
    assert_eq!(q(session(s("no-session "))), none);

    // correlationId and requestId compare with the message's own field, as strings.
    let corr = |id: &str| Filter { correlation_id: Some(s(id)), ..Filter::default() };
    let req = |id: &str| Filter { request_id: Some(s(id)), ..Filter::default() };
    assert_eq!(q(corr("corr-1")), vec![1, 2]);
    assert_eq!(q(corr("corr-2")), vec![4]);
    assert_eq!(q(corr("8")), none, "8 is a number, not the string '8'");
    assert_eq!(q(corr("null")), none);
    assert_eq!(q(corr("unknown")), none);
    assert_eq!(q(req("req-1")), vec![1]);
    assert_eq!(q(req("req-2")), vec![3]);
    assert_eq!(q(req("7")), none);
    assert_eq!(q(req("corr-1")), none);

    // fromPosition / toPosition, inclusive.
    let range =
        |from: Option<i64>, to: Option<i64>| Filter { from_position: from, to_position: to, ..Filter::default() };
    assert_eq!(q(range(Some(3), None)), vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(q(range(None, Some(2))), vec![1, 2]);
    assert_eq!(q(range(Some(2), Some(4))), vec![2, 3, 4]);
    assert_eq!(q(range(Some(4), Some(4))), vec![4]);
    assert_eq!(q(range(Some(0), None)), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(q(range(Some(-5), Some(1))), vec![1]);
    assert_eq!(q(range(Some(i64::MIN), Some(i64::MAX))), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(q(range(None, Some(0))), none);
    assert_eq!(q(range(None, Some(-1))), none);
    assert_eq!(q(range(Some(9), None)), none);
    assert_eq!(q(range(Some(8), None)), vec![8]);
    assert_eq!(q(range(Some(5), Some(3))), none);

    // fromTimestamp / toTimestamp, inclusive, on the save time.
    let time = |from: Option<i64>, to: Option<i64>| Filter { from_time: from, to_time: to, ..Filter::default() };
    assert_eq!(q(time(Some(2000), None)), vec![3, 4, 5, 6, 7, 8]);
    assert_eq!(q(time(None, Some(2000))), vec![1, 2, 3, 4]);
    assert_eq!(q(time(Some(2000), Some(3000))), vec![3, 4, 5]);
    assert_eq!(q(time(Some(2001), Some(2999))), none);
    assert_eq!(q(time(Some(5000), Some(5000))), vec![7, 8]);
    assert_eq!(q(time(Some(5001), None)), none);
    assert_eq!(q(time(None, Some(999))), none);
    assert_eq!(q(time(Some(3000), Some(2000))), none);
    assert_eq!(q(time(Some(i64::MIN), Some(i64::MAX))), vec![1, 2, 3, 4, 5, 6, 7, 8]);

    // jsonFilter
    let json = |conds: Vec<JsonCondition>| Filter { json: Some(conds), ..Filter::default() };
    assert_eq!(q(json(vec![eq("orderId", r#""o1""#)])), vec![1, 2]);
    assert_eq!(q(json(vec![eq("orderId", r#""o2""#), eq("n", "2")])), vec![3]);
    assert_eq!(q(json(vec![eq("n", "2")])), vec![3], "2 is not '2'");
    assert_eq!(q(json(vec![eq("n", r#""2""#)])), vec![4]);
    assert_eq!(q(json(vec![eq("nested", r#"{"a":[1,2]}"#)])), vec![2], "objects compare deeply (improved)");
    assert_eq!(q(json(vec![eq("nested", r#"{"a":[2,1]}"#)])), none);
    assert_eq!(q(json(vec![eq("nested", r#"{"a":[1,2],"b":null}"#)])), none);
    assert_eq!(q(json(vec![eq("missing", "null")])), none);
    assert_eq!(q(json(vec![])), vec![1, 2, 3, 4, 6], "an empty jsonFilter needs data to be an object");
    assert_eq!(q(json(vec![absent("n")])), vec![2, 6]);
    assert_eq!(q(json(vec![absent("orderId"), absent("n")])), vec![6]);
    // Arrays are objects with indexes and a length.
    assert_eq!(q(json(vec![eq("0", "1")])), vec![6]);
    assert_eq!(q(json(vec![eq("1", "2"), eq("length", "2")])), vec![6]);
    assert_eq!(q(json(vec![eq("01", "2")])), none);
    assert_eq!(q(json(vec![eq("2", "null")])), none);

    // Combinations: all must hold.
    assert_eq!(q(Filter { kind: Some(MessageKind::Command), stream: Some(s("orders")), ..Filter::default() }), vec![3]);
    assert_eq!(q(Filter { session: Some(s1.clone()), names: Some(vec![s("Ping")]), ..Filter::default() }), vec![5]);
    assert_eq!(
        q(Filter { correlation_id: Some(s("corr-1")), kind: Some(MessageKind::Event), ..Filter::default() }),
        vec![2]
    );
    assert_eq!(
        q(Filter { from_position: Some(2), json: Some(vec![eq("orderId", r#""o2""#)]), ..Filter::default() }),
        vec![3, 4]
    );
    assert_eq!(
        q(Filter {
            session: Some(no_session()),
            names: Some(vec![s("Ping"), s("Note"), s("CreateUser")]),
            to_time: Some(4000),
            ..Filter::default()
        }),
        vec![1, 6]
    );
    assert_eq!(q(Filter { stream: Some(s("orders")), request_id: Some(s("req-1")), ..Filter::default() }), none);
    assert_eq!(
        q(Filter {
            kind: Some(MessageKind::Command),
            names: Some(vec![s("PlaceOrder"), s("CreateUser")]),
            stream: Some(s("orders")),
            session: Some(s1.clone()),
            correlation_id: None,
            request_id: Some(s("req-2")),
            from_position: Some(3),
            to_position: Some(3),
            from_time: Some(2000),
            to_time: Some(2000),
            json: Some(vec![eq("orderId", r#""o2""#), eq("n", "2"), absent("nested")]),
        }),
        vec![3]
    );
}

#[test]
fn query_limit_keeps_the_last_matches() {
    let (e, s1, _) = filter_store();
    let q = |f: Filter, limit: usize| pos(&e.query(&f, Some(limit)));
    assert_eq!(q(Filter::default(), 2), vec![7, 8]);
    assert_eq!(q(Filter::default(), 1), vec![8]);
    assert_eq!(q(Filter::default(), 8), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(q(Filter::default(), 100), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(q(Filter { kind: Some(MessageKind::Event), ..Filter::default() }, 3), vec![5, 7, 8]);
    assert_eq!(
        q(Filter { names: Some(vec![s("CreateUser"), s("OrderPlaced"), s("Ping")]), ..Filter::default() }, 2),
        vec![5, 6]
    );
    assert_eq!(
        q(Filter { names: Some(vec![s("CreateUser"), s("OrderPlaced"), s("Ping")]), ..Filter::default() }, 3),
        vec![4, 5, 6]
    );
    assert_eq!(q(Filter { session: Some(s1), ..Filter::default() }, 2), vec![4, 5]);
    assert_eq!(q(Filter { to_position: Some(5), json: Some(vec![]), ..Filter::default() }, 2), vec![3, 4]);
    assert_eq!(q(Filter { to_time: Some(2000), ..Filter::default() }, 3), vec![2, 3, 4]);
}

/// A limit of 0 must mean the same in both reads (docs/behaviour.md#reading-count: a count that is not greater
/// than 0 is ignored; the doc comments say "only the last `limit`", which would be
/// none). Either way, `query` and `read_stream` must agree.
#[test]
fn a_zero_limit_means_the_same_in_query_and_read_stream() {
    let (e, _, _) = filter_store();
    let stream = pos(e.read_stream(&s("orders"), None, Some(0)));
    let query = pos(&e.query(&Filter { stream: Some(s("orders")), ..Filter::default() }, Some(0)));
    assert_eq!(query, stream, "query(streamId orders, Some(0)) vs read_stream(orders, None, Some(0))");
    let all = pos(&e.query(&Filter::default(), Some(0)));
    assert!(all.is_empty() || all.len() == 8, "query(default, Some(0)) gave {all:?}");
}

#[test]
fn time_filters_hold_when_save_times_go_backwards() {
    let mut e = Engine::new();
    for (t, name) in [(300, "A"), (100, "B"), (200, "C"), (100, "D"), (400, "E")] {
        ok(e.save(&s("s"), &[&format!(r#"{{"type":"{name}"}}"#)], None, None, t));
    }
    let q = |from: Option<i64>, to: Option<i64>| {
        pos(&e.query(&Filter { from_time: from, to_time: to, ..Filter::default() }, None))
    };
    assert_eq!(q(Some(150), None), vec![1, 3, 5]);
    assert_eq!(q(None, Some(200)), vec![2, 3, 4]);
    assert_eq!(q(Some(100), Some(100)), vec![2, 4]);
    assert_eq!(q(Some(200), Some(300)), vec![1, 3]);
    assert_eq!(q(Some(401), None), Vec::<u64>::new());
    assert_eq!(pos(&e.query(&Filter { from_time: Some(150), ..Filter::default() }, Some(2))), vec![3, 5]);
    let st = e.stats();
    assert_eq!((st.oldest_message, st.newest_message), (Some(100), Some(400)));
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

fn unquote(id: &JsonString) -> String {
    serde_json::from_str(id.literal()).unwrap()
}

#[test]
fn sessions_stamp_messages_count_them_and_have_a_stream() {
    let mut e = Engine::new();
    assert_eq!(e.current_session(), None);
    ok(e.save(&s("before"), &[r#"{"type":"A"}"#], None, None, T0));
    assert_eq!(e.message(1).unwrap().session, None);

    let id = e.create_session(T0 + 10);
    let raw = unquote(&id);
    let prefix = format!("session-{}-", T0 + 10);
    assert!(raw.starts_with(&prefix), "{raw}");
    let suffix = &raw[prefix.len()..];
    assert_eq!(suffix.len(), 8, "{raw}");
    assert!(suffix.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'), "{raw}");
    assert_eq!(e.current_session(), Some(&id));
    assert_eq!(
        e.session_info(&id),
        Some(&SessionInfo {
            session_id: id.clone(),
            started_at: T0 + 10,
            message_count: 0,
            command_count: 0,
            event_count: 0,
            last_activity: T0 + 10
        })
    );
    let session_stream = s(&format!("session-{raw}"));
    assert_eq!(names(&e), vec![s("before").literal().to_owned(), session_stream.literal().to_owned()]);
    assert_eq!(
        e.stream_info(&session_stream),
        Some(StreamInfo {
            revision: -1,
            message_count: 0,
            first_position: 0,
            last_position: 0,
            created_at: T0 + 10,
            last_updated: T0 + 10
        })
    );
    assert_eq!(e.stats().total_streams, 2);
    assert_eq!(e.stats().total_sessions, 1);

    ok(e.save(
        &s("orders"),
        &[r#"{"type":"C","requestId":"r"}"#, r#"{"type":"E"}"#, r#"{"type":"E2"}"#],
        None,
        None,
        T0 + 20,
    ));
    ok(e.save(&s("x-commands"), &[r#"{"type":"C2"}"#], None, None, T0 + 30));
    ok(e.save(&s("x-commands"), &[], None, None, T0 + 40));
    for p in 2..=5 {
        assert_eq!(e.message(p).unwrap().session, Some(&id), "position {p}");
    }
    assert_eq!(
        e.session_info(&id),
        Some(&SessionInfo {
            session_id: id.clone(),
            started_at: T0 + 10,
            message_count: 4,
            command_count: 2,
            event_count: 2,
            last_activity: T0 + 30
        })
    );
    // The session stream stays empty; the messages are found by session id.
    assert_eq!(e.stream_info(&session_stream).unwrap().message_count, 0);
    assert_eq!(pos(&e.query(&Filter { session: Some(id.clone()), ..Filter::default() }, None)), vec![2, 3, 4, 5]);

    // A second session replaces the first as current.
    let id2 = e.create_session(T0 + 50);
    assert_ne!(id2, id);
    assert_eq!(e.current_session(), Some(&id2));
    ok(e.save(&s("orders"), &[r#"{"type":"E3"}"#], None, None, T0 + 60));
    assert_eq!(e.message(6).unwrap().session, Some(&id2));
    assert_eq!(e.session_info(&id).unwrap().message_count, 4);
    assert_eq!(e.session_info(&id2).unwrap().event_count, 1);

    // Ending a session that is not current touches it and leaves the current one.
    e.end_session(&id, T0 + 70);
    assert_eq!(e.session_info(&id).unwrap().last_activity, T0 + 70);
    assert_eq!(e.current_session(), Some(&id2));
    // An unknown id is not an error and changes nothing.
    let before = snapshot(&e);
    e.end_session(&s("session-1-unknown!"), T0 + 80);
    e.end_session(&no_session(), T0 + 80);
    assert_eq!(snapshot(&e), before);
    // Ending the current one clears it: later messages are "no-session".
    e.end_session(&id2, T0 + 90);
    assert_eq!(e.current_session(), None);
    assert_eq!(
        e.session_info(&id2),
        Some(&SessionInfo {
            session_id: id2.clone(),
            started_at: T0 + 50,
            message_count: 1,
            command_count: 0,
            event_count: 1,
            last_activity: T0 + 90
        })
    );
    ok(e.save(&s("orders"), &[r#"{"type":"E4"}"#], None, None, T0 + 100));
    assert_eq!(e.message(7).unwrap().session, None);
    assert_eq!(e.session_info(&id2).unwrap().last_activity, T0 + 90);
    assert!(e.messages_json(&[6]).ends_with(r#","sessionId":"no-session"}]"#));

    let sessions: Vec<&JsonString> = e.sessions().map(|i| &i.session_id).collect();
    assert_eq!(sessions, vec![&id, &id2], "creation order");
    assert_eq!(e.session_info(&s("session-1-unknown!")), None);
    assert_eq!(pos(&e.query(&Filter { session: Some(no_session()), ..Filter::default() }, None)), vec![1, 7]);
    let st = e.stats();
    assert_eq!((st.total_sessions, st.total_streams, st.total_messages), (2, 5, 7));
    assert_eq!(NO_SESSION, "\"no-session\"");
}

#[test]
fn a_refused_save_in_a_session_moves_no_counter() {
    let mut e = Engine::new();
    let id = e.create_session(T0);
    ok(e.save(&s("s"), &[r#"{"type":"A"}"#], None, None, T0 + 1));
    let before = snapshot(&e);
    assert!(e.save(&s("s"), &[r#"{"type":"A"}"#], Some(Expected::Revision(5)), None, T0 + 2).is_err());
    assert!(e.save(&s("s"), &[r#"{"type":"A"}"#, "{}"], None, None, T0 + 2).is_err());
    assert!(e.save(&s("t"), &[r#"{"type":"A"}"#], Some(Expected::Revision(0)), None, T0 + 2).is_err());
    assert_eq!(snapshot(&e), before);
    assert_eq!(e.session_info(&id).unwrap().last_activity, T0 + 1);
}

// ---------------------------------------------------------------------------
// Stats and reset
// ---------------------------------------------------------------------------

#[test]
fn stats_count_everything_and_memory_follows_what_is_held() {
    let mut e = Engine::new();
    assert_eq!(
        e.stats(),
        Stats {
            total_messages: 0,
            total_commands: 0,
            total_events: 0,
            total_streams: 0,
            total_sessions: 0,
            memory_usage: 0,
            oldest_message: None,
            newest_message: None
        }
    );
    ok(e.save(&s("a-commands"), &[r#"{"type":"A"}"#, r#"{"type":"B"}"#], None, None, 500));
    let first = e.stats();
    assert!(first.memory_usage > 0);
    ok(e.save(&s("b"), &[r#"{"type":"C","requestId":"r"}"#], None, None, 200));
    ok(e.save(&s("b"), &[r#"{"type":"D"}"#], None, Some(MessageKind::Command), 900));
    ok(e.save(&s("c-events"), &[r#"{"type":"E","requestId":"r"}"#], None, None, 700));
    e.create_session(1000);
    ok(e.save(&s("empty"), &[], None, None, 50));
    let st = e.stats();
    assert_eq!(
        (
            st.total_messages,
            st.total_commands,
            st.total_events,
            st.total_streams,
            st.total_sessions,
            st.oldest_message,
            st.newest_message
        ),
        (5, 4, 1, 5, 1, Some(200), Some(900))
    );
    assert!(st.memory_usage >= first.memory_usage);

    // Memory holds at least the stored text and grows with it.
    let mut last = e.stats().memory_usage;
    for i in 0..2000u64 {
        let msg = format!(
            r#"{{"type":"Bulk","data":{{"i":{i},"pad":"{}"}},"correlationId":"c{}","requestId":"r{i}"}}"#,
            "x".repeat((i % 50) as usize),
            i % 7
        );
        ok(e.save(&s(&format!("bulk-{}", i % 13)), &[&msg], None, None, 1000 + i as i64));
        let now = e.stats().memory_usage;
        assert!(now >= last, "memory went down after save {i}: {last} -> {now}");
        last = now;
    }
    let text: u64 = (1..=e.len() as u64).map(|p| e.message(p).unwrap().text.len() as u64).sum();
    let st = e.stats();
    assert_eq!(st.total_messages, 2005);
    assert!(st.memory_usage >= text, "memory {} < stored text {text}", st.memory_usage);
    assert!(st.memory_usage > first.memory_usage * 100, "memory {} should grow with 2000 messages", st.memory_usage);
    // Not a wild guess either: well under 1 KiB per ~150-byte message.
    assert!(st.memory_usage < 1024 * 2005, "memory {} for 2005 small messages", st.memory_usage);
}

#[test]
fn reset_empties_everything_and_positions_restart_at_1() {
    let mut e = Engine::new();
    ok(e.save(&s("a"), &[r#"{"type":"A","correlationId":"c","requestId":"r"}"#, r#"{"type":"B"}"#], None, None, 100));
    let id = e.create_session(150);
    ok(e.save(&s("b"), &[r#"{"type":"C"}"#], None, None, 200));
    e.reset();
    assert_eq!(
        e.stats(),
        Stats {
            total_messages: 0,
            total_commands: 0,
            total_events: 0,
            total_streams: 0,
            total_sessions: 0,
            memory_usage: 0,
            oldest_message: None,
            newest_message: None
        }
    );
    assert!(e.is_empty());
    assert_eq!(e.len(), 0);
    assert_eq!(e.stream_names().count(), 0);
    assert_eq!(e.sessions().count(), 0);
    assert_eq!(e.current_session(), None);
    assert_eq!(e.session_info(&id), None);
    assert_eq!(e.stream_info(&s("a")), None);
    assert!(e.message(1).is_none());
    assert!(e.query(&Filter::default(), None).is_empty());
    assert!(e.query(&Filter { correlation_id: Some(s("c")), ..Filter::default() }, None).is_empty());
    assert!(e.query(&Filter { request_id: Some(s("r")), ..Filter::default() }, None).is_empty());
    assert!(e.query(&Filter { names: Some(vec![s("A")]), ..Filter::default() }, None).is_empty());
    assert!(e.read_stream(&s("a"), None, None).is_empty());
    assert_eq!(e.messages_json(&[]), "[]");

    // The same stream starts over: revision 0 at position 1, outside any session.
    assert_eq!(
        e.save(&s("b"), &[r#"{"type":"D"}"#], Some(Expected::Revision(-1)), None, 50),
        Ok(SaveOutcome { revision: 0, first_position: 1, count: 1 })
    );
    let m = e.message(1).unwrap();
    assert_eq!((m.revision, m.position, m.session, m.time), (0, 1, None, 50));
    assert_eq!(pos(&e.query(&Filter { from_time: Some(50), to_time: Some(50), ..Filter::default() }, None)), vec![1]);
    assert_eq!(e.stats().oldest_message, Some(50));
    assert!(e.stats().memory_usage > 0);
    e.reset();
    assert_eq!(e.stats().memory_usage, 0);
    e.reset();
    assert_eq!(e.stats().memory_usage, 0);
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

#[test]
fn messages_json_writes_positional_messages_exactly() {
    let mut e = Engine::new();
    ok(e.save(
        &s("user-commands"),
        &[r#"{"type":"CreateUser","data":{"name":"Alice"},"requestId":"req-123"}"#],
        None,
        None,
        T0,
    ));
    let id = e.create_session(T0 + 1);
    ok(e.save(
        &s("weird \"name\"\n😀"),
        &[r#"{"type":"E","timestamp":"2020-01-01T00:00:00.000Z"}"#, r#"{"type":"F","data":null}"#],
        None,
        None,
        0,
    ));
    assert_eq!(e.messages_json(&[]), "[]");
    let m1 = format!(
        r#"{{"streamId":"user-commands","message":{{"type":"CreateUser","data":{{"name":"Alice"}},"requestId":"req-123","timestamp":"{T0_ISO}"}},"messageType":"command","revision":"0","position":"1","timestamp":"{T0_ISO}","sessionId":"no-session"}}"#
    );
    let m2 = format!(
        r#"{{"streamId":"weird \"name\"\n😀","message":{{"type":"E","timestamp":"2020-01-01T00:00:00.000Z"}},"messageType":"event","revision":"0","position":"2","timestamp":"1970-01-01T00:00:00.000Z","sessionId":{}}}"#,
        id.literal()
    );
    let m3 = format!(
        r#"{{"streamId":"weird \"name\"\n😀","message":{{"type":"F","data":null,"timestamp":"1970-01-01T00:00:00.000Z"}},"messageType":"event","revision":"1","position":"3","timestamp":"1970-01-01T00:00:00.000Z","sessionId":{}}}"#,
        id.literal()
    );
    assert_eq!(e.messages_json(&[0]), format!("[{m1}]"));
    assert_eq!(e.messages_json(&e.query(&Filter::default(), None)), format!("[{m1},{m2},{m3}]"));
    assert_eq!(e.messages_json(e.read_stream(&s("weird \"name\"\n😀"), None, None)), format!("[{m2},{m3}]"));
    assert_eq!(e.messages_json(&[2, 0]), format!("[{m3},{m1}]"), "records in the order given");
    let parsed: serde_json::Value = serde_json::from_str(&e.messages_json(&[0, 1, 2])).unwrap();
    assert_eq!(parsed[1]["streamId"], serde_json::json!("weird \"name\"\n😀"));
    let mut out = String::from("prefix:");
    e.write_messages(&[0], &mut out);
    assert_eq!(out, format!("prefix:[{m1}]"));
}

#[test]
fn messages_json_writes_big_revisions_and_positions_as_decimal_strings() {
    let mut e = Engine::new();
    let batch: Vec<String> = (0..1234).map(|i| format!(r#"{{"type":"T{i}"}}"#)).collect();
    let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
    ok(e.save(&s("s"), &refs[..1000], None, None, T0));
    ok(e.save(&s("t"), &refs[1000..], None, None, T0));
    let json = e.messages_json(&[999, 1233]);
    assert!(json.contains(r#""messageType":"event","revision":"999","position":"1000","#), "{json}");
    assert!(json.contains(r#""revision":"233","position":"1234","#), "{json}");
}

/// The log a journal reads to write only the sessions whose `lastActivity` changed.
#[test]
fn touched_since_names_every_session_touched_after_the_mark_folded_or_not() {
    let mut e = Engine::new();
    let a = e.create_session(T0);
    let start = e.touch_mark();
    assert_eq!(e.touched_since(start).count(), 0);
    ok(e.save(&s("x"), &[r#"{"type":"A"}"#], None, None, T0 + 1)); // in a (session 0)
    let mark = e.touch_mark();
    assert_eq!(e.touched_since(start).collect::<Vec<_>>(), [0]);
    assert_eq!(e.touched_since(mark).count(), 0);
    // The same session again: folded into the entry before the mark, still reported.
    ok(e.save(&s("x"), &[r#"{"type":"B"}"#], None, None, T0 + 2));
    e.end_session(&a, T0 + 3);
    assert_eq!(e.touched_since(mark).collect::<Vec<_>>(), [0]);
    let b = e.create_session(T0 + 4);
    let mark = e.touch_mark();
    ok(e.save(&s("x"), &[r#"{"type":"C"}"#], None, None, T0 + 5)); // in b (session 1)
    e.end_session(&a, T0 + 6);
    e.end_session(&b, T0 + 7);
    assert_eq!(e.touched_since(mark).collect::<Vec<_>>(), [0, 1, 0, 1]);
    // Saves outside sessions and unknown ids touch nothing.
    let mark = e.touch_mark();
    ok(e.save(&s("x"), &[r#"{"type":"D"}"#], None, None, T0 + 8));
    e.end_session(&s("nobody"), T0 + 9);
    assert_eq!(e.touched_since(mark).count(), 0);
    assert_eq!(e.touch_mark(), mark);
}

#[test]
fn expected_revision_modes_refuse_with_their_own_errors_and_change_nothing() {
    let mut e = Engine::new();
    let exists = Some(Expected::StreamExists);
    let none = Some(Expected::NoStream);
    assert_eq!(e.save(&s("a"), &[r#"{"type":"A"}"#], exists, None, T0), Err(SaveError::NoMessages { stream: s("a") }));
    assert_eq!(e.save(&s("a"), &[], none, None, T0).unwrap().revision, -1);
    // An empty stream exists but has no messages: 'no_stream' still passes, 'stream_exists' does not.
    assert_eq!(e.save(&s("a"), &[r#"{"type":"A"}"#], exists, None, T0), Err(SaveError::NoMessages { stream: s("a") }));
    assert_eq!(e.save(&s("a"), &[r#"{"type":"A"}"#], none, None, T0).unwrap().revision, 0);
    assert_eq!(
        e.save(&s("a"), &[r#"{"type":"B"}"#], none, None, T0),
        Err(SaveError::StreamExists { stream: s("a"), actual: 0 })
    );
    assert_eq!(e.save(&s("a"), &[r#"{"type":"B"}"#], exists, None, T0).unwrap().revision, 1);
    assert_eq!(e.len(), 2);
    assert_eq!(
        SaveError::StreamExists { stream: s("a"), actual: 1 }.to_string(),
        "Expected stream a not to exist, but it is at revision 1"
    );
    assert_eq!(
        SaveError::NoMessages { stream: s("a") }.to_string(),
        "Expected stream a to exist, but it has no messages"
    );
    assert_eq!(Expected::from_code(-2), Some(Expected::NoStream));
    assert_eq!(Expected::from_code(-3), Some(Expected::StreamExists));
    assert_eq!(Expected::from_code(-1), Some(Expected::Revision(-1)));
    assert_eq!(Expected::from_code(-4), None);
    for code in [-3, -2, -1, 0, 7] {
        assert_eq!(Expected::from_code(code).unwrap().code(), code);
    }
}

#[test]
fn follow_pages_forward_from_a_position_up_to_a_head() {
    let mut e = Engine::new();
    for i in 0..10 {
        let stream = if i % 3 == 0 { "x" } else { "y" };
        e.save(&s(stream), &[r#"{"type":"A"}"#], None, None, T0 + i).unwrap();
    }
    let all = Filter::default();
    assert_eq!(e.follow(&all, 0, 10, 4), (vec![0, 1, 2, 3], 4));
    assert_eq!(e.follow(&all, 4, 10, 4), (vec![4, 5, 6, 7], 8));
    assert_eq!(e.follow(&all, 8, 10, 4), (vec![8, 9], 10));
    // Not past the head, even when the store holds more.
    assert_eq!(e.follow(&all, 0, 3, 10), (vec![0, 1, 2], 3));
    assert_eq!(e.follow(&all, 10, 10, 4), (vec![], 10));
    let x = Filter { stream: Some(s("x")), ..Filter::default() };
    assert_eq!(pos(&e.follow(&x, 0, 10, 2).0), vec![1, 4]);
    assert_eq!(e.follow(&x, 0, 10, 2).1, 4);
    assert_eq!(e.follow(&x, 4, 10, 2), (vec![6, 9], 10));
    assert_eq!(e.follow(&x, 4, 9, 10), (vec![6], 9));
    // The filter's own range narrows it further.
    let ranged = Filter { from_position: Some(6), to_position: Some(7), ..Filter::default() };
    assert_eq!(e.follow(&ranged, 0, 10, 10), (vec![5, 6], 10));
    assert_eq!(e.position_of(&s("x"), 2), Some(7));
    assert_eq!(e.position_of(&s("x"), 4), None);
    assert_eq!(e.position_of(&s("zz"), 0), None);
}
