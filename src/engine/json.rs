//! A small scanner over JSON text as `JSON.stringify` writes it.
//!
//! The store keeps every message as the exact text JavaScript produced, and needs
//! only a few things from it: the spans of a batch's elements, a handful of top-level
//! fields, and structural equality for `jsonFilter`. Working on spans of the original
//! text (never decoding strings) keeps lone surrogates, key order and number spelling
//! exactly as the caller wrote them, which a decoded `serde_json::Value` cannot do.
//!
//! Strings are compared as their literal text: `JSON.stringify` escapes canonically,
//! so two strings are equal exactly when their literals are. The same holds for
//! numbers (shortest round-trip form, `-0` written as `0`).
//!
//! Nothing here recurses except [`json_equal`], whose depth is bounded by the nesting
//! limit the store enforces on what it accepts.

use std::fmt;

/// Why a text is not the JSON the store expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

type Result<T> = std::result::Result<T, SyntaxError>;

fn err<T>(at: usize, what: &'static str) -> Result<T> {
    Err(SyntaxError { at, what })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string literal starting at `i` (which must be `"`).
///
/// String bodies are most of a message's bytes, so this looks at eight bytes at a
/// time for a quote or a backslash. It checks structure, not every character: the
/// texts it reads come from `JSON.stringify`.
fn skip_string(b: &[u8], i: usize) -> Result<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    debug_assert_eq!(b.get(i), Some(&b'"'));
    let mut j = i + 1;
    loop {
        // Eight bytes at a time while no quote or backslash is among them.
        while let Some(chunk) = b.get(j..j + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let q = w ^ (ONES * u64::from(b'"'));
            let s = w ^ (ONES * u64::from(b'\\'));
            let found = (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s) & HIGHS;
            if found != 0 {
                j += (found.trailing_zeros() / 8) as usize;
                break;
            }
            j += 8;
        }
        match b.get(j) {
            Some(b'"') => return Ok(j + 1),
            // An escape is one byte after the backslash; `\uXXXX` hex digits are
            // plain characters and need no special step.
            Some(b'\\') => j += 2,
            Some(_) => j += 1,
            None => return err(i, "unterminated string"),
        }
    }
}

/// End (exclusive) of the value starting at `i` (after white space), without recursion.
pub fn skip_value(b: &[u8], i: usize) -> Result<usize> {
    let i = skip_ws(b, i);
    match b.get(i) {
        None => err(i, "expected a value"),
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            err(i, "unterminated object or array")
        }
        Some(c) if c.is_ascii_digit() || *c == b'-' || matches!(c, b't' | b'f' | b'n') => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            Ok(j)
        }
        Some(_) => err(i, "unexpected character"),
    }
}

/// Iterates the elements of a JSON array as text spans.
pub fn array_elements(text: &str) -> Result<Vec<&str>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return err(i, "expected an array");
    }
    i = skip_ws(b, i + 1);
    let mut out = Vec::new();
    if b.get(i) == Some(&b']') {
        return finish(b, i + 1).map(|_| out);
    }
    loop {
        let start = skip_ws(b, i);
        let end = skip_value(b, start)?;
        out.push(&text[start..end]);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return finish(b, i + 1).map(|_| out),
            _ => return err(i, "expected , or ] in array"),
        }
    }
}

fn finish(b: &[u8], i: usize) -> Result<()> {
    if skip_ws(b, i) == b.len() {
        Ok(())
    } else {
        err(i, "trailing characters")
    }
}

/// The `(key literal, value text)` pairs of a JSON object, in order.
pub fn object_entries(text: &str) -> Result<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    for_each_entry(text, |k, v| {
        out.push((k, v));
        true
    })?;
    Ok(out)
}

/// Calls `f(key literal, value text)` for each entry of a JSON object until it returns false.
pub fn for_each_entry<'a>(text: &'a str, f: impl FnMut(&'a str, &'a str) -> bool) -> Result<()> {
    match entries_from(text, skip_ws(text.as_bytes(), 0), f)? {
        Some(end) => finish(text.as_bytes(), end),
        None => Ok(()),
    }
}

/// Calls `f(key literal, value text)` for every entry of the object that starts at
/// `start` (its `{`) in `text`, and returns where the object ends (exclusive): one
/// pass both reads a message's fields and finds its end within a batch.
pub fn scan_object<'a>(text: &'a str, start: usize, mut f: impl FnMut(&'a str, &'a str)) -> Result<usize> {
    let end = entries_from(text, start, |k, v| {
        f(k, v);
        true
    })?;
    Ok(end.expect("never stopped early"))
}

/// The entries of the object at `start`; `None` when `f` stopped early, else the end.
fn entries_from<'a>(text: &'a str, start: usize, mut f: impl FnMut(&'a str, &'a str) -> bool) -> Result<Option<usize>> {
    let b = text.as_bytes();
    if b.get(start) != Some(&b'{') {
        return err(start, "expected an object");
    }
    let mut i = skip_ws(b, start + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(Some(i + 1));
    }
    loop {
        let ks = skip_ws(b, i);
        if b.get(ks) != Some(&b'"') {
            return err(ks, "expected a key");
        }
        let ke = skip_string(b, ks)?;
        let colon = skip_ws(b, ke);
        if b.get(colon) != Some(&b':') {
            return err(colon, "expected :");
        }
        let vs = skip_ws(b, colon + 1);
        let ve = skip_value(b, vs)?;
        if !f(&text[ks..ke], &text[vs..ve]) {
            return Ok(None);
        }
        i = skip_ws(b, ve);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(Some(i + 1)),
            _ => return err(i, "expected , or } in object"),
        }
    }
}

/// Calls `f(index, start)` at the start of each element of a JSON array; `f` scans
/// the element and returns its end (exclusive), or an error that stops the walk.
pub fn walk_array<E>(
    text: &str,
    mut f: impl FnMut(usize, usize) -> std::result::Result<usize, ArrayError<E>>,
) -> std::result::Result<(), ArrayError<E>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err(ArrayError::Syntax(SyntaxError { at: i, what: "expected an array" }));
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return finish(b, i + 1).map_err(ArrayError::Syntax);
    }
    let mut index = 0;
    loop {
        let start = skip_ws(b, i);
        let end = f(index, start)?;
        index += 1;
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return finish(b, i + 1).map_err(ArrayError::Syntax),
            _ => return Err(ArrayError::Syntax(SyntaxError { at: i, what: "expected , or ] in array" })),
        }
    }
}

/// Why `walk_array` stopped: the array's text is not JSON, or the visitor refused an element.
#[derive(Debug)]
pub enum ArrayError<E> {
    Syntax(SyntaxError),
    Element(E),
}

/// What kind of value a (trimmed) JSON text is, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Other,
}

pub fn kind_of(value: &str) -> Kind {
    match value.as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        _ => Kind::Other,
    }
}

/// JSON equality of two values written by `JSON.stringify`: objects compare as sets
/// of entries (key order ignored), arrays element by element, everything else by its
/// canonical text.
pub fn json_equal(a: &str, b: &str) -> bool {
    match (kind_of(a), kind_of(b)) {
        (Kind::Object, Kind::Object) => {
            let (Ok(ea), Ok(eb)) = (object_entries(a), object_entries(b)) else {
                return false;
            };
            ea.len() == eb.len() && ea.iter().all(|(k, va)| eb.iter().any(|(kb, vb)| kb == k && json_equal(va, vb)))
        }
        (Kind::Array, Kind::Array) => {
            let (Ok(ea), Ok(eb)) = (array_elements(a), array_elements(b)) else {
                return false;
            };
            ea.len() == eb.len() && ea.iter().zip(&eb).all(|(x, y)| json_equal(x, y))
        }
        (ka, kb) => ka == kb && a == b,
    }
}

/// The string a literal stands for, with any lone surrogate as U+FFFD (a Rust
/// `String` cannot hold one). Used where the characters matter, not for storage.
pub fn decode_lossy(literal: &str) -> String {
    let inner = &literal[1..literal.len().saturating_sub(1).max(1)];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    let mut pending_high: Option<u16> = None;
    let emit_pending = |out: &mut String, high: &mut Option<u16>| {
        if high.take().is_some() {
            out.push('\u{fffd}');
        }
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            emit_pending(&mut out, &mut pending_high);
            out.push(c);
            continue;
        }
        let escaped = match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = u16::from_str_radix(&hex, 16).unwrap_or(0xfffd);
                match (pending_high.take(), unit) {
                    (Some(high), 0xdc00..=0xdfff) => {
                        let c = 0x10000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                        out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                    }
                    (high, 0xd800..=0xdbff) => {
                        if high.is_some() {
                            out.push('\u{fffd}');
                        }
                        pending_high = Some(unit);
                    }
                    (high, unit) => {
                        if high.is_some() {
                            out.push('\u{fffd}');
                        }
                        out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}'));
                    }
                }
                continue;
            }
            Some('b') => '\u{08}',
            Some('f') => '\u{0c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some(other) => other,
            None => break,
        };
        emit_pending(&mut out, &mut pending_high);
        out.push(escaped);
    }
    emit_pending(&mut out, &mut pending_high);
    out
}

/// Writes `s` as a JSON string literal exactly as `JSON.stringify` would.
pub fn write_string_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a JSON string literal.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string_literal(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arrays_with_nested_values_and_tricky_strings() {
        let t = r#"[{"a":"]}\"","b":[1,{"c":2}]},3,"x",null,[]]"#;
        assert_eq!(array_elements(t).unwrap(), vec![r#"{"a":"]}\"","b":[1,{"c":2}]}"#, "3", r#""x""#, "null", "[]"]);
        assert_eq!(array_elements("[]").unwrap(), Vec::<&str>::new());
        assert!(array_elements("[1,").is_err());
        assert!(array_elements("{}").is_err());
        assert!(array_elements("[1] x").is_err());
    }

    #[test]
    fn lists_object_entries_in_order() {
        let e = object_entries(r#"{"type":"A","data":{"x":[1,2]},"n":-1.5e3}"#).unwrap();
        assert_eq!(e, vec![(r#""type""#, r#""A""#), (r#""data""#, r#"{"x":[1,2]}"#), (r#""n""#, "-1.5e3")]);
        assert!(object_entries(r#"{"a" 1}"#).is_err());
        assert!(object_entries(r#"{"a":"unterminated}"#).is_err());
    }

    #[test]
    fn equality_ignores_key_order_but_not_array_order() {
        assert!(json_equal(r#"{"a":1,"b":[1,{"c":"x"}]}"#, r#"{"b":[1,{"c":"x"}],"a":1}"#));
        assert!(!json_equal("[1,2]", "[2,1]"));
        assert!(!json_equal(r#"{"a":1}"#, r#"{"a":1,"b":2}"#));
        assert!(!json_equal(r#""1""#, "1"));
        assert!(json_equal(r#""\ud800""#, r#""\ud800""#));
    }

    #[test]
    fn decodes_literals_with_lone_surrogates_replaced() {
        assert_eq!(decode_lossy(r#""a\u001command\n\ud83d\ude00\ud800x""#), "a\u{1c}ommand\n😀\u{fffd}x");
        assert_eq!(decode_lossy(r#""""#), "");
    }

    #[test]
    fn writes_literals_like_json_stringify() {
        assert_eq!(string_literal("a\"b\\c\n\u{1}é😀"), "\"a\\\"b\\\\c\\n\\u0001é😀\"");
    }
}
