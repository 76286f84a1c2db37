//! A schema's history (`src/history/`, the text every store exports and imports):
//! exported a page at a time, each page one statement (one snapshot), and imported a
//! chunk of lines at a time: checked whole by `history::plan` against what the schema
//! holds, then written in one transaction, the messages with `COPY`.
//!
//! An import writes positioned messages straight into `messages`, as a sequencing step
//! does, so it runs under the step's lock (`SEQUENCE_LOCK`) and keeps every counter a
//! step keeps (`store`, `stream_positions`), besides what an append keeps (`streams`,
//! `sessions`); it is refused while appends wait in `pending` (another writer is
//! saving), since their positions would come after the imported ones. It ends with the
//! step's `NOTIFY`, so that subscribed processes read the imported messages.
//!
//! What a line's `message` is here: a message saved without `timestamp` is stored with
//! the save time added as its last key (`push_stamped`); its line holds it without
//! (`as_saved`), as the engine's does. The schema keeps no mark of it, so a message
//! whose own `timestamp` is its last key and equals its save time to the millisecond,
//! written as `toISOString` writes it, is taken for a stamped one: it reads back the
//! same, but its line has no `timestamp` in `message`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{query_error, schema, Pg, PgError};
use crate::engine::fields::{push_stamped, Fields};
use crate::engine::time::write_iso;
use crate::engine::{JsonString, MessageKind, Millis, NO_SESSION};
use crate::history::{self, Header, HistoryError, Line, MessageLine, SessionLine, View};

/// The rows a page's first batch reads, before it knows their size; a batch reads at
/// most `MAX_ROWS`.
const FIRST_ROWS: i64 = 1_000;
const MAX_ROWS: i64 = 20_000;

/// The text a message was saved with, from its stored body: without the `timestamp`
/// the store added (see the top of this file).
pub fn as_saved(body: &str, time: Millis) -> Cow<'_, str> {
    let mut stamp = String::with_capacity(40);
    stamp.push_str("\"timestamp\":\"");
    write_iso(&mut stamp, time);
    stamp.push_str("\"}");
    let Some(before) = body.strip_suffix(stamp.as_str()) else { return body.into() };
    // `push_stamped` wrote `<text less its "}">` + `,` (unless the text was `{}`) + the stamp.
    let open = match before.strip_suffix(',') {
        Some(open) if !open.trim_end().ends_with('{') => open,
        None if before.trim_end().ends_with('{') => before,
        _ => return body.into(),
    };
    let mut text = String::with_capacity(open.len() + 1);
    text.push_str(open);
    text.push('}');
    // A text that has a `timestamp` of its own was stored as it was.
    match Fields::parse(&text) {
        Ok(f) if !f.has_timestamp => text.into(),
        _ => body.into(),
    }
}

/// The body a message is stored with: its text (trimmed, as the engine keeps it), with
/// the save time added when it has no `timestamp`.
fn stored<'a>(fields: &Fields<'a>, time: Millis) -> Cow<'a, str> {
    if fields.has_timestamp {
        return fields.text.into();
    }
    let mut out = String::with_capacity(fields.text.len() + 40);
    push_stamped(&mut out, fields.text, time);
    out.into()
}

/// Where an export ends, from its header: its last position, and the streams it
/// declares (ordinals below `streams`; ordinals come from a sequence, with gaps).
pub struct ExportEnd {
    pub header: Header,
    pub streams: i64,
}

/// A page of an export, and where the next one starts.
pub struct Page {
    pub text: String,
    pub after: i64,
    pub declared: i64,
    pub done: bool,
}

/// The schema as `plan` sees it: the head and the message there, and the streams and
/// sessions a chunk names. The header's sessions count as present: the chunk's
/// transaction adds those the schema lacks before its messages.
struct Snapshot {
    head: u64,
    at_head: Option<StoredLine>,
    streams: HashMap<JsonString, (i64, Millis)>,
    sessions: HashSet<JsonString>,
}

/// A message as the schema holds it (its body with the stamp, if any).
struct StoredLine {
    stream: JsonString,
    revision: i64,
    kind: i16,
    time: Millis,
    session: Option<JsonString>,
    body: String,
}

impl View for Snapshot {
    fn head(&self) -> u64 {
        self.head
    }

    fn stream(&self, name: &JsonString) -> Option<(i64, Millis)> {
        self.streams.get(name).copied()
    }

    fn has_session(&self, id: &JsonString) -> bool {
        self.sessions.contains(id)
    }

    /// Compared as stored (texts with their stamps), so that a message whose own
    /// `timestamp` reads as a stamp (see the top of the file) compares equal.
    fn holds(&self, theirs: &MessageLine<'_>) -> Option<bool> {
        let Some(ours) = &self.at_head else { return Some(false) };
        let Ok(fields) = Fields::parse(theirs.text) else { return Some(false) };
        let body = stored(&fields, theirs.time);
        Some(
            ours.stream == theirs.stream
                && ours.revision == theirs.revision as i64
                && ours.kind == theirs.kind.code() as i16
                && ours.time == theirs.time
                && ours.session == theirs.session
                && ours.body == body,
        )
    }
}

/// A message of a chunk, with the columns it is stored with.
struct Row<'a> {
    line: &'a MessageLine<'a>,
    body: Cow<'a, str>,
    type_literal: &'a str,
    correlation_id: Option<&'a str>,
    request_id: Option<&'a str>,
}

/// What a chunk changes in a stream: its revision before (-1 when new) and after, the
/// positions of its first and last message in the chunk, and the last one's time.
struct StreamChange {
    before: i64,
    revision: i64,
    first: i64,
    last: i64,
    time: Millis,
}

/// What a chunk adds to a session.
#[derive(Default)]
struct SessionChange {
    messages: i64,
    commands: i64,
    events: i64,
    time: Millis,
}

/// An import's outcome: a refusal (`HistoryError`) is not a failed call, so it is not
/// sent again.
pub type Imported<T> = Result<Result<T, HistoryError>, PgError>;

fn conflict(what: String) -> HistoryError {
    HistoryError::Conflict(what)
}

impl Pg {
    /// The header of the history of the positions after `after`, read in one
    /// statement (one snapshot), and where the export ends.
    pub async fn history_header(&self, after: u64) -> Result<ExportEnd, PgError> {
        let (streams, sessions) = (self.t("streams"), self.t("sessions"));
        let sql = format!(
            "SELECT st.position, (SELECT count(*) FROM {streams}), (SELECT coalesce(max(ordinal) + 1, 0) FROM {streams}), \
             (SELECT coalesce(array_agg(id ORDER BY ordinal), '{{}}') FROM {sessions}), \
             (SELECT coalesce(array_agg(started_at ORDER BY ordinal), '{{}}') FROM {sessions}), \
             (SELECT coalesce(array_agg(last_activity ORDER BY ordinal), '{{}}') FROM {sessions}) \
             FROM {} st WHERE st.id",
            self.t("store")
        );
        let rows = self.rows(&sql, &[]).await?;
        let r = &rows[0];
        let last = r.get::<_, i64>(0).max(0) as u64;
        let ids: Vec<String> = r.get(3);
        let started: Vec<i64> = r.get(4);
        let active: Vec<i64> = r.get(5);
        let sessions = ids
            .iter()
            .zip(started)
            .zip(active)
            .map(|((id, started_at), last_activity)| SessionLine { id: literal(id), started_at, last_activity })
            .collect();
        let after = after.min(last);
        Ok(ExportEnd {
            header: Header {
                after,
                last_position: last,
                messages: last - after,
                streams: r.get::<_, i64>(1) as u64,
                sessions,
            },
            streams: r.get(2),
        })
    }

    /// The next page of an export that wrote the positions up to `after` and declared
    /// the streams below ordinal `declared`, and ends at `last` and ordinal `streams`:
    /// about `budget` bytes, at least one message. Read in batches of rows by position
    /// (positions have no gaps), each as many as the budget left takes at the size of
    /// the rows before, so that no row is read twice or for nothing; with stream lines,
    /// each batch's streams come in one more statement. A reset meanwhile ends the page
    /// early (done, with `after` short of `last`: positions stop running on).
    pub async fn history_page(
        &self,
        after: i64,
        declared: i64,
        last: i64,
        streams: i64,
        messages_only: bool,
        budget: usize,
    ) -> Result<Page, PgError> {
        let messages = format!(
            "SELECT position, stream, revision, kind, time, session, body FROM {} \
             WHERE position > $1 AND position <= least($2, $1 + $3) ORDER BY position",
            self.t("messages")
        );
        // The batch's streams (their ordinals), and the streams to declare up to the
        // last of them (ordinals from `$2` up to theirs).
        let names = format!(
            "WITH named AS (SELECT name, ordinal, created_at FROM {t} WHERE name = ANY($1)) \
             SELECT name, ordinal, created_at FROM named \
             UNION \
             SELECT name, ordinal, created_at FROM {t} WHERE ordinal >= $2 AND ordinal <= (SELECT max(ordinal) FROM named)",
            t = self.t("streams")
        );
        let mut page = Page { text: String::with_capacity(budget + (budget >> 3)), after, declared, done: false };
        let mut rows_wanted: i64 = FIRST_ROWS;
        while page.after < last {
            if page.text.len() >= budget {
                return Ok(page);
            }
            let rows = self
                .rows(&messages, &[(&page.after, Type::INT8), (&last, Type::INT8), (&rows_wanted, Type::INT8)])
                .await?;
            if rows.is_empty() {
                // The store was reset: the caller reports the export short.
                page.done = true;
                return Ok(page);
            }
            let mut ordinals: HashMap<String, i64> = HashMap::new();
            let mut declare: Vec<(i64, String, i64)> = Vec::new();
            if !messages_only {
                let mut batch: Vec<&str> = rows.iter().map(|r| r.get::<_, &str>(1)).collect();
                batch.sort_unstable();
                batch.dedup();
                for r in self.rows(&names, &[(&batch, Type::TEXT_ARRAY), (&page.declared, Type::INT8)]).await? {
                    let (name, ordinal, created): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
                    if ordinal >= page.declared {
                        declare.push((ordinal, name.clone(), created));
                    }
                    ordinals.insert(name, ordinal);
                }
                declare.sort_unstable_by_key(|d| d.0);
            }
            let mut pending = declare.iter().peekable();
            let before = page.text.len();
            for r in &rows {
                let position: i64 = r.get(0);
                let stream: &str = r.get(1);
                if position != page.after + 1 {
                    page.done = true;
                    return Ok(page);
                }
                if !messages_only {
                    let Some(&ordinal) = ordinals.get(stream) else {
                        // The stream is gone: a reset between the two statements.
                        page.done = true;
                        return Ok(page);
                    };
                    while let Some((o, name, created)) = pending.next_if(|d| d.0 <= ordinal) {
                        history::write_stream_line(&mut page.text, &literal(name), *created);
                        page.declared = page.declared.max(o + 1);
                    }
                    page.declared = page.declared.max(ordinal + 1);
                }
                let time: Millis = r.get(4);
                let text = as_saved(r.get::<_, &str>(6), time);
                let line = MessageLine {
                    position: position as u64,
                    stream: literal(stream),
                    revision: r.get::<_, i64>(2).max(0) as u64,
                    kind: MessageKind::from_code(r.get::<_, i16>(3) as u32).unwrap_or(MessageKind::Event),
                    time,
                    session: session_of(r.get::<_, &str>(5)),
                    text: &text,
                };
                history::write_message_line(&mut page.text, &line);
                page.after = position;
            }
            let per_row = ((page.text.len() - before) / rows.len()).max(1);
            rows_wanted = (budget.saturating_sub(page.text.len()) / per_row + 1).clamp(1, MAX_ROWS as usize) as i64;
        }
        if !messages_only && page.declared < streams {
            let rest = format!(
                "SELECT ordinal, name, created_at FROM {} WHERE ordinal >= $1 AND ordinal < $2 ORDER BY ordinal",
                self.t("streams")
            );
            for r in self.rows(&rest, &[(&page.declared, Type::INT8), (&streams, Type::INT8)]).await? {
                history::write_stream_line(&mut page.text, &literal(r.get::<_, &str>(1)), r.get(2));
            }
            page.declared = streams;
        }
        page.done = true;
        Ok(page)
    }

    /// Checks that the schema can take the history `header` heads: refused when it
    /// holds anything, unless `resume`, and then when the history does not continue it
    /// or names a session it has with another start. Changes nothing (the header's
    /// sessions are added with the first lines, `import_lines`, or at the end). Returns
    /// its last position.
    pub async fn import_begin(&self, header: &Header, resume: bool) -> Imported<u64> {
        // Appends committed before this are positioned first: their messages count.
        self.sequence().await?;
        let ids: Vec<&str> = header.sessions.iter().map(|s| s.id.literal()).collect();
        let sessions = self.t("sessions");
        let sql = format!(
            "SELECT st.position + (SELECT count(*) FROM {}), (SELECT count(*) FROM {}), (SELECT count(*) FROM {sessions}), \
               (SELECT coalesce(array_agg(id), '{{}}') FROM {sessions} WHERE id = ANY($1)), \
               (SELECT coalesce(array_agg(started_at), '{{}}') FROM {sessions} WHERE id = ANY($1)) \
             FROM {} st WHERE st.id",
            self.t("pending"),
            self.t("streams"),
            self.t("store"),
        );
        let rows = self.rows(&sql, &[(&ids, Type::TEXT_ARRAY)]).await?;
        let r = &rows[0];
        let (messages, streams, held) =
            (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64, r.get::<_, i64>(2) as u64);
        if !resume && (messages > 0 || streams > 0 || held > 0) {
            return Ok(Err(history::not_empty(messages, streams, held)));
        }
        if let Err(e) = history::check_continues(messages, header) {
            return Ok(Err(e));
        }
        let present: HashMap<String, i64> =
            r.get::<_, Vec<String>>(3).into_iter().zip(r.get::<_, Vec<i64>>(4)).collect();
        for s in &header.sessions {
            if let Some(&ours) = present.get(s.id.literal()) {
                if let Err(e) = history::check_session(&s.id, ours, s.started_at) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(messages))
    }

    /// Takes in a chunk of lines: checked whole against the schema, then written in one
    /// transaction (all or nothing). Returns the lines of each kind read.
    pub async fn import_lines(&self, header: &Header, lines: &[Line<'_>]) -> Imported<(u64, u64)> {
        // What `plan` needs, in one statement: the head, and the streams and sessions
        // the chunk names.
        let mut names: Vec<&str> = Vec::new();
        let mut ids: Vec<&str> = Vec::new();
        for line in lines {
            match line {
                Line::Stream { name, .. } => names.push(name.literal()),
                Line::Message { message, .. } => {
                    names.push(message.stream.literal());
                    if let Some(s) = &message.session {
                        ids.push(s.literal());
                    }
                }
            }
        }
        names.sort_unstable();
        names.dedup();
        ids.sort_unstable();
        ids.dedup();
        let sql = format!(
            "WITH s AS (SELECT name, revision, created_at FROM {} WHERE name = ANY($1)), \
               h AS (SELECT m.* FROM {} m JOIN {} st ON st.id AND m.position = st.position) \
             SELECT (SELECT position FROM {} WHERE id), \
               (SELECT coalesce(array_agg(id), '{{}}') FROM {} WHERE id = ANY($2)), \
               (SELECT coalesce(array_agg(name ORDER BY name), '{{}}') FROM s), \
               (SELECT coalesce(array_agg(revision ORDER BY name), '{{}}') FROM s), \
               (SELECT coalesce(array_agg(created_at ORDER BY name), '{{}}') FROM s), \
               (SELECT stream FROM h), (SELECT revision FROM h), (SELECT kind FROM h), (SELECT time FROM h), \
               (SELECT session FROM h), (SELECT body FROM h)",
            self.t("streams"),
            self.t("messages"),
            self.t("store"),
            self.t("store"),
            self.t("sessions")
        );
        let rows = self.rows(&sql, &[(&names, Type::TEXT_ARRAY), (&ids, Type::TEXT_ARRAY)]).await?;
        let r = &rows[0];
        let found: Vec<String> = r.get(2);
        let revisions: Vec<i64> = r.get(3);
        let created: Vec<i64> = r.get(4);
        let at_head = r.get::<_, Option<String>>(5).map(|stream| StoredLine {
            stream: literal(&stream),
            revision: r.get(6),
            kind: r.get(7),
            time: r.get(8),
            session: session_of(r.get(9)),
            body: r.get(10),
        });
        let view = Snapshot {
            head: r.get::<_, i64>(0).max(0) as u64,
            at_head,
            streams: found.iter().map(|n| literal(n)).zip(revisions.into_iter().zip(created)).collect(),
            // The schema's, and the header's (added before the chunk's messages).
            sessions: r
                .get::<_, Vec<String>>(1)
                .iter()
                .map(|s| literal(s))
                .chain(header.sessions.iter().map(|s| s.id.clone()))
                .collect(),
        };
        // The message at the head, if the chunk reaches it, was compared (`View::holds`).
        let plan = match history::plan(lines.to_vec(), &view) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        let counts = (plan.message_lines, plan.stream_lines);
        if plan.streams.is_empty() && plan.messages.is_empty() {
            return Ok(Ok(counts));
        }

        // Every column, decided as an append decides it, from the line's text.
        let mut rows = Vec::with_capacity(plan.messages.len());
        for m in &plan.messages {
            let fields = match Fields::parse(m.text) {
                Ok(f) => f,
                Err(why) => {
                    return Ok(Err(HistoryError::Invalid(format!("the message at position {} {why}", m.position))))
                }
            };
            rows.push(Row {
                line: m,
                body: stored(&fields, m.time),
                type_literal: fields.name,
                correlation_id: fields.correlation_id,
                request_id: fields.request_id,
            });
        }
        let new: HashSet<&JsonString> = plan.streams.iter().map(|(n, _)| n).collect();
        let mut changes: HashMap<&JsonString, StreamChange> = HashMap::new();
        let mut order: Vec<&JsonString> = Vec::new();
        let mut sessions: HashMap<&JsonString, SessionChange> = HashMap::new();
        let (mut commands, mut events, mut bytes) = (0i64, 0i64, 0i64);
        let (mut oldest, mut newest): (Option<Millis>, Option<Millis>) = (None, None);
        for row in &rows {
            let m = row.line;
            let p = m.position as i64;
            let c = changes.entry(&m.stream).or_insert_with(|| {
                order.push(&m.stream);
                let before = view.stream(&m.stream).map_or(-1, |(r, _)| r);
                StreamChange { before, revision: before, first: p, last: p, time: m.time }
            });
            c.revision = m.revision as i64;
            c.last = p;
            c.time = m.time;
            match m.kind {
                MessageKind::Command => commands += 1,
                MessageKind::Event => events += 1,
            }
            bytes += row.body.len() as i64;
            oldest = Some(oldest.map_or(m.time, |t| t.min(m.time)));
            newest = Some(newest.map_or(m.time, |t| t.max(m.time)));
            if let Some(s) = &m.session {
                let s = sessions.entry(s).or_default();
                s.messages += 1;
                match m.kind {
                    MessageKind::Command => s.commands += 1,
                    MessageKind::Event => s.events += 1,
                }
                s.time = m.time;
            }
        }
        let head = view.head as i64;
        let to = head + rows.len() as i64;

        // New streams, in creation order, each at its revision after the chunk.
        let s_name: Vec<&str> = plan.streams.iter().map(|(n, _)| n.literal()).collect();
        let s_created: Vec<i64> = plan.streams.iter().map(|(_, c)| *c).collect();
        let s_revision: Vec<i64> =
            plan.streams.iter().map(|(n, _)| changes.get(n).map_or(-1, |c| c.revision)).collect();
        let s_updated: Vec<i64> =
            plan.streams.iter().map(|(n, created)| changes.get(n).map_or(*created, |c| c.time)).collect();
        // Streams the store had, moved on from the revision `plan` saw.
        let old: Vec<&JsonString> = order.iter().copied().filter(|n| !new.contains(n)).collect();
        let o_name: Vec<&str> = old.iter().map(|n| n.literal()).collect();
        let o_before: Vec<i64> = old.iter().map(|n| changes[n].before).collect();
        let o_revision: Vec<i64> = old.iter().map(|n| changes[n].revision).collect();
        let o_updated: Vec<i64> = old.iter().map(|n| changes[n].time).collect();
        // Their positions: every new stream (zeros while empty) and every stream written.
        let mut p_name: Vec<&str> = Vec::new();
        let (mut p_first, mut p_last): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
        for (n, _) in &plan.streams {
            if !changes.contains_key(n) {
                p_name.push(n.literal());
                p_first.push(0);
                p_last.push(0);
            }
        }
        for n in &order {
            p_name.push(n.literal());
            p_first.push(changes[n].first);
            p_last.push(changes[n].last);
        }
        let x_id: Vec<&str> = sessions.keys().map(|s| s.literal()).collect();
        let x_counts: Vec<[i64; 4]> = sessions.values().map(|s| [s.messages, s.commands, s.events, s.time]).collect();
        let column = |i: usize| x_counts.iter().map(|c| c[i]).collect::<Vec<i64>>();
        let (x_messages, x_commands, x_events, x_time) = (column(0), column(1), column(2), column(3));
        let notice = notice(head, to, &order);

        let store = self.t("store");
        let run = async {
            // No step runs meanwhile, and none can have run since `plan` read the head.
            self.client
                .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({})", schema::SEQUENCE_LOCK))
                .await?;
            let check = format!(
                "SELECT st.position, EXISTS (SELECT 1 FROM {}) FROM {store} st WHERE st.id FOR UPDATE",
                self.t("pending")
            );
            let row = self.client.query_typed(&check, &[]).await?;
            let (now, pending): (i64, bool) = (row[0].get(0), row[0].get(1));
            if pending {
                return Ok(Err(conflict(
                    "messages are being saved to the store (appends wait to be positioned): a history is imported into a store no one else writes to".to_owned(),
                )));
            }
            if now != head {
                return Ok(Err(conflict(format!(
                    "the store changed during the import: its last position is {now}, where the history's chunk continues {head}"
                ))));
            }
            self.add_sessions(header).await?;
            if !s_name.is_empty() {
                let sql = format!(
                    "INSERT INTO {} (name, ordinal, revision, created_at, last_updated) \
                     SELECT n, nextval('{}'), r, c, u \
                     FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) WITH ORDINALITY AS x(n, r, c, u, o) ORDER BY o",
                    self.t("streams"),
                    self.t("stream_ordinals"),
                );
                let params: [(&(dyn ToSql + Sync), Type); 4] = [
                    (&s_name, Type::TEXT_ARRAY),
                    (&s_revision, Type::INT8_ARRAY),
                    (&s_created, Type::INT8_ARRAY),
                    (&s_updated, Type::INT8_ARRAY),
                ];
                self.client.query_typed(&sql, &params).await?;
            }
            if !o_name.is_empty() {
                let sql = format!(
                    "WITH moved AS ( \
                       UPDATE {} s SET revision = x.r, last_updated = x.u \
                       FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS x(n, b, r, u) \
                       WHERE s.name = x.n AND s.revision = x.b RETURNING 1 \
                     ) SELECT count(*) FROM moved",
                    self.t("streams")
                );
                let params: [(&(dyn ToSql + Sync), Type); 4] = [
                    (&o_name, Type::TEXT_ARRAY),
                    (&o_before, Type::INT8_ARRAY),
                    (&o_revision, Type::INT8_ARRAY),
                    (&o_updated, Type::INT8_ARRAY),
                ];
                let moved: i64 = self.client.query_typed(&sql, &params).await?[0].get(0);
                if moved != o_name.len() as i64 {
                    return Ok(Err(conflict(
                        "a stream of the history was saved to during the import: a history is imported into a store no one else writes to".to_owned(),
                    )));
                }
            }
            if !rows.is_empty() {
                self.copy_messages(&rows).await?;
            }
            let sql = format!(
                "INSERT INTO {} AS p (name, first_position, last_position) \
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) \
                 ON CONFLICT (name) DO UPDATE SET \
                   last_position = CASE WHEN EXCLUDED.last_position = 0 THEN p.last_position ELSE EXCLUDED.last_position END, \
                   first_position = CASE WHEN p.first_position = 0 THEN EXCLUDED.first_position ELSE p.first_position END",
                self.t("stream_positions")
            );
            let params: [(&(dyn ToSql + Sync), Type); 3] =
                [(&p_name, Type::TEXT_ARRAY), (&p_first, Type::INT8_ARRAY), (&p_last, Type::INT8_ARRAY)];
            self.client.query_typed(&sql, &params).await?;
            let new_streams = s_name.len() as i64;
            let sql = format!(
                "UPDATE {store} SET position = $1, streams = streams + $2, commands = commands + $3, events = events + $4, \
                 bytes = bytes + $5, oldest = least(oldest, $6), newest = greatest(newest, $7) WHERE id"
            );
            let params: [(&(dyn ToSql + Sync), Type); 7] = [
                (&to, Type::INT8),
                (&new_streams, Type::INT8),
                (&commands, Type::INT8),
                (&events, Type::INT8),
                (&bytes, Type::INT8),
                (&oldest, Type::INT8),
                (&newest, Type::INT8),
            ];
            self.client.query_typed(&sql, &params).await?;
            if !x_id.is_empty() {
                let sql = format!(
                    "UPDATE {} x SET message_count = message_count + u.n, command_count = command_count + u.c, \
                     event_count = event_count + u.e, last_activity = u.t \
                     FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[]) AS u(id, n, c, e, t) WHERE x.id = u.id",
                    self.t("sessions")
                );
                let params: [(&(dyn ToSql + Sync), Type); 5] = [
                    (&x_id, Type::TEXT_ARRAY),
                    (&x_messages, Type::INT8_ARRAY),
                    (&x_commands, Type::INT8_ARRAY),
                    (&x_events, Type::INT8_ARRAY),
                    (&x_time, Type::INT8_ARRAY),
                ];
                self.client.query_typed(&sql, &params).await?;
            }
            if let Some(notice) = &notice {
                // What a step sends, so that subscribers elsewhere read the new positions.
                let channel = schema::channel(&self.schema);
                self.client
                    .query_typed("SELECT pg_notify($1, $2)", &[(&channel, Type::TEXT), (notice, Type::TEXT)])
                    .await?;
            }
            self.client.batch_execute("COMMIT").await?;
            Ok(Ok(counts))
        };
        self.settle(run).await
    }

    /// Ends an import: the header's sessions (added if no line was), with their last
    /// activity.
    pub async fn import_end(&self, header: &Header) -> Result<(), PgError> {
        let ids: Vec<&str> = header.sessions.iter().map(|s| s.id.literal()).collect();
        let times: Vec<i64> = header.sessions.iter().map(|s| s.last_activity).collect();
        let sql = format!(
            "UPDATE {} x SET last_activity = h.t FROM unnest($1::text[], $2::int8[]) AS h(id, t) \
             WHERE x.id = h.id AND x.last_activity <> h.t",
            self.t("sessions")
        );
        let run = async {
            self.client.batch_execute("BEGIN").await?;
            self.add_sessions(header).await?;
            self.client.query_typed(&sql, &[(&ids, Type::TEXT_ARRAY), (&times, Type::INT8_ARRAY)]).await?;
            self.client.batch_execute("COMMIT").await?;
            Ok(Ok::<(), HistoryError>(()))
        };
        self.settle(run).await?.map_err(|e| PgError::Query(e.to_string()))
    }

    /// Adds the header's sessions the schema lacks, in the header's order after the
    /// schema's, with no messages yet (in the caller's transaction). The `store` row
    /// is locked first, as a new session locks it, so that the counts stay in step.
    async fn add_sessions(&self, header: &Header) -> Result<(), tokio_postgres::Error> {
        if header.sessions.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = header.sessions.iter().map(|s| s.id.literal()).collect();
        let started: Vec<i64> = header.sessions.iter().map(|s| s.started_at).collect();
        let (store, table) = (self.t("store"), self.t("sessions"));
        self.client.batch_execute(&format!("SELECT 1 FROM {store} WHERE id FOR UPDATE")).await?;
        // A session the header names twice is added once, at its first place.
        let sql = format!(
            "WITH h AS ( \
               SELECT DISTINCT ON (id) id, started_at, o FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS h(id, started_at, o) \
               WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE x.id = h.id) ORDER BY id, o \
             ), added AS ( \
               INSERT INTO {table} (id, ordinal, started_at, last_activity) \
               SELECT h.id, (SELECT sessions FROM {store} WHERE id) + row_number() OVER (ORDER BY h.o), h.started_at, h.started_at \
               FROM h RETURNING 1 \
             ) \
             UPDATE {store} SET sessions = sessions + (SELECT count(*) FROM added) WHERE id"
        );
        self.client.query_typed(&sql, &[(&ids, Type::TEXT_ARRAY), (&started, Type::INT8_ARRAY)]).await?;
        Ok(())
    }

    /// Writes the chunk's messages into `messages` with `COPY` (binary), in the
    /// caller's transaction.
    async fn copy_messages(&self, rows: &[Row<'_>]) -> Result<(), tokio_postgres::Error> {
        let sql = format!(
            "COPY {} (position, stream, revision, kind, type, time, session, correlation_id, request_id, body) FROM STDIN BINARY",
            self.t("messages")
        );
        let sink = self.client.copy_in(&sql).await?;
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::INT2,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
        ];
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        for row in rows {
            let m = row.line;
            let position = m.position as i64;
            let revision = m.revision as i64;
            let kind = m.kind.code() as i16;
            let session = m.session.as_ref().map_or(NO_SESSION, JsonString::literal);
            let body: &str = &row.body;
            writer
                .as_mut()
                .write(&[
                    &position,
                    &m.stream.literal(),
                    &revision,
                    &kind,
                    &row.type_literal,
                    &m.time,
                    &session,
                    &row.correlation_id,
                    &row.request_id,
                    &body,
                ])
                .await?;
        }
        writer.as_mut().finish().await?;
        Ok(())
    }

    /// Awaits `run`, a transaction it began: committed when it returns `Ok(Ok)`, rolled
    /// back otherwise, so that nothing of a refused chunk is kept.
    async fn settle<T>(
        &self,
        run: impl std::future::Future<Output = Result<Result<T, HistoryError>, tokio_postgres::Error>>,
    ) -> Imported<T> {
        match run.await {
            Ok(Ok(v)) => Ok(Ok(v)),
            Ok(Err(refused)) => {
                self.client.batch_execute("ROLLBACK").await.map_err(query_error)?;
                Ok(Err(refused))
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(query_error(e))
            }
        }
    }
}

/// A name as the schema keeps it (a JSON literal), as the engine's type.
fn literal(stored: &str) -> JsonString {
    JsonString::from_literal(stored).unwrap_or_else(|| JsonString::new(stored))
}

/// A message's session: `None` for the schema's mark of none.
fn session_of(stored: &str) -> Option<JsonString> {
    (stored != NO_SESSION).then(|| literal(stored))
}

/// The notification a step sends for positions `(from, to]` in `streams`
/// (`schema::channel`), or `None` when nothing was positioned.
fn notice(from: i64, to: i64, streams: &[&JsonString]) -> Option<String> {
    if to <= from {
        return None;
    }
    let names: Vec<&str> = streams.iter().map(|s| s.literal()).collect();
    let names = names.join(",");
    let names = if names.len() > schema::MAX_NAMES { "many".to_owned() } else { format!("[{names}]") };
    Some(format!("{from} {to} {names}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_text_gives_back_the_saved_one() {
        let time = 1_700_000_000_123;
        for saved in [r#"{"type":"A","data":{"x":[1,2]}}"#, r#"{"type":"A" }"#] {
            let fields = Fields::parse(saved).unwrap();
            let body = stored(&fields, time);
            assert_ne!(body, saved);
            assert_eq!(as_saved(&body, time), saved);
        }

        // A text with a timestamp of its own is stored and read as it was.
        for own in [
            r#"{"type":"A","timestamp":"2020-01-01T00:00:00.000Z"}"#,
            r#"{"timestamp":"2023-11-14T22:13:20.123Z","type":"A"}"#,
            r#"{"type":"A","timestamp":"x","timestamp":"2023-11-14T22:13:20.123Z"}"#,
        ] {
            let body = stored(&Fields::parse(own).unwrap(), time);
            assert_eq!(body, own);
            assert_eq!(as_saved(&body, time), own);
        }
        // The one text a stamp cannot be told from (see the top of the file).
        let own = r#"{"type":"A","timestamp":"2023-11-14T22:13:20.123Z"}"#;
        assert_eq!(as_saved(own, time), r#"{"type":"A"}"#);
        assert_eq!(as_saved(own, time + 1), own);
    }

    #[test]
    fn notices_are_a_steps() {
        let (a, b) = (JsonString::new("a"), JsonString::new("b\"c"));
        assert_eq!(notice(3, 5, &[&a, &b]).unwrap(), r#"3 5 ["a","b\"c"]"#);
        assert_eq!(notice(3, 3, &[]), None);
        let long = JsonString::new(&"x".repeat(schema::MAX_NAMES));
        assert_eq!(notice(0, 1, &[&long]).unwrap(), "0 1 many");
    }
}
