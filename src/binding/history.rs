//! A memory or file store's history (`src/history/`): exported a page at a time, and
//! imported a chunk of whole lines at a time, each chunk checked whole before any of it
//! is written, then written to the file (if any) in one transaction.

use napi::bindgen_prelude::External;
use napi::Env;
use napi_derive::napi;

use super::error::{open_failed, Code, Error, Result};
use super::store::{Store, PAGE_BYTES};
use crate::history::{self, engine as history_engine, Header, HistoryError};

impl From<HistoryError> for Error {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::Invalid(m) => Error::new(Code::InvalidHistory, m),
            HistoryError::Conflict(m) => Error::new(Code::NotEmpty, m),
        }
    }
}

/// Where an export starts: the header line, and where it ends.
#[napi(object)]
pub struct HistoryStart {
    /// The header, newline included.
    pub text: String,
    pub last_position: i64,
    /// The stream count, or what the export takes for it (`historyPage`'s `streams`).
    pub streams: i64,
}

/// A page of an export, and where the next one starts.
#[napi(object)]
pub struct HistoryPage {
    pub text: String,
    pub after: i64,
    pub declared: i64,
    /// The export reached its end.
    pub done: bool,
}

/// How many lines of each kind a chunk held (skipped ones included).
#[napi(object)]
pub struct HistoryLines {
    pub messages: i64,
    pub streams: i64,
}

/// The header of the history of the messages after position `after`, as the store is now.
#[napi(catch_unwind)]
pub fn history_header(store: &Store, after: i64) -> Result<HistoryStart> {
    let engine = store.open()?.core.engine()?;
    let header = history_engine::header(&engine, after.max(0) as u64);
    let mut text = String::new();
    header.write(&mut text);
    Ok(HistoryStart { text, last_position: header.last_position as i64, streams: header.streams as i64 })
}

/// The next page of an export that has written up to position `after` and declared
/// `declared` streams, and runs to `last` and `streams` (its header's).
#[napi(catch_unwind)]
pub fn history_page(
    store: &Store,
    after: i64,
    declared: i64,
    last: i64,
    streams: i64,
    messages_only: bool,
) -> Result<HistoryPage> {
    let engine = store.open()?.core.engine()?;
    let mut cursor = history_engine::Cursor { after: after.max(0) as u64, declared: declared.max(0) as usize };
    let mut text = String::with_capacity(PAGE_BYTES + (PAGE_BYTES >> 3));
    let done = history_engine::page(
        &engine,
        &mut cursor,
        last.max(0) as u64,
        streams.max(0) as usize,
        messages_only,
        PAGE_BYTES,
        &mut text,
    );
    Ok(HistoryPage { text, after: cursor.after as i64, declared: cursor.declared as i64, done })
}

/// Checks that the store can take the history whose header is `header`: refused
/// unless it is empty, or (`resume`) holds the history's start. Changes nothing.
/// Returns the store's last position.
#[napi(catch_unwind)]
pub fn import_begin(store: &mut Store, header: String, resume: bool) -> Result<i64> {
    let header = Header::parse(&header)?;
    let engine = store.writable()?.core.engine()?;
    history_engine::begin(&engine, &header, resume)?;
    Ok(engine.len() as i64)
}

/// Takes in `text`, whole lines of the history whose header is `header`, starting
/// with line `first_line`: every line checked before any is written; the lines read.
#[napi(catch_unwind)]
pub fn import_lines(
    env: Env,
    store: &mut Store,
    header: String,
    text: String,
    first_line: i64,
) -> Result<HistoryLines> {
    let header = Header::parse(&header)?;
    let lines = history::parse_lines(&text, first_line.max(1) as u64)?;
    let core = store.writable()?.core.clone();
    let mut engine = core.engine()?;
    let plan = history::plan(lines, &history_engine::Importing::new(&engine, &header))?;
    history_engine::apply(&mut engine, &header, &plan)?;
    core.note_bytes(&engine);
    drop(engine);
    store.commit()?;
    store.recount(&env);
    Ok(HistoryLines { messages: plan.message_lines as i64, streams: plan.stream_lines as i64 })
}

/// Ends an import: the header's sessions (added if no line was), with their last activity.
#[napi(catch_unwind)]
pub fn import_end(env: Env, store: &mut Store, header: String) -> Result<()> {
    let header = Header::parse(&header)?;
    let core = store.writable()?.core.clone();
    let mut engine = core.engine()?;
    history_engine::end(&mut engine, &header);
    core.note_bytes(&engine);
    drop(engine);
    store.commit()?;
    store.recount(&env);
    Ok(())
}

/// A SQLite store file's history read straight from the file, for the `message-store`
/// command (`lib/history.js`): no engine is built, so memory stays flat.
pub struct FileSource {
    file: Option<crate::journal::FileHistory>,
}

impl FileSource {
    fn open(&mut self) -> Result<&mut crate::journal::FileHistory> {
        self.file.as_mut().ok_or_else(super::error::closed)
    }
}

/// Opens the file at `path` read-only and takes its snapshot.
#[napi(catch_unwind)]
pub fn open_sqlite_history(path: String) -> Result<External<FileSource>> {
    let file = crate::journal::FileHistory::open(&path).map_err(open_failed)?;
    Ok(External::new(FileSource { file: Some(file) }))
}

#[napi(catch_unwind)]
pub fn file_history_header(source: &mut External<FileSource>, after: i64) -> Result<HistoryStart> {
    let header = source.open()?.header(after.max(0) as u64);
    let mut text = String::new();
    header.write(&mut text);
    Ok(HistoryStart { text, last_position: header.last_position as i64, streams: header.streams as i64 })
}

/// `history_page` for a file: it ends where its header does (`last` and `streams` are the header's).
#[napi(catch_unwind)]
pub fn file_history_page(
    source: &mut External<FileSource>,
    after: i64,
    declared: i64,
    _last: i64,
    _streams: i64,
    messages_only: bool,
) -> Result<HistoryPage> {
    let mut text = String::with_capacity(PAGE_BYTES + (PAGE_BYTES >> 3));
    let (after, declared, done) = source
        .open()?
        .page(after.max(0) as u64, declared.max(0) as usize, messages_only, PAGE_BYTES, &mut text)
        .map_err(open_failed)?;
    Ok(HistoryPage { text, after: after as i64, declared: declared as i64, done })
}

/// The file's last position now, past the snapshot (what a writer added since counts).
#[napi(catch_unwind)]
pub fn file_history_head(source: &mut External<FileSource>) -> Result<i64> {
    Ok(source.open()?.head_now().map_err(open_failed)? as i64)
}

#[napi(catch_unwind)]
pub fn file_history_close(source: &mut External<FileSource>) {
    source.file = None;
}
