//! The thread and process table and the kernel's objects: charging, disposal, and ending
//! processes. Threads themselves are `thread.rs`; the switching that puts the scheduler's
//! decisions into effect is `switch.rs`. Everything here runs with interrupts off, under the
//! one lock of [`Tasks`].

use crate::arch::exception;
use crate::arch::frame::TrapFrame;
use crate::arch::qemu;
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
use ipc::msg::{MsgInfo, LABEL_FAULT};
use ipc::qemu::ExitCode;
use ipc::syscall::ExitStatus;
use ipc::Error;
use spin::Mutex;
use x86_64::instructions::interrupts;

mod switch;
mod thread;

pub use switch::*;
pub use thread::*;

pub type Pid = u64;

const BUFFER_WORDS: usize = ipc::layout::THREADS_MAX.div_ceil(64) as usize;

impl Process {
    /// Whether it was started and has neither ended nor stopped on a fault: its threads may
    /// run.
    pub fn is_running(&self) -> bool {
        self.started && self.status.is_none() && self.fault.is_none()
    }

    /// Takes the lowest free IPC buffer number, if one is left.
    pub fn take_buffer(&mut self) -> Option<u64> {
        let (word, bits) = self.buffers.iter_mut().enumerate().find(|(_, bits)| **bits != u64::MAX)?;
        let bit = bits.trailing_ones();
        *bits |= 1 << bit;
        Some(word as u64 * 64 + u64::from(bit))
    }

    pub fn free_buffer(&mut self, index: u64) {
        self.buffers[(index / 64) as usize] &= !(1 << (index % 64));
    }
}

/// The idle thread: the boot thread once it has started the first process. It belongs to no
/// process, runs below every priority, and halts the CPU.
pub(super) const IDLE: Tid = 0;

/// A Frame mapped in a process: where, and how many of its pages are still mapped there.
pub struct FrameMapping {
    pub frame: ObjId,
    pub start: u64,
    pub mapped: u64,
}

pub struct Process {
    pub name: String,
    /// Its threads: the first from `ProcessStart`, more from `ThreadCreate`; none before it
    /// starts or once it has ended.
    pub threads: Vec<Tid>,
    /// Whether it was started (it may have ended since).
    pub started: bool,
    /// Set when one of its threads stopped on a CPU exception: every thread of it is stopped
    /// for good, and this is how it ends.
    pub fault: Option<ExitStatus>,
    /// Which of its thread IPC buffers (`ipc::layout::thread_ipc_buffer`) are in use: bit `i`
    /// of word `i / 64` for buffer `i`.
    pub buffers: [u64; BUFFER_WORDS],
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

/// A new thread's IPC buffer: its number in the process's buffer area and the physical
/// address of its page.
pub struct ThreadBuffer {
    pub index: u64,
    pub phys: u64,
}

/// What the thread with IPC buffer number `index` cost its process's quota: nothing for the
/// first (number 0: its buffer is part of the image and its stack of the process), the
/// buffer page and kernel stack for the others.
pub fn thread_cost(index: u64) -> u64 {
    if index == 0 {
        0
    } else {
        ipc::syscall::THREAD_COST
    }
}

/// What the thread that just left the CPU for good leaves behind for the next one to free.
struct Remains {
    tid: Tid,
    space: Option<AddressSpace>,
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
    /// The next thread serial number (`Thread::serial`), counted apart from process ids.
    next_serial: u64,
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

/// Notes that a ready thread outranks the running one: the system call's exit switches.
pub fn note_preempt() {
    PREEMPT.store(true, core::sync::atomic::Ordering::Relaxed);
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
    next_serial: 1,
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
            let pid = thread.pid;
            let status = self.fault_status(pid);
            self.ending.push((pid, status));
            return;
        }
        thread.set_status(result);
        self.make_ready(tid);
    }

    /// Queues a thread that was off the CPU (blocked, suspended) as ready; notes whether it
    /// outranks the running one.
    pub fn make_ready(&mut self, tid: Tid) {
        let thread = self.thread(tid);
        thread.state = State::Ready;
        let prio = thread.priority;
        if self.sched.ready(tid, prio) {
            note_preempt();
        }
    }

    /// How a process stopped on a fault ends.
    fn fault_status(&self, pid: Pid) -> ExitStatus {
        self.processes.get(&pid).and_then(|p| p.fault).unwrap_or(ExitStatus::Killed)
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
                | Object::Thread { .. }
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
                            match (p.started, p.fault) {
                                (false, _) => self.ending.push((pid, ExitStatus::Killed)),
                                (true, Some(status)) => self.ending.push((pid, status)),
                                (true, None) => {}
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

    /// Takes a thread out of whatever it is blocked on, or out of the run queue (it is being
    /// killed or stopped), leaving it `Faulted`; its bound notification is let go.
    pub(super) fn detach(&mut self, tid: Tid) {
        self.leave_wait(tid);
        if let Some(ntfn) = self.threads[&tid].bound {
            if let Object::Notification(n, _) = self.caps.object_mut(ntfn) {
                n.bound = None;
            }
        }
        self.thread(tid).state = State::Faulted;
    }

    /// Takes a thread out of whatever it waits on (an endpoint's queue, a reply, a
    /// notification, the sleepers, a process's joiners) or out of the run queue, leaving its
    /// state as it was for the caller to set.
    pub(super) fn leave_wait(&mut self, tid: Tid) {
        let thread = &self.threads[&tid];
        let (state, prio) = (thread.state, thread.priority);
        match state {
            State::Ready if self.running != tid => self.sched.forget(tid, prio),
            State::Ready | State::New | State::Faulted | State::Suspended => {}
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
    }

    /// Ends process `pid` with `status`: its threads leave whatever they wait on, its
    /// capabilities are deleted (waking whoever that concerns), its memory goes back. Threads
    /// other than the running one are freed at once; the running one's stack and the address
    /// space are left for the next thread to free.
    pub fn end_process(&mut self, pid: Pid, status: ExitStatus) {
        let process = self.processes.get_mut(&pid).expect("ending a process that does not exist");
        let tids = core::mem::take(&mut process.threads);
        for &tid in &tids {
            self.detach(tid);
        }
        let process = self.processes.get_mut(&pid).expect("ending a process that does not exist");
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
        let mut current = false;
        for tid in tids {
            match tid == self.running {
                true => current = true,
                false => self.free_thread(tid),
            }
        }
        if current {
            self.leave_remains(space);
        } else {
            drop(space);
        }
    }

    /// Ends one thread of a process that has others (`ThreadEnd`): it leaves whatever it
    /// waits on, its IPC buffer goes (but the first thread's, which is part of the process's
    /// image and stays until the process ends), and so does its charge. The running thread's
    /// stack is left for the next thread to free. Ending the last thread ends the process with
    /// status `last`.
    pub fn end_thread(&mut self, tid: Tid, last: ExitStatus) {
        let pid = self.threads[&tid].pid;
        if self.processes[&pid].threads.len() <= 1 {
            return self.end_process(pid, last);
        }
        self.detach(tid);
        let index = self.threads[&tid].buffer_index;
        let cost = thread_cost(index);
        let process = self.processes.get_mut(&pid).expect("a thread's process exists");
        process.threads.retain(|&t| t != tid);
        if cost > 0 {
            process.free_buffer(index);
            if let Some(space) = process.space.as_mut() {
                space.unmap_pinned(ipc::layout::thread_ipc_buffer(index));
            }
            process.charged -= cost;
            if let Some(memory) = process.memory {
                self.credit(memory, cost);
            }
        }
        if tid == self.running {
            self.leave_remains(None);
        } else {
            self.free_thread(tid);
        }
    }

    /// Stops every thread of a process one of whose threads (the running one) faulted: the
    /// others leave whatever they wait on and never run again; `status` is how it will end.
    fn stop_process(&mut self, pid: Pid, status: ExitStatus) {
        let process = self.processes.get_mut(&pid).expect("a faulting thread's process exists");
        process.fault = Some(status);
        for tid in process.threads.clone() {
            if tid != self.running {
                self.detach(tid);
                self.thread(tid).faulted = true;
            }
        }
    }

    /// Takes an ended thread, off the CPU, out of the table and frees its kernel stack.
    fn free_thread(&mut self, tid: Tid) {
        if let Some(kstack) = self.threads.remove(&tid).and_then(|thread| thread.kstack) {
            stack::free(kstack);
        }
    }

    /// The running thread has ended: what it still runs on (its kernel stack, and its
    /// process's address space if that ended too) is freed by the next thread, after the
    /// switch.
    fn leave_remains(&mut self, space: Option<AddressSpace>) {
        self.remains = Some(Remains { tid: self.running, space });
        HAS_REMAINS.store(true, core::sync::atomic::Ordering::Relaxed);
    }

    /// A fresh process id.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Enters a new thread of a live process into the table, ready to run at `priority`: its
    /// kernel stack (with the `context` that enters user mode), its IPC buffer (number
    /// `buffer_index`, at physical `ipc_buffer`), and what it cost the process's quota.
    pub fn add_thread(
        &mut self,
        pid: Pid,
        priority: u8,
        kstack: KernelStack,
        context: u64,
        buffer: ThreadBuffer,
    ) -> Tid {
        let serial = self.next_serial;
        self.next_serial += 1;
        let process = self.processes.get_mut(&pid).expect("a new thread's process exists");
        let root = process.space.as_ref().expect("a running process has its space").root();
        let mut thread = Thread::new(pid, priority, process.cspace, root, Some(kstack), context);
        thread.serial = serial;
        thread.ipc_buffer = buffer.phys;
        thread.buffer_index = buffer.index;
        thread.fs_base = ipc::layout::thread_ipc_buffer(buffer.index);
        thread.io = process.io_bitmap.is_some();
        let tid = self.threads.insert(Box::new(thread));
        process.threads.push(tid);
        process.started = true;
        self.wake(tid, Ok(()));
        tid
    }
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

/// Ends the running thread (`ThreadEnd` on itself); the last thread of its process ends
/// the process, as `Exit(0)`. Its stack is freed once another thread runs.
pub fn end_current_thread() -> ! {
    with(|t| {
        assert!(t.running != IDLE, "the idle thread tried to end");
        let tid = t.running;
        t.end_thread(tid, ExitStatus::Exited(0));
    });
    reschedule(Leave::Block);
    unreachable!("an ended thread was switched back to");
}

/// A CPU exception in user mode: reported, then either sent to the process's fault endpoint
/// (the process, every thread of it, stays stopped until its supervisor kills it) or,
/// without one, the end.
///
/// A fault message asks its receiver to decide the process's end, so the process ends at
/// once if nobody could ever receive it (no capability to the endpoint has the read right) or
/// act on it (no handle to the process is left). A stopped process never runs again, so its
/// capabilities go at once (its fault slot excepted): whatever it alone kept alive is
/// released, and no process stays alive through a handle only it holds.
pub fn fault_current(frame: &TrapFrame, cr2: u64) -> ! {
    let handled = with(|t| {
        let pid = t.current().pid;
        super::ipc::note(t, ipc::trace::Kind::Fault, t.running, 0, 0, frame.vector as u32);
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
        t.stop_process(pid, ExitStatus::Faulted(frame.vector as u8));
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
    // Back before the process ended: the wait was given up (`ThreadSuspend`).
    with(|t| match t.processes.get(&pid) {
        Some(p) => p.status.ok_or(Error::Interrupted),
        None => Err(Error::ObjectGone),
    })
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
