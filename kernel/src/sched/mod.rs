//! The scheduler's policy: fixed priorities, round robin with time slices inside a priority,
//! preemption when a higher priority becomes ready. Pure bookkeeping over thread ids, tested
//! on the host; `task` owns the threads and does the actual switching.
//!
//! "Current" is the thread on the CPU; it is not in the run queue. No current thread means
//! the idle thread runs, below every priority.

pub mod runqueue;
pub mod sleep;

pub use runqueue::{RunQueue, Tid};

/// Timer ticks a thread may run before others of its priority get their turn (20 ms).
pub const TIME_SLICE_TICKS: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Running {
    tid: Tid,
    prio: u8,
    /// Ticks left in its slice.
    left: u32,
}

pub struct Scheduler {
    queue: RunQueue,
    current: Option<Running>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    pub const fn new() -> Self {
        Scheduler { queue: RunQueue::new(), current: None }
    }

    #[cfg(test)]
    /// The running thread; `None` while the idle thread runs.
    pub fn current(&self) -> Option<Tid> {
        self.current.map(|r| r.tid)
    }

    pub fn has_ready(&self) -> bool {
        !self.queue.is_empty()
    }

    /// A thread became ready. Returns whether it outranks the running thread, in which case
    /// the caller should switch now (see [`Scheduler::preempt`]).
    pub fn ready(&mut self, tid: Tid, prio: u8) -> bool {
        self.queue.push_back(prio, tid);
        self.current.is_none_or(|r| prio > r.prio)
    }

    /// Charges a timer tick to the running thread. Returns whether it should give way: a
    /// higher priority waits, or its slice is used up and another of its priority waits.
    pub fn tick(&mut self) -> bool {
        let Some(run) = self.current.as_mut() else {
            return self.has_ready();
        };
        run.left = run.left.saturating_sub(1);
        match self.queue.highest() {
            Some(p) if p > run.prio => true,
            Some(p) if p == run.prio => run.left == 0,
            _ => {
                // Alone at its level: a new slice, so it does not give way the moment a peer
                // arrives just because it has run long.
                if run.left == 0 {
                    run.left = TIME_SLICE_TICKS;
                }
                false
            }
        }
    }

    /// The running thread is taken off the CPU but stays ready: behind its peers when its
    /// slice is used up, ahead of them (to finish its slice) when it was merely outranked.
    /// Returns the thread to run next.
    pub fn preempt(&mut self) -> Option<Tid> {
        if let Some(run) = self.current.take() {
            if run.left == 0 {
                self.queue.push_back(run.prio, run.tid);
            } else {
                self.queue.push_front(run.prio, run.tid);
            }
        }
        self.pick()
    }

    /// The running thread gives up the rest of its slice to its peers.
    pub fn yield_now(&mut self) -> Option<Tid> {
        if let Some(run) = self.current.take() {
            self.queue.push_back(run.prio, run.tid);
        }
        self.pick()
    }

    /// The running thread blocks (or ends): it is not queued again until [`Scheduler::ready`].
    pub fn block(&mut self) -> Option<Tid> {
        self.current = None;
        self.pick()
    }

    /// The running thread blocks and hands the CPU straight to `tid` (priority `prio`), which
    /// was blocked too: the IPC path's direct switch, which leaves the run queue alone. The
    /// rest of the slice goes with it.
    #[inline]
    pub fn handoff(&mut self, tid: Tid, prio: u8) {
        match &mut self.current {
            Some(run) => {
                run.tid = tid;
                run.prio = prio;
                run.left = run.left.max(1);
            }
            None => self.current = Some(Running { tid, prio, left: TIME_SLICE_TICKS }),
        }
    }

    /// Whether a ready thread outranks priority `prio`.
    pub fn outranked(&self, prio: u8) -> bool {
        self.queue.highest().is_some_and(|p| p > prio)
    }

    /// The running thread's priority changed (`ThreadPriority`). Returns whether a ready
    /// thread now outranks it, in which case the caller should switch.
    pub fn set_current_priority(&mut self, prio: u8) -> bool {
        if let Some(run) = self.current.as_mut() {
            run.prio = prio;
        }
        self.outranked(prio)
    }

    /// Takes a ready thread out of the queue (it died, or was suspended, before it ran again).
    pub fn forget(&mut self, tid: Tid, prio: u8) {
        self.queue.remove(prio, tid);
    }

    fn pick(&mut self) -> Option<Tid> {
        debug_assert!(self.current.is_none());
        let (prio, tid) = self.queue.pop_highest()?;
        self.current = Some(Running { tid, prio, left: TIME_SLICE_TICKS });
        Some(tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `ticks` timer ticks, switching when the scheduler says so; returns who ran each tick.
    fn run(s: &mut Scheduler, ticks: usize) -> Vec<Option<Tid>> {
        (0..ticks)
            .map(|_| {
                let ran = s.current();
                if s.tick() {
                    s.preempt();
                }
                ran
            })
            .collect()
    }

    #[test]
    fn equal_priorities_take_turns_by_slices() {
        let mut s = Scheduler::new();
        s.ready(1, 50);
        s.ready(2, 50);
        assert_eq!(s.block(), Some(1));
        let ran = run(&mut s, 8);
        let t = TIME_SLICE_TICKS as usize;
        assert_eq!(&ran[..t], vec![Some(1); t].as_slice());
        assert_eq!(&ran[t..2 * t], vec![Some(2); t].as_slice());
        assert_eq!(&ran[2 * t..3 * t], vec![Some(1); t].as_slice());
    }

    #[test]
    fn higher_priority_runs_first_and_lower_waits() {
        let mut s = Scheduler::new();
        s.ready(1, 10);
        s.ready(2, 200);
        s.ready(3, 100);
        assert_eq!(s.block(), Some(2));
        assert!(run(&mut s, 10).iter().all(|&r| r == Some(2)), "a lone top thread is never preempted by lower ones");
        assert_eq!(s.block(), Some(3));
        assert_eq!(s.block(), Some(1));
        assert_eq!(s.block(), None);
    }

    #[test]
    fn waking_a_higher_priority_preempts_and_the_preempted_resumes_first() {
        let mut s = Scheduler::new();
        s.ready(1, 10);
        s.ready(2, 10);
        assert_eq!(s.block(), Some(1));
        assert!(s.ready(3, 20), "higher priority outranks the running thread");
        assert_eq!(s.preempt(), Some(3));
        assert!(!s.ready(4, 20), "an equal priority does not");
        assert_eq!(s.block(), Some(4));
        assert_eq!(s.block(), Some(1), "the preempted thread goes ahead of its peer");
    }

    #[test]
    fn yield_rotates_among_peers_and_returns_to_a_lone_thread() {
        let mut s = Scheduler::new();
        s.ready(1, 7);
        assert_eq!(s.block(), Some(1));
        assert_eq!(s.yield_now(), Some(1));
        s.ready(2, 7);
        assert_eq!(s.yield_now(), Some(2));
        assert_eq!(s.yield_now(), Some(1));
    }

    #[test]
    fn handoff_skips_the_queue_and_keeps_the_slice() {
        let mut s = Scheduler::new();
        s.ready(1, 10);
        s.ready(2, 10);
        assert_eq!(s.block(), Some(1));
        s.tick();
        s.handoff(3, 10);
        assert_eq!(s.current(), Some(3));
        assert!(s.tick(), "the donated slice ran out: a peer waits");
        assert_eq!(s.preempt(), Some(2));
        assert!(!s.outranked(10));
        s.ready(4, 11);
        assert!(s.outranked(10));
    }

    #[test]
    fn lowering_the_running_priority_gives_way_to_a_thread_now_above_it() {
        let mut s = Scheduler::new();
        s.ready(1, 20);
        s.ready(2, 15);
        assert_eq!(s.block(), Some(1));
        assert!(!s.set_current_priority(16), "still above the ready one");
        assert!(s.set_current_priority(10), "now below it");
        assert_eq!(s.preempt(), Some(2));
        assert_eq!(s.block(), Some(1), "queued again at its new priority");
        assert!(!s.tick(), "alone, it keeps running");
    }

    #[test]
    fn idle_gives_way_to_any_ready_thread() {
        let mut s = Scheduler::new();
        assert!(!s.tick());
        assert!(s.ready(5, 0), "even priority 0 outranks idle");
        assert!(s.tick());
        assert_eq!(s.preempt(), Some(5));
        s.forget(5, 0);
        assert_eq!(s.block(), None);
    }
}
