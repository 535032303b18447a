//! A hash table split into shards that copies of it share, for the origin matcher of a policy
//! that is edited while serving.
//!
//! A copy costs one reference count per shard; a change copies only the shard it touches
//! (copy-on-write), so adding or removing one origin among 100,000 copies a few hundred entries,
//! not the whole table. A look-up hashes its key once: the hash picks the shard (from bits that
//! the shard's own table does not use for buckets or tags) and then the bucket, so it costs what
//! one `hashbrown` look-up costs plus one pointer.
//!
//! Written here because no maintained crate offers copy-on-write shards over `hashbrown`'s
//! `HashTable` with a caller-supplied hash (persistent maps such as `imbl` walk a tree per
//! look-up instead).

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};

/// Entries per shard that a table is sized for when it is built.
const TARGET_SHARD_LEN: usize = 256;
/// A table is re-sharded when its shards hold this many entries on average.
const MAX_AVERAGE_SHARD_LEN: usize = 4 * TARGET_SHARD_LEN;
/// The shard index is read from the hash from this bit up: `hashbrown` takes bucket indexes
/// from the low bits and tags from the top seven.
const SHARD_BITS_FROM: u32 = 32;

/// An entry: its key's bytes are what is hashed.
pub(crate) trait Keyed: Clone {
    fn key_bytes(&self) -> &[u8];
}

#[derive(Clone)]
pub(crate) struct Sharded<T> {
    shards: Box<[Arc<HashTable<T>>]>,
    state: DefaultHashBuilder,
    len: usize,
}

impl<T> Default for Sharded<T> {
    fn default() -> Self {
        Sharded {
            shards: Box::new([Arc::new(HashTable::new())]),
            state: DefaultHashBuilder::default(),
            len: 0,
        }
    }
}

impl<T: Keyed> Sharded<T> {
    /// An empty table with shards for about `len` entries.
    pub(crate) fn with_capacity(len: usize) -> Sharded<T> {
        Sharded::with_shards(shards_for(len))
    }

    fn with_shards(count: usize) -> Sharded<T> {
        debug_assert!(count.is_power_of_two());
        Sharded {
            shards: (0..count).map(|_| Arc::new(HashTable::new())).collect(),
            state: DefaultHashBuilder::default(),
            len: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.state.hash_one(key)
    }

    #[inline]
    fn shard_of(&self, hash: u64) -> usize {
        // The count is a power of two, at most 2^32 (far more than memory allows).
        (hash >> SHARD_BITS_FROM) as usize & (self.shards.len() - 1)
    }

    /// The entry whose key bytes are `key`, and that `eq` accepts.
    #[inline]
    pub(crate) fn get(&self, key: &[u8], eq: impl Fn(&T) -> bool) -> Option<&T> {
        let hash = self.hash(key);
        self.shards[self.shard_of(hash)].find(hash, |e| e.key_bytes() == key && eq(e))
    }

    /// The entry for `key` to change in place (its shard is copied first if a copy of the
    /// table shares it), or `None`.
    pub(crate) fn get_mut(&mut self, key: &[u8], eq: impl Fn(&T) -> bool) -> Option<&mut T> {
        let hash = self.hash(key);
        let shard = self.shard_of(hash);
        // Look before copying: a miss must not copy the shard.
        self.shards[shard].find(hash, |e| e.key_bytes() == key && eq(e))?;
        Arc::make_mut(&mut self.shards[shard]).find_mut(hash, |e| e.key_bytes() == key && eq(e))
    }

    /// Inserts `entry`, replacing the entry with the same key (compared as bytes and by `eq`,
    /// which must agree with equality of the whole key). Returns the entry replaced.
    pub(crate) fn upsert_by(&mut self, entry: T, eq: impl Fn(&T, &T) -> bool) -> Option<T> {
        let hash = self.hash(entry.key_bytes());
        let shard = self.shard_of(hash);
        let state = &self.state;
        let table = Arc::make_mut(&mut self.shards[shard]);
        let found = table.find_mut(hash, |e| {
            e.key_bytes() == entry.key_bytes() && eq(e, &entry)
        });
        if let Some(old) = found {
            return Some(std::mem::replace(old, entry));
        }
        table.insert_unique(hash, entry, |e| state.hash_one(e.key_bytes()));
        self.len += 1;
        if self.len > self.shards.len() * MAX_AVERAGE_SHARD_LEN {
            self.reshard();
        }
        None
    }

    #[cfg(test)]
    fn upsert(&mut self, entry: T) -> Option<T> {
        self.upsert_by(entry, |_, _| true)
    }

    /// Removes the entry for `key` that `eq` accepts.
    pub(crate) fn remove(&mut self, key: &[u8], eq: impl Fn(&T) -> bool) -> Option<T> {
        let hash = self.hash(key);
        let shard = self.shard_of(hash);
        self.shards[shard].find(hash, |e| e.key_bytes() == key && eq(e))?;
        let table = Arc::make_mut(&mut self.shards[shard]);
        let entry = table
            .find_entry(hash, |e| e.key_bytes() == key && eq(e))
            .ok()?;
        self.len -= 1;
        Some(entry.remove().0)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }

    /// Rebuilds the table with shards sized for its length (rare: amortised over the
    /// thousands of insertions that made it necessary).
    fn reshard(&mut self) {
        let mut table = Sharded::with_shards(shards_for(self.len));
        table.state = self.state.clone();
        for entry in self.iter() {
            let hash = table.hash(entry.key_bytes());
            let shard = table.shard_of(hash);
            let state = &table.state;
            Arc::make_mut(&mut table.shards[shard])
                .insert_unique(hash, entry.clone(), |e| state.hash_one(e.key_bytes()));
        }
        table.len = self.len;
        *self = table;
    }
}

/// A power of two of shards that holds `len` entries at about the target size each.
fn shards_for(len: usize) -> usize {
    len.div_ceil(TARGET_SHARD_LEN).max(1).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Entry(Vec<u8>, u32);

    impl Keyed for Entry {
        fn key_bytes(&self) -> &[u8] {
            &self.0
        }
    }

    fn key(i: usize) -> Vec<u8> {
        format!("https://tenant-{i}.example.com").into_bytes()
    }

    /// A copy shares every shard; a change to one copy copies one shard and leaves the other
    /// copy as it was.
    #[test]
    fn copies_share_shards_until_changed() {
        let mut a: Sharded<Entry> = Sharded::with_capacity(10_000);
        for i in 0..10_000 {
            a.upsert(Entry(key(i), 0));
        }
        assert_eq!(a.len(), 10_000);
        assert_eq!(a.shards.len(), 64);
        let mut b = a.clone();
        b.upsert(Entry(b"https://new.example".to_vec(), 1));
        assert!(b.remove(&key(7), |_| true).is_some());
        assert!(b.remove(&key(7), |_| true).is_none());
        b.get_mut(&key(8), |_| true).unwrap().1 = 9;
        let shared = a
            .shards
            .iter()
            .zip(b.shards.iter())
            .filter(|(x, y)| Arc::ptr_eq(x, y))
            .count();
        assert!(shared >= 64 - 3, "{shared} shards still shared");
        assert_eq!((a.len(), b.len()), (10_000, 10_000));
        assert!(a.get(&key(7), |_| true).is_some());
        assert!(b.get(&key(7), |_| true).is_none());
        assert_eq!(a.get(&key(8), |_| true).unwrap().1, 0);
        assert_eq!(b.get(&key(8), |_| true).unwrap().1, 9);
        assert!(a.get(b"https://new.example", |_| true).is_none());
        assert!(b.get(b"https://new.example", |_| true).is_some());
    }

    /// Growing one entry at a time re-shards and loses nothing.
    #[test]
    fn growing_reshards() {
        let mut t: Sharded<Entry> = Sharded::default();
        for i in 0..5_000 {
            assert!(t.upsert(Entry(key(i), 0)).is_none());
        }
        assert_eq!(t.len(), 5_000);
        assert!(t.shards.len() >= 4, "{}", t.shards.len());
        for i in 0..5_000 {
            assert!(t.get(&key(i), |_| true).is_some(), "{i}");
        }
        assert_eq!(t.iter().count(), 5_000);
        assert!(t.upsert(Entry(key(3), 1)).is_some());
        assert_eq!(t.len(), 5_000);
    }
}
