//! `MessageFilter`, as the engine takes it: every field optional, all must hold.

use super::json::{self, Kind};
use super::model::{JsonString, MessageKind};
use super::time::Millis;

/// A condition of `jsonFilter` on one key of `message.data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonCondition {
    /// `data[key]` equals the value (JSON text), compared as JSON values.
    Equals { key: JsonString, value: String },
    /// `data[key]` is `undefined`: the filter gave the key with the value `undefined`.
    Absent { key: JsonString },
}

/// The filter of `getAllMessages`. Empty ids are the caller's to drop (upstream
/// ignores `''`), as is an empty `names` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub kind: Option<MessageKind>,
    /// `messageNames`: `message.type` is one of these; `None` means any.
    pub names: Option<Vec<JsonString>>,
    pub stream: Option<JsonString>,
    /// `sessionId`; the literal `"no-session"` selects messages saved outside sessions.
    pub session: Option<JsonString>,
    pub correlation_id: Option<JsonString>,
    pub request_id: Option<JsonString>,
    pub from_position: Option<i64>,
    pub to_position: Option<i64>,
    pub from_time: Option<Millis>,
    pub to_time: Option<Millis>,
    /// `jsonFilter`: `message.data` is an object (or array) meeting every condition.
    pub json: Option<Vec<JsonCondition>>,
}

/// Whether a message's `data` (its JSON text, `None` when absent) meets every
/// condition, as upstream's `data[key] === value` would, and also when values are
/// objects or arrays equal as JSON.
pub fn data_matches(data: Option<&str>, conditions: &[JsonCondition]) -> bool {
    let Some(data) = data else { return false };
    match json::kind_of(data) {
        Kind::Object => {
            let Ok(entries) = json::object_entries(data) else { return false };
            conditions.iter().all(|c| {
                // `JSON.stringify` never writes a key twice; the last would win in JS.
                let found = entries.iter().rev().find(|(k, _)| *k == key_of(c).literal()).map(|(_, v)| *v);
                holds(c, found)
            })
        }
        Kind::Array => {
            let Ok(items) = json::array_elements(data) else { return false };
            let len = items.len().to_string();
            conditions.iter().all(|c| {
                let key = super::store::unquote(key_of(c).literal());
                let found = match key {
                    "length" => Some(len.as_str()),
                    k if is_index(k) => k.parse::<usize>().ok().and_then(|i| items.get(i).copied()),
                    _ => None,
                };
                holds(c, found)
            })
        }
        _ => false,
    }
}

fn key_of(c: &JsonCondition) -> &JsonString {
    match c {
        JsonCondition::Equals { key, .. } | JsonCondition::Absent { key } => key,
    }
}

fn holds(c: &JsonCondition, found: Option<&str>) -> bool {
    match (c, found) {
        (JsonCondition::Equals { value, .. }, Some(v)) => json::json_equal(v, value),
        (JsonCondition::Equals { .. }, None) => false,
        (JsonCondition::Absent { .. }, found) => found.is_none(),
    }
}

/// A canonical array index as JavaScript reads property keys: `0` or no leading zero.
fn is_index(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|c| c.is_ascii_digit()) && (k == "0" || !k.starts_with('0'))
}

/// The text of a message's `data`, if it has one.
pub(crate) fn data_of(message: &str) -> Option<&str> {
    field_of(message, r#""data""#)
}

/// The text of a top-level field of a message.
pub(crate) fn field_of<'a>(message: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    let _ = json::for_each_entry(message, |k, v| {
        if k == key {
            found = Some(v);
        }
        true
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(key: &str, value: &str) -> JsonCondition {
        JsonCondition::Equals { key: JsonString::new(key), value: value.into() }
    }

    #[test]
    fn matches_primitives_as_upstream_and_objects_deeply() {
        let data = Some(r#"{"orderId":"o-1","n":2,"nested":{"a":[1,2],"b":null}}"#);
        assert!(data_matches(data, &[eq("orderId", r#""o-1""#)]));
        assert!(data_matches(data, &[eq("orderId", r#""o-1""#), eq("n", "2")]));
        assert!(!data_matches(data, &[eq("n", r#""2""#)]));
        assert!(data_matches(data, &[eq("nested", r#"{"b":null,"a":[1,2]}"#)]));
        assert!(!data_matches(data, &[eq("nested", r#"{"a":[2,1],"b":null}"#)]));
        assert!(data_matches(data, &[]));
        assert!(!data_matches(None, &[]));
        assert!(!data_matches(Some("null"), &[]));
        assert!(!data_matches(Some(r#""text""#), &[]));
        assert!(data_matches(data, &[JsonCondition::Absent { key: JsonString::new("missing") }]));
        assert!(!data_matches(data, &[JsonCondition::Absent { key: JsonString::new("n") }]));
    }

    #[test]
    fn reads_arrays_as_javascript_does() {
        let data = Some(r#"["a","b"]"#);
        assert!(data_matches(data, &[eq("1", r#""b""#), eq("length", "2")]));
        assert!(!data_matches(data, &[eq("01", r#""b""#)]));
    }
}
