//! The generator of a child's calls: call numbers, arguments of every shape, and the threads
//! a child makes, which make random calls too.

use crate::{PROGRESS_AT, SHARED, SHARED_FIRST, SLOTS};
use core::sync::atomic::{AtomicU64, Ordering};
use ipc::cap::{init_slots, Kind, CSPACE_SLOTS, GIVEN_SLOTS, SELF};
use ipc::layout::{PAGE_SIZE, USER_END};
use ipc::msg::{slot_pair, MsgInfo};
use ipc::syscall::{Syscall, ARG_REGS, PRIORITY_DEFAULT, REPLY_IN_THREAD};
use rt::ipc;
use rt::rand::XorShift;
use rt::sys;

/// Calls that wait for a message or signal, before which the child arms its alarm.
pub const WAITS: [u64; 2] = [Syscall::Recv as u64, Syscall::ReplyRecv as u64];
/// How long the alarm gives them.
pub const ALARM_US: u64 = 2_000;

/// The generator (`rt::rand`'s xorshift64*), and the shapes arguments are drawn from.
pub struct Gen(XorShift);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(XorShift::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.word()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    /// A call number: mostly a real one (never Exit, which would only end the run early),
    /// sometimes one that is not.
    fn number(&mut self) -> u64 {
        loop {
            let number = match self.below(16) {
                0 => [8, Syscall::ALL.len() as u64 + 1, 1 << 32, u64::MAX][self.below(4) as usize],
                _ => Syscall::ALL[self.below(Syscall::ALL.len() as u64) as usize] as u64,
            };
            if number != Syscall::Exit as u64 {
                return number;
            }
        }
    }

    /// One argument word; `local` is the address of a buffer of the caller's own.
    fn arg(&mut self, local: u64) -> u64 {
        let small = self.below(16);
        match self.below(12) {
            0..=3 => self.below(SLOTS),
            4 => small,
            5 => local + self.below(256),
            6 => ipc::boot::KERNEL_BASE + self.below(1 << 20) * 8,
            7 => 0x8000_0000_0000_0000 | self.next() >> 1,
            8 => [0, PAGE_SIZE, USER_END - 8, USER_END, PROGRESS_AT, 0x10_0000][self.below(6) as usize] + small,
            9 => u64::MAX - small,
            10 => (self.next() & 0xffff_ffff_0000_0000) | self.below(160) | self.below(5) << 8,
            _ => self.next(),
        }
    }

    /// A slot the child may hold something in: a given one, or one its calls fill.
    fn slot(&mut self) -> u64 {
        match self.below(8) {
            0..=2 => self.below(SHARED_FIRST + SHARED.len() as u64),
            _ => GIVEN_SLOTS + self.below(SLOTS - GIVEN_SLOTS),
        }
    }

    /// An info word a sender might use: a label, a few words, now and then a capability.
    fn info(&mut self) -> u64 {
        let caps = u64::from(self.below(4) == 0);
        MsgInfo::new(self.below(4) as u32, self.below(9) as usize, caps as usize).encode()
    }

    /// A page in the child's own play area, where its maps go.
    fn page(&mut self) -> u64 {
        PLAY_AT + self.below(64) * PAGE_SIZE
    }

    pub fn call(&mut self, local: u64) -> (u64, [u64; ARG_REGS]) {
        let number = self.number();
        let mut args = [0; ARG_REGS];
        for a in args.iter_mut() {
            *a = self.arg(local);
        }
        // Three calls in four get arguments of the shape the call takes (valid or nearly), so
        // that they pass the first checks and reach the code behind them; the rest stay random.
        if self.below(4) != 0 {
            self.shape(number, &mut args, local);
        }
        // A slot pair now and then, where Recv and ReplyRecv take one; its reply half past the
        // slots, or the thread's own (the last of the four values past them).
        if self.below(4) == 0 {
            let endpoint = self.below(SLOTS);
            let reply = match self.below(CSPACE_SLOTS + 4) {
                r if r == CSPACE_SLOTS + 3 => REPLY_IN_THREAD,
                r => r,
            };
            args[0] = slot_pair(endpoint, reply);
        }
        // Short sleeps only: a long one would just stall the run (the supervisor would kill
        // it as blocked), and tells nothing a short one does not.
        if number == Syscall::Sleep as u64 {
            args[0] = self.below(3);
        }
        (number, args)
    }

    fn shape(&mut self, number: u64, a: &mut [u64; ARG_REGS], local: u64) {
        let Ok(call) = Syscall::try_from(number) else { return };
        let rights = self.below(16);
        match call {
            Syscall::Create => {
                let kind = [Kind::Endpoint, Kind::Notification, Kind::Frame, Kind::Memory][self.below(4) as usize];
                let size = if kind == Kind::Memory { PAGE_SIZE << self.below(5) } else { self.below(4) };
                *a = [init_slots::MEMORY, kind as u64, self.slot(), size, 0, 0];
            }
            Syscall::CapCopy => *a = [self.slot(), self.slot(), rights, SELF, 0, 0],
            Syscall::CapMint => *a = [self.slot(), self.slot(), rights, self.below(8), SELF, 0],
            Syscall::CapMove => *a = [self.slot(), self.slot(), SELF, 0, 0, 0],
            Syscall::CapDelete | Syscall::CapRevoke | Syscall::CapInspect => a[0] = self.slot(),
            Syscall::Send | Syscall::NbSend | Syscall::Call => {
                a[0] = self.slot();
                a[1] = self.info();
            }
            Syscall::Recv => a[0] = slot_pair(self.slot(), self.slot()),
            Syscall::ReplyRecv => {
                a[0] = slot_pair(self.slot(), self.slot());
                a[1] = self.info();
            }
            Syscall::Signal | Syscall::NtfnWait | Syscall::Poll | Syscall::NtfnBind | Syscall::Wait => {
                a[0] = self.slot()
            }
            Syscall::ProcessKill | Syscall::ProcessInfo => a[0] = self.slot(),
            Syscall::FrameMap => *a = [self.slot(), self.page(), self.below(8), SELF, 0, 0],
            Syscall::Map => *a = [self.page(), PAGE_SIZE * (1 + self.below(4)), self.below(8), 0, 0, 0],
            Syscall::Unmap => *a = [self.page(), PAGE_SIZE * (1 + self.below(4)), 0, 0, 0, 0],
            Syscall::ProcessCreate => {
                let name = NAMES[self.below(NAMES.len() as u64) as usize];
                *a = [init_slots::MEMORY, init_slots::ARCHIVE, name.as_ptr() as u64, name.len() as u64, self.slot(), 0];
            }
            Syscall::ProcessStart => {
                *a = [self.slot(), local, self.below(16), self.below(PRIORITY_DEFAULT as u64), 0, 0]
            }
            Syscall::ProcessSetFault | Syscall::ProcessNotifyExit => *a = [self.slot(), self.slot(), 0, 0, 0, 0],
            Syscall::TimerSet => *a = [self.slot(), self.below(5_000), 0, 0, 0, 0],
            // A thread of its own (or of a process it made) that makes random calls too, on
            // one of the stacks mapped for them; now and then one that starts anywhere.
            Syscall::ThreadCreate => {
                let target = if self.below(4) == 0 { self.slot() } else { SELF };
                let entry = if self.below(8) == 0 { a[1] } else { thread_body as *const () as u64 };
                let seed = self.next() << 8;
                let (stack, arg) = match (target == SELF).then(take_stack).flatten() {
                    Some(index) => (stack_top(index), seed | OWN_STACK | index),
                    None => (a[2], seed),
                };
                *a = [target, entry, stack, arg, self.slot(), 0];
            }
            Syscall::ThreadPriority | Syscall::ThreadSuspend | Syscall::ThreadResume | Syscall::ThreadEnd => {
                a[0] = self.slot();
                a[1] = self.below(PRIORITY_DEFAULT as u64 + 1);
            }
            _ => {}
        }
    }
}

/// Where the stacks of the threads a child makes are mapped: [`THREAD_STACKS_COUNT`] of
/// [`THREAD_STACK`] bytes, apart from the play area so that its unmaps leave them be (the
/// random calls still may, now and then: the child then faults itself).
pub const THREAD_STACKS: u64 = 0x4800_0000_0000;
pub const THREAD_STACK: u64 = 4 * PAGE_SIZE;
pub const THREAD_STACKS_COUNT: u64 = 16;
/// The calls a thread the child makes makes before it ends itself.
const THREAD_CALLS: u64 = 64;

/// Which thread stacks are taken, a bit each. A thread gives its stack back as it ends; one
/// ended by another thread's call never does, and once all are taken new threads get a
/// random stack address (and most likely fault, ending the child).
static STACKS_TAKEN: AtomicU64 = AtomicU64::new(0);

/// A free thread stack's index, now taken.
fn take_stack() -> Option<u64> {
    let all = (1u64 << THREAD_STACKS_COUNT) - 1;
    let taken =
        STACKS_TAKEN.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| (t != all).then(|| t | (t + 1))).ok()?;
    Some((!taken).trailing_zeros() as u64)
}

fn give_stack(index: u64) {
    STACKS_TAKEN.fetch_and(!(1 << index), Ordering::Release);
}

/// The top of thread stack `index`, as after a `call`.
fn stack_top(index: u64) -> u64 {
    THREAD_STACKS + (1 + index) * THREAD_STACK - 8
}

/// In a thread's start argument: bit 4 says it was given thread stack `arg & 0xf`.
const OWN_STACK: u64 = 0x10;

/// After a call: a ThreadCreate that failed gives back the stack it took.
pub fn settle(number: u64, args: &[u64; ARG_REGS], ok: bool) {
    if number == Syscall::ThreadCreate as u64 && !ok && args[3] & OWN_STACK != 0 {
        give_stack(args[3] & 0xf);
    }
}

/// Where a child's extra thread starts: [`THREAD_CALLS`] random calls from the seed in `rdi`
/// (which also says which stack it was given, [`OWN_STACK`]), then its end.
extern "C" fn thread_body(arg: u64) -> ! {
    let mut gen = Gen::new(arg);
    let mut buffer = [0u8; 256];
    let local = buffer.as_mut_ptr() as u64;
    for _ in 0..THREAD_CALLS {
        let (number, args) = gen.call(local);
        // SAFETY: none, as for the child's own calls.
        let done = unsafe { sys::raw(number, args) };
        settle(number, &args, done.is_ok());
    }
    core::hint::black_box(&mut buffer);
    if arg & OWN_STACK != 0 {
        give_stack(arg & 0xf);
    }
    // The stack is no longer this thread's: from here to its end it must not touch it (a new
    // thread may already be starting on it), so the last call is made from registers alone.
    // SAFETY: ThreadEnd on the caller does not return; nothing here uses the stack.
    unsafe {
        core::arch::asm!(
            "syscall",
            in("rax") Syscall::ThreadEnd as u64,
            in("rdi") SELF,
            options(noreturn, nostack)
        )
    }
}

/// Programs a child may make processes of: ones that end by themselves, and one that is not
/// in the archive.
const NAMES: [&str; 3] = ["sleeper", "fault", "no-such-program"];
/// Where the child's own maps go.
const PLAY_AT: u64 = 0x4000_0000_0000;
