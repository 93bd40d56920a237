//! The thread and process table, the kernel's objects, and the switching that puts the
//! scheduler's decisions into effect. Everything here runs with interrupts off, under the one
//! lock of [`Tasks`].

use crate::arch::exception;
use crate::arch::frame::TrapFrame;
use crate::arch::{qemu, switch, syscall};
use crate::cap::{At, Caps, ObjId, SpaceId, FAULT_SLOT};
use crate::mem::paging;
use crate::mem::space::AddressSpace;
use crate::mem::stack::{self, KernelStack};
use crate::object::{Charge, Object};
use crate::sched::sleep::Sleepers;
use crate::sched::{Scheduler, Tid};
use crate::{info, mem, time, warn};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::boot::ALL_ENDED_LINE;
use ipc::cap::{Kind, Rights, SELF};
use ipc::msg::{MsgInfo, LABEL_FAULT, MSG_REGS};
use ipc::qemu::ExitCode;
use ipc::syscall::ExitStatus;
use ipc::Error;
use spin::Mutex;
use x86_64::instructions::interrupts;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;
use x86_64::PhysAddr;

pub type Pid = u64;

/// The idle thread: the boot thread once it has started the first process. It belongs to no
/// process, runs below every priority, and halts the CPU.
pub(super) const IDLE: Tid = 0;

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
    fn write_to(&self, frame: &mut TrapFrame) {
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
    /// Waiting for bits on a notification.
    Waiting {
        ntfn: ObjId,
    },
    Sleeping,
    /// Waiting for process `pid` to end.
    Joining {
        pid: Pid,
    },
    /// Stopped on a CPU exception, its fault message sent or queued; only a kill ends this.
    Faulted,
}

pub struct Thread {
    pub pid: Pid,
    pub priority: u8,
    /// Its process's capability space and page-table root, kept here so the IPC paths find
    /// them without a lookup in the process table.
    pub cspace: SpaceId,
    pub root: u64,
    /// Whether its process may use I/O ports (its bitmap must be installed).
    pub io: bool,
    /// None for the idle thread, which runs on the boot stack.
    kstack: Option<KernelStack>,
    /// The saved kernel stack pointer while the thread is off the CPU inside the kernel.
    context: u64,
    /// Off the CPU with nothing of its own suspended in the kernel: it resumes straight from
    /// the trap frame at the top of its kernel stack, which wakers write its results into.
    /// A thread blocked in IPC is always so; one switched away inside the kernel (sleeping,
    /// preempted by an interrupt, new) resumes from `context` instead.
    in_frame: bool,
    pub state: State,
    /// The message it offers while queued as a sender, or its fault message.
    pub msg: Msg,
    /// Physical address of the thread's IPC buffer page.
    pub ipc_buffer: u64,
    /// The notification bound to the thread (its `Recv` also takes signals).
    pub bound: Option<ObjId>,
    /// Where a `Recv` in progress puts the reply capability of a call.
    pub reply_slot: u32,
    /// Stopped on a CPU exception: never returns to user mode; a wake-up that would resume
    /// it (its fault endpoint went away) ends its process instead.
    pub faulted: bool,
}

impl Thread {
    /// The saved user registers of a thread that resumes from its frame; None for one that
    /// resumes inside the kernel (its registers are the business of its suspended code).
    fn frame_mut(&mut self) -> Option<&mut TrapFrame> {
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

    /// Makes a thread blocked in IPC ready to run next with `msg` (its system call succeeds),
    /// without queueing it: [`Thread::deliver`] and a handoff's readying in one.
    #[inline]
    pub fn deliver_and_ready(&mut self, msg: &Msg) {
        if let Some(frame) = self.frame_mut() {
            msg.write_to(frame);
            frame.rax = 0;
        }
        self.state = State::Ready;
    }

    /// Blocks the running thread, which leaves the kernel by its frame (see
    /// [`Tasks::leave_for`]), in `state`.
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
    fn set_status(&mut self, result: Result<(), Error>) {
        if let Some(frame) = self.frame_mut() {
            frame.rax = match result {
                Ok(()) => 0,
                Err(e) => e.code(),
            };
        }
    }

    /// How the process of a faulted thread ends: its fault message's first word is the vector.
    fn fault_status(&self) -> ExitStatus {
        ExitStatus::Faulted(self.msg.words[0] as u8)
    }

    /// A thread of process `pid` (0 for the idle thread), not yet ready.
    fn new(pid: Pid, priority: u8, cspace: SpaceId, root: u64, kstack: Option<KernelStack>, context: u64) -> Thread {
        Thread {
            pid,
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
            bound: None,
            reply_slot: 0,
            faulted: false,
        }
    }
}

/// A Frame mapped in a process: where, and how many of its pages are still mapped there.
pub struct FrameMapping {
    pub frame: ObjId,
    pub start: u64,
    pub mapped: u64,
}

pub struct Process {
    pub name: String,
    /// Its thread, once started (and until it ends).
    pub thread: Option<Tid>,
    /// Taken when the process ends; freed once its thread is off the CPU.
    pub space: Option<AddressSpace>,
    pub cspace: SpaceId,
    /// The quota its pages are charged to (a reference is held), and how much it charged.
    pub memory: Option<ObjId>,
    pub charged: u64,
    /// Shared Frames it has mapped: each mapping holds a reference to its Frame until its
    /// last page is unmapped or the process ends.
    pub frames: Vec<FrameMapping>,
    pub priority: u8,
    /// Set when the process has ended.
    pub status: Option<ExitStatus>,
    /// Threads waiting for it to end.
    pub joiners: Vec<Tid>,
    /// Whether a Process object (a handle) names it; an ended process without one is removed.
    pub handle: bool,
    pub ipc_buffer: u64,
    /// Where its program starts (from the ELF header, read at creation).
    pub entry: u64,
    /// The notification (held) and badge its end signals.
    pub exit_signal: Option<(ObjId, u64)>,
    /// The notification (and badge) its armed timer signals (`TimerSet`).
    pub timer: Option<(ObjId, u64)>,
    /// The I/O ports it may use, as a TSS I/O permission bitmap.
    pub io_bitmap: Option<Box<crate::arch::gdt::IoBitmap>>,
}

/// What the thread that just left the CPU for good leaves behind for the next one to free.
struct Remains {
    tid: Tid,
    space: Option<AddressSpace>,
}

/// Threads by id: a vector indexed by thread id, ids reused once freed, so finding a thread
/// costs the same however many there are. Id 0 is the idle thread's.
pub struct Threads {
    slots: Vec<Option<Box<Thread>>>,
    free: Vec<Tid>,
    len: usize,
}

impl Threads {
    const fn new() -> Self {
        Threads { slots: Vec::new(), free: Vec::new(), len: 0 }
    }

    /// Enters a new thread; returns its id (never 0, which is kept for the idle thread).
    fn insert(&mut self, thread: Box<Thread>) -> Tid {
        let tid = self.free.pop().unwrap_or_else(|| self.slots.len().max(1) as Tid);
        self.put(tid, thread);
        tid
    }

    fn put(&mut self, tid: Tid, thread: Box<Thread>) {
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

    pub fn contains_key(&self, tid: &Tid) -> bool {
        self.get(tid).is_some()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::ops::Index<&Tid> for Threads {
    type Output = Thread;

    fn index(&self, tid: &Tid) -> &Thread {
        self.get(tid).expect("thread id of no thread")
    }
}

pub struct Tasks {
    pub sched: Scheduler,
    sleepers: Sleepers<Tid>,
    /// The processes whose timer is armed (`TimerSet`), by deadline.
    pub timers: Sleepers<Pid>,
    pub threads: Threads,
    pub processes: BTreeMap<Pid, Process>,
    pub caps: Caps<Object>,
    pub running: Tid,
    next_id: u64,
    remains: Option<Remains>,
    started: bool,
    /// Processes to end once the current disposal is done, and how: faulted ones whose
    /// fault endpoint went away, created ones whose last handle went before they started.
    ending: Vec<(Pid, ExitStatus)>,
    /// For each legacy interrupt line, the notification (and badge) bound to it.
    pub irq_bound: [Option<(ObjId, u64)>; 16],
}

/// Whether `Tasks::remains` holds something: every switch checks, most find nothing.
static HAS_REMAINS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Set by a wake-up that outranks the running thread: switch before returning to user. Kept
/// outside the lock so that a system call's exit reads it with one load.
static PREEMPT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether a wake-up since the last switch outranked the running thread.
pub fn preempt_pending() -> bool {
    PREEMPT.load(core::sync::atomic::Ordering::Relaxed)
}

fn take_preempt() -> bool {
    PREEMPT.swap(false, core::sync::atomic::Ordering::Relaxed)
}

static TASKS: Mutex<Tasks> = Mutex::new(Tasks {
    sched: Scheduler::new(),
    sleepers: Sleepers::new(),
    timers: Sleepers::new(),
    threads: Threads::new(),
    processes: BTreeMap::new(),
    caps: Caps::new(),
    running: IDLE,
    next_id: 1,
    remains: None,
    started: false,
    ending: Vec::new(),
    irq_bound: [None; 16],
});

pub fn with<R>(f: impl FnOnce(&mut Tasks) -> R) -> R {
    interrupts::without_interrupts(|| f(&mut TASKS.lock()))
}

/// As [`with`], on a path where interrupts are known to be off already (a system call's:
/// `syscall` clears IF), so there is no flag to save and restore.
#[inline(always)]
pub fn with_entry<R>(f: impl FnOnce(&mut Tasks) -> R) -> R {
    debug_assert!(!interrupts::are_enabled(), "with_entry with interrupts on");
    f(&mut TASKS.lock())
}

impl Tasks {
    pub fn current(&self) -> &Thread {
        &self.threads[&self.running]
    }

    pub fn current_mut(&mut self) -> &mut Thread {
        self.threads.get_mut(&self.running).expect("running thread not in the table")
    }

    pub fn thread(&mut self, tid: Tid) -> &mut Thread {
        self.threads.get_mut(&tid).expect("thread id of no thread")
    }

    pub fn current_process(&mut self) -> &mut Process {
        let pid = self.current().pid;
        self.processes.get_mut(&pid).expect("running thread without a process")
    }

    /// The running process's capability space.
    pub fn cspace(&self) -> SpaceId {
        self.current().cspace
    }

    /// A slot the running process named.
    pub fn slot(&self, slot: u64) -> Result<At, Error> {
        At::user(self.cspace(), slot)
    }

    /// The process whose capability space a "target" argument names: the caller (SELF) or
    /// the process of a Process capability with the write right, which must not have ended.
    pub fn target(&self, target: u64) -> Result<Pid, Error> {
        if target == SELF {
            return Ok(self.current().pid);
        }
        let cap = self.caps.lookup(self.slot(target)?, Kind::Process, Rights::WRITE)?;
        let Object::Process(pid) = *self.caps.object(cap.obj) else { unreachable!("kind checked") };
        match self.processes.get(&pid) {
            Some(p) if p.status.is_none() => Ok(pid),
            _ => Err(Error::ObjectGone),
        }
    }

    /// Makes a blocked thread ready with `result`; notes whether it outranks the running one.
    pub fn wake(&mut self, tid: Tid, result: Result<(), Error>) {
        let thread = self.thread(tid);
        if thread.faulted {
            thread.state = State::Faulted;
            let end = (thread.pid, thread.fault_status());
            self.ending.push(end);
            return;
        }
        thread.state = State::Ready;
        thread.set_status(result);
        let prio = thread.priority;
        if self.sched.ready(tid, prio) {
            PREEMPT.store(true, core::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Charges `bytes` to a Memory object's quota.
    pub fn charge(&mut self, memory: ObjId, bytes: u64) -> Result<(), Error> {
        let Object::Memory { limit, used, .. } = self.caps.object_mut(memory) else { unreachable!("not a memory") };
        match used.checked_add(bytes) {
            Some(total) if total <= *limit => {
                *used = total;
                Ok(())
            }
            _ => Err(Error::OutOfMemory),
        }
    }

    pub fn credit(&mut self, memory: ObjId, bytes: u64) {
        let Object::Memory { used, .. } = self.caps.object_mut(memory) else { unreachable!("not a memory") };
        *used -= bytes;
    }

    /// Charges the running process's quota for `pages` pages it maps itself.
    pub fn charge_pages(&mut self, pages: u64) -> Result<(), Error> {
        let memory = self.current_process().memory.ok_or(Error::OutOfMemory)?;
        self.charge(memory, pages * ipc::layout::PAGE_SIZE)?;
        self.current_process().charged += pages * ipc::layout::PAGE_SIZE;
        Ok(())
    }

    pub fn credit_pages(&mut self, pages: u64) {
        let process = self.current_process();
        process.charged -= pages * ipc::layout::PAGE_SIZE;
        if let Some(memory) = process.memory {
            self.credit(memory, pages * ipc::layout::PAGE_SIZE);
        }
    }

    /// Deletes the capability in `at`, then does what the objects it freed need.
    pub fn delete(&mut self, at: At) -> Result<(), Error> {
        let mut freed = Vec::new();
        self.caps.delete(at, &mut freed)?;
        self.dispose(freed);
        Ok(())
    }

    /// Deletes every capability in the user-visible slots of `space` (a process that will
    /// never run again), then disposes as [`Tasks::delete`].
    pub fn clear_capabilities(&mut self, space: SpaceId) {
        let mut freed = Vec::new();
        self.caps.clear_user_slots(space, &mut freed);
        self.dispose(freed);
    }

    /// Revokes every capability derived from the one in `at`, then disposes as [`Tasks::delete`].
    pub fn revoke(&mut self, at: At) -> Result<(), Error> {
        let mut freed = Vec::new();
        self.caps.revoke(at, &mut freed)?;
        self.dispose(freed);
        Ok(())
    }

    /// Drops a reference the kernel holds on `obj` (taken with `Caps::retain`), disposing of
    /// it if that was the last.
    pub fn release(&mut self, obj: ObjId) {
        let mut freed = Vec::new();
        self.caps.release(obj, &mut freed);
        self.dispose(freed);
    }

    /// Does what each freed object's kind needs: wakes the threads blocked on it with
    /// `ObjectGone`, frees its memory, gives back its charge. Freeing one object can free
    /// others (a reference it held was the last), so this works through a list.
    pub fn dispose(&mut self, mut freed: Vec<Object>) {
        while let Some(object) = freed.pop() {
            match object {
                Object::Endpoint(mut ep, charge) => {
                    for tid in ep.drain().collect::<Vec<_>>() {
                        self.wake(tid, Err(Error::ObjectGone));
                    }
                    self.uncharge(charge, &mut freed);
                }
                Object::Notification(mut n, charge) => {
                    for tid in n.drain().collect::<Vec<_>>() {
                        self.wake(tid, Err(Error::ObjectGone));
                    }
                    if let Some(tid) = n.bound {
                        self.thread(tid).bound = None;
                    }
                    self.uncharge(charge, &mut freed);
                }
                Object::Reply { caller: Some(tid) } => self.wake(tid, Err(Error::ObjectGone)),
                Object::Reply { caller: None }
                | Object::Archive
                | Object::Introspect
                | Object::IoPorts { charge: None, .. } => {}
                Object::IoPorts { charge: Some(charge), .. } => self.uncharge(charge, &mut freed),
                Object::Process(pid) => {
                    if let Some(p) = self.processes.get_mut(&pid) {
                        p.handle = false;
                        if p.status.is_some() && p.joiners.is_empty() {
                            self.processes.remove(&pid);
                        } else if p.status.is_none() {
                            // A process that cannot run on its own ends with its last handle:
                            // nobody is left who could start it, or kill it after its fault.
                            match p.thread {
                                None => self.ending.push((pid, ExitStatus::Killed)),
                                Some(tid) if self.threads[&tid].faulted => {
                                    let status = self.threads[&tid].fault_status();
                                    self.ending.push((pid, status));
                                }
                                Some(_) => {}
                            }
                        }
                    }
                }
                Object::Frame { pages, charge } => {
                    for page in pages {
                        mem::free_frame(page);
                    }
                    self.uncharge(charge, &mut freed);
                }
                Object::Irq { line, bound } => {
                    crate::arch::pic::mask(line);
                    self.irq_bound[line as usize] = None;
                    if let Some((ntfn, _)) = bound {
                        self.caps.release(ntfn, &mut freed);
                    }
                }
                Object::Memory { parent, .. } => {
                    if let Some((parent, bytes)) = parent {
                        self.uncharge(Charge { memory: parent, bytes }, &mut freed);
                    }
                }
            }
        }
        // Senders waiting on an endpoint nobody can receive from any more would wait forever:
        // they get `ObjectGone` (and a faulted one, whose fault nobody will ever take, ends).
        for obj in self.caps.take_unread() {
            if !self.caps.is_live(obj) || self.caps.has_readers(obj) {
                continue;
            }
            if let Object::Endpoint(ep, _) = self.caps.object_mut(obj) {
                for tid in ep.drain_senders().collect::<Vec<_>>() {
                    self.wake(tid, Err(Error::ObjectGone));
                }
            }
        }
        while let Some((pid, status)) = self.ending.pop() {
            if self.processes.get(&pid).is_some_and(|p| p.status.is_none()) {
                self.end_process(pid, status);
            }
        }
    }

    fn uncharge(&mut self, charge: Charge, freed: &mut Vec<Object>) {
        self.credit(charge.memory, charge.bytes);
        self.caps.release(charge.memory, freed);
    }

    /// Takes a thread out of whatever it is blocked on (it is being killed).
    fn detach(&mut self, tid: Tid) {
        let thread = &self.threads[&tid];
        let (state, prio, bound) = (thread.state, thread.priority, thread.bound);
        match state {
            State::Ready if self.running != tid => self.sched.forget(tid, prio),
            State::Ready | State::New | State::Faulted => {}
            State::Sending { ep, .. } | State::Receiving { ep } => {
                if let Object::Endpoint(e, _) = self.caps.object_mut(ep) {
                    e.remove(tid);
                }
            }
            State::AwaitingReply { reply } => {
                if let Object::Reply { caller } = self.caps.object_mut(reply) {
                    *caller = None;
                }
            }
            State::Waiting { ntfn } => {
                if let Object::Notification(n, _) = self.caps.object_mut(ntfn) {
                    n.remove(tid);
                }
            }
            State::Sleeping => {
                self.sleepers.remove(tid);
            }
            State::Joining { pid } => {
                if let Some(p) = self.processes.get_mut(&pid) {
                    p.joiners.retain(|&t| t != tid);
                }
            }
        }
        if let Some(ntfn) = bound {
            if let Object::Notification(n, _) = self.caps.object_mut(ntfn) {
                n.bound = None;
            }
        }
        self.thread(tid).state = State::Faulted;
    }

    /// Ends process `pid` with `status`: its thread leaves whatever it waits on, its
    /// capabilities are deleted (waking whoever that concerns), its memory goes back. A thread
    /// other than the running one is freed at once; the running one's stack and address space
    /// are left for the next thread to free.
    pub fn end_process(&mut self, pid: Pid, status: ExitStatus) {
        let tid = self.processes.get(&pid).expect("ending a process that does not exist").thread;
        let is_current = tid == Some(self.running);
        if let Some(tid) = tid {
            self.detach(tid);
        }
        let process = self.processes.get_mut(&pid).expect("ending a process that does not exist");
        process.thread = None;
        if let ExitStatus::Exited(code) = status {
            info!("process '{}' (pid {pid}) exited with code {code}", process.name);
        } else if status == ExitStatus::Killed {
            info!("process '{}' (pid {pid}) was killed", process.name);
        }
        process.status = Some(status);
        let space = process.space.take();
        let cspace = process.cspace;
        let memory = process.memory.take();
        let charged = core::mem::take(&mut process.charged);
        let frames = core::mem::take(&mut process.frames);
        let joiners = core::mem::take(&mut process.joiners);
        let exit_signal = process.exit_signal.take();
        let timer = process.timer.take();
        let remove = !process.handle;
        let mut freed = Vec::new();
        if let Some((ntfn, badge)) = exit_signal {
            super::ipc::signal_object(self, ntfn, badge.max(1));
            self.caps.release(ntfn, &mut freed);
        }
        if let Some((ntfn, _)) = timer {
            self.timers.remove(pid);
            self.caps.release(ntfn, &mut freed);
        }
        self.caps.destroy_space(cspace, &mut freed);
        for mapping in frames {
            self.caps.release(mapping.frame, &mut freed);
        }
        if let Some(memory) = memory {
            self.credit(memory, charged);
            self.caps.release(memory, &mut freed);
        }
        for j in joiners {
            self.wake(j, Ok(()));
        }
        if remove {
            self.processes.remove(&pid);
        }
        self.dispose(freed);
        if is_current {
            self.remains = Some(Remains { tid: self.running, space });
            HAS_REMAINS.store(true, core::sync::atomic::Ordering::Relaxed);
            return;
        }
        if let Some(kstack) = tid.and_then(|tid| self.threads.remove(&tid)).and_then(|thread| thread.kstack) {
            stack::free(kstack);
        }
        drop(space);
    }

    /// A fresh process id.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Enters a thread made by `load::start` into the table, ready to run.
    pub fn add_thread(&mut self, pid: Pid, kstack: KernelStack, context: u64) {
        let process = &self.processes[&pid];
        let root = process.space.as_ref().expect("a starting process has its space").root();
        let mut thread = Thread::new(pid, process.priority, process.cspace, root, Some(kstack), context);
        thread.ipc_buffer = process.ipc_buffer;
        let tid = self.threads.insert(Box::new(thread));
        self.processes.get_mut(&pid).expect("starting a process that does not exist").thread = Some(tid);
        self.wake(tid, Ok(()));
    }
}

/// How the running thread leaves the CPU.
pub enum Leave {
    /// To the back of its priority's queue.
    Yield,
    /// Outranked, or its slice is over: the scheduler decides where it queues.
    Preempt,
    /// Not queued: it sleeps, waits, or has ended (or it is the idle thread).
    Block,
    /// Blocked, and hands the CPU straight to this thread (IPC), past the run queue.
    Handoff(Tid),
}

/// What a system call's handler decided the calling thread does next, put into effect as
/// the system call leaves the kernel ([`leave`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Back to user mode with its results (unless a wake-up outranked it meanwhile).
    Return,
    /// It blocked: the scheduler chooses who runs.
    Block,
    /// It blocked, and hands the CPU to this thread (ready, not queued), past the run queue.
    Handoff(Tid),
}

impl Tasks {
    /// The thread to run after the running one leaves the CPU as `leave` says.
    fn choose(&mut self, leave: Leave) -> Tid {
        PREEMPT.store(false, core::sync::atomic::Ordering::Relaxed);
        match leave {
            Leave::Yield => self.sched.yield_now(),
            Leave::Preempt => self.sched.preempt(),
            Leave::Block => self.sched.block(),
            Leave::Handoff(tid) => {
                let prio = self.threads[&tid].priority;
                self.sched.handoff(tid, prio);
                Some(tid)
            }
        }
        .unwrap_or(IDLE)
    }

    /// Makes a blocked thread ready without queueing it: the running thread hands it the CPU.
    pub fn ready_for_handoff(&mut self, tid: Tid) {
        let thread = self.thread(tid);
        thread.state = State::Ready;
        thread.set_status(Ok(()));
    }
}

/// Puts the next thread on the CPU, if that is another thread; returns when the calling
/// thread runs again. Takes the lock itself: call it without holding it.
pub fn reschedule(leave: Leave) {
    let plan = with(|t| {
        let next = t.choose(leave);
        t.plan_switch(next)
    });
    if let Some(plan) = plan {
        switch(plan);
    }
}

/// Leaves the kernel at the end of a system call whose handler decided `next`: returns the
/// exit word for the entry stub (see [`exit_word`]) — the caller's own frame, or
/// that of the thread that runs instead, whose system call returns then. A thread that
/// resumes inside the kernel is resumed there instead, and this does not return.
#[inline(always)]
pub fn leave(next: Next, frame: &mut TrapFrame) -> u64 {
    // The thread's own frame, as the entry stub saved it: a system call's, at a RIP the
    // CPU gave (in user memory, so canonical), fit for `sysret`.
    let own = frame as *mut TrapFrame as u64;
    if next == Next::Return && !preempt_pending() {
        return own;
    }
    switch_at_exit(next, own)
}

/// [`leave`] when the calling thread does not simply return: it blocks, hands the CPU to
/// another thread, or is preempted.
#[inline(never)]
fn switch_at_exit(next: Next, own: u64) -> u64 {
    let plan = with_entry(|t| {
        let leave = match next {
            Next::Return => Leave::Preempt,
            Next::Block => Leave::Block,
            Next::Handoff(tid) => Leave::Handoff(tid),
        };
        let to = t.choose(leave);
        t.leave_for(to)
    });
    match plan {
        None => own,
        Some(plan) => plan.enter(),
    }
}

/// The entry stub's word for returning to user mode from `frame`: its address, with bit 0
/// set when `sysret` cannot be used. `sysret` to a non-canonical RIP faults in kernel mode
/// (on Intel), on the user's stack; RIP comes from the CPU and user memory ends below the last
/// canonical page, so this never happens today, but a frame written in place could.
pub fn exit_word(frame: &TrapFrame) -> u64 {
    let address = frame as *const TrapFrame as u64;
    address | u64::from(frame.rip >= ipc::layout::USER_END || frame.vector != syscall::SYSCALL_VECTOR)
}

/// Where a planned switch resumes the incoming thread.
enum Target {
    /// Inside the kernel, from this saved kernel context.
    Stack(u64),
    /// In user mode, from its trap frame: the exit word for it.
    Frame(u64),
}

/// A switch decided under the lock, to be made after it is released.
pub struct Switch {
    save: *mut u64,
    to: Target,
    root: u64,
    kstack_top: Option<u64>,
    io: Option<*const crate::arch::gdt::IoBitmap>,
}

impl Tasks {
    /// Makes `next` the running thread in the table; returns what [`switch`] must do, or
    /// None if `next` is already running. The running thread keeps its kernel context.
    pub fn plan_switch(&mut self, next: Tid) -> Option<Switch> {
        let prev = self.running;
        if next == prev {
            return None;
        }
        let save: *mut u64 = &mut self.thread(prev).context;
        self.switch_to(next, save)
    }

    /// As [`Tasks::plan_switch`], for a running thread that leaves the kernel by its trap
    /// frame: it resumes from the frame (whoever wakes it writes its results there), so
    /// nothing of its kernel context is kept.
    pub fn leave_for(&mut self, next: Tid) -> Option<Switch> {
        if next == self.running {
            return None;
        }
        self.current_mut().in_frame = true;
        self.enter_frame_of(next)
    }

    /// Makes `next` the running thread in place of one that leaves by its frame (already
    /// marked so), whose kernel context is not kept: the fast path's switch.
    #[inline]
    pub fn enter_frame_of(&mut self, next: Tid) -> Option<Switch> {
        self.switch_to(next, core::ptr::null_mut())
    }

    /// Makes `next` the running thread and plans resuming it, from its frame or its kernel
    /// context; `save` is where the outgoing thread's context goes (null if it keeps none).
    #[inline]
    fn switch_to(&mut self, next: Tid, save: *mut u64) -> Option<Switch> {
        let plan = self.threads.get_mut(&next)?.switch_in(&self.processes, save);
        self.running = next;
        Some(plan)
    }
}

impl Thread {
    /// Plans resuming this thread, off the CPU, from its frame or its kernel context; `save`
    /// is where the outgoing thread's context goes (null if it keeps none). The caller makes
    /// it the running thread.
    #[inline(always)]
    pub fn switch_in(&mut self, processes: &BTreeMap<Pid, Process>, save: *mut u64) -> Switch {
        let to = match self.frame_mut() {
            Some(frame) => Target::Frame(exit_word(frame)),
            None => Target::Stack(self.context),
        };
        self.in_frame = false;
        let io = match self.io {
            true => processes.get(&self.pid).and_then(|p| p.io_bitmap.as_deref().map(|b| b as *const _)),
            false => None,
        };
        Switch { save, to, root: self.root, kstack_top: self.kstack.as_ref().map(|s| s.top), io }
    }
}

/// The page-table root installed on this CPU (0 until the first switch installs one).
static ROOT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl Switch {
    /// Installs the incoming thread's kernel stack, I/O permissions and address space.
    #[inline(always)]
    fn install(&self) {
        if let Some(top) = self.kstack_top {
            syscall::set_kernel_stack(top);
        }
        // SAFETY: the bitmap is boxed in a live process's entry, which is only removed after
        // its thread has left the CPU (and this switch installs another one before that).
        crate::arch::gdt::set_io_bitmap(self.io.map(|b| unsafe { &*b }));
        use core::sync::atomic::Ordering::Relaxed;
        if ROOT.load(Relaxed) != self.root {
            ROOT.store(self.root, Relaxed);
            // SAFETY: `root` is the kernel's table or that of a live process (its space is
            // freed only after its thread is off the CPU for good); all share the kernel half,
            // where this code and stack are.
            unsafe { Cr3::write(PhysFrame::containing_address(PhysAddr::new(self.root)), Cr3Flags::empty()) };
        }
    }

    /// Makes the switch for a running thread that resumes from its frame (see
    /// [`Tasks::leave_for`]): returns the incoming thread's exit word for the entry stub, or
    /// resumes it inside the kernel and does not return.
    #[inline(always)]
    pub fn enter(self) -> u64 {
        self.install();
        match self.to {
            Target::Frame(exit) => exit,
            // SAFETY: `context` is the incoming thread's saved kernel context; interrupts are
            // off; its stack and space were installed above. The outgoing thread resumes from
            // its frame, so nothing on this stack is needed again.
            Target::Stack(context) => unsafe { switch::enter_context(context) },
        }
    }
}

/// Makes a planned switch: the incoming thread's kernel stack, I/O permissions and address
/// space, then its saved context or frame. Returns when the calling thread runs again.
pub fn switch(plan: Switch) {
    plan.install();
    match plan.to {
        // SAFETY: `save` points into the outgoing thread's boxed entry, which stays in the
        // table until the next thread frees it in `finish_switch`, after this switch;
        // `context` is the incoming thread's saved context; interrupts are off; its stack and
        // space are installed above.
        Target::Stack(context) => unsafe { switch::switch_context(plan.save, context) },
        // SAFETY: as above; the frame is the one at the top of the incoming thread's stack,
        // which resumes from it with nothing of its own suspended below (`in_frame`).
        Target::Frame(exit) => unsafe { switch::switch_to_frame(plan.save, exit & !1) },
    }
    finish_switch();
}

/// Runs on the incoming thread after every switch: frees what an ended thread left behind.
#[no_mangle]
extern "C" fn seam_thread_started() {
    finish_switch();
}

fn finish_switch() {
    if !HAS_REMAINS.load(core::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let Some(remains) = with(|t| {
        HAS_REMAINS.store(false, core::sync::atomic::Ordering::Relaxed);
        t.remains.take()
    }) else {
        return;
    };
    let thread = with(|t| t.threads.remove(&remains.tid)).expect("ended thread not in the table");
    if let Some(kstack) = thread.kstack {
        stack::free(kstack);
    }
    drop(remains.space);
}

/// Ends the running process with `status`; its memory is freed once another thread runs.
pub fn end_current(status: ExitStatus) -> ! {
    with(|t| {
        assert!(t.running != IDLE, "the idle thread tried to end");
        let pid = t.current().pid;
        t.end_process(pid, status);
    });
    reschedule(Leave::Block);
    unreachable!("an ended thread was switched back to");
}

/// A CPU exception in user mode: reported, then either sent to the process's fault endpoint
/// (the process stays stopped until its supervisor kills it) or, without one, the end.
///
/// A fault message asks its receiver to decide the process's end, so the process ends at
/// once if nobody could ever receive it (no capability to the endpoint has the read right) or
/// act on it (no handle to the process is left). A stopped process never runs again, so its
/// capabilities go at once (its fault slot excepted): whatever it alone kept alive is
/// released, and no process stays alive through a handle only it holds.
pub fn fault_current(frame: &TrapFrame, cr2: u64) -> ! {
    let handled = with(|t| {
        let pid = t.current().pid;
        let name = &t.current_process().name;
        warn!("{}", exception::UserFault { name, pid, frame, cr2 });
        let cspace = t.cspace();
        let Ok(cap) = t.caps.get(At::hidden(cspace, FAULT_SLOT)) else { return false };
        if !t.caps.has_readers(cap.obj) || !t.current_process().handle {
            return false;
        }
        let address = if frame.vector == exception::PAGE_FAULT { cr2 } else { 0 };
        let msg = Msg {
            badge: cap.badge,
            info: MsgInfo::new(LABEL_FAULT, 4, 0).encode(),
            words: [frame.vector, frame.error_code, frame.rip, address],
        };
        super::ipc::send_fault(t, cap.obj, msg);
        t.clear_capabilities(cspace);
        true
    });
    if !handled {
        end_current(ExitStatus::Faulted(frame.vector as u8));
    }
    loop {
        reschedule(Leave::Block);
    }
}

pub fn yield_now() {
    reschedule(Leave::Yield);
}

/// Blocks the running thread for at least `ticks` timer ticks.
pub fn sleep(ticks: u64) {
    if ticks == 0 {
        return yield_now();
    }
    with(|t| {
        let tid = t.running;
        t.current_mut().state = State::Sleeping;
        t.sleepers.add(tid, time::ticks().saturating_add(ticks));
    });
    reschedule(Leave::Block);
}

/// Waits for the process of a Process capability (with the read right) to end.
pub fn wait(slot: u64) -> Result<ExitStatus, Error> {
    let pid = with(|t| {
        let cap = t.caps.lookup(t.slot(slot)?, Kind::Process, Rights::READ)?;
        let Object::Process(pid) = *t.caps.object(cap.obj) else { unreachable!("kind checked") };
        let running = t.running;
        let process = t.processes.get_mut(&pid).ok_or(Error::ObjectGone)?;
        if process.status.is_none() {
            process.joiners.push(running);
            t.current_mut().state = State::Joining { pid };
        }
        Ok(pid)
    })?;
    if with(|t| t.current().state != State::Ready) {
        reschedule(Leave::Block);
    }
    with(|t| t.processes.get(&pid).and_then(|p| p.status)).ok_or(Error::ObjectGone)
}

/// Called on every timer tick: wakes sleepers whose time has come and preempts the running
/// thread if the scheduler says so. Only user code and the idle thread are preempted; the
/// kernel itself runs to the end of each system call.
pub fn on_timer_tick(from_user: bool) {
    let switch = with(|t| {
        if !t.started {
            return false;
        }
        while let Some(tid) = t.sleepers.pop_due(time::ticks()) {
            t.wake(tid, Ok(()));
        }
        while let Some(pid) = t.timers.pop_due(time::ticks()) {
            if let Some((ntfn, badge)) = t.processes.get_mut(&pid).and_then(|p| p.timer.take()) {
                super::ipc::signal_object(t, ntfn, badge.max(1));
                t.release(ntfn);
            }
        }
        let tick = t.sched.tick();
        let outranked = take_preempt();
        (outranked || tick) && (from_user || t.running == IDLE)
    });
    if switch {
        reschedule(Leave::Preempt);
    }
}

/// After an interrupt woke a thread that outranks the running one: switch, if the running
/// code may be preempted (user code, or the idle thread).
pub fn preempt_from_interrupt(from_user: bool) {
    if from_user || with(|t| t.running == IDLE) {
        reschedule(Leave::Preempt);
    }
}

/// The running process's name and id, for its console output.
pub fn with_current_name<R>(f: impl FnOnce(&str, Pid) -> R) -> R {
    with(|t| {
        let pid = t.current().pid;
        f(&t.current_process().name, pid)
    })
}

/// Runs `f` on the running process's address space.
pub fn with_current_space<R>(f: impl FnOnce(&mut AddressSpace) -> R) -> R {
    with(|t| f(t.current_process().space.as_mut().expect("running process without an address space")))
}

/// Becomes the idle thread: runs whatever is ready, halts when nothing is. With
/// `exit_when_done`, stops QEMU with success once every started process has ended (for
/// tests).
pub fn run_idle(exit_when_done: bool) -> ! {
    interrupts::disable();
    with(|t| {
        let mut idle = Thread::new(0, 0, 0, paging::kernel_root(), None, 0);
        idle.state = State::Ready;
        t.threads.put(IDLE, Box::new(idle));
        t.started = true;
    });
    let mut announced = false;
    loop {
        interrupts::disable();
        if with(|t| t.sched.has_ready()) {
            reschedule(Leave::Block);
            continue;
        }
        let all_ended = with(|t| t.threads.len() == 1 && t.remains.is_none());
        if all_ended && !announced {
            info!("{ALL_ENDED_LINE}");
            announced = true;
            if exit_when_done {
                qemu::exit(ExitCode::Success);
            }
        }
        interrupts::enable_and_hlt();
    }
}
