//! `fuzz`: random system calls from a seeded generator, to show that nothing a process asks
//! can crash, hang or corrupt the kernel.
//!
//! `fuzz run SEED SEEDS CALLS PROCS` is the supervisor. It runs the seeds from SEED on in
//! batches of PROCS children at once, `fuzz child SEED CALLS INDEX`. Each child has a Memory
//! quota of its own, the boot archive, a region of a shared progress page, and the batch's
//! shared endpoints and notifications, so that the children's sends and receives meet and
//! capabilities pass between them. A child notes each call in its region before it makes it.
//! It ends by finishing its calls, by a call that ends it (a kill of itself), or by faulting
//! (its calls may unmap its own stack or code: that is the fuzzer faulting itself, not a
//! kernel failure). A child that makes no progress for [`STALL_MS`] is blocked in a call
//! nobody will answer — legitimately — and is killed. One line per seed says how it ended and
//! its last calls; then `fuzz: done`, with the counts and the kernel's free frames and heap
//! before and after. With TOTAL (`fuzz run SEED SEEDS CALLS PROCS TOTAL`), seeds go on past
//! the SEEDS first until the children have made TOTAL calls in all (children that end early
//! make fewer than CALLS), up to [`MORE_SEEDS`] times as many seeds.
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
use rt::rand::XorShift;
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

/// Words of a child's region of the progress page: the number of calls begun, then the last
/// [`SHOWN`] calls, each as its number and six arguments, in a ring indexed by call count.
const REGION: usize = 1 + SHOWN * 7;
/// Children running at once, at most: their regions share one page.
const PROCS_MAX: u64 = 8;

/// One child's region of the progress page.
struct Progress(&'static [AtomicU64]);

impl Progress {
    /// The region of child `index`, in the page mapped at [`PROGRESS_AT`].
    fn map(index: u64) -> Option<Progress> {
        if index >= PROCS_MAX {
            return None;
        }
        // SAFETY: the page at PROGRESS_AT is mapped (by the caller, before this) for as long
        // as the process lives, and only ever read and written through atomics; PROCS_MAX
        // regions fit in it.
        let page = unsafe { &*(PROGRESS_AT as *const [AtomicU64; PROCS_MAX as usize * REGION]) };
        let at = index as usize * REGION;
        Some(Progress(&page[at..at + REGION]))
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

    fn clear(&self) {
        for word in self.0 {
            word.store(0, Ordering::Relaxed);
        }
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
    match (args.get(0), num(1), num(2), num(3), num(4)) {
        (Some("run"), Some(seed), Some(seeds), Some(calls), Some(procs)) if (1..=PROCS_MAX).contains(&procs) => {
            supervise(seed, seeds, calls, procs, num(5).unwrap_or(0))
        }
        (Some("child"), Some(seed), Some(calls), Some(index), None) => child(seed, calls, index),
        _ => {
            println!(
                "usage: fuzz run SEED SEEDS CALLS PROCS [TOTAL] (PROCS 1..={PROCS_MAX}) | fuzz child SEED CALLS INDEX"
            );
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

fn supervise(first: u64, seeds: u64, calls: u64, procs: u64, total: u64) -> u64 {
    match supervise_all(first, seeds, calls, procs, total) {
        Ok(()) => 0,
        Err(e) => {
            println!("fuzz: the supervisor failed: {e}");
            1
        }
    }
}

/// The objects every child of a batch is given, in its slots from [`SHARED_FIRST`] on: four
/// endpoints and two notifications, so that the children's sends, calls, receives and
/// signals meet each other's, and capabilities pass between them.
const SHARED: [Kind; 6] =
    [Kind::Endpoint, Kind::Endpoint, Kind::Endpoint, Kind::Endpoint, Kind::Notification, Kind::Notification];
const SHARED_FIRST: Slot = 3;
/// The first this many of [`SHARED`] are endpoints.
const ENDPOINTS: usize = 4;

/// Messages the partner threads have taken.
static TAKEN: AtomicU64 = AtomicU64::new(0);

/// A partner: receives on `endpoint` until it goes, answering each call with the words it
/// carried (a send's answer is dropped by the kernel: its reply slot holds no caller). The
/// capabilities a message brings are accepted, to exercise the transfer, and deleted.
fn partner(endpoint: Slot) {
    let Ok(reply) = cap::alloc() else { return };
    if let Ok(incoming) = cap::alloc() {
        cap::set_recv_slot(0, incoming);
        answer_all(endpoint, reply, incoming);
        cap::release(incoming);
    }
    cap::release(reply);
}

fn answer_all(endpoint: Slot, reply: Slot, incoming: Slot) {
    let Ok(mut m) = sys::recv(endpoint, reply) else { return };
    loop {
        TAKEN.fetch_add(1, Ordering::Relaxed);
        let _ = sys::cap_delete(incoming);
        let info = m.info();
        m.info = MsgInfo::new(info.label, info.words as usize, 0).encode();
        if sys::reply_recv_in_place(endpoint, reply, &mut m).is_err() {
            return;
        }
    }
}

/// One running child of a batch.
struct Running {
    seed: u64,
    process: Slot,
    quota: Slot,
    progress: Progress,
    /// The call count last seen, and for how long it has not moved.
    seen: u64,
    still: u64,
    end: Option<End>,
}

/// How many times the seeds asked for a run with a TOTAL may go on to.
const MORE_SEEDS: u64 = 10;

fn supervise_all(first: u64, seeds: u64, calls: u64, procs: u64, total: u64) -> Result<(), ipc::Error> {
    let page = cap::create(Kind::Frame, 1)?;
    sys::frame_map(page, PROGRESS_AT, MapFlags::WRITE, SELF)?;
    let note = cap::create(Kind::Notification, 0)?;
    // Badge bit 0 is the tick; bit 1 + i is child i's end.
    let tick = cap::badged(note, 1)?;
    let mut ends = alloc::vec::Vec::new();
    for i in 0..procs {
        ends.push(cap::badged(note, 2 << i)?);
    }
    warm_up(procs)?;
    let (mut frames_before, mut heap_before) = sys::mem_stats();
    let (mut made, mut counts) = (0, [0u64; 4]);
    let mut seed = first;
    let last = first + seeds * MORE_SEEDS;
    while seed < first + seeds || (made < total && seed < last) {
        // The baseline is taken after the first batch: kernel tables that only grow (the
        // page tables of the kernel-stack region, the heap's free list) reach their size.
        if seed == first + procs {
            (frames_before, heap_before) = sys::mem_stats();
        }
        let batch = if seed < first + seeds { procs.min(first + seeds - seed) } else { procs };
        let mut shared = alloc::vec::Vec::new();
        for kind in SHARED {
            shared.push(cap::create(kind, 0)?);
        }
        // A partner thread receives on each shared endpoint and answers what comes, so that a
        // child's send or call there has someone to meet even when no child receives.
        let mut partners = alloc::vec::Vec::new();
        for &endpoint in shared.iter().take(ENDPOINTS) {
            partners.push(rt::thread::spawn(move || partner(endpoint))?);
        }
        let mut running = alloc::vec::Vec::new();
        for i in 0..batch {
            running.push(start(seed + i, calls, i, page, &shared, ends[i as usize])?);
        }
        watch(&mut running, note, tick, calls)?;
        for r in running {
            let end = r.end.unwrap_or(End::Blocked);
            let done = r.progress.calls();
            made += done;
            let what = match end {
                End::Finished => "finished".into(),
                End::Ended(Some(code)) => alloc::format!("ended itself (exit code {code})"),
                End::Ended(None) => "ended itself (killed)".into(),
                End::Faulted(vector) => alloc::format!("faulted itself (vector {vector})"),
                End::Blocked => alloc::format!("blocked for {STALL_MS} ms, killed"),
            };
            counts[end.index()] += 1;
            println!("fuzz: seed {}: {done} calls, {what}", r.seed);
            if !matches!(end, End::Finished) {
                r.progress.show();
            }
            cap::release(r.process);
            sys::cap_revoke(r.quota)?;
            cap::release(r.quota);
        }
        // The endpoints' last capabilities go: their partners' receives fail, and they end.
        for slot in shared {
            sys::cap_revoke(slot)?;
            cap::release(slot);
        }
        for thread in partners {
            thread.join()?;
        }
        seed += batch;
    }
    let (frames_after, heap_after) = sys::mem_stats();
    println!(
        "fuzz: done: {} seeds ({first}..{seed}), {made} calls: {} finished, {} ended themselves, {} faulted themselves, {} blocked; \
         partners took {} messages; \
         free frames {frames_before} -> {frames_after}, kernel heap {heap_before} -> {heap_after} bytes",
        seed - first,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        TAKEN.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Set when the warm-up's threads may end.
static WARM: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Raises the kernel's tables to the size a batch can make them reach, before the baseline.
/// The kernel keeps the page tables of its kernel-stack region once made, and gives each new
/// thread the lowest free stack slot, so the first time more threads are alive at once than
/// ever before, a page table is added and stays: growth to a high-water mark, not a leak.
/// A batch has at most about [`THREADS_PER_CHILD`] threads alive per child, so that many
/// threads of the supervisor's own, alive at once, take the mark past anything a batch
/// reaches.
fn warm_up(procs: u64) -> Result<(), ipc::Error> {
    let mut threads = alloc::vec::Vec::new();
    for _ in 0..procs * THREADS_PER_CHILD + ENDPOINTS as u64 {
        threads.push(rt::thread::spawn(|| {
            while !WARM.load(Ordering::Acquire) {
                sys::sleep(1);
            }
        })?);
    }
    WARM.store(true, Ordering::Release);
    for thread in threads {
        thread.join()?;
    }
    Ok(())
}

/// Threads a child may have alive at once, with a margin: its first, one per stack it maps
/// for them, and those that start on another stack and fault at once.
const THREADS_PER_CHILD: u64 = 1 + THREAD_STACKS_COUNT + 8;

/// Starts child `index` of a batch, for `seed`, with its own quota, the archive, the progress
/// page and the batch's shared objects; `end` is signalled when it ends.
fn start(seed: u64, calls: u64, index: u64, page: Slot, shared: &[Slot], end: Slot) -> Result<Running, ipc::Error> {
    let progress = Progress::map(index).ok_or(ipc::Error::InvalidArgument)?;
    progress.clear();
    let quota = cap::alloc()?;
    sys::create(init_slots::MEMORY, Kind::Memory, quota, QUOTA)?;
    let mut grants = alloc::vec![
        Grant::new(quota, init_slots::MEMORY, Rights::ALL),
        Grant::new(init_slots::ARCHIVE, init_slots::ARCHIVE, Rights::READ.union(Rights::WRITE)),
        Grant::new(page, 2, Rights::READ.union(Rights::WRITE)),
    ];
    for (i, slot) in shared.iter().enumerate() {
        grants.push(Grant::new(*slot, SHARED_FIRST + i as Slot, Rights::ALL));
    }
    let args = alloc::format!("child {seed} {calls} {index}");
    let spawned = cap::spawn_with("fuzz", &args, PRIORITY_DEFAULT - 1, &grants, |p| sys::process_notify_exit(p, end))?;
    Ok(Running { seed, process: spawned.slot, quota, progress, seen: u64::MAX, still: 0, end: None })
}

/// Waits for every child of a batch to end, killing those that stall.
fn watch(running: &mut [Running], note: Slot, tick: Slot, calls: u64) -> Result<(), ipc::Error> {
    while running.iter().any(|r| r.end.is_none()) {
        sys::timer_set(tick, TICK_MS * 1000)?;
        let bits = sys::ntfn_wait(note)?;
        for (i, r) in running.iter_mut().enumerate() {
            if r.end.is_some() {
                continue;
            }
            if bits & (2 << i) != 0 {
                r.end = Some(match sys::wait(r.process)? {
                    ExitStatus::Exited(0) if r.progress.calls() >= calls => End::Finished,
                    ExitStatus::Exited(code) => End::Ended(Some(code)),
                    ExitStatus::Killed => End::Ended(None),
                    ExitStatus::Faulted(vector) => End::Faulted(vector),
                });
                continue;
            }
            let now = r.progress.calls();
            if now != r.seen {
                (r.seen, r.still) = (now, 0);
                continue;
            }
            r.still += TICK_MS;
            if r.still >= STALL_MS {
                sys::process_kill(r.process)?;
                r.end = Some(End::Blocked);
            }
        }
    }
    // The kills' exit notices, if they have not come yet: the next batch starts clean.
    let _ = sys::poll(note);
    Ok(())
}

/// The child: `calls` random system calls from `seed`.
fn child(seed: u64, calls: u64, index: u64) -> u64 {
    if sys::frame_map(2, PROGRESS_AT, MapFlags::WRITE, SELF).is_err() {
        return 1;
    }
    let Some(progress) = Progress::map(index) else { return 1 };
    // A notification bound to this thread, with the timer armed before each call that waits
    // for a message or a signal: a receive with nobody to send wakes up when it fires.
    let Ok(alarm) = cap::create(Kind::Notification, 0) else { return 1 };
    if sys::ntfn_bind(alarm).is_err() {
        return 1;
    }
    if sys::map(THREAD_STACKS, THREAD_STACKS_COUNT * THREAD_STACK, MapFlags::WRITE).is_err() {
        return 1;
    }
    let mut gen = Gen::new(seed);
    let mut buffer = [0u8; 256];
    let mut succeeded = [0u32; Syscall::ALL.len() + 1];
    let local = buffer.as_mut_ptr() as u64;
    for n in 0..calls {
        let (number, args) = gen.call(local);
        progress.note(n, number, &args);
        // A receive is woken by the bound alarm; a wait on a notification by that notification
        // itself, if it is one the timer may signal.
        if number == Syscall::NtfnWait as u64 {
            let _ = sys::timer_set(args[0], ALARM_US);
        } else if WAITS.contains(&number) {
            let _ = sys::timer_set(alarm, ALARM_US);
        }
        // SAFETY: none: this is the fuzzer. A call may unmap or overwrite this process's own
        // memory; the process may then fault, which the supervisor counts. The kernel must
        // come to no harm whatever the call.
        let done = unsafe { sys::raw(number, args) };
        settle(number, &args, done.is_ok());
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
const WAITS: [u64; 2] = [Syscall::Recv as u64, Syscall::ReplyRecv as u64];
/// How long the alarm gives them.
const ALARM_US: u64 = 2_000;

/// The generator (`rt::rand`'s xorshift64*), and the shapes arguments are drawn from.
struct Gen(XorShift);

impl Gen {
    fn new(seed: u64) -> Gen {
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
const THREAD_STACKS: u64 = 0x4800_0000_0000;
const THREAD_STACK: u64 = 4 * PAGE_SIZE;
const THREAD_STACKS_COUNT: u64 = 16;
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
fn settle(number: u64, args: &[u64; ARG_REGS], ok: bool) {
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
