//! What wakes the subscriptions of a `PostgresMessageStore`: one connection per store
//! instance that `LISTEN`s on the schema's channel (`schema::channel`). Every
//! sequencing step that positions messages notifies it once, naming the positions and
//! the streams; a wake is followed by reading the store's head, and so is a wait that
//! timed out, which makes polling by position the fallback: a lost notification, one
//! sent while this connection was being made again, or a pooler that does not pass
//! notifications on, delays a message by one poll, never loses it (the streams are
//! then unknown, and every subscription looks).
//!
//! A poll that finds messages pending while the head stood still since the last poll
//! runs a sequencing step itself: their writer died between its append and the step,
//! and no other writer has come since.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, Client, SimpleQueryMessage};

use super::{query_error, schema, PgError, Target};

/// What the notifications since the last `wait` said.
#[derive(Default)]
struct Heard {
    /// The steps announced, `(from, to, streams)`; `None`: too many streams to name.
    steps: Vec<(i64, i64, Option<Vec<String>>)>,
    /// The tokens of the resets announced.
    resets: Vec<String>,
}

/// What a `wait` found.
pub struct Head {
    /// The store's last position.
    pub head: i64,
    /// The position the `streams` are known from: every message after it, through
    /// `head`, went to one of them. Equal to `head` when nothing is known.
    pub from: i64,
    /// The streams' JSON literals, or `None` when not known.
    pub streams: Option<Vec<String>>,
    pub resets: Vec<String>,
}

pub struct Listener {
    client: Client,
    schema: String,
    /// Counts the notifications received; a change wakes `wait`.
    notified: watch::Receiver<u64>,
    heard: Arc<Mutex<Heard>>,
    /// The head and whether messages were pending, at the last poll that timed out.
    last_poll: Option<(i64, bool)>,
}

/// `<from> <to> <streams>`: the streams a JSON array of literals, or `many`.
fn step(payload: &str) -> Option<(i64, i64, Option<Vec<String>>)> {
    let mut words = payload.splitn(3, ' ');
    let from = words.next()?.parse().ok()?;
    let to = words.next()?.parse().ok()?;
    let names = words.next()?;
    let streams = if names == "many" {
        None
    } else {
        Some(crate::engine::json::array_elements(names).ok()?.into_iter().map(str::to_owned).collect())
    };
    Some((from, to, streams))
}

impl Listener {
    pub async fn connect(target: &Target, schema_name: &str) -> Result<Listener, PgError> {
        let (client, mut connection) = target.connect().await?;
        let (tx, notified) = watch::channel(0u64);
        let heard = Arc::new(Mutex::new(Heard::default()));
        let seen = heard.clone();
        tokio::spawn(async move {
            // Driving the connection is what delivers notifications (and replies).
            let mut count = 0u64;
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(note)) => {
                        {
                            let mut heard = seen.lock().unwrap_or_else(|p| p.into_inner());
                            if let Some(token) = note.payload().strip_prefix("reset ") {
                                heard.resets.push(token.to_owned());
                            } else if let Some(s) = step(note.payload()) {
                                heard.steps.push(s);
                            }
                        }
                        count += 1;
                        tx.send_replace(count);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            // `tx` is dropped here: a waiting `wait` returns, and its query reports the break.
        });
        client.batch_execute(&format!("LISTEN \"{}\"", schema::channel(schema_name))).await.map_err(query_error)?;
        Ok(Listener { client, schema: schema_name.to_owned(), notified, heard, last_poll: None })
    }

    /// How many notifications arrived since the connection was made.
    pub fn notifications(&self) -> u64 {
        *self.notified.borrow()
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Waits for a notification, at most `poll`, then reads the head.
    pub async fn wait(&mut self, poll: Duration) -> Result<Head, PgError> {
        // A closed channel ends the wait at once; the query then reports the broken connection.
        let woken = tokio::time::timeout(poll, self.notified.changed()).await.is_ok();
        let (mut head, pending) = self.head().await?;
        if woken {
            self.last_poll = None;
        } else {
            if pending && self.last_poll == Some((head, true)) {
                // Best effort: a role that may only read cannot run a step.
                let step = format!("SELECT \"{}\".sequence()", self.schema);
                let _ = self.client.query_typed(&step, &[]).await;
                head = self.head().await?.0;
            }
            self.last_poll = Some((head, pending));
        }
        let heard = std::mem::take(&mut *self.heard.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(merge(head, heard))
    }
}

impl Listener {
    /// The store's head, and whether messages are pending. Read in the simple protocol,
    /// whose reply ends with the server's ReadyForQuery, before which it sends the
    /// notifications of the steps the read saw committed: so they are in `heard` when
    /// this returns, and the head rarely runs ahead of the streams named.
    async fn head(&self) -> Result<(i64, bool), PgError> {
        let sql = format!(
            "SELECT st.position, EXISTS (SELECT 1 FROM \"{0}\".pending) FROM \"{0}\".store st WHERE st.id",
            self.schema
        );
        let replies = self.client.simple_query(&sql).await.map_err(query_error)?;
        let row = replies.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        });
        let field = |i: usize| row.and_then(|r| r.get(i));
        match (field(0).and_then(|p| p.parse().ok()), field(1)) {
            (Some(head), Some(pending)) => Ok((head, pending == "t")),
            _ => Err(PgError::Query(format!("the head of schema {} could not be read", self.schema))),
        }
    }
}

/// The streams of the steps heard, when they run without a gap from the first one's
/// `from` to `head`; else (a step not heard, or a reset between) none.
fn merge(head: i64, mut heard: Heard) -> Head {
    heard.steps.sort_by_key(|s| s.0);
    let resets = heard.resets;
    let Some(first) = heard.steps.first().map(|s| s.0) else {
        return Head { head, from: head, streams: None, resets };
    };
    let mut at = first;
    let mut streams = Some(Vec::new());
    for (from, to, names) in heard.steps {
        if from != at || !resets.is_empty() {
            return Head { head, from: head, streams: None, resets };
        }
        at = to;
        match (names, streams.as_mut()) {
            (Some(n), Some(all)) => all.extend(n),
            _ => streams = None,
        }
    }
    if at != head || streams.is_none() {
        return Head { head, from: head, streams: None, resets };
    }
    Head { head, from: first, streams, resets }
}
