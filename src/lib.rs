//! `@auto-engineer/message-store`, native.
//!
//! Four layers, each in one place, and the PostgreSQL store beside them
//! (docs/design.md#layers has more):
//!
//! - [`engine`] (`src/engine/`): the store itself in plain Rust, with no Node types.
//!   Messages live as the JSON text JavaScript wrote, in one append-only arena with a
//!   fixed-size record each; streams, sessions, message names, message types and
//!   correlation / request ids are posting lists over those records, so reads touch
//!   only what they return. It has its own `cargo test` tests.
//! - [`journal`] (`src/journal/`): the durable side of `SqliteMessageStore`, plain Rust
//!   too: it writes what the engine gained to a SQLite file in one transaction, and
//!   rebuilds the engine from the file on opening.
//! - [`history`] (`src/history/`): a store's history as NDJSON text, the same for
//!   every store (the format, its checks, an engine's export and import), which
//!   `exportHistory`, `importHistory` and the `message-store` command move stores with.
//! - [`postgres`] (`src/postgres/`): the native side of `PostgresMessageStore`, plain
//!   Rust over tokio-postgres, where the database is the store: its SQL, the schema
//!   (tables and the `append` function, in `schema.rs`), connecting and appending
//!   (`mod.rs`), reading (`reads.rs`), and the listening connection that hears other
//!   processes' commits for subscriptions (`listen.rs`). Its napi class is in
//!   `binding/postgres/`.
//! - `binding` (`src/binding/`, the only napi code): plain functions over an engine's
//!   handle (an `External`), synchronous (JavaScript call order must be the order
//!   things take effect) except the `'power'` commit (`commitAsync`) and the queued
//!   saves a pool task applies; and the class `PgStore`, whose methods return promises.
//!   Text crosses in the forms of `binding/wire.rs` and the pages of `binding/page.rs`,
//!   small records as napi objects. Every error gets its JavaScript `code` in
//!   `binding/error.rs`, and nowhere else; a promise rejects with the same error
//!   (`binding/reply.rs`).
//! - The JavaScript face (`index.js`, `lib/`, `index.d.ts`): `MemoryMessageStore`,
//!   `SqliteMessageStore` and `PostgresMessageStore` with upstream's async API. It
//!   checks arguments, `JSON.stringify`s messages on the way in and builds results from
//!   pages of stored JSON on the way out, making every `bigint`, `Date` and `Error` in
//!   JavaScript so that they belong to the caller's realm.

pub mod engine;
pub mod history;
pub mod journal;
pub mod postgres;

mod binding;
