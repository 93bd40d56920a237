//! A slab: values addressed by index, freed indices reused.
//!
//! The values live in chunks of [`CHUNK`], added one at a time as the slab fills. One vector
//! of all of them would double when full: a copy of every capability in the system with
//! interrupts off, and a moment when the old and the new block (three times what the slab
//! holds) must both fit in the kernel heap, in one piece. A chunk is a fixed-size array, so
//! a look-up checks only which chunk: the place in it is `id % CHUNK`, in range by
//! construction (the IPC fast path makes six look-ups a round trip).

use alloc::boxed::Box;
use alloc::vec::Vec;

/// Values per chunk.
pub const CHUNK: usize = 64;

type Chunk<T> = Box<[Option<T>; CHUNK]>;

pub struct Slab<T> {
    chunks: Vec<Chunk<T>>,
    /// Indices below this were handed out at some time; the rest of the last chunk is new.
    used: usize,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub const fn new() -> Self {
        Slab { chunks: Vec::new(), used: 0, free: Vec::new(), len: 0 }
    }

    pub fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            *self.entry(i).expect("a freed index is in a chunk") = Some(value);
            return i;
        }
        if self.used == self.chunks.len() * CHUNK {
            self.chunks.push(empty_chunk());
        }
        let id = self.used as u32;
        self.used += 1;
        *self.entry(id).expect("the last chunk has room") = Some(value);
        id
    }

    pub fn remove(&mut self, id: u32) -> Option<T> {
        let value = self.entry(id)?.take()?;
        self.free.push(id);
        self.len -= 1;
        Some(value)
    }

    #[inline]
    pub fn get(&self, id: u32) -> Option<&T> {
        self.chunks.get(id as usize / CHUNK)?[id as usize % CHUNK].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.entry(id)?.as_mut()
    }

    #[inline]
    fn entry(&mut self, id: u32) -> Option<&mut Option<T>> {
        Some(&mut self.chunks.get_mut(id as usize / CHUNK)?[id as usize % CHUNK])
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.chunks.iter().flat_map(|c| c.iter()).enumerate().filter_map(|(i, v)| v.as_ref().map(|v| (i as u32, v)))
    }
}

/// A chunk of empty places, made on the heap (an array of large values built on the kernel
/// stack first could overflow it).
fn empty_chunk<T>() -> Chunk<T> {
    let places: Box<[Option<T>]> = (0..CHUNK).map(|_| None).collect();
    places.try_into().unwrap_or_else(|_| unreachable!("CHUNK places were made"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reused_after_remove() {
        let mut s = Slab::new();
        let a = s.insert('a');
        let b = s.insert('b');
        assert_eq!(s.remove(a), Some('a'));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.insert('c'), a);
        assert_eq!(s.get(b), Some(&'b'));
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(99), None);
    }

    #[test]
    fn values_span_chunks_and_chunks_never_move() {
        let mut s = Slab::new();
        let ids: Vec<u32> = (0..3 * CHUNK as u64 + 5).map(|v| s.insert(v)).collect();
        assert_eq!(ids, (0..3 * CHUNK as u32 + 5).collect::<Vec<_>>());
        assert_eq!(s.chunks.len(), 4);
        let first = s.chunks[0].as_ptr();
        for id in (0..ids.len() as u32).step_by(3) {
            assert_eq!(s.remove(id), Some(u64::from(id)));
        }
        assert_eq!(s.get(3 * CHUNK as u32), None, "removed");
        assert_eq!(s.get(3 * CHUNK as u32 + 1), Some(&(3 * CHUNK as u64 + 1)));
        // Freed ids are used again before a new chunk is made.
        let again: Vec<u32> = (0..ids.len().div_ceil(3)).map(|_| s.insert(7)).collect();
        assert!(again.iter().all(|&id| id % 3 == 0 && (id as usize) < ids.len()));
        assert_eq!(s.chunks.len(), 4);
        assert_eq!(s.len(), ids.len());
        s.insert(8);
        s.insert(9);
        assert_eq!(s.chunks.len(), 4, "the last chunk still had room");
        assert_eq!(s.chunks[0].as_ptr(), first, "a chunk's values stay where they are");
        assert_eq!(s.iter().count(), s.len());
    }
}
