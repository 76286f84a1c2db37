//! The store handle the native functions take: an `External` over `NativeStore` (a
//! plain function call costs about a third of a class method call). Every function is
//! synchronous unless it returns a task, and catches panics, which become JavaScript
//! errors instead of aborting the process. This file holds the handle, opening,
//! closing and reset; the functions that change a store are `writes.rs`, those that
//! read it `reads.rs`.
//!
//! Reads that build objects come back in compact pages (`page.rs`) of about
//! `PAGE_BYTES` each: the first from the call itself, the rest from `nextPage`, which
//! the JavaScript face calls in the same synchronous loop. No result is ever one
//! string larger than V8 can hold, however many messages it has.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::External;
use napi::Env;
use napi_derive::napi;

use super::core::{lock, Core};
use super::error::{closed, open_failed, read_only, write_failed, Result};
use super::memory::{self, Counted};
use super::page;
use super::wire;
use crate::engine::{Engine, MessageKind};
use crate::journal::{Batch, Durability, Follower, Journal};

/// About how many bytes of JSON one page carries: small enough that what a page's
/// `JSON.parse` leaves behind dies young, instead of swelling the old generation.
pub(super) const PAGE_BYTES: usize = 1 << 20;

/// The longest string V8 (Node 20 and later) can make, in UTF-16 code units.
pub(super) const MAX_STRING: usize = (1 << 29) - 24;

pub struct NativeStore {
    /// The engine, and a memory store's saves waiting for it (core.rs).
    pub(super) core: Arc<Core>,
    /// Records of a read whose pages are still being handed out.
    pub(super) pending: Vec<u32>,
    pub(super) next: usize,
    /// The file behind a `SqliteMessageStore`; `None` for a memory store. Shared with
    /// the thread that commits at the `'power'` level.
    pub(super) journal: Option<Arc<Mutex<Journal>>>,
    /// The file behind a `SqliteMessageStore` opened read-only (follow.rs): every
    /// change is refused.
    pub(super) follower: Option<Follower>,
    /// Why writes are refused: a write to the file failed (set by whichever thread wrote).
    pub(super) failed: Arc<Mutex<Option<String>>>,
    /// Disposed: every call is refused.
    pub(super) closed: bool,
    /// The engine's bytes, as this thread's isolate is told (memory.rs).
    pub(super) counted: Counted,
}

pub(super) type Store = External<NativeStore>;

pub(super) fn kind(kind: Option<u32>) -> Result<Option<MessageKind>> {
    kind.map(|k| wire::kind("messageType", k)).transpose()
}

pub(super) fn limit(count: Option<u32>) -> Option<usize> {
    count.map(|c| c as usize)
}

impl NativeStore {
    pub(super) fn new(engine: Engine, journal: Option<Journal>) -> Self {
        // The tests' build counts live handles (its `Drop` is in native_stats.rs).
        #[cfg(feature = "test-hooks")]
        super::native_stats::store_made();
        NativeStore {
            core: Core::new(engine),
            pending: Vec::new(),
            next: 0,
            journal: journal.map(|j| Arc::new(Mutex::new(j))),
            follower: None,
            failed: Arc::new(Mutex::new(None)),
            closed: false,
            counted: Counted::default(),
        }
    }

    /// After a call that may have changed the engine (or caught up with queued saves):
    /// its bytes, counted and reported to V8 (memory.rs).
    pub(super) fn recount(&mut self, env: &Env) {
        self.counted.set(self.core.bytes());
        memory::report(env);
    }

    pub(super) fn failure(&self) -> Option<String> {
        lock(&self.failed).clone()
    }

    /// Refuses every call on a closed store.
    pub(super) fn open(&self) -> Result<&Self> {
        if self.closed {
            return Err(closed());
        }
        Ok(self)
    }

    /// Refuses changes on a closed or read-only store, or once a write to its file failed.
    pub(super) fn writable(&mut self) -> Result<&mut Self> {
        if self.closed {
            return Err(closed());
        }
        if let Some(follower) = &self.follower {
            return Err(read_only(follower.path()));
        }
        if let Some(reason) = self.failure() {
            return Err(write_failed(&format!(
                "writes are refused since an earlier write failed ({reason}); reopen the file"
            )));
        }
        Ok(self)
    }

    /// Writes what the engine gained to the file, if there is one.
    pub(super) fn commit(&mut self) -> Result<()> {
        let Some(batch) = self.prepare()? else { return Ok(()) };
        commit(self.journal.as_ref().expect("prepare found a journal"), &self.failed, batch)
            .map_err(|r| write_failed(&r))
    }

    /// What the file lacks, copied out of the engine; `None` when there is no file or
    /// nothing to write.
    pub(super) fn prepare(&self) -> Result<Option<Batch>> {
        let Some(journal) = self.journal.as_ref() else { return Ok(None) };
        if let Some(reason) = self.failure() {
            return Err(write_failed(&reason));
        }
        let engine = self.core.engine()?;
        Ok(lock(journal).prepare(&engine))
    }

    /// Starts handing out `records` in pages; returns the first.
    pub(super) fn first_page(&mut self, records: Vec<u32>) -> Result<String> {
        self.pending = records;
        self.next = 0;
        Ok(self.next_page()?.unwrap_or_else(|| r#"{"m":[],"d":[],"s":[],"x":[]}"#.to_owned()))
    }

    pub(super) fn next_page(&mut self) -> Result<Option<String>> {
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

#[napi]
pub fn create() -> Store {
    External::new(NativeStore::new(Engine::new(), None))
}

/// A file store's durability, as JavaScript names it (`options.durability`).
#[napi(string_enum)]
pub enum DurabilityOption {
    #[napi(value = "process")]
    Process,
    #[napi(value = "power")]
    Power,
}

/// Opens or creates the file at `path` and rebuilds the store it holds.
#[napi(catch_unwind)]
pub fn open_sqlite(env: Env, path: String, durability: Option<DurabilityOption>) -> Result<Store> {
    let durability = match durability {
        None => Durability::default(),
        Some(DurabilityOption::Process) => Durability::Process,
        Some(DurabilityOption::Power) => Durability::Power,
    };
    let (journal, engine) = Journal::open(&path, durability).map_err(open_failed)?;
    let mut store = NativeStore::new(engine, Some(journal));
    store.recount(&env);
    Ok(External::new(store))
}

/// Closes the file (after writing what is pending) and frees the memory; every later
/// call is refused.
#[napi(catch_unwind)]
pub fn close(env: Env, store: &mut Store) -> Result<()> {
    if store.closed {
        return Ok(());
    }
    let committed = if store.failure().is_none() { store.commit() } else { Ok(()) };
    store.journal = None;
    store.follower = None;
    store.core.forget();
    let mut engine = store.core.engine_as_is();
    engine.reset();
    store.core.note_bytes(&engine);
    drop(engine);
    store.pending = Vec::new();
    store.closed = true;
    store.recount(&env);
    committed
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

/// Commits a batch; on failure, records why, so that the store refuses further writes.
pub(super) fn commit(
    journal: &Mutex<Journal>,
    failed: &Mutex<Option<String>>,
    batch: Batch,
) -> std::result::Result<(), String> {
    lock(journal).commit(batch).map_err(|e| {
        let reason = e.to_string();
        *lock(failed) = Some(reason.clone());
        reason
    })
}
