//! A notification: a word of signal bits that accumulate until someone takes them, the
//! threads waiting for bits, and the thread it is bound to (whose `Recv` on an endpoint it
//! can also answer).

use crate::sched::Tid;
use alloc::collections::VecDeque;

#[derive(Debug, Default)]
pub struct Notification {
    bits: u64,
    waiters: VecDeque<Tid>,
    pub bound: Option<Tid>,
}

impl Notification {
    pub const fn new() -> Self {
        Notification { bits: 0, waiters: VecDeque::new(), bound: None }
    }

    /// Sets `bits`. If a thread waits, it gets every pending bit and is returned to be
    /// woken; otherwise the bits stay pending.
    pub fn signal(&mut self, bits: u64) -> Option<(Tid, u64)> {
        self.bits |= bits;
        let tid = self.waiters.pop_front()?;
        Some((tid, self.take()))
    }

    /// The pending bits, or `None` after queueing `tid` to wait for some.
    pub fn wait(&mut self, tid: Tid) -> Option<u64> {
        if self.bits != 0 {
            return Some(self.take());
        }
        self.waiters.push_back(tid);
        None
    }

    /// Takes the pending bits (0 if none).
    pub fn take(&mut self) -> u64 {
        core::mem::take(&mut self.bits)
    }

    pub fn pending(&self) -> bool {
        self.bits != 0
    }

    pub fn remove(&mut self, tid: Tid) -> bool {
        super::remove(&mut self.waiters, tid)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Tid> + '_ {
        self.waiters.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_accumulate_until_taken() {
        let mut n = Notification::new();
        assert_eq!(n.signal(1), None);
        assert_eq!(n.signal(4), None);
        assert_eq!(n.wait(7), Some(5));
        assert_eq!(n.take(), 0);
    }

    #[test]
    fn a_waiter_gets_the_next_signal() {
        let mut n = Notification::new();
        assert_eq!(n.wait(7), None);
        assert_eq!(n.wait(8), None);
        assert_eq!(n.signal(2), Some((7, 2)));
        assert!(n.remove(8));
        assert_eq!(n.signal(1), None);
        assert!(n.pending());
    }
}
