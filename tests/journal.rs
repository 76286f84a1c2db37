//! Guards the durable journal (`message_store::journal`): a file written by
//! `Journal::write` and reopened by `Journal::open` rebuilds an engine equal to the
//! original in every observable (messages, stats, streams, stream info, sessions,
//! indexes), incremental writes, `clear`, both durability levels, whole batches, and
//! the faults: a file that is not ours (left byte-for-byte untouched), a newer schema,
//! a second opener of a held file, and a full disk that loses nothing committed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use message_store::engine::{
    Engine, Expected, Filter, JsonString, MessageKind, SaveOutcome, SessionInfo, Stats, StreamInfo, NO_SESSION,
};
use message_store::journal::{Durability, Journal, JournalError};

/// 2023-11-14T22:13:20.123Z
const T0: i64 = 1_700_000_000_123;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A unique path under the temp directory; removes the file and SQLite's side files
/// (`-wal`, `-shm`, `-journal`) when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("message-store-journal-{tag}-{}-{n}-{nanos}.db", std::process::id()));
        let db = TempDb(path);
        db.remove_all();
        db
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp dir is UTF-8")
    }

    fn side(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}{suffix}", self.path()))
    }

    fn remove_all(&self) {
        for p in [self.0.clone(), self.side("-wal"), self.side("-shm"), self.side("-journal")] {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Which of SQLite's side files exist.
    fn side_files(&self) -> Vec<&'static str> {
        ["-wal", "-shm", "-journal"].into_iter().filter(|s| self.side(s).exists()).collect()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove_all();
    }
}

fn s(name: &str) -> JsonString {
    JsonString::new(name)
}

fn lit(literal: &str) -> JsonString {
    JsonString::from_literal(literal).unwrap_or_else(|| panic!("not a literal: {literal}"))
}

fn open(db: &TempDb) -> (Journal, Engine) {
    open_at(db, Durability::Process)
}

fn open_at(db: &TempDb, durability: Durability) -> (Journal, Engine) {
    Journal::open(db.path(), durability).unwrap_or_else(|e| panic!("open {}: {e}", db.path()))
}

fn ok(o: Result<SaveOutcome, message_store::engine::SaveError>) -> SaveOutcome {
    o.unwrap_or_else(|e| panic!("save refused: {e:?}"))
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Stats without `memory_usage` (capacities may differ after a rebuild).
#[derive(Debug, PartialEq)]
struct StatsNoMemory {
    total_messages: u64,
    total_commands: u64,
    total_events: u64,
    total_streams: u64,
    total_sessions: u64,
    oldest_message: Option<i64>,
    newest_message: Option<i64>,
}

fn stats(e: &Engine) -> StatsNoMemory {
    let Stats {
        total_messages,
        total_commands,
        total_events,
        total_streams,
        total_sessions,
        memory_usage: _,
        oldest_message,
        newest_message,
    } = e.stats();
    StatsNoMemory {
        total_messages,
        total_commands,
        total_events,
        total_streams,
        total_sessions,
        oldest_message,
        newest_message,
    }
}

/// Everything observable about a store: all messages as served, stats, streams in
/// order with their info and messages, sessions in order with their messages, the
/// current session, and reads through each index.
#[derive(Debug, PartialEq)]
struct Snapshot {
    messages: String,
    stats: StatsNoMemory,
    streams: Vec<(String, Option<StreamInfo>, Option<i64>, String)>,
    sessions: Vec<(SessionInfo, String)>,
    current: Option<JsonString>,
    no_session: String,
    reads: Vec<(&'static str, String)>,
}

fn snapshot(e: &Engine) -> Snapshot {
    let json = |f: &Filter| e.messages_json(&e.query(f, None));
    let streams = e
        .stream_names()
        .map(|n| {
            (
                n.literal().to_owned(),
                e.stream_info(n),
                e.stream_revision(n),
                e.messages_json(e.read_stream(n, None, None)),
            )
        })
        .collect();
    let sessions = e
        .sessions()
        .map(|info| {
            assert_eq!(e.session_info(&info.session_id), Some(info));
            (info.clone(), json(&Filter { session: Some(info.session_id.clone()), ..Filter::default() }))
        })
        .collect();
    let reads = vec![
        ("commands", json(&Filter { kind: Some(MessageKind::Command), ..Filter::default() })),
        ("events", json(&Filter { kind: Some(MessageKind::Event), ..Filter::default() })),
        ("names A,T", json(&Filter { names: Some(vec![s("A"), s("T")]), ..Filter::default() })),
        ("correlation c-1", json(&Filter { correlation_id: Some(s("c-1")), ..Filter::default() })),
        ("request r-1", json(&Filter { request_id: Some(s("r-1")), ..Filter::default() })),
        ("time T0+5..=T0+20", json(&Filter { from_time: Some(T0 + 5), to_time: Some(T0 + 20), ..Filter::default() })),
        ("positions 2..=4", json(&Filter { from_position: Some(2), to_position: Some(4), ..Filter::default() })),
        ("last 3", e.messages_json(&e.query(&Filter::default(), Some(3)))),
    ];
    Snapshot {
        messages: json(&Filter::default()),
        stats: stats(e),
        streams,
        sessions,
        current: e.current_session().cloned(),
        no_session: json(&Filter { session: Some(lit(NO_SESSION)), ..Filter::default() }),
        reads,
    }
}

/// The snapshot a reopened engine must show: the same, with no session current.
fn reopened(mut snap: Snapshot) -> Snapshot {
    snap.current = None;
    snap
}

fn names(e: &Engine) -> Vec<String> {
    e.stream_names().map(|n| n.literal().to_owned()).collect()
}

/// Stream names with quotes, backslashes, unicode and lone surrogates, as
/// `JSON.stringify` writes them.
fn odd_names() -> Vec<JsonString> {
    vec![s(r#"quo"ted\back"#), s("ünïcødé 流 🚀"), lit(r#""\ud800""#), lit(r#""lone \udc00 low and \ud83d""#)]
}

/// Builds a store that uses every feature a journal must keep. Returns it with the
/// ids of its sessions (first ended, second current).
fn populate(e: &mut Engine) -> (JsonString, JsonString) {
    let orders = s("orders");
    assert_eq!(
        ok(e.save(
            &orders,
            &[r#"{"type":"A","data":{"n":1},"requestId":"r-1"}"#],
            Some(Expected::Revision(-1)),
            None,
            T0
        )),
        SaveOutcome { revision: 0, first_position: 1, count: 1 }
    );
    // A batch: one message with its own timestamp, one without, ids of both kinds.
    assert_eq!(
        ok(e.save(
            &orders,
            &[
                r#"{"type":"T","data":{"s":"\udc00 é"},"timestamp":"2020-01-01T00:00:00.000Z","correlationId":"c-1"}"#,
                r#"  {"type":"B","data":null,"correlationId":"c-1","requestId":""}  "#,
                r#"{"type":"C","extra":[1,{"x":"y"}],"requestId":"r-2"}"#,
            ],
            Some(Expected::Revision(0)),
            None,
            T0 + 1,
        )),
        SaveOutcome { revision: 3, first_position: 2, count: 3 }
    );
    for (i, name) in odd_names().iter().enumerate() {
        let o = ok(e.save(
            name,
            &[r#"{"type":"A","data":{"where":"odd"}}"#],
            None,
            Some(MessageKind::Event),
            T0 + 2 + i as i64,
        ));
        assert_eq!(o.first_position, 5 + i as u64);
    }
    // An empty save creates an empty stream.
    assert_eq!(
        ok(e.save(&s("empty"), &[], None, None, T0 + 7)),
        SaveOutcome { revision: -1, first_position: 9, count: 0 }
    );

    let first = e.create_session(T0 + 10);
    ok(e.save(&s("user-commands"), &[r#"{"type":"Cmd","data":{}}"#, r#"{"type":"Cmd2"}"#], None, None, T0 + 11));
    ok(e.save(&s("user-events"), &[r#"{"type":"Evt","requestId":"r-1"}"#], None, None, T0 + 12));
    e.end_session(&first, T0 + 13);
    ok(e.save(&orders, &[r#"{"type":"D"}"#], Some(Expected::Revision(3)), None, T0 + 14));

    let second = e.create_session(T0 + 20);
    // Time goes backwards once.
    ok(e.save(&orders, &[r#"{"type":"E","correlationId":"c-1"}"#], None, Some(MessageKind::Command), T0 + 5));
    ok(e.save(&s("user-events"), &[r#"{"type":"F"}"#], None, None, T0 + 21));
    // An empty save inside a session to a new stream.
    ok(e.save(&s("empty-in-session"), &[], None, None, T0 + 22));
    (first, second)
}

// ---------------------------------------------------------------------------
// 1. Round trip
// ---------------------------------------------------------------------------

#[test]
fn a_reopened_file_rebuilds_the_same_store() {
    let db = TempDb::new("roundtrip");
    let (mut j, mut e) = open(&db);
    assert!(e.is_empty());
    let (first, second) = populate(&mut e);
    j.write(&e).unwrap();

    // The store as built, with exact values.
    assert_eq!(
        stats(&e),
        StatsNoMemory {
            total_messages: 14,
            total_commands: 5,
            total_events: 9,
            total_streams: 11,
            total_sessions: 2,
            oldest_message: Some(T0),
            newest_message: Some(T0 + 21),
        }
    );
    let session_stream = |id: &JsonString| s(&format!("session-{}", &id.literal()[1..id.literal().len() - 1]));
    let mut expected_names = vec![s("orders")];
    expected_names.extend(odd_names());
    expected_names.extend([
        s("empty"),
        session_stream(&first),
        s("user-commands"),
        s("user-events"),
        session_stream(&second),
        s("empty-in-session"),
    ]);
    assert_eq!(names(&e), expected_names.iter().map(|n| n.literal().to_owned()).collect::<Vec<_>>());
    assert_eq!(e.current_session(), Some(&second));
    let before = snapshot(&e);
    drop(j);
    drop(e);

    let (mut j, mut e) = open(&db);
    let after = snapshot(&e);
    assert_eq!(after, reopened(before));
    assert_eq!(e.current_session(), None);
    assert!(e.stats().memory_usage > 0);

    // Spot checks with exact values.
    assert_eq!(
        e.stream_info(&s("orders")),
        Some(StreamInfo {
            revision: 5,
            message_count: 6,
            first_position: 1,
            last_position: 13,
            created_at: T0,
            last_updated: T0 + 5
        })
    );
    assert_eq!(
        e.stream_info(&s("empty")),
        Some(StreamInfo {
            revision: -1,
            message_count: 0,
            first_position: 0,
            last_position: 0,
            created_at: T0 + 7,
            last_updated: T0 + 7
        })
    );
    assert_eq!(
        e.stream_info(&lit(r#""\ud800""#)),
        Some(StreamInfo {
            revision: 0,
            message_count: 1,
            first_position: 7,
            last_position: 7,
            created_at: T0 + 4,
            last_updated: T0 + 4
        })
    );
    let sessions: Vec<SessionInfo> = e.sessions().cloned().collect();
    assert_eq!(
        sessions,
        vec![
            SessionInfo {
                session_id: first.clone(),
                started_at: T0 + 10,
                message_count: 3,
                command_count: 2,
                event_count: 1,
                last_activity: T0 + 13
            },
            SessionInfo {
                session_id: second.clone(),
                started_at: T0 + 20,
                message_count: 2,
                command_count: 1,
                event_count: 1,
                last_activity: T0 + 21
            },
        ]
    );
    let m = e.message(2).unwrap();
    assert_eq!(
        m.text,
        r#"{"type":"T","data":{"s":"\udc00 é"},"timestamp":"2020-01-01T00:00:00.000Z","correlationId":"c-1"}"#
    );
    assert_eq!(m.time, T0 + 1);
    let m = e.message(3).unwrap();
    assert_eq!(
        m.text,
        r#"{"type":"B","data":null,"correlationId":"c-1","requestId":"","timestamp":"2023-11-14T22:13:20.124Z"}"#
    );
    assert_eq!(m.kind, MessageKind::Event);
    assert_eq!(e.message(11).unwrap().session, Some(&first));
    assert_eq!(e.message(12).unwrap().session, None);
    assert_eq!(e.message(13).unwrap().session, Some(&second));
    assert_eq!(e.message(13).unwrap().kind, MessageKind::Command);
    assert_eq!(e.message(1).unwrap().session, None);

    // Saves continue at the next position and revision; sessions continue too.
    assert_eq!(
        ok(e.save(&s("orders"), &[r#"{"type":"G"}"#], Some(Expected::Revision(5)), None, T0 + 30)),
        SaveOutcome { revision: 6, first_position: 15, count: 1 }
    );
    assert_eq!(
        ok(e.save(&s("new"), &[r#"{"type":"H"}"#], Some(Expected::Revision(-1)), None, T0 + 31)),
        SaveOutcome { revision: 0, first_position: 16, count: 1 }
    );
    // An old session touched after reopening: only its lastActivity changes.
    e.end_session(&first, T0 + 32);
    let third = e.create_session(T0 + 33);
    ok(e.save(&s("user-events"), &[r#"{"type":"I"}"#], None, None, T0 + 34));
    assert_eq!(e.session_info(&third).unwrap().message_count, 1);
    j.write(&e).unwrap();
    let before = snapshot(&e);
    drop(j);
    drop(e);

    let (_j, e) = open(&db);
    assert_eq!(snapshot(&e), reopened(before));
    assert_eq!(e.len(), 17);
    assert_eq!(e.session_info(&first).unwrap().last_activity, T0 + 32);
    assert_eq!(e.session_info(&third).unwrap().message_count, 1);
}

// ---------------------------------------------------------------------------
// 2. Incremental writes
// ---------------------------------------------------------------------------

#[test]
fn incremental_writes_add_up_to_the_same_store() {
    let db = TempDb::new("incremental");
    let (mut j, mut e) = open(&db);
    j.write(&e).unwrap(); // nothing yet

    ok(e.save(&s("a"), &[r#"{"type":"A1"}"#], None, None, T0));
    j.write(&e).unwrap();
    ok(e.save(&s("a"), &[r#"{"type":"A2"}"#, r#"{"type":"A3"}"#], Some(Expected::Revision(0)), None, T0 + 1));
    ok(e.save(&s("b"), &[r#"{"type":"B1","requestId":"r-1"}"#], None, None, T0 + 2));
    j.write(&e).unwrap();
    // Only a new session and its stream.
    let sid = e.create_session(T0 + 3);
    j.write(&e).unwrap();
    ok(e.save(&s("b"), &[r#"{"type":"B2"}"#], None, None, T0 + 4));
    j.write(&e).unwrap();
    // Only a session's lastActivity changes.
    e.end_session(&sid, T0 + 5);
    j.write(&e).unwrap();
    // Only a new empty stream.
    ok(e.save(&s("c"), &[], None, None, T0 + 6));
    j.write(&e).unwrap();
    // A refused save between writes changes nothing.
    assert!(e.save(&s("a"), &[r#"{"type":"X"}"#], Some(Expected::Revision(0)), None, T0 + 7).is_err());
    j.write(&e).unwrap();

    // A write with nothing new writes nothing: the file and its WAL keep their bytes.
    let (main, wal) = (bytes(&db.0), std::fs::read(db.side("-wal")).ok());
    j.write(&e).unwrap();
    j.write(&e).unwrap();
    assert!(bytes(&db.0) == main, "a write with nothing new changed the database file");
    assert!(std::fs::read(db.side("-wal")).ok() == wal, "a write with nothing new changed the WAL");

    let before = snapshot(&e);
    drop(j);
    drop(e);
    let (_j, e) = open(&db);
    assert_eq!(snapshot(&e), reopened(before));
    assert_eq!(
        names(&e),
        [s("a"), s("b"), s(&format!("session-{}", &sid.literal()[1..sid.literal().len() - 1])), s("c")]
            .map(|n| n.literal().to_owned())
    );
    assert_eq!(e.len(), 5);
    assert_eq!(
        e.session_info(&sid),
        Some(&SessionInfo {
            session_id: sid.clone(),
            started_at: T0 + 3,
            message_count: 1,
            command_count: 0,
            event_count: 1,
            last_activity: T0 + 5
        })
    );
    assert_eq!(
        e.stream_info(&s("b")),
        Some(StreamInfo {
            revision: 1,
            message_count: 2,
            first_position: 4,
            last_position: 5,
            created_at: T0 + 2,
            last_updated: T0 + 4
        })
    );
}

#[test]
fn only_touched_sessions_are_updated_and_each_reopens_with_its_last_activity() {
    let db = TempDb::new("touched");
    let (mut j, mut e) = open(&db);
    let ids: Vec<JsonString> = (0..5).map(|i| e.create_session(T0 + i)).collect();
    ok(e.save(&s("a"), &[r#"{"type":"A"}"#], None, None, T0 + 10)); // in the current session, the last
    j.write(&e).unwrap();
    // Between two writes: an old session ended, the current one used twice, an unknown id ended.
    e.end_session(&ids[1], T0 + 20);
    ok(e.save(&s("a"), &[r#"{"type":"B"}"#], None, None, T0 + 21));
    e.end_session(&ids[1], T0 + 22);
    e.end_session(&JsonString::new("nobody"), T0 + 23);
    j.write(&e).unwrap();
    let wal = std::fs::read(db.side("-wal")).ok();
    j.write(&e).unwrap();
    assert!(std::fs::read(db.side("-wal")).ok() == wal, "a write with nothing new changed the WAL");
    let want: Vec<i64> = ids.iter().map(|id| e.session_info(id).unwrap().last_activity).collect();
    assert_eq!(want, [T0, T0 + 22, T0 + 2, T0 + 3, T0 + 21]);
    drop(j);
    let (_j, again) = open(&db);
    let got: Vec<i64> = ids.iter().map(|id| again.session_info(id).unwrap().last_activity).collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// 3. clear
// ---------------------------------------------------------------------------

#[test]
fn clear_empties_the_file_and_positions_restart_at_one() {
    let db = TempDb::new("clear");
    let (mut j, mut e) = open(&db);
    populate(&mut e);
    j.write(&e).unwrap();
    j.clear().unwrap();
    e.reset();
    drop(j);
    drop(e);

    let (mut j, mut e) = open(&db);
    assert!(e.is_empty());
    assert_eq!(
        stats(&e),
        StatsNoMemory {
            total_messages: 0,
            total_commands: 0,
            total_events: 0,
            total_streams: 0,
            total_sessions: 0,
            oldest_message: None,
            newest_message: None
        }
    );
    assert_eq!(e.stats().memory_usage, 0);
    assert_eq!(names(&e), Vec::<String>::new());
    assert_eq!(e.sessions().count(), 0);
    assert_eq!(e.query(&Filter::default(), None), Vec::<u32>::new());
    assert_eq!(
        ok(e.save(&s("orders"), &[r#"{"type":"Z"}"#], Some(Expected::Revision(-1)), None, T0 + 50)),
        SaveOutcome { revision: 0, first_position: 1, count: 1 }
    );
    j.write(&e).unwrap();

    // Clear then new saves in the same open journal.
    j.clear().unwrap();
    e.reset();
    let sid = e.create_session(T0 + 60);
    assert_eq!(
        ok(e.save(&s("fresh"), &[r#"{"type":"Y"}"#, r#"{"type":"Y2"}"#], None, None, T0 + 61)),
        SaveOutcome { revision: 1, first_position: 1, count: 2 }
    );
    j.write(&e).unwrap();
    let before = snapshot(&e);
    drop(j);
    drop(e);

    let (_j, e) = open(&db);
    assert_eq!(snapshot(&e), reopened(before));
    assert_eq!(e.len(), 2);
    assert_eq!(e.sessions().map(|i| i.session_id.clone()).collect::<Vec<_>>(), vec![sid]);
    assert_eq!(e.stream_info(&s("orders")), None);
    assert_eq!(e.message(1).unwrap().stream, &s("fresh"));
}

// ---------------------------------------------------------------------------
// 4. Faults
// ---------------------------------------------------------------------------

fn assert_not_ours(path: &str) {
    match Journal::open(path, Durability::Process) {
        Err(JournalError::NotOurs { path: p, .. }) => assert_eq!(p, path),
        Err(other) => panic!("{path}: expected NotOurs, got {other:?}"),
        Ok(_) => panic!("{path}: expected NotOurs, the file was opened"),
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    for (tag, content) in [
        ("text", b"name,value\nthis is not a database, just some text\n".repeat(40)),
        ("five", b"hello".to_vec()),
        ("prefix", b"SQLit".to_vec()),
    ] {
        let db = TempDb::new(tag);
        std::fs::write(&db.0, &content).unwrap();
        assert_not_ours(db.path());
        let err = Journal::open(db.path(), Durability::Power).err().unwrap();
        let text = err.to_string();
        assert!(text.contains(db.path()) && text.contains("not a message-store file"), "{tag}: {text}");
        assert_eq!(bytes(&db.0), content, "{tag}: bytes changed");
        assert_eq!(db.side_files(), Vec::<&str>::new(), "{tag}: side files created");
    }
}

#[test]
fn a_file_with_the_sqlite_header_and_garbage_after_is_refused_and_left_untouched() {
    let db = TempDb::new("garbage");
    let mut content = b"SQLite format 3\0".to_vec();
    content.extend((0..4096u32).map(|i| (i * 7 + 13) as u8));
    std::fs::write(&db.0, &content).unwrap();
    let err = Journal::open(db.path(), Durability::Process).err().expect("a damaged file must be refused");
    assert!(err.to_string().contains(db.path()), "{err}");
    assert_eq!(bytes(&db.0), content);
    assert_eq!(db.side_files(), Vec::<&str>::new());
}

fn other_app_db(db: &TempDb, wal: bool) {
    let conn = rusqlite::Connection::open(&db.0).unwrap();
    if wal {
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
    conn.execute_batch(
        "PRAGMA application_id=123;
         CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO people (name) VALUES ('ada'), ('grace');",
    )
    .unwrap();
    drop(conn);
    assert_eq!(db.side_files(), Vec::<&str>::new());
}

#[test]
fn another_applications_database_is_refused_and_left_untouched() {
    for wal in [false, true] {
        let db = TempDb::new(if wal { "otherapp-wal" } else { "otherapp" });
        other_app_db(&db, wal);
        let before = bytes(&db.0);
        match Journal::open(db.path(), Durability::Process) {
            Err(JournalError::NotOurs { path, reason }) => {
                assert_eq!(path, db.path());
                assert!(reason.contains("123"), "{reason}");
            }
            Err(other) => panic!("wal={wal}: expected NotOurs, got {other:?}"),
            Ok(_) => panic!("wal={wal}: another application's database was opened"),
        }
        assert!(bytes(&db.0) == before, "wal={wal}: the other application's file changed");
        assert_eq!(db.side_files(), Vec::<&str>::new(), "wal={wal}: side files left behind");
        // Still the other application's, intact.
        let conn = rusqlite::Connection::open(&db.0).unwrap();
        let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
        let n: i64 = conn.query_row("SELECT count(*) FROM people", [], |r| r.get(0)).unwrap();
        assert_eq!((app, n), (123, 2));
    }
}

#[test]
fn an_unmarked_database_with_tables_is_refused() {
    let db = TempDb::new("unmarked");
    let conn = rusqlite::Connection::open(&db.0).unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    drop(conn);
    let before = bytes(&db.0);
    assert_not_ours(db.path());
    assert!(bytes(&db.0) == before);
}

/// Version 1 (a row per message, as 0.13.0 wrote it), built by hand from an engine.
fn write_v1_file(db: &TempDb, e: &Engine) {
    let conn = rusqlite::Connection::open(&db.0).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; BEGIN;
         CREATE TABLE streams (ix INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
         CREATE TABLE sessions (ix INTEGER PRIMARY KEY, id TEXT NOT NULL, started_at INTEGER NOT NULL, last_activity INTEGER NOT NULL);
         CREATE TABLE messages (position INTEGER PRIMARY KEY, stream INTEGER NOT NULL, kind INTEGER NOT NULL,
                                time INTEGER NOT NULL, session INTEGER, body TEXT NOT NULL);
         PRAGMA application_id = 1297303345; PRAGMA user_version = 1;",
    )
    .unwrap();
    for ix in 0..e.stream_count() {
        let (name, created) = e.stream_at(ix).unwrap();
        conn.execute("INSERT INTO streams VALUES (?1, ?2, ?3)", rusqlite::params![ix as i64, name.literal(), created])
            .unwrap();
    }
    for ix in 0..e.session_count() {
        let s = e.session_at(ix).unwrap();
        conn.execute(
            "INSERT INTO sessions VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![ix as i64, s.session_id.literal(), s.started_at, s.last_activity],
        )
        .unwrap();
    }
    for p in 1..=e.len() as u64 {
        let m = e.journal_message(p).unwrap();
        conn.execute(
            "INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![p as i64, m.stream_index, m.kind as i64, m.time, m.session_index, m.text],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT;").unwrap();
}

#[test]
fn a_version_1_file_is_migrated_to_chunks_and_reads_the_same() {
    let db = TempDb::new("v1");
    let mut original = Engine::new();
    populate(&mut original);
    let want = snapshot(&original);
    write_v1_file(&db, &original);

    let (mut j, mut e) = open(&db);
    assert_eq!(snapshot(&e), reopened(want));
    // Positions go on from the migrated ones.
    assert_eq!(
        ok(e.save(&s("after"), &[r#"{"type":"Z"}"#], None, None, T0 + 99)).first_position,
        original.len() as u64 + 1
    );
    j.write(&e).unwrap();
    drop(j);

    let conn = rusqlite::Connection::open(&db.0).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let chunked: i64 = conn.query_row("SELECT sum(count) FROM chunks", [], |r| r.get(0)).unwrap();
    drop(conn);
    assert_eq!(version, 2);
    assert_eq!(tables, ["chunks", "sessions", "streams"]);
    assert_eq!(chunked, original.len() as i64 + 1);
    let (_j, again) = open(&db);
    assert_eq!(again.len(), original.len() + 1);
    assert_eq!(snapshot(&again).messages, snapshot(&e).messages);
}

/// Opening the file (damaged by `edit`) fails with `Corrupt`, its reason starting with `reason`.
fn assert_does_not_replay(db: &TempDb, edit: &str, reason: &str) {
    match Journal::open(db.path(), Durability::Process) {
        Err(JournalError::Corrupt { reason: got, .. }) => assert!(got.starts_with(reason), "{edit}: {got}"),
        Err(other) => panic!("{edit}: expected Corrupt, got {other:?}"),
        Ok(_) => panic!("{edit}: a damaged file was opened"),
    }
}

#[test]
fn a_damaged_chunk_is_refused_as_not_replaying() {
    let cases: [(&str, &str); 3] = [
        ("UPDATE chunks SET first = first + 1 WHERE first > 1", "positions skip from 1 to 3"),
        ("UPDATE chunks SET meta = substr(meta, 2) WHERE first = 1", "chunk 1 has 20 bytes of entries for 1 messages"),
        ("UPDATE chunks SET bodies = '{\"type\":123}' WHERE first = 1", "message 1: "),
    ];
    for (edit, reason) in cases {
        let db = TempDb::new("damaged");
        let (mut j, mut e) = open(&db);
        ok(e.save(&s("a"), &[r#"{"type":"A"}"#], None, None, T0));
        j.write(&e).unwrap();
        ok(e.save(&s("a"), &[r#"{"type":"B"}"#], None, None, T0));
        j.write(&e).unwrap();
        drop(j);
        rusqlite::Connection::open(&db.0).unwrap().execute_batch(edit).unwrap();
        assert_does_not_replay(&db, edit, reason);
    }
}

#[test]
fn a_damaged_compressed_chunk_is_refused_as_not_replaying() {
    let cases: [(&str, &str); 3] = [
        ("UPDATE chunks SET bodies = substr(bodies, 1, length(bodies) / 2)", "chunk 1 does not decompress"),
        ("UPDATE chunks SET encoding = 7", "chunk 1 has encoding 7"),
        (
            "UPDATE chunks SET meta = substr(meta, 1, length(meta) - 21), count = count - 1",
            "chunk 1 does not decompress",
        ),
    ];
    for (edit, reason) in cases {
        let db = TempDb::new("damaged-lz4");
        let (mut j, mut e) = open(&db);
        let messages: Vec<String> =
            (0..200).map(|i| format!(r#"{{"type":"M","data":{{"i":{i},"note":"the same words again"}}}}"#)).collect();
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        ok(e.save(&s("a"), &refs, None, None, T0));
        j.write(&e).unwrap();
        drop(j);
        let conn = rusqlite::Connection::open(&db.0).unwrap();
        assert_eq!(conn.query_row("SELECT encoding FROM chunks", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
        conn.execute_batch(edit).unwrap();
        drop(conn);
        assert_does_not_replay(&db, edit, reason);
    }
}

#[test]
fn a_file_of_a_newer_schema_is_refused() {
    let db = TempDb::new("newer");
    let (mut j, mut e) = open(&db);
    ok(e.save(&s("a"), &[r#"{"type":"A"}"#], None, None, T0));
    j.write(&e).unwrap();
    drop(j);
    let conn = rusqlite::Connection::open(&db.0).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 2);
    conn.execute_batch("PRAGMA user_version = 3").unwrap();
    drop(conn);
    let before = bytes(&db.0);
    match Journal::open(db.path(), Durability::Process) {
        Err(JournalError::NewerSchema { path, found, supported }) => {
            assert_eq!((path.as_str(), found, supported), (db.path(), 3, 2));
        }
        Err(other) => panic!("expected NewerSchema, got {other:?}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
    let text = Journal::open(db.path(), Durability::Process).err().unwrap().to_string();
    assert!(text.contains(db.path()) && text.contains("schema version 3"), "{text}");
    assert!(bytes(&db.0) == before, "a refused newer file changed");
}

#[test]
fn a_file_held_by_a_journal_cannot_be_opened_again_until_it_is_closed() {
    let db = TempDb::new("locked");
    let (mut j, mut e) = open(&db);
    ok(e.save(&s("a"), &[r#"{"type":"A"}"#], None, None, T0));
    j.write(&e).unwrap();

    let started = std::time::Instant::now();
    let second = Journal::open(db.path(), Durability::Process);
    let waited = started.elapsed();
    match second {
        Err(JournalError::Locked { ref path }) => assert_eq!(path, db.path()),
        Err(ref other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("a second journal opened a held file"),
    }
    let text = second.err().unwrap().to_string();
    assert!(text.contains(db.path()), "{text}");
    eprintln!("second open refused after {waited:?}: {text}");

    // The first journal is unharmed by the attempt.
    ok(e.save(&s("a"), &[r#"{"type":"B"}"#], None, None, T0 + 1));
    j.write(&e).unwrap();
    drop(j);
    drop(e);

    let (_j, e) = open(&db);
    assert_eq!(e.len(), 2);
    assert_eq!(e.stream_revision(&s("a")), Some(1));
}

/// The state as the last successful write left it, then a write that cannot fit.
fn fill_the_disk(db: &TempDb) -> (Journal, Engine, Snapshot) {
    let (mut j, mut e) = open(db);
    populate(&mut e);
    j.write(&e).unwrap();
    let committed = snapshot(&e);
    j.set_max_pages(1).unwrap(); // SQLite keeps the limit at no less than the current size

    let body = "x".repeat(1000);
    let messages: Vec<String> =
        (0..200).map(|i| format!(r#"{{"type":"Big","data":{{"i":{i},"pad":"{body}"}}}}"#)).collect();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    ok(e.save(&s("big"), &refs, None, None, T0 + 100));
    ok(e.save(&s("orders"), &[r#"{"type":"After"}"#], None, None, T0 + 101));
    e.end_session(&e.current_session().unwrap().clone(), T0 + 102);
    match j.write(&e) {
        Err(err @ JournalError::Io { .. }) => {
            let text = err.to_string();
            assert!(text.contains(db.path()) && text.contains("database or disk is full"), "{text}");
        }
        Err(other) => panic!("expected Io (full), got {other:?}"),
        Ok(()) => panic!("a 200 KB write fit in a file limited to its current size"),
    }
    (j, e, committed)
}

#[test]
fn a_full_disk_fails_the_write_and_the_file_keeps_exactly_what_was_committed() {
    let db = TempDb::new("full");
    let (j, e, committed) = fill_the_disk(&db);
    drop(j);
    drop(e);

    let (mut j, mut e) = open(&db);
    assert_eq!(snapshot(&e), reopened(committed));
    assert_eq!(e.len(), 14);
    assert_eq!(e.stream_info(&s("big")), None);
    assert_eq!(e.stream_revision(&s("orders")), Some(5));
    // Positions continue from the last committed one.
    assert_eq!(
        ok(e.save(&s("orders"), &[r#"{"type":"Next"}"#], Some(Expected::Revision(5)), None, T0 + 200)),
        SaveOutcome { revision: 6, first_position: 15, count: 1 }
    );
    j.write(&e).unwrap();
}

#[test]
fn after_a_full_disk_a_later_write_with_room_holds_everything_the_failed_one_missed() {
    let db = TempDb::new("full-retry");
    let (mut j, e, _) = fill_the_disk(&db);
    // Still full: fails again, still nothing partial.
    assert!(matches!(j.write(&e), Err(JournalError::Io { .. })));
    j.set_max_pages(1_000_000).unwrap();
    j.write(&e).unwrap();
    let before = snapshot(&e);
    drop(j);
    drop(e);

    let (_j, e) = open(&db);
    assert_eq!(snapshot(&e), reopened(before));
    assert_eq!(e.len(), 215);
    assert_eq!(e.stream_info(&s("big")).unwrap().message_count, 200);
}

#[test]
fn opening_in_a_missing_directory_is_an_io_error() {
    let dir = std::env::temp_dir().join(format!("message-store-journal-missing-{}-{}", std::process::id(), T0));
    let path = dir.join("x.db");
    let path = path.to_str().unwrap();
    match Journal::open(path, Durability::Process) {
        Err(err @ JournalError::Io { .. }) => assert!(err.to_string().contains(path), "{err}"),
        Err(other) => panic!("expected Io, got {other:?}"),
        Ok(_) => panic!("opened a file in a directory that does not exist"),
    }
    assert!(!dir.exists());
}

// ---------------------------------------------------------------------------
// 5. Durability::Power
// ---------------------------------------------------------------------------

#[test]
fn the_power_level_opens_and_round_trips() {
    assert_eq!(Durability::parse("power"), Some(Durability::Power));
    assert_eq!(Durability::parse("process"), Some(Durability::Process));
    assert_eq!(Durability::parse("Power"), None);
    assert_eq!(Durability::default(), Durability::Process);

    let db = TempDb::new("power");
    let (mut j, mut e) = open_at(&db, Durability::Power);
    populate(&mut e);
    j.write(&e).unwrap();
    ok(e.save(&s("orders"), &[r#"{"type":"P"}"#], None, None, T0 + 40));
    j.write(&e).unwrap();
    let before = snapshot(&e);
    drop(j);
    drop(e);

    let (_j, e) = open_at(&db, Durability::Power);
    assert_eq!(snapshot(&e), reopened(before));
    assert_eq!(e.len(), 15);
    drop(_j);
    // A file written at one level opens at the other.
    let (_j, e) = open_at(&db, Durability::Process);
    assert_eq!(e.len(), 15);
}

// ---------------------------------------------------------------------------
// 6. A batch is whole
// ---------------------------------------------------------------------------

#[test]
fn a_thousand_message_batch_is_written_whole() {
    let db = TempDb::new("batch");
    let (mut j, mut e) = open(&db);
    ok(e.save(&s("before"), &[r#"{"type":"First"}"#], None, None, T0));
    j.write(&e).unwrap();
    let messages: Vec<String> =
        (0..1000).map(|i| format!(r#"{{"type":"M","data":{{"i":{i}}},"correlationId":"c-{}"}}"#, i % 7)).collect();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    assert_eq!(
        ok(e.save(&s("batch-events"), &refs, Some(Expected::Revision(-1)), None, T0 + 1)),
        SaveOutcome { revision: 999, first_position: 2, count: 1000 }
    );
    j.write(&e).unwrap();
    let before = snapshot(&e);
    drop(j);
    drop(e);
    // The lone first message is stored as text; the batch, as one LZ4 chunk.
    let rows: Vec<(i64, i64, i64, i64)> = rusqlite::Connection::open(&db.0)
        .unwrap()
        .prepare("SELECT first, count, encoding, length(bodies) FROM chunks ORDER BY first")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let raw: usize = messages.iter().map(String::len).sum();
    assert_eq!(rows.iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>(), [(1, 1, 0), (2, 1000, 1)]);
    assert_eq!(rows[0].3, r#"{"type":"First"}"#.len() as i64);
    assert!((rows[1].3 as usize) * 3 < raw, "{} bytes for {raw}", rows[1].3);

    let (_j, e) = open(&db);
    assert_eq!(snapshot(&e), reopened(before));
    assert_eq!(e.len(), 1001);
    assert_eq!(
        e.stream_info(&s("batch-events")),
        Some(StreamInfo {
            revision: 999,
            message_count: 1000,
            first_position: 2,
            last_position: 1001,
            created_at: T0 + 1,
            last_updated: T0 + 1
        })
    );
    assert_eq!(e.read_stream(&s("batch-events"), None, None).len(), 1000);
    for (k, &i) in e.read_stream(&s("batch-events"), None, None).iter().enumerate() {
        let m = e.message(i as u64 + 1).unwrap();
        assert_eq!(m.revision, k as i64);
        assert_eq!(
            m.text,
            format!(
                r#"{{"type":"M","data":{{"i":{k}}},"correlationId":"c-{}","timestamp":"2023-11-14T22:13:20.124Z"}}"#,
                k % 7
            )
        );
    }
    assert_eq!(e.query(&Filter { correlation_id: Some(s("c-3")), ..Filter::default() }, None).len(), 143);
}
