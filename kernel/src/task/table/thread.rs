//! Threads: what a thread is ([`Thread`], its [`State`], the [`Msg`] it carries while
//! blocked), how a blocked one is given its results in its trap frame, and the table of
//! them by id ([`Threads`]).

use super::Pid;
use crate::arch::frame::TrapFrame;
use crate::cap::{ObjId, SpaceId};
use crate::mem::stack::KernelStack;
use crate::object::Charge;
use crate::sched::Tid;
use alloc::boxed::Box;
use alloc::vec::Vec;
use ipc::msg::{MsgInfo, MSG_REGS};
use ipc::Error;

/// `Thread::reply_slot` of a receive that keeps the reply in the thread
/// (`ipc::syscall::REPLY_IN_THREAD`, which fits the field).
pub const KEEPS_REPLY: u32 = ipc::syscall::REPLY_IN_THREAD as u32;
const _: () = assert!(KEEPS_REPLY as u64 == ipc::syscall::REPLY_IN_THREAD);

/// A message in flight: what a blocked sender offers, or what a woken receiver gets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Msg {
    pub badge: u64,
    pub info: u64,
    pub words: [u64; MSG_REGS],
}

impl Msg {
    /// The message in a sender's system-call registers (info word in 1, already checked;
    /// words from 2): only the words its info word counts. The registers past them are zeros
    /// to the receiver, never what the sender happened to leave there.
    #[inline]
    pub fn from_regs(badge: u64, r: &[u64; ipc::syscall::ARG_REGS]) -> Msg {
        let sent = MsgInfo::word_count(r[1]);
        let word = |i: usize| if i < sent { r[2 + i] } else { 0 };
        Msg { badge, info: r[1], words: [word(0), word(1), word(2), word(3)] }
    }

    /// Puts the message in a receiver's argument registers, as its system call returns it.
    pub(super) fn write_to(&self, frame: &mut TrapFrame) {
        let [w0, w1, w2, w3] = self.words;
        frame.args = [self.badge, self.info, w0, w1, w2, w3];
    }
}

/// What a thread is doing, when it is not running or ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Running or in the run queue.
    Ready,
    /// Created, not started yet.
    New,
    /// Queued on an endpoint with a message; `call` waits for a reply after delivery.
    Sending {
        ep: ObjId,
        call: bool,
    },
    /// Queued on an endpoint for a message.
    Receiving {
        ep: ObjId,
    },
    /// Its call was received; waits for the answer through the reply object.
    AwaitingReply {
        reply: ObjId,
    },
    /// Its call was received by a thread that keeps the answer itself
    /// (`ipc::syscall::REPLY_IN_THREAD`): waits for that thread's answer.
    AwaitingThread {
        server: Tid,
    },
    /// Waiting for bits on a notification.
    Waiting {
        ntfn: ObjId,
    },
    Sleeping,
    /// Waiting for process `pid` to end.
    Joining {
        pid: Pid,
    },
    /// Stopped on a CPU exception, its fault message sent or queued (or stopped with a
    /// thread of its process that was); only a kill ends this.
    Faulted,
    /// Stopped by `ThreadSuspend` until `ThreadResume`; waits for nothing else.
    Suspended,
}

pub struct Thread {
    pub pid: Pid,
    /// Never reused, unlike the id: what a Thread capability checks the thread by.
    pub serial: u64,
    pub priority: u8,
    /// Its process's capability space and page-table root, kept here so the IPC paths find
    /// them without a lookup in the process table.
    pub cspace: SpaceId,
    pub root: u64,
    /// Whether its process may use I/O ports (its bitmap must be installed).
    pub io: bool,
    /// None for the idle thread, which runs on the boot stack.
    pub(super) kstack: Option<KernelStack>,
    /// The saved kernel stack pointer while the thread is off the CPU inside the kernel.
    pub(super) context: u64,
    /// Off the CPU with nothing of its own suspended in the kernel: it resumes straight from
    /// the trap frame at the top of its kernel stack, which wakers write its results into.
    /// A thread blocked in IPC is always so; one switched away inside the kernel (sleeping,
    /// preempted by an interrupt, new) resumes from `context` instead.
    pub(super) in_frame: bool,
    pub state: State,
    /// The message it offers while queued as a sender, or its fault message.
    pub msg: Msg,
    /// Physical address of the thread's IPC buffer page.
    pub ipc_buffer: u64,
    /// Its buffer's number in its process's buffer area (`ipc::layout::thread_ipc_buffer`).
    pub buffer_index: u64,
    /// That buffer's address, which user code finds through the FS base. The idle thread
    /// has the first buffer's too (it never runs user code), so every switch compares two
    /// real addresses and a switch between two first threads writes nothing.
    pub fs_base: u64,
    /// The notification bound to the thread (its `Recv` also takes signals).
    pub bound: Option<ObjId>,
    /// Where a `Recv` in progress puts the reply capability of a call, or
    /// [`KEEPS_REPLY`]: the thread keeps it.
    pub reply_slot: u32,
    /// The caller this thread owes an answer it keeps itself (`AwaitingThread` on it).
    pub caller: Option<Tid>,
    /// Stopped on a CPU exception: never returns to user mode; a wake-up that would resume
    /// it (its fault endpoint went away) ends its process instead.
    pub faulted: bool,
    /// What a long call it is in the midst of has done so far (`Next::Restart`).
    pub pending: Option<Pending>,
}

/// What a thread keeps between the slices of a long call.
pub enum Pending {
    /// A Frame its `Create` is making (`task::ops::create`).
    Frame(PendingFrame),
    /// A `Map` of `call`'s range (address, length, flags), `done` pages of it mapped and
    /// charged so far (`task::ops::map`). Given up, those pages stay mapped, as the process's.
    Map { call: [u64; 4], done: u64 },
}

/// A Frame a `Create` is making a slice at a time: the call's arguments (the same call,
/// made again, goes on with it; another gives it up), the pages zeroed so far, and the
/// charge, taken for all of it at the first slice (with a hold on the Memory object).
pub struct PendingFrame {
    pub call: [u64; 4],
    pub pages: Vec<u64>,
    pub charge: Charge,
}

impl Thread {
    /// The saved user registers of a thread that resumes from its frame; None for one that
    /// resumes inside the kernel (its registers are the business of its suspended code).
    pub(super) fn frame_mut(&mut self) -> Option<&mut TrapFrame> {
        if !self.in_frame {
            return None;
        }
        let stack = self.kstack.as_mut()?;
        // SAFETY: `in_frame` says the thread is off the CPU with nothing suspended on its
        // stack: the system call that blocked it returned, dropping its borrow of the frame,
        // before the CPU left it, and it is cleared before the thread runs again.
        Some(unsafe { stack.frame_mut() })
    }

    /// Whether the thread, off the CPU, resumes straight from its trap frame.
    pub fn resumes_from_frame(&self) -> bool {
        self.in_frame
    }

    /// Gives a blocked thread the message it receives (or the answer it waits for): badge,
    /// info and words in its argument registers, as its system call returns them.
    pub fn deliver(&mut self, msg: &Msg) {
        debug_assert!(self.in_frame, "a message for a thread that does not resume from its frame");
        if let Some(frame) = self.frame_mut() {
            msg.write_to(frame);
        }
    }

    /// Blocks the running thread, which leaves the kernel by its frame (see
    /// [`super::Tasks::leave_for`]), in `state`.
    #[inline]
    pub fn block_in_frame(&mut self, state: State) {
        self.state = state;
        self.in_frame = true;
    }

    /// Gives a thread blocked in `NtfnWait` the bits it waited for.
    pub fn deliver_bits(&mut self, bits: u64) {
        debug_assert!(self.in_frame, "bits for a thread that does not resume from its frame");
        if let Some(frame) = self.frame_mut() {
            frame.args[0] = bits;
        }
    }

    /// Sets the status the blocked system call returns with, for a thread resuming from its
    /// frame; the others (sleeping, joining, new) have no status to receive.
    pub fn set_status(&mut self, result: Result<(), Error>) {
        if let Some(frame) = self.frame_mut() {
            frame.rax = match result {
                Ok(()) => 0,
                Err(e) => e.code(),
            };
        }
    }

    /// A thread of process `pid` (0 for the idle thread), not yet ready.
    pub(super) fn new(
        pid: Pid,
        priority: u8,
        cspace: SpaceId,
        root: u64,
        kstack: Option<KernelStack>,
        context: u64,
    ) -> Thread {
        Thread {
            pid,
            serial: 0,
            priority,
            cspace,
            root,
            io: false,
            kstack,
            context,
            in_frame: false,
            state: State::New,
            msg: Msg::default(),
            ipc_buffer: 0,
            buffer_index: 0,
            fs_base: ipc::layout::thread_ipc_buffer(0),
            bound: None,
            reply_slot: 0,
            caller: None,
            faulted: false,
            pending: None,
        }
    }
}

/// Threads by id: a vector indexed by thread id, ids reused once freed, so finding a thread
/// costs the same however many there are. Id 0 is the idle thread's.
pub struct Threads {
    slots: Vec<Option<Box<Thread>>>,
    free: Vec<Tid>,
    len: usize,
}

impl Threads {
    pub(super) const fn new() -> Self {
        Threads { slots: Vec::new(), free: Vec::new(), len: 0 }
    }

    /// Enters a new thread; returns its id (never 0, which is kept for the idle thread).
    pub(super) fn insert(&mut self, thread: Box<Thread>) -> Tid {
        let tid = self.free.pop().unwrap_or_else(|| self.slots.len().max(1) as Tid);
        self.put(tid, thread);
        tid
    }

    pub(super) fn put(&mut self, tid: Tid, thread: Box<Thread>) {
        let i = tid as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        debug_assert!(self.slots[i].is_none());
        self.slots[i] = Some(thread);
        self.len += 1;
    }

    pub fn remove(&mut self, tid: &Tid) -> Option<Box<Thread>> {
        let thread = self.slots.get_mut(*tid as usize)?.take()?;
        self.len -= 1;
        self.free.push(*tid);
        Some(thread)
    }

    pub fn get(&self, tid: &Tid) -> Option<&Thread> {
        self.slots.get(*tid as usize)?.as_deref()
    }

    pub fn get_mut(&mut self, tid: &Tid) -> Option<&mut Thread> {
        self.slots.get_mut(*tid as usize)?.as_deref_mut()
    }

    /// Two distinct threads at once, both changeable; None if either is not a thread or they
    /// are the same.
    #[inline]
    pub fn pair_mut(&mut self, a: Tid, b: Tid) -> Option<[&mut Thread; 2]> {
        let [a, b] = self.slots.get_disjoint_mut([a as usize, b as usize]).ok()?;
        Some([a.as_deref_mut()?, b.as_deref_mut()?])
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

impl core::ops::Index<&Tid> for Threads {
    type Output = Thread;

    fn index(&self, tid: &Tid) -> &Thread {
        self.get(tid).expect("thread id of no thread")
    }
}
