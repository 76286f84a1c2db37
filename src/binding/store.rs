//! The native functions the JavaScript face calls. Each takes the store as an
//! `External` handle (a plain function call costs about a third of a class method
//! call), is synchronous, and catches panics, which become JavaScript errors instead
//! of aborting the process.
//!
//! Reads that build objects come back in compact pages (`Engine::write_page`) of
//! about `PAGE_BYTES` each: the first from the call itself, the rest from `nextPage`,
//! which the JavaScript face calls in the same synchronous loop. No result is ever
//! one string larger than V8 can hold, however many messages it has.

use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{AsyncTask, External};
use napi::{Env, Task};
use napi_derive::napi;

use super::error::{closed, invalid, open_failed, too_large, write_failed, Result};
use super::wire;
use crate::engine::{Engine, MessageKind, Millis};
use crate::journal::{Batch, Durability, Journal};

/// About how many bytes of JSON one page carries.
const PAGE_BYTES: usize = 8 << 20;

/// The longest string V8 (Node 20 and later) can make, in UTF-16 code units.
const MAX_STRING: usize = (1 << 29) - 24;

pub struct NativeStore {
    engine: Engine,
    /// Records of a read whose pages are still being handed out.
    pending: Vec<u32>,
    next: usize,
    /// How many saves the last `saveMany` applied before it stopped (all, when it did not).
    many_done: u32,
    /// The file behind a `SqliteMessageStore`; `None` for a memory store. Shared with
    /// the thread that commits at the `'power'` level.
    journal: Option<Arc<Mutex<Journal>>>,
    /// Why writes are refused: a write to the file failed (set by whichever thread wrote).
    failed: Arc<Mutex<Option<String>>>,
    /// Disposed: every call is refused.
    closed: bool,
}

type Store = External<NativeStore>;

fn kind(kind: Option<String>) -> Result<Option<MessageKind>> {
    kind.map(|k| MessageKind::parse(&k).ok_or_else(|| invalid("messageType", "must be 'command' or 'event'")))
        .transpose()
}

fn limit(count: Option<u32>) -> Option<usize> {
    count.map(|c| c as usize)
}

impl NativeStore {
    fn new(engine: Engine, journal: Option<Journal>) -> Self {
        NativeStore {
            engine,
            pending: Vec::new(),
            next: 0,
            many_done: 0,
            journal: journal.map(|j| Arc::new(Mutex::new(j))),
            failed: Arc::new(Mutex::new(None)),
            closed: false,
        }
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
            return Err(write_failed(&format!("writes are refused since an earlier write failed ({reason}); reopen the file")));
        }
        Ok(self)
    }

    /// Writes what the engine gained to the file, if there is one.
    fn flush(&mut self) -> Result<()> {
        let Some(batch) = self.prepare()? else { return Ok(()) };
        commit(self.journal.as_ref().expect("prepare found a journal"), &self.failed, batch).map_err(|r| write_failed(&r))
    }

    /// What the file lacks, copied out of the engine; `None` when there is no file or
    /// nothing to write.
    fn prepare(&self) -> Result<Option<Batch>> {
        let Some(journal) = self.journal.as_ref() else { return Ok(None) };
        if let Some(reason) = self.failure() {
            return Err(write_failed(&reason));
        }
        Ok(lock(journal).prepare(&self.engine))
    }

    /// Starts handing out `records` in pages; returns the first.
    fn first_page(&mut self, records: Vec<u32>) -> String {
        self.pending = records;
        self.next = 0;
        self.next_page().unwrap_or_else(|| r#"{"m":[],"s":[],"x":[]}"#.to_owned())
    }

    fn next_page(&mut self) -> Option<String> {
        if self.next >= self.pending.len() {
            self.pending = Vec::new();
            self.next = 0;
            return None;
        }
        let mut out = String::new();
        self.next += self.engine.write_page(&self.pending[self.next..], PAGE_BYTES, &mut out);
        Some(out)
    }

    /// One string in the serving shape, or an error when JavaScript could not hold it.
    fn serving_json(&self, records: &[u32]) -> Result<String> {
        let mut out = String::with_capacity(self.engine.messages_json_len(records));
        self.engine.write_messages(records, &mut out);
        // UTF-16 units are at most the UTF-8 bytes: count them only when it matters.
        if out.len() > MAX_STRING {
            let units: usize = out.chars().map(char::len_utf16).sum();
            if units > MAX_STRING {
                return Err(too_large(records.len(), units, MAX_STRING));
            }
        }
        Ok(out)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the data as it was between statements;
    // SQLite's own transaction keeps the file whole.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

impl Task for CommitTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        match self.batch.take() {
            Some(batch) => commit(&self.journal, &self.failed, batch).map_err(napi::Error::from_reason),
            None => Ok(()),
        }
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

#[napi]
pub fn create() -> Store {
    External::new(NativeStore::new(Engine::new(), None))
}

/// Opens or creates the file at `path` and rebuilds the store it holds.
#[napi(catch_unwind)]
pub fn open_sqlite(path: String, durability: Option<String>) -> Result<Store> {
    let durability = match durability.as_deref() {
        None => Durability::default(),
        Some(d) => Durability::parse(d).ok_or_else(|| invalid("options.durability", "must be 'process' or 'power'"))?,
    };
    let (journal, engine) = Journal::open(&path, durability).map_err(open_failed)?;
    Ok(External::new(NativeStore::new(engine, Some(journal))))
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

/// Closes the file (after writing what is pending) and frees the memory; every later
/// call is refused.
#[napi(catch_unwind)]
pub fn close(store: &mut Store) -> Result<()> {
    if store.closed {
        return Ok(());
    }
    let flushed = if store.failure().is_none() { store.flush() } else { Ok(()) };
    store.journal = None;
    store.engine.reset();
    store.pending = Vec::new();
    store.closed = true;
    flushed
}

/// Saves the messages (`batch`: a JSON array; otherwise one JSON object) and returns
/// the stream's new revision.
#[napi(catch_unwind)]
pub fn save(
    store: &mut Store,
    stream: String,
    messages: String,
    batch: bool,
    expected_revision: Option<i64>,
    message_type: Option<String>,
    now: f64,
) -> Result<i64> {
    #[cfg(feature = "test-hooks")]
    if stream == "\"__panic__\"" {
        panic!("deliberate panic for the tests (feature test-hooks)");
    }
    let stream = wire::literal("streamId", &stream)?;
    let kind = kind(message_type)?;
    let now = now as Millis;
    let engine = &mut store.writable()?.engine;
    let outcome = if batch {
        engine.save_json_array(&stream, &messages, expected_revision, kind, now)?
    } else {
        engine.save(&stream, &[&messages], expected_revision, kind, now)?
    };
    Ok(outcome.revision)
}

/// Single saves issued in one turn, in one call: the JavaScript face queues every
/// `saveMessage` without `expectedRevision` and hands them over before its next call
/// into the store, which halves what each costs in the crossing. `payload` has three
/// lines a save: the type (`c`ommand, `e`vent or `-` for the store to decide) followed
/// by the save time in epoch ms, the stream's JSON literal, the message's JSON text
/// (neither can hold a raw line feed). Each save is applied on its own, in order; at
/// the first that fails the call stops with its error, and `saveManyDone` tells how
/// many were applied before it.
#[napi(catch_unwind)]
pub fn save_many(store: &mut Store, payload: String) -> Result<()> {
    store.many_done = 0;
    // Whether the store takes writes does not change during the call: checked once.
    let this = store.writable()?;
    let mut lines = payload.split('\n');
    while let Some(head) = lines.next() {
        let (Some(stream), Some(text)) = (lines.next(), lines.next()) else {
            return Err(invalid("saveMany", "must hold three lines a save"));
        };
        #[cfg(feature = "test-hooks")]
        if stream == "\"__panic__\"" {
            panic!("deliberate panic for the tests (feature test-hooks)");
        }
        let kind = match head.as_bytes().first() {
            Some(b'c') => Some(MessageKind::Command),
            Some(b'e') => Some(MessageKind::Event),
            Some(b'-') => None,
            _ => return Err(invalid("saveMany", "a save must start with c, e or -")),
        };
        let now: Millis = head[1..].parse().map_err(|_| invalid("saveMany", "a save time must be an integer"))?;
        let stream = wire::literal("streamId", stream)?;
        this.engine.save(&stream, &[text], None, kind, now)?;
        this.many_done += 1;
    }
    Ok(())
}

/// How many saves the last `saveMany` applied.
#[napi(catch_unwind)]
pub fn save_many_done(store: &Store) -> u32 {
    store.many_done
}

/// The stream's revision (-1 when empty), or `null` when it does not exist.
#[napi(catch_unwind)]
pub fn stream_revision(store: &Store, stream: String) -> Result<Option<i64>> {
    Ok(store.open()?.engine.stream_revision(&wire::literal("streamId", &stream)?))
}

/// The first page of a stream's messages.
#[napi(catch_unwind)]
pub fn read_stream(store: &mut Store, stream: String, from_revision: Option<i64>, count: Option<u32>) -> Result<String> {
    let stream = wire::literal("streamId", &stream)?;
    let records = store.open()?.engine.read_stream(&stream, from_revision, limit(count)).to_vec();
    Ok(store.first_page(records))
}

/// The first page of the messages matching a filter.
#[napi(catch_unwind)]
pub fn query(store: &mut Store, filter: Option<String>, count: Option<u32>) -> Result<String> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    let records = store.open()?.engine.query(&filter, limit(count));
    Ok(store.first_page(records))
}

/// The next page of the last read, or `null` when there is none.
#[napi(catch_unwind)]
pub fn next_page(store: &mut Store) -> Result<Option<String>> {
    store.open()?;
    Ok(store.next_page())
}

/// A stream's messages as one JSON string in the serving shape.
#[napi(catch_unwind)]
pub fn read_stream_json(store: &Store, stream: String, from_revision: Option<i64>, count: Option<u32>) -> Result<String> {
    let stream = wire::literal("streamId", &stream)?;
    store.open()?.serving_json(store.engine.read_stream(&stream, from_revision, limit(count)))
}

/// The messages matching a filter as one JSON string in the serving shape.
#[napi(catch_unwind)]
pub fn query_json(store: &Store, filter: Option<String>, count: Option<u32>) -> Result<String> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    store.open()?.serving_json(&store.engine.query(&filter, limit(count)))
}

#[napi(catch_unwind)]
pub fn stream_info(store: &Store, stream: String) -> Result<Option<String>> {
    let stream = wire::literal("streamId", &stream)?;
    Ok(store.open()?.engine.stream_info(&stream).as_ref().map(wire::stream_info))
}

#[napi(catch_unwind)]
pub fn streams(store: &Store) -> Result<String> {
    Ok(wire::array(store.open()?.engine.stream_names().map(|s| s.literal())))
}

/// Starts a session and returns its id.
#[napi(catch_unwind)]
pub fn create_session(store: &mut Store, now: f64) -> Result<String> {
    let id = store.writable()?.engine.create_session(now as Millis);
    let literal = id.literal();
    Ok(literal[1..literal.len() - 1].to_owned())
}

#[napi(catch_unwind)]
pub fn end_session(store: &mut Store, session_id: String, now: f64) -> Result<()> {
    let id = wire::literal("sessionId", &session_id)?;
    store.writable()?.engine.end_session(&id, now as Millis);
    Ok(())
}

#[napi(catch_unwind)]
pub fn sessions(store: &Store) -> Result<String> {
    let mut out = String::from("[");
    for (n, s) in store.open()?.engine.sessions().enumerate() {
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
    Ok(store.open()?.engine.session_info(&id).map(|s| {
        let mut out = String::new();
        wire::write_session(&mut out, s);
        out
    }))
}

#[napi(catch_unwind)]
pub fn stats(store: &Store) -> Result<String> {
    Ok(wire::stats(&store.open()?.engine.stats()))
}

/// Empties the store (and its file) and gives its memory back.
#[napi(catch_unwind)]
pub fn reset(store: &mut Store) -> Result<()> {
    let store = store.writable()?;
    if let Some(journal) = store.journal.as_ref() {
        if let Err(e) = lock(journal).clear() {
            let reason = e.to_string();
            *lock(&store.failed) = Some(reason.clone());
            return Err(write_failed(&reason));
        }
    }
    store.engine.reset();
    store.pending = Vec::new();
    store.next = 0;
    Ok(())
}
