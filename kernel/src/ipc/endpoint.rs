//! An endpoint's state: nobody waiting, senders waiting for a receiver, or receivers waiting
//! for a sender, each in arrival order. Never senders and receivers at once: a sender that
//! finds a receiver hands its message over instead of queueing, and vice versa.

use crate::sched::Tid;
use alloc::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Senders,
    Receivers,
}

/// The waiting threads of one role, in arrival order. The first is held apart from the rest:
/// one waiter is the common case (a server's thread receiving), and taking or queueing it is
/// then a load and a store, with no ring buffer to index.
#[derive(Debug)]
struct Queue {
    first: Option<Tid>,
    rest: VecDeque<Tid>,
}

impl Queue {
    const fn new() -> Self {
        Queue { first: None, rest: VecDeque::new() }
    }

    #[inline]
    fn front(&self) -> Option<Tid> {
        self.first
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    #[inline]
    fn push(&mut self, tid: Tid) {
        match self.first {
            None => self.first = Some(tid),
            Some(_) => self.rest.push_back(tid),
        }
    }

    /// Puts `tid` ahead of every waiter: the undoing of a [`Queue::pop`], which left room for
    /// it (the one moved up from the ring goes back there).
    fn push_front(&mut self, tid: Tid) {
        if let Some(first) = self.first.replace(tid) {
            self.rest.push_front(first);
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<Tid> {
        let first = self.first?;
        // Checked here so that the common case, nobody behind, never calls into the ring.
        self.first = if self.rest.is_empty() { None } else { self.rest.pop_front() };
        Some(first)
    }

    fn remove(&mut self, tid: Tid) -> bool {
        if self.first == Some(tid) {
            self.pop();
            return true;
        }
        super::remove(&mut self.rest, tid)
    }

    /// Every waiter, taken off the queue in order.
    fn drain(&mut self) -> impl Iterator<Item = Tid> + '_ {
        self.first.take().into_iter().chain(self.rest.drain(..))
    }
}

#[derive(Debug)]
pub struct Endpoint {
    waiting: Queue,
    role: Role,
}

impl Default for Endpoint {
    fn default() -> Self {
        Self::new()
    }
}

impl Endpoint {
    pub const fn new() -> Self {
        Endpoint { waiting: Queue::new(), role: Role::Receivers }
    }

    /// The receiver that has waited longest, taken off the queue.
    #[inline]
    pub fn take_receiver(&mut self) -> Option<Tid> {
        self.take(Role::Receivers)
    }

    /// Puts back a receiver just taken (by [`Endpoint::take_receiver`]) at the head of the
    /// queue, as it was. Needs no memory: the taking left room for it.
    pub fn put_back_receiver(&mut self, tid: Tid) {
        debug_assert!(self.role == Role::Receivers || self.waiting.is_empty());
        self.role = Role::Receivers;
        self.waiting.push_front(tid);
    }

    /// The sender that has waited longest, taken off the queue.
    #[inline]
    pub fn take_sender(&mut self) -> Option<Tid> {
        self.take(Role::Senders)
    }

    /// The receiver that has waited longest, left in the queue.
    #[inline]
    pub fn peek_receiver(&self) -> Option<Tid> {
        if self.role == Role::Receivers {
            self.waiting.front()
        } else {
            None
        }
    }

    /// Whether a sender is waiting (a receive would not block).
    #[inline]
    pub fn has_sender(&self) -> bool {
        self.role == Role::Senders && !self.waiting.is_empty()
    }

    #[cfg(test)]
    /// Whether a receiver is waiting (a send would not block).
    pub fn has_receiver(&self) -> bool {
        self.role == Role::Receivers && !self.waiting.is_empty()
    }

    /// Queues a sender; only when no receiver waits.
    pub fn queue_sender(&mut self, tid: Tid) {
        self.queue(Role::Senders, tid);
    }

    /// Queues a receiver; only when no sender waits.
    #[inline]
    pub fn queue_receiver(&mut self, tid: Tid) {
        self.queue(Role::Receivers, tid);
    }

    /// Takes a thread out of the queue (it was killed, or its wait was cut short).
    pub fn remove(&mut self, tid: Tid) -> bool {
        self.waiting.remove(tid)
    }

    /// Every waiting thread, emptying the queue (the endpoint is going away).
    pub fn drain(&mut self) -> impl Iterator<Item = Tid> + '_ {
        self.waiting.drain()
    }

    /// Every waiting sender, emptying the queue; nothing if receivers wait (nobody is left
    /// who could receive what the senders wait to give).
    pub fn drain_senders(&mut self) -> impl Iterator<Item = Tid> + '_ {
        let senders = if self.role == Role::Senders { Some(self.waiting.drain()) } else { None };
        senders.into_iter().flatten()
    }

    #[inline]
    fn take(&mut self, role: Role) -> Option<Tid> {
        if self.role != role {
            return None;
        }
        self.waiting.pop()
    }

    #[inline]
    fn queue(&mut self, role: Role, tid: Tid) {
        debug_assert!(self.role == role || self.waiting.is_empty(), "senders and receivers queued at once");
        self.role = role;
        self.waiting.push(tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_and_receivers_meet_in_order() {
        let mut ep = Endpoint::new();
        assert_eq!(ep.take_receiver(), None);
        ep.queue_sender(1);
        ep.queue_sender(2);
        assert_eq!(ep.take_receiver(), None, "senders waiting, not receivers");
        assert!(ep.has_sender());
        assert_eq!(ep.peek_receiver(), None);
        assert!(!ep.has_receiver());
        assert_eq!(ep.take_sender(), Some(1));
        assert_eq!(ep.take_sender(), Some(2));
        ep.queue_receiver(3);
        assert!(ep.has_receiver());
        assert_eq!(ep.peek_receiver(), Some(3));
        assert_eq!(ep.take_sender(), None);
        assert_eq!(ep.take_receiver(), Some(3));
    }

    #[test]
    fn remove_and_drain() {
        let mut ep = Endpoint::new();
        for t in 1..=4 {
            ep.queue_receiver(t);
        }
        assert!(ep.remove(2));
        assert!(!ep.remove(2));
        assert_eq!(ep.drain().collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(ep.take_receiver(), None);
    }

    #[test]
    fn the_first_waiter_leaves_and_the_next_moves_up() {
        let mut ep = Endpoint::new();
        for t in 1..=3 {
            ep.queue_receiver(t);
        }
        assert!(ep.remove(1), "the first waiter, held apart from the rest");
        assert_eq!(ep.peek_receiver(), Some(2));
        assert_eq!(ep.take_receiver(), Some(2));
        ep.queue_receiver(4);
        assert_eq!(ep.take_receiver(), Some(3));
        assert_eq!(ep.take_receiver(), Some(4));
        assert!(!ep.has_receiver());
        assert!(!ep.remove(4));
        ep.queue_sender(5);
        assert!(ep.has_sender(), "an empty queue takes the other role");
    }

    #[test]
    fn a_receiver_put_back_is_first_again() {
        let mut ep = Endpoint::new();
        ep.queue_receiver(1);
        assert_eq!(ep.take_receiver(), Some(1));
        ep.put_back_receiver(1);
        assert_eq!(ep.peek_receiver(), Some(1), "alone");
        for t in 2..=3 {
            ep.queue_receiver(t);
        }
        assert_eq!(ep.take_receiver(), Some(1));
        ep.put_back_receiver(1);
        assert_eq!(ep.drain().collect::<Vec<_>>(), vec![1, 2, 3], "ahead of the others, in their order");
    }

    #[test]
    fn draining_senders_leaves_receivers() {
        let mut ep = Endpoint::new();
        ep.queue_receiver(1);
        assert_eq!(ep.drain_senders().count(), 0);
        assert_eq!(ep.take_receiver(), Some(1));
        ep.queue_sender(2);
        ep.queue_sender(3);
        assert_eq!(ep.drain_senders().collect::<Vec<_>>(), vec![2, 3]);
        assert!(!ep.has_sender());
    }
}
