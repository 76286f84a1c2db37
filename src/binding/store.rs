//! `NativeStore`: the napi class the JavaScript face wraps. Every method is
//! synchronous and catches panics, which become JavaScript errors instead of
//! aborting the process.

use napi_derive::napi;

use super::error::{invalid, Result};
use super::wire;
use crate::engine::{Engine, MessageKind, Millis};

#[napi]
pub struct NativeStore {
    engine: Engine,
}

fn kind(kind: Option<String>) -> Result<Option<MessageKind>> {
    kind.map(|k| MessageKind::parse(&k).ok_or_else(|| invalid("messageType", "must be 'command' or 'event'")))
        .transpose()
}

fn limit(count: Option<u32>) -> Option<usize> {
    count.map(|c| c as usize)
}

#[napi]
impl NativeStore {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NativeStore { engine: Engine::new() }
    }

    /// Saves the messages (`batch`: a JSON array; otherwise one JSON object) and
    /// returns the stream's new revision.
    #[napi(catch_unwind)]
    pub fn save(
        &mut self,
        stream: String,
        messages: String,
        batch: bool,
        expected_revision: Option<i64>,
        message_type: Option<String>,
        now: f64,
    ) -> Result<i64> {
        #[cfg(feature = "test-panic")]
        if stream == "\"__panic__\"" {
            panic!("deliberate panic for the tests (feature test-panic)");
        }
        let stream = wire::literal("streamId", &stream)?;
        let kind = kind(message_type)?;
        let now = now as Millis;
        let outcome = if batch {
            self.engine.save_json_array(&stream, &messages, expected_revision, kind, now)?
        } else {
            self.engine.save(&stream, &[&messages], expected_revision, kind, now)?
        };
        Ok(outcome.revision)
    }

    /// The stream's revision (-1 when empty), or `null` when it does not exist.
    #[napi(catch_unwind)]
    pub fn stream_revision(&self, stream: String) -> Result<Option<i64>> {
        Ok(self.engine.stream_revision(&wire::literal("streamId", &stream)?))
    }

    #[napi(catch_unwind)]
    pub fn read_stream(&self, stream: String, from_revision: Option<i64>, count: Option<u32>) -> Result<String> {
        let stream = wire::literal("streamId", &stream)?;
        let records = self.engine.read_stream(&stream, from_revision, limit(count));
        Ok(self.engine.messages_json(records))
    }

    #[napi(catch_unwind)]
    pub fn query(&self, filter: Option<String>, count: Option<u32>) -> Result<String> {
        let filter = filter.as_deref().map(wire::filter).transpose()?.unwrap_or_default();
        Ok(self.engine.messages_json(&self.engine.query(&filter, limit(count))))
    }

    #[napi(catch_unwind)]
    pub fn stream_info(&self, stream: String) -> Result<Option<String>> {
        let stream = wire::literal("streamId", &stream)?;
        Ok(self.engine.stream_info(&stream).as_ref().map(wire::stream_info))
    }

    #[napi(catch_unwind)]
    pub fn streams(&self) -> Result<String> {
        Ok(wire::array(self.engine.stream_names().map(|s| s.literal())))
    }

    /// Starts a session and returns its id.
    #[napi(catch_unwind)]
    pub fn create_session(&mut self, now: f64) -> Result<String> {
        let id = self.engine.create_session(now as Millis);
        let literal = id.literal();
        Ok(literal[1..literal.len() - 1].to_owned())
    }

    #[napi(catch_unwind)]
    pub fn end_session(&mut self, session_id: String, now: f64) -> Result<()> {
        self.engine.end_session(&wire::literal("sessionId", &session_id)?, now as Millis);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn sessions(&self) -> Result<String> {
        let mut out = String::from("[");
        for (n, s) in self.engine.sessions().enumerate() {
            if n > 0 {
                out.push(',');
            }
            wire::write_session(&mut out, s);
        }
        out.push(']');
        Ok(out)
    }

    #[napi(catch_unwind)]
    pub fn session_info(&self, session_id: String) -> Result<Option<String>> {
        let id = wire::literal("sessionId", &session_id)?;
        Ok(self.engine.session_info(&id).map(|s| {
            let mut out = String::new();
            wire::write_session(&mut out, s);
            out
        }))
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> Result<String> {
        Ok(wire::stats(&self.engine.stats()))
    }

    #[napi(catch_unwind)]
    pub fn reset(&mut self) -> Result<()> {
        self.engine.reset();
        Ok(())
    }
}
