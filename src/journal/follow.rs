//! `Follower`: a store file read by a process that is not its writer (`{ readOnly:
//! true }`), kept up with the writer's commits.
//!
//! The follower has its own read-only connection and never takes the writer's lock
//! (`sqlite.rs`). It replays the file into an engine as the writer's open does, then,
//! on each `refresh`, asks SQLite whether any other connection committed since
//! (`PRAGMA data_version`, which costs no read of the file's pages) and, if one did,
//! replays only what was added, in one read transaction, so that it sees whole commits:
//! new streams and sessions (their `ix` past those it has), the messages after the last
//! position it has, and every session's `last_activity`.
//!
//! A reset recreates the file's tables (`Journal::clear`), which moves SQLite's schema
//! cookie (`PRAGMA schema_version`); a file migrated from version 1 moves its
//! `user_version`; a file that holds fewer streams, sessions or messages than the
//! follower has was replaced. In each case the engine is rebuilt from the file, and
//! `Refresh::Rebuilt` says whether positions started again (everything kept about the
//! old ones is stale), which only a migration does not do.
//!
//! Invariant: `journal.written` is what the engine holds of the file, moved forward as
//! each piece is added, so a refresh that fails half way (a damaged chunk) leaves the
//! two agreeing, and the next refresh goes on from there; `data_version` moves only
//! once a refresh succeeded.

use super::error::JournalError;
use super::sqlite::Journal;
use crate::engine::{Engine, JsonString};

/// What a `refresh` found.
#[derive(Debug)]
pub enum Refresh {
    /// Nothing committed since the last look.
    Unchanged,
    /// New commits, now in the engine.
    Applied,
    /// The file was reset, migrated or replaced: the engine rebuilt from it, to be used
    /// in place of the old one. `reset`: its positions started again.
    Rebuilt { engine: Box<Engine>, reset: bool },
}

pub struct Follower {
    journal: Journal,
    /// `PRAGMA data_version` when last refreshed: another connection's commit changes it.
    data_version: i64,
    /// `PRAGMA schema_version` when last replayed: a reset changes it.
    schema: i64,
    /// `PRAGMA user_version` when last replayed: a migration changes it.
    version: i64,
}

impl Follower {
    /// Opens the existing file at `path` read-only and replays it. A writer may hold
    /// it, or none.
    pub fn open(path: &str) -> Result<(Follower, Engine), JournalError> {
        let (journal, version) = Journal::open_read_only(path)?;
        let mut follower = Follower { journal, data_version: 0, schema: 0, version };
        let engine = follower.read(|f| {
            f.data_version = f.pragma("data_version")?;
            f.rebuild()
        })?;
        Ok((follower, engine))
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.journal.path
    }

    /// Takes into `engine` (which this follower built) what the writer committed since
    /// the last refresh.
    pub fn refresh(&mut self, engine: &mut Engine) -> Result<Refresh, JournalError> {
        let data_version = self.pragma("data_version")?;
        if data_version == self.data_version {
            return Ok(Refresh::Unchanged);
        }
        let outcome = self.read(|f| {
            let schema = f.pragma("schema_version")?;
            let version = f.pragma("user_version")?;
            if schema != f.schema || version != f.version {
                // A migration rewrites the same messages; anything else was a reset.
                let migrated = version != f.version;
                let engine = f.rebuild()?;
                return Ok(Refresh::Rebuilt { engine: Box::new(engine), reset: !migrated });
            }
            let (streams, sessions, last) = f.counts()?;
            let w = &f.journal.written;
            if streams < w.streams || sessions < w.sessions || last < w.messages {
                let engine = f.rebuild()?;
                return Ok(Refresh::Rebuilt { engine: Box::new(engine), reset: true });
            }
            f.append(engine)?;
            Ok(Refresh::Applied)
        })?;
        self.data_version = data_version;
        Ok(outcome)
    }

    /// Runs `op` in one read transaction: it sees the file as one commit left it.
    fn read<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T, JournalError>) -> Result<T, JournalError> {
        self.journal.conn.execute_batch("BEGIN").map_err(self.journal.io())?;
        let out = op(self);
        // Ending a read transaction cannot lose anything; an error here is the file's.
        let end = self.journal.conn.execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        let out = out?;
        end.map_err(self.journal.io())?;
        Ok(out)
    }

    fn pragma(&self, name: &str) -> Result<i64, JournalError> {
        self.journal.conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0)).map_err(self.journal.io())
    }

    /// A new engine from the whole file (`written` says what it holds).
    fn rebuild(&mut self) -> Result<Engine, JournalError> {
        self.schema = self.pragma("schema_version")?;
        self.version = self.pragma("user_version")?;
        self.journal.load(self.version)
    }

    /// The file's streams, sessions and last position.
    fn counts(&self) -> Result<(usize, usize, u64), JournalError> {
        let conn = &self.journal.conn;
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(self.journal.io());
        let streams = count("SELECT count(*) FROM streams")?;
        let sessions = count("SELECT count(*) FROM sessions")?;
        let last = if self.version == 1 {
            count("SELECT coalesce(max(position), 0) FROM messages")?
        } else {
            count("SELECT coalesce((SELECT first + count - 1 FROM chunks ORDER BY first DESC LIMIT 1), 0)")?
        };
        Ok((streams as usize, sessions as usize, last as u64))
    }

    /// Adds what the file has past `written`: streams, sessions, messages (in that
    /// order, as each may name the ones before), then every session's activity.
    fn append(&mut self, engine: &mut Engine) -> Result<(), JournalError> {
        let path = self.journal.path.clone();
        let corrupt = |reason: String| JournalError::Corrupt { path: path.clone(), reason };
        let io = |source| JournalError::Io { path: path.clone(), source };
        {
            let conn = &self.journal.conn;
            let mut q = conn
                .prepare_cached("SELECT ix, name, created_at FROM streams WHERE ix >= ?1 ORDER BY ix")
                .map_err(io)?;
            let mut rows = q.query([engine.stream_count() as i64]).map_err(io)?;
            while let Some(row) = rows.next().map_err(io)? {
                let (ix, name, created): (i64, String, i64) =
                    (row.get(0).map_err(io)?, row.get(1).map_err(io)?, row.get(2).map_err(io)?);
                let name =
                    JsonString::from_literal(&name).ok_or_else(|| corrupt(format!("stream {ix} has a bad name")))?;
                if ix as usize != engine.stream_count() {
                    return Err(corrupt(format!("stream numbers skip to {ix}")));
                }
                engine.restore_stream(name, created);
            }
            self.journal.written.streams = engine.stream_count();

            let mut q = conn
                .prepare_cached("SELECT ix, id, started_at FROM sessions WHERE ix >= ?1 ORDER BY ix")
                .map_err(io)?;
            let mut rows = q.query([engine.session_count() as i64]).map_err(io)?;
            while let Some(row) = rows.next().map_err(io)? {
                let (ix, id, started): (i64, String, i64) =
                    (row.get(0).map_err(io)?, row.get(1).map_err(io)?, row.get(2).map_err(io)?);
                let id = JsonString::from_literal(&id).ok_or_else(|| corrupt(format!("session {ix} has a bad id")))?;
                if ix as usize != engine.session_count() {
                    return Err(corrupt(format!("session numbers skip to {ix}")));
                }
                engine.restore_session(id, started);
            }
            self.journal.written.sessions = engine.session_count();
        }
        // A version 1 file gains nothing but by a writer, which migrates it first.
        if self.version != 1 {
            let have = engine.len() as u64;
            let last = self.journal.load_chunks_after(engine, have);
            // What was replayed before a damaged chunk stays, counted.
            self.journal.written.messages = engine.len() as u64;
            last?;
        }
        let conn = &self.journal.conn;
        let mut q = conn.prepare_cached("SELECT ix, last_activity FROM sessions ORDER BY ix").map_err(io)?;
        let mut rows = q.query([]).map_err(io)?;
        while let Some(row) = rows.next().map_err(io)? {
            let (ix, last): (i64, i64) = (row.get(0).map_err(io)?, row.get(1).map_err(io)?);
            let Some(session) = engine.session_at(ix as usize) else { continue };
            if session.last_activity != last {
                let id = session.session_id.clone();
                engine.restore_session_activity(&id, last);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Follower, Refresh};
    use crate::engine::{Engine, JsonString};
    use crate::journal::{Durability, Journal, JournalError};

    /// What a follower must agree with its writer on: every message's text and place,
    /// streams, sessions (with their counts and activity) and the totals.
    fn same(follower: &Engine, writer: &Engine) {
        let (f, w) = (follower.stats(), writer.stats());
        assert_eq!(
            (f.total_messages, f.total_commands, f.total_events, f.total_streams, f.total_sessions),
            (w.total_messages, w.total_commands, w.total_events, w.total_streams, w.total_sessions)
        );
        assert_eq!((f.oldest_message, f.newest_message), (w.oldest_message, w.newest_message));
        for i in 0..writer.len() as u32 {
            assert_eq!(follower.text(i), writer.text(i), "record {i}");
        }
        for ix in 0..writer.stream_count() {
            assert_eq!(follower.stream_at(ix), writer.stream_at(ix));
        }
        assert_eq!(follower.sessions().cloned().collect::<Vec<_>>(), writer.sessions().cloned().collect::<Vec<_>>());
    }

    fn applied(r: Refresh) {
        assert!(matches!(r, Refresh::Applied), "{r:?}");
    }

    /// Whether the follower's refresh rebuilt its engine, and why; it takes the rebuilt one.
    fn rebuilt(r: Refresh, engine: &mut Engine) -> bool {
        let Refresh::Rebuilt { engine: e, reset } = r else { panic!("not rebuilt: {r:?}") };
        *engine = *e;
        reset
    }

    #[test]
    fn a_follower_takes_in_each_commit_and_a_reset() {
        let dir = std::env::temp_dir().join(format!("ms-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db").to_string_lossy().into_owned();
        let missing = dir.join("missing.db").to_string_lossy().into_owned();
        let _ = std::fs::remove_file(&path);
        let s = |n: &str| JsonString::new(n);
        let msg = |i: i64| format!(r#"{{"type":"T{i}","data":{{"i":{i}}}}}"#);

        // A missing file is refused, and not made.
        let Err(JournalError::Missing { .. }) = Follower::open(&missing) else { panic!("opened a missing file") };
        assert!(!std::path::Path::new(&missing).exists());

        let (mut journal, mut w) = Journal::open(&path, Durability::Process).unwrap();
        w.save(&s("a"), &[msg(1).as_str()], None, None, 10).unwrap();
        journal.write(&w).unwrap();
        // The writer holds the file: a follower opens alongside it.
        let (mut follower, mut f) = Follower::open(&path).unwrap();
        same(&f, &w);
        assert_eq!(f.len(), 1);
        assert!(matches!(follower.refresh(&mut f).unwrap(), Refresh::Unchanged));

        // New streams, a session, messages in it, more than one commit: taken in at once.
        let session = w.create_session(20);
        let texts: Vec<String> = (2..200).map(msg).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        w.save(&s("b"), &refs, None, None, 30).unwrap();
        journal.write(&w).unwrap();
        w.save(&s("a"), &[msg(200).as_str()], None, None, 40).unwrap();
        journal.write(&w).unwrap();
        applied(follower.refresh(&mut f).unwrap());
        same(&f, &w);
        assert_eq!((f.len(), f.stream_count(), f.session_count()), (200, 3, 1)); // a session has a stream too
        assert!(matches!(follower.refresh(&mut f).unwrap(), Refresh::Unchanged));

        // A session's activity alone.
        w.end_session(&session, 50);
        journal.write(&w).unwrap();
        applied(follower.refresh(&mut f).unwrap());
        same(&f, &w);
        assert_eq!(f.session_info(&session).unwrap().last_activity, 50);

        // A reset, then more messages than the follower had: still seen as a reset.
        journal.clear().unwrap();
        w.reset();
        for i in 0..250 {
            w.save(&s("c"), &[msg(i).as_str()], None, None, 60 + i).unwrap();
        }
        journal.write(&w).unwrap();
        assert!(rebuilt(follower.refresh(&mut f).unwrap(), &mut f));
        same(&f, &w);
        assert_eq!((f.len(), f.stream_count(), f.session_count()), (250, 1, 0));

        // A reset to an empty file.
        journal.clear().unwrap();
        w.reset();
        assert!(rebuilt(follower.refresh(&mut f).unwrap(), &mut f));
        assert_eq!((f.len(), f.stream_count()), (0, 0));
        applied_after_save(&mut journal, &mut w, &mut follower, &mut f);

        // The writer closed: the follower reads on, and reopens the file alone.
        drop(journal);
        assert!(matches!(follower.refresh(&mut f).unwrap(), Refresh::Unchanged | Refresh::Applied));
        same(&f, &w);
        drop(follower);
        let (_, again) = Follower::open(&path).unwrap();
        same(&again, &w);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn applied_after_save(journal: &mut Journal, w: &mut Engine, follower: &mut Follower, f: &mut Engine) {
        w.save(&JsonString::new("d"), &[r#"{"type":"D","data":{}}"#], None, None, 99).unwrap();
        journal.write(w).unwrap();
        applied(follower.refresh(f).unwrap());
        same(f, w);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused() {
        let dir = std::env::temp_dir().join(format!("ms-follow-not-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("notes.txt").to_string_lossy().into_owned();
        std::fs::write(&text, "hello, this is not SQLite at all").unwrap();
        let Err(e) = Follower::open(&text) else { panic!("opened a text file") };
        assert_eq!(
            e.to_string(),
            format!("{text} is not a message-store file (not a SQLite database); it was left untouched")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
