//! `fuzz`: random system calls from a seeded generator, to show that nothing a process asks
//! can crash, hang or corrupt the kernel.
//!
//! `fuzz run SEED SEEDS CALLS` is the supervisor. For each seed from SEED on it starts a
//! child, `fuzz child SEED CALLS`, with a Memory quota of its own, the boot archive and a
//! shared progress page, and watches it: the child notes each call in the page before it
//! makes it. The child ends by finishing its calls, by a call that ends it (Exit, a kill of
//! itself), or by faulting (its calls may unmap its own stack or code: that is the fuzzer
//! faulting itself, not a kernel failure). A child that makes no progress for
//! [`STALL_MS`] is blocked in a call nobody will answer — legitimately — and is killed. One line
//! per seed says how it ended and its last calls; then `fuzz: done`, with the counts and the
//! kernel's free frames and heap before and after.
//!
//! The child's arguments mix small integers, slots of the capabilities it holds and makes,
//! addresses in its own mappings, kernel-half, non-canonical and unmapped addresses, lengths
//! near `u64::MAX`, message-info words and slot pairs; its call numbers are mostly real ones,
//! and sometimes unused ones.
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicU64, Ordering};
use ipc::cap::{init_slots, Kind, Rights, Slot, CSPACE_SLOTS, GIVEN_SLOTS, SELF};
use ipc::layout::{PAGE_SIZE, USER_END};
use ipc::msg::{slot_pair, MsgInfo};
use ipc::syscall::{ExitStatus, MapFlags, Syscall, ARG_REGS, PRIORITY_DEFAULT};
use rt::cap::{self, Grant};
use rt::{ipc, println, sys};

rt::main!(main);

/// Where supervisor and child map the progress page.
const PROGRESS_AT: u64 = 0x5000_0000_0000;
/// The calls a child's line shows, the last ones before it ended.
const SHOWN: usize = 4;
/// A child that has made no call for this long is blocked.
const STALL_MS: u64 = 100;
/// How often the supervisor looks at the progress page.
const TICK_MS: u64 = 10;
/// Each child's Memory quota.
const QUOTA: u64 = 4 << 20;
/// The slots a child's arguments name: its given ones and the ones its calls make.
const SLOTS: u64 = GIVEN_SLOTS + 32;

/// The progress page: the number of calls begun, then the last [`SHOWN`] calls, each as its
/// number and six arguments, in a ring indexed by call count.
struct Progress(&'static [AtomicU64; 1 + SHOWN * 7]);

impl Progress {
    fn map() -> Option<Progress> {
        // SAFETY: the page at PROGRESS_AT is mapped (by the caller, before this) for as long
        // as the process lives, and only ever read and written through atomics.
        Some(Progress(unsafe { &*(PROGRESS_AT as *const [AtomicU64; 1 + SHOWN * 7]) }))
    }

    fn note(&self, n: u64, number: u64, args: &[u64; ARG_REGS]) {
        let at = 1 + (n as usize % SHOWN) * 7;
        self.0[at].store(number, Ordering::Relaxed);
        for (i, a) in args.iter().enumerate() {
            self.0[at + 1 + i].store(*a, Ordering::Relaxed);
        }
        self.0[0].store(n + 1, Ordering::Release);
    }

    fn calls(&self) -> u64 {
        self.0[0].load(Ordering::Acquire)
    }

    fn show(&self) {
        let n = self.calls();
        for k in n.saturating_sub(SHOWN as u64)..n {
            let at = 1 + (k as usize % SHOWN) * 7;
            let w = |i: usize| self.0[at + i].load(Ordering::Relaxed);
            println!(
                "fuzz:   call {k}: number {} args {:#x} {:#x} {:#x} {:#x} {:#x} {:#x}",
                w(0),
                w(1),
                w(2),
                w(3),
                w(4),
                w(5),
                w(6)
            );
        }
    }
}

fn main(args: rt::Args) -> u64 {
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    match (args.get(0), num(1), num(2), num(3)) {
        (Some("run"), Some(seed), Some(seeds), Some(calls)) => supervise(seed, seeds, calls),
        (Some("child"), Some(seed), Some(calls), None) => child(seed, calls),
        _ => {
            println!("usage: fuzz run SEED SEEDS CALLS | fuzz child SEED CALLS");
            2
        }
    }
}

/// How one child ended.
enum End {
    /// It made all its calls.
    Finished,
    /// A call of its own ended it early: `Exit` with this code, or a kill of itself (None).
    Ended(Option<u64>),
    /// A CPU exception with this vector stopped it: it unmapped or overwrote its own memory.
    Faulted(u8),
    /// It made no call for [`STALL_MS`]: blocked in a call nobody will answer.
    Blocked,
}

impl End {
    fn index(&self) -> usize {
        match self {
            End::Finished => 0,
            End::Ended(_) => 1,
            End::Faulted(_) => 2,
            End::Blocked => 3,
        }
    }
}

fn supervise(first: u64, seeds: u64, calls: u64) -> u64 {
    match supervise_all(first, seeds, calls) {
        Ok(()) => 0,
        Err(e) => {
            println!("fuzz: the supervisor failed: {e}");
            1
        }
    }
}

fn supervise_all(first: u64, seeds: u64, calls: u64) -> Result<(), ipc::Error> {
    let page = cap::create(Kind::Frame, 1)?;
    sys::frame_map(page, PROGRESS_AT, MapFlags::WRITE, SELF)?;
    let progress = Progress::map().ok_or(ipc::Error::BadAddress)?;
    let note = cap::create(Kind::Notification, 0)?;
    let (tick, exit) = (cap::badged(note, 1)?, cap::badged(note, 2)?);
    let (mut frames_before, mut heap_before) = sys::mem_stats();
    let (mut made, mut counts) = (0, [0u64; 4]);
    for seed in first..first + seeds {
        // The baseline is taken after the first child: kernel tables that only grow (the
        // page tables of the kernel-stack region, the heap's free list) reach their size.
        if seed == first + 1 {
            (frames_before, heap_before) = sys::mem_stats();
        }
        for word in progress.0.iter() {
            word.store(0, Ordering::Relaxed);
        }
        let quota = cap::alloc()?;
        sys::create(init_slots::MEMORY, Kind::Memory, quota, QUOTA)?;
        let grants = [
            Grant::new(quota, init_slots::MEMORY, Rights::ALL),
            Grant::new(init_slots::ARCHIVE, init_slots::ARCHIVE, Rights::READ),
            Grant::new(page, 2, Rights::READ.union(Rights::WRITE)),
        ];
        let args = alloc::format!("child {seed} {calls}");
        let spawned =
            cap::spawn_with("fuzz", &args, PRIORITY_DEFAULT - 1, &grants, |p| sys::process_notify_exit(p, exit))?;
        let end = watch(spawned.slot, &progress, note, tick, calls)?;
        let done = progress.calls();
        made += done;
        let what = match end {
            End::Finished => "finished".into(),
            End::Ended(Some(code)) => alloc::format!("ended itself (exit code {code})"),
            End::Ended(None) => "ended itself (killed itself)".into(),
            End::Faulted(vector) => alloc::format!("faulted itself (vector {vector})"),
            End::Blocked => alloc::format!("blocked for {STALL_MS} ms, killed"),
        };
        counts[end.index()] += 1;
        println!("fuzz: seed {seed}: {done} calls, {what}");
        if !matches!(end, End::Finished) {
            progress.show();
        }
        cap::release(spawned.slot);
        sys::cap_revoke(quota)?;
        cap::release(quota);
    }
    let (frames_after, heap_after) = sys::mem_stats();
    println!(
        "fuzz: done: {seeds} seeds, {made} calls: {} finished, {} ended themselves, {} faulted themselves, {} blocked; \
         free frames {frames_before} -> {frames_after}, kernel heap {heap_before} -> {heap_after} bytes",
        counts[0], counts[1], counts[2], counts[3]
    );
    Ok(())
}

/// Waits for the child in `process` to end, or kills it once it stalls.
fn watch(process: Slot, progress: &Progress, note: Slot, tick: Slot, calls: u64) -> Result<End, ipc::Error> {
    let (mut seen, mut still) = (u64::MAX, 0);
    loop {
        sys::timer_set(tick, TICK_MS * 1000)?;
        let bits = sys::ntfn_wait(note)?;
        if bits & 2 != 0 {
            return Ok(match sys::wait(process)? {
                ExitStatus::Exited(0) if progress.calls() >= calls => End::Finished,
                ExitStatus::Exited(code) => End::Ended(Some(code)),
                ExitStatus::Killed => End::Ended(None),
                ExitStatus::Faulted(vector) => End::Faulted(vector),
            });
        }
        let now = progress.calls();
        if now != seen {
            (seen, still) = (now, 0);
            continue;
        }
        still += TICK_MS;
        if still >= STALL_MS {
            sys::process_kill(process)?;
            // Its exit notice comes too: take it, so the next child's wait starts clean.
            let _ = sys::ntfn_wait(note);
            return Ok(End::Blocked);
        }
    }
}

/// The child: `calls` random system calls from `seed`.
fn child(seed: u64, calls: u64) -> u64 {
    if sys::frame_map(2, PROGRESS_AT, MapFlags::WRITE, SELF).is_err() {
        return 1;
    }
    let Some(progress) = Progress::map() else { return 1 };
    // A notification bound to this thread, with the timer armed before each call that waits
    // for a message or a signal: a receive with nobody to send wakes up when it fires.
    let Ok(alarm) = cap::create(Kind::Notification, 0) else { return 1 };
    if sys::ntfn_bind(alarm).is_err() {
        return 1;
    }
    let mut gen = Gen::new(seed);
    let mut buffer = [0u8; 256];
    let mut succeeded = [0u32; Syscall::ALL.len() + 1];
    let local = buffer.as_mut_ptr() as u64;
    for n in 0..calls {
        let (number, args) = gen.call(local);
        progress.note(n, number, &args);
        if WAITS.contains(&number) {
            let _ = sys::timer_set(alarm, ALARM_US);
        }
        // SAFETY: none: this is the fuzzer. A call may unmap or overwrite this process's own
        // memory; the process may then fault, which the supervisor counts. The kernel must
        // come to no harm whatever the call.
        let done = unsafe { sys::raw(number, args) };
        if done.is_ok() {
            if let Some(count) = succeeded.get_mut(number as usize) {
                *count += 1;
            }
        }
    }
    core::hint::black_box(&mut buffer);
    // Which calls got through the kernel's checks, by number: what the run reached.
    let mut line = alloc::string::String::new();
    for (number, count) in succeeded.iter().enumerate().filter(|(_, c)| **c > 0) {
        line += &alloc::format!(" {number}:{count}");
    }
    println!("fuzz: seed {seed}: succeeded by call number:{line}");
    0
}

/// Calls that wait for a message or signal, before which the child arms its alarm.
const WAITS: [u64; 3] = [Syscall::Recv as u64, Syscall::ReplyRecv as u64, Syscall::NtfnWait as u64];
/// How long the alarm gives them.
const ALARM_US: u64 = 2_000;

/// The generator: xorshift64*, and the shapes arguments are drawn from.
struct Gen(u64);

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
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
            0 => self.below(3),
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

    fn call(&mut self, local: u64) -> (u64, [u64; ARG_REGS]) {
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
        // A slot pair now and then, where Recv and ReplyRecv take one.
        if self.below(4) == 0 {
            args[0] = slot_pair(self.below(SLOTS), self.below(CSPACE_SLOTS + 4));
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
            Syscall::ThreadPriority | Syscall::ThreadSuspend | Syscall::ThreadResume | Syscall::ThreadEnd => {
                a[0] = self.slot();
                a[1] = self.below(PRIORITY_DEFAULT as u64 + 1);
            }
            _ => {}
        }
    }
}

/// Programs a child may make processes of: ones that end by themselves, and one that is not
/// in the archive.
const NAMES: [&str; 3] = ["sleeper", "fault", "no-such-program"];
/// Where the child's own maps go.
const PLAY_AT: u64 = 0x4000_0000_0000;
