//! Putting the scheduler's decisions into effect: how the running thread leaves the CPU
//! ([`Leave`], [`Next`]), the exit of a system call ([`leave`]), and the switch itself
//! ([`Switch`]: the incoming thread's kernel stack, I/O bitmap, FS base and page-table root,
//! then its frame or its saved kernel context). Runs with interrupts off.

use super::{preempt_pending, with, with_entry, Pid, Process, State, Tasks, Thread, HAS_REMAINS, IDLE, PREEMPT};
use crate::arch::frame::{TrapFrame, FRAME_SIZE};
use crate::arch::syscall;
use crate::mem::stack;
use crate::sched::Tid;
use alloc::collections::BTreeMap;
use ipc::msg::MsgInfo;
use ipc::syscall::Syscall;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::registers::model_specific::FsBase;
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

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

/// The length of the `syscall` instruction (0F 05), which a restarted call runs again.
const SYSCALL_INSTRUCTION_LEN: u64 = 2;

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
    /// Back to user mode at the system call itself (this one), which runs again: a long
    /// call does one slice of its work per run, and interrupts are taken between slices.
    /// [`leave`] moves the return address back onto the `syscall` instruction and puts the
    /// call's number back in RAX; the handler left the arguments as the next run needs them.
    Restart(Syscall),
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
/// that of the thread that runs instead, whose system call returns then — or, for a thread
/// that resumes inside the kernel, its saved kernel context with bit 1 set
/// ([`ENTER_CONTEXT`]). The stub enters the context itself, after it has written the
/// registers its frame left out (the general path's frame lacks the callee-saved ones).
#[inline(always)]
pub fn leave(next: Next, frame: &mut TrapFrame) -> u64 {
    // The thread's own frame, as the entry stub saved it: a system call's, at a RIP the
    // CPU gave (in user memory, so canonical), fit for `sysret`.
    let own = frame as *mut TrapFrame as u64;
    if next == Next::Return && !preempt_pending() {
        return own;
    }
    switch_at_exit(next, frame)
}

/// [`leave`] when the calling thread does not simply return: it blocks, hands the CPU to
/// another thread, or is preempted.
#[inline(never)]
fn switch_at_exit(next: Next, frame: &mut TrapFrame) -> u64 {
    // Here, off the common path, so a plain return pays nothing for it.
    if let Next::Restart(call) = next {
        frame.rip -= SYSCALL_INSTRUCTION_LEN;
        frame.rax = call as u64;
    }
    let own = frame as *mut TrapFrame as u64;
    let plan = with_entry(|t| {
        let leave = match next {
            Next::Return | Next::Restart(_) => Leave::Preempt,
            Next::Block => Leave::Block,
            Next::Handoff(tid) => Leave::Handoff(tid),
        };
        let to = t.choose(leave);
        t.leave_for(to)
    });
    match plan {
        None => own,
        Some(plan) => plan.leave_word(),
    }
}

/// Bit 1 of the general path's answer to the entry stub: a kernel context to enter, not a
/// frame. (Both are 8-byte aligned addresses; bit 0 of a frame's word says `iretq`.)
pub const ENTER_CONTEXT: u64 = 2;

/// The entry stub's word for returning to user mode from `frame`: its address, with bit 0
/// set when `sysret` cannot be used. `sysret` to a non-canonical RIP faults in kernel mode
/// (on Intel), on the user's stack; RIP comes from the CPU and user memory ends below the last
/// canonical page, so this never happens today, but a frame written in place could.
pub fn exit_word(frame: &TrapFrame) -> u64 {
    let address = frame as *const TrapFrame as u64;
    address | u64::from(!sysret_fits(frame))
}

/// Where a planned switch resumes the incoming thread.
enum Target {
    /// Inside the kernel, from this saved kernel context.
    Stack(u64),
    /// In user mode, from its trap frame: the exit word for it.
    Frame(u64),
}

/// How the fast path leaves the kernel into the thread it switched to.
pub(crate) enum Exit {
    /// By `sysret` from the thread's frame at `frame`, with the status 0 and the message
    /// in the sender's registers (see [`message_registers`]) loaded straight into the
    /// argument registers: nothing is written into the frame, whose argument slots are dead
    /// once the thread is back in user mode.
    Message { frame: u64, badge: u64 },
    /// As the general path leaves: by an exit word (see [`exit_word`]; the message is in
    /// the frame), or by a kernel context with [`ENTER_CONTEXT`] (a thread the fast path
    /// wakes always resumes from its frame, so this is never taken).
    Word(u64),
}

/// A switch decided under the lock, to be made after it is released.
pub struct Switch {
    save: *mut u64,
    to: Target,
    install: Install,
}

/// What a switch installs for the incoming thread.
struct Install {
    root: u64,
    kstack_top: Option<u64>,
    io: Option<*const crate::arch::gdt::IoBitmap>,
    /// The FS base it runs with: its IPC buffer's address.
    fs_base: u64,
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
        self.switch_to(next, core::ptr::null_mut())
    }

    /// Makes `next` the running thread and plans resuming it, from its frame or its kernel
    /// context; `save` is where the outgoing thread's context goes (null if it keeps none).
    #[inline]
    fn switch_to(&mut self, next: Tid, save: *mut u64) -> Option<Switch> {
        crate::task::ipc::note(self, ipc::trace::Kind::Switch, self.running, next, 0, 0);
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
        Switch { save, to, install: self.install_plan(processes) }
    }

    /// As [`Thread::switch_in`] and the switch itself, for a thread the fast path wakes,
    /// which resumes from its frame: the message in the sender's system-call registers `r`,
    /// with `badge`, goes to it in registers as it leaves the kernel ([`Exit::Message`]), or
    /// into its frame first if it cannot leave by `sysret`; it is made ready, and its kernel
    /// stack, I/O permissions, FS base and address space are installed at once, with the
    /// table at hand. The caller makes it the running thread and leaves as the answer says.
    #[inline(always)]
    pub(crate) fn take_message_and_switch_in(
        &mut self,
        badge: u64,
        r: &Regs,
        processes: &BTreeMap<Pid, Process>,
    ) -> Exit {
        self.state = State::Ready;
        match self.frame_mut() {
            Some(frame) if sysret_fits(frame) => {
                let address = frame as *mut TrapFrame as u64;
                // The frame is at the top of the kernel stack: its end is the stack's top.
                self.install_now(address + FRAME_SIZE as u64, processes);
                Exit::Message { frame: address, badge }
            }
            _ => self.take_message_and_switch_in_otherwise(badge, r, processes),
        }
    }

    /// [`Thread::take_message_and_switch_in`] for a thread that cannot leave by `sysret`:
    /// the message goes into its frame.
    #[cold]
    #[inline(never)]
    fn take_message_and_switch_in_otherwise(
        &mut self,
        badge: u64,
        r: &Regs,
        processes: &BTreeMap<Pid, Process>,
    ) -> Exit {
        let exit = match self.frame_mut() {
            Some(frame) => {
                write_message(frame, badge, r);
                Exit::Word(exit_word(frame))
            }
            None => Exit::Word(self.context | ENTER_CONTEXT),
        };
        self.install_plan(processes).install();
        exit
    }

    /// The fast path's install of this thread, whose kernel stack's top is `kstack_top`, with
    /// the table at hand: the I/O bitmap is only looked up when one is, or is to be, installed.
    #[inline(always)]
    fn install_now(&mut self, kstack_top: u64, processes: &BTreeMap<Pid, Process>) {
        self.in_frame = false;
        syscall::set_kernel_stack(kstack_top);
        if self.io || crate::arch::gdt::io_open() {
            set_io_of(self.io.then_some(self.pid), processes);
        }
        install_space(self.fs_base, self.root);
    }

    /// What a switch to this thread installs; it is no longer off the CPU in its frame.
    #[inline(always)]
    fn install_plan(&mut self, processes: &BTreeMap<Pid, Process>) -> Install {
        self.in_frame = false;
        let io = match self.io {
            true => processes.get(&self.pid).and_then(|p| p.io_bitmap.as_deref().map(|b| b as *const _)),
            false => None,
        };
        Install { root: self.root, kstack_top: self.kstack.as_ref().map(|s| s.top), io, fs_base: self.fs_base }
    }
}

type Regs = [u64; ipc::syscall::ARG_REGS];

/// The registers a thread woken by the fast path receives, from the message in a sender's
/// system-call registers `r`: the badge, the info word (words only, already checked) and the
/// words it counts, zeros past them (never the sender's other registers).
#[inline(always)]
pub(crate) fn message_registers(badge: u64, r: &Regs) -> Regs {
    match MsgInfo::word_count(r[1]) {
        0 => [badge, r[1], 0, 0, 0, 0],
        1 => [badge, r[1], r[2], 0, 0, 0],
        2 => [badge, r[1], r[2], r[3], 0, 0],
        3 => [badge, r[1], r[2], r[3], r[4], 0],
        _ => [badge, r[1], r[2], r[3], r[4], r[5]],
    }
}

/// Writes into a woken thread's frame the message in a sender's system-call registers `r`
/// ([`message_registers`]) and a success status, as its system call returns them: for a
/// frame the fast path cannot leave by with `sysret`.
#[cold]
fn write_message(frame: &mut TrapFrame, badge: u64, r: &Regs) {
    frame.args = message_registers(badge, r);
    frame.rax = 0;
}

/// Whether a thread can be returned to from `frame` by `sysret` (see [`exit_word`]).
#[inline(always)]
fn sysret_fits(frame: &TrapFrame) -> bool {
    frame.rip < ipc::layout::USER_END && frame.vector == syscall::SYSCALL_VECTOR
}

/// The page-table root installed on this CPU (0 until the first switch installs one).
static ROOT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The FS base installed on this CPU: every process's first thread has the same, so a switch
/// between them leaves it alone.
static FS_BASE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl Install {
    /// Installs the incoming thread's kernel stack, I/O permissions, FS base and address space.
    #[inline(always)]
    fn install(&self) {
        if let Some(top) = self.kstack_top {
            syscall::set_kernel_stack(top);
        }
        // SAFETY: the bitmap is boxed in a live process's entry, which is only removed after
        // its thread has left the CPU (and this switch installs another one before that).
        crate::arch::gdt::set_io_bitmap(self.io.map(|b| unsafe { &*b }));
        install_space(self.fs_base, self.root);
    }
}

/// Installs the I/O bitmap of process `pid`, or none.
#[cold]
#[inline(never)]
fn set_io_of(pid: Option<Pid>, processes: &BTreeMap<Pid, Process>) {
    let bitmap = pid.and_then(|pid| processes.get(&pid)).and_then(|p| p.io_bitmap.as_deref());
    crate::arch::gdt::set_io_bitmap(bitmap);
}

/// Installs an incoming thread's FS base and page-table root, where they differ from those
/// installed.
#[inline(always)]
fn install_space(fs_base: u64, root: u64) {
    use core::sync::atomic::Ordering::Relaxed;
    if FS_BASE.load(Relaxed) != fs_base {
        FS_BASE.store(fs_base, Relaxed);
        FsBase::write(VirtAddr::new_truncate(fs_base));
    }
    if ROOT.load(Relaxed) != root {
        ROOT.store(root, Relaxed);
        // SAFETY: `root` is the kernel's table or that of a live process (its space is freed
        // only after its thread is off the CPU for good); all share the kernel half, where
        // this code and stack are. A root is a table's frame: a physical address,
        // page-aligned, as `new_unsafe` and `from_start_address_unchecked` require.
        unsafe {
            let frame = PhysFrame::from_start_address_unchecked(PhysAddr::new_unsafe(root));
            Cr3::write(frame, Cr3Flags::empty());
        }
    }
}

impl Switch {
    /// Makes the switch at the general path's end: installs the incoming thread and
    /// returns its exit word, or its kernel context with [`ENTER_CONTEXT`] for the entry stub
    /// to enter, which completes the outgoing thread's frame first.
    #[inline(always)]
    fn leave_word(self) -> u64 {
        self.install.install();
        match self.to {
            Target::Frame(exit) => exit,
            Target::Stack(context) => {
                debug_assert!(context % 8 == 0, "a kernel context is a stack pointer");
                context | ENTER_CONTEXT
            }
        }
    }
}

/// Makes a planned switch: the incoming thread's kernel stack, I/O permissions and address
/// space, then its saved context or frame. Returns when the calling thread runs again.
pub fn switch(plan: Switch) {
    plan.install.install();
    match plan.to {
        // SAFETY: `save` points into the outgoing thread's boxed entry, which stays in the
        // table until the next thread frees it in `finish_switch`, after this switch;
        // `context` is the incoming thread's saved context; interrupts are off; its stack and
        // space are installed above.
        Target::Stack(context) => unsafe { crate::arch::switch::switch_context(plan.save, context) },
        // SAFETY: as above; the frame is the one at the top of the incoming thread's stack,
        // which resumes from it with nothing of its own suspended below (`in_frame`).
        Target::Frame(exit) => unsafe { crate::arch::switch::switch_to_frame(plan.save, exit & !1) },
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
