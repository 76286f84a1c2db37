//! The napi face of the engine. Strings that name things (streams, sessions, ids)
//! cross the boundary as their JSON literals, written by `JSON.stringify`, so that
//! every JavaScript string survives the trip, lone surrogates included.

// napi registers these functions when Node loads the addon; the unit-test build has no
// loader, so there nothing calls them.
#![cfg_attr(test, allow(dead_code))]

mod core;
mod error;
mod follow;
mod history;
mod memory;
#[cfg(feature = "test-hooks")]
mod native_stats;
mod page;
mod postgres;
mod reads;
mod reply;
mod store;
mod wire;
mod writes;
