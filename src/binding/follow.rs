//! A `SqliteMessageStore` opened read-only (`{ readOnly: true }`), alongside the
//! file's writer in another process: opening it, taking in what the writer committed
//! since the last look (the JavaScript face asks before every read, and on a timer
//! while subscriptions are open), and the refusal every change gets. The following
//! itself is `journal/follow.rs`.

use napi::bindgen_prelude::External;
use napi::Env;
use napi_derive::napi;

use super::error::{closed, open_failed, Result};
use super::store::{NativeStore, Store};
use crate::journal::{Follower, Refresh};

/// Opens the existing file at `path` read-only, without the writer's lock, and
/// rebuilds the store it holds. Creates nothing.
#[napi(catch_unwind)]
pub fn open_sqlite_read_only(env: Env, path: String) -> Result<Store> {
    let (follower, engine) = Follower::open(&path).map_err(open_failed)?;
    let mut store = NativeStore::new(engine, None);
    store.follower = Some(follower);
    store.recount(&env);
    Ok(External::new(store))
}

/// What `refresh` took in: the last position now, and whether positions started
/// again (the writer reset the file), so that everything kept about the old ones is stale.
#[napi(object)]
pub struct Refreshed {
    pub head: f64,
    pub reset: bool,
}

/// Takes in what the file's writer committed since the last call: `null` when nothing
/// (or the store is not read-only). One `PRAGMA data_version` when nothing changed.
#[napi(catch_unwind)]
pub fn refresh(env: Env, store: &mut Store) -> Result<Option<Refreshed>> {
    let store: &mut NativeStore = store;
    if store.closed {
        return Err(closed());
    }
    let Some(follower) = store.follower.as_mut() else { return Ok(None) };
    let mut engine = store.core.engine()?;
    let outcome = follower.refresh(&mut engine);
    let reset = match outcome {
        Ok(Refresh::Unchanged) => return Ok(None),
        Ok(Refresh::Applied) => false,
        Ok(Refresh::Rebuilt { engine: rebuilt, reset }) => {
            *engine = *rebuilt;
            reset
        }
        Err(e) => {
            // Part of what was added may be in the engine: counted, and reported by
            // the next refresh that succeeds.
            store.core.note_bytes(&engine);
            drop(engine);
            store.recount(&env);
            return Err(open_failed(e));
        }
    };
    let head = engine.len() as f64;
    store.core.note_bytes(&engine);
    drop(engine);
    if reset {
        store.pending = Vec::new();
        store.next = 0;
    }
    store.recount(&env);
    Ok(Some(Refreshed { head, reset }))
}

/// Throws what every change of this store is refused with (read-only, closed, or a
/// failed write), or nothing when it takes changes.
#[napi(catch_unwind)]
pub fn assert_writable(store: &mut Store) -> Result<()> {
    store.writable()?;
    Ok(())
}
