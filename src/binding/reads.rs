//! The native functions that read a store: runs of records, the compact pages built
//! from them, the serving JSON, and the small records (stream info, sessions, stats).

use napi::bindgen_prelude::Uint32Array;
use napi::Env;
use napi_derive::napi;

use super::error::{invalid, too_large, Result};
use super::store::{limit, Store, MAX_STRING};
use super::wire;
use crate::engine::Engine;

/// One string in the serving shape, or an error when JavaScript could not hold it.
fn serving_json(engine: &Engine, records: &[u32]) -> Result<String> {
    let mut out = String::with_capacity(engine.messages_json_len(records));
    engine.write_messages(records, &mut out);
    // UTF-16 units are at most the UTF-8 bytes: count them only when it matters.
    if out.len() > MAX_STRING {
        let units: usize = out.chars().map(char::len_utf16).sum();
        if units > MAX_STRING {
            return Err(too_large(records.len(), units, MAX_STRING));
        }
    }
    Ok(out)
}

/// The stream's revision (-1 when empty), or `null` when it does not exist.
#[napi(catch_unwind)]
pub fn stream_revision(env: Env, store: &mut Store, stream: String) -> Result<Option<i64>> {
    let stream = wire::literal("streamId", &stream)?;
    let revision = store.open()?.core.engine()?.stream_revision(&stream);
    store.recount(&env);
    Ok(revision)
}

/// The records (position - 1) a stream read returns, as runs: `[start, end, …]`.
/// The JavaScript face takes the objects it keeps (`lib/cache.js`) and asks `build`
/// for the rest.
#[napi(catch_unwind)]
pub fn read_stream_runs(
    env: Env,
    store: &mut Store,
    stream: String,
    from_revision: Option<i64>,
    count: Option<u32>,
) -> Result<Uint32Array> {
    let stream = wire::literal("streamId", &stream)?;
    let engine = store.open()?.core.engine()?;
    let runs = wire::runs(engine.read_stream(&stream, from_revision, limit(count)));
    drop(engine);
    store.recount(&env);
    Ok(Uint32Array::new(runs))
}

/// A subscription's page: the first `limit` records `filter` matches with positions in
/// `(after, upTo]`, as runs. Fewer than `limit` means the page read through `upTo`;
/// otherwise through its last record.
#[napi(catch_unwind)]
pub fn follow_runs(
    env: Env,
    store: &mut Store,
    filter: Option<String>,
    after: i64,
    up_to: i64,
    limit: u32,
) -> Result<Uint32Array> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    let engine = store.open()?.core.engine()?;
    let (records, _) = engine.follow(&filter, after, up_to, limit as usize);
    let runs = wire::runs(&records);
    drop(engine);
    store.recount(&env);
    Ok(Uint32Array::new(runs))
}

/// The position of a stream's message at `revision`, or `null` when it has none.
#[napi(catch_unwind)]
pub fn stream_position(store: &Store, stream: String, revision: i64) -> Result<Option<i64>> {
    let stream = wire::literal("streamId", &stream)?;
    Ok(store.open()?.core.engine()?.position_of(&stream, revision))
}

/// The records a filter matches, as runs (see `readStreamRuns`).
#[napi(catch_unwind)]
pub fn query_runs(env: Env, store: &mut Store, filter: Option<String>, count: Option<u32>) -> Result<Uint32Array> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    let engine = store.open()?.core.engine()?;
    let runs = wire::runs(&engine.query(&filter, limit(count)));
    drop(engine);
    store.recount(&env);
    Ok(Uint32Array::new(runs))
}

/// The first compact page of the given records' messages; `nextPage` gives the rest.
#[napi(catch_unwind)]
pub fn build(store: &mut Store, records: Uint32Array) -> Result<String> {
    let len = store.open()?.core.engine()?.len() as u32;
    if let Some(bad) = records.iter().find(|&&r| r >= len) {
        return Err(invalid("records", format!("holds {bad}, past the last record")));
    }
    let records = records.to_vec();
    store.first_page(records)
}

/// The next page of the last read, or `null` when there is none.
#[napi(catch_unwind)]
pub fn next_page(store: &mut Store) -> Result<Option<String>> {
    store.open()?;
    store.next_page()
}

/// A stream's messages as one JSON string in the serving shape.
#[napi(catch_unwind)]
pub fn read_stream_json(
    store: &Store,
    stream: String,
    from_revision: Option<i64>,
    count: Option<u32>,
) -> Result<String> {
    let stream = wire::literal("streamId", &stream)?;
    let engine = store.open()?.core.engine()?;
    serving_json(&engine, engine.read_stream(&stream, from_revision, limit(count)))
}

/// The messages matching a filter as one JSON string in the serving shape.
#[napi(catch_unwind)]
pub fn query_json(store: &Store, filter: Option<String>, count: Option<u32>) -> Result<String> {
    let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
    let engine = store.open()?.core.engine()?;
    serving_json(&engine, &engine.query(&filter, limit(count)))
}

#[napi(catch_unwind)]
pub fn stream_info(store: &Store, stream: String) -> Result<Option<String>> {
    let stream = wire::literal("streamId", &stream)?;
    Ok(store.open()?.core.engine()?.stream_info(&stream).as_ref().map(wire::stream_info))
}

#[napi(catch_unwind)]
pub fn streams(env: Env, store: &mut Store) -> Result<String> {
    let engine = store.open()?.core.engine()?;
    let out = wire::array(engine.stream_names().map(|s| s.literal()));
    drop(engine);
    store.recount(&env);
    Ok(out)
}

#[napi(catch_unwind)]
pub fn sessions(store: &Store) -> Result<String> {
    let mut out = String::from("[");
    let engine = store.open()?.core.engine()?;
    for (n, s) in engine.sessions().enumerate() {
        if n > 0 {
            out.push(',');
        }
        wire::write_session(&mut out, s);
    }
    out.push(']');
    Ok(out)
}

#[napi(catch_unwind)]
pub fn session_info(store: &Store, session_id: String) -> Result<Option<String>> {
    let id = wire::literal("sessionId", &session_id)?;
    Ok(store.open()?.core.engine()?.session_info(&id).map(|s| {
        let mut out = String::new();
        wire::write_session(&mut out, s);
        out
    }))
}

#[napi(catch_unwind)]
pub fn stats(env: Env, store: &mut Store) -> Result<String> {
    let stats = store.open()?.core.engine()?.stats();
    store.recount(&env);
    Ok(wire::stats(&stats))
}

/// How many messages the store can hold: the engine's limit, the one number the
/// JavaScript face checks a save against before acknowledging it.
#[napi(catch_unwind)]
pub fn capacity(store: &Store) -> Result<u32> {
    Ok(store.core.engine_as_is().capacity() as u32)
}

/// Test hook: lowers the store's capacity to `messages`, so that the tests reach the
/// limit (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi(catch_unwind)]
pub fn test_capacity(store: &Store, messages: u32) -> Result<()> {
    store.core.engine_as_is().capacity_for_tests = Some(messages as usize);
    Ok(())
}
