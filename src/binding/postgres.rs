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
use crate::engine::JsonString;
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
                Message::new(t, &stream, head.kind, head.now)
                    .map_err(|why| failure(Code::InvalidArgument, format!("messages[{i}] {why}")))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.push(Save {
            stream: stream.literal().to_owned(),
            expected: head.expected,
            time: head.now,
            session: save[2].to_owned(),
            messages,
        });
    }
    Ok(out)
}

fn name(argument: &str, literal: &str) -> std::result::Result<JsonString, String> {
    wire::literal(argument, literal).map_err(|e| failure(Code::InvalidArgument, e.reason))
}

#[napi]
impl PgStore {
    /// Does no I/O: the first call connects.
    #[napi(constructor)]
    pub fn new(url: String, schema: String) -> Self {
        PgStore { url, schema, conn: Arc::new(Mutex::new(None)) }
    }

    /// Connects (and creates the schema) now; resolves to "" or a failure.
    #[napi]
    pub async fn connect(&self) -> String {
        match self.pg().await {
            Ok(_) => String::new(),
            Err(e) => e,
        }
    }

    /// Appends a group of saves in one transaction; resolves to the append function's
    /// outcome (`{"refused":[[i, kind, actual], …],"last":position}`) or a failure.
    #[napi]
    pub async fn append(&self, batch: String, payload: String) -> String {
        let saves = match saves(&payload) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mut tries = 0;
        loop {
            let pg = match self.pg().await {
                Ok(pg) => pg,
                Err(e) => return e,
            };
            match pg.append(&batch, &saves).await {
                Ok(outcome) => return outcome,
                // The connection broke: the append may or may not have committed. Sent
                // again with the same batch id, it is applied at most once.
                Err(_) if pg.is_closed() && tries == 0 => {
                    tries += 1;
                    self.forget().await;
                }
                Err(e) => return pg_failure(e),
            }
        }
    }

    #[napi]
    pub async fn read_stream(&self, stream: String, from: Option<i64>, count: Option<i64>) -> String {
        let stream = match name("streamId", &stream) {
            Ok(s) => s,
            Err(e) => return e,
        };
        match self.pg().await {
            Ok(pg) => match pg.read_stream(stream.literal(), from, count).await {
                Ok(rows) => page::write_rows(&rows),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    #[napi]
    pub async fn query(&self, filter: Option<String>, count: Option<i64>) -> String {
        let filter = match filter.as_deref().map(wire::filter).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => return failure(Code::InvalidArgument, e.reason),
        };
        match self.pg().await {
            Ok(pg) => match pg.query(&filter, count).await {
                Ok(rows) => page::write_rows(&rows),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    /// The stream's info as JSON, or `null`.
    #[napi]
    pub async fn stream_info(&self, stream: String) -> String {
        let stream = match name("streamId", &stream) {
            Ok(s) => s,
            Err(e) => return e,
        };
        match self.pg().await {
            Ok(pg) => match pg.stream_info(stream.literal()).await {
                Ok(Some(info)) => wire::stream_info(&info),
                Ok(None) => "null".to_owned(),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    /// The stream names as a JSON array, in creation order.
    #[napi]
    pub async fn streams(&self) -> String {
        match self.pg().await {
            Ok(pg) => match pg.streams().await {
                Ok(names) => format!("[{}]", names.join(",")),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    #[napi]
    pub async fn stats(&self) -> String {
        match self.pg().await {
            Ok(pg) => match pg.stats().await {
                Ok(s) => wire::stats(&s),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    #[napi]
    pub async fn create_session(&self, id: String, now: i64) -> String {
        let id = match name("sessionId", &id) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let stream = JsonString::new(&format!("session-{}", json::decode_lossy(id.literal())));
        match self.pg().await {
            Ok(pg) => match pg.create_session(id.literal(), stream.literal(), now).await {
                Ok(()) => String::new(),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    #[napi]
    pub async fn end_session(&self, id: String, now: i64) -> String {
        let id = match name("sessionId", &id) {
            Ok(s) => s,
            Err(e) => return e,
        };
        match self.pg().await {
            Ok(pg) => match pg.end_session(id.literal(), now).await {
                Ok(()) => String::new(),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    /// Every session as a JSON array, or (with `id`) the one named, or `null`.
    #[napi]
    pub async fn sessions(&self, id: Option<String>) -> String {
        let id = match id.as_deref().map(|i| name("sessionId", i)).transpose() {
            Ok(i) => i,
            Err(e) => return e,
        };
        match self.pg().await {
            Ok(pg) => match pg.sessions(id.as_ref().map(|i| i.literal())).await {
                Ok(list) => {
                    if id.is_some() && list.is_empty() {
                        return "null".to_owned();
                    }
                    let mut out = String::new();
                    if id.is_none() {
                        out.push('[');
                    }
                    for (n, s) in list.iter().enumerate() {
                        if n > 0 {
                            out.push(',');
                        }
                        wire::write_session(&mut out, s);
                    }
                    if id.is_none() {
                        out.push(']');
                    }
                    out
                }
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    #[napi]
    pub async fn reset(&self) -> String {
        match self.pg().await {
            Ok(pg) => match pg.reset().await {
                Ok(()) => String::new(),
                Err(e) => pg_failure(e),
            },
            Err(e) => e,
        }
    }

    /// Drops the connection; a later call makes a new one.
    #[napi]
    pub async fn close(&self) -> String {
        self.forget().await;
        String::new()
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
