//! Writing what the engine gained: a batch copied out of the engine under its lock
//! (`prepare`), then written in one transaction (`commit`), possibly on another
//! thread; `write` does both at once.

use rusqlite::{params, Connection};

use super::chunk::{self, Chunk, CHUNK_BYTES};
use super::error::JournalError;
use super::sqlite::{Batch, Journal, Written};
use crate::engine::Engine;

impl Journal {
    /// True when the engine has something the file does not.
    pub fn behind(&self, engine: &Engine) -> bool {
        engine.len() as u64 > self.written.messages
            || engine.stream_count() > self.written.streams
            || engine.session_count() > self.written.sessions
            || engine.touch_mark() != self.written.touched
    }

    /// Writes everything the engine gained since the last write, in one transaction,
    /// synced as the durability level says. On failure nothing of it is in the file,
    /// and a later write tries it again.
    pub fn write(&mut self, engine: &Engine) -> Result<(), JournalError> {
        match self.prepare(engine) {
            Some(batch) => self.commit(batch),
            None => Ok(()),
        }
    }

    /// Copies out of the engine what the file lacks, so that it can be written on
    /// another thread while the engine goes on; `None` when the file is up to date.
    pub fn prepare(&self, engine: &Engine) -> Option<Batch> {
        if !self.behind(engine) {
            return None;
        }
        let streams = (self.written.streams..engine.stream_count())
            .map(|ix| {
                let (name, created) = engine.stream_at(ix).expect("ix < stream_count");
                (ix as i64, name.literal().to_owned(), created)
            })
            .collect();
        let sessions = (self.written.sessions..engine.session_count())
            .map(|ix| {
                let s = engine.session_at(ix).expect("ix < session_count");
                (ix as i64, s.session_id.literal().to_owned(), s.started_at, s.last_activity)
            })
            .collect();
        // Only sessions the file already has need an update; each once, with its value now.
        let mut touched: Vec<u32> =
            engine.touched_since(self.written.touched).filter(|&ix| (ix as usize) < self.written.sessions).collect();
        touched.sort_unstable();
        touched.dedup();
        let activity = touched
            .into_iter()
            .map(|ix| (i64::from(ix), engine.session_at(ix as usize).expect("a touched session exists").last_activity))
            .collect();
        let chunks = chunks_of(engine, self.written.messages + 1, engine.len() as u64);
        let after = Written {
            streams: engine.stream_count(),
            sessions: engine.session_count(),
            messages: engine.len() as u64,
            touched: engine.touch_mark(),
        };
        Some(Batch { generation: self.generation, streams, sessions, activity, chunks, after })
    }

    /// Writes a prepared batch in one transaction. A batch prepared before the file was
    /// cleared is dropped: what it held was reset away.
    pub fn commit(&mut self, batch: Batch) -> Result<(), JournalError> {
        if batch.generation != self.generation {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction().map_err(self.io())?;
        {
            let mut q = tx
                .prepare_cached("INSERT INTO streams (ix, name, created_at) VALUES (?1, ?2, ?3)")
                .map_err(self.io())?;
            for (ix, name, created) in &batch.streams {
                q.execute(params![ix, name, created]).map_err(self.io())?;
            }
            let mut q = tx
                .prepare_cached("INSERT INTO sessions (ix, id, started_at, last_activity) VALUES (?1, ?2, ?3, ?4)")
                .map_err(self.io())?;
            for (ix, id, started, last) in &batch.sessions {
                q.execute(params![ix, id, started, last]).map_err(self.io())?;
            }
            let mut q = tx.prepare_cached("UPDATE sessions SET last_activity = ?2 WHERE ix = ?1").map_err(self.io())?;
            for (ix, last) in &batch.activity {
                q.execute(params![ix, last]).map_err(self.io())?;
            }
        }
        insert_chunks(&tx, &batch.chunks).map_err(self.io())?;
        tx.commit().map_err(self.io())?;
        self.written = batch.after;
        Ok(())
    }
}

/// The messages at positions `first..=last` as chunks of about `CHUNK_BYTES` each.
pub(super) fn chunks_of(engine: &Engine, first: u64, last: u64) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut position = first;
    while position <= last {
        let mut c = Chunk::new(position);
        let start = position;
        let mut bytes = 0usize;
        while position <= last && (bytes < CHUNK_BYTES || c.count == 0) {
            let m = engine.journal_message(position).expect("position <= len");
            c.push_meta(m.text.len(), m.stream_index, m.session_index, m.time, m.kind);
            bytes += m.text.len();
            position += 1;
        }
        c.seal(engine.journal_texts(start, position - 1));
        chunks.push(c);
    }
    chunks
}

pub(super) fn insert_chunks(conn: &Connection, chunks: &[Chunk]) -> rusqlite::Result<()> {
    let mut q =
        conn.prepare_cached("INSERT INTO chunks (first, count, encoding, meta, bodies) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for c in chunks {
        let encoding = c.bodies.encoding();
        match &c.bodies {
            chunk::Stored::Text(text) => q.execute(params![c.first as i64, c.count, encoding, c.meta, text])?,
            chunk::Stored::Lz4(packed) => q.execute(params![c.first as i64, c.count, encoding, c.meta, packed])?,
        };
    }
    Ok(())
}
