//! What the engine reads out of a message's JSON text when it is saved.

use super::json::{self, Kind};
use super::model::MessageKind;

/// The fields of an incoming message that the store indexes or needs to decide on.
#[derive(Debug)]
pub(crate) struct Head<'a> {
    /// The message text, trimmed.
    pub text: &'a str,
    /// `type`, as its literal.
    pub name: &'a str,
    /// `requestId` as a string literal other than `""`, for the index.
    pub request_id: Option<&'a str>,
    /// `requestId` present and not `null` or `""`: upstream's test for a command.
    pub has_request_id: bool,
    /// `correlationId` as a string literal other than `""`, for the index.
    pub correlation_id: Option<&'a str>,
    /// False when the store must add `timestamp` (the save time) at the end.
    pub has_timestamp: bool,
}

impl<'a> Head<'a> {
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let text = text.trim();
        if json::kind_of(text) != Kind::Object {
            return Err(r#"must be an object with a string "type""#.into());
        }
        let mut head = Head {
            text,
            name: "",
            request_id: None,
            has_request_id: false,
            correlation_id: None,
            has_timestamp: false,
        };
        let mut has_name = false;
        let mut bad_timestamp = false;
        json::for_each_entry(text, |key, value| {
            match key {
                r#""type""# => {
                    has_name = json::kind_of(value) == Kind::String;
                    head.name = value;
                }
                r#""requestId""# => {
                    head.has_request_id = value != "null" && value != r#""""#;
                    head.request_id = nonempty_string(value);
                }
                r#""correlationId""# => head.correlation_id = nonempty_string(value),
                r#""timestamp""# => {
                    head.has_timestamp = true;
                    bad_timestamp = json::kind_of(value) != Kind::String;
                }
                _ => {}
            }
            true
        })
        .map_err(|e| format!("is not valid JSON ({e})"))?;
        if !has_name {
            return Err(r#"must be an object with a string "type""#.into());
        }
        if bad_timestamp {
            return Err(".timestamp must be a valid Date".into());
        }
        Ok(head)
    }

    /// Message type by upstream's rule: the argument, else what the stream's name
    /// says (`JsonString::kind_from_name`), else whether the message carries a request id.
    pub fn kind(&self, given: Option<MessageKind>, from_stream_name: Option<MessageKind>) -> MessageKind {
        given.or(from_stream_name).unwrap_or(if self.has_request_id {
            MessageKind::Command
        } else {
            MessageKind::Event
        })
    }
}

fn nonempty_string(value: &str) -> Option<&str> {
    (json::kind_of(value) == Kind::String && value.len() > 2).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::JsonString;

    #[test]
    fn reads_the_fields_that_matter() {
        let h = Head::parse(r#"{"type":"A","data":{"type":"x"},"requestId":"r","correlationId":""}"#).unwrap();
        assert_eq!(h.name, r#""A""#);
        assert_eq!(h.request_id, Some(r#""r""#));
        assert!(h.has_request_id);
        assert_eq!(h.correlation_id, None);
        assert!(!h.has_timestamp);
        let h = Head::parse(r#"{"type":"A","requestId":0,"timestamp":"2020-01-01T00:00:00.000Z"}"#).unwrap();
        assert!(h.has_request_id);
        assert_eq!(h.request_id, None);
        assert!(h.has_timestamp);
        assert!(!Head::parse(r#"{"type":"A","requestId":null}"#).unwrap().has_request_id);
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(Head::parse("[1]").unwrap_err(), r#"must be an object with a string "type""#);
        assert_eq!(Head::parse(r#"{"type":1}"#).unwrap_err(), r#"must be an object with a string "type""#);
        assert_eq!(Head::parse(r#"{"data":1}"#).unwrap_err(), r#"must be an object with a string "type""#);
        assert_eq!(Head::parse(r#"{"type":"A","timestamp":5}"#).unwrap_err(), ".timestamp must be a valid Date");
        assert!(Head::parse(r#"{"type":"A""#).is_err());
    }

    #[test]
    fn infers_the_kind_as_upstream_does() {
        let plain = Head::parse(r#"{"type":"A"}"#).unwrap();
        let with_req = Head::parse(r#"{"type":"A","requestId":"r"}"#).unwrap();
        let s = |n: &str| JsonString::new(n).kind_from_name();
        assert_eq!(plain.kind(None, s("my-commands")), MessageKind::Command);
        assert_eq!(plain.kind(None, s("Commands")), MessageKind::Event);
        assert_eq!(with_req.kind(None, s("events")), MessageKind::Event);
        assert_eq!(with_req.kind(None, s("orders")), MessageKind::Command);
        assert_eq!(plain.kind(None, s("orders")), MessageKind::Event);
        assert_eq!(plain.kind(Some(MessageKind::Command), s("events")), MessageKind::Command);
        assert_eq!(plain.kind(None, s("\u{1c}ommand")), MessageKind::Event);
        assert_eq!(with_req.kind(None, s("\u{e}vent")), MessageKind::Command);
    }
}
