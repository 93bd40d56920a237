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
