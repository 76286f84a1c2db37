//! The native side of `PostgresMessageStore`: a class over a schema's connections
//! (`connection.rs`), whose methods return promises run on napi's tokio runtime. Each
//! resolves to its result (pages of messages and the small records as the text the
//! engine's stores give, so that the JavaScript face reads both alike) or rejects with
//! the Error a synchronous call would throw, code included (`reply.rs`).
//!
//! An append resolves once its transaction committed (durable), before its messages
//! are positioned; a read runs a sequencing step first (`Pg::after_step`), so it sees
//! every save committed before it was sent, this instance's and every other's. An append whose
//! reply was lost is sent again on a new connection with the same batch id, which the
//! append function recognises.

mod connection;
mod payload;

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;

use super::error::{Code, Error};
use super::history::{HistoryLines, HistoryPage, HistoryStart};
use super::page;
use super::reply::promise;
use super::store::PAGE_BYTES;
use super::wire;
use crate::engine::json;
use crate::engine::JsonString;
use crate::history::{self, Header};
use crate::postgres::tls::SslSettings;
use crate::postgres::Target;
use connection::{pg_error, Connections, Role};

/// A save the append function refused, changing nothing.
#[napi(object)]
pub struct Refused {
    /// Its index in the group.
    pub index: u32,
    /// `StreamNotFound` or `WrongExpectedRevision` (`Code::name`).
    pub code: String,
    /// The stream's revision when it was refused (-1: none).
    pub actual: i64,
}

/// What a group of saves came to, once its transaction committed: the refused ones,
/// and each save's new revision.
#[napi(object)]
pub struct AppendOutcome {
    pub refused: Vec<Refused>,
    /// Each save's stream revision after it, in order (null: refused).
    pub revisions: Vec<Option<i64>>,
}

/// The append function's outcome: `{"refused":[[i, code, actual], …],"revisions":[…],"added":n}`
/// (a group applied by an earlier version, sent again, may have no `revisions`).
fn outcome(text: &str) -> Result<AppendOutcome, Error> {
    let bad = || Error::new(Code::WriteFailed, format!("the append function answered {text:?}"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let refused = v["refused"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|r| {
            Some(Refused {
                index: u32::try_from(r[0].as_u64()?).ok()?,
                code: r[1].as_str()?.to_owned(),
                actual: r[2].as_i64()?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let revisions = match v.get("revisions") {
        Some(r) => r.as_array().ok_or_else(bad)?.iter().map(serde_json::Value::as_i64).collect(),
        None => Vec::new(),
    };
    Ok(AppendOutcome { refused, revisions })
}

/// How a store connects, beyond its connection string (which these override).
#[napi(object)]
pub struct PgOptions {
    /// `sslmode`, with libpq's names.
    pub ssl_mode: Option<String>,
    /// `sslrootcert`: PEM text, a path, or `system`.
    pub ssl_root_cert: Option<String>,
    /// `sslcert`, the client's certificate: PEM text or a path.
    pub ssl_cert: Option<String>,
    /// `sslkey`, the client certificate's key: PEM text or a path.
    pub ssl_key: Option<String>,
    /// How long a call whose connection broke waits for a writable server.
    pub failover_timeout_ms: u32,
    /// The connections for calls (appends, reads, sessions), at least 1. The face
    /// always sends it (its default is `POOL_SIZE` in lib/validate.js); without it
    /// (the native class used directly, as tests do) one connection carries them.
    pub pool_size: Option<u32>,
    /// Where the listening connection goes instead of the connection string's server
    /// (a direct connection, past a pooler that does not pass notifications on).
    pub listen_url: Option<String>,
}

#[napi]
pub struct PgStore {
    conns: Arc<Connections>,
}

// Each method checks its arguments, then runs on the connection through `retry`.
#[napi]
impl PgStore {
    /// Parses the connection string and reads the TLS files, but connects to nothing:
    /// the first call connects.
    #[napi(constructor)]
    pub fn new(url: String, schema: String, options: PgOptions) -> Result<Self, Error> {
        let ssl = SslSettings {
            mode: options.ssl_mode,
            root_cert: options.ssl_root_cert,
            cert: options.ssl_cert,
            key: options.ssl_key,
        };
        let listen_target = options.listen_url.map(|u| Target::new(&u, ssl.clone())).transpose().map_err(pg_error)?;
        let target = Target::new(&url, ssl).map_err(pg_error)?;
        // The tests' build counts live instances (its `Drop` is in native_stats.rs).
        #[cfg(feature = "test-hooks")]
        super::native_stats::pg_store_made();
        let failover = Duration::from_millis(u64::from(options.failover_timeout_ms));
        let pool = options.pool_size.unwrap_or(1).max(1) as usize;
        Ok(PgStore { conns: Connections::new(target, listen_target, schema, failover, pool) })
    }

    /// Where it connects, for the debug log: `host:port, … (sslmode …)`, never a user
    /// or password.
    #[napi(getter)]
    pub fn target(&self) -> String {
        format!("{} (sslmode {})", self.conns.target.hosts, self.conns.target.mode.name())
    }

    /// Appends a group of saves in one transaction (the payload: see `payload::saves`).
    /// The connection may break after the commit and before the reply: sent again
    /// with the same batch id, the group is applied at most once.
    #[napi]
    pub fn append<'env>(
        &self,
        env: &'env Env,
        batch: String,
        payload: String,
    ) -> napi::Result<PromiseRaw<'env, AppendOutcome>> {
        let c = self.conns.clone();
        promise(env, async move {
            let (saves, batch) = (Arc::new(payload::saves(&payload)?), Arc::new(batch));
            let text = c
                .retry(Role::Append, |pg| {
                    let (saves, batch) = (saves.clone(), batch.clone());
                    async move { pg.append(&batch, &saves).await }
                })
                .await?;
            c.appended();
            outcome(&text)
        })
    }

    /// A stream's messages from revision `from`, the last `count` of them: a page.
    #[napi]
    pub fn read_stream<'env>(
        &self,
        env: &'env Env,
        stream: String,
        from: Option<i64>,
        count: Option<i64>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.conns.clone();
        promise(env, async move {
            let stream = payload::name("streamId", &stream)?;
            let rows = c
                .retry(Role::Read, |pg| {
                    let stream = stream.clone();
                    async move { pg.after_step(pg.read_stream(stream.literal(), from, count)).await }
                })
                .await?;
            Ok(page::write_rows(&rows))
        })
    }

    /// The messages the filter lets through, the last `count` of them: a page.
    #[napi]
    pub fn query<'env>(
        &self,
        env: &'env Env,
        filter: Option<String>,
        count: Option<i64>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.conns.clone();
        promise(env, async move {
            let filter = payload::filter(filter.as_deref())?;
            let rows = c
                .retry(Role::Read, |pg| {
                    let filter = filter.clone();
                    async move { pg.after_step(pg.query(&filter, count)).await }
                })
                .await?;
            Ok(page::write_rows(&rows))
        })
    }

    /// A subscription's page: `<through>\n<page>` (see `Pg::follow`).
    #[napi]
    pub fn follow<'env>(
        &self,
        env: &'env Env,
        filter: Option<String>,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.conns.clone();
        promise(env, async move {
            let filter = payload::filter(filter.as_deref())?;
            let (rows, through) = c
                .retry(Role::Read, |pg| {
                    let filter = filter.clone();
                    async move { pg.follow(&filter, after, up_to, limit).await }
                })
                .await?;
            Ok(format!("{through}\n{}", page::write_rows(&rows)))
        })
    }

    /// The store's last committed position.
    #[napi]
    pub fn head<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, i64>> {
        let c = self.conns.clone();
        promise(env, async move { c.retry(Role::Read, |pg| async move { pg.after_step(pg.head()).await }).await })
    }

    /// The position of the stream's message at `revision`, or null.
    #[napi]
    pub fn stream_position<'env>(
        &self,
        env: &'env Env,
        stream: String,
        revision: i64,
    ) -> napi::Result<PromiseRaw<'env, Option<i64>>> {
        let c = self.conns.clone();
        promise(env, async move {
            let stream = payload::name("streamId", &stream)?;
            c.retry(Role::Read, |pg| {
                let stream = stream.clone();
                async move { pg.after_step(pg.stream_position(stream.literal(), revision)).await }
            })
            .await
        })
    }

    /// Waits for a sequencing step (a notification), at most `pollMs`, then resolves
    /// to `{"head":h,"from":f,"streams":[…]|null,"resets":[…]}`: the store's last
    /// position, the streams that every message after `from` went to (null: not
    /// known), and the tokens of the resets announced meanwhile; `{"head":-1}` when cut
    /// short by `unlisten` or `close`. Rejects when the listening connection failed
    /// (the next call makes it again).
    #[napi]
    pub fn wait_head<'env>(&self, env: &'env Env, poll_ms: u32) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.conns.clone();
        promise(env, async move {
            let mut slot = c.listener.lock().await;
            c.listening(&mut slot).await?;
            let listener = slot.as_mut().expect("made above");
            let poll = std::time::Duration::from_millis(u64::from(poll_ms));
            let outcome = tokio::select! {
                r = listener.wait(poll) => r,
                () = c.stop.notified() => return Ok(r#"{"head":-1}"#.to_owned()),
            };
            match outcome {
                Ok(h) => {
                    let streams = h.streams.map_or_else(|| "null".to_owned(), |s| format!("[{}]", s.join(",")));
                    let resets: Vec<String> = h.resets.iter().map(|t| json::string_literal(t)).collect();
                    Ok(format!(
                        r#"{{"head":{},"from":{},"streams":{streams},"resets":[{}]}}"#,
                        h.head,
                        h.from,
                        resets.join(",")
                    ))
                }
                Err(e) => {
                    *slot = None;
                    Err(pg_error(e))
                }
            }
        })
    }

    /// Makes the listening connection now, so that a subscription reading the head
    /// next is woken by every commit after that read.
    #[napi]
    pub fn listen<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        promise(env, async move {
            // Held by a `waitHead`: the connection is there and listening.
            let Ok(mut slot) = c.listener.try_lock() else { return Ok(()) };
            c.listening(&mut slot).await
        })
    }

    /// Closes the listening connection (no subscription is open any more).
    #[napi]
    pub fn unlisten<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        promise(env, async move {
            c.stop.notify_one();
            *c.listener.lock().await = None;
            Ok(())
        })
    }

    /// The stream's info as JSON (`wire::stream_info`), or null.
    #[napi]
    pub fn stream_info<'env>(&self, env: &'env Env, stream: String) -> napi::Result<PromiseRaw<'env, Option<String>>> {
        let c = self.conns.clone();
        promise(env, async move {
            let stream = payload::name("streamId", &stream)?;
            let info = c
                .retry(Role::Read, |pg| {
                    let stream = stream.clone();
                    async move { pg.after_step(pg.stream_info(stream.literal())).await }
                })
                .await?;
            Ok(info.map(|i| wire::stream_info(&i)))
        })
    }

    /// The stream names as a JSON array, in creation order.
    #[napi]
    pub fn streams<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.conns.clone();
        promise(env, async move {
            let names = c.retry(Role::Read, |pg| async move { pg.streams().await }).await?;
            Ok(format!("[{}]", names.join(",")))
        })
    }

    /// The counters as JSON (`wire::stats`).
    #[napi]
    pub fn stats<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.conns.clone();
        promise(env, async move {
            Ok(wire::stats(&c.retry(Role::Read, |pg| async move { pg.after_step(pg.stats()).await }).await?))
        })
    }

    /// Records a session (`id`: its literal) and its empty stream, at `now`.
    #[napi]
    pub fn create_session<'env>(&self, env: &'env Env, id: String, now: i64) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        promise(env, async move {
            let id = payload::name("sessionId", &id)?;
            let stream = Arc::new(JsonString::new(&format!("session-{}", json::decode_lossy(id.literal()))));
            c.retry(Role::Read, |pg| {
                let (id, stream) = (id.clone(), stream.clone());
                async move { pg.create_session(id.literal(), stream.literal(), now).await }
            })
            .await
        })
    }

    #[napi]
    pub fn end_session<'env>(&self, env: &'env Env, id: String, now: i64) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        promise(env, async move {
            let id = payload::name("sessionId", &id)?;
            c.retry(Role::Read, |pg| {
                let id = id.clone();
                async move { pg.end_session(id.literal(), now).await }
            })
            .await
        })
    }

    /// Every session as a JSON array, or (with `id`) the one named, or null.
    #[napi]
    pub fn sessions<'env>(&self, env: &'env Env, id: Option<String>) -> napi::Result<PromiseRaw<'env, Option<String>>> {
        let c = self.conns.clone();
        promise(env, async move {
            let id = id.as_deref().map(|i| payload::name("sessionId", i)).transpose()?;
            let list = c
                .retry(Role::Read, |pg| {
                    let id = id.clone();
                    async move { pg.sessions(id.as_deref().map(JsonString::literal)).await }
                })
                .await?;
            let mut out = String::new();
            if id.is_some() {
                let Some(s) = list.first() else { return Ok(None) };
                wire::write_session(&mut out, s);
                return Ok(Some(out));
            }
            out.push('[');
            for (n, s) in list.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                wire::write_session(&mut out, s);
            }
            out.push(']');
            Ok(Some(out))
        })
    }

    /// The header of the history of the positions after `after`, read in one snapshot
    /// after a step (so it holds every save committed before the call), and where the
    /// export ends: `streams` is one past the last stream ordinal (opaque to the caller).
    #[napi]
    pub fn history_header<'env>(&self, env: &'env Env, after: i64) -> napi::Result<PromiseRaw<'env, HistoryStart>> {
        let c = self.conns.clone();
        let after = after.max(0) as u64;
        promise(env, async move {
            let end = c.retry(Role::Read, |pg| async move { pg.after_step(pg.history_header(after)).await }).await?;
            let mut text = String::new();
            end.header.write(&mut text);
            Ok(HistoryStart { text, last_position: end.header.last_position as i64, streams: end.streams })
        })
    }

    /// The next page of an export (see `history_header`): lines after position `after`,
    /// the streams below ordinal `declared` declared already.
    #[napi]
    pub fn history_page<'env>(
        &self,
        env: &'env Env,
        after: i64,
        declared: i64,
        last: i64,
        streams: i64,
        messages_only: bool,
    ) -> napi::Result<PromiseRaw<'env, HistoryPage>> {
        let c = self.conns.clone();
        let (after, declared) = (after.max(0), declared.max(0));
        promise(env, async move {
            let page = c
                .retry(Role::Read, |pg| async move {
                    pg.history_page(after, declared, last, streams, messages_only, PAGE_BYTES).await
                })
                .await?;
            Ok(HistoryPage { text: page.text, after: page.after, declared: page.declared, done: page.done })
        })
    }

    /// Checks that the schema can take the history whose header is `header`: refused
    /// unless it is empty, or (`resume`) holds the history's start. Changes nothing.
    /// Resolves to its last position.
    #[napi]
    pub fn import_begin<'env>(
        &self,
        env: &'env Env,
        header: String,
        resume: bool,
    ) -> napi::Result<PromiseRaw<'env, i64>> {
        let c = self.conns.clone();
        promise(env, async move {
            let header = Arc::new(Header::parse(&header)?);
            let head = c
                .retry(Role::Append, |pg| {
                    let header = header.clone();
                    async move { pg.import_begin(&header, resume).await }
                })
                .await??;
            Ok(head as i64)
        })
    }

    /// Takes in `text`, whole lines of the history whose header is `header`, from line
    /// `firstLine`: every line checked before any is written, then all written in one
    /// transaction (the header's sessions the schema lacks first). Resolves to the lines
    /// of each kind read.
    #[napi]
    pub fn import_lines<'env>(
        &self,
        env: &'env Env,
        header: String,
        text: String,
        first_line: i64,
    ) -> napi::Result<PromiseRaw<'env, HistoryLines>> {
        let c = self.conns.clone();
        promise(env, async move {
            let header = Header::parse(&header)?;
            let lines = history::parse_lines(&text, first_line.max(1) as u64)?;
            let (messages, streams) = c
                .retry(Role::Append, |pg| {
                    let (header, lines) = (&header, &lines);
                    async move { pg.import_lines(header, lines).await }
                })
                .await??;
            Ok(HistoryLines { messages: messages as i64, streams: streams as i64 })
        })
    }

    /// Ends an import: the header's sessions (added if no line was), with their last activity.
    #[napi]
    pub fn import_end<'env>(&self, env: &'env Env, header: String) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        promise(env, async move {
            let header = Arc::new(Header::parse(&header)?);
            c.retry(Role::Append, |pg| {
                let header = header.clone();
                async move { pg.import_end(&header).await }
            })
            .await
        })
    }

    /// Empties the schema's tables, announcing `token` to the listeners.
    #[napi]
    pub fn reset<'env>(&self, env: &'env Env, token: String) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        let token = Arc::new(token);
        promise(env, async move {
            c.retry(Role::Append, |pg| {
                let token = token.clone();
                async move { pg.reset(&token).await }
            })
            .await
        })
    }

    /// Drops the connections; a later call makes a new one.
    #[napi]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.conns.clone();
        promise(env, async move {
            c.close().await;
            Ok(())
        })
    }
}

/// Test hook: listens on the schema's channel for `ms` milliseconds, as another
/// process would, and resolves to the notifications' payloads as a JSON array
/// (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi]
pub fn test_pg_listen<'env>(
    env: &'env Env,
    url: String,
    schema: String,
    ms: u32,
) -> napi::Result<PromiseRaw<'env, String>> {
    use tokio_postgres::AsyncMessage;
    promise(env, async move {
        let target = Target::new(&url, SslSettings::default()).map_err(pg_error)?;
        let (client, mut connection) = target.connect().await.map_err(pg_error)?;
        let heard = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let into = heard.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                if let AsyncMessage::Notification(n) = m {
                    into.lock().unwrap_or_else(|p| p.into_inner()).push(n.payload().to_owned());
                }
            }
        });
        let listen = format!("LISTEN \"{}\"", crate::postgres::schema::channel(&schema));
        client.batch_execute(&listen).await.map_err(|e| Error::new(Code::WriteFailed, e.to_string()))?;
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(ms))).await;
        let payloads: Vec<String> =
            heard.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|p| json::string_literal(p)).collect();
        Ok(format!("[{}]", payloads.join(",")))
    })
}

/// Test hook: runs SQL on its own connection, as another client would (killing
/// backends, counting rows). Only in the tests' build (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[napi]
pub fn test_pg_exec<'env>(env: &'env Env, url: String, sql: String) -> napi::Result<PromiseRaw<'env, ()>> {
    promise(env, async move {
        let target = Target::new(&url, SslSettings::default()).map_err(pg_error)?;
        let (client, connection) = target.connect().await.map_err(pg_error)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client.simple_query(&sql).await.map_err(|e| Error::new(Code::WriteFailed, e.to_string()))?;
        Ok(())
    })
}
