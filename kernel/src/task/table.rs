//! The thread and process table, and the switching that puts the scheduler's decisions into
//! effect. Everything here runs with interrupts off.

use crate::arch::exception;
use crate::arch::frame::TrapFrame;
use crate::arch::{qemu, switch, syscall};
use crate::mem::paging;
use crate::mem::space::AddressSpace;
use crate::mem::stack::{self, KernelStack};
use crate::sched::sleep::Sleepers;
use crate::sched::{Scheduler, Tid};
use crate::{info, time, warn};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use ipc::boot::ALL_ENDED_LINE;
use ipc::qemu::ExitCode;
use ipc::syscall::ExitStatus;
use ipc::Error;
use spin::Mutex;
use x86_64::instructions::interrupts;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;
use x86_64::PhysAddr;

pub type Pid = u64;

/// The idle thread: the boot thread once it has started the first processes. It belongs to no
/// process, runs below every priority, and halts the CPU.
const IDLE: Tid = 0;

struct Thread {
    pid: Pid,
    priority: u8,
    /// None for the idle thread, which runs on the boot stack.
    kstack: Option<KernelStack>,
    /// The saved kernel stack pointer while the thread is off the CPU.
    context: u64,
}

struct Process {
    name: String,
    /// Taken when the process ends; freed once its thread is off the CPU.
    space: Option<AddressSpace>,
    parent: Option<Pid>,
    priority: u8,
    /// Set when the process has ended, until its parent collects it with `wait`.
    status: Option<ExitStatus>,
    /// The thread blocked in `wait` for this process.
    waiter: Option<Tid>,
}

/// What the thread that just left the CPU for good leaves behind for the next one to free.
struct Remains {
    tid: Tid,
    space: Option<AddressSpace>,
}

struct Tasks {
    sched: Scheduler,
    sleepers: Sleepers,
    threads: BTreeMap<Tid, Box<Thread>>,
    processes: BTreeMap<Pid, Process>,
    running: Tid,
    next_id: u64,
    remains: Option<Remains>,
    started: bool,
}

static TASKS: Mutex<Tasks> = Mutex::new(Tasks {
    sched: Scheduler::new(),
    sleepers: Sleepers::new(),
    threads: BTreeMap::new(),
    processes: BTreeMap::new(),
    running: IDLE,
    next_id: 1,
    remains: None,
    started: false,
});

fn with<R>(f: impl FnOnce(&mut Tasks) -> R) -> R {
    interrupts::without_interrupts(|| f(&mut TASKS.lock()))
}

impl Tasks {
    fn current(&self) -> &Thread {
        &self.threads[&self.running]
    }

    fn current_process(&mut self) -> &mut Process {
        let pid = self.current().pid;
        self.processes.get_mut(&pid).expect("running thread without a process")
    }

    fn wake(&mut self, tid: Tid) -> bool {
        let prio = self.threads[&tid].priority;
        self.sched.ready(tid, prio)
    }
}

/// A fresh id for a process (and its thread, which shares it).
pub fn next_id() -> u64 {
    with(|t| {
        let id = t.next_id;
        t.next_id += 1;
        id
    })
}

/// Enters a process made by `load::spawn` into the table, ready to run.
pub(super) fn add_process(
    pid: Pid,
    name: &str,
    space: AddressSpace,
    kstack: KernelStack,
    context: u64,
    priority: u8,
    parent: Option<Pid>,
) {
    with(|t| {
        let process = Process { name: name.into(), space: Some(space), parent, priority, status: None, waiter: None };
        t.processes.insert(pid, process);
        t.threads.insert(pid, Box::new(Thread { pid, priority, kstack: Some(kstack), context }));
        t.wake(pid);
    });
}

/// How the running thread leaves the CPU.
enum Leave {
    /// To the back of its priority's queue.
    Yield,
    /// Outranked, or its slice is over: the scheduler decides where it queues.
    Preempt,
    /// Not queued: it sleeps, waits, or has ended (or it is the idle thread).
    Block,
}

/// Puts the scheduler's next choice on the CPU, if that is another thread; returns when the
/// calling thread runs again.
fn reschedule(leave: Leave) {
    let plan = with(|t| {
        let next = match leave {
            Leave::Yield => t.sched.yield_now(),
            Leave::Preempt => t.sched.preempt(),
            Leave::Block => t.sched.block(),
        }
        .unwrap_or(IDLE);
        let prev = t.running;
        if next == prev {
            return None;
        }
        t.running = next;
        let save: *mut u64 = &mut t.threads.get_mut(&prev).expect("running thread not in the table").context;
        let thread = &t.threads[&next];
        let root = match thread.pid {
            0 => paging::kernel_root(),
            pid => t.processes[&pid].space.as_ref().expect("ready thread of an ended process").root(),
        };
        Some((save, thread.context, root, thread.kstack.as_ref().map(|s| s.top)))
    });
    let Some((save, load, root, kstack_top)) = plan else { return };
    if let Some(top) = kstack_top {
        syscall::set_kernel_stack(top);
    }
    if Cr3::read().0.start_address().as_u64() != root {
        // SAFETY: `root` is the kernel's table or that of a live process (its space is freed
        // only after its thread is off the CPU for good); all share the kernel half, where
        // this code and stack are.
        unsafe { Cr3::write(PhysFrame::containing_address(PhysAddr::new(root)), Cr3Flags::empty()) };
    }
    // SAFETY: `save` points into the outgoing thread's boxed entry, which stays in the table
    // until the next thread frees it in `finish_switch`, after this switch; `load` is the
    // incoming thread's saved context; interrupts are off; its stack and space are set above.
    unsafe { switch::switch_context(save, load) };
    finish_switch();
}

/// Runs on the incoming thread after every switch: frees what an ended thread left behind.
#[no_mangle]
extern "C" fn seam_thread_started() {
    finish_switch();
}

fn finish_switch() {
    let Some(remains) = with(|t| t.remains.take()) else { return };
    let thread = with(|t| t.threads.remove(&remains.tid)).expect("ended thread not in the table");
    if let Some(kstack) = thread.kstack {
        stack::free(kstack);
    }
    drop(remains.space);
}

/// Ends the running process with `status`; its memory is freed once another thread runs.
pub fn end_current(status: ExitStatus) -> ! {
    with(|t| {
        let tid = t.running;
        let pid = t.current().pid;
        assert!(tid != IDLE, "the idle thread tried to end");
        let process = t.processes.get_mut(&pid).expect("running thread without a process");
        if let ExitStatus::Exited(code) = status {
            info!("process '{}' (pid {pid}) exited with code {code}", process.name);
        }
        process.status = Some(status);
        let space = process.space.take();
        let waiter = process.waiter.take();
        let parent_alive = process.parent.is_some_and(|p| t.processes.get(&p).is_some_and(|p| p.status.is_none()));
        if !parent_alive {
            t.processes.remove(&pid);
        }
        // Children: the ended ones go now (nobody can wait for them), the rest are orphans.
        t.processes.retain(|_, p| p.parent != Some(pid) || p.status.is_none());
        for p in t.processes.values_mut().filter(|p| p.parent == Some(pid)) {
            p.parent = None;
        }
        if let Some(w) = waiter {
            t.wake(w);
        }
        t.remains = Some(Remains { tid, space });
    });
    reschedule(Leave::Block);
    unreachable!("an ended thread was switched back to");
}

/// Stops the running process after a CPU exception in user mode, with a report.
pub fn fault_current(frame: &TrapFrame, cr2: u64) -> ! {
    with(|t| {
        let pid = t.current().pid;
        let name = &t.current_process().name;
        warn!("{}", exception::UserFault { name, pid, frame, cr2 });
    });
    end_current(ExitStatus::Faulted(frame.vector as u8))
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
        t.sleepers.add(tid, time::ticks().saturating_add(ticks));
    });
    reschedule(Leave::Block);
}

/// Waits for child `pid` of the running process to end, and collects its status.
pub fn wait(pid: Pid) -> Result<ExitStatus, Error> {
    let done = with(|t| {
        let me = t.current().pid;
        let running = t.running;
        let child = t.processes.get_mut(&pid).filter(|p| p.parent == Some(me)).ok_or(Error::NotFound)?;
        if child.status.is_none() {
            child.waiter = Some(running);
            return Ok(None);
        }
        Ok(t.processes.remove(&pid).and_then(|p| p.status))
    })?;
    if let Some(status) = done {
        return Ok(status);
    }
    reschedule(Leave::Block);
    with(|t| t.processes.remove(&pid).and_then(|p| p.status)).ok_or(Error::ObjectGone)
}

/// Called on every timer tick: wakes sleepers whose time has come and preempts the running
/// thread if the scheduler says so. Only user code and the idle thread are preempted; the
/// kernel itself runs to the end of each system call.
pub fn on_timer_tick(from_user: bool) {
    let switch = with(|t| {
        if !t.started {
            return false;
        }
        let mut outranked = false;
        while let Some(tid) = t.sleepers.pop_due(time::ticks()) {
            outranked |= t.wake(tid);
        }
        let tick = t.sched.tick();
        (outranked || tick) && (from_user || t.running == IDLE)
    });
    if switch {
        reschedule(Leave::Preempt);
    }
}

/// The running process's priority and id.
pub fn current_priority() -> u8 {
    with(|t| t.current_process().priority)
}

pub fn current_pid() -> Pid {
    with(|t| t.current().pid)
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
/// `exit_when_done`, stops QEMU with success once every process has ended (for tests).
pub fn run_idle(exit_when_done: bool) -> ! {
    interrupts::disable();
    with(|t| {
        t.threads.insert(IDLE, Box::new(Thread { pid: 0, priority: 0, kstack: None, context: 0 }));
        t.started = true;
    });
    let mut announced = false;
    loop {
        interrupts::disable();
        if with(|t| t.sched.has_ready()) {
            reschedule(Leave::Block);
            continue;
        }
        if with(|t| t.processes.is_empty()) && !announced {
            info!("{ALL_ENDED_LINE}");
            announced = true;
            if exit_when_done {
                qemu::exit(ExitCode::Success);
            }
        }
        interrupts::enable_and_hlt();
    }
}
