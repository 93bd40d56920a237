//! Small numbers handed out to every thread of the process at once: one bit each in an array
//! of atomic words, set while the number is taken (capability slots, thread stack slots).

use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

/// Takes the lowest free number in `range` (each below `bits.len() * 64`).
pub(crate) fn take(bits: &[AtomicU64], range: Range<u64>) -> Option<u64> {
    range.into_iter().find(|&n| {
        let bit = 1 << (n % 64);
        bits[(n / 64) as usize].fetch_or(bit, Ordering::Relaxed) & bit == 0
    })
}

/// Gives a number from [`take`] back.
pub(crate) fn free(bits: &[AtomicU64], n: u64) {
    bits[(n / 64) as usize].fetch_and(!(1 << (n % 64)), Ordering::Relaxed);
}
