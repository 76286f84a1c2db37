//! The storage engine: plain Rust, no Node types. See `store.rs` for the layout and
//! its invariants, `query.rs` for how reads choose an index.

mod error;
mod filter;
mod grow;
mod id_index;
pub mod json;
mod message;
mod model;
pub(crate) mod output;
mod query;
mod restore;
mod save;
mod sessions;
mod store;
pub mod time;

pub use error::SaveError;

/// What other stores of this crate (PostgreSQL) reuse to read a message as the engine
/// does: its fields, the text with the save time added, its `data`.
pub(crate) mod fields {
    pub(crate) use super::filter::data_of;
    pub(crate) use super::message::Fields;
    pub(crate) use super::store::push_stamped;
}
pub use filter::{data_matches, Filter, JsonCondition};
pub use model::{JsonString, MessageKind, SessionInfo, Stats, StreamInfo};
pub use restore::JournalMessage;
pub use save::{Expected, SaveOutcome};
pub use sessions::TouchMark;
pub use store::{Engine, StoredMessage, MAX_MESSAGES, NO_SESSION};
pub use time::Millis;
