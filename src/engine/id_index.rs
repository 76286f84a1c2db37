//! Posting lists for ids that are often unique (request ids) or small groups
//! (correlation ids), kept compact: a hash map from the 64-bit keyed hash of the id's
//! literal to either the one record that has it or a list of records.
//!
//! Storing the hash and not the id saves a heap string per key; two ids whose hashes
//! collide share a list, so every candidate is confirmed against its stored text
//! (see `query.rs`). The hash is SipHash with per-process random keys, so callers
//! cannot aim collisions at it.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use super::grow::{self, Bytes};

/// Values below this bit are a record index; with it set, an index into `lists`.
const LIST: u32 = 1 << 31;

/// The keys are already hashes: use them as they are.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    map: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    lists: Vec<Vec<u32>>,
}

/// The largest record index an `IdIndex` can hold.
pub(crate) const MAX_RECORD: u32 = LIST - 1;

impl IdIndex {
    pub fn add(&mut self, key: u64, record: u32, bytes: &mut Bytes) {
        debug_assert!(record <= MAX_RECORD);
        let before = self.map_bytes();
        match self.map.get_mut(&key) {
            None => {
                self.map.insert(key, record);
            }
            Some(v) if *v & LIST != 0 => {
                grow::push(&mut self.lists[(*v & !LIST) as usize], record, bytes);
            }
            Some(v) => {
                let mut list = Vec::new();
                grow::push(&mut list, *v, bytes);
                grow::push(&mut list, record, bytes);
                *v = LIST | self.lists.len() as u32;
                grow::push(&mut self.lists, list, bytes);
            }
        }
        bytes.0 += self.map_bytes() - before;
    }

    /// The records whose id hashes to `key`, ascending.
    pub fn get(&self, key: u64) -> &[u32] {
        match self.map.get(&key) {
            None => &[],
            Some(v) if *v & LIST != 0 => &self.lists[(*v & !LIST) as usize],
            Some(v) => std::slice::from_ref(v),
        }
    }

    fn map_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }
}

/// Hashes id literals for an `IdIndex`.
pub(crate) fn key(hasher: &impl BuildHasher, literal: &str) -> u64 {
    hasher.hash_one(literal.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_single_records_inline_and_lists_in_order() {
        let mut bytes = Bytes::default();
        let mut ix = IdIndex::default();
        ix.add(7, 1, &mut bytes);
        assert_eq!(ix.get(7), &[1]);
        ix.add(7, 5, &mut bytes);
        ix.add(9, 6, &mut bytes);
        ix.add(7, 8, &mut bytes);
        assert_eq!(ix.get(7), &[1, 5, 8]);
        assert_eq!(ix.get(9), &[6]);
        assert_eq!(ix.get(10), &[] as &[u32]);
        assert!(bytes.0 >= ix.map.capacity() * 17);
    }
}
