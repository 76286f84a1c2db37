//! The connections of one `PgStore`, each made by the first call that needs it (not
//! the constructor) and again by the first call after it broke, and shared with the
//! tasks that run the calls on napi's tokio runtime:
//! - the append connection, for groups of saves and resets (the face sends one at a
//!   time, in call order);
//! - the read pool, for reads and sessions, so that none waits behind an append or
//!   behind another read: a call takes an idle connection (the append connection too,
//!   while no append runs), or makes one while there are fewer than the pool's size,
//!   or else shares the least busy (tokio-postgres queues its statements). So a store
//!   called one call at a time holds one connection for its calls, and a pool of one
//!   carries everything on it;
//! - the sequencing connection, for the steps that position committed appends
//!   (`schema.rs`), run in the background after each append and before any read that
//!   must see this instance's saves;
//! - the listening connection, while a subscription is open (`listen.rs`), to the
//!   connection string's server or to `listen_target` when given (past a pooler).
//!
//! Reads see every save committed before them, from any process: each sends a step
//! just before itself on its own connection (`Pg::after_step`). The background steps
//! keep positions current for the others: `committed` counts this instance's appends
//! whose commit returned; `covered` is the count a finished step was sure to include
//! (it was read before the step took its lock); closing waits until `covered` reaches
//! `committed` (`visible`), so that no save of a closed instance waits for a step.
//!
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// How long closing waits for the step that positions this instance's last saves.
const CLOSING_STEP: Duration = Duration::from_secs(1);

/// How long after an append its background step starts: saves awaited one after
/// another then share a step (one commit) instead of each paying for one. Measured
/// with four processes saving awaited on two cores (docs/benchmark.md#postgres-table):
/// 3 ms gave 1,950 saves/s in all, 10 ms 2,480, 30 ms 2,480 (each step costs the
/// server about what an append does). Reads do not wait for it: each runs a step
/// first (`Pg::after_step`); subscriptions in other processes hear of a save up to
/// this much later.
const STEP_DELAY: Duration = Duration::from_millis(10);

/// Which connection a call goes on (see the top of this file).
#[derive(Clone, Copy)]
pub enum Role {
    Append,
    Read,
    Sequence,
}

/// A connection of the store's, made when first needed.
#[derive(Default)]
struct Slot {
    conn: Mutex<Option<Arc<Pg>>>,
    /// Calls running on it now.
    busy: AtomicUsize,
}

/// Counts a call on a slot while it runs.
struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    fn new(n: &'a AtomicUsize) -> Busy<'a> {
        n.fetch_add(1, Ordering::Relaxed);
        Busy(n)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Connections {
    pub target: Target,
    /// Where the listening connection goes, when not to `target` (`listen_target`).
    listen_target: Option<Target>,
    pub schema: String,
    /// How long a call whose connection broke keeps trying to reach a writable server.
    failover: Duration,
    /// Whether a connection was ever made: from then on, a lost server is waited for.
    connected: AtomicBool,
    /// Whether the schema was checked (created or brought up to this version).
    ready: AtomicBool,
    writer: Slot,
    readers: Vec<Slot>,
    sequencer: Slot,
    /// Held by the step running on `sequencer`: steps wait for each other, and one
    /// that finds `covered` high enough runs no more.
    stepping: Mutex<()>,
    committed: AtomicU64,
    covered: AtomicU64,
    /// Whether a background step is scheduled (`appended`).
    step_due: AtomicBool,
    /// Set by `close`: a background step due after it does not connect again.
    closed: AtomicBool,
    /// Rows the steps of this instance moved since `pending` was last vacuumed (`Pg::sequence`).
    moved: Arc<AtomicU64>,
    /// The connection that waits for notifications, made by `listen` or `waitHead`.
    pub listener: Mutex<Option<Listener>>,
    /// Cuts a `waitHead` short, so that closing does not wait for its poll.
    pub stop: Notify,
}

impl Connections {
    /// `pool`: the connections for calls, the append connection included (at least 1).
    pub fn new(
        target: Target,
        listen_target: Option<Target>,
        schema: String,
        failover: Duration,
        pool: usize,
    ) -> Arc<Connections> {
        Arc::new(Connections {
            target,
            listen_target,
            schema,
            failover,
            connected: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            writer: Slot::default(),
            readers: (1..pool.max(1)).map(|_| Slot::default()).collect(),
            sequencer: Slot::default(),
            stepping: Mutex::new(()),
            committed: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            step_due: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            moved: Arc::new(AtomicU64::new(0)),
            listener: Mutex::new(None),
            stop: Notify::new(),
        })
    }

    /// The slot a call of `role` goes on: for a read, an idle connection (the append
    /// connection too, when no append runs), else a read connection not made yet, else
    /// the least busy read connection.
    fn slot(&self, role: Role) -> &Slot {
        match role {
            Role::Append => &self.writer,
            Role::Sequence => &self.sequencer,
            Role::Read => {
                let made = |s: &Slot| s.conn.try_lock().map_or(true, |c| c.is_some());
                let busy = |s: &Slot| s.busy.load(Ordering::Relaxed);
                let calls = || std::iter::once(&self.writer).chain(&self.readers);
                calls()
                    .find(|s| busy(s) == 0 && made(s))
                    .or_else(|| self.readers.iter().find(|s| !made(s)))
                    .or_else(|| self.readers.iter().min_by_key(|s| busy(s)))
                    .unwrap_or(&self.writer)
            }
        }
    }

    /// The slot's connection, made (or made again, after it broke) when needed; the
    /// first one also checks the schema and positions what a writer that died left.
    async fn pg(&self, slot: &Slot) -> std::result::Result<Arc<Pg>, PgError> {
        let mut conn = slot.conn.lock().await;
        if let Some(pg) = conn.as_ref() {
            if !pg.is_closed() {
                return Ok(pg.clone());
            }
        }
        let setup = !self.ready.load(Ordering::Acquire);
        let pg = Arc::new(Pg::connect(&self.target, &self.schema, setup, self.moved.clone()).await?);
        if setup {
            // Best effort: a role that may only read cannot run a step, and reads anyway.
            let _ = pg.sequence().await;
            self.ready.store(true, Ordering::Release);
        }
        *conn = Some(pg.clone());
        self.connected.store(true, Ordering::Relaxed);
        Ok(pg)
    }

    /// Positions this instance's last saves (so that no other process waits for a
    /// sweep to see them), then drops every connection; a later call makes a new one.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Not waiting out a failover: failing, they are positioned by the next step of
        // any instance, or by the next instance to connect.
        let _ = tokio::time::timeout(CLOSING_STEP, self.visible()).await;
        for slot in std::iter::once(&self.writer).chain(&self.readers).chain(std::iter::once(&self.sequencer)) {
            *slot.conn.lock().await = None;
        }
        self.stop.notify_one();
        *self.listener.lock().await = None;
    }

    /// The listening connection, made (again) when there is none or it broke.
    pub async fn listening(&self, slot: &mut Option<Listener>) -> Result<()> {
        if slot.as_ref().is_none_or(Listener::is_closed) {
            let target = self.listen_target.as_ref().unwrap_or(&self.target);
            *slot = Some(Listener::connect(target, &self.schema).await.map_err(pg_error)?);
        }
        Ok(())
    }

    /// An append of this instance's committed: a step is started in the background
    /// shortly after (`STEP_DELAY`), so that its messages are positioned soon, in one
    /// step with the appends that commit meanwhile, from here and from elsewhere.
    pub fn appended(self: &Arc<Self>) {
        self.committed.fetch_add(1, Ordering::AcqRel);
        if self.step_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let c = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(STEP_DELAY).await;
            // Cleared before `committed` is read: an append counted after this schedules
            // a step of its own, or is covered by this one.
            c.step_due.store(false, Ordering::Release);
            // Closed meanwhile: closing ran this instance's last step.
            if c.closed.load(Ordering::Acquire) {
                return;
            }
            // A failed step leaves its saves to the next step: a read's, an append's,
            // or the next instance's to connect.
            let _ = c.sequenced(c.committed.load(Ordering::Acquire)).await;
        });
    }

    /// Waits until every append of this instance that committed before the call is
    /// positioned (and visible to every reader), running a step when none covered it.
    pub async fn visible(&self) -> Result<()> {
        self.sequenced(self.committed.load(Ordering::Acquire)).await
    }

    async fn sequenced(&self, want: u64) -> Result<()> {
        if self.covered.load(Ordering::Acquire) >= want {
            return Ok(());
        }
        let _step = self.stepping.lock().await;
        if self.covered.load(Ordering::Acquire) >= want {
            return Ok(());
        }
        // Read before the step takes its lock: every append counted here committed
        // before it, so the step positions it (or found it positioned already).
        let through = self.committed.load(Ordering::Acquire);
        self.retry(Role::Sequence, |pg| async move { pg.sequence().await }).await?;
        self.covered.fetch_max(through, Ordering::AcqRel);
        Ok(())
    }

    /// Runs `op` on a connection of `role`. When the connection breaks (or its server no
    /// longer takes writes), connects again and runs `op` once more, for as long as
    /// `failover` allows (see the top of this file). Only for what is safe to send
    /// twice: reads, and changes the database recognises when repeated (batch ids,
    /// session ids, reset tokens).
    pub async fn retry<T, F, Fut>(&self, role: Role, op: F) -> Result<T>
    where
        F: Fn(Arc<Pg>) -> Fut,
        Fut: Future<Output = std::result::Result<T, PgError>>,
    {
        let slot = self.slot(role);
        let _busy = Busy::new(&slot.busy);
        // Set when this call first meets a lost server: the failover it waits out.
        let mut since: Option<(Instant, bool)> = None;
        let mut attempts = 0u32;
        loop {
            let lost = match self.pg(slot).await {
                Ok(pg) => match op(pg.clone()).await {
                    Ok(v) => return Ok(v),
                    Err(e) if pg.is_closed() || matches!(e, PgError::ReadOnly(_)) => {
                        let mut conn = slot.conn.lock().await;
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
