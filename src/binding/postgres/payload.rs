//! What the JavaScript face sends a `PgStore`, read into the PostgreSQL module's types:
//! a group of saves (the lines `saveMany` takes, with the session's literal after the
//! stream's), a filter's wire text, a name's literal.

use std::sync::Arc;

use crate::binding::error::{invalid, Result};
use crate::binding::wire;
use crate::engine::{json, Expected, Filter, JsonString, SaveError};
use crate::postgres::{Message, Save};

/// Reads a payload of saves: four lines each, the save header (`wire::SaveHeader`), the
/// stream's literal, the session's literal, the message text (one, or an array with
/// a batch header).
pub fn saves(payload: &str) -> Result<Vec<Save>> {
    let lines: Vec<&str> = payload.split('\n').collect();
    if !lines.len().is_multiple_of(4) {
        return Err(invalid("the append payload", "is not in lines of four"));
    }
    let mut out = Vec::with_capacity(lines.len() / 4);
    for save in lines.chunks(4) {
        let header = wire::SaveHeader::parse(save[0])?;
        let stream = wire::literal("streamId", save[1])?;
        let texts = if header.batch {
            json::array_elements(save[3]).map_err(|e| invalid("messages", e))?
        } else {
            vec![save[3]]
        };
        let messages = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Message::new(t, &stream, header.kind, header.now).map_err(|reason| {
                    // Worded as the engine words it (and JavaScript before it).
                    SaveError::InvalidMessage { index: i, reason }.into()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(Save {
            stream: stream.literal().to_owned(),
            expected: header.expected.map(Expected::code),
            time: header.now,
            session: save[2].to_owned(),
            messages,
        });
    }
    Ok(out)
}

/// A read's filter from its wire text (none: every message).
pub fn filter(filter: Option<&str>) -> Result<Arc<Filter>> {
    Ok(Arc::new(filter.map(wire::filter).transpose()?.unwrap_or_default()))
}

pub fn name(argument: &str, literal: &str) -> Result<Arc<JsonString>> {
    Ok(Arc::new(wire::literal(argument, literal)?))
}
