//! Growth of the store's big vectors, and the byte count behind `memoryUsage`.
//!
//! Doubling wastes up to half of a large buffer; the store instead grows large
//! vectors by an eighth (still geometric, so pushes stay amortised O(1), and glibc
//! moves large blocks with `mremap` rather than copying). Every change of capacity is
//! added to one counter, so the store knows the bytes it holds in O(1).

/// Bytes held by the store's buffers and indexes, kept up to date as they grow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub usize);

const SMALL: usize = 1 << 12;

fn next_capacity(cap: usize, needed: usize) -> usize {
    let step = if cap < SMALL { cap.max(4) } else { cap / 8 };
    (cap + step).max(needed)
}

/// Pushes `value`, growing `v` by the store's policy and counting the bytes.
pub fn push<T>(v: &mut Vec<T>, value: T, bytes: &mut Bytes) {
    if v.len() == v.capacity() {
        reserve(v, 1, bytes);
    }
    v.push(value);
}

/// Makes room for `additional` more elements.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize, bytes: &mut Bytes) {
    let needed = v.len() + additional;
    if needed <= v.capacity() {
        return;
    }
    let before = v.capacity();
    v.reserve_exact(next_capacity(before, needed) - v.len());
    bytes.0 += (v.capacity() - before) * std::mem::size_of::<T>();
}

/// Appends text to the arena, growing it by the same policy.
pub fn push_str(arena: &mut String, s: &str, bytes: &mut Bytes) {
    let needed = arena.len() + s.len();
    if needed > arena.capacity() {
        let before = arena.capacity();
        arena.reserve_exact(next_capacity(before, needed) - arena.len());
        bytes.0 += arena.capacity() - before;
    }
    arena.push_str(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_byte_of_capacity() {
        let mut bytes = Bytes::default();
        let mut v: Vec<u64> = Vec::new();
        for i in 0..100_000 {
            push(&mut v, i, &mut bytes);
        }
        assert_eq!(bytes.0, v.capacity() * 8);
        // Large vectors grow by an eighth, not by doubling.
        assert!(v.capacity() < 100_000 * 9 / 8 + 4096 * 2);
        let mut arena = String::new();
        for _ in 0..10_000 {
            push_str(&mut arena, "0123456789", &mut bytes);
        }
        assert_eq!(bytes.0, v.capacity() * 8 + arena.capacity());
    }
}
