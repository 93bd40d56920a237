//! A slab: values addressed by index, freed indices reused.
//!
//! The values live in an array that grows in place ([`crate::mem::array`]): growing never
//! moves or copies them, and a look-up is one bounds check (the IPC fast path makes six a
//! round trip).

use crate::mem::array::Array;
use alloc::vec::Vec;

pub struct Slab<T> {
    places: Array<Option<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub const fn new() -> Self {
        Slab { places: Array::new(), free: Vec::new(), len: 0 }
    }

    pub fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            *self.places.get_mut(i as usize).expect("a freed index has its place") = Some(value);
            return i;
        }
        let id = u32::try_from(self.places.len()).expect("fewer than 2^32 values");
        self.places.push(Some(value));
        id
    }

    pub fn remove(&mut self, id: u32) -> Option<T> {
        let value = self.places.get_mut(id as usize)?.take()?;
        self.free.push(id);
        self.len -= 1;
        Some(value)
    }

    #[inline]
    pub fn get(&self, id: u32) -> Option<&T> {
        self.places.get(id as usize)?.as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.places.get_mut(id as usize)?.as_mut()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.places.iter().enumerate().filter_map(|(i, v)| v.as_ref().map(|v| (i as u32, v)))
    }
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
    fn freed_ids_are_used_before_new_ones() {
        let mut s = Slab::new();
        let ids: Vec<u32> = (0..200u64).map(|v| s.insert(v)).collect();
        assert_eq!(ids, (0..200).collect::<Vec<_>>());
        for id in (0..200).step_by(3) {
            assert_eq!(s.remove(id), Some(u64::from(id)));
        }
        assert_eq!(s.get(198), None, "removed");
        assert_eq!(s.get(199), Some(&199));
        let again: Vec<u32> = (0..67).map(|_| s.insert(7)).collect();
        assert!(again.iter().all(|&id| id % 3 == 0 && id < 200));
        assert_eq!(s.len(), 200);
        assert_eq!(s.insert(8), 200, "a new id once none is free");
        assert_eq!(s.iter().count(), s.len());
    }
}
