//! The physical frame allocator: one bit per 4 KiB frame, set when the frame is free.
//!
//! A bitmap costs 32 KiB per GiB of RAM, finds a free frame by scanning words from a moving
//! hint, and can tell a double free from a real one, which a free list cannot. The storage is
//! handed in, so the same code runs over frames carved out at boot and over a `Vec` in tests.

use super::layout::PAGE_SIZE;
use super::regions::PhysRange;

/// Why a frame could not be freed. Each is a kernel bug, reported by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The address is not the start of a frame the allocator manages.
    NotManaged(u64),
    /// The frame is already free.
    DoubleFree(u64),
}

pub struct FrameBitmap<'a> {
    words: &'a mut [u64],
    /// Frames the bitmap can describe: `words.len() * 64`, or fewer.
    frames: u64,
    /// Frames ever made free (the allocator's capacity).
    managed: u64,
    free: u64,
    /// Word index where the next search starts.
    hint: usize,
}

impl<'a> FrameBitmap<'a> {
    /// Words of storage needed to describe physical memory up to `end` bytes.
    pub const fn words_for(end: u64) -> usize {
        (end / PAGE_SIZE).div_ceil(64) as usize
    }

    /// A bitmap with every frame in use; `add_free` makes ranges available.
    pub fn new(words: &'a mut [u64], end: u64) -> FrameBitmap<'a> {
        assert!(words.len() >= Self::words_for(end), "frame bitmap storage too small for {end:#x}");
        words.fill(0);
        FrameBitmap { words, frames: end / PAGE_SIZE, managed: 0, free: 0, hint: 0 }
    }

    /// Makes every whole frame in `range` free. Frames beyond the bitmap's end are ignored;
    /// frames already free stay free and are not counted twice.
    pub fn add_free(&mut self, range: PhysRange) {
        let range = range.shrink_to_pages();
        let first = range.start / PAGE_SIZE;
        let last = (range.end / PAGE_SIZE).min(self.frames);
        for frame in first..last {
            let (w, bit) = ((frame / 64) as usize, 1u64 << (frame % 64));
            if self.words[w] & bit == 0 {
                self.words[w] |= bit;
                self.managed += 1;
                self.free += 1;
            }
        }
    }

    /// Takes a free frame and returns its physical address.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let n = self.words.len();
        for i in 0..n {
            let w = (self.hint + i) % n;
            let word = self.words[w];
            if word != 0 {
                let bit = word.trailing_zeros() as u64;
                self.words[w] &= !(1 << bit);
                self.free -= 1;
                self.hint = w;
                return Some((w as u64 * 64 + bit) * PAGE_SIZE);
            }
        }
        unreachable!("free count {} but no free bit in the frame bitmap", self.free)
    }

    /// Returns a frame taken with `alloc`.
    pub fn free(&mut self, addr: u64) -> Result<(), FreeError> {
        let frame = addr / PAGE_SIZE;
        if !addr.is_multiple_of(PAGE_SIZE) || frame >= self.frames {
            return Err(FreeError::NotManaged(addr));
        }
        let (w, bit) = ((frame / 64) as usize, 1u64 << (frame % 64));
        if self.words[w] & bit != 0 {
            return Err(FreeError::DoubleFree(addr));
        }
        self.words[w] |= bit;
        self.free += 1;
        Ok(())
    }

    pub const fn free_frames(&self) -> u64 {
        self.free
    }

    pub const fn managed_frames(&self) -> u64 {
        self.managed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn bitmap(end: u64) -> FrameBitmap<'static> {
        let words = vec![0u64; FrameBitmap::words_for(end)].leak();
        FrameBitmap::new(words, end)
    }

    #[test]
    fn starts_full_and_counts_added_ranges_once() {
        let mut b = bitmap(1 << 20);
        assert_eq!(b.alloc(), None);
        b.add_free(PhysRange::new(0x10000, 0x20000));
        b.add_free(PhysRange::new(0x18000, 0x28000));
        assert_eq!(b.managed_frames(), 24);
        assert_eq!(b.free_frames(), 24);
    }

    #[test]
    fn hands_out_each_free_frame_exactly_once() {
        let mut b = bitmap(1 << 20);
        b.add_free(PhysRange::new(0x3000, 0x9000));
        b.add_free(PhysRange::new(0x40000, 0x4a000));
        let mut seen = HashSet::new();
        while let Some(f) = b.alloc() {
            assert_eq!(f % PAGE_SIZE, 0);
            assert!((0x3000..0x9000).contains(&f) || (0x40000..0x4a000).contains(&f), "{f:#x}");
            assert!(seen.insert(f), "{f:#x} handed out twice");
        }
        assert_eq!(seen.len(), 16);
        assert_eq!(b.free_frames(), 0);
    }

    #[test]
    fn free_returns_frames_and_catches_bugs() {
        let mut b = bitmap(1 << 20);
        b.add_free(PhysRange::new(0x1000, 0x3000));
        let f = b.alloc().unwrap();
        assert_eq!(b.free_frames(), 1);
        assert_eq!(b.free(f), Ok(()));
        assert_eq!(b.free_frames(), 2);
        assert_eq!(b.free(f), Err(FreeError::DoubleFree(f)));
        assert_eq!(b.free(f + 1), Err(FreeError::NotManaged(f + 1)));
        assert_eq!(b.free(1 << 20), Err(FreeError::NotManaged(1 << 20)));
        assert_eq!(b.free_frames(), 2);
    }

    #[test]
    fn frames_past_the_end_are_ignored() {
        let mut b = bitmap(0x10000);
        b.add_free(PhysRange::new(0xe000, 0x20000));
        assert_eq!(b.managed_frames(), 2);
    }

    #[test]
    fn alloc_free_cycles_return_to_baseline() {
        let mut b = bitmap(64 << 20);
        b.add_free(PhysRange::new(0x100000, 64 << 20));
        let base = b.free_frames();
        for round in 0..4 {
            let got: Vec<u64> = (0..1000 + round * 37).map(|_| b.alloc().unwrap()).collect();
            for f in got.into_iter().rev() {
                b.free(f).unwrap();
            }
            assert_eq!(b.free_frames(), base);
        }
    }
}
