//! What waits for a tick: sleeping threads, and processes' timers, ordered by the tick at
//! which they are due.

use alloc::collections::BTreeSet;

pub struct Sleepers<T> {
    /// (due tick, who): the first element is the next due.
    by_deadline: BTreeSet<(u64, T)>,
}

impl<T: Ord + Copy> Default for Sleepers<T> {
    fn default() -> Self {
        Sleepers::new()
    }
}

impl<T: Ord + Copy> Sleepers<T> {
    pub const fn new() -> Self {
        Sleepers { by_deadline: BTreeSet::new() }
    }

    pub fn add(&mut self, tid: T, wake_at: u64) {
        self.by_deadline.insert((wake_at, tid));
    }

    /// The next one whose deadline is at or before `now`, taken out.
    pub fn pop_due(&mut self, now: u64) -> Option<T> {
        let &(wake_at, tid) = self.by_deadline.first()?;
        if wake_at > now {
            return None;
        }
        self.by_deadline.pop_first();
        Some(tid)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_deadline.is_empty()
    }

    /// Takes one out (a killed thread, a disarmed timer).
    pub fn remove(&mut self, tid: T) -> bool {
        let before = self.by_deadline.len();
        self.by_deadline.retain(|&(_, t)| t != tid);
        before != self.by_deadline.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_in_deadline_order_and_not_early() {
        let mut s = Sleepers::<u64>::new();
        s.add(1, 30);
        s.add(2, 10);
        s.add(3, 20);
        s.add(4, 10);
        assert_eq!(s.pop_due(9), None);
        assert_eq!(s.pop_due(10), Some(2));
        assert_eq!(s.pop_due(10), Some(4));
        assert_eq!(s.pop_due(10), None);
        assert_eq!(s.pop_due(100), Some(3));
        assert_eq!(s.pop_due(100), Some(1));
        assert!(s.is_empty());
    }
}
