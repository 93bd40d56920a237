//! Turning the firmware's memory map into page-aligned free ranges.
//!
//! The bootloader reports usable regions with byte granularity; the kernel also knows ranges
//! that must never be handed out although the map may call them usable (the kernel file, the
//! ramdisk, the low megabyte kept for later CPU start-up code, the frame bitmap itself). This
//! is plain arithmetic, kept apart so it is tested on the host.

use super::layout::PAGE_SIZE;

/// A half-open physical byte range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> PhysRange {
        PhysRange { start, end }
    }

    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The largest page-aligned range inside this one.
    pub const fn shrink_to_pages(self) -> PhysRange {
        PhysRange { start: align_up(self.start), end: align_down(self.end) }
    }

    /// The smallest page-aligned range covering this one.
    pub const fn grow_to_pages(self) -> PhysRange {
        PhysRange { start: align_down(self.start), end: align_up(self.end) }
    }
}

pub const fn align_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

pub const fn align_up(addr: u64) -> u64 {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(a) => align_down(a),
        None => align_down(addr),
    }
}

/// Calls `emit` with every page-aligned piece of `usable` that no range in `excluded` touches.
/// `excluded` is sorted in place; a page only partly excluded is excluded whole.
pub fn free_pieces(usable: PhysRange, excluded: &mut [PhysRange], mut emit: impl FnMut(PhysRange)) {
    excluded.sort_unstable();
    let usable = usable.shrink_to_pages();
    let mut start = usable.start;
    for ex in excluded.iter().map(|e| e.grow_to_pages()) {
        if ex.is_empty() || ex.end <= start || ex.start >= usable.end {
            continue;
        }
        if ex.start > start {
            emit(PhysRange::new(start, ex.start));
        }
        start = start.max(ex.end);
    }
    if start < usable.end {
        emit(PhysRange::new(start, usable.end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(usable: (u64, u64), excluded: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let mut ex: Vec<PhysRange> = excluded.iter().map(|&(s, e)| PhysRange::new(s, e)).collect();
        let mut out = Vec::new();
        free_pieces(PhysRange::new(usable.0, usable.1), &mut ex, |r| out.push((r.start, r.end)));
        out
    }

    #[test]
    fn unaligned_edges_are_trimmed_inwards() {
        assert_eq!(pieces((0x1001, 0x5fff), &[]), vec![(0x2000, 0x5000)]);
        assert_eq!(pieces((0x1001, 0x1fff), &[]), vec![]);
    }

    #[test]
    fn exclusions_cut_holes_and_cover_partial_pages() {
        let got = pieces((0x0, 0x10000), &[(0x8000, 0x8001), (0x2100, 0x3000)]);
        assert_eq!(got, vec![(0x0, 0x2000), (0x3000, 0x8000), (0x9000, 0x10000)]);
    }

    #[test]
    fn exclusions_outside_overlapping_or_covering_everything() {
        assert_eq!(pieces((0x4000, 0x8000), &[(0x0, 0x1000), (0x9000, 0xa000)]), vec![(0x4000, 0x8000)]);
        assert_eq!(pieces((0x4000, 0x8000), &[(0x3000, 0x5000), (0x4000, 0x6000)]), vec![(0x6000, 0x8000)]);
        assert_eq!(pieces((0x4000, 0x8000), &[(0x0, 0x10000)]), vec![]);
        assert_eq!(pieces((0x4000, 0x8000), &[(0x5000, 0x5000)]), vec![(0x4000, 0x8000)]);
    }

    #[test]
    fn top_of_address_space_does_not_overflow() {
        let top = u64::MAX;
        assert_eq!(align_up(top), align_down(top));
        assert_eq!(pieces((top - 0x2fff, top), &[]), vec![(top - 0x2fff, top - 0xfff)]);
    }
}
