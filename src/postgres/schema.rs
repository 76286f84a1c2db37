//! The tables and the append function of a `PostgresMessageStore` schema.
//!
//! Names (streams, types, sessions, ids) are kept as their JSON literals, as the engine
//! keeps them: every JavaScript string survives (a lone surrogate is a `\udXXX` escape,
//! which PostgreSQL's `text` holds and `jsonb` would refuse). A message's text is the
//! JSON as saved, with `timestamp` added when the caller gave none; `data` is its
//! `data` as `jsonb` for containment, or NULL when `jsonb` cannot hold it.
//!
//! Invariants, kept by `append` alone (every write goes through it):
//! - `store.position` is the last position given; positions are 1.. with no gaps,
//!   because every append locks the one `store` row first and holds it to COMMIT, so
//!   appends commit one after another in position order (Commanded's `$all` row);
//! - a stream's `revision` is its message count - 1 (-1 while empty), checked against
//!   `expectedRevision` under the same lock;
//! - a batch id is written in the append's transaction: a retried append (its reply
//!   lost) finds it and returns the first outcome instead of applying twice;
//! - the counters in `store` and `sessions` change in the same transaction as the
//!   messages they count.

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
    format!("{}{}{}", fill(TABLES, schema), fill(FUNCTIONS, schema), fill(MARK_VERSION, schema))
}

/// The statements that bring a schema made by an earlier version up to this one: the
/// functions replaced and the version marked; tables are never touched again.
pub fn upgrade(schema: &str) -> String {
    format!("{}{}{}", fill(VERSION_TABLE, schema), fill(FUNCTIONS, schema), fill(MARK_VERSION, schema))
}

/// The version of the functions (and what they send) that this build writes. Version 1
/// had no `version` table: appends sent no notification and knew no modes. Version 2
/// kept a session's last activity at the latest save time, not the last save's (as
/// the other stores do, when the clock goes back).
pub const VERSION: i32 = 3;

/// The `NOTIFY` channel of a schema: its name (a valid schema name is a valid channel
/// name). Each committed append that added messages sends its last position; a reset
/// sends `reset`.
pub fn channel(schema: &str) -> String {
    schema.to_owned()
}

/// The SQL with the schema's name and the boundary's numbers (expectation modes and
/// message types: the engine's, never copied by hand).
fn fill(sql: &str, schema: &str) -> String {
    use crate::engine::{Expected, MessageKind};
    sql.replace("{s}", &format!("\"{schema}\""))
        .replace("{channel}", &channel(schema))
        .replace("{version}", &VERSION.to_string())
        .replace("{no_stream}", &Expected::NO_STREAM.to_string())
        .replace("{stream_exists}", &Expected::STREAM_EXISTS.to_string())
        .replace("{command}", &MessageKind::Command.code().to_string())
        .replace("{event}", &MessageKind::Event.code().to_string())
}

const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS {s}.version (id boolean PRIMARY KEY DEFAULT true CHECK (id), version int NOT NULL);\n";

const MARK_VERSION: &str =
    "INSERT INTO {s}.version (id, version) VALUES (true, {version}) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;\n";

/// `pg_advisory_xact_lock` key of the set-up transaction (any fixed number).
pub const SETUP_LOCK: i64 = 0x6d73_6773_746f_7265; // "msgstore"

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
  first_position bigint NOT NULL DEFAULT 0,
  last_position bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL,
  last_updated bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS streams_ordinal ON {s}.streams (ordinal);
CREATE TABLE IF NOT EXISTS {s}.messages (
  position bigint PRIMARY KEY,
  stream text NOT NULL,
  revision bigint NOT NULL,
  kind smallint NOT NULL,
  type text NOT NULL,
  time bigint NOT NULL,
  session text NOT NULL,
  correlation_id text,
  request_id text,
  body text NOT NULL,
  data jsonb,
  UNIQUE (stream, revision)
);
CREATE INDEX IF NOT EXISTS messages_type ON {s}.messages (type, position);
CREATE INDEX IF NOT EXISTS messages_kind ON {s}.messages (kind, position);
CREATE INDEX IF NOT EXISTS messages_session ON {s}.messages (session, position);
CREATE INDEX IF NOT EXISTS messages_correlation ON {s}.messages (correlation_id, position) WHERE correlation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_request ON {s}.messages (request_id, position) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_time ON {s}.messages (time, position);
CREATE INDEX IF NOT EXISTS messages_data ON {s}.messages USING gin (data jsonb_path_ops);
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

const FUNCTIONS: &str = r#"

-- One group of saves, in call order, in the caller's transaction. Each save is all or
-- nothing on its own: a refused one ([index, code, actual revision] in the outcome)
-- changes nothing and the others go on. Returns the outcome as JSON text:
-- {"refused":[[i,"StreamNotFound"|"WrongExpectedRevision",actual],…],
--  "revisions":[each save's new revision, or null when refused],"last":position}.
-- An expectation is a revision (-1: no messages), -2 (`no_stream`: no messages) or -3
-- (`stream_exists`: at least one; refused as StreamNotFound), Rust's `Expected`.
-- A group that added messages notifies the schema's channel with its last position,
-- once: PostgreSQL delivers it after the commit, when the rows are visible.
CREATE OR REPLACE FUNCTION {s}.append(
  batch text,
  s_stream text[], s_expected bigint[], s_count int[], s_time bigint[], s_session text[],
  m_kind smallint[], m_type text[], m_correlation text[], m_request text[], m_body text[], m_data text[]
) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  prior text;
  pos bigint;
  start_pos bigint;
  cur bigint;
  found_stream boolean;
  first_pos bigint;
  m int := 1;
  k int;
  refused text := '';
  revisions text := '';
  v_commands bigint := 0;
  v_events bigint := 0;
  v_bytes bigint := 0;
  v_oldest bigint;
  v_newest bigint;
  outcome text;
BEGIN
  SELECT b.outcome INTO prior FROM {s}.batches b WHERE b.id = batch;
  IF FOUND THEN RETURN prior; END IF;
  SELECT st.position INTO pos FROM {s}.store st WHERE st.id FOR UPDATE;
  start_pos := pos;
  FOR i IN 1 .. coalesce(array_length(s_stream, 1), 0) LOOP
    SELECT x.revision INTO cur FROM {s}.streams x WHERE x.name = s_stream[i];
    found_stream := FOUND;
    IF s_expected[i] = {stream_exists} AND coalesce(cur, -1) < 0 THEN
      refused := refused || CASE WHEN refused = '' THEN '' ELSE ',' END || format('[%s,"StreamNotFound",-1]', i - 1);
      m := m + s_count[i];
      revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || 'null';
      CONTINUE;
    END IF;
    IF s_expected[i] = {no_stream} AND found_stream AND cur >= 0 THEN
      refused := refused || CASE WHEN refused = '' THEN '' ELSE ',' END || format('[%s,"WrongExpectedRevision",%s]', i - 1, cur);
      m := m + s_count[i];
      revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || 'null';
      CONTINUE;
    END IF;
    IF s_expected[i] >= 0 AND NOT found_stream THEN
      refused := refused || CASE WHEN refused = '' THEN '' ELSE ',' END || format('[%s,"StreamNotFound",-1]', i - 1);
      m := m + s_count[i];
      revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || 'null';
      CONTINUE;
    END IF;
    IF s_expected[i] >= -1 AND found_stream AND s_expected[i] <> cur THEN
      refused := refused || CASE WHEN refused = '' THEN '' ELSE ',' END || format('[%s,"WrongExpectedRevision",%s]', i - 1, cur);
      m := m + s_count[i];
      revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || 'null';
      CONTINUE;
    END IF;
    IF NOT found_stream THEN
      UPDATE {s}.store SET streams = streams + 1 WHERE id;
      INSERT INTO {s}.streams (name, ordinal, revision, created_at, last_updated)
        SELECT s_stream[i], st.streams, -1, s_time[i], s_time[i] FROM {s}.store st WHERE st.id;
      cur := -1;
    END IF;
    first_pos := pos + 1;
    FOR k IN 1 .. s_count[i] LOOP
      pos := pos + 1;
      cur := cur + 1;
      INSERT INTO {s}.messages (position, stream, revision, kind, type, time, session, correlation_id, request_id, body, data)
        VALUES (pos, s_stream[i], cur, m_kind[m], m_type[m], s_time[i], s_session[i], m_correlation[m], m_request[m], m_body[m], m_data[m]::jsonb);
      IF m_kind[m] = {command} THEN v_commands := v_commands + 1; ELSE v_events := v_events + 1; END IF;
      v_bytes := v_bytes + octet_length(m_body[m]);
      m := m + 1;
    END LOOP;
    revisions := revisions || CASE WHEN i = 1 THEN '' ELSE ',' END || cur::text;
    IF s_count[i] > 0 THEN
      UPDATE {s}.streams SET revision = cur, last_position = pos, last_updated = s_time[i],
        first_position = CASE WHEN first_position = 0 THEN first_pos ELSE first_position END
        WHERE name = s_stream[i];
      v_oldest := least(coalesce(v_oldest, s_time[i]), s_time[i]);
      v_newest := greatest(coalesce(v_newest, s_time[i]), s_time[i]);
      IF s_session[i] <> '"no-session"' THEN
        UPDATE {s}.sessions SET
          message_count = message_count + s_count[i],
          command_count = command_count + (SELECT count(*) FROM unnest(m_kind[m - s_count[i] : m - 1]) q WHERE q = {command}),
          event_count = event_count + (SELECT count(*) FROM unnest(m_kind[m - s_count[i] : m - 1]) q WHERE q = {event}),
          last_activity = s_time[i]
          WHERE id = s_session[i];
      END IF;
    END IF;
  END LOOP;
  UPDATE {s}.store SET position = pos, commands = commands + v_commands, events = events + v_events,
    bytes = bytes + v_bytes,
    oldest = CASE WHEN v_oldest IS NULL THEN oldest ELSE least(coalesce(oldest, v_oldest), v_oldest) END,
    newest = CASE WHEN v_newest IS NULL THEN newest ELSE greatest(coalesce(newest, v_newest), v_newest) END
    WHERE id;
  outcome := format('{"refused":[%s],"revisions":[%s],"last":%s}', refused, revisions, pos);
  IF pos > start_pos THEN PERFORM pg_notify('{channel}', pos::text); END IF;
  INSERT INTO {s}.batches (id, outcome) VALUES (batch, outcome);
  RETURN outcome;
END
$fn$;

-- A new session and its empty stream `session-<id>`, under the same lock as appends,
-- so that the counters and ordinals stay in step.
CREATE OR REPLACE FUNCTION {s}.create_session(p_id text, p_stream text, p_now bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM {s}.store st WHERE st.id FOR UPDATE;
  -- Sent again after a lost reply: the session is there already.
  IF EXISTS (SELECT 1 FROM {s}.sessions WHERE id = p_id) THEN RETURN; END IF;
  UPDATE {s}.store SET sessions = sessions + 1 WHERE id;
  INSERT INTO {s}.sessions (id, ordinal, started_at, last_activity)
    SELECT p_id, st.sessions, p_now, p_now FROM {s}.store st WHERE st.id;
  IF NOT EXISTS (SELECT 1 FROM {s}.streams WHERE name = p_stream) THEN
    UPDATE {s}.store SET streams = streams + 1 WHERE id;
    INSERT INTO {s}.streams (name, ordinal, revision, created_at, last_updated)
      SELECT p_stream, st.streams, -1, p_now, p_now FROM {s}.store st WHERE st.id;
  END IF;
END
$fn$;
"#;
