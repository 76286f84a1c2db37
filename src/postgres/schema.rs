//! The tables and the functions of a `PostgresMessageStore` schema.
//!
//! Names (streams, types, sessions, ids) are kept as their JSON literals, as the engine
//! keeps them: every JavaScript string survives (a lone surrogate is a `\udXXX` escape,
//! which PostgreSQL's `text` holds and `jsonb` would refuse). A message's text is the
//! JSON as saved, with `timestamp` added when the caller gave none.
//!
//! Writing is two steps, so that appends from many connections commit together and
//! share the server's flushes to disk (group commit), while readers still see
//! positions 1, 2, 3… with no gaps and never p+1 before p:
//! 1. `append` checks and writes a group of saves into `pending`, without positions,
//!    under a lock per stream only (an advisory lock on the stream's hash, taken in
//!    key order so two groups never deadlock). Revisions are given here, so
//!    `expectedRevision` is checked atomically and a save is durable when it returns.
//! 2. `sequence` moves every committed pending row into `messages`, numbering them
//!    after the last position in the order they were written, under one lock
//!    (`SEQUENCE_LOCK`), taken in a statement of its own so that the statements after
//!    it see every append committed before it. Whoever runs it first serves every
//!    append committed so far, from any process: one step, one flush, for many saves.
//!    Readers read `messages` and `store` only, so they see positioned messages only,
//!    and a step's positions all at once.
//!
//! Invariants:
//! - `store.position` is the last position given; only `sequence` changes it, under
//!   `SEQUENCE_LOCK`, so steps commit one after another, in position order;
//! - a stream's `revision` is its message count - 1 (-1 while empty), pending
//!   messages included, changed only under the stream's lock;
//! - within a stream, `pending.id` grows with the revision (an append waits for the
//!   stream's previous append to commit before it takes ids), so numbering by `id`
//!   keeps position order and revision order alike;
//! - a batch id is written in the append's transaction, last: a retried append (its
//!   reply lost) fails on it, undoing itself, and the first outcome is read instead;
//! - the counters in `store` and `stream_positions` change in the step that positions
//!   the messages they count; `sessions` and `streams` in the append that wrote them;
//!   a stream is counted once, by the step that positions its first message or, for a
//!   stream created empty, when it is created (a `stream_positions` row of zeros).

/// A schema name: a plain lower-case SQL identifier, so that quoting it is all it
/// needs and no option can change a statement.
pub fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}

/// The statements that create the schema, run in one transaction under an advisory
/// lock (`SETUP_LOCK`) and only when its `store` table is absent, so that processes
/// starting at once create it once, and none runs DDL on tables in use.
pub fn create(schema: &str) -> String {
    format!(
        "{}{}{}{}",
        fill(TABLES, schema),
        fill(ADDED_IN_4, schema),
        fill(FUNCTIONS, schema),
        fill(MARK_VERSION, schema)
    )
}

/// The statements that bring a schema made by an earlier version up to this one: the
/// tables version 4 added (filled from the old ones), the indexes it dropped, the
/// functions replaced and the version marked.
pub fn upgrade(schema: &str, from: i32) -> String {
    let tables = if from < 4 { fill(ADDED_IN_4, schema) + &fill(UPGRADE_TO_4, schema) } else { String::new() };
    format!("{}{tables}{}{}", fill(VERSION_TABLE, schema), fill(FUNCTIONS, schema), fill(MARK_VERSION, schema))
}

/// The version of the tables and functions (and what they send) that this build
/// writes. Version 1 had no `version` table: appends sent no notification and knew no
/// modes. Version 2 kept a session's last activity at the latest save time, not the
/// last save's (as the other stores do, when the clock goes back). Version 3 gave
/// positions in the append, under one lock held through every commit; version 4
/// appends without positions and numbers them in steps (`sequence`).
pub const VERSION: i32 = 4;

/// The `NOTIFY` channel of a schema: its name (a valid schema name is a valid channel
/// name). Each sequencing step that positioned messages sends `<from> <to> <streams>`:
/// positions after `from` through `to` are visible, and `<streams>` is the JSON array
/// of the streams they went to, or `many` when that would not fit in a notification
/// (8,000 bytes). A reset sends `reset <token>`.
pub fn channel(schema: &str) -> String {
    schema.to_owned()
}

/// The longest stream list a notification carries; longer ones are sent as `many`.
pub(crate) const MAX_NAMES: usize = 7900;

/// The SQL with the schema's name and the boundary's numbers (expectation modes and
/// message types: the engine's, never copied by hand).
fn fill(sql: &str, schema: &str) -> String {
    use crate::engine::{Expected, MessageKind};
    sql.replace("{message_columns}", MESSAGE_COLUMNS)
        .replace("{s}", &format!("\"{schema}\""))
        .replace("{channel}", &channel(schema))
        .replace("{version}", &VERSION.to_string())
        .replace("{sequence_lock}", &SEQUENCE_LOCK.to_string())
        .replace("{stream_locks}", &STREAM_LOCKS.to_string())
        .replace("{max_names}", &MAX_NAMES.to_string())
        .replace("{no_stream}", &Expected::NO_STREAM.to_string())
        .replace("{stream_exists}", &Expected::STREAM_EXISTS.to_string())
        .replace("{command}", &MessageKind::Command.code().to_string())
        .replace("{event}", &MessageKind::Event.code().to_string())
}

/// A message's columns, in `pending` (before its step) and in `messages` (after it,
/// with its position): the step moves rows from one to the other as they are.
const MESSAGE_COLUMNS: &str = "
  stream text NOT NULL,
  revision bigint NOT NULL,
  kind smallint NOT NULL,
  type text NOT NULL,
  time bigint NOT NULL,
  session text NOT NULL,
  correlation_id text,
  request_id text,
  body text NOT NULL";

const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS {s}.version (id boolean PRIMARY KEY DEFAULT true CHECK (id), version int NOT NULL);\n";

const MARK_VERSION: &str =
    "INSERT INTO {s}.version (id, version) VALUES (true, {version}) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;\n";

/// `pg_advisory_xact_lock` key of the set-up transaction (any fixed number).
pub const SETUP_LOCK: i64 = 0x6d73_6773_746f_7265; // "msgstore"

/// `pg_advisory_xact_lock` key of a sequencing step ("msgseq01"): one step at a time.
pub const SEQUENCE_LOCK: i64 = 0x6d73_6773_6571_3031;

/// The first half of a stream lock's two-part advisory key ("ms"; the second is the
/// stream name's `hashtext`). Two-part keys never meet one-part keys such as
/// `SEQUENCE_LOCK`; two streams with one hash only wait for each other.
const STREAM_LOCKS: i32 = 0x6d73;

// The indexes on `messages` are the ones a read needs: the position (every read's
// order), (stream, revision) for streams and revisions, and the ids a message bus
// looks messages up by (type, correlation and request ids). Filters by kind, session,
// time and `jsonFilter` narrow what those give, or scan in position order: each index
// costs every write (docs/design.md has the measurements).
const TABLES: &str = r#"
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.version (id boolean PRIMARY KEY DEFAULT true CHECK (id), version int NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.store (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  position bigint NOT NULL DEFAULT 0,
  streams bigint NOT NULL DEFAULT 0,
  sessions bigint NOT NULL DEFAULT 0,
  commands bigint NOT NULL DEFAULT 0,
  events bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  oldest bigint,
  newest bigint
);
INSERT INTO {s}.store (id) VALUES (true) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {s}.streams (
  name text PRIMARY KEY,
  ordinal bigint NOT NULL,
  revision bigint NOT NULL,
  created_at bigint NOT NULL,
  last_updated bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS streams_ordinal ON {s}.streams (ordinal);
CREATE TABLE IF NOT EXISTS {s}.messages (
  position bigint PRIMARY KEY,
{message_columns},
  UNIQUE (stream, revision)
);
CREATE INDEX IF NOT EXISTS messages_type ON {s}.messages (type, position);
CREATE INDEX IF NOT EXISTS messages_correlation ON {s}.messages (correlation_id, position) WHERE correlation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_request ON {s}.messages (request_id, position) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.sessions (
  id text PRIMARY KEY,
  ordinal bigint NOT NULL,
  started_at bigint NOT NULL,
  message_count bigint NOT NULL DEFAULT 0,
  command_count bigint NOT NULL DEFAULT 0,
  event_count bigint NOT NULL DEFAULT 0,
  last_activity bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.batches (
  id text PRIMARY KEY,
  outcome text NOT NULL
);
"#;

// What version 4 added, in a new schema and in one brought up from an earlier version:
// the ordinals of streams, their positions (kept by the steps), and the appends waiting
// for a step.
const ADDED_IN_4: &str = r#"
CREATE SEQUENCE IF NOT EXISTS {s}.stream_ordinals MINVALUE 0 START 0;
CREATE TABLE IF NOT EXISTS {s}.stream_positions (
  name text PRIMARY KEY,
  first_position bigint NOT NULL,
  last_position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.pending (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
{message_columns}
);
-- Rows come and go all the time: vacuumed by autovacuum after a thousand, at full speed
-- (the steps also vacuum it every ten thousand, `Pg::sequence`).
ALTER TABLE {s}.pending SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0);
"#;

// From versions 1 to 3, whose tables are those above plus `streams.first_position`
// and `last_position` (now in `stream_positions`), `messages.data` (a `jsonb` copy of
// the data, left in place and no longer written) and four more indexes.
const UPGRADE_TO_4: &str = r#"
SELECT setval('{s}.stream_ordinals', (SELECT coalesce(max(ordinal) + 1, 0) FROM {s}.streams), false);
ALTER TABLE {s}.streams ADD COLUMN IF NOT EXISTS first_position bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS last_position bigint NOT NULL DEFAULT 0;
INSERT INTO {s}.stream_positions (name, first_position, last_position)
  SELECT name, first_position, last_position FROM {s}.streams ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS {s}.messages_kind;
DROP INDEX IF EXISTS {s}.messages_session;
DROP INDEX IF EXISTS {s}.messages_time;
DROP INDEX IF EXISTS {s}.messages_data;
DROP FUNCTION IF EXISTS {s}.append(text, text[], bigint[], int[], bigint[], text[], smallint[], text[], text[], text[], text[], text[]);
"#;

const FUNCTIONS: &str = r#"

-- One group of saves, in call order, in the caller's transaction, written to `pending`
-- (see the top of schema.rs). Each save is all or nothing on its own: a refused one
-- ([index, code, actual revision] in the outcome) changes nothing and the others go
-- on. Returns the outcome as JSON text:
-- {"refused":[[i,"StreamNotFound"|"WrongExpectedRevision",actual],…],
--  "revisions":[each save's new revision, or null when refused],"added":messages}.
-- An expectation is a revision (-1: no messages), -2 (`no_stream`: no messages) or -3
-- (`stream_exists`: at least one; refused as StreamNotFound), Rust's `Expected`.
-- The outcome is recorded under the batch id last: a group sent again after its
-- commit fails there on the key (`batches_pkey`), undoing what it did again, and the
-- caller reads the first outcome (`Pg::append`). Nothing is looked up first, since
-- that is the rare case.
CREATE OR REPLACE FUNCTION {s}.append(
  batch text,
  s_stream text[], s_expected bigint[], s_count int[], s_time bigint[], s_session text[],
  m_kind smallint[], m_type text[], m_correlation text[], m_request text[], m_body text[]
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  cur bigint;
  found_stream boolean;
  written boolean;
  m int := 1;
  n int;
  k int;
  added bigint := 0;
  refused text := '';
  revisions text := '';
  outcome text;
BEGIN
  -- The streams' locks, in key order: two groups never wait for each other in a circle.
  IF array_length(s_stream, 1) = 1 THEN
    PERFORM pg_advisory_xact_lock({stream_locks}, hashtext(s_stream[1]));
  ELSE
    FOR k IN SELECT DISTINCT hashtext(x) FROM unnest(s_stream) x ORDER BY 1 LOOP
      PERFORM pg_advisory_xact_lock({stream_locks}, k);
    END LOOP;
  END IF;
  FOR i IN 1 .. coalesce(array_length(s_stream, 1), 0) LOOP
    n := s_count[i];
    written := false;
    IF s_expected[i] IS NULL AND n = 1 THEN
      -- The commonest save, one message with nothing to check, in one statement: the
      -- stream moves on and the message is written at its new revision.
      WITH moved AS (
        UPDATE {s}.streams SET revision = revision + 1, last_updated = s_time[i]
          WHERE name = s_stream[i] RETURNING revision
      )
      INSERT INTO {s}.pending (stream, revision, kind, type, time, session, correlation_id, request_id, body)
        SELECT s_stream[i], moved.revision, m_kind[m], m_type[m], s_time[i], s_session[i], m_correlation[m], m_request[m], m_body[m]
        FROM moved
        RETURNING revision - 1 INTO cur;
      written := FOUND;
      IF NOT written THEN
        INSERT INTO {s}.streams (name, ordinal, revision, created_at, last_updated)
          VALUES (s_stream[i], nextval('{s}.stream_ordinals'), 0, s_time[i], s_time[i]);
        cur := -1;
      END IF;
    ELSIF s_expected[i] IS NULL AND n > 0 THEN
      -- Nothing to check: the stream moves on at once (`cur`: its revision before this save).
      UPDATE {s}.streams SET revision = revision + n, last_updated = s_time[i]
        WHERE name = s_stream[i] RETURNING revision - n INTO cur;
      IF NOT FOUND THEN
        INSERT INTO {s}.streams (name, ordinal, revision, created_at, last_updated)
          VALUES (s_stream[i], nextval('{s}.stream_ordinals'), n - 1, s_time[i], s_time[i]);
        cur := -1;
      END IF;
    ELSE
      SELECT x.revision INTO cur FROM {s}.streams x WHERE x.name = s_stream[i];
      found_stream := FOUND;
      IF (s_expected[i] = {stream_exists} AND coalesce(cur, -1) < 0)
         OR (s_expected[i] >= 0 AND NOT found_stream) THEN
        refused := refused || CASE WHEN refused = '' THEN '' ELSE ',' END || format('[%s,"StreamNotFound",-1]', i - 1);
        m := m + n;
        revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || 'null';
        CONTINUE;
      END IF;
      IF (s_expected[i] = {no_stream} AND found_stream AND cur >= 0)
         OR (s_expected[i] >= -1 AND found_stream AND s_expected[i] <> cur) THEN
        refused := refused || CASE WHEN refused = '' THEN '' ELSE ',' END || format('[%s,"WrongExpectedRevision",%s]', i - 1, cur);
        m := m + n;
        revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || 'null';
        CONTINUE;
      END IF;
      IF NOT found_stream THEN
        INSERT INTO {s}.streams (name, ordinal, revision, created_at, last_updated)
          VALUES (s_stream[i], nextval('{s}.stream_ordinals'), n - 1, s_time[i], s_time[i]);
        IF n = 0 THEN
          -- Created empty: counted now, since no step will position a message of it yet.
          INSERT INTO {s}.stream_positions (name, first_position, last_position) VALUES (s_stream[i], 0, 0);
          UPDATE {s}.store SET streams = streams + 1 WHERE id;
        END IF;
        cur := -1;
      ELSIF n > 0 THEN
        UPDATE {s}.streams SET revision = cur + n, last_updated = s_time[i] WHERE name = s_stream[i];
      END IF;
    END IF;
    IF n = 1 AND NOT written THEN
      INSERT INTO {s}.pending (stream, revision, kind, type, time, session, correlation_id, request_id, body)
        VALUES (s_stream[i], cur + 1, m_kind[m], m_type[m], s_time[i], s_session[i], m_correlation[m], m_request[m], m_body[m]);
    ELSIF n > 1 THEN
      -- One statement for the save's messages, over slices (an element picked from the
      -- whole arrays row by row would cost a pass over them each).
      INSERT INTO {s}.pending (stream, revision, kind, type, time, session, correlation_id, request_id, body)
        SELECT s_stream[i], cur + u.o, u.k, u.t, s_time[i], s_session[i], u.c, u.r, u.b
        FROM unnest(m_kind[m : m + n - 1], m_type[m : m + n - 1], m_correlation[m : m + n - 1],
                    m_request[m : m + n - 1], m_body[m : m + n - 1]) WITH ORDINALITY AS u(k, t, c, r, b, o)
        ORDER BY u.o;
    END IF;
    IF n > 0 THEN
      cur := cur + n;
      added := added + n;
      IF s_session[i] <> '"no-session"' THEN
        UPDATE {s}.sessions SET
          message_count = message_count + n,
          command_count = command_count + (SELECT count(*) FROM unnest(m_kind[m : m + n - 1]) q WHERE q = {command}),
          event_count = event_count + (SELECT count(*) FROM unnest(m_kind[m : m + n - 1]) q WHERE q = {event}),
          last_activity = s_time[i]
          WHERE id = s_session[i];
      END IF;
      m := m + n;
    END IF;
    revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || cur::text;
  END LOOP;
  outcome := format('{"refused":[%s],"revisions":[%s],"added":%s}', refused, revisions, added);
  INSERT INTO {s}.batches (id, outcome) VALUES (batch, outcome);
  RETURN outcome;
END
$fn$;

-- One sequencing step (see the top of schema.rs): positions every committed pending
-- message, updates the counters, and notifies the schema's channel once with
-- `<from> <to> <streams>`. Returns `<from> <to>`, or '' when nothing was pending
-- (then it wrote nothing, so its commit waits for no flush). Safe to run again.
CREATE OR REPLACE FUNCTION {s}.sequence() RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  start bigint;
  head bigint;
  names text;
BEGIN
  -- Nothing pending that committed before this statement: every append the caller
  -- waits for is positioned and visible already (a step that is moving rows still
  -- shows them here, and is waited for below). Without the lock: no waiting.
  IF NOT EXISTS (SELECT 1 FROM {s}.pending) THEN RETURN ''; END IF;
  -- A statement of its own: each statement after it sees what committed before it.
  PERFORM pg_advisory_xact_lock({sequence_lock});
  SELECT st.position INTO start FROM {s}.store st WHERE st.id;
  WITH moved AS (
    DELETE FROM {s}.pending RETURNING id, stream, revision, kind, type, time, session, correlation_id, request_id, body
  ), numbered AS (
    SELECT start + row_number() OVER (ORDER BY id) AS position, * FROM moved
  ), written AS (
    INSERT INTO {s}.messages (position, stream, revision, kind, type, time, session, correlation_id, request_id, body)
      SELECT position, stream, revision, kind, type, time, session, correlation_id, request_id, body
      FROM numbered ORDER BY position
  ), per_stream AS (
    SELECT stream, min(position) AS first, max(position) AS last FROM numbered GROUP BY stream
  ), marked AS (
    INSERT INTO {s}.stream_positions AS p (name, first_position, last_position)
      SELECT stream, first, last FROM per_stream
      ON CONFLICT (name) DO UPDATE SET last_position = EXCLUDED.last_position,
        first_position = CASE WHEN p.first_position = 0 THEN EXCLUDED.first_position ELSE p.first_position END
      RETURNING (p.xmax = 0) AS created
  ), totals AS (
    SELECT count(*) AS n,
      count(*) FILTER (WHERE kind = {command}) AS commands,
      count(*) FILTER (WHERE kind = {event}) AS events,
      coalesce(sum(octet_length(body)), 0) AS bytes,
      min(time) AS oldest, max(time) AS newest
    FROM numbered
  ), counted AS (
    UPDATE {s}.store st SET position = st.position + t.n,
      streams = st.streams + (SELECT count(*) FROM marked WHERE created),
      commands = st.commands + t.commands, events = st.events + t.events, bytes = st.bytes + t.bytes,
      oldest = least(coalesce(st.oldest, t.oldest), t.oldest),
      newest = greatest(coalesce(st.newest, t.newest), t.newest)
    FROM totals t WHERE st.id AND t.n > 0
    RETURNING st.position
  )
  SELECT (SELECT position FROM counted), (SELECT string_agg(stream, ',') FROM per_stream) INTO head, names;
  IF head IS NULL THEN RETURN ''; END IF;
  IF octet_length(names) > {max_names} THEN names := 'many'; ELSE names := '[' || names || ']'; END IF;
  PERFORM pg_notify('{channel}', format('%s %s %s', start, head, names));
  RETURN format('%s %s', start, head);
END
$fn$;

-- A new session and its empty stream `session-<id>`, under the stream's lock and the
-- `store` row's, so that the counters and ordinals stay in step.
CREATE OR REPLACE FUNCTION {s}.create_session(p_id text, p_stream text, p_now bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock({stream_locks}, hashtext(p_stream));
  PERFORM 1 FROM {s}.store st WHERE st.id FOR UPDATE;
  -- Sent again after a lost reply: the session is there already.
  IF EXISTS (SELECT 1 FROM {s}.sessions WHERE id = p_id) THEN RETURN; END IF;
  UPDATE {s}.store SET sessions = sessions + 1 WHERE id;
  INSERT INTO {s}.sessions (id, ordinal, started_at, last_activity)
    SELECT p_id, st.sessions, p_now, p_now FROM {s}.store st WHERE st.id;
  IF NOT EXISTS (SELECT 1 FROM {s}.streams WHERE name = p_stream) THEN
    UPDATE {s}.store SET streams = streams + 1 WHERE id;
    INSERT INTO {s}.streams (name, ordinal, revision, created_at, last_updated)
      VALUES (p_stream, nextval('{s}.stream_ordinals'), -1, p_now, p_now);
    INSERT INTO {s}.stream_positions (name, first_position, last_position) VALUES (p_stream, 0, 0);
  END IF;
END
$fn$;
"#;
