//! The engine of one store, shared between the JavaScript thread and the thread-pool
//! task that applies a memory store's queued saves while JavaScript goes on.
//!
//! A memory store acknowledges a save once its JavaScript checks pass (see
//! lib/scheduler.js); the text then waits in the backlog until it is applied, by a
//! task on the thread pool or by the next call that needs the engine, whichever
//! comes first.
//!
//! Invariants:
//! - Payloads are taken from the backlog only by a holder of the engine's lock, and
//!   applied before it lets go: so they reach the engine in the order they were
//!   queued, and every call that takes the engine (`engine()`) sees every payload
//!   queued before it.
//! - `running` is true while a task is (or is about to be) applying the backlog; it
//!   is set false only under the backlog's lock once the backlog is empty, so a
//!   payload queued meanwhile always finds a task or starts one.
//! - Once a save already acknowledged could not be applied (`lost`), the store
//!   refuses every call until `reset`: it would otherwise answer without that save.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::{Env, Task};

use super::error::{write_failed, Error, Result};
use super::wire::{self, SaveHeader};
use crate::engine::{Engine, JsonString};

#[derive(Default)]
struct Backlog {
    payloads: VecDeque<String>,
    running: bool,
}

#[derive(Default)]
pub struct Core {
    engine: Mutex<Engine>,
    backlog: Mutex<Backlog>,
    /// Why the store refuses every call: a save it acknowledged did not reach the engine.
    lost: Mutex<Option<String>>,
    /// The engine's bytes after its last change, for V8's accounting (memory.rs).
    bytes: AtomicUsize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the data as it was between statements
    // (each save checks everything before it changes anything).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Core {
    pub fn new(engine: Engine) -> Arc<Core> {
        let core = Core {
            bytes: AtomicUsize::new(engine.stats().memory_usage as usize),
            engine: Mutex::new(engine),
            ..Default::default()
        };
        Arc::new(core)
    }

    /// The engine with everything queued applied, for the caller alone; an error once
    /// an acknowledged save was lost.
    pub fn engine(&self) -> Result<MutexGuard<'_, Engine>> {
        let mut engine = lock(&self.engine);
        self.catch_up(&mut engine);
        if let Some(reason) = lock(&self.lost).clone() {
            return Err(write_failed(&reason));
        }
        Ok(engine)
    }

    /// The engine as it is, queued saves left waiting (for `reset` and `close`).
    pub fn engine_as_is(&self) -> MutexGuard<'_, Engine> {
        lock(&self.engine)
    }

    /// Queues a payload (as `saveMany` takes it). Returns a task to start when none is
    /// applying the backlog, else `None`; fails once a save was lost.
    pub fn queue(self: &Arc<Self>, payload: String) -> Result<Option<ApplyTask>> {
        if let Some(reason) = lock(&self.lost).clone() {
            return Err(write_failed(&reason));
        }
        let mut backlog = lock(&self.backlog);
        backlog.payloads.push_back(payload);
        if backlog.running {
            return Ok(None);
        }
        backlog.running = true;
        Ok(Some(ApplyTask { core: self.clone() }))
    }

    /// Drops what is queued and what was lost: the store is emptied next.
    pub fn forget(&self) {
        lock(&self.backlog).payloads.clear();
        *lock(&self.lost) = None;
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The engine's bytes after a change made through `engine()`.
    pub fn note_bytes(&self, engine: &Engine) {
        self.bytes.store(engine.stats().memory_usage as usize, Ordering::Relaxed);
    }

    fn catch_up(&self, engine: &mut Engine) {
        let mut applied = false;
        loop {
            let Some(payload) = lock(&self.backlog).payloads.pop_front() else { break };
            applied = true;
            if lock(&self.lost).is_some() {
                continue;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| apply(engine, &payload)));
            let lost = match outcome {
                Ok(Ok(refusals)) => refusals.first().map(|first| {
                    format!("a save acknowledged earlier was refused by the engine ({}: {})", first.code, first.message)
                }),
                Ok(Err(e)) => Some(format!("a save acknowledged earlier did not reach the engine ({})", e.reason)),
                Err(panic) => Some(format!(
                    "a save acknowledged earlier did not reach the engine (internal error: {})",
                    panic_text(&panic)
                )),
            };
            if let Some(reason) = lost {
                *lock(&self.lost) = Some(format!("{reason}; the store refuses every call until reset()"));
            }
        }
        if applied {
            self.note_bytes(engine);
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// A save of a group the engine refused, changing nothing: its index in the group,
/// and the code and message of the error a call saving it alone would throw.
#[napi_derive::napi(object)]
pub struct Refusal {
    pub index: u32,
    pub code: String,
    pub message: String,
}

/// Applies a `saveMany` payload: each save on its own, in order; a refused one changes
/// nothing and the rest go on. Returns the refusals, none when all were applied (for a
/// memory store only the first matters: it was acknowledged already).
pub fn apply(engine: &mut Engine, payload: &str) -> Result<Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut lines = payload.split('\n');
    let mut index = 0usize;
    // Consecutive saves to one stream (the usual case) parse its literal once.
    let mut last: Option<(&str, JsonString)> = None;
    while let Some(header_line) = lines.next() {
        let (Some(stream_line), Some(text)) = (lines.next(), lines.next()) else {
            return Err(super::error::invalid("saveMany", "must hold three lines a save"));
        };
        #[cfg(feature = "test-hooks")]
        if stream_line == "\"__panic__\"" {
            panic!("deliberate panic for the tests (feature test-hooks)");
        }
        let header = SaveHeader::parse(header_line)?;
        if last.as_ref().map(|(line, _)| *line) != Some(stream_line) {
            last = Some((stream_line, wire::literal("streamId", stream_line)?));
        }
        let stream = &last.as_ref().expect("set above").1;
        let outcome = if header.batch {
            engine.save_json_array(stream, text, header.expected, header.kind, header.now)
        } else {
            engine.save(stream, &[text], header.expected, header.kind, header.now)
        };
        if let Err(e) = outcome {
            let e = Error::from(e);
            refusals.push(Refusal { index: index as u32, code: e.status.as_ref().to_owned(), message: e.reason });
        }
        index += 1;
    }
    Ok(refusals)
}

/// Applies a memory store's backlog on the thread pool, until it is empty.
pub struct ApplyTask {
    core: Arc<Core>,
}

impl Task for ApplyTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        loop {
            let mut engine = lock(&self.core.engine);
            self.core.catch_up(&mut engine);
            let mut backlog = lock(&self.core.backlog);
            if backlog.payloads.is_empty() {
                backlog.running = false;
                return Ok(());
            }
        }
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}
