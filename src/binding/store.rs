//! The native functions the JavaScript face calls. Each takes the store as an
//! `External` handle (a plain function call costs about a third of a class method
//! call), is synchronous, and catches panics, which become JavaScript errors instead
//! of aborting the process.
//!
//! Reads that build objects come back in compact pages (`page.rs`) of
//! about `PAGE_BYTES` each: the first from the call itself, the rest from `nextPage`,
//! which the JavaScript face calls in the same synchronous loop. No result is ever
//! one string larger than V8 can hold, however many messages it has.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, External, Uint32Array};
use napi::{Env, Task};
use napi_derive::napi;

use super::core::{self, lock, ApplyTask, Core};
use super::error::{closed, invalid, open_failed, too_large, write_failed, Code, Result};
use super::memory::{self, Counted};
use super::page;
use super::wire;
use crate::engine::{Engine, MessageKind, Millis};
use crate::journal::{Batch, Durability, Journal};

/// About how many bytes of JSON one page carries: small enough that what a page's
/// `JSON.parse` leaves behind dies young, instead of swelling the old generation.
const PAGE_BYTES: usize = 1 << 20;

/// The longest string V8 (Node 20 and later) can make, in UTF-16 code units.
const MAX_STRING: usize = (1 << 29) - 24;

pub struct NativeStore {
    /// The engine, and a memory store's saves waiting for it (core.rs).
    core: Arc<Core>,
    /// Records of a read whose pages are still being handed out.
    pending: Vec<u32>,
    next: usize,
    /// The file behind a `SqliteMessageStore`; `None` for a memory store. Shared with
    /// the thread that commits at the `'power'` level.
    journal: Option<Arc<Mutex<Journal>>>,
    /// Why writes are refused: a write to the file failed (set by whichever thread wrote).
    failed: Arc<Mutex<Option<String>>>,
    /// Disposed: every call is refused.
    closed: bool,
    /// The engine's bytes, as this thread's isolate is told (memory.rs).
    counted: Counted,
}

type Store = External<NativeStore>;

fn kind(kind: Option<u32>) -> Result<Option<MessageKind>> {
    kind.map(|k| wire::kind("messageType", k)).transpose()
}

fn limit(count: Option<u32>) -> Option<usize> {
    count.map(|c| c as usize)
}

impl NativeStore {
    fn new(engine: Engine, journal: Option<Journal>) -> Self {
        NativeStore {
            core: Core::new(engine),
            pending: Vec::new(),
            next: 0,
            journal: journal.map(|j| Arc::new(Mutex::new(j))),
            failed: Arc::new(Mutex::new(None)),
            closed: false,
            counted: Counted::default(),
        }
    }

    /// After a call that may have changed the engine (or caught up with queued saves):
    /// its bytes, counted and reported to V8 (memory.rs).
    fn recount(&mut self, env: &Env) {
        self.counted.set(self.core.bytes());
        memory::report(env);
    }

    fn failure(&self) -> Option<String> {
        lock(&self.failed).clone()
    }

    /// Refuses every call on a closed store.
    fn open(&self) -> Result<&Self> {
        if self.closed {
            return Err(closed());
        }
        Ok(self)
    }

    /// Refuses changes on a closed store, or once a write to its file failed.
    fn writable(&mut self) -> Result<&mut Self> {
        if self.closed {
            return Err(closed());
        }
        if let Some(reason) = self.failure() {
            return Err(write_failed(&format!(
                "writes are refused since an earlier write failed ({reason}); reopen the file"
            )));
        }
        Ok(self)
    }

    /// Writes what the engine gained to the file, if there is one.
    fn flush(&mut self) -> Result<()> {
        let Some(batch) = self.prepare()? else { return Ok(()) };
        commit(self.journal.as_ref().expect("prepare found a journal"), &self.failed, batch)
            .map_err(|r| write_failed(&r))
    }

    /// What the file lacks, copied out of the engine; `None` when there is no file or
    /// nothing to write.
    fn prepare(&self) -> Result<Option<Batch>> {
        let Some(journal) = self.journal.as_ref() else { return Ok(None) };
        if let Some(reason) = self.failure() {
            return Err(write_failed(&reason));
        }
        let engine = self.core.engine()?;
        Ok(lock(journal).prepare(&engine))
    }

    /// Starts handing out `records` in pages; returns the first.
    fn first_page(&mut self, records: Vec<u32>) -> Result<String> {
        self.pending = records;
        self.next = 0;
        Ok(self.next_page()?.unwrap_or_else(|| r#"{"m":[],"d":[],"s":[],"x":[]}"#.to_owned()))
    }

    fn next_page(&mut self) -> Result<Option<String>> {
        if self.next >= self.pending.len() {
            self.pending = Vec::new();
            self.next = 0;
            return Ok(None);
        }
        let mut out = String::new();
        let engine = self.core.engine()?;
        let written = page::write(&engine, &self.pending[self.next..], PAGE_BYTES, &mut out);
        drop(engine);
        self.next += written;
        Ok(Some(out))
    }
}

/// One string in the serving shape, or an error when JavaScript could not hold it.
fn serving_json(engine: &Engine, records: &[u32]) -> Result<String> {
    let mut out = String::with_capacity(engine.messages_json_len(records));
    engine.write_messages(records, &mut out);
    // UTF-16 units are at most the UTF-8 bytes: count them only when it matters.
    if out.len() > MAX_STRING {
        let units: usize = out.chars().map(char::len_utf16).sum();
        if units > MAX_STRING {
            return Err(too_large(records.len(), units, MAX_STRING));
        }
    }
    Ok(out)
}

/// Commits a batch; on failure, records why, so that the store refuses further writes.
fn commit(journal: &Mutex<Journal>, failed: &Mutex<Option<String>>, batch: Batch) -> std::result::Result<(), String> {
    lock(journal).commit(batch).map_err(|e| {
        let reason = e.to_string();
        *lock(failed) = Some(reason.clone());
        reason
    })
}

/// A commit on libuv's thread pool: at the `'power'` level the fsync must not hold up
/// the event loop. The JavaScript face starts one only after the previous one is done.
pub struct CommitTask {
    journal: Arc<Mutex<Journal>>,
    failed: Arc<Mutex<Option<String>>>,
    batch: Option<Batch>,
}

// A failed commit resolves, rather than rejects, to `[code, reason]`: a task's
// rejection can carry only napi's own status codes, and the failure must reach
// JavaScript with ours (`Code::WriteFailed`). Success resolves to `null`.
impl Task for CommitTask {
    type Output = Option<String>;
    type JsValue = Option<Vec<String>>;

    fn compute(&mut self) -> napi::Result<Option<String>> {
        Ok(self.batch.take().and_then(|batch| commit(&self.journal, &self.failed, batch).err()))
    }

    fn resolve(&mut self, _env: Env, failure: Option<String>) -> napi::Result<Option<Vec<String>>> {
        Ok(failure.map(|reason| vec![Code::WriteFailed.as_ref().to_owned(), reason]))
    }
}

#[napi]
pub fn create() -> Store {
    External::new(NativeStore::new(Engine::new(), None))
}

/// Opens or creates the file at `path` and rebuilds the store it holds.
#[napi(catch_unwind)]
pub fn open_sqlite(env: Env, path: String, durability: Option<String>) -> Result<Store> {
    let durability = match durability.as_deref() {
        None => Durability::default(),
        Some(d) => Durability::parse(d).ok_or_else(|| invalid("options.durability", "must be 'process' or 'power'"))?,
    };
    let (journal, engine) = Journal::open(&path, durability).map_err(open_failed)?;
    let mut store = NativeStore::new(engine, Some(journal));
    store.recount(&env);
    Ok(External::new(store))
}

/// Writes to the file everything saved since the last flush, in one transaction.
#[napi(catch_unwind)]
pub fn flush(store: &mut Store) -> Result<()> {
    store.open()?;
    store.flush()
}

/// The same as `flush`, committed on the thread pool: resolves once written.
#[napi(catch_unwind)]
pub fn flush_async(store: &mut Store) -> Result<AsyncTask<CommitTask>> {
    store.open()?;
    let batch = store.prepare()?;
    let journal = store.journal.clone().ok_or_else(|| invalid("store", "has no file"))?;
    Ok(AsyncTask::new(CommitTask { journal, failed: store.failed.clone(), batch }))
}

/// Test hook: limits the store's file to `pages` pages, so that the next write that
/// needs more fails as on a full disk. Only in the tests' build (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi(catch_unwind)]
pub fn test_limit_pages(store: &mut Store, pages: u32) -> Result<()> {
    let journal = store.journal.as_ref().ok_or_else(|| invalid("store", "has no file"))?;
    lock(journal).set_max_pages(pages).map_err(|e| write_failed(&e.to_string()))
}

/// Test hook: runs SQL on a file with no checks of ours (`journal::raw_sql`). Only in
/// the tests' build (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi(catch_unwind)]
pub fn test_sql(path: String, sql: String) -> Result<Vec<String>> {
    crate::journal::raw_sql(&path, &sql).map_err(|e| write_failed(&e.to_string()))
}

/// Closes the file (after writing what is pending) and frees the memory; every later
/// call is refused.
#[napi(catch_unwind)]
pub fn close(env: Env, store: &mut Store) -> Result<()> {
    if store.closed {
        return Ok(());
    }
    let flushed = if store.failure().is_none() { store.flush() } else { Ok(()) };
    store.journal = None;
    store.core.forget();
    let mut engine = store.core.engine_as_is();
    engine.reset();
    store.core.note_bytes(&engine);
    drop(engine);
    store.pending = Vec::new();
    store.closed = true;
    store.recount(&env);
    flushed
}

/// Saves the messages (`batch`: a JSON array; otherwise one JSON object) in the call
/// and returns the stream's new revision.
#[napi(catch_unwind)]
pub fn save(
    env: Env,
    store: &mut Store,
    stream: String,
    messages: String,
    batch: bool,
    expected_revision: Option<i64>,
    message_type: Option<u32>,
    now: f64,
) -> Result<i64> {
    #[cfg(feature = "test-hooks")]
    if stream == "\"__panic__\"" {
        panic!("deliberate panic for the tests (feature test-hooks)");
    }
    let stream = wire::literal("streamId", &stream)?;
    let kind = kind(message_type)?;
    let now = now as Millis;
    let core = store.writable()?.core.clone();
    let mut engine = core.engine()?;
    let outcome = if batch {
        engine.save_json_array(&stream, &messages, expected_revision, kind, now)?
    } else {
        engine.save(&stream, &[&messages], expected_revision, kind, now)?
    };
    core.note_bytes(&engine);
    drop(engine);
    store.recount(&env);
    Ok(outcome.revision)
}

/// Saves queued by the JavaScript face (`lib/scheduler.js`), applied in the call:
/// every save it checked since its last call into the store. `payload` has three
/// lines a save: the head, the stream's JSON literal, the message text (a JSON
/// object, or with a batch head a JSON array of them; neither can hold a raw line
/// feed). The head is the message type's code (`0` command, `1` event) or `-` (the
/// store decides), then `1` for a
/// batch or `0`, then the save time in epoch ms, then, after a space, the expected
/// revision or nothing.
///
/// Each save is applied on its own, in order, and one the engine refuses changes
/// nothing and does not stop the rest. Returns `null` when every save was applied,
/// else the refusals as JSON: `[[index, code, message], …]`. A store that takes no
/// writes (closed, or after a failed write) refuses the whole call with one error,
/// so that a burst costs one call whatever happens.
#[napi(catch_unwind)]
pub fn save_many(env: Env, store: &mut Store, payload: String) -> Result<Option<String>> {
    let shared = store.writable()?.core.clone();
    let mut engine = shared.engine()?;
    let refusals = core::apply(&mut engine, &payload);
    shared.note_bytes(&engine);
    drop(engine);
    store.recount(&env);
    refusals
}

/// The same payload for a memory store, whose saves are acknowledged already: queued
/// for the engine, and applied by a task on the thread pool while JavaScript goes on
/// (or by the next call that needs the engine, if that comes first; see core.rs).
/// Returns the task's promise when this call started one, else `null`.
#[napi(catch_unwind)]
pub fn save_many_later(env: Env, store: &mut Store, payload: String) -> Result<Option<AsyncTask<ApplyTask>>> {
    let task = store.writable()?.core.queue(payload)?;
    store.recount(&env);
    Ok(task.map(AsyncTask::new))
}

/// The stream's revision (-1 when empty), or `null` when it does not exist.
#[napi(catch_unwind)]
pub fn stream_revision(env: Env, store: &mut Store, stream: String) -> Result<Option<i64>> {
    let stream = wire::literal("streamId", &stream)?;
    let revision = store.open()?.core.engine()?.stream_revision(&stream);
    store.recount(&env);
    Ok(revision)
}

/// The records (position - 1) a stream read returns, as runs: `[start, end, …]`.
/// The JavaScript face takes the objects it keeps (`lib/cache.js`) and asks `build`
/// for the rest.
#[napi(catch_unwind)]
pub fn read_stream_runs(
    env: Env,
    store: &mut Store,
    stream: String,
    from_revision: Option<i64>,
    count: Option<u32>,
) -> Result<Uint32Array> {
    let stream = wire::literal("streamId", &stream)?;
    let engine = store.open()?.core.engine()?;
    let runs = wire::runs(engine.read_stream(&stream, from_revision, limit(count)));
    drop(engine);
    store.recount(&env);
    Ok(Uint32Array::new(runs))
}

/// The records a filter matches, as runs (see `readStreamRuns`).
#[napi(catch_unwind)]
pub fn query_runs(env: Env, store: &mut Store, filter: Option<String>, count: Option<u32>) -> Result<Uint32Array> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    let engine = store.open()?.core.engine()?;
    let runs = wire::runs(&engine.query(&filter, limit(count)));
    drop(engine);
    store.recount(&env);
    Ok(Uint32Array::new(runs))
}

/// The first compact page of the given records' messages; `nextPage` gives the rest.
#[napi(catch_unwind)]
pub fn build(store: &mut Store, records: Uint32Array) -> Result<String> {
    let len = store.open()?.core.engine()?.len() as u32;
    if let Some(bad) = records.iter().find(|&&r| r >= len) {
        return Err(invalid("records", format!("holds {bad}, past the last record")));
    }
    let records = records.to_vec();
    store.first_page(records)
}

/// The next page of the last read, or `null` when there is none.
#[napi(catch_unwind)]
pub fn next_page(store: &mut Store) -> Result<Option<String>> {
    store.open()?;
    store.next_page()
}

/// A stream's messages as one JSON string in the serving shape.
#[napi(catch_unwind)]
pub fn read_stream_json(
    store: &Store,
    stream: String,
    from_revision: Option<i64>,
    count: Option<u32>,
) -> Result<String> {
    let stream = wire::literal("streamId", &stream)?;
    let engine = store.open()?.core.engine()?;
    serving_json(&engine, engine.read_stream(&stream, from_revision, limit(count)))
}

/// The messages matching a filter as one JSON string in the serving shape.
#[napi(catch_unwind)]
pub fn query_json(store: &Store, filter: Option<String>, count: Option<u32>) -> Result<String> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    let engine = store.open()?.core.engine()?;
    serving_json(&engine, &engine.query(&filter, limit(count)))
}

#[napi(catch_unwind)]
pub fn stream_info(store: &Store, stream: String) -> Result<Option<String>> {
    let stream = wire::literal("streamId", &stream)?;
    Ok(store.open()?.core.engine()?.stream_info(&stream).as_ref().map(wire::stream_info))
}

#[napi(catch_unwind)]
pub fn streams(env: Env, store: &mut Store) -> Result<String> {
    let engine = store.open()?.core.engine()?;
    let out = wire::array(engine.stream_names().map(|s| s.literal()));
    drop(engine);
    store.recount(&env);
    Ok(out)
}

/// Starts a session and returns its id.
#[napi(catch_unwind)]
pub fn create_session(env: Env, store: &mut Store, now: f64) -> Result<String> {
    let core = store.writable()?.core.clone();
    let mut engine = core.engine()?;
    let id = engine.create_session(now as Millis);
    core.note_bytes(&engine);
    drop(engine);
    store.recount(&env);
    let literal = id.literal();
    Ok(literal[1..literal.len() - 1].to_owned())
}

#[napi(catch_unwind)]
pub fn end_session(store: &mut Store, session_id: String, now: f64) -> Result<()> {
    let id = wire::literal("sessionId", &session_id)?;
    store.writable()?.core.engine()?.end_session(&id, now as Millis);
    Ok(())
}

#[napi(catch_unwind)]
pub fn sessions(store: &Store) -> Result<String> {
    let mut out = String::from("[");
    let engine = store.open()?.core.engine()?;
    for (n, s) in engine.sessions().enumerate() {
        if n > 0 {
            out.push(',');
        }
        wire::write_session(&mut out, s);
    }
    out.push(']');
    Ok(out)
}

#[napi(catch_unwind)]
pub fn session_info(store: &Store, session_id: String) -> Result<Option<String>> {
    let id = wire::literal("sessionId", &session_id)?;
    Ok(store.open()?.core.engine()?.session_info(&id).map(|s| {
        let mut out = String::new();
        wire::write_session(&mut out, s);
        out
    }))
}

#[napi(catch_unwind)]
pub fn stats(env: Env, store: &mut Store) -> Result<String> {
    let stats = store.open()?.core.engine()?.stats();
    store.recount(&env);
    Ok(wire::stats(&stats))
}

/// Empties the store (and its file) and gives its memory back. For a memory store
/// this is also how it starts again after losing an acknowledged save.
#[napi(catch_unwind)]
pub fn reset(env: Env, store: &mut Store) -> Result<()> {
    let store = store.writable()?;
    if let Some(journal) = store.journal.as_ref() {
        if let Err(e) = lock(journal).clear() {
            let reason = e.to_string();
            *lock(&store.failed) = Some(reason.clone());
            return Err(write_failed(&reason));
        }
    }
    store.core.forget();
    let mut engine = store.core.engine_as_is();
    engine.reset();
    store.core.note_bytes(&engine);
    drop(engine);
    store.pending = Vec::new();
    store.next = 0;
    store.recount(&env);
    Ok(())
}
