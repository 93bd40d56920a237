//! The thread and process table: the one lock of [`Tasks`] and everything under it, waking
//! and blocking, sleeping and waiting, the timer tick and the idle thread. The parts:
//! processes (`process.rs`), threads (`thread.rs`), switching, which puts the scheduler's
//! decisions into effect (`switch.rs`), charging and disposal (`dispose.rs`), and ending
//! processes and threads (`ending.rs`). Everything here runs with interrupts off.

use super::lock::{Guard, TableLock};
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
use alloc::vec::Vec;
use ipc::boot::ALL_ENDED_LINE;
use ipc::cap::{Kind, Rights, SELF};
use ipc::msg::{MsgInfo, LABEL_FAULT};
use ipc::qemu::ExitCode;
use ipc::syscall::ExitStatus;
use ipc::Error;
use x86_64::instructions::interrupts;

mod dispose;
mod ending;
mod process;
mod switch;
mod thread;

pub use ending::{end_current, end_current_thread, fault_current};
pub use process::*;
pub use switch::*;
pub use thread::*;

pub type Pid = u64;

/// The idle thread: the boot thread once it has started the first process. It belongs to no
/// process, runs below every priority, and halts the CPU.
pub(super) const IDLE: Tid = 0;

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

static TASKS: TableLock<Tasks> = TableLock::new(Tasks {
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

pub(crate) fn with<R>(f: impl FnOnce(&mut Tasks) -> R) -> R {
    interrupts::without_interrupts(|| f(&mut TASKS.lock()))
}

/// As [`with`], on a path where interrupts are known to be off already (a system call's:
/// `syscall` clears IF), so there is no flag to save and restore.
#[inline(always)]
pub(crate) fn with_entry<R>(f: impl FnOnce(&mut Tasks) -> R) -> R {
    f(&mut lock_entry())
}

/// As [`with_entry`], as a guard that releases the table when dropped: for the fast path,
/// whose work is inlined whole into its entry function (a closure may not be).
#[inline(always)]
pub(crate) fn lock_entry() -> Guard<'static, Tasks> {
    debug_assert!(!interrupts::are_enabled(), "the task table taken with interrupts on");
    TASKS.lock()
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
