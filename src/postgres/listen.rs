//! What wakes the subscriptions of a `PostgresMessageStore`: one connection per store
//! instance that `LISTEN`s on the schema's channel (`schema::channel`). Every append
//! that commits messages notifies it once, with no need to trust the payload: a wake
//! is followed by reading the store's head, and so is a wait that timed out, which
//! makes polling by position the fallback: a lost notification, or one sent while
//! this connection was being made again, delays a message by one poll, never loses it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, Client};

use super::{query_error, schema, PgError, Target};

pub struct Listener {
    client: Client,
    head_sql: String,
    /// Counts the notifications received; a change wakes `wait`.
    notified: watch::Receiver<u64>,
    /// The tokens of the resets announced since the last `wait`.
    resets: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    pub async fn connect(target: &Target, schema_name: &str) -> Result<Listener, PgError> {
        let (client, mut connection) = target.connect().await?;
        let (tx, notified) = watch::channel(0u64);
        let resets = Arc::new(Mutex::new(Vec::new()));
        let seen = resets.clone();
        tokio::spawn(async move {
            // Driving the connection is what delivers notifications (and replies).
            let mut count = 0u64;
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(note)) => {
                        if let Some(token) = note.payload().strip_prefix("reset ") {
                            seen.lock().unwrap_or_else(|p| p.into_inner()).push(token.to_owned());
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
        Ok(Listener {
            client,
            head_sql: format!("SELECT position FROM \"{schema_name}\".store WHERE id"),
            notified,
            resets,
        })
    }

    /// How many notifications arrived since the connection was made.
    pub fn notifications(&self) -> u64 {
        *self.notified.borrow()
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Waits for a notification, at most `poll`, then reads the head: the store's last
    /// position, and the tokens of the resets announced since the last wait.
    pub async fn wait(&mut self, poll: Duration) -> Result<(i64, Vec<String>), PgError> {
        // A closed channel ends the wait at once; the query then reports the broken connection.
        let _ = tokio::time::timeout(poll, self.notified.changed()).await;
        let head: i64 = self.client.query_one(&self.head_sql, &[]).await.map_err(query_error)?.get(0);
        let resets = std::mem::take(&mut *self.resets.lock().unwrap_or_else(|p| p.into_inner()));
        Ok((head, resets))
    }
}
