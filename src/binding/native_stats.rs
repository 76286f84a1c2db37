//! Exact accounting of the addon's native memory, for the leak tests. Only in the
//! tests' build (feature `test-hooks`); the shipped build has none of it and keeps
//! the system allocator as it is.
//!
//! - Every Rust allocation of the addon, on any thread, goes through `Counting`, a
//!   wrapper over `std::alloc::System` that keeps the live bytes and the live
//!   allocations in two atomics.
//! - SQLite allocates with its own `malloc`; its live bytes are
//!   `sqlite3_memory_used()` (SQLite's own count, on in the bundled build).
//! - The store handles alive: a `NativeStore` (memory and SQLite stores) is counted
//!   in `NativeStore::new` and uncounted by the `Drop` below, which runs when
//!   JavaScript's garbage collector finalizes its `External`; a `PgStore` likewise.
//!
//! `testNativeStats()` reads them all at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use napi_derive::napi;

use super::postgres::PgStore;
use super::store::NativeStore;

/// The system allocator, counting what is live.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);
static LIVE_STORES: AtomicIsize = AtomicIsize::new(0);
static LIVE_PG_STORES: AtomicIsize = AtomicIsize::new(0);

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn gained(bytes: usize) {
    LIVE_BYTES.fetch_add(bytes as isize, Ordering::Relaxed);
    LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; the counts are plain atomics
// (no allocation, no lock), so the allocator's contract is System's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees about `layout` are passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            gained(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            gained(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this wrapper) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`, with the caller's guarantees about `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

/// A `NativeStore` was made (called by `NativeStore::new`).
pub(super) fn store_made() {
    LIVE_STORES.fetch_add(1, Ordering::Relaxed);
}

impl Drop for NativeStore {
    fn drop(&mut self) {
        LIVE_STORES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A `PgStore` was made (called by its constructor).
pub(super) fn pg_store_made() {
    LIVE_PG_STORES.fetch_add(1, Ordering::Relaxed);
}

impl Drop for PgStore {
    fn drop(&mut self) {
        LIVE_PG_STORES.fetch_sub(1, Ordering::Relaxed);
    }
}

#[napi(object)]
pub struct NativeStats {
    /// `NativeStore`s alive (memory and SQLite stores, disposed or not).
    pub live_stores: i64,
    /// `PgStore`s alive (the native side of `PostgresMessageStore`).
    pub live_pg_stores: i64,
    /// Bytes of the addon's live Rust allocations, on every thread.
    pub live_bytes: i64,
    /// The addon's live Rust allocations.
    pub live_allocations: i64,
    /// Bytes SQLite holds (`sqlite3_memory_used`), for every connection of the process.
    pub sqlite_bytes: i64,
}

/// Test hook: the counts above, read now. Only in the tests' build (feature `test-hooks`).
#[napi]
pub fn test_native_stats() -> NativeStats {
    NativeStats {
        live_stores: LIVE_STORES.load(Ordering::Relaxed) as i64,
        live_pg_stores: LIVE_PG_STORES.load(Ordering::Relaxed) as i64,
        live_bytes: LIVE_BYTES.load(Ordering::Relaxed) as i64,
        live_allocations: LIVE_ALLOCATIONS.load(Ordering::Relaxed) as i64,
        // SAFETY: a plain read of SQLite's counter, safe from any thread.
        sqlite_bytes: unsafe { rusqlite::ffi::sqlite3_memory_used() },
    }
}
