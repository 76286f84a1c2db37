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
//! - [`postgres`] (`src/postgres/`): the native side of `PostgresMessageStore`, plain
//!   Rust over tokio-postgres, where the database is the store: its SQL, the schema
//!   (tables and the `append` function, in `schema.rs`), connecting, appending and
//!   reading (`mod.rs`), and the listening connection that hears other processes'
//!   commits for subscriptions (`listen.rs`). Its napi class is `binding/postgres.rs`.
//! - `binding` (`src/binding/`, the only napi code): plain functions over a store
//!   handle (an `External`), taking and returning strings and numbers; synchronous
//!   (JavaScript call order must be the order things take effect) except the
//!   `'power'` commit (`commitAsync`) and the queued saves a pool task applies. Engine
//!   and journal errors get their JavaScript `code` in `binding/error.rs`, and
//!   nowhere else.
//! - The JavaScript face (`index.js`, `lib/`, `index.d.ts`): `MemoryMessageStore`,
//!   `SqliteMessageStore` and `PostgresMessageStore` with upstream's async API. It
//!   checks arguments, `JSON.stringify`s messages on the way in and builds results from
//!   pages of stored JSON on the way out, making every `bigint`, `Date` and `Error` in
//!   JavaScript so that they belong to the caller's realm.

pub mod engine;
pub mod journal;
pub mod postgres;

mod binding;
