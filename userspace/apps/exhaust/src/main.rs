//! `exhaust SCENARIO`: spends what a process can spend until the kernel refuses, and checks
//! that the refusal is a clean `OutOfMemory` (never a fault, never someone else's loss), that
//! the process's parent can still do everything, and that the kernel's free frames and heap
//! come back once everything is given back.
//!
//! - `objects`: endpoints and Frames from small quotas, a quota split from a quota, every
//!   free slot filled with copies, a chain of copies as deep as the slots allow, revoked.
//! - `tables`: a child with a 1 MiB quota maps and unmaps one page in one new GiB of its
//!   address space after another. Each leaves page tables behind, which its quota must pay
//!   for: it is refused within what the quota can pay, not when the machine runs dry.
//! - `quota`: a child with a 2 MiB quota makes endpoints, processes, pages and threads, each
//!   until refused; the parent, from its own quota, still can.
//! - `long`: a low-priority thread makes 16 MiB Frames, maps and unmaps 32 MiB, and revokes a
//!   tree of 22,400 capabilities, again and again, while a high-priority one sleeps a tick at a time. The
//!   kernel does such calls in slices, taking interrupts in between, so the sleeper must wake
//!   *inside* them: on one CPU, with interrupts off in the kernel, it could not otherwise.
//! - `whole [PROGRAM...]`: times the calls the kernel still makes in one piece, at their
//!   largest: one read of the largest of the programs named (or of the system description's)
//!   from the archive (it copies at most `ARCHIVE_READ_MAX`), making a process of it, mapping a
//!   16 MiB Frame, and ending a process that holds [`HOLD_BYTES`] and a full capability
//!   space. It checks only that they work; the figures (exact under `-icount shift=0`) are
//!   for the book, which says which calls are left whole and why.
//!
//! Each child runs six times: the first brings the kernel's tables that only grow (slabs, the
//! kernel-stack region's page tables) to their working size, the others are measured.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use ipc::cap::{init_slots, Kind, Rights, Slot, CSPACE_SLOTS, FRAME_PAGES_MAX, GIVEN_SLOTS, OBJECT_COST, SELF};
use ipc::layout::PAGE_SIZE;
use ipc::syscall::{ExitStatus, MapFlags, PRIORITY_DEFAULT};
use ipc::Error;
use rt::cap::{self, Grant};
use rt::check::Checks;
use rt::{ipc, println, sys};

extern crate alloc;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

rt::main!(main);

const KIB: u64 = 1 << 10;
/// Runs of each child: a warm-up, then the measured ones.
const ROUNDS: u64 = 6;
/// How far above its level after the warm-up the kernel heap may be after a measured run.
const HEAP_SLACK: i64 = 256;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn main(args: rt::Args) -> u64 {
    match args.get(0) {
        Some("objects") => objects(),
        Some("tables") => with_child("tables", MIB),
        Some("tables-child") => tables_child(),
        Some("quota") => with_child("quota", 2 * MIB),
        Some("quota-child") => quota_child(),
        Some("noop") => 0,
        Some("long") => long(),
        Some("heap") => heap(),
        Some("whole") => whole(&args),
        Some("hold-child") => hold_child(),
        _ => {
            println!("usage: exhaust objects | tables | quota | long | heap | whole");
            2
        }
    }
}

/// Makes `n` objects of `kind` (`size`) from `memory`, each in a fresh slot, until one is
/// refused; returns their slots and the refusal.
fn make_until_refused(memory: Slot, kind: Kind, size: u64, n: usize) -> (Vec<Slot>, Option<Error>) {
    let mut made = Vec::new();
    for _ in 0..n {
        let result = cap::alloc().and_then(|slot| {
            sys::create(memory, kind, slot, size).inspect_err(|_| cap::free(slot))?;
            Ok(slot)
        });
        match result {
            Ok(slot) => made.push(slot),
            Err(e) => return (made, Some(e)),
        }
    }
    (made, None)
}

fn release_all(slots: Vec<Slot>) {
    for slot in slots {
        cap::release(slot);
    }
}

fn objects() -> u64 {
    let mut c = Checks::new("exhaust objects");
    let mut stats = [(0, 0); 2];
    for (round, stat) in stats.iter_mut().enumerate() {
        let before = sys::mem_stats();
        if let Err(e) = objects_round(&mut c) {
            c.check(&format!("round {round}: a call that must work failed: {e:?}"), false);
        }
        let after = sys::mem_stats();
        *stat = (before.0.wrapping_sub(after.0), after.1.wrapping_sub(before.1));
    }
    println!("exhaust objects, measured round: free frames -{}, kernel heap +{} bytes", stats[1].0, stats[1].1);
    c.equal("the kernel's free frames and heap are back after the measured round", stats[1], (0, 0));
    c.done()
}

fn objects_round(c: &mut Checks) -> Result<(), Error> {
    // A quota of 100 endpoints holds exactly 100.
    let small = cap::create(Kind::Memory, 100 * OBJECT_COST)?;
    let (made, refused) = make_until_refused(small, Kind::Endpoint, 0, 200);
    c.equal("endpoints a 100-endpoint quota holds", made.len(), 100);
    c.equal("and the 101st is refused", refused, Some(Error::OutOfMemory));
    release_all(made);
    let (made, _) = make_until_refused(small, Kind::Endpoint, 0, 200);
    c.equal("given back, the quota holds 100 again", made.len(), 100);
    release_all(made);
    cap::release(small);

    // A quota split from a quota: what the inner one holds is the outer one's, until it goes.
    let outer = cap::create(Kind::Memory, 64 * KIB)?;
    let inner = cap::alloc()?;
    sys::create(outer, Kind::Memory, inner, 32 * KIB)?;
    let (from_inner, refused) = make_until_refused(inner, Kind::Frame, 1, 100);
    c.equal("pages a 32 KiB inner quota holds", (from_inner.len(), refused), (8, Some(Error::OutOfMemory)));
    let (from_outer, refused) = make_until_refused(outer, Kind::Frame, 1, 100);
    c.equal("pages the 64 KiB outer one has left", (from_outer.len(), refused), (8, Some(Error::OutOfMemory)));
    release_all(from_inner);
    cap::release(inner);
    let (more, _) = make_until_refused(outer, Kind::Frame, 1, 100);
    c.equal("the inner quota gone, the outer one has its 32 KiB back", more.len(), 8);
    release_all(more);
    release_all(from_outer);
    cap::release(outer);

    // Every free slot filled: the next is refused, and the slots past the last do not exist.
    let endpoint = cap::create(Kind::Endpoint, 0)?;
    let mut copies = Vec::new();
    let refused = loop {
        match cap::alloc() {
            Ok(slot) => match sys::cap_copy(endpoint, slot, Rights::ALL, SELF) {
                Ok(()) => copies.push(slot),
                Err(e) => break e,
            },
            Err(e) => break e,
        }
    };
    c.equal("copies until no slot is free", refused, Error::OutOfMemory);
    c.check(&format!("{} copies fill the free slots", copies.len()), copies.len() > 150);
    c.expect(
        "a copy to the slot past the last",
        sys::cap_copy(endpoint, CSPACE_SLOTS, Rights::ALL, SELF),
        Err(Error::InvalidCapability),
    );
    c.expect("a copy to a full slot", sys::cap_copy(endpoint, copies[0], Rights::ALL, SELF), Err(Error::SlotInUse));
    release_all(copies);

    // A chain of copies, each made from the one before, as deep as the slots allow; revoking
    // the first capability takes the whole chain.
    let mut chain = Vec::new();
    let mut last = endpoint;
    while let Ok(slot) = cap::alloc() {
        if sys::cap_copy(last, slot, Rights::ALL, SELF).is_err() {
            cap::free(slot);
            break;
        }
        chain.push(slot);
        last = slot;
    }
    c.check(&format!("a chain {} copies deep", chain.len()), chain.len() > 150);
    c.expect("revoking its root", sys::cap_revoke(endpoint), Ok(()));
    let left = chain.iter().filter(|&&s| sys::cap_inspect(s).is_ok()).count();
    c.equal("capabilities of the chain left", left, 0);
    for slot in chain {
        cap::free(slot);
    }
    cap::release(endpoint);
    Ok(())
}

/// Runs `exhaust NAME-child` [`ROUNDS`] times with a quota of `quota` bytes, and checks that
/// the parent still has everything and that the kernel's memory comes back: after the first
/// run (which brings the kernel's tables that only grow to their working size), every run
/// must leave the free frames exactly where they were, and the heap within [`HEAP_SLACK`]
/// of where it was. The slack is for containers whose size after a run depends on the order
/// threads happened to run in (a B-tree node, a vector's capacity); a leak of even a small
/// record per run would pass it within the rounds.
fn with_child(name: &str, quota: u64) -> u64 {
    let mut c = Checks::new(&format!("exhaust {name}"));
    let status = run_child(name, quota);
    c.equal("the warm-up child ended cleanly", status, Ok(ExitStatus::Exited(0)));
    let (frames, heap) = sys::mem_stats();
    let mut worst = (0, 0);
    for round in 1..ROUNDS {
        let status = run_child(name, quota);
        c.equal(&format!("round {round}: the child ended cleanly"), status, Ok(ExitStatus::Exited(0)));
        let (frames_now, heap_now) = sys::mem_stats();
        let delta = (frames.wrapping_sub(frames_now), heap_now.wrapping_sub(heap) as i64);
        println!("exhaust {name}, round {round}: free frames -{}, kernel heap {:+} bytes", delta.0, delta.1);
        worst = (worst.0.max(delta.0), worst.1.max(delta.1));
    }
    c.equal("the kernel's free frames after each run are where they were", worst.0, 0);
    c.check(
        &format!("the kernel heap after each run is within {HEAP_SLACK} bytes of where it was (at most {:+})", worst.1),
        worst.1 <= HEAP_SLACK,
    );
    // The parent was not starved: it can still make what the child could not.
    let endpoint = cap::create(Kind::Endpoint, 0);
    c.expect("the parent makes an endpoint", endpoint, Ok(()));
    if let Ok(slot) = endpoint {
        cap::release(slot);
    }
    let page = 4 * GIB;
    c.expect("the parent maps a page", sys::map(page, PAGE_SIZE, MapFlags::WRITE), Ok(()));
    // SAFETY: nothing refers to the page just mapped.
    c.expect("and unmaps it", unsafe { sys::unmap(page, PAGE_SIZE) }, Ok(()));
    let thread = rt::thread::spawn(|| {});
    c.check("the parent makes a thread", thread.is_ok());
    if let Ok(t) = thread {
        c.expect("and joins it", t.join(), Ok(()));
    }
    let child = cap::spawn("exhaust", "noop", PRIORITY_DEFAULT, &[]);
    c.check("the parent starts a process", child.is_ok());
    if let Ok(slot) = child {
        let _ = sys::wait(slot);
        cap::release(slot);
    }
    c.done()
}

fn run_child(name: &str, quota: u64) -> Result<ExitStatus, Error> {
    let memory = cap::create(Kind::Memory, quota)?;
    let grants = [
        Grant::new(memory, init_slots::MEMORY, Rights::ALL),
        // The write right lets it make processes (`ProcessCreate`).
        Grant::new(init_slots::ARCHIVE, init_slots::ARCHIVE, Rights::READ.union(Rights::WRITE)),
    ];
    let args = format!("{name}-child");
    let spawned = cap::spawn_from(memory, "exhaust", &args, PRIORITY_DEFAULT, &grants, |_| Ok(()));
    let status = spawned.and_then(|s| {
        let status = sys::wait(s.slot);
        cap::release(s.slot);
        status
    });
    cap::release(memory);
    status
}

/// Processes made (never started) from the program's whole quota, each with every slot of its
/// capability space filled with a copy of one endpoint, until the kernel refuses one. Their
/// capabilities are kept in the capability spaces of holder processes, so that the program's
/// own slots do not bound how many there are. What they make the kernel hold is more than it
/// mapped at boot (its heap and its capability tables): the kernel's memory must grow, and the
/// quota, not the kernel, must be what refuses. Done twice: the kernel's tables keep their size
/// after the first (its slabs, the heap's pages and their page tables), so after the second
/// the heap in use must be back where it was, and the free frames with it, counting those the
/// heap and the tables took.
fn heap() -> u64 {
    let mut c = Checks::new("exhaust heap");
    let boot_mapped = sys::kernel_mapped();
    let mut after_first = (0, 0);
    for round in 0..2 {
        let before = (sys::mem_stats(), sys::kernel_mapped());
        let result = fill_heap();
        c.check(
            &format!("round {round}: processes were made until the quota refused one: {result:?}"),
            matches!(result, Ok((n, Error::OutOfMemory, _)) if n > 0),
        );
        let ((frames, used), mapped) = (sys::mem_stats(), sys::kernel_mapped());
        // Free frames, counting those the heap and the tables hold.
        let pool = frames + mapped / PAGE_SIZE;
        println!(
            "exhaust heap, round {round}: kernel heap {} -> {used} bytes in use, {} -> {} MiB mapped (heap and tables); free frames and those {} -> {pool}",
            before.0 .1,
            before.1 >> 20,
            mapped >> 20,
            before.0 .0 + before.1 / PAGE_SIZE
        );
        if let Ok((_, _, ticks)) = result {
            println!("exhaust heap, round {round}: giving everything back took {ticks} ticks");
        }
        if round == 0 {
            c.check(
                &format!("the kernel's memory grew past its {} MiB at boot", boot_mapped >> 20),
                mapped > boot_mapped,
            );
            // The new pages needed page tables, one per 2 MiB, which the kernel keeps: one
            // partly used for the heap and for each of the three tables.
            let tables = (mapped - before.1).div_ceil(2 * MIB) + 4;
            let lost = (before.0 .0 + before.1 / PAGE_SIZE).saturating_sub(pool);
            c.check(&format!("no frame is lost but the heap's page tables: {lost}, at most {tables}"), lost <= tables);
            after_first = (used, pool);
        } else {
            c.equal(
                "after the second round, the heap in use and the frames are where the first left them",
                (used, pool),
                after_first,
            );
        }
    }
    let child = cap::spawn("exhaust", "noop", PRIORITY_DEFAULT, &[]);
    c.check("the program then starts a process", child.is_ok());
    if let Ok(slot) = child {
        c.equal("which ends", sys::wait(slot), Ok(ExitStatus::Exited(0)));
        cap::release(slot);
    }
    c.done()
}

/// Fills the kernel with processes until refused: how many, the refusal, and the ticks it
/// took to give them all back.
fn fill_heap() -> Result<(usize, Error, u64), Error> {
    let endpoint = cap::create(Kind::Endpoint, 0)?;
    let mut holders: Vec<Slot> = Vec::new();
    let mut held = CSPACE_SLOTS;
    let mut made = 0;
    let refused = loop {
        if held == CSPACE_SLOTS {
            let holder = cap::alloc()?;
            if let Err(e) = sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, "sleeper", holder) {
                cap::free(holder);
                break e;
            }
            holders.push(holder);
            held = 0;
        }
        let slot = cap::alloc()?;
        if let Err(e) = sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, "sleeper", slot) {
            cap::free(slot);
            break e;
        }
        for s in 0..CSPACE_SLOTS {
            sys::cap_copy(endpoint, s, Rights::ALL, slot)?;
        }
        sys::cap_move(slot, held, *holders.last().expect("a holder"))?;
        cap::free(slot);
        held += 1;
        made += 1;
    };
    println!("exhaust heap, filled: {made} processes in {} holders, then {refused:?}", holders.len());
    let start = sys::ticks().0;
    release_all(holders);
    cap::release(endpoint);
    Ok((made, refused, sys::ticks().0 - start))
}

/// Where the child's one-GiB steps start: far above its image, far below its stack.
const TABLES_BASE: u64 = 1 << 40;

fn tables_child() -> u64 {
    let mut regions = 0u64;
    let refused = loop {
        let page = TABLES_BASE + regions * GIB;
        if let Err(e) = sys::map(page, PAGE_SIZE, MapFlags::WRITE) {
            break e;
        }
        // SAFETY: nothing refers to the page just mapped.
        if let Err(e) = unsafe { sys::unmap(page, PAGE_SIZE) } {
            break e;
        }
        regions += 1;
    };
    // Each new GiB costs two page tables; the quota (less this program's image) pays for at
    // most 128 such pairs. A kernel that did not charge them would go on until the machine
    // had no frames left.
    let bound = MIB / PAGE_SIZE / 2;
    println!("exhaust tables-child: {regions} GiB regions mapped and unmapped, then {refused:?} (bound {bound})");
    u64::from(!(refused == Error::OutOfMemory && regions > 0 && regions <= bound))
}

fn quota_child() -> u64 {
    let mut ok = true;
    let mut report = |what: &str, made: usize, refused: Option<Error>| {
        println!("exhaust quota-child: {made} {what}, then {refused:?}");
        ok &= made > 0 && refused == Some(Error::OutOfMemory);
    };
    let (endpoints, refused) = make_until_refused(init_slots::MEMORY, Kind::Endpoint, 0, 10_000);
    report("endpoints", endpoints.len(), refused);
    release_all(endpoints);

    let mut processes = Vec::new();
    let refused = loop {
        let Ok(slot) = cap::alloc() else { break Some(Error::OutOfMemory) };
        match sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, "exhaust", slot) {
            Ok(()) => processes.push(slot),
            Err(e) => {
                cap::free(slot);
                break Some(e);
            }
        }
    };
    report("processes made (not started)", processes.len(), refused);
    release_all(processes);

    let mut pages = 0;
    let refused = loop {
        match sys::map(TABLES_BASE + pages * PAGE_SIZE, PAGE_SIZE, MapFlags::WRITE) {
            Ok(()) => pages += 1,
            Err(e) => break Some(e),
        }
    };
    report("pages mapped", pages as usize, refused);
    for i in 0..pages {
        // SAFETY: nothing refers to the pages just mapped.
        let _ = unsafe { sys::unmap(TABLES_BASE + i * PAGE_SIZE, PAGE_SIZE) };
    }

    // Threads that wait for ever: they end with the process.
    let mut threads = 0;
    let refused = loop {
        match rt::thread::spawn(|| loop {
            sys::sleep(1 << 20);
        }) {
            Ok(_) => threads += 1,
            Err(e) => break Some(e),
        }
    };
    report("threads", threads, refused);
    u64::from(!ok)
}

/// What the `long` scenario's two threads record: the worker's calls, as (start, end) in
/// microseconds since boot, and the sleeper's wake-ups.
struct Record<const N: usize> {
    stamps: [AtomicU64; N],
    len: AtomicUsize,
}

impl<const N: usize> Record<N> {
    const fn new() -> Self {
        Record { stamps: [const { AtomicU64::new(0) }; N], len: AtomicUsize::new(0) }
    }

    fn push(&self, stamp: u64) {
        let i = self.len.load(Ordering::Relaxed);
        if i < N {
            self.stamps[i].store(stamp, Ordering::Relaxed);
            self.len.store(i + 1, Ordering::Release);
        }
    }

    fn all(&self) -> impl Iterator<Item = u64> + '_ {
        self.stamps[..self.len.load(Ordering::Acquire)].iter().map(|s| s.load(Ordering::Relaxed))
    }
}

static FRAME_CALLS: Record<1024> = Record::new();
static REVOKE_CALLS: Record<64> = Record::new();
static MAP_CALLS: Record<1024> = Record::new();
static UNMAP_CALLS: Record<1024> = Record::new();
static WAKES: Record<4096> = Record::new();
static WORKER_DONE: AtomicBool = AtomicBool::new(false);
static WORKER_FAILED: AtomicBool = AtomicBool::new(false);

/// Ticks the worker makes Frames for, and trees it revokes.
const FRAME_TICKS: u64 = 40;
/// Ticks the worker maps and unmaps [`MAP_BYTES`] at [`TABLES_BASE`] for.
const MAP_TICKS: u64 = 30;
const MAP_BYTES: u64 = 32 * MIB;
const REVOKE_ROUNDS: usize = 20;
/// Unstarted processes that hold the tree's copies, `GIVEN_SLOTS..CSPACE_SLOTS` each.
const HOLDERS: usize = 100;

fn long() -> u64 {
    let mut c = Checks::new("exhaust long");
    let worker = rt::thread::spawn(|| {
        // Let the main thread lower this one's priority first.
        sys::sleep(2);
        if long_worker().is_err() {
            WORKER_FAILED.store(true, Ordering::Relaxed);
        }
        WORKER_DONE.store(true, Ordering::Release);
    });
    let Ok(worker) = worker else {
        c.check("the worker thread starts", false);
        return c.done();
    };
    c.expect("the worker drops below the sleeper", sys::thread_priority(worker.slot(), PRIORITY_DEFAULT - 10), Ok(()));
    let (ticks_before, hz) = sys::ticks();
    let micros_before = sys::micros_since_boot();
    let (mut latest, mut latest_at) = (0, 0);
    while !WORKER_DONE.load(Ordering::Acquire) {
        let due = sys::micros_since_boot() + 1_000_000 / hz;
        sys::sleep(1);
        let woke = sys::micros_since_boot();
        WAKES.push(woke);
        if woke.saturating_sub(due) > latest {
            (latest, latest_at) = (woke.saturating_sub(due), woke);
        }
    }
    println!(
        "exhaust long, latest wake at {latest_at} us; Frames {:?}, Maps {:?}, revokes {:?}",
        span(FRAME_CALLS.all()),
        span(MAP_CALLS.all().chain(UNMAP_CALLS.all())),
        span(REVOKE_CALLS.all()),
    );
    let ticks = sys::ticks().0 - ticks_before;
    let micros = sys::micros_since_boot() - micros_before;
    c.expect("the worker ends", worker.join(), Ok(()));
    c.check("the worker's calls all succeeded", !WORKER_FAILED.load(Ordering::Relaxed));
    let (frames, in_frames) = woke_inside(&FRAME_CALLS);
    let (revokes, in_revokes) = woke_inside(&REVOKE_CALLS);
    let (maps, in_maps) = woke_inside(&MAP_CALLS);
    let (unmaps, in_unmaps) = woke_inside(&UNMAP_CALLS);
    println!(
        "exhaust long, figures: {frames} 16 MiB Frames, {revokes} revokes of {} capabilities, {maps} Maps and \
         {unmaps} Unmaps of 32 MiB; the sleeper woke {} times, 1 ms or more before the end of a Frame's making \
         {in_frames} times, of a revoke {in_revokes}, of a Map {in_maps}, of an Unmap {in_unmaps}; at most \
         {latest} us late; {ticks} ticks in {micros} us",
        HOLDERS as u64 * (CSPACE_SLOTS - GIVEN_SLOTS),
        WAKES.len.load(Ordering::Relaxed),
    );
    c.check("the sleeper woke in the midst of a Map", in_maps > 0);
    c.check("the sleeper woke in the midst of a Frame's making", in_frames > 0);
    c.check("the sleeper woke in the midst of a revoke", in_revokes > 0);
    c.done()
}

/// The first and the last of a phase's time stamps.
fn span(mut stamps: impl Iterator<Item = u64>) -> (u64, u64) {
    let first = stamps.next().unwrap_or(0);
    (first, stamps.last().unwrap_or(first))
}

/// The worker's calls in `calls`, and how many wake-ups of the sleeper fell in the midst of
/// one: 1 ms or more before it was done. (A call that kept interrupts out would have its
/// pending tick taken the moment it returned, so the sleeper would wake just before its end,
/// never in its midst.)
fn woke_inside<const N: usize>(calls: &Record<N>) -> (usize, usize) {
    let stamps: Vec<u64> = calls.all().collect();
    let pairs: Vec<(u64, u64)> = stamps.chunks(2).filter(|p| p.len() == 2).map(|p| (p[0], p[1])).collect();
    let midst = WAKES.all().filter(|&w| pairs.iter().any(|&(start, end)| start < w && w + 1000 <= end)).count();
    (pairs.len(), midst)
}

/// Makes and deletes 16 MiB Frames for [`FRAME_TICKS`] ticks, then builds and revokes a
/// tree of copies of an endpoint, held by [`HOLDERS`] unstarted processes, a few times.
fn long_worker() -> Result<(), Error> {
    let end = sys::ticks().0 + FRAME_TICKS;
    while sys::ticks().0 < end {
        let start = sys::micros_since_boot();
        let frame = cap::create(Kind::Frame, FRAME_PAGES_MAX)?;
        FRAME_CALLS.push(start);
        FRAME_CALLS.push(sys::micros_since_boot());
        cap::release(frame);
    }
    let end = sys::ticks().0 + MAP_TICKS;
    while sys::ticks().0 < end {
        let start = sys::micros_since_boot();
        sys::map(TABLES_BASE, MAP_BYTES, MapFlags::WRITE)?;
        let mapped = sys::micros_since_boot();
        MAP_CALLS.push(start);
        MAP_CALLS.push(mapped);
        // SAFETY: nothing refers to the range just mapped.
        unsafe { sys::unmap(TABLES_BASE, MAP_BYTES) }?;
        UNMAP_CALLS.push(mapped);
        UNMAP_CALLS.push(sys::micros_since_boot());
    }
    let endpoint = cap::create(Kind::Endpoint, 0)?;
    let mut holders = Vec::new();
    for _ in 0..HOLDERS {
        let slot = cap::alloc()?;
        sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, "exhaust", slot)?;
        holders.push(slot);
    }
    for _ in 0..REVOKE_ROUNDS {
        for &holder in &holders {
            for slot in GIVEN_SLOTS..CSPACE_SLOTS {
                sys::cap_copy(endpoint, slot, Rights::WRITE, holder)?;
            }
        }
        let start = sys::micros_since_boot();
        sys::cap_revoke(endpoint)?;
        REVOKE_CALLS.push(start);
        REVOKE_CALLS.push(sys::micros_since_boot());
    }
    release_all(holders);
    cap::release(endpoint);
    Ok(())
}

/// What the process `whole` ends holds: mapped memory, charged to its quota.
const HOLD_BYTES: u64 = 64 * MIB;
/// Where `hold-child` finds the notification it signals once it holds everything.
const HOLD_READY: Slot = GIVEN_SLOTS - 1;

fn whole(args: &rt::Args) -> u64 {
    let mut c = Checks::new("exhaust whole");
    let mut figures = Vec::new();
    let mut timed = |c: &mut Checks, what: String, result: Result<(), Error>, micros: u64| {
        c.expect(&what, result, Ok(()));
        figures.push(format!("{what} {micros} us"));
    };
    let named: Vec<&str> = args.words().skip(1).collect();
    let largest = largest_program(&named);
    c.check(&format!("the system's largest program is found: {largest:?}"), largest.is_ok());
    if let Ok((name, len)) = largest {
        let path = format!("{}{name}", ipc::boot::PROGRAM_DIR);
        let mut bytes = alloc::vec![0u8; len];
        let start = sys::micros_since_boot();
        let read = sys::archive_read(init_slots::ARCHIVE, &path, &mut bytes, 0);
        let micros = sys::micros_since_boot() - start;
        let copied = read.map_or(0, |(_, copied)| copied);
        timed(&mut c, format!("ArchiveRead of {copied} of the {len} bytes of {path}"), read.map(drop), micros);
        let made = cap::alloc().map(|slot| {
            let start = sys::micros_since_boot();
            let made = sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, &name, slot);
            let micros = sys::micros_since_boot() - start;
            if made.is_ok() {
                cap::release(slot);
            } else {
                cap::free(slot);
            }
            (made, micros)
        });
        if let Ok((made, micros)) = made {
            timed(&mut c, format!("ProcessCreate of '{name}'"), made, micros);
        }
    }
    match cap::create(Kind::Frame, FRAME_PAGES_MAX) {
        Ok(frame) => {
            let start = sys::micros_since_boot();
            let mapped = sys::frame_map(frame, TABLES_BASE, MapFlags::WRITE, SELF);
            let micros = sys::micros_since_boot() - start;
            timed(&mut c, format!("FrameMap of {} MiB", FRAME_PAGES_MAX * PAGE_SIZE / MIB), mapped, micros);
            // SAFETY: nothing refers to the Frame's mapping.
            let _ = unsafe { sys::unmap(TABLES_BASE, FRAME_PAGES_MAX * PAGE_SIZE) };
            cap::release(frame);
        }
        Err(e) => c.check(&format!("a 16 MiB Frame is made: {e:?}"), false),
    }
    match end_holder() {
        Ok((killed, micros)) => {
            timed(
                &mut c,
                format!("ProcessKill of a process holding {} MiB and {CSPACE_SLOTS} slots", HOLD_BYTES / MIB),
                killed,
                micros,
            );
        }
        Err(e) => c.check(&format!("the holding process is made and ready: {e:?}"), false),
    }
    println!("exhaust whole, figures: {}", figures.join("; "));
    c.done()
}

/// The name and size of the largest of `named`, or with none named, of the programs the
/// system description names.
fn largest_program(named: &[&str]) -> Result<(String, usize), Error> {
    let text = if named.is_empty() { rt::system::description().map_err(|_| Error::NotFound)? } else { String::new() };
    let described = ipc::system::programs(&text).flatten().map(|p| p.name);
    let mut largest = None;
    for name in named.iter().copied().chain(described) {
        let path = format!("{}{name}", ipc::boot::PROGRAM_DIR);
        let (len, _) = sys::archive_read(init_slots::ARCHIVE, &path, &mut [], 0)?;
        if largest.as_ref().is_none_or(|&(_, l)| len > l) {
            largest = Some((String::from(name), len));
        }
    }
    largest.map(|(name, len)| (name, len as usize)).ok_or(Error::NotFound)
}

/// Starts `hold-child`, waits until it holds everything, and kills it, timing the kill.
fn end_holder() -> Result<(Result<(), Error>, u64), Error> {
    let memory = cap::create(Kind::Memory, HOLD_BYTES + 4 * MIB)?;
    let ready = cap::create(Kind::Notification, 0)?;
    let grants = [Grant::new(memory, init_slots::MEMORY, Rights::ALL), Grant::new(ready, HOLD_READY, Rights::WRITE)];
    let spawned = cap::spawn_from(memory, "exhaust", "hold-child", PRIORITY_DEFAULT, &grants, |_| Ok(()));
    let result = spawned.and_then(|child| {
        let signalled = sys::ntfn_wait(ready);
        let start = sys::micros_since_boot();
        let killed = sys::process_kill(child.slot);
        let micros = sys::micros_since_boot() - start;
        cap::release(child.slot);
        signalled.map(|_| (killed, micros))
    });
    cap::release(ready);
    cap::release(memory);
    result
}

/// Maps [`HOLD_BYTES`], fills its capability space with copies of the notification it was
/// given, signals it, and waits to be killed.
fn hold_child() -> u64 {
    if let Err(e) = sys::map(TABLES_BASE, HOLD_BYTES, MapFlags::WRITE) {
        println!("exhaust hold-child: cannot map: {e:?}");
        return 1;
    }
    for slot in GIVEN_SLOTS..CSPACE_SLOTS {
        if let Err(e) = sys::cap_copy(HOLD_READY, slot, Rights::WRITE, SELF) {
            println!("exhaust hold-child: cannot fill slot {slot}: {e:?}");
            return 1;
        }
    }
    let _ = sys::signal(HOLD_READY);
    loop {
        sys::sleep(1000);
    }
}
