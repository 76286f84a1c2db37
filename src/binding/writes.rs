//! The native functions that change a store: saves (one at a time, or queued ones
//! as a `saveMany` payload), sessions, and the writes of a file store's journal.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

use super::core::{self, ApplyTask};
use super::error::{invalid, write_failed, Result};
use super::store::{commit as commit_batch, kind, Store};
use super::wire;
use crate::engine::Millis;
use crate::journal::{Batch, Journal};

/// A commit on libuv's thread pool: at the `'power'` level the fsync must not hold up
/// the event loop. The JavaScript face starts one only after the previous one is done.
pub struct CommitTask {
    journal: Arc<Mutex<Journal>>,
    failed: Arc<Mutex<Option<String>>>,
    batch: Option<Batch>,
}

// A failed commit rejects with the Error a synchronous write would throw (code
// `Code::WriteFailed`), made on the JavaScript thread (`reply.rs`).
impl Task for CommitTask {
    type Output = Option<String>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Option<String>> {
        Ok(self.batch.take().and_then(|batch| commit_batch(&self.journal, &self.failed, batch).err()))
    }

    fn resolve(&mut self, env: Env, failure: Option<String>) -> napi::Result<()> {
        match failure {
            None => Ok(()),
            Some(reason) => Err(super::reply::rejection(&env, write_failed(&reason))),
        }
    }
}

/// Writes to the file everything saved since the last commit, in one transaction.
#[napi(catch_unwind)]
pub fn commit(store: &mut Store) -> Result<()> {
    store.open()?;
    store.commit()
}

/// The same as `commit`, on the thread pool: resolves once written.
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn commit_async(store: &mut Store) -> Result<AsyncTask<CommitTask>> {
    store.open()?;
    let batch = store.prepare()?;
    let journal = store.journal.clone().ok_or_else(|| invalid("store", "has no file"))?;
    Ok(AsyncTask::new(CommitTask { journal, failed: store.failed.clone(), batch }))
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
    let expected_revision = wire::expected(expected_revision)?;
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
/// nothing and does not stop the rest. Returns the refusals (none when every save
/// was applied). A store that takes no
/// writes (closed, or after a failed write) refuses the whole call with one error,
/// so that a burst costs one call whatever happens.
#[napi(catch_unwind)]
pub fn save_many(env: Env, store: &mut Store, payload: String) -> Result<Vec<core::Refusal>> {
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

/// Test hook: limits the store's file to `pages` pages, so that the next write that
/// needs more fails as on a full disk. Only in the tests' build (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi(catch_unwind)]
pub fn test_limit_pages(store: &mut Store, pages: u32) -> Result<()> {
    let journal = store.journal.as_ref().ok_or_else(|| invalid("store", "has no file"))?;
    super::core::lock(journal).set_max_pages(pages).map_err(|e| super::error::write_failed(&e.to_string()))
}

/// Test hook: runs SQL on a file with no checks of ours (`journal::raw_sql`). Only in
/// the tests' build (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi(catch_unwind)]
pub fn test_sql(path: String, sql: String) -> Result<Vec<String>> {
    crate::journal::raw_sql(&path, &sql).map_err(|e| super::error::write_failed(&e.to_string()))
}
