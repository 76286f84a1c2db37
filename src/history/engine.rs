//! The history of an engine (a memory store, or the one a SQLite file rebuilds): read
//! out page by page, and written in from lines a `plan` checked.

use super::{write_message_line, write_stream_line, Header, HistoryError, MessageLine, Plan, SessionLine, View};
use crate::engine::{Engine, JsonString, Millis};

/// Where an export is: the last position written, and how many streams (in creation
/// order) were declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub after: u64,
    pub declared: usize,
}

/// The header of the history of the messages after `after`, as the engine is now; the
/// export then runs up to `header.last_position` and `header.streams`.
pub fn header(engine: &Engine, after: u64) -> Header {
    let last = engine.len() as u64;
    let after = after.min(last);
    Header {
        after,
        last_position: last,
        messages: last - after,
        streams: engine.stream_count() as u64,
        sessions: engine
            .sessions()
            .map(|s| SessionLine { id: s.session_id.clone(), started_at: s.started_at, last_activity: s.last_activity })
            .collect(),
    }
}

/// The message at `position` as a history line holds it.
pub fn message_line(engine: &Engine, position: u64) -> Option<MessageLine<'_>> {
    let m = engine.journal_message(position)?;
    Some(MessageLine {
        position,
        stream: m.stream.clone(),
        revision: u64::from(engine.records[position as usize - 1].revision),
        kind: m.kind,
        time: m.time,
        session: m.session.cloned(),
        text: m.text,
    })
}

/// Appends lines until `out` holds about `budget` bytes or the export reaches
/// `last` (the header's last position) and `streams` (its stream count); true when it
/// did. With `messages_only`, stream lines are left out (what a digest reads).
pub fn page(
    engine: &Engine,
    cursor: &mut Cursor,
    last: u64,
    streams: usize,
    messages_only: bool,
    budget: usize,
    out: &mut String,
) -> bool {
    let last = last.min(engine.len() as u64);
    let streams = streams.min(engine.stream_count());
    let start = out.len();
    while cursor.after < last {
        // At least one message a page, so that every page moves the export on.
        if out.len() - start >= budget && out.len() > start {
            return false;
        }
        let position = cursor.after + 1;
        let m = message_line(engine, position).expect("position <= len");
        if !messages_only {
            let ix = engine.records[position as usize - 1].stream as usize;
            declare(engine, cursor, ix + 1, out);
        }
        write_message_line(out, &m);
        cursor.after = position;
    }
    if !messages_only {
        declare(engine, cursor, streams, out);
    }
    true
}

/// Declares the streams up to (not including) creation index `upto` not declared yet.
fn declare(engine: &Engine, cursor: &mut Cursor, upto: usize, out: &mut String) {
    while cursor.declared < upto {
        let (name, created) = engine.stream_at(cursor.declared).expect("declared < stream_count");
        write_stream_line(out, name, created);
        cursor.declared += 1;
    }
}

/// Checks that the engine can take the history: refuses one that holds anything
/// unless `resume`, and then one the history does not continue. Changes nothing: the
/// header's sessions are added with the first lines written (`apply`), or at the end.
pub fn begin(engine: &Engine, header: &Header, resume: bool) -> Result<(), HistoryError> {
    let (messages, streams, sessions) = (engine.len() as u64, engine.stream_count(), engine.session_count());
    if !resume && (messages > 0 || streams > 0 || sessions > 0) {
        return Err(super::not_empty(messages, streams as u64, sessions as u64));
    }
    super::check_continues(messages, header)?;
    for s in &header.sessions {
        if let Some(info) = engine.session_info(&s.id) {
            super::check_session(&s.id, info.started_at, s.started_at)?;
        }
    }
    Ok(())
}

/// The engine as a history's lines see it: the header's sessions count as present,
/// since `apply` adds them before the messages.
pub struct Importing<'a> {
    engine: &'a Engine,
    /// The header's sessions, looked up once a message (a chunk may hold many).
    sessions: std::collections::HashSet<&'a JsonString>,
}

impl<'a> Importing<'a> {
    pub fn new(engine: &'a Engine, header: &'a Header) -> Self {
        Importing { engine, sessions: header.sessions.iter().map(|s| &s.id).collect() }
    }
}

impl View for Importing<'_> {
    fn head(&self) -> u64 {
        self.engine.len() as u64
    }

    fn stream(&self, name: &JsonString) -> Option<(i64, Millis)> {
        let info = self.engine.stream_info(name)?;
        Some((info.revision, info.created_at))
    }

    fn has_session(&self, id: &JsonString) -> bool {
        self.sessions.contains(id) || self.engine.session_info(id).is_some()
    }

    fn holds(&self, line: &MessageLine<'_>) -> Option<bool> {
        Some(message_line(self.engine, line.position).as_ref() == Some(line))
    }
}

/// Writes what `plan` found, after checking that the store holds the history's
/// message at its head (when the plan skipped to it): the header's sessions it lacks,
/// the new streams, then the messages.
pub fn apply(engine: &mut Engine, header: &Header, plan: &Plan<'_>) -> Result<(), HistoryError> {
    if let Some(line) = &plan.at_head {
        super::check_same(message_line(engine, line.position).as_ref(), line)?;
    }
    if engine.len() + plan.messages.len() > engine.capacity() {
        return Err(HistoryError::Invalid(format!(
            "the history's {} more messages would pass the store's capacity of {}",
            plan.messages.len(),
            engine.capacity()
        )));
    }
    add_sessions(engine, header);
    for (name, created) in &plan.streams {
        engine.restore_stream(name.clone(), *created);
    }
    for m in &plan.messages {
        let position = engine
            .restore_message(&m.stream, m.text, m.kind, m.time, m.session.as_ref())
            .map_err(|e| HistoryError::Invalid(format!("the message at position {}: {e}", m.position)))?;
        debug_assert_eq!(position, m.position);
    }
    Ok(())
}

fn add_sessions(engine: &mut Engine, header: &Header) {
    for s in &header.sessions {
        engine.restore_session(s.id.clone(), s.started_at);
    }
}

/// Ends an import: the header's sessions (added if no line was), with their last activity.
pub fn end(engine: &mut Engine, header: &Header) {
    add_sessions(engine, header);
    for s in &header.sessions {
        if engine.session_info(&s.id).is_some_and(|i| i.last_activity != s.last_activity) {
            engine.end_session(&s.id, s.last_activity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Filter;
    use crate::history::{parse_lines, plan};

    fn export(engine: &Engine, after: u64, budget: usize) -> String {
        let h = header(engine, after);
        let mut out = String::new();
        h.write(&mut out);
        let mut cursor = Cursor { after: h.after, declared: 0 };
        while !page(engine, &mut cursor, h.last_position, h.streams as usize, false, budget, &mut out) {}
        out
    }

    fn import(engine: &mut Engine, text: &str, resume: bool) -> Result<(), HistoryError> {
        let (first, rest) = text.split_once('\n').unwrap();
        let h = Header::parse(first)?;
        begin(engine, &h, resume)?;
        let p = plan(parse_lines(rest, 2)?, &Importing::new(engine, &h))?;
        apply(engine, &h, &p)?;
        end(engine, &h);
        Ok(())
    }

    fn sample() -> Engine {
        let mut a = Engine::new();
        let s = |n: &str| JsonString::new(n);
        a.save(&s("empty-first"), &[], None, None, 5).unwrap();
        a.save(&s("orders"), &[r#"{"type":"A","requestId":"r"}"#], None, None, 10).unwrap();
        let sid = a.create_session(11);
        a.save(
            &s("orders"),
            &[r#"{"type":"B","timestamp":"2020-01-01T00:00:00.000Z"}"#, r#"{"type":"C"}"#],
            None,
            None,
            9,
        )
        .unwrap();
        a.end_session(&sid, 13);
        a.save(&s("user-commands"), &[r#"{"type":"D","correlationId":"c"}"#], None, None, 14).unwrap();
        a.save(&s("empty-last"), &[], None, None, 15).unwrap();
        a
    }

    fn same(a: &Engine, b: &Engine) {
        let all = |e: &Engine| e.messages_json(&e.query(&Filter::default(), None));
        assert_eq!(all(b), all(a));
        assert_eq!(b.stats(), a.stats());
        assert_eq!(b.sessions().cloned().collect::<Vec<_>>(), a.sessions().cloned().collect::<Vec<_>>());
        assert_eq!(b.stream_names().collect::<Vec<_>>(), a.stream_names().collect::<Vec<_>>());
        for name in a.stream_names() {
            assert_eq!(b.stream_info(name), a.stream_info(name), "{name:?}");
        }
    }

    #[test]
    fn a_history_moves_whole_in_pages_of_any_size() {
        let a = sample();
        for budget in [1, 100, 1 << 20] {
            let text = export(&a, 0, budget);
            assert_eq!(text.lines().count(), 1 + 5 + 4, "{text}");
            let mut b = Engine::new();
            import(&mut b, &text, false).unwrap();
            same(&a, &b);
            assert_eq!(export(&b, 0, budget), text);
        }
    }

    #[test]
    fn a_store_that_is_not_empty_is_refused_and_a_start_is_resumed() {
        let a = sample();
        let text = export(&a, 0, 1 << 20);
        let mut b = Engine::new();
        b.save(&JsonString::new("x"), &[], None, None, 1).unwrap();
        assert!(matches!(import(&mut b, &text, false), Err(HistoryError::Conflict(_))));
        assert_eq!(b.stream_count(), 1);

        // The first three messages and their streams, then the rest from position 3.
        let mut b = Engine::new();
        let cut: Vec<&str> = text.lines().take(1 + 2 + 3).collect();
        let cut = cut
            .join("\n")
            .replace("\"messages\":4", "\"messages\":3")
            .replace("\"lastPosition\":4", "\"lastPosition\":3");
        import(&mut b, &cut, false).unwrap();
        assert_eq!(b.len(), 3);
        import(&mut b, &export(&a, 2, 1 << 20), true).unwrap();
        same(&a, &b);
    }
}
