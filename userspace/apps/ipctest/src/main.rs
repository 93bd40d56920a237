//! `ipctest SCENARIO`: capability IPC between processes, checked from user space. Each
//! scenario prints `ok:`/`FAIL:` lines and a summary `ipctest SCENARIO: N checks, F failed`,
//! and exits with F. Children are this same program started with a role as first argument;
//! the capabilities a child gets are always put in slots 2, 3, ... (0 and 1 are its Memory
//! and Archive, by convention).
//!
//! Scenarios: `pingpong`, `rights`, `revoke`, `transfer`, `notify`, `irq`, `shared`,
//! `capcalls`, `restart`, `archive`, `console`, `typing`, `store`, `gallery`, `words`, `slowpath`,
//! `kept`, `threads`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use ipc::cap::{init_slots, Kind, Rights, Slot, SELF};
use ipc::msg::MsgInfo;
use ipc::proto::name::NameError;
use ipc::syscall::{ExitStatus, MapFlags, RunState, Syscall, PRIORITY_DEFAULT};
use ipc::system::slots;
use ipc::Error;
use rt::cap::{self, Grant};
use rt::check::Checks;
use rt::sys::{self, Msg};
use rt::{ipc, println};

mod archive;
mod console;
mod gallery;
mod kept;
mod slowpath;
mod store;
mod threads;
mod trace;
mod typing;

rt::main!(main);

const PING: u32 = 1;
const QUIT: u32 = 2;
const OPEN: u32 = 3;
const CRASH: u32 = 4;

/// The first slot a parent gives its child a capability in.
const GIVEN: Slot = 2;

fn main(args: rt::Args) -> u64 {
    let mut words = args.words();
    let role = words.next().unwrap_or("");
    let arg: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    match role {
        "pingpong" => pingpong(),
        "words" => stray_words(),
        "slowpath" => slowpath::slow_path(),
        "kept" => kept::kept(),
        "kept-caller" => kept::kept_caller(),
        "kept-exit" => kept::kept_server(false),
        "kept-fault" => kept::kept_server(true),
        "slow-server" => slowpath::slow_server(),
        "queuer" => slowpath::queuer(),
        "threads" => threads::threads(),
        "trace" => trace::trace(),
        "trace-off" => trace::trace_off(),
        "thread-server" => threads::thread_server(),
        "hold-client" => threads::hold_client(),
        "thread-faulter" => threads::thread_faulter(),
        "crowd" => threads::crowd(arg),
        "junk-server" => junk_server(),
        "rights" => rights(),
        "revoke" => revoke(),
        "transfer" => transfer(),
        "notify" => notify(),
        "irq" => irq(),
        "shared" => shared(),
        "capcalls" => capcalls(),
        "restart" => restart(),
        "archive" => archive::archive(),
        "console" => console::console(),
        "typing" => typing::typing(),
        "store" => store::store(),
        "gallery" => gallery::gallery(),
        "server" => server(arg),
        "client" => client(arg),
        "looper" => looper(),
        "nocap" => nocap(),
        "signaller" => signaller(),
        "session-client" => session_client(),
        "reader" => reader(),
        _ => {
            println!(
                "usage: ipctest pingpong|rights|revoke|transfer|notify|irq|shared|capcalls|restart|archive|console|typing|store|gallery|words|slowpath|kept|threads|trace|trace-off"
            );
            2
        }
    }
}

fn new_object(kind: Kind, size: u64) -> Slot {
    cap::create(kind, size).expect("create failed")
}

fn spawn(role: &str, grants: &[Grant]) -> Slot {
    cap::spawn("ipctest", role, PRIORITY_DEFAULT, grants).expect("spawn failed")
}

fn exited_ok(process: Slot) -> bool {
    let status = sys::wait(process);
    cap::release(process);
    status == Ok(ExitStatus::Exited(0))
}

/// An echo server on the endpoint in slot 2: answers PING with (word 0 + 1, the caller's
/// badge), OPEN with a fresh badged capability to the same endpoint, and ends after `quits`
/// QUIT messages.
fn server(quits: u64) -> u64 {
    let reply = cap::alloc().expect("slot");
    let session = cap::alloc().expect("slot");
    let mut left = quits;
    let mut sessions = 0;
    let mut answer = Msg::default();
    loop {
        let m = match sys::reply_recv(GIVEN, reply, &answer) {
            Ok(m) => m,
            Err(e) => {
                println!("server: receive failed: {e}");
                return 1;
            }
        };
        answer = match m.label() {
            PING => Msg::new(PING, &[m.words[0] + 1, m.badge]),
            QUIT => {
                left -= 1;
                if left == 0 {
                    let _ = sys::send(reply, &Msg::new(QUIT, &[]));
                    return 0;
                }
                Msg::new(QUIT, &[])
            }
            OPEN => {
                sessions += 1;
                let _ = sys::cap_delete(session);
                let minted = sys::cap_mint(GIVEN, session, Rights::WRITE, 100 + sessions, SELF);
                cap::set_send_cap(0, session);
                let mut a = Msg::new(OPEN, &[minted.is_ok() as u64]);
                a.info = MsgInfo::new(OPEN, 1, 1).encode();
                a
            }
            _ => Msg::new(0, &[]),
        };
    }
}

/// Calls the server 1,000 times through its capability in slot 2; each answer must be the
/// word plus one and carry this client's badge, `badge`.
fn client(badge: u64) -> u64 {
    let mut bad = 0;
    for i in 0..1000 {
        match sys::call_ep(GIVEN, &Msg::new(PING, &[i])) {
            Ok(a) if a.words[0] == i + 1 && a.words[1] == badge && a.badge == 0 => {}
            other => {
                bad += 1;
                if bad < 3 {
                    println!("client {badge}: call {i} answered {other:?}");
                }
            }
        }
    }
    let _ = sys::call_ep(GIVEN, &Msg::new(QUIT, &[]));
    println!("client {badge}: 1000 calls, {bad} wrong");
    bad
}

/// A process given nothing: no slot names anything it could call.
fn nocap() -> u64 {
    let mut reachable = 0;
    for slot in 0..ipc::cap::CSPACE_SLOTS {
        match sys::call_ep(slot, &Msg::new(PING, &[1])) {
            Err(Error::InvalidCapability) => {}
            _ => reachable += 1,
        }
    }
    println!("nocap: {reachable} slots reachable");
    reachable
}

fn pingpong() -> u64 {
    let mut c = Checks::new("ipctest pingpong");
    let ep = new_object(Kind::Endpoint, 0);
    let (b1, b2) = (cap::alloc().expect("slot"), cap::alloc().expect("slot"));
    c.expect("mint badge 1", sys::cap_mint(ep, b1, Rights::WRITE, 1, SELF), Ok(()));
    c.expect("mint badge 2", sys::cap_mint(ep, b2, Rights::WRITE, 2, SELF), Ok(()));
    let server = spawn("server 2", &[Grant::new(ep, GIVEN, Rights::READ)]);
    let c1 = spawn("client 1", &[Grant::new(b1, GIVEN, Rights::WRITE)]);
    let c2 = spawn("client 2", &[Grant::new(b2, GIVEN, Rights::WRITE)]);
    let lonely = spawn("nocap", &[]);
    c.check("client 1: every answer right, with badge 1", exited_ok(c1));
    c.check("client 2: every answer right, with badge 2", exited_ok(c2));
    c.check("a process without the capability reaches nothing", exited_ok(lonely));
    c.check("server ends after both clients quit", exited_ok(server));
    c.done()
}

/// What a sender leaves in the registers past the words it sends.
const JUNK: u64 = 0x5eed_dead_beef_0000;
/// A message that is sent, not called: nothing answers it.
const NOTE: u32 = 5;

/// A message of `label` carrying `words`, the registers past them holding [`JUNK`].
fn with_junk(label: u32, words: &[u64]) -> Msg {
    let mut m = Msg::new(label, words);
    m.words[words.len()..].fill(JUNK);
    m
}

/// How many words of a received message past the ones it carries are not zero.
fn leaked(m: &Msg) -> usize {
    m.words.iter().skip(usize::from(m.info().words)).filter(|&&w| w != 0).count()
}

/// A receiver never sees register words its sender did not send: a call queued before the
/// server waits and calls to a waiting server (the general path and the fast path), a send,
/// and the answers to each (the fast reply and a reply sent with `Send`).
fn stray_words() -> u64 {
    let mut c = Checks::new("ipctest words");
    let ep = new_object(Kind::Endpoint, 0);
    let server = spawn("junk-server", &[Grant::new(ep, GIVEN, Rights::READ)]);
    let call = |c: &mut Checks, what: &str, m: Msg| {
        let answer = sys::call_ep(ep, &m);
        c.check(
            &format!("{what}: the server saw no stray word, nor did the caller in its answer"),
            answer.is_ok_and(|a| a.words[0] == 0 && leaked(&a) == 0),
        );
    };
    call(&mut c, "a call queued before the server waits, one word", with_junk(PING, &[7]));
    call(&mut c, "a call to the waiting server, one word", with_junk(PING, &[8]));
    call(&mut c, "a call with no words", with_junk(PING, &[]));
    c.expect("a send with two words", sys::send(ep, &with_junk(NOTE, &[1, 2])), Ok(()));
    call(&mut c, "a call answered with Send, three words", with_junk(QUIT, &[1, 2, 3]));
    c.check("the server ends", exited_ok(server));
    c.done()
}

/// `words`' server on the endpoint in slot 2: answers each call with one word, the number
/// of stray words it has seen so far, with junk in the registers past it; QUIT is answered
/// with `Send` on the reply capability, then it ends.
fn junk_server() -> u64 {
    let reply = cap::alloc().expect("slot");
    let mut seen = 0;
    let mut answer: Option<Msg> = None;
    loop {
        let received = match &answer {
            Some(a) => sys::reply_recv(GIVEN, reply, a),
            None => sys::recv(GIVEN, reply),
        };
        let Ok(m) = received else { return 1 };
        seen += leaked(&m) as u64;
        answer = match m.label() {
            NOTE => None,
            QUIT => return u64::from(sys::send(reply, &with_junk(QUIT, &[seen])).is_err()),
            _ => Some(with_junk(PING, &[seen])),
        };
    }
}

fn rights() -> u64 {
    let mut c = Checks::new("ipctest rights");
    let ep = new_object(Kind::Endpoint, 0);
    let send_only = cap::alloc().expect("slot");
    c.expect("copy with the write right only", sys::cap_copy(ep, send_only, Rights::WRITE, SELF), Ok(()));
    let info = sys::cap_inspect(send_only);
    c.check(
        "inspect: endpoint, write only, no badge",
        info.is_ok_and(|i| i.kind == Kind::Endpoint && i.rights == Rights::WRITE && i.badge == 0),
    );
    let reply = cap::alloc().expect("slot");
    c.expect("a send-only capability cannot receive", sys::recv(send_only, reply), Err(Error::MissingRights));
    let more = cap::alloc().expect("slot");
    c.expect("copying never adds rights", sys::cap_copy(send_only, more, Rights::ALL, SELF), Err(Error::MissingRights));
    c.expect("... nor does minting", sys::cap_mint(send_only, more, Rights::READ, 5, SELF), Err(Error::MissingRights));
    let badged = cap::alloc().expect("slot");
    c.expect("mint a badge", sys::cap_mint(ep, badged, Rights::WRITE, 7, SELF), Ok(()));
    c.expect(
        "a minted capability cannot be re-badged",
        sys::cap_mint(badged, more, Rights::WRITE, 8, SELF),
        Err(Error::InvalidArgument),
    );
    c.expect("a copy of it keeps its badge", sys::cap_copy(badged, more, Rights::WRITE, SELF), Ok(()));
    c.check("inspect the copy: badge 7", sys::cap_inspect(more).is_ok_and(|i| i.badge == 7));
    cap::set_send_cap(0, ep);
    let with_cap = Msg { badge: 0, info: MsgInfo::new(PING, 0, 1).encode(), words: [0; 4] };
    c.expect(
        "no grant right: cannot transfer a capability",
        sys::nb_send(send_only, &with_cap),
        Err(Error::MissingRights),
    );
    c.expect("with grant, the send itself is tried (no receiver)", sys::nb_send(ep, &with_cap), Err(Error::WouldBlock));
    c.expect("the wrong kind: an endpoint is not a notification", sys::signal(ep), Err(Error::WrongKind));
    c.expect("an empty slot", sys::call_ep(200, &Msg::new(PING, &[])), Err(Error::InvalidCapability));
    c.expect("a slot out of range", sys::call_ep(1 << 40, &Msg::new(PING, &[])), Err(Error::InvalidCapability));
    c.expect("a full destination slot", sys::cap_copy(ep, send_only, Rights::WRITE, SELF), Err(Error::SlotInUse));
    c.expect("move", sys::cap_move(more, 250, SELF), Ok(()));
    c.check("moved: the old slot is empty", sys::cap_inspect(more) == Err(Error::InvalidCapability));
    c.check("moved: the new slot has it", sys::cap_inspect(250).is_ok_and(|i| i.badge == 7));
    c.expect("delete", sys::cap_delete(250), Ok(()));
    c.done()
}

/// Calls the server in a loop until a call fails; reports how.
fn looper() -> u64 {
    let mut calls = 0u64;
    loop {
        match sys::call_ep(GIVEN, &Msg::new(PING, &[calls])) {
            Ok(_) => calls += 1,
            Err(e) => {
                println!("looper: call failed after {} calls: {e}", calls);
                return if e == Error::InvalidCapability && calls > 0 { 0 } else { 1 };
            }
        }
    }
}

fn revoke() -> u64 {
    let mut c = Checks::new("ipctest revoke");
    let ep = new_object(Kind::Endpoint, 0);
    let for_client = cap::alloc().expect("slot");
    c.expect("mint the client's capability", sys::cap_mint(ep, for_client, Rights::WRITE, 9, SELF), Ok(()));
    let server = spawn("server 1", &[Grant::new(ep, GIVEN, Rights::READ)]);
    let client = spawn("looper", &[Grant::new(for_client, GIVEN, Rights::WRITE)]);
    sys::sleep(3);
    c.expect("revoke what was derived from the client's parent capability", sys::cap_revoke(for_client), Ok(()));
    c.check("the client's next call fails and it ends", exited_ok(client));
    let answer = sys::call_ep(ep, &Msg::new(PING, &[41]));
    c.check("the server carries on: it still answers", answer.is_ok_and(|a| a.words[0] == 42));
    let _ = sys::call_ep(ep, &Msg::new(QUIT, &[]));
    c.check("the server ends normally", exited_ok(server));
    c.done()
}

/// Opens a session: the answer carries a fresh badged endpoint capability, then uses it.
fn session_client() -> u64 {
    let session = cap::alloc().expect("slot");
    cap::set_recv_slot(0, session);
    let opened = sys::call_ep(GIVEN, &Msg::new(OPEN, &[]));
    let got = opened.map(|m| m.info().caps);
    let info = sys::cap_inspect(session);
    let answer = sys::call_ep(session, &Msg::new(PING, &[1]));
    println!("session-client: open {got:?}, capability {info:?}, answer {answer:?}");
    let _ = sys::call_ep(session, &Msg::new(QUIT, &[]));
    let ok = got == Ok(1)
        && info.is_ok_and(|i| i.kind == Kind::Endpoint && i.badge == 101)
        && answer.is_ok_and(|a| a.words == [2, 101, 0, 0]);
    u64::from(!ok)
}

fn transfer() -> u64 {
    let mut c = Checks::new("ipctest transfer");
    let ep = new_object(Kind::Endpoint, 0);
    let server = spawn("server 1", &[Grant::new(ep, GIVEN, Rights::ALL)]);
    let client = spawn("session-client", &[Grant::new(ep, GIVEN, Rights::WRITE)]);
    c.check("the server hands the client a badged session endpoint, which works", exited_ok(client));
    c.check("the server ends", exited_ok(server));
    c.done()
}

/// Signals the notification in slot 2 (its badge bits), then the one in slot 3.
fn signaller() -> u64 {
    let a = sys::signal(GIVEN);
    let b = sys::signal(GIVEN + 1);
    u64::from(a.is_err() || b.is_err())
}

fn notify() -> u64 {
    let mut c = Checks::new("ipctest notify");
    let n = new_object(Kind::Notification, 0);
    let (one, four) = (cap::alloc().expect("slot"), cap::alloc().expect("slot"));
    c.expect("mint badge 1", sys::cap_mint(n, one, Rights::WRITE, 1, SELF), Ok(()));
    c.expect("mint badge 4", sys::cap_mint(n, four, Rights::WRITE, 4, SELF), Ok(()));
    c.check("poll with nothing pending: 0", sys::poll(n) == Ok(0));
    c.expect("signal 1", sys::signal(one), Ok(()));
    c.expect("signal 4", sys::signal(four), Ok(()));
    c.check("bits accumulate: wait returns 5", sys::ntfn_wait(n) == Ok(5));
    c.check("and are cleared", sys::poll(n) == Ok(0));
    c.expect("a send-only capability cannot wait", sys::ntfn_wait(one), Err(Error::MissingRights));
    let child =
        spawn("signaller", &[Grant::new(one, GIVEN, Rights::WRITE), Grant::new(four, GIVEN + 1, Rights::WRITE)]);
    let mut got = 0;
    while got != 5 {
        match sys::ntfn_wait(n) {
            Ok(bits) => got |= bits,
            Err(_) => break,
        }
    }
    c.check("another process's signals wake the waiter with both bits", got == 5);
    c.check("signaller ends", exited_ok(child));
    timer(&mut c, n, four);
    c.done()
}

/// The process's timer (`TimerSet`) on notification `n`, through `four` (badge 4).
fn timer(c: &mut Checks, n: Slot, four: Slot) {
    let start = sys::micros_since_boot();
    c.expect("arm the timer for 30 ms", sys::timer_set(four, 30_000), Ok(()));
    c.check("it signals with its capability's badge", sys::ntfn_wait(n) == Ok(4));
    c.check("no sooner than asked", sys::micros_since_boot() - start >= 30_000);
    sys::sleep(5);
    c.check("and only once", sys::poll(n) == Ok(0));
    c.expect("arm it for 10 s", sys::timer_set(four, 10_000_000), Ok(()));
    c.expect("re-arming replaces that: 20 ms", sys::timer_set(n, 20_000), Ok(()));
    c.check("the new one fires (unbadged: bit 0)", sys::ntfn_wait(n) == Ok(1));
    c.expect("arm it for 20 ms again", sys::timer_set(n, 20_000), Ok(()));
    c.expect("disarm it", sys::timer_cancel(), Ok(()));
    sys::sleep(5);
    c.check("a disarmed timer never fires", sys::poll(n) == Ok(0));
    let read_only = cap::alloc().expect("slot");
    c.expect("a read-only copy", sys::cap_copy(n, read_only, Rights::READ, SELF), Ok(()));
    c.expect("cannot arm a timer", sys::timer_set(read_only, 1000), Err(Error::MissingRights));
    let ep = new_object(Kind::Endpoint, 0);
    c.expect("an endpoint is not a notification", sys::timer_set(ep, 1000), Err(Error::WrongKind));
}

/// `in`/`out` on a port this process was allowed (by its IoPorts capability).
fn outb(port: u16, value: u8) {
    // SAFETY: writes one byte to an I/O port; the kernel lets this process use it only after
    // IoPortsEnable on a capability covering it (else the CPU faults).
    unsafe { core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack)) }
}

/// The serial port's interrupt, through the Irq capability for line 4 that init gave this
/// process (slot 3), and COM1's ports through its IoPorts capability (slot 2).
fn irq() -> u64 {
    const COM1: u16 = 0x3f8;
    const IER: u16 = 1;
    const IER_TX_EMPTY: u8 = 1 << 1;
    let mut c = Checks::new("ipctest irq");
    let n = new_object(Kind::Notification, 0);
    let badged = cap::alloc().expect("slot");
    c.expect("mint badge 0x10", sys::cap_mint(n, badged, Rights::WRITE, 0x10, SELF), Ok(()));
    let (ports, line) = (slots::IOPORTS_FIRST, slots::IRQ_FIRST);
    c.check("the description's ports are given", sys::cap_inspect(ports).is_ok_and(|i| i.kind == Kind::IoPorts));
    c.check("... and its interrupt line", sys::cap_inspect(line).is_ok_and(|i| i.kind == Kind::Irq));
    c.expect("bind IRQ 4 to the notification", sys::irq_bind(line, badged), Ok(()));
    c.expect("enable the ports", sys::io_ports_enable(ports), Ok(()));
    // The transmitter is idle, so enabling its "empty" interrupt raises IRQ 4 at once.
    outb(COM1 + IER, IER_TX_EMPTY);
    let bits = sys::ntfn_wait(n);
    outb(COM1 + IER, 0);
    c.check(&format!("the serial interrupt arrives as a notification (bits {bits:?})"), bits == Ok(0x10));
    c.expect("acknowledge it", sys::irq_ack(line), Ok(()));
    // An unbadged notification, and an interrupt that comes while nobody waits: its bit
    // (bit 0) must stay pending, not vanish.
    let plain = new_object(Kind::Notification, 0);
    c.expect("bind the line to an unbadged notification", sys::irq_bind(line, plain), Ok(()));
    outb(COM1 + IER, IER_TX_EMPTY);
    let mut pending = Ok(0);
    for _ in 0..1000 {
        pending = sys::poll(plain);
        if pending != Ok(0) {
            break;
        }
    }
    outb(COM1 + IER, 0);
    c.check(&format!("an interrupt nobody waited for stays pending as bit 0 (polled {pending:?})"), pending == Ok(1));
    c.expect("acknowledge it", sys::irq_ack(line), Ok(()));
    c.done()
}

/// Maps the Frame in slot 2, checks the parent's pattern, writes its own, and answers the
/// parent's call on the endpoint in slot 3.
fn reader() -> u64 {
    const AT: u64 = 0x5000_0000_0000;
    if sys::frame_map(GIVEN, AT, MapFlags::WRITE, SELF).is_err() {
        return 1;
    }
    let words = (1 << 20) / 8;
    // SAFETY: the Frame is 1 MiB, mapped writable at AT just above, and nothing else in this
    // process refers to it.
    let buf = unsafe { core::slice::from_raw_parts_mut(AT as *mut u64, words) };
    let seen = buf.iter().enumerate().all(|(i, &w)| w == i as u64 * 3);
    for (i, w) in buf.iter_mut().enumerate() {
        *w = i as u64 * 5;
    }
    let reply = cap::alloc().expect("slot");
    let Ok(_) = sys::recv(GIVEN + 1, reply) else { return 1 };
    let _ = sys::send(reply, &Msg::new(PING, &[seen as u64]));
    0
}

fn shared() -> u64 {
    const AT: u64 = 0x6000_0000_0000;
    const PAGES: u64 = 256;
    let mut c = Checks::new("ipctest shared");
    let frame = new_object(Kind::Frame, PAGES);
    let ep = new_object(Kind::Endpoint, 0);
    c.expect("map the 1 MiB Frame", sys::frame_map(frame, AT, MapFlags::WRITE, SELF), Ok(()));
    let words = (PAGES * 4096 / 8) as usize;
    // SAFETY: the Frame is mapped writable at AT for PAGES pages; only this slice refers to it
    // here (the child writes it only while this process waits in `call`).
    let buf = unsafe { core::slice::from_raw_parts_mut(AT as *mut u64, words) };
    for (i, w) in buf.iter_mut().enumerate() {
        *w = i as u64 * 3;
    }
    let read_only = cap::alloc().expect("slot");
    c.expect("a read-only copy of the Frame", sys::cap_copy(frame, read_only, Rights::READ, SELF), Ok(()));
    c.expect(
        "cannot be mapped writable",
        sys::frame_map(read_only, AT + (64 << 20), MapFlags::WRITE, SELF),
        Err(Error::MissingRights),
    );
    c.expect(
        "is never executable",
        sys::frame_map(frame, AT + (64 << 20), MapFlags::EXECUTE, SELF),
        Err(Error::InvalidArgument),
    );
    let child = spawn(
        "reader",
        &[Grant::new(frame, GIVEN, Rights::READ.union(Rights::WRITE)), Grant::new(ep, GIVEN + 1, Rights::READ)],
    );
    let answer = sys::call_ep(ep, &Msg::new(PING, &[]));
    c.check("the child saw all of this process's 1 MiB", answer.is_ok_and(|a| a.words[0] == 1));
    let all = buf.iter().enumerate().all(|(i, &w)| w == i as u64 * 5);
    c.check("and this process sees all of the child's", all);
    c.check("the child ends", exited_ok(child));
    // A mapping holds its Frame: with the capabilities gone, the pages stay until the last
    // mapped one is unmapped, and then they are free again at once.
    c.expect("delete the read-only copy", sys::cap_delete(read_only), Ok(()));
    c.expect("delete the Frame's capability", sys::cap_delete(frame), Ok(()));
    let (before, _) = sys::mem_stats();
    let half = PAGES / 2 * 4096;
    // SAFETY: `buf` is not used again; nothing else refers to the Frame's pages here.
    c.expect("unmap half the Frame", unsafe { sys::unmap(AT, half) }, Ok(()));
    c.check("the mapping still holds the Frame", sys::mem_stats().0 == before);
    // SAFETY: as above.
    c.expect("unmap the rest", unsafe { sys::unmap(AT + half, half) }, Ok(()));
    c.check("the Frame's pages are free again", sys::mem_stats().0 == before + PAGES);
    c.done()
}

/// A system call tried on the capability in one slot.
type CapCall<'a> = dyn Fn(Slot) -> Result<(), Error> + 'a;

/// Every call that takes a capability, given an empty slot, a capability of the wrong kind,
/// and one lacking the right it needs.
fn capcalls() -> u64 {
    let mut c = Checks::new("ipctest capcalls");
    let ep = new_object(Kind::Endpoint, 0);
    let n = new_object(Kind::Notification, 0);
    let frame = new_object(Kind::Frame, 1);
    let (ep_none, n_none, frame_none, mem_none, archive_none) = (
        cap::alloc().unwrap(),
        cap::alloc().unwrap(),
        cap::alloc().unwrap(),
        cap::alloc().unwrap(),
        cap::alloc().unwrap(),
    );
    sys::cap_copy(ep, ep_none, Rights::NONE, SELF).unwrap();
    sys::cap_copy(n, n_none, Rights::NONE, SELF).unwrap();
    sys::cap_copy(frame, frame_none, Rights::NONE, SELF).unwrap();
    sys::cap_copy(init_slots::MEMORY, mem_none, Rights::NONE, SELF).unwrap();
    sys::cap_copy(init_slots::ARCHIVE, archive_none, Rights::NONE, SELF).unwrap();
    let ports_none = cap::alloc().unwrap();
    sys::cap_copy(slots::IOPORTS_FIRST, ports_none, Rights::NONE, SELF).unwrap();
    let introspect_none = cap::alloc().unwrap();
    sys::cap_copy(slots::INTROSPECT, introspect_none, Rights::NONE, SELF).unwrap();
    let child = cap::alloc().unwrap();
    sys::process_create(init_slots::MEMORY, init_slots::ARCHIVE, "ipctest", child).unwrap();
    let child_none = cap::alloc().unwrap();
    sys::cap_copy(child, child_none, Rights::NONE, SELF).unwrap();
    let empty: Slot = 199;
    let dest: Slot = 198;
    let name = "ipctest";
    let m = Msg::new(PING, &[]);
    // (call, a capability of the wrong kind for it, one lacking the right it needs).
    type Call<'a> = (&'a str, &'a CapCall<'a>, Slot, Slot);
    let calls: [Call; 24] = [
        ("Send", &|s| sys::send(s, &m), n, ep_none),
        ("NbSend", &|s| sys::nb_send(s, &m), n, ep_none),
        ("Call", &|s| sys::call_ep(s, &m).map(drop), n, ep_none),
        ("Recv", &|s| sys::recv(s, dest).map(drop), n, ep_none),
        ("ReplyRecv", &|s| sys::reply_recv(s, dest, &m).map(drop), n, ep_none),
        ("Signal", &|s| sys::signal(s), ep, n_none),
        ("NtfnWait", &|s| sys::ntfn_wait(s).map(drop), ep, n_none),
        ("Poll", &|s| sys::poll(s).map(drop), ep, n_none),
        ("NtfnBind", &|s| sys::ntfn_bind(s), ep, n_none),
        ("FrameMap", &|s| sys::frame_map(s, 0x7000_0000_0000, MapFlags::READ, SELF), ep, frame_none),
        ("Create", &|s| sys::create(s, Kind::Endpoint, dest, 0), ep, mem_none),
        ("ProcessCreate (memory)", &|s| sys::process_create(s, init_slots::ARCHIVE, name, dest), ep, mem_none),
        ("ProcessCreate (archive)", &|s| sys::process_create(init_slots::MEMORY, s, name, dest), ep, archive_none),
        ("ProcessStart", &|s| sys::process_start(s, "", 1).map(drop), ep, child_none),
        ("ProcessKill", &|s| sys::process_kill(s), ep, child_none),
        ("ProcessSetFault", &|s| sys::process_set_fault(s, ep), ep, child_none),
        ("ProcessNotifyExit", &|s| sys::process_notify_exit(s, n), ep, child_none),
        ("Wait", &|s| sys::wait(s).map(drop), ep, child_none),
        ("CapCopy (target)", &|s| sys::cap_copy(ep, dest, Rights::NONE, s), ep, child_none),
        ("ArchiveRead", &|s| sys::archive_read(s, "cmdline", &mut [], 0).map(drop), ep, archive_none),
        ("ProcessInfo", &|s| sys::process_info(s, 0).map(drop), ep, introspect_none),
        ("CapRead", &|s| sys::cap_read(s, 1, 0).map(drop), ep, introspect_none),
        ("IoPortsDerive", &|s| sys::io_ports_derive(s, 0x3f8, 0x3ff, dest, init_slots::MEMORY), ep, ports_none),
        (
            "IoPortsDerive (memory)",
            &|s| sys::io_ports_derive(slots::IOPORTS_FIRST, 0x3f8, 0x3ff, dest, s),
            ep,
            mem_none,
        ),
    ];
    for (what, call, wrong, lacking) in calls {
        c.expect(&format!("{what}: empty slot"), call(empty), Err(Error::InvalidCapability));
        c.expect(&format!("{what}: wrong kind"), call(wrong), Err(Error::WrongKind));
        c.expect(&format!("{what}: missing right"), call(lacking), Err(Error::MissingRights));
    }
    let irq_like: [(&str, &CapCall); 3] = [
        ("IrqBind", &|s| sys::irq_bind(s, n)),
        ("IrqAck", &|s| sys::irq_ack(s)),
        ("IoPortsEnable", &|s| sys::io_ports_enable(s)),
    ];
    for (what, call) in irq_like {
        c.expect(&format!("{what}: empty slot"), call(empty), Err(Error::InvalidCapability));
        c.expect(&format!("{what}: wrong kind"), call(ep), Err(Error::WrongKind));
    }
    for (what, r) in [
        ("CapInspect: empty slot", sys::cap_inspect(empty).map(drop)),
        ("CapCopy: empty slot", sys::cap_copy(empty, dest, Rights::NONE, SELF)),
        ("CapMint: empty slot", sys::cap_mint(empty, dest, Rights::NONE, 1, SELF)),
        ("CapMove: empty slot", sys::cap_move(empty, dest, SELF)),
        ("CapDelete: empty slot", sys::cap_delete(empty)),
        ("CapRevoke: empty slot", sys::cap_revoke(empty)),
    ] {
        c.expect(what, r, Err(Error::InvalidCapability));
    }
    // SAFETY: a refused call changes nothing.
    let unknown_kind = unsafe { sys::raw(Syscall::Create as u64, [init_slots::MEMORY, 99, dest, 0, 0, 0]) };
    c.expect("Create: unknown kind", unknown_kind, Err(Error::InvalidArgument));
    c.expect(
        "Create: a Frame too large for any quota",
        sys::create(init_slots::MEMORY, Kind::Frame, dest, 1 << 40),
        Err(Error::InvalidArgument),
    );
    let small = cap::alloc().unwrap();
    c.expect("split a 4 KiB Memory quota", sys::create(init_slots::MEMORY, Kind::Memory, small, 4096), Ok(()));
    c.expect("a 2-page Frame exceeds it", sys::create(small, Kind::Frame, dest, 2), Err(Error::OutOfMemory));
    c.expect("a 1-page Frame fits", sys::create(small, Kind::Frame, dest, 1), Ok(()));
    c.expect("an endpoint no longer does", sys::create(small, Kind::Endpoint, dest + 1, 0), Err(Error::OutOfMemory));
    c.expect("the never-started child goes with its capability", sys::cap_delete(child), Ok(()));
    let mut name = [0; 64];
    let first = sys::process_info(slots::INTROSPECT, 0);
    c.check("the first process is init", first.is_ok_and(|p| p.pid == 1 && p.name(&mut name) == "init"));
    c.expect("past the last process", sys::process_info(slots::INTROSPECT, 1 << 40).map(drop), Err(Error::NotFound));
    let me = (0..).map_while(|i| sys::process_info(slots::INTROSPECT, i).ok()).find(|p| p.name(&mut name) == "ipctest");
    c.check(
        "it sees this process, running and charged",
        me.is_some_and(|p| p.charged > 0 && p.state.state == RunState::Ready),
    );
    let pid = me.map_or(0, |p| p.pid);
    let memory = sys::cap_read(slots::INTROSPECT, pid, 0);
    c.check(
        "and this process's slot 0: its Memory",
        memory.is_ok_and(|(slot, cap)| slot == 0 && cap.kind == Kind::Memory),
    );
    c.expect("no process of that id", sys::cap_read(slots::INTROSPECT, 1 << 40, 0).map(drop), Err(Error::NotFound));
    c.expect("no slot past the last", sys::cap_read(slots::INTROSPECT, pid, 1 << 40).map(drop), Err(Error::NotFound));
    c.done()
}

/// Against the supervised echo server, found through the name server: a call whose server
/// crashes fails with `ObjectGone`; the next call reaches the restarted server, through the
/// same capability.
fn restart() -> u64 {
    let mut c = Checks::new("ipctest restart");
    let looked_up = rt::name::lookup("echo");
    c.check("look up the echo service: generation 1", looked_up.is_ok_and(|(_, g)| g == 1));
    let Ok((echo, _)) = looked_up else { return c.done() };
    let watch = new_object(Kind::Notification, 0);
    c.check("watch it", rt::name::NameServer::GIVEN.watch("echo", watch) == Ok(1));
    let first = sys::call_ep(echo, &Msg::new(PING, &[1]));
    c.check("the echo server answers", first.is_ok_and(|a| a.words[0] == 2));
    let lost = sys::call_ep(echo, &Msg::new(CRASH, &[]));
    c.expect("the call its crash interrupted fails", lost, Err(Error::ObjectGone));
    let again = sys::call_ep(echo, &Msg::new(PING, &[5]));
    c.check("calling again reaches the restarted server", again.is_ok_and(|a| a.words[0] == 6));
    c.check("the watch was signalled when init registered it again", sys::poll(watch).is_ok_and(|b| b != 0));
    let relooked = rt::name::lookup("echo");
    c.check("its generation is now 2", relooked.is_ok_and(|(_, g)| g == 2));
    let denied = Err(rt::name::Failed::Server(NameError::Denied));
    c.check("a name it does not use is refused", rt::name::lookup("console").map(drop) == denied);
    let given = rt::name::NameServer::GIVEN;
    c.check("it may not register a name another program provides", given.register("echo", echo).map(drop) == denied);
    c.check("... nor one nobody provides", given.register("weather", echo).map(drop) == denied);
    c.done()
}
