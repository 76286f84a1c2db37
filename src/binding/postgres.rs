//! The native side of `PostgresMessageStore`: a class over one connection, whose
//! methods run on napi's tokio runtime and resolve to strings. A failure resolves
//! too, to `!<code>\n<message>` (no result starts with `!`): a task's rejection can
//! carry only napi's own status codes, and the JavaScript face needs ours.
//!
//! The connection is made by the first call, not the constructor, and again by the
//! first call after it broke; an append whose reply was lost is sent again once, with
//! the same batch id, which the append function recognises.

use std::sync::Arc;

use napi_derive::napi;
use tokio::sync::Mutex;

use super::error::Code;
use super::page;
use super::wire;
use crate::engine::json;
use crate::engine::{Expected, JsonString};
use crate::postgres::listen::Listener;
use crate::postgres::{Message, Pg, PgError, Save};

fn failure(code: Code, message: impl std::fmt::Display) -> String {
    format!("!{}\n{message}", code.as_ref())
}

fn pg_failure(e: PgError) -> String {
    match e {
        PgError::Config(why) => failure(Code::InvalidArgument, why),
        e @ PgError::Connect { .. } => failure(Code::ConnectFailed, e),
        e @ PgError::Query(_) => failure(Code::WriteFailed, e),
    }
}

#[napi]
pub struct PgStore {
    url: String,
    schema: String,
    conn: Arc<Mutex<Option<Arc<Pg>>>>,
    /// The connection that waits for notifications, made by the first `waitHead`.
    listener: Arc<Mutex<Option<Listener>>>,
    /// Cuts a `waitHead` short, so that closing does not wait for its poll.
    stop: Arc<tokio::sync::Notify>,
}

impl PgStore {
    /// The connection, made (or made again, after it broke) when needed.
    async fn pg(&self) -> Result<Arc<Pg>, String> {
        let mut conn = self.conn.lock().await;
        if let Some(pg) = conn.as_ref() {
            if !pg.is_closed() {
                return Ok(pg.clone());
            }
        }
        let pg = Arc::new(Pg::connect(&self.url, &self.schema).await.map_err(pg_failure)?);
        *conn = Some(pg.clone());
        Ok(pg)
    }

    async fn forget(&self) {
        *self.conn.lock().await = None;
    }

    /// Runs `op` on the connection; when it fails because the connection broke, runs
    /// it once more on a new one. Only for what is safe to send twice: reads, and
    /// changes the database recognises when repeated (batch ids, session ids).
    async fn retry<T, F, Fut>(&self, op: F) -> Result<T, String>
    where
        F: Fn(Arc<Pg>) -> Fut,
        Fut: std::future::Future<Output = Result<T, PgError>>,
    {
        let mut again = false;
        loop {
            let pg = self.pg().await?;
            match op(pg.clone()).await {
                Ok(v) => return Ok(v),
                Err(_) if pg.is_closed() && !again => {
                    again = true;
                    self.forget().await;
                }
                Err(e) => return Err(pg_failure(e)),
            }
        }
    }
}

/// Reads a payload of saves: four lines each, the save head (`wire::SaveHead`), the
/// stream's literal, the session's literal, the message text (one, or an array with
/// a batch head).
fn saves(payload: &str) -> std::result::Result<Vec<Save>, String> {
    let lines: Vec<&str> = payload.split('\n').collect();
    if !lines.len().is_multiple_of(4) {
        return Err(failure(Code::InvalidArgument, "the append payload is not in lines of four"));
    }
    let mut out = Vec::with_capacity(lines.len() / 4);
    for save in lines.chunks(4) {
        let head = wire::SaveHead::parse(save[0]).map_err(|e| failure(Code::InvalidArgument, e.reason))?;
        let stream = wire::literal("streamId", save[1]).map_err(|e| failure(Code::InvalidArgument, e.reason))?;
        let texts = if head.batch {
            json::array_elements(save[3]).map_err(|e| failure(Code::InvalidArgument, format!("messages {e}")))?
        } else {
            vec![save[3]]
        };
        let messages = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Message::new(t, &stream, head.kind, head.now).map_err(|reason| {
                    // Worded as the engine words it (and JavaScript before it).
                    failure(Code::InvalidArgument, crate::engine::SaveError::InvalidMessage { index: i, reason })
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.push(Save {
            stream: stream.literal().to_owned(),
            expected: head.expected.map(Expected::code),
            time: head.now,
            session: save[2].to_owned(),
            messages,
        });
    }
    Ok(out)
}

/// A read's filter from its wire text (none: every message).
fn filter_of(filter: Option<&str>) -> std::result::Result<Arc<crate::engine::Filter>, String> {
    let filter = filter.map(wire::filter).transpose().map_err(|e| failure(Code::InvalidArgument, e.reason))?;
    Ok(Arc::new(filter.unwrap_or_default()))
}

fn name(argument: &str, literal: &str) -> std::result::Result<JsonString, String> {
    wire::literal(argument, literal).map_err(|e| failure(Code::InvalidArgument, e.reason))
}

/// What a method resolves to: its result, or the failure it encodes.
fn reply(result: std::result::Result<String, String>) -> String {
    result.unwrap_or_else(|failure| failure)
}

// Each method checks its arguments, then runs on the connection through `retry`;
// its body is a `Result<String, String>` whose error is already a failure string.
#[napi]
impl PgStore {
    /// Does no I/O: the first call connects.
    #[napi(constructor)]
    pub fn new(url: String, schema: String) -> Self {
        // The tests' build counts live instances (its `Drop` is in native_stats.rs).
        #[cfg(feature = "test-hooks")]
        super::native_stats::pg_store_made();
        PgStore {
            url,
            schema,
            conn: Arc::new(Mutex::new(None)),
            listener: Arc::new(Mutex::new(None)),
            stop: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Connects (and creates the schema) now; resolves to "" or a failure.
    #[napi]
    pub async fn connect(&self) -> String {
        reply(self.pg().await.map(|_| String::new()))
    }

    /// Appends a group of saves in one transaction; resolves to the append function's
    /// outcome (`{"refused":[[i, kind, actual], …],"last":position}`) or a failure.
    /// The connection may break after the commit and before the reply: sent again
    /// with the same batch id, the group is applied at most once.
    #[napi]
    pub async fn append(&self, batch: String, payload: String) -> String {
        reply(
            async {
                let (saves, batch) = (Arc::new(saves(&payload)?), Arc::new(batch));
                self.retry(|pg| {
                    let (saves, batch) = (saves.clone(), batch.clone());
                    async move { pg.append(&batch, &saves).await }
                })
                .await
            }
            .await,
        )
    }

    #[napi]
    pub async fn read_stream(&self, stream: String, from: Option<i64>, count: Option<i64>) -> String {
        reply(
            async {
                let stream = Arc::new(name("streamId", &stream)?);
                let rows = self
                    .retry(|pg| {
                        let stream = stream.clone();
                        async move { pg.read_stream(stream.literal(), from, count).await }
                    })
                    .await?;
                Ok(page::write_rows(&rows))
            }
            .await,
        )
    }

    #[napi]
    pub async fn query(&self, filter: Option<String>, count: Option<i64>) -> String {
        reply(
            async {
                let filter = filter_of(filter.as_deref())?;
                let rows = self
                    .retry(|pg| {
                        let filter = filter.clone();
                        async move { pg.query(&filter, count).await }
                    })
                    .await?;
                Ok(page::write_rows(&rows))
            }
            .await,
        )
    }

    /// A subscription's page: `<through>\n<page>` (see `Pg::follow`), or a failure.
    #[napi]
    pub async fn follow(&self, filter: Option<String>, after: i64, up_to: i64, limit: i64) -> String {
        reply(
            async {
                let filter = filter_of(filter.as_deref())?;
                let (rows, through) = self
                    .retry(|pg| {
                        let filter = filter.clone();
                        async move { pg.follow(&filter, after, up_to, limit).await }
                    })
                    .await?;
                Ok(format!("{through}\n{}", page::write_rows(&rows)))
            }
            .await,
        )
    }

    /// The store's last committed position, as decimal text.
    #[napi]
    pub async fn head(&self) -> String {
        reply(self.retry(|pg| async move { pg.head().await }).await.map(|h| h.to_string()))
    }

    /// The position of the stream's message at `revision`, or `null`.
    #[napi]
    pub async fn stream_position(&self, stream: String, revision: i64) -> String {
        reply(
            async {
                let stream = Arc::new(name("streamId", &stream)?);
                let position = self
                    .retry(|pg| {
                        let stream = stream.clone();
                        async move { pg.stream_position(stream.literal(), revision).await }
                    })
                    .await?;
                Ok(position.map_or_else(|| "null".to_owned(), |p| p.to_string()))
            }
            .await,
        )
    }

    /// Waits for another commit (a notification), at most `pollMs`, then resolves to
    /// `<head>`, then the tokens of the resets announced meanwhile, space-separated
    /// (`-1` when cut short by `unlisten` or `close`), or a failure (the listening
    /// connection is made again by the next call).
    #[napi]
    pub async fn wait_head(&self, poll_ms: u32) -> String {
        let mut slot = self.listener.lock().await;
        if slot.as_ref().is_none_or(Listener::is_closed) {
            match Listener::connect(&self.url, &self.schema).await {
                Ok(l) => *slot = Some(l),
                Err(e) => return pg_failure(e),
            }
        }
        let listener = slot.as_mut().expect("made above");
        let poll = std::time::Duration::from_millis(u64::from(poll_ms));
        let outcome = tokio::select! {
            r = listener.wait(poll) => r,
            () = self.stop.notified() => return "-1".to_owned(),
        };
        match outcome {
            Ok((head, resets)) => format!("{head} {}", resets.join(" ")).trim_end().to_owned(),
            Err(e) => {
                *slot = None;
                pg_failure(e)
            }
        }
    }

    /// Makes the listening connection now, so that a subscription reading the head
    /// next is woken by every commit after that read. Resolves to "" or a failure.
    #[napi]
    pub async fn listen(&self) -> String {
        // Held by a `waitHead`: the connection is there and listening.
        let Ok(mut slot) = self.listener.try_lock() else { return String::new() };
        if slot.as_ref().is_none_or(Listener::is_closed) {
            match Listener::connect(&self.url, &self.schema).await {
                Ok(l) => *slot = Some(l),
                Err(e) => return pg_failure(e),
            }
        }
        String::new()
    }

    /// Closes the listening connection (no subscription is open any more).
    #[napi]
    pub async fn unlisten(&self) -> String {
        self.stop.notify_one();
        *self.listener.lock().await = None;
        String::new()
    }

    /// The stream's info as JSON, or `null`.
    #[napi]
    pub async fn stream_info(&self, stream: String) -> String {
        reply(
            async {
                let stream = Arc::new(name("streamId", &stream)?);
                let info = self
                    .retry(|pg| {
                        let stream = stream.clone();
                        async move { pg.stream_info(stream.literal()).await }
                    })
                    .await?;
                Ok(info.map_or_else(|| "null".to_owned(), |i| wire::stream_info(&i)))
            }
            .await,
        )
    }

    /// The stream names as a JSON array, in creation order.
    #[napi]
    pub async fn streams(&self) -> String {
        reply(self.retry(|pg| async move { pg.streams().await }).await.map(|names| format!("[{}]", names.join(","))))
    }

    #[napi]
    pub async fn stats(&self) -> String {
        reply(self.retry(|pg| async move { pg.stats().await }).await.map(|s| wire::stats(&s)))
    }

    #[napi]
    pub async fn create_session(&self, id: String, now: i64) -> String {
        reply(
            async {
                let id = Arc::new(name("sessionId", &id)?);
                let stream = Arc::new(JsonString::new(&format!("session-{}", json::decode_lossy(id.literal()))));
                self.retry(|pg| {
                    let (id, stream) = (id.clone(), stream.clone());
                    async move { pg.create_session(id.literal(), stream.literal(), now).await }
                })
                .await?;
                Ok(String::new())
            }
            .await,
        )
    }

    #[napi]
    pub async fn end_session(&self, id: String, now: i64) -> String {
        reply(
            async {
                let id = Arc::new(name("sessionId", &id)?);
                self.retry(|pg| {
                    let id = id.clone();
                    async move { pg.end_session(id.literal(), now).await }
                })
                .await?;
                Ok(String::new())
            }
            .await,
        )
    }

    /// Every session as a JSON array, or (with `id`) the one named, or `null`.
    #[napi]
    pub async fn sessions(&self, id: Option<String>) -> String {
        reply(
            async {
                let id = Arc::new(id.as_deref().map(|i| name("sessionId", i)).transpose()?);
                let list = self
                    .retry(|pg| {
                        let id = id.clone();
                        async move { pg.sessions(id.as_ref().as_ref().map(|i| i.literal())).await }
                    })
                    .await?;
                let mut out = String::new();
                match id.as_ref() {
                    Some(_) => match list.first() {
                        Some(s) => wire::write_session(&mut out, s),
                        None => out.push_str("null"),
                    },
                    None => {
                        out.push('[');
                        for (n, s) in list.iter().enumerate() {
                            if n > 0 {
                                out.push(',');
                            }
                            wire::write_session(&mut out, s);
                        }
                        out.push(']');
                    }
                }
                Ok(out)
            }
            .await,
        )
    }

    #[napi]
    pub async fn reset(&self, token: String) -> String {
        let token = Arc::new(token);
        reply(
            self.retry(|pg| {
                let token = token.clone();
                async move { pg.reset(&token).await }
            })
            .await
            .map(|()| String::new()),
        )
    }

    /// Drops the connection; a later call makes a new one.
    #[napi]
    pub async fn close(&self) -> String {
        self.forget().await;
        self.stop.notify_one();
        *self.listener.lock().await = None;
        String::new()
    }
}

/// Test hook: listens on the schema's channel for `ms` milliseconds, as another
/// process would, and resolves to how many notifications arrived (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi]
pub async fn test_pg_listen(url: String, schema: String, ms: u32) -> String {
    match Listener::connect(&url, &schema).await {
        Ok(listener) => {
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(ms))).await;
            listener.notifications().to_string()
        }
        Err(e) => pg_failure(e),
    }
}

/// Test hook: runs SQL on its own connection, as another client would (killing
/// backends, counting rows). Only in the tests' build (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi]
pub async fn test_pg_exec(url: String, sql: String) -> String {
    let config = match crate::postgres::config(&url) {
        Ok((c, _)) => c,
        Err(e) => return pg_failure(e),
    };
    match config.connect(tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            match client.simple_query(&sql).await {
                Ok(_) => String::new(),
                Err(e) => failure(Code::WriteFailed, e),
            }
        }
        Err(e) => failure(Code::ConnectFailed, e),
    }
}
