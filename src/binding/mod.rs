//! The napi face of the engine. Strings that name things (streams, sessions, ids)
//! cross the boundary as their JSON literals, written by `JSON.stringify`, so that
//! every JavaScript string survives the trip, lone surrogates included.

mod core;
mod error;
mod memory;
mod store;
mod wire;
