//! The run queue: one FIFO per priority and a bitmap of the non-empty ones, so finding the
//! highest-priority ready thread is a few `leading_zeros`, whatever the number of threads.

use alloc::collections::VecDeque;

/// Priorities are 0 (lowest) to 255 (highest).
pub const PRIORITIES: usize = 256;
const WORDS: usize = PRIORITIES / 64;

/// A thread id, as the scheduler sees it.
pub type Tid = u64;

pub struct RunQueue {
    /// Bit `p % 64` of word `p / 64` is set while `queues[p]` is non-empty.
    bitmap: [u64; WORDS],
    queues: [VecDeque<Tid>; PRIORITIES],
    len: usize,
}

impl Default for RunQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl RunQueue {
    pub const fn new() -> Self {
        RunQueue { bitmap: [0; WORDS], queues: [const { VecDeque::new() }; PRIORITIES], len: 0 }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The highest priority with a ready thread.
    pub fn highest(&self) -> Option<u8> {
        let w = (0..WORDS).rev().find(|&w| self.bitmap[w] != 0)?;
        Some((w * 64 + 63 - self.bitmap[w].leading_zeros() as usize) as u8)
    }

    /// Queues `tid` behind the others of its priority.
    pub fn push_back(&mut self, prio: u8, tid: Tid) {
        self.queues[prio as usize].push_back(tid);
        self.mark(prio);
    }

    /// Queues `tid` ahead of the others of its priority (it was preempted mid-slice).
    pub fn push_front(&mut self, prio: u8, tid: Tid) {
        self.queues[prio as usize].push_front(tid);
        self.mark(prio);
    }

    /// Takes the first thread of the highest non-empty priority.
    pub fn pop_highest(&mut self) -> Option<(u8, Tid)> {
        let prio = self.highest()?;
        let queue = &mut self.queues[prio as usize];
        let tid = queue.pop_front().expect("bitmap bit set for an empty queue");
        if queue.is_empty() {
            self.bitmap[prio as usize / 64] &= !(1 << (prio % 64));
        }
        self.len -= 1;
        Some((prio, tid))
    }

    /// Takes `tid` out wherever it is in its priority's queue; false if it is not queued.
    pub fn remove(&mut self, prio: u8, tid: Tid) -> bool {
        let queue = &mut self.queues[prio as usize];
        let Some(i) = queue.iter().position(|&t| t == tid) else { return false };
        queue.remove(i);
        if queue.is_empty() {
            self.bitmap[prio as usize / 64] &= !(1 << (prio % 64));
        }
        self.len -= 1;
        true
    }

    fn mark(&mut self, prio: u8) {
        self.bitmap[prio as usize / 64] |= 1 << (prio % 64);
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_priority_first_fifo_within() {
        let mut q = RunQueue::new();
        q.push_back(10, 1);
        q.push_back(200, 2);
        q.push_back(10, 3);
        q.push_back(200, 4);
        q.push_back(0, 5);
        q.push_back(255, 6);
        assert_eq!(q.len(), 6);
        let order: Vec<_> = core::iter::from_fn(|| q.pop_highest()).collect();
        assert_eq!(order, [(255, 6), (200, 2), (200, 4), (10, 1), (10, 3), (0, 5)]);
        assert!(q.is_empty());
        assert_eq!(q.highest(), None);
    }

    #[test]
    fn push_front_goes_ahead_of_its_priority_only() {
        let mut q = RunQueue::new();
        q.push_back(5, 1);
        q.push_back(5, 2);
        q.push_front(5, 3);
        q.push_back(6, 4);
        assert_eq!(q.pop_highest(), Some((6, 4)));
        assert_eq!(q.pop_highest(), Some((5, 3)));
        assert_eq!(q.pop_highest(), Some((5, 1)));
    }

    #[test]
    fn bitmap_follows_every_priority_boundary() {
        let mut q = RunQueue::new();
        for p in [0u8, 63, 64, 127, 128, 191, 192, 255] {
            q.push_back(p, p as Tid);
            assert_eq!(q.highest(), Some(p));
            assert_eq!(q.pop_highest(), Some((p, p as Tid)));
            assert_eq!(q.highest(), None);
        }
    }

    #[test]
    fn remove_clears_the_bit_of_an_emptied_queue() {
        let mut q = RunQueue::new();
        q.push_back(100, 1);
        q.push_back(100, 2);
        q.push_back(3, 9);
        assert!(q.remove(100, 1));
        assert!(!q.remove(100, 1));
        assert!(!q.remove(3, 1));
        assert_eq!(q.highest(), Some(100));
        assert!(q.remove(100, 2));
        assert_eq!(q.highest(), Some(3));
        assert_eq!(q.len(), 1);
    }
}
