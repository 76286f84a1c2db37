//! A file's history read straight from its chunks, without rebuilding an engine: what
//! exporting or copying a SQLite store reads, in memory that stays flat whatever the
//! file's size (the stream and session tables, and one page at a time).
//!
//! The file is opened read-only and read in one transaction, so the history is the
//! file as it was at the header, whatever a writer commits meanwhile.

use rusqlite::{Connection, OpenFlags};

use super::chunk;
use super::error::JournalError;
use super::names;
use super::schema::{APPLICATION_ID, SCHEMA_VERSION};
use super::sqlite::io_error;
use crate::engine::{JsonString, Millis};
use crate::history::{write_message_line, write_stream_line, Header, MessageLine, SessionLine};

/// A file's history, read a page at a time.
pub struct FileHistory {
    conn: Connection,
    path: String,
    streams: Vec<(JsonString, Millis)>,
    sessions: Vec<SessionLine>,
    last_position: u64,
    /// Where reading stands: the position read up to, and each stream's next revision then.
    read_to: u64,
    revisions: Vec<u64>,
}

impl FileHistory {
    /// Opens the file at `path` for reading (never creating it) and takes its snapshot.
    pub fn open(path: &str) -> Result<FileHistory, JournalError> {
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        if !std::path::Path::new(path).is_file() {
            return Err(JournalError::Missing { path: path.to_owned() });
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(io)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(io)?;
        let mut file = FileHistory {
            conn,
            path: path.to_owned(),
            streams: Vec::new(),
            sessions: Vec::new(),
            last_position: 0,
            read_to: 0,
            revisions: Vec::new(),
        };
        file.conn.execute_batch("BEGIN").map_err(file.io())?;
        file.snapshot()?;
        Ok(file)
    }

    fn io(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        move |source| io_error(&self.path, source)
    }

    fn corrupt(&self, reason: String) -> JournalError {
        JournalError::Corrupt { path: self.path.clone(), reason }
    }

    /// Reads the tables of names and the last position, in the transaction.
    fn snapshot(&mut self) -> Result<(), JournalError> {
        let app: i64 = self.conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(self.io())?;
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(self.io())?;
        if app != APPLICATION_ID {
            return Err(JournalError::NotOurs {
                path: self.path.clone(),
                reason: format!("a SQLite database of another application (application_id {app})"),
            });
        }
        if version != SCHEMA_VERSION {
            return Err(self.corrupt(format!(
                "it is of version {version}, which only opening it with SqliteMessageStore (which upgrades it) reads"
            )));
        }
        let (streams, sessions) = names::read(&self.conn, &self.path)?;
        let sessions = sessions
            .into_iter()
            .map(|s| SessionLine { id: s.id, started_at: s.started_at, last_activity: s.last_activity })
            .collect();
        let last: Option<i64> =
            self.conn.query_row("SELECT max(first + count - 1) FROM chunks", [], |r| r.get(0)).map_err(self.io())?;
        self.revisions = vec![0; streams.len()];
        self.streams = streams;
        self.sessions = sessions;
        self.last_position = last.unwrap_or(0).max(0) as u64;
        Ok(())
    }

    /// The header of the history after `after`, and the export's end of streams.
    pub fn header(&self, after: u64) -> Header {
        let after = after.min(self.last_position);
        Header {
            after,
            last_position: self.last_position,
            messages: self.last_position - after,
            streams: self.streams.len() as u64,
            sessions: self.sessions.clone(),
        }
    }

    /// Appends lines after position `after` (streams before `declared` declared) until
    /// `out` holds about `budget` bytes or the history's end; returns the new `after`
    /// and `declared`, and whether it ended. Reads on from where the last page stopped;
    /// any other `after` reads the file again from its start (a resumed copy, once).
    pub fn page(
        &mut self,
        after: u64,
        mut declared: usize,
        messages_only: bool,
        budget: usize,
        out: &mut String,
    ) -> Result<(u64, usize, bool), JournalError> {
        let after = after.min(self.last_position);
        if after < self.read_to {
            self.read_to = 0;
            self.revisions.iter_mut().for_each(|r| *r = 0);
        }
        let start = out.len();
        let mut q = self
            .conn
            .prepare_cached("SELECT first, count, encoding, meta, bodies FROM chunks WHERE first > ?1 ORDER BY first")
            .map_err(self.io())?;
        // Pages end at a chunk's end, so the next chunk is the first after `read_to`.
        let mut rows = q.query([self.read_to as i64]).map_err(self.io())?;
        let mut at = self.read_to;
        while at < self.last_position {
            if out.len() - start >= budget && out.len() > start {
                break;
            }
            let Some(row) = rows.next().map_err(self.io())? else { break };
            let first: i64 = row.get(0).map_err(self.io())?;
            let count: i64 = row.get(1).map_err(self.io())?;
            let encoding: i64 = row.get(2).map_err(self.io())?;
            let corrupt = |reason: String| JournalError::Corrupt { path: self.path.clone(), reason };
            let meta =
                row.get_ref(3).map_err(self.io())?.as_blob().map_err(|e| corrupt(format!("chunk {first}: {e}")))?;
            let stored =
                row.get_ref(4).map_err(self.io())?.as_bytes().map_err(|e| corrupt(format!("chunk {first}: {e}")))?;
            let bodies = chunk::unpack(encoding, stored, meta).map_err(|e| corrupt(format!("chunk {first} {e}")))?;
            if first as u64 != at + 1 {
                return Err(corrupt(format!("positions skip from {at} to {first}")));
            }
            let count = u32::try_from(count).map_err(|_| corrupt(format!("chunk {first} counts {count} messages")))?;
            let entries = chunk::decode(count, meta, &bodies).map_err(|e| corrupt(format!("chunk {first} {e}")))?;
            for e in entries {
                let position = at + 1;
                if position > self.last_position {
                    break;
                }
                let ix = e.stream as usize;
                let (stream, _) =
                    self.streams.get(ix).ok_or_else(|| corrupt(format!("message {position} names stream {ix}")))?;
                let revision = self.revisions[ix];
                self.revisions[ix] += 1;
                at = position;
                if position <= after {
                    continue;
                }
                if !messages_only {
                    while declared <= ix {
                        let (name, created) = &self.streams[declared];
                        write_stream_line(out, name, *created);
                        declared += 1;
                    }
                }
                let session = match e.session {
                    Some(s) => Some(
                        self.sessions
                            .get(s as usize)
                            .ok_or_else(|| corrupt(format!("message {position} names session {s}")))?
                            .id
                            .clone(),
                    ),
                    None => None,
                };
                write_message_line(
                    out,
                    &MessageLine {
                        position,
                        stream: stream.clone(),
                        revision,
                        kind: e.kind,
                        time: e.time,
                        session,
                        text: e.text,
                    },
                );
            }
        }
        self.read_to = at;
        let done = at >= self.last_position;
        if done && !messages_only {
            while declared < self.streams.len() {
                let (name, created) = &self.streams[declared];
                write_stream_line(out, name, *created);
                declared += 1;
            }
        }
        Ok((at.max(after), declared, done))
    }

    /// The file's last position now (after the snapshot's transaction ends: what a
    /// writer committed since is counted).
    pub fn head_now(&mut self) -> Result<u64, JournalError> {
        let _ = self.conn.execute_batch("COMMIT");
        let last: Option<i64> =
            self.conn.query_row("SELECT max(first + count - 1) FROM chunks", [], |r| r.get(0)).map_err(self.io())?;
        Ok(last.unwrap_or(0).max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::FileHistory;
    use crate::engine::JsonString;
    use crate::history::engine::{header, page, Cursor};
    use crate::journal::{Durability, Journal};

    /// The file's history is the one its engine exports, byte for byte, from any position.
    #[test]
    fn a_file_reads_as_its_engine_exports() {
        let dir = std::env::temp_dir().join(format!("ms-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db").to_string_lossy().into_owned();
        let _ = std::fs::remove_file(&path);
        let (mut journal, mut engine) = Journal::open(&path, Durability::Process).unwrap();
        let s = |n: &str| JsonString::new(n);
        engine.save(&s("empty"), &[], None, None, 5).unwrap();
        for i in 0..50 {
            let text = format!(r#"{{"type":"T{i}","data":{{"i":{i}}}}}"#);
            engine.save(&s(&format!("s{}", i % 3)), &[text.as_str()], None, None, 10 + i).unwrap();
            if i == 20 {
                engine.create_session(40);
            }
            if i % 7 == 0 {
                journal.write(&engine).unwrap();
            }
        }
        engine.save(&s("last-empty"), &[], None, None, 90).unwrap();
        journal.write(&engine).unwrap();
        drop(journal);

        for after in [0u64, 1, 20, 49, 51] {
            let want = {
                let h = header(&engine, after);
                let mut out = String::new();
                h.write(&mut out);
                let mut c = Cursor { after: h.after, declared: 0 };
                while !page(&engine, &mut c, h.last_position, h.streams as usize, false, 1 << 20, &mut out) {}
                out
            };
            let mut file = FileHistory::open(&path).unwrap();
            let h = file.header(after);
            let mut got = String::new();
            h.write(&mut got);
            let (mut a, mut d) = (h.after, 0);
            loop {
                let (na, nd, done) = file.page(a, d, false, 64, &mut got).unwrap();
                (a, d) = (na, nd);
                if done {
                    break;
                }
            }
            assert_eq!(got, want, "after {after}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
