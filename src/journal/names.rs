//! The file's tables of names (streams, sessions), read whole in creation order: what
//! reopening a file replays into its engine, and what exporting a file declares.

use rusqlite::Connection;

use super::error::JournalError;
use super::sqlite::io_error;
use crate::engine::{JsonString, Millis};

/// The streams (name, creation time) and the sessions, in creation order.
pub(super) type Names = (Vec<(JsonString, Millis)>, Vec<SessionRow>);

/// A session as the file keeps it.
pub(super) struct SessionRow {
    pub id: JsonString,
    pub started_at: Millis,
    pub last_activity: Millis,
}

/// Every stream (name, creation time) and every session, in creation order; refuses a
/// bad name or a gap in the numbering (a damaged or hand-edited file).
pub(super) fn read(conn: &Connection, path: &str) -> Result<Names, JournalError> {
    let io = |e| io_error(path, e);
    let corrupt = |reason: String| JournalError::Corrupt { path: path.to_owned(), reason };
    let mut streams = Vec::new();
    let mut q = conn.prepare("SELECT ix, name, created_at FROM streams ORDER BY ix").map_err(io)?;
    let mut rows = q.query([]).map_err(io)?;
    while let Some(row) = rows.next().map_err(io)? {
        let (ix, name, created): (i64, String, i64) =
            (row.get(0).map_err(io)?, row.get(1).map_err(io)?, row.get(2).map_err(io)?);
        let name = JsonString::from_literal(&name).ok_or_else(|| corrupt(format!("stream {ix} has a bad name")))?;
        if ix as usize != streams.len() {
            return Err(corrupt(format!("stream numbers skip to {ix}")));
        }
        streams.push((name, created));
    }
    let mut sessions = Vec::new();
    let mut q = conn.prepare("SELECT ix, id, started_at, last_activity FROM sessions ORDER BY ix").map_err(io)?;
    let mut rows = q.query([]).map_err(io)?;
    while let Some(row) = rows.next().map_err(io)? {
        let ix: i64 = row.get(0).map_err(io)?;
        let id: String = row.get(1).map_err(io)?;
        let id = JsonString::from_literal(&id).ok_or_else(|| corrupt(format!("session {ix} has a bad id")))?;
        if ix as usize != sessions.len() {
            return Err(corrupt(format!("session numbers skip to {ix}")));
        }
        sessions.push(SessionRow { id, started_at: row.get(2).map_err(io)?, last_activity: row.get(3).map_err(io)? });
    }
    Ok((streams, sessions))
}
