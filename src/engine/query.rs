//! Reads: one stream by revision, and the query planner behind `getAllMessages`.
//!
//! The planner narrows the position range first, then drives the scan from the
//! smallest candidate set it can find, and checks every other condition per candidate.
//! What each filter costs (n = messages in the store, k = messages returned, m = the
//! driving candidate list, restricted to the position range):
//!
//! - `fromPosition` / `toPosition`: O(1), positions are record indexes.
//! - `fromTimestamp` / `toTimestamp`: O(log n) by binary search while save times never
//!   went backwards; otherwise a check per candidate.
//! - `streamId`, `sessionId`, `messageType`: a hash look-up (or an array slot) gives a
//!   sorted posting list, cut to the position range in O(log m); the shortest list
//!   drives the scan. `sessionId: 'no-session'` has no list (it is most messages): a
//!   check per candidate.
//! - `correlationId`, `requestId`: the same, through the id's keyed 64-bit hash; each
//!   candidate is confirmed against its stored text (O(k) reads of small fields).
//! - `messageNames`: the union of one posting list per name, merged lazily in order.
//! - `jsonFilter`: no index; a check per candidate: a SIMD byte search for `"key":value`
//!   in the stored text, and only for texts that contain it, a parse of `data`.
//! - `count` (the last N): the scan runs from the end and stops after N matches.
//!
//! With no condition that has an index, the scan walks the position range.

use memchr::memmem;

use super::filter::{data_matches, data_of, field_of, Filter, JsonCondition};
use super::id_index;
use super::json::{self, Kind};
use super::model::{JsonString, MessageKind};
use super::store::{Engine, Record, NO_SESSION};

/// Candidate records, ascending, from which the scan is driven.
enum Source<'a> {
    Range(usize, usize),
    Lists(Vec<&'a [u32]>),
}

impl Source<'_> {
    fn cost(&self) -> usize {
        match self {
            Source::Range(lo, hi) => hi - lo,
            Source::Lists(lists) => lists.iter().map(|l| l.len()).sum(),
        }
    }
}

/// The conditions checked on each candidate, resolved to record fields.
struct Check<'s, 'f> {
    kind: Option<MessageKind>,
    /// Literals of the wanted `type`s, checked against the text.
    names: Option<Vec<&'s JsonString>>,
    stream: Option<u32>,
    session: Option<u32>,
    from_time: Option<i64>,
    to_time: Option<i64>,
    correlation_id: Option<&'f JsonString>,
    request_id: Option<&'f JsonString>,
    json: Option<&'f [JsonCondition]>,
    /// Byte strings every match must contain (see `json_needles`): a message without
    /// one of them is skipped without being parsed.
    needles: Vec<memmem::Finder<'static>>,
}

impl Engine {
    /// The stream's records with `revision >= from_revision`, then only the last
    /// `limit`; empty for an unknown stream.
    pub fn read_stream(&self, stream: &JsonString, from_revision: Option<i64>, limit: Option<usize>) -> &[u32] {
        let Some(s) = self.stream(stream) else { return &[] };
        let from = from_revision.map_or(0, |r| r.clamp(0, s.members.len() as i64) as usize);
        last(&s.members[from..], limit)
    }

    /// The position of the stream's message at `revision`, if it has one.
    pub fn position_of(&self, stream: &JsonString, revision: i64) -> Option<i64> {
        let s = self.stream(stream)?;
        let record = *s.members.get(usize::try_from(revision).ok()?)?;
        Some(record as i64 + 1)
    }

    /// Records matching `filter` in position order, then only the last `limit`.
    pub fn query(&self, filter: &Filter, limit: Option<usize>) -> Vec<u32> {
        self.scan(filter, filter.from_position, filter.to_position, limit, limit.is_some())
    }

    /// A subscription's page: the first `limit` records matching `filter` with positions
    /// in `(after, up_to]`, ascending, and the position the page reads through (every
    /// match up to it is in the page; the next page starts after it).
    pub fn follow(&self, filter: &Filter, after: i64, up_to: i64, limit: usize) -> (Vec<u32>, i64) {
        let from = filter.from_position.map_or(after + 1, |p| p.max(after + 1));
        let to = filter.to_position.map_or(up_to, |p| p.min(up_to));
        let page = self.scan(filter, Some(from), Some(to), Some(limit.max(1)), false);
        let through = match page.last() {
            Some(&last) if page.len() >= limit.max(1) => last as i64 + 1,
            _ => up_to.max(after),
        };
        (page, through)
    }

    /// Records matching `filter` with positions in `[from, to]`, at most `limit`: the
    /// last ones when `descending`, the first ones otherwise; in position order.
    fn scan(
        &self,
        filter: &Filter,
        from: Option<i64>,
        to: Option<i64>,
        limit: Option<usize>,
        descending: bool,
    ) -> Vec<u32> {
        let n = self.records.len();
        let mut lo = from.map_or(0, |p| (p.max(1) - 1).min(n as i64) as usize);
        let mut hi = to.map_or(n, |p| p.clamp(0, n as i64) as usize);
        if self.times_ordered && lo < hi {
            let recs = &self.records[lo..hi];
            let start = filter.from_time.map_or(0, |t| recs.partition_point(|r| r.time < t));
            let end = filter.to_time.map_or(recs.len(), |t| recs.partition_point(|r| r.time <= t));
            (lo, hi) = (lo + start, lo + end.max(start));
        }
        if lo >= hi {
            return Vec::new();
        }
        let Some((source, check)) = self.plan(filter, lo, hi) else { return Vec::new() };

        let wanted = limit.unwrap_or(usize::MAX);
        if wanted == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut visit = |i: u32| {
            if self.passes(i, &check) {
                out.push(i);
            }
            out.len() < wanted
        };
        match &source {
            Source::Range(lo, hi) if descending => {
                for i in (*lo..*hi).rev() {
                    if !visit(i as u32) {
                        break;
                    }
                }
            }
            Source::Range(lo, hi) => {
                for i in *lo..*hi {
                    if !visit(i as u32) {
                        break;
                    }
                }
            }
            Source::Lists(lists) => merge(lists, descending, visit),
        }
        if descending {
            out.reverse();
        }
        out
    }

    /// Resolves the filter against the indexes and picks the cheapest source;
    /// `None` when some condition can match nothing.
    fn plan<'s, 'f>(&'s self, f: &'f Filter, lo: usize, hi: usize) -> Option<(Source<'s>, Check<'s, 'f>)> {
        let cut = |list: &'s [u32]| -> &'s [u32] {
            let a = list.partition_point(|&i| (i as usize) < lo);
            let b = list.partition_point(|&i| (i as usize) < hi);
            &list[a..b]
        };
        let mut best = Source::Range(lo, hi);
        let consider_into = |best: &mut Source<'s>, s: Source<'s>| {
            if s.cost() < best.cost() {
                *best = s;
            }
        };
        let mut names_drive = false;
        macro_rules! consider {
            ($s:expr) => {
                consider_into(&mut best, $s)
            };
        }

        let stream = match &f.stream {
            Some(name) => {
                let ix = *self.stream_ids.get(name.literal())?;
                consider!(Source::Lists(vec![cut(&self.streams[ix as usize].members)]));
                Some(ix)
            }
            None => None,
        };
        let session = match &f.session {
            // Messages saved outside any session have no list of their own (they are
            // usually most of the store): the scan checks each candidate's record.
            Some(id) if id.literal() == NO_SESSION => Some(0),
            Some(id) => {
                let ix = *self.session_ids.get(id.literal())?;
                consider!(Source::Lists(vec![cut(&self.sessions[ix as usize].members)]));
                Some(ix + 1)
            }
            None => None,
        };
        if let Some(id) = &f.correlation_id {
            consider!(Source::Lists(vec![cut(self.by_correlation.get(id_index::key(&self.hasher, id.literal())))]));
        }
        if let Some(id) = &f.request_id {
            consider!(Source::Lists(vec![cut(self.by_request.get(id_index::key(&self.hasher, id.literal())))]));
        }
        let names = match &f.names {
            Some(names) => {
                let mut ids: Vec<u32> = names.iter().filter_map(|n| self.name_ids.get(n.literal()).copied()).collect();
                ids.sort_unstable();
                ids.dedup();
                if ids.is_empty() {
                    return None;
                }
                let source = Source::Lists(ids.iter().map(|&id| cut(&self.by_name[id as usize])).collect());
                names_drive = source.cost() < best.cost();
                consider!(source);
                Some(ids.iter().map(|&id| &self.names[id as usize]).collect::<Vec<_>>())
            }
            None => None,
        };
        if let Some(kind) = f.kind {
            let source = Source::Lists(vec![cut(&self.by_kind[kind as usize])]);
            if source.cost() < best.cost() {
                names_drive = false;
            }
            consider!(source);
        }

        let check = Check {
            kind: f.kind,
            // A union of name lists yields only those names: no need to read the text.
            names: if names_drive { None } else { names },
            stream,
            session,
            from_time: f.from_time,
            to_time: f.to_time,
            correlation_id: f.correlation_id.as_ref(),
            request_id: f.request_id.as_ref(),
            json: f.json.as_deref(),
            needles: f.json.as_deref().map(json_needles).unwrap_or_default(),
        };
        Some((best, check))
    }

    fn passes(&self, i: u32, c: &Check<'_, '_>) -> bool {
        let r: &Record = &self.records[i as usize];
        if c.kind.is_some_and(|k| k != r.kind)
            || c.stream.is_some_and(|s| s != r.stream)
            || c.session.is_some_and(|s| s != r.session)
            || c.from_time.is_some_and(|t| r.time < t)
            || c.to_time.is_some_and(|t| r.time > t)
        {
            return false;
        }
        if c.names.is_none() && c.correlation_id.is_none() && c.request_id.is_none() && c.json.is_none() {
            return true;
        }
        let text = self.text(i);
        // Ids are indexed by hash, so a candidate from their lists is confirmed here too.
        c.names
            .as_ref()
            .is_none_or(|names| field_of(text, r#""type""#).is_some_and(|t| names.iter().any(|n| n.literal() == t)))
            && c.correlation_id.is_none_or(|id| field_of(text, r#""correlationId""#) == Some(id.literal()))
            && c.request_id.is_none_or(|id| field_of(text, r#""requestId""#) == Some(id.literal()))
            && c.json.is_none_or(|conds| {
                c.needles.iter().all(|n| n.find(text.as_bytes()).is_some()) && data_matches(data_of(text), conds)
            })
    }
}

/// For each `jsonFilter` condition that compares a key of an object with a string,
/// number, boolean or null, the bytes `"key":value` as `JSON.stringify` writes them
/// (stored texts are compact, so a match must contain them); for an object or array
/// value, `"key":`. Keys that could index an array (`0`, `length`) get none, since the
/// data may be an array.
fn json_needles(conditions: &[JsonCondition]) -> Vec<memmem::Finder<'static>> {
    conditions
        .iter()
        .filter_map(|c| match c {
            JsonCondition::Equals { key, value } => {
                let bare = &key.literal()[1..key.literal().len() - 1];
                if bare == "length" || (!bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit())) {
                    return None;
                }
                let needle = match json::kind_of(value) {
                    Kind::Object | Kind::Array => format!("{}:", key.literal()),
                    _ => format!("{}:{}", key.literal(), value),
                };
                Some(memmem::Finder::new(needle.as_bytes()).into_owned())
            }
            JsonCondition::Absent { .. } => None,
        })
        .collect()
}

/// The last `limit` items of `items` (all of them when `limit` is `None`).
fn last(items: &[u32], limit: Option<usize>) -> &[u32] {
    match limit {
        Some(n) if n < items.len() => &items[items.len() - n..],
        _ => items,
    }
}

/// Visits the union of sorted, disjoint lists in order until `visit` returns false.
fn merge(lists: &[&[u32]], descending: bool, mut visit: impl FnMut(u32) -> bool) {
    if let [only] = lists {
        if descending {
            only.iter().rev().all(|&i| visit(i));
        } else {
            only.iter().all(|&i| visit(i));
        }
        return;
    }
    // Cursors: next index to take from each list (from the front or from the back).
    let mut cursors: Vec<usize> = lists.iter().map(|l| if descending { l.len() } else { 0 }).collect();
    loop {
        let mut pick: Option<(usize, u32)> = None;
        for (k, list) in lists.iter().enumerate() {
            let c = cursors[k];
            let candidate = if descending { (c > 0).then(|| list[c - 1]) } else { list.get(c).copied() };
            if let Some(v) = candidate {
                let better = pick.is_none_or(|(_, p)| if descending { v > p } else { v < p });
                if better {
                    pick = Some((k, v));
                }
            }
        }
        let Some((k, v)) = pick else { return };
        if descending {
            cursors[k] -= 1;
        } else {
            cursors[k] += 1;
        }
        if !visit(v) {
            return;
        }
    }
}
