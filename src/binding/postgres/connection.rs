//! The connections of one `PgStore`: the one that carries its calls, made by the first
//! call (not the constructor) and again by the first call after it broke, and the one
//! that listens for other processes' commits while a subscription is open. Shared with
//! the tasks that run the calls on napi's tokio runtime.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, Notify};

use crate::binding::error::{Code, Error, Result};
use crate::postgres::listen::Listener;
use crate::postgres::{Pg, PgError};

/// A PostgreSQL failure with its code: a bad connection string is the caller's; a
/// server that cannot be reached may be reached later; a failed statement is a write
/// (or read) that did not happen.
pub fn pg_error(e: PgError) -> Error {
    match e {
        PgError::Config(why) => Error::new(Code::InvalidArgument, why),
        e @ PgError::Connect { .. } => Error::new(Code::ConnectFailed, e.to_string()),
        e @ PgError::Query(_) => Error::new(Code::WriteFailed, e.to_string()),
    }
}

pub struct Connections {
    pub url: String,
    pub schema: String,
    conn: Mutex<Option<Arc<Pg>>>,
    /// The connection that waits for notifications, made by `listen` or `waitHead`.
    pub listener: Mutex<Option<Listener>>,
    /// Cuts a `waitHead` short, so that closing does not wait for its poll.
    pub stop: Notify,
}

impl Connections {
    pub fn new(url: String, schema: String) -> Arc<Connections> {
        Arc::new(Connections { url, schema, conn: Mutex::new(None), listener: Mutex::new(None), stop: Notify::new() })
    }

    /// The connection, made (or made again, after it broke) when needed.
    pub async fn pg(&self) -> Result<Arc<Pg>> {
        let mut conn = self.conn.lock().await;
        if let Some(pg) = conn.as_ref() {
            if !pg.is_closed() {
                return Ok(pg.clone());
            }
        }
        let pg = Arc::new(Pg::connect(&self.url, &self.schema).await.map_err(pg_error)?);
        *conn = Some(pg.clone());
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
            *slot = Some(Listener::connect(&self.url, &self.schema).await.map_err(pg_error)?);
        }
        Ok(())
    }

    /// Runs `op` on the connection; when it fails because the connection broke, runs
    /// it once more on a new one. Only for what is safe to send twice: reads, and
    /// changes the database recognises when repeated (batch ids, session ids).
    pub async fn retry<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn(Arc<Pg>) -> Fut,
        Fut: Future<Output = std::result::Result<T, PgError>>,
    {
        let mut again = false;
        loop {
            let pg = self.pg().await?;
            match op(pg.clone()).await {
                Ok(v) => return Ok(v),
                Err(_) if pg.is_closed() && !again => {
                    again = true;
                    *self.conn.lock().await = None;
                }
                Err(e) => return Err(pg_error(e)),
            }
        }
    }
}
