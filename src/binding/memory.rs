//! Telling V8 how much native memory the stores on this thread hold, so that its
//! garbage collector weighs a dropped store by what it frees: without that, a store
//! is a few hundred bytes of JavaScript heap, and a server that drops many stores
//! (each holding megabytes) would wait for unrelated garbage before collecting them.
//!
//! Each store's `Counted` adds its bytes to this thread's total and takes them back
//! when dropped (its finalizer runs on the thread that made it, one isolate a
//! thread); `report` passes the change since the last report to
//! `napi_adjust_external_memory`, once it exceeds `SLACK`.

use std::cell::Cell;

use napi::{sys, Env};

/// Changes smaller than this are not worth a call.
const SLACK: i64 = 1 << 20;

thread_local! {
    /// Bytes held by this thread's live stores.
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// Bytes last reported to this thread's isolate.
    static REPORTED: Cell<i64> = const { Cell::new(0) };
}

/// One store's share of `LIVE`.
#[derive(Debug, Default)]
pub struct Counted {
    bytes: i64,
}

impl Counted {
    /// The store now holds `bytes`.
    pub fn set(&mut self, bytes: usize) {
        let bytes = bytes as i64;
        let change = bytes - self.bytes;
        if change != 0 {
            LIVE.with(|l| l.set(l.get() + change));
            self.bytes = bytes;
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let bytes = self.bytes;
        LIVE.with(|l| l.set(l.get() - bytes));
    }
}

/// Passes this thread's change in native memory to V8, when it is large enough.
pub fn report(env: &Env) {
    let change = LIVE.with(Cell::get) - REPORTED.with(Cell::get);
    if change.abs() < SLACK {
        return;
    }
    let mut total = 0i64;
    // SAFETY: `env` is the live environment of this call.
    let status = unsafe { sys::napi_adjust_external_memory(env.raw(), change, &mut total) };
    if status == sys::Status::napi_ok {
        REPORTED.with(|r| r.set(r.get() + change));
    }
}
