//! `@auto-engineer/message-store`, native.
//!
//! Three layers, each in one place:
//!
//! - [`engine`] (`src/engine/`): the store itself in plain Rust, with no Node types.
//!   Messages live as the JSON text JavaScript wrote, in one append-only arena with a
//!   fixed-size record each; streams, sessions, message names, message types and
//!   correlation / request ids are posting lists over those records, so reads touch
//!   only what they return. It has its own `cargo test` tests.
//! - `binding` (`src/binding/`): one napi class, `NativeStore`, owning an `Engine`.
//!   Its methods are synchronous (the work takes microseconds, and JavaScript call
//!   order must be the order operations take effect) and take and return only
//!   strings and numbers. Engine errors become JavaScript errors with a stable `code`
//!   in `binding/error.rs`, and nowhere else.
//! - The JavaScript face (`index.js`, `lib/`, `index.d.ts`): `MemoryMessageStore`
//!   with upstream's async API. It checks arguments, `JSON.stringify`s messages on
//!   the way in and `JSON.parse`s one string on the way out, building every `bigint`,
//!   `Date` and `Error` in JavaScript so that they belong to the caller's realm.

pub mod engine;
pub mod journal;

mod binding;
