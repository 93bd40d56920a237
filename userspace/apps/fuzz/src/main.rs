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
//! make fewer than CALLS), up to [`MORE_SEEDS`] times as many seeds. A line starts each batch
//! ([`ipc::fuzz::BATCH_LINE`]), so that the batch a kernel failure came in is known.
//!
//! `fuzz replay` runs the replay file's batches (`ipc::fuzz`), each child making
//! only the calls its line keeps, and showing them when there are few: how `cargo xtask fuzz`
//! shrinks a failure. With `plant` after either, a child that copies or mints a capability into
//! a slot and then inspects that slot ends with [`ipc::fuzz::PLANTED_EXIT`], and the supervisor
//! fails: a failure with a known shortest sequence, to try the shrinker on.
//!
//! The child's arguments mix small integers, slots of the capabilities it holds and makes,
//! addresses in its own mappings, kernel-half, non-canonical and unmapped addresses, lengths
//! near `u64::MAX`, message-info words and slot pairs; its call numbers are mostly real ones,
//! and sometimes unused ones.
#![no_std]
#![no_main]

extern crate alloc;

mod child;
mod gen;

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use gen::THREAD_STACKS_COUNT;
use ipc::cap::{init_slots, Kind, Rights, Slot, GIVEN_SLOTS, SELF};
use ipc::fuzz::{ReplayBatch, BATCH_LINE, PLANTED_EXIT, REPLAY_PATH, SUPERVISOR_FAILED};
use ipc::msg::MsgInfo;
use ipc::syscall::{ExitStatus, MapFlags, ARG_REGS, PRIORITY_DEFAULT};
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
    // The flags come last; the numbers before them.
    let words: alloc::vec::Vec<&str> = args.words().collect();
    let plant = words.contains(&"plant");
    // A child's `replay B`: batch B of the replay file.
    let batch = words.iter().position(|&w| w == "replay").and_then(|i| words.get(i + 1)?.parse().ok());
    let numbers: alloc::vec::Vec<u64> = words.iter().skip(1).map_while(|w| w.parse().ok()).collect();
    match (args.get(0), &numbers[..]) {
        (Some("run"), &[seed, seeds, calls, procs, ref total @ ..])
            if (1..=PROCS_MAX).contains(&procs) && total.len() <= 1 =>
        {
            let total = total.first().copied().unwrap_or(0);
            supervise(Plan { first: seed, seeds, calls, procs, total, replay: None, plant })
        }
        (Some("replay"), []) => {
            match child::replay_file().filter(|t| valid_replay(t)) {
                Some(text) => {
                    let first = ReplayBatch::nth(&text, 0).map_or(0, |b| b.seed);
                    let batches = (0..).map_while(|i| ReplayBatch::nth(&text, i));
                    let procs = batches.map(|b| b.keeps().count() as u64).max().unwrap_or(1);
                    supervise(Plan { first, seeds: 0, calls: 0, procs, total: 0, replay: Some(text), plant })
                }
                None => {
                    println!("{SUPERVISOR_FAILED}: {REPLAY_PATH} is not a replay file of batches of 1 to {PROCS_MAX} children");
                    1
                }
            }
        }
        (Some("child"), &[seed, calls, index]) => {
            child::child(seed, calls, index, child::Options { replay: batch, plant })
        }
        _ => {
            println!(
                "usage: fuzz run SEED SEEDS CALLS PROCS [TOTAL] [plant] (PROCS 1..={PROCS_MAX}) | fuzz replay [plant] \
                 | fuzz child SEED CALLS INDEX [replay BATCH] [plant]"
            );
            2
        }
    }
}

/// What the supervisor runs: seeds `first..first + seeds` in batches of `procs`, `calls` each,
/// and more until `total` calls are made; or (`replay`, the file's text) the replay file's
/// batches, one after another.
struct Plan {
    first: u64,
    seeds: u64,
    calls: u64,
    procs: u64,
    total: u64,
    replay: Option<alloc::string::String>,
    plant: bool,
}

/// One batch: children for seeds `seed..seed + children`, `calls` each; `replay`: which batch
/// of the replay file it is.
struct Batch {
    seed: u64,
    children: u64,
    calls: u64,
    replay: Option<usize>,
}

impl Plan {
    /// Batch number `index`, which starts at `seed` if the plan is not a replay, when
    /// `made` calls have been made; `None` when the plan is done.
    fn batch(&self, index: usize, seed: u64, made: u64) -> Option<Batch> {
        let &Plan { first, seeds, calls, procs, total, .. } = self;
        match &self.replay {
            Some(text) => {
                let b = ReplayBatch::nth(text, index)?;
                Some(Batch { seed: b.seed, children: b.keeps().count() as u64, calls: b.calls, replay: Some(index) })
            }
            None if seed < first + seeds => {
                Some(Batch { seed, children: procs.min(first + seeds - seed), calls, replay: None })
            }
            None if made < total && seed < first + seeds * MORE_SEEDS => {
                Some(Batch { seed, children: procs, calls, replay: None })
            }
            None => None,
        }
    }
}

/// Whether every batch of a replay file has 1 to [`PROCS_MAX`] children, each line a `Keep`.
fn valid_replay(text: &str) -> bool {
    let mut batches = (0..).map_while(|i| ReplayBatch::nth(text, i)).peekable();
    batches.peek().is_some()
        && batches.all(|b| (1..=PROCS_MAX as usize).contains(&b.keeps().count()) && b.keeps().all(|k| k.is_some()))
}

/// Why the supervisor gave up.
enum Failed {
    /// A call it needs was refused.
    Call(ipc::Error),
    /// A child met the planted failure (`plant`): its seed.
    Planted(u64),
}

impl From<ipc::Error> for Failed {
    fn from(e: ipc::Error) -> Failed {
        Failed::Call(e)
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failed::Call(e) => write!(f, "{e}"),
            Failed::Planted(seed) => write!(f, "the planted failure, seed {seed}"),
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

fn supervise(plan: Plan) -> u64 {
    match supervise_all(&plan) {
        Ok(()) => 0,
        Err(e) => {
            println!("{SUPERVISOR_FAILED}: {e}");
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

/// How many times the seeds asked for a run with a TOTAL may go on to. Most children block
/// (and are killed) after a few thousand calls, so a million calls from the ten seeds
/// `cargo xtask fuzz` starts with take about 500 seeds; the bound only stops a run whose
/// children make no calls at all from going on for ever.
const MORE_SEEDS: u64 = 1000;

fn supervise_all(plan: &Plan) -> Result<(), Failed> {
    let &Plan { first, procs, .. } = plan;
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
    let (mut seed, mut index, mut seeds_run) = (first, 0, 0);
    while let Some(Batch { seed: from, children: batch, calls, replay }) = plan.batch(index, seed, made) {
        seed = from;
        // The baseline is taken after the first batch: kernel tables that only grow (the
        // page tables of the kernel-stack region, the heap's free list) reach their size.
        if index == 1 {
            (frames_before, heap_before) = sys::mem_stats();
        }
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
        match replay {
            Some(n) => println!("{BATCH_LINE}{seed}..{}, {calls} calls each, replay {n}", seed + batch),
            None => println!("{BATCH_LINE}{seed}..{}, {calls} calls each", seed + batch),
        }
        let mut running = alloc::vec::Vec::new();
        for i in 0..batch {
            let child = Child { seed: seed + i, calls, index: i, replay };
            running.push(start(plan, child, page, &shared, ends[i as usize])?);
        }
        // A replayed child makes fewer calls than its sequence has: ending cleanly is enough.
        watch(&mut running, note, tick, if replay.is_some() { 0 } else { calls })?;
        let mut planted = None;
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
            if plan.plant && matches!(end, End::Ended(Some(PLANTED_EXIT))) {
                planted = Some(r.seed);
            }
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
        if let Some(seed) = planted {
            return Err(Failed::Planted(seed));
        }
        seed += batch;
        seeds_run += batch;
        index += 1;
    }
    let (frames_after, heap_after) = sys::mem_stats();
    println!(
        "fuzz: done: {} seeds ({first}..{seed}), {made} calls: {} finished, {} ended themselves, {} faulted themselves, {} blocked; \
         partners took {} messages; \
         free frames {frames_before} -> {frames_after}, kernel heap {heap_before} -> {heap_after} bytes",
        seeds_run,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        TAKEN.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Set when the warm-up's threads may end; each counts itself out in [`WARM_ENDED`].
static WARM: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static WARM_ENDED: AtomicU64 = AtomicU64::new(0);
/// Where the warm-up's thread stacks are mapped, [`WARM_STACK`] bytes each. They stay mapped
/// (a thread counts itself out just before its `ThreadEnd`, still on its stack), and are
/// charged before the baseline.
const WARM_STACKS: u64 = 0x5400_0000_0000;
const WARM_STACK: u64 = 2 * ipc::layout::PAGE_SIZE;

/// Raises the kernel's tables to the size a batch can make them reach, before the baseline.
/// The kernel keeps the page tables of its kernel-stack region once made, and gives each new
/// thread the lowest free stack slot, so the first time more threads are alive at once than
/// ever before, a page table is added and stays: growth to a high-water mark, not a leak.
/// A batch has at most about [`THREADS_PER_CHILD`] threads alive per child, so that many
/// threads of the supervisor's own, alive at once, take the mark past anything a batch
/// reaches. They are not `rt` threads: each of those holds two capability slots as long as
/// it lives, and with 8 children there would be more threads than the supervisor has slots.
/// A thread lives on when its Thread capability is deleted, so one slot does for them all.
fn warm_up(procs: u64) -> Result<(), ipc::Error> {
    let count = procs * THREADS_PER_CHILD + ENDPOINTS as u64;
    sys::map(WARM_STACKS, count * WARM_STACK, MapFlags::WRITE)?;
    let slot = cap::alloc()?;
    let mut made = 0;
    let result = (0..count).try_for_each(|i| {
        // The stack pointer as just after a `call`: 16-byte aligned minus the return address.
        let rsp = WARM_STACKS + (i + 1) * WARM_STACK - 8;
        // SAFETY: `warm_thread` takes nothing and runs on the stack given, which is its own
        // (nothing else uses the warm-up's mapping, which is never unmapped).
        unsafe { sys::thread_create(SELF, warm_thread as *const () as u64, rsp, 0, slot) }?;
        made += 1;
        sys::cap_delete(slot)
    });
    WARM.store(true, Ordering::Release);
    while WARM_ENDED.load(Ordering::Acquire) < made {
        sys::sleep(1);
    }
    cap::free(slot);
    result
}

/// A warm-up thread: waits for the word, counts itself out and ends.
extern "C" fn warm_thread() -> ! {
    while !WARM.load(Ordering::Acquire) {
        sys::sleep(1);
    }
    WARM_ENDED.fetch_add(1, Ordering::Release);
    sys::thread_exit()
}

/// Threads a child may have alive at once, with a margin: its first, one per stack it maps
/// for them, and those that start on another stack and fault at once.
const THREADS_PER_CHILD: u64 = 1 + THREAD_STACKS_COUNT + 8;

/// Starts child `index` of a batch, for `seed`, with its own quota, the archive, the progress
/// page and the batch's shared objects; `end` is signalled when it ends.
/// Which child to start: for `seed`, `calls` calls, number `index` of its batch, from batch
/// `replay` of the replay file.
struct Child {
    seed: u64,
    calls: u64,
    index: u64,
    replay: Option<usize>,
}

fn start(plan: &Plan, child: Child, page: Slot, shared: &[Slot], end: Slot) -> Result<Running, ipc::Error> {
    let Child { seed, calls, index, replay } = child;
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
    let replay = replay.map(|b| alloc::format!(" replay {b}")).unwrap_or_default();
    let plant = if plan.plant { " plant" } else { "" };
    let args = alloc::format!("child {seed} {calls} {index}{replay}{plant}");
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
