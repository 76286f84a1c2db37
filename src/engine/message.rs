//! What the engine reads out of a message's JSON text when it is saved.

use super::json::{self, Kind};
use super::model::MessageKind;

/// The fields of an incoming message that the store indexes or needs to decide on.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
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

/// Why a message (or a batch) was refused.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The text is not JSON.
    Syntax(json::SyntaxError),
    /// JSON, but not a message.
    NotAMessage(&'static str),
}

impl HeadError {
    pub fn reason(&self) -> String {
        match self {
            HeadError::Syntax(e) => format!("is not valid JSON ({e})"),
            HeadError::NotAMessage(why) => (*why).to_owned(),
        }
    }
}

const NOT_A_MESSAGE: &str = r#"must be an object with a string "type""#;

impl<'a> Fields<'a> {
    /// The fields of one message's JSON text (white space around it allowed).
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let text = text.trim();
        let (fields, end) = Fields::parse_at(text, 0).map_err(|e| e.reason())?;
        if end != text.len() {
            return Err(HeadError::Syntax(json::SyntaxError { at: end, what: "trailing characters" }).reason());
        }
        Ok(fields)
    }

    /// The parsed of a batch given as the JSON text of an array of messages, read in
    /// one pass (each element's fields and its end at once). An error carries the
    /// index of the message it concerns; the array's own syntax errors, index 0.
    pub fn parse_batch(text: &'a str) -> Result<Vec<Self>, (usize, String)> {
        let mut parsed = Vec::new();
        json::walk_array(text, |_, start| {
            let (fields, end) = Fields::parse_at(text, start).map_err(|e| match e {
                HeadError::Syntax(e) => json::ArrayError::Syntax(e),
                e @ HeadError::NotAMessage(_) => json::ArrayError::Element(e),
            })?;
            parsed.push(fields);
            Ok(end)
        })
        .map_err(|e| match e {
            json::ArrayError::Syntax(e) => (0, format!("batch is not a JSON array ({e})")),
            json::ArrayError::Element(e) => (parsed.len(), e.reason()),
        })?;
        Ok(parsed)
    }

    /// The fields of the message whose text starts at `start`, and where it ends.
    fn parse_at(text: &'a str, start: usize) -> Result<(Self, usize), HeadError> {
        if text.as_bytes().get(start) != Some(&b'{') {
            // Not an object: find out whether it is JSON at all, for the reason.
            return Err(match json::skip_value(text.as_bytes(), start) {
                Ok(_) => HeadError::NotAMessage(NOT_A_MESSAGE),
                Err(e) => HeadError::Syntax(e),
            });
        }
        let mut fields = Fields {
            text: "",
            name: "",
            request_id: None,
            has_request_id: false,
            correlation_id: None,
            has_timestamp: false,
        };
        let mut has_name = false;
        let mut bad_timestamp = false;
        let end = json::scan_object(text, start, |key, value| match key {
            r#""type""# => {
                has_name = json::kind_of(value) == Kind::String;
                fields.name = value;
            }
            r#""requestId""# => {
                fields.has_request_id = value != "null" && value != r#""""#;
                fields.request_id = nonempty_string(value);
            }
            r#""correlationId""# => fields.correlation_id = nonempty_string(value),
            r#""timestamp""# => {
                fields.has_timestamp = true;
                bad_timestamp = json::kind_of(value) != Kind::String;
            }
            _ => {}
        })
        .map_err(HeadError::Syntax)?;
        if !has_name {
            // Worded as JavaScript's check words it (`lib/validate.js`, tied by
            // __test__/82.errors.test.ts).
            return Err(HeadError::NotAMessage(".type must be a string"));
        }
        if bad_timestamp {
            return Err(HeadError::NotAMessage(".timestamp must be a valid Date"));
        }
        fields.text = &text[start..end];
        Ok((fields, end))
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
        let h = Fields::parse(r#"{"type":"A","data":{"type":"x"},"requestId":"r","correlationId":""}"#).unwrap();
        assert_eq!(h.name, r#""A""#);
        assert_eq!(h.request_id, Some(r#""r""#));
        assert!(h.has_request_id);
        assert_eq!(h.correlation_id, None);
        assert!(!h.has_timestamp);
        let h = Fields::parse(r#"{"type":"A","requestId":0,"timestamp":"2020-01-01T00:00:00.000Z"}"#).unwrap();
        assert!(h.has_request_id);
        assert_eq!(h.request_id, None);
        assert!(h.has_timestamp);
        assert!(!Fields::parse(r#"{"type":"A","requestId":null}"#).unwrap().has_request_id);
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(Fields::parse("[1]").unwrap_err(), r#"must be an object with a string "type""#);
        assert_eq!(Fields::parse(r#"{"type":1}"#).unwrap_err(), ".type must be a string");
        assert_eq!(Fields::parse(r#"{"data":1}"#).unwrap_err(), ".type must be a string");
        assert_eq!(Fields::parse(r#"{"type":"A","timestamp":5}"#).unwrap_err(), ".timestamp must be a valid Date");
        assert!(Fields::parse(r#"{"type":"A""#).is_err());
    }

    #[test]
    fn a_batch_is_read_in_one_pass_with_each_message_s_span() {
        let parsed =
            Fields::parse_batch(r#" [ {"type":"A","data":{"x":[1,{"y":"}"}]}} , {"type":"B","correlationId":"c"}] "#)
                .unwrap();
        let spans: Vec<_> = parsed.iter().map(|h| (h.text, h.name, h.correlation_id)).collect();
        assert_eq!(
            spans,
            [
                (r#"{"type":"A","data":{"x":[1,{"y":"}"}]}}"#, r#""A""#, None),
                (r#"{"type":"B","correlationId":"c"}"#, r#""B""#, Some(r#""c""#))
            ]
        );
        assert_eq!(Fields::parse_batch("[]").unwrap().len(), 0);
        let err = |text: &str| Fields::parse_batch(text).unwrap_err();
        assert_eq!(err(r#"[{"type":"A"}, 5]"#), (1, r#"must be an object with a string "type""#.to_owned()));
        assert_eq!(
            err(r#"[{"type":"A"}, {"type":"B","timestamp":1}]"#),
            (1, ".timestamp must be a valid Date".to_owned())
        );
        assert_eq!(err(r#"[{"type":"A"},"#), (0, "batch is not a JSON array (expected a value at byte 14)".to_owned()));
        assert_eq!(
            err(r#"[{"type":"A"}] []"#),
            (0, "batch is not a JSON array (trailing characters at byte 14)".to_owned())
        );
        assert_eq!(err(r#"{"type":"A"}"#), (0, "batch is not a JSON array (expected an array at byte 0)".to_owned()));
    }

    #[test]
    fn infers_the_kind_as_upstream_does() {
        let plain = Fields::parse(r#"{"type":"A"}"#).unwrap();
        let with_req = Fields::parse(r#"{"type":"A","requestId":"r"}"#).unwrap();
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
