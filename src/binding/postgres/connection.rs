//! The connections of one `PgStore`: the one that carries its calls, made by the first
//! call (not the constructor) and again by the first call after it broke, and the one
//! that listens for other processes' commits while a subscription is open. Shared with
//! the tasks that run the calls on napi's tokio runtime.
//!
//! Failover: once the store has connected, a call whose connection breaks (or whose
//! server turned read-only) is not failed at once. It connects again, to whichever
//! of the connection string's hosts accepts writes, retrying for `failover` before
//! it rejects with `FailoverTimeout`; then it is sent again, which only the calls
//! that are safe to send twice do (`retry`). A store that has never connected fails
//! at once instead: a wrong host or password is a configuration to fix, not a
//! failover to wait out. Failures no retry can change (authentication, TLS) reject
//! at once in both cases.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify};

use crate::binding::error::{Code, Error, Result};
use crate::postgres::listen::Listener;
use crate::postgres::{Failure, Pg, PgError, Target};

/// A PostgreSQL failure with its code: a bad connection string is the caller's; a
/// connection refused says why, each reason with its own code; a failed statement
/// is a write (or read) that did not happen.
pub fn pg_error(e: PgError) -> Error {
    let code = match &e {
        PgError::Config(_) => Code::InvalidArgument,
        PgError::Connect { failure, .. } => match failure {
            Failure::Unreachable | Failure::Tls => Code::ConnectFailed,
            Failure::Closed => Code::HandshakeClosed,
            Failure::Auth => Code::AuthFailed,
            Failure::TlsUnavailable => Code::TlsUnavailable,
            Failure::UnknownAuthority => Code::TlsUnknownAuthority,
            Failure::HostMismatch => Code::TlsHostMismatch,
            Failure::Expired => Code::TlsExpired,
        },
        PgError::Query(_) | PgError::ReadOnly(_) => Code::WriteFailed,
    };
    match e {
        PgError::Config(why) => Error::new(code, why),
        e => Error::new(code, e.to_string()),
    }
}

/// How long to wait between two attempts to reach a writable server.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

pub struct Connections {
    pub target: Target,
    pub schema: String,
    /// How long a call whose connection broke keeps trying to reach a writable server.
    failover: Duration,
    /// Whether a connection was ever made: from then on, a lost server is waited for.
    connected: AtomicBool,
    conn: Mutex<Option<Arc<Pg>>>,
    /// The connection that waits for notifications, made by `listen` or `waitHead`.
    pub listener: Mutex<Option<Listener>>,
    /// Cuts a `waitHead` short, so that closing does not wait for its poll.
    pub stop: Notify,
}

impl Connections {
    pub fn new(target: Target, schema: String, failover: Duration) -> Arc<Connections> {
        Arc::new(Connections {
            target,
            schema,
            failover,
            connected: AtomicBool::new(false),
            conn: Mutex::new(None),
            listener: Mutex::new(None),
            stop: Notify::new(),
        })
    }

    /// The connection, made (or made again, after it broke) when needed.
    async fn pg(&self) -> std::result::Result<Arc<Pg>, PgError> {
        let mut conn = self.conn.lock().await;
        if let Some(pg) = conn.as_ref() {
            if !pg.is_closed() {
                return Ok(pg.clone());
            }
        }
        let pg = Arc::new(Pg::connect(&self.target, &self.schema).await?);
        *conn = Some(pg.clone());
        self.connected.store(true, Ordering::Relaxed);
        Ok(pg)
    }

    /// Drops both connections; a later call makes a new one.
    pub async fn close(&self) {
        *self.conn.lock().await = None;
        self.stop.notify_one();
        *self.listener.lock().await = None;
    }

    /// The listening connection, made (again) when there is none or it broke.
    pub async fn listening(&self, slot: &mut Option<Listener>) -> Result<()> {
        if slot.as_ref().is_none_or(Listener::is_closed) {
            *slot = Some(Listener::connect(&self.target, &self.schema).await.map_err(pg_error)?);
        }
        Ok(())
    }

    /// Runs `op` on the connection. When the connection breaks (or its server no
    /// longer takes writes), connects again and runs `op` once more, for as long as
    /// `failover` allows (see the top of this file). Only for what is safe to send
    /// twice: reads, and changes the database recognises when repeated (batch ids,
    /// session ids, reset tokens).
    pub async fn retry<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn(Arc<Pg>) -> Fut,
        Fut: Future<Output = std::result::Result<T, PgError>>,
    {
        // Set when this call first meets a lost server: the failover it waits out.
        let mut since: Option<(Instant, bool)> = None;
        let mut attempts = 0u32;
        loop {
            let lost = match self.pg().await {
                Ok(pg) => match op(pg.clone()).await {
                    Ok(v) => return Ok(v),
                    Err(e) if pg.is_closed() || matches!(e, PgError::ReadOnly(_)) => {
                        let mut conn = self.conn.lock().await;
                        if conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, &pg)) {
                            *conn = None;
                        }
                        since.get_or_insert((Instant::now(), false)).1 = true;
                        e
                    }
                    Err(e) => return Err(pg_error(e)),
                },
                Err(e @ PgError::Connect { failure, .. })
                    if failure.passes() && self.connected.load(Ordering::Relaxed) =>
                {
                    since.get_or_insert((Instant::now(), false));
                    e
                }
                Err(e) => return Err(pg_error(e)),
            };
            let (start, sent) = since.unwrap_or((Instant::now(), false));
            if start.elapsed() >= self.failover {
                return Err(self.failover_timeout(&lost, sent));
            }
            // Straight away the first time (a connection killed on its own); then
            // paced, while a server restarts or a standby is promoted.
            attempts += 1;
            if attempts > 1 {
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }

    fn failover_timeout(&self, last: &PgError, sent: bool) -> Error {
        let outcome = if sent {
            "the call was sent before the connection broke and may have been applied (read before saving it again)"
        } else {
            "the call was not sent"
        };
        Error::new(
            Code::FailoverTimeout,
            format!(
                "PostgreSQL at {}: the connection was lost and no server accepted writes within {} ms (a failover or restart that has not finished); {outcome}. Last: {last}",
                self.target.hosts,
                self.failover.as_millis()
            ),
        )
    }
}
