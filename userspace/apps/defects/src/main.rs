//! `defects SCENARIO`: the shortest sequences that once broke the kernel, each followed by
//! its neighbours in the same class, checked from user space. Each scenario prints
//! `ok:`/`FAIL:` lines and `defects SCENARIO: N checks, F failed`, and exits with F.
//!
//! - `ipc-buffer`: unmapping the IPC buffer let message transfer write into a freed frame
//!   (by then one of the process's page tables).
//! - `null-page`: page 0 could be mapped, and the kernel copied from user address 0 through
//!   Rust primitives that require non-null pointers.
//! - `self-handle`: a process not yet started that held its own only handle (or a loop of
//!   such processes holding each other's) could never be freed.
//! - `faulted-orphan`: a faulted process whose fault nobody would ever receive, or that
//!   nobody held a handle to, could never be ended.
//!
//! The last two compare the kernel's free frames and heap before and after (after a first
//! round that lets kernel tables reach their working size), as `churn` does.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use ipc::cap::{init_slots, Kind, Rights, Slot, SELF};
use ipc::layout::{thread_ipc_buffer, IPC_BUFFER, PAGE_SIZE, USER_MIN};
use ipc::msg::{MsgInfo, LABEL_FAULT, MSG_MAX_WORDS, MSG_REGS};
use ipc::syscall::{ExitStatus, MapFlags, Syscall, PRIORITY_DEFAULT};
use ipc::Error;
use rt::cap::{self, Grant};
use rt::check::Checks;
use rt::sys::{self, Msg};
use rt::{ipc, println};

rt::main!(main);

/// Where a child gets the capability its parent gives it.
const GIVEN: Slot = 2;

/// The label of a call to the `answerer` child.
const WORDS: u32 = 1;

fn main(args: rt::Args) -> u64 {
    match args.get(0).unwrap_or("") {
        "ipc-buffer" => ipc_buffer(),
        "null-page" => null_page(),
        "self-handle" => self_handle(),
        "faulted-orphan" => faulted_orphan(),
        "answerer" => answerer(),
        _ => {
            println!("usage: defects ipc-buffer|null-page|self-handle|faulted-orphan");
            2
        }
    }
}

/// A server on the endpoint in slot 2: answers each call with as many words as it got, each
/// `w` as `2w + 1`, the ones past the registers through the IPC buffer; ends on a call of no
/// words. (Odd words look like present page-table entries: written into a page table, as the
/// defect once did, they make the kernel's walk of it go astray at once.)
fn answerer() -> u64 {
    let reply = cap::alloc().expect("slot");
    let mut answer = Msg::default();
    loop {
        let m = match sys::reply_recv(GIVEN, reply, &answer) {
            Ok(m) => m,
            Err(e) => {
                println!("answerer: receive failed: {e}");
                return 1;
            }
        };
        let n = usize::from(m.info().words);
        if n == 0 {
            let _ = sys::send(reply, &Msg::new(WORDS, &[]));
            return 0;
        }
        let regs = m.words.map(answer_to);
        for i in MSG_REGS..n {
            cap::set_word(i, answer_to(cap::word(i)));
        }
        answer = Msg { badge: 0, info: MsgInfo::new(WORDS, n, 0).encode(), words: regs };
    }
}

fn answer_to(word: u64) -> u64 {
    2 * word + 1
}

/// Defect 1: `Unmap(IPC_BUFFER)` gave the buffer's frame back while the kernel kept writing
/// answers into it; a page table made by the next `FrameMap` took it. The sequence as found
/// comes first, then its neighbours.
fn ipc_buffer() -> u64 {
    let mut c = Checks::new("defects ipc-buffer");
    // Right after one another, so that the next page table takes the frame just freed.
    let frame = cap::create(Kind::Frame, 1).expect("frame");
    // SAFETY: nothing refers to the IPC buffer but through `rt::cap`'s accessors, which
    // re-read it; the kernel must refuse anyway.
    let unmapped = unsafe { sys::unmap(IPC_BUFFER, PAGE_SIZE) };
    let far = 0x3000_0000_0000;
    let mapped = sys::frame_map(frame, far, MapFlags::WRITE, SELF);
    let remapped = sys::map(IPC_BUFFER, PAGE_SIZE, MapFlags::WRITE);
    c.expect("the IPC buffer cannot be unmapped", unmapped, Err(Error::InvalidArgument));
    c.expect("map a Frame where new page tables are needed", mapped, Ok(()));
    c.expect("the IPC buffer's page is not for Map", remapped, Err(Error::BadAddress));
    let ep = cap::create(Kind::Endpoint, 0).expect("endpoint");
    let server = cap::spawn("defects", "answerer", PRIORITY_DEFAULT, &[Grant::new(ep, GIVEN, Rights::READ)]);
    let Ok(server) = server else {
        c.check("start the answerer", false);
        return c.done();
    };

    // Answers of every length land in the IPC buffer the process sees, and nowhere else.
    for n in [5, 16, MSG_MAX_WORDS] {
        let words: alloc::vec::Vec<u64> = (1..=n as u64).collect();
        for (i, &w) in words.iter().enumerate().skip(MSG_REGS) {
            cap::set_word(i, w);
        }
        let answer = sys::call_ep(ep, &Msg::new(WORDS, &words));
        let all_answered = answer.is_ok_and(|a| {
            usize::from(a.info().words) == n
                && a.words.iter().zip(&words).all(|(&a, &w)| a == answer_to(w))
                && (MSG_REGS..n).all(|i| cap::word(i) == answer_to(words[i]))
        });
        c.check(&format!("an answer of {n} words arrives whole in the IPC buffer"), all_answered);
    }
    // SAFETY: the Frame's page is mapped at `far`, readable.
    let frame_word = unsafe { (far as *const u64).read_volatile() };
    c.check("the Frame stayed untouched", frame_word == 0);
    let over = sys::frame_map(frame, IPC_BUFFER, MapFlags::WRITE, SELF);
    c.expect("a Frame cannot take the IPC buffer's page either", over, Err(Error::BadAddress));
    let next = thread_ipc_buffer(1);
    c.expect("nor a page of the buffer area", sys::map(next, PAGE_SIZE, MapFlags::WRITE), Err(Error::BadAddress));

    let below = IPC_BUFFER - PAGE_SIZE;
    c.expect("map the page below the IPC buffer", sys::map(below, PAGE_SIZE, MapFlags::WRITE), Ok(()));
    // SAFETY: as above; the page below is used only through raw pointers below.
    let both = unsafe { sys::unmap(below, 2 * PAGE_SIZE) };
    c.expect("a range that holds the IPC buffer cannot be unmapped", both, Err(Error::InvalidArgument));
    let below_ptr = below as *mut u64;
    // SAFETY: the page below was mapped writable just now and the refused Unmap left it.
    unsafe { below_ptr.write_volatile(0x5eab) };
    // SAFETY: as above.
    c.check("... and is left whole", unsafe { below_ptr.read_volatile() } == 0x5eab);
    c.expect("the answerer ends", sys::call_ep(ep, &Msg::new(WORDS, &[])), Ok(()));
    c.check("the answerer exited cleanly", sys::wait(server) == Ok(ExitStatus::Exited(0)));
    c.done()
}

/// Defect 2: page 0 could be mapped, and then `DebugWrite(0, 1)` copied from a null pointer
/// (a panic in a debug kernel). Nothing may be mapped below `USER_MIN`, and no call reads
/// from there.
fn null_page() -> u64 {
    let mut c = Checks::new("defects null-page");
    for addr in [0, PAGE_SIZE, USER_MIN - PAGE_SIZE] {
        c.expect(&format!("map {addr:#x}"), sys::map(addr, PAGE_SIZE, MapFlags::WRITE), Err(Error::BadAddress));
    }
    c.expect(
        "map a range reaching up past USER_MIN",
        sys::map(0, 2 * USER_MIN, MapFlags::WRITE),
        Err(Error::BadAddress),
    );
    let frame = cap::create(Kind::Frame, 1).expect("frame");
    c.expect("map a Frame at 0", sys::frame_map(frame, 0, MapFlags::READ, SELF), Err(Error::BadAddress));
    c.expect("map at USER_MIN itself", sys::map(USER_MIN, PAGE_SIZE, MapFlags::WRITE), Ok(()));
    // SAFETY: the page at USER_MIN was just mapped by this test and nothing refers to it.
    c.expect("... and unmap it", unsafe { sys::unmap(USER_MIN, PAGE_SIZE) }, Ok(()));
    let write = Syscall::DebugWrite as u64;
    let raw = |number: u64, args: [u64; 6]| {
        // SAFETY: DebugWrite and ProcessCreate only read the caller's memory.
        unsafe { sys::raw(number, args) }
    };
    c.expect("write 1 byte from address 0", raw(write, [0, 1, 0, 0, 0, 0]), Err(Error::BadAddress));
    c.expect("write 0 bytes from address 0", raw(write, [0, 0, 0, 0, 0, 0]), Ok(()));
    c.expect("write from just below USER_MIN", raw(write, [USER_MIN - 8, 8, 0, 0, 0, 0]), Err(Error::BadAddress));
    let create = Syscall::ProcessCreate as u64;
    let (memory, archive) = (init_slots::MEMORY, init_slots::ARCHIVE);
    let dest = cap::alloc().expect("slot");
    c.expect("a process named by address 0", raw(create, [memory, archive, 0, 4, dest, 0]), Err(Error::BadAddress));
    c.expect("... with an empty name", raw(create, [memory, archive, 0, 0, dest, 0]), Err(Error::NotFound));
    c.done()
}

/// The kernel's free frames and heap bytes, to compare before and after.
fn memory() -> (u64, u64) {
    sys::mem_stats()
}

/// Runs `round` twice, the first to let kernel tables grow, and checks that the second gives
/// back every frame and heap byte it took.
fn twice(c: &mut Checks, round: impl Fn(&mut Checks)) {
    round(c);
    let before = memory();
    round(c);
    let after = memory();
    c.check(&format!("memory given back: free frames and heap {before:?} -> {after:?}"), before == after);
}

/// A process of boot program `name`, created, not started, in a fresh slot.
fn created(name: &str) -> Slot {
    let slot = cap::alloc().expect("slot");
    sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, name, slot).expect("process create");
    slot
}

/// Defect 3: `CapMove(P, _, target=P)` left an unstarted process holding its own only
/// handle, so it never ended. No loop of unstarted processes may hold each other's.
fn self_handle() -> u64 {
    let mut c = Checks::new("defects self-handle");
    twice(&mut c, |c| {
        let p = created("sleeper");
        c.expect("move a process's only handle into itself", sys::cap_move(p, 12, p), Err(Error::InvalidArgument));
        c.expect("... or a copy of it", sys::cap_copy(p, 12, Rights::ALL, p), Err(Error::InvalidArgument));
        c.expect("... or a badged one", sys::cap_mint(p, 12, Rights::READ, 9, p), Err(Error::InvalidArgument));
        let (a, b, d) = (created("sleeper"), created("sleeper"), created("sleeper"));
        c.expect("b holds a", sys::cap_copy(a, 12, Rights::ALL, b), Ok(()));
        c.expect("d holds b", sys::cap_copy(b, 12, Rights::ALL, d), Ok(()));
        c.expect("a may not hold d: a loop", sys::cap_copy(d, 12, Rights::ALL, a), Err(Error::InvalidArgument));
        c.expect("a may not hold b: a loop", sys::cap_copy(b, 13, Rights::READ, a), Err(Error::InvalidArgument));
        c.expect("any other capability may go in", sys::cap_copy(init_slots::MEMORY, 13, Rights::ALL, a), Ok(()));
        // A started process ends on its own, so it may hold a handle to one not started that
        // holds its own handle: that is no loop.
        let runner = created("sleeper");
        c.expect("a holds a process that holds nothing", sys::cap_copy(runner, 14, Rights::ALL, a), Ok(()));
        c.expect("start it", sys::process_start(runner, "1", PRIORITY_DEFAULT).map(drop), Ok(()));
        c.expect("... which may hold a", sys::cap_copy(a, 12, Rights::ALL, runner), Ok(()));
        c.check("it ends", sys::wait(runner) == Ok(ExitStatus::Exited(0)));
        for slot in [p, a, b, d, runner] {
            cap::release(slot);
        }
    });
    c.done()
}

/// A `fault null` child supervised through endpoint `ep`, with a death notice on `notice`,
/// started and run until it has faulted. Returns the slot of its handle, or None if the
/// handle was to be let go before the fault.
fn faulted_child(c: &mut Checks, ep: Slot, notice: Slot, keep_handle: bool) -> Option<Slot> {
    let p = created("fault");
    c.expect("give it a fault endpoint", sys::process_set_fault(p, ep), Ok(()));
    c.expect("and a death notice", sys::process_notify_exit(p, notice), Ok(()));
    c.expect("start it", sys::process_start(p, "null", PRIORITY_DEFAULT).map(drop), Ok(()));
    if !keep_handle {
        cap::release(p);
    }
    // It runs, and faults, while this process sleeps.
    sys::sleep(SETTLE_TICKS);
    keep_handle.then_some(p)
}

/// Ticks this process sleeps while a child runs to its fault. The child needs well under a
/// tick; two were once too few on a loaded host (the guest's clock runs on while QEMU waits
/// for the CPU), so this leaves room.
const SETTLE_TICKS: u64 = 10;

/// Whether the death notice came (its bits are taken).
fn ended(notice: Slot) -> bool {
    sys::poll(notice).is_ok_and(|bits| bits != 0)
}

/// Defect 4: a faulted child queued on an endpoint nobody would ever receive from, with no
/// handle left to kill it, stayed forever (and `exit_when_done` never came).
fn faulted_orphan() -> u64 {
    let mut c = Checks::new("defects faulted-orphan");
    let notice = cap::create(Kind::Notification, 0).expect("notification");
    twice(&mut c, |c| {
        // The sequence as found: its handle goes, then its fault endpoint.
        let ep = cap::create(Kind::Endpoint, 0).expect("endpoint");
        let p = faulted_child(c, ep, notice, true).expect("kept");
        c.check("a fault waiting for its supervisor does not end the process", !ended(notice));
        cap::release(p);
        c.check("its last handle gone, it ends", ended(notice));
        cap::release(ep);

        // Its fault endpoint goes, its handle stays: nobody can ever receive the fault.
        let ep = cap::create(Kind::Endpoint, 0).expect("endpoint");
        let p = faulted_child(c, ep, notice, true).expect("kept");
        cap::release(ep);
        c.check("its fault endpoint gone, it ends, faulted", sys::wait(p) == Ok(ExitStatus::Faulted(14)));
        cap::release(p);
        let _ = sys::poll(notice);

        // The fault is received, by a supervisor that then lets the handle go.
        let ep = cap::create(Kind::Endpoint, 0).expect("endpoint");
        let p = faulted_child(c, ep, notice, true).expect("kept");
        let reply = cap::alloc().expect("slot");
        let m = sys::recv(ep, reply);
        c.check("the fault message is received", m.is_ok_and(|m| m.label() == LABEL_FAULT));
        c.check("... and the process has not ended", !ended(notice));
        cap::release(p);
        c.check("its handle gone, it ends", ended(notice));
        cap::release(reply);

        // Its handle goes before it faults: nobody could act on the fault.
        faulted_child(c, ep, notice, false);
        c.check("with no handle to it, it ends at its fault", ended(notice));

        // Two faulted processes holding each other's handles: a faulted process holds
        // nothing, so neither keeps the other.
        let (a, b) = (created("fault"), created("fault"));
        for (p, bit) in [(a, 2), (b, 4)] {
            c.expect("give it a fault endpoint", sys::process_set_fault(p, ep), Ok(()));
            let badged = cap::with_badged(notice, bit, |n| sys::process_notify_exit(p, n));
            c.expect("and a death notice of its own", badged, Ok(()));
        }
        // Below our priority, so that neither runs (and faults) before we sleep: at ours, a
        // timer tick between starting a and giving it b could let a fault first.
        let low = PRIORITY_DEFAULT - 1;
        c.expect("b holds a", sys::cap_copy(a, 12, Rights::ALL, b), Ok(()));
        c.expect("start a", sys::process_start(a, "null", low).map(drop), Ok(()));
        c.expect("a holds b", sys::cap_copy(b, 12, Rights::ALL, a), Ok(()));
        c.expect("start b", sys::process_start(b, "null", low).map(drop), Ok(()));
        sys::sleep(SETTLE_TICKS);
        c.expect(
            "nothing can be given to a faulted process",
            sys::cap_copy(ep, 13, Rights::ALL, a),
            Err(Error::InvalidArgument),
        );
        cap::release(a);
        cap::release(b);
        c.check("both end once this process lets their handles go", sys::poll(notice) == Ok(2 | 4));
        cap::release(ep);
    });
    c.done()
}
