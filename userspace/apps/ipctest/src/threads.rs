//! `ipctest threads`: threads of a process (`ThreadCreate` and the calls on Thread
//! capabilities), checked from user space:
//!
//! 1. a thread runs on its own stack with its own IPC buffer, and ends (`join`);
//! 2. priorities: never above the creator's; a lowered thread waits while we run;
//! 3. suspend and resume: a receive given up returns `Interrupted`; a thread that suspends
//!    itself goes on when resumed;
//! 4. two threads of one server answer two clients queued at once: the first thread holds
//!    its call until the second has taken the other;
//! 5. a fault in one thread stops its whole process and goes to the supervisor;
//! 6. threads made and ended, and a process with many threads killed, give back every frame.

use super::{new_object, GIVEN, PING, QUIT};
use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use rt::cap::{self, Grant};
use rt::check::Checks;
use rt::ipc::cap::{init_slots, Kind, Rights, Slot, SELF};
use rt::ipc::layout::{thread_ipc_buffer, IPC_BUFFER};
use rt::ipc::msg::LABEL_FAULT;
use rt::ipc::syscall::{ExitStatus, PRIORITY_DEFAULT};
use rt::ipc::Error;
use rt::sys::{self, Msg};
use rt::thread;

/// Asks a server thread to hold the call until its sibling has one too.
const HOLD: u32 = 20;
/// What a held call answers if no sibling took the other call within the watchdog's time.
const ALONE: u64 = 1 << 40;
/// Threads of the crowded process in case 6.
const CROWD: u64 = 24;

static SEEN: AtomicU64 = AtomicU64::new(0);

/// Our memory, for a child that makes threads (each makes a notification for its end).
fn memory() -> Grant {
    Grant::new(init_slots::MEMORY, init_slots::MEMORY, Rights::WRITE)
}

pub fn threads() -> u64 {
    let mut c = Checks::new("ipctest threads");
    own_stack_and_buffer(&mut c);
    priorities(&mut c);
    suspend_resume(&mut c);
    two_server_threads(&mut c);
    fault_stops_the_process(&mut c);
    everything_freed(&mut c);
    c.done()
}

fn own_stack_and_buffer(c: &mut Checks) {
    cap::set_word(10, 0xaaaa);
    let t = thread::spawn(|| {
        let here = 0u64;
        SEEN.store(cap::buffer() as u64, Ordering::SeqCst);
        cap::set_word(10, 0xbbbb);
        // Its stack is in rt's stack area, not ours.
        let stack = core::ptr::addr_of!(here) as u64;
        SEEN.fetch_or(u64::from(stack < IPC_BUFFER - (1 << 30)), Ordering::SeqCst);
    });
    let Ok(t) = t else {
        c.check("spawn a thread", false);
        return;
    };
    c.check("the thread has an id", t.id() != 0);
    c.expect("join it", t.join(), Ok(()));
    let seen = SEEN.load(Ordering::SeqCst);
    c.equal("its IPC buffer is the process's second", seen & !1, thread_ipc_buffer(1));
    c.check("its stack is its own", seen & 1 == 1);
    c.equal("ours is still the first", cap::buffer() as u64, IPC_BUFFER);
    c.equal("and still holds our word", cap::word(10), 0xaaaa);
}

fn priorities(c: &mut Checks) {
    SEEN.store(0, Ordering::SeqCst);
    let go = new_object(Kind::Notification, 0);
    // It waits for `go` first, so whenever it gets to run it only blocks.
    let Ok(t) = thread::spawn(move || {
        let _ = sys::ntfn_wait(go);
        SEEN.store(1, Ordering::SeqCst);
    }) else {
        c.check("spawn a thread", false);
        return;
    };
    let above = sys::thread_priority(t.slot(), PRIORITY_DEFAULT + 1);
    c.expect("no priority above the creator's", above, Err(Error::InvalidArgument));
    c.expect("lower it", sys::thread_priority(t.slot(), PRIORITY_DEFAULT - 1), Ok(()));
    c.expect("let it go", sys::signal(go), Ok(()));
    // It is ready but below us: busy as we are, it does not run, timer ticks or not.
    let start = sys::ticks().0;
    while sys::ticks().0 < start + 3 {
        core::hint::spin_loop();
    }
    c.equal("a lower thread waits while we run", SEEN.load(Ordering::SeqCst), 0);
    c.expect("join it", t.join(), Ok(()));
    c.equal("and runs once we wait", SEEN.load(Ordering::SeqCst), 1);
    cap::release(go);
}

fn suspend_resume(c: &mut Checks) {
    let ep = new_object(Kind::Endpoint, 0);
    let reply = cap::alloc().expect("slot");
    SEEN.store(0, Ordering::SeqCst);
    let Ok(t) = thread::spawn(move || {
        // The first receive is given up by the suspension; the second takes our call.
        let first = sys::recv(ep, reply).err().map_or(0, |e| e.code());
        SEEN.store(first, Ordering::SeqCst);
        if let Ok(m) = sys::recv(ep, reply) {
            let _ = sys::send(reply, &Msg::new(PING, &[m.words[0] + 1]));
        }
    }) else {
        c.check("spawn a thread", false);
        return;
    };
    // Equal priority: it runs into its receive once we wait a tick.
    sys::sleep(1);
    c.expect("suspend the receiving thread", sys::thread_suspend(t.slot()), Ok(()));
    c.expect("suspended, it takes no message", sys::nb_send(ep, &Msg::new(PING, &[1])), Err(Error::WouldBlock));
    c.expect("suspending again does nothing", sys::thread_suspend(t.slot()), Ok(()));
    c.expect("resume it", sys::thread_resume(t.slot()), Ok(()));
    let answer = sys::call_ep(ep, &Msg::new(PING, &[41])).map(|a| a.words[0]);
    c.equal("its receive returned Interrupted", SEEN.load(Ordering::SeqCst), Error::Interrupted.code());
    c.equal("and the next one took our call", answer, Ok(42));
    let kept = cap::alloc().expect("slot");
    c.expect("keep a copy of its capability", sys::cap_copy(t.slot(), kept, Rights::ALL, SELF), Ok(()));
    c.expect("join it", t.join(), Ok(()));
    c.expect("a Thread capability to an ended thread", sys::thread_resume(kept), Err(Error::ObjectGone));
    cap::release(kept);

    // A thread that suspends itself goes on only once resumed. It waits for `go` first, by
    // when its own capability is in `me`.
    let (me, go) = (cap::alloc().expect("slot"), new_object(Kind::Notification, 0));
    SEEN.store(0, Ordering::SeqCst);
    let Ok(t) = thread::spawn(move || {
        let _ = sys::ntfn_wait(go);
        SEEN.store(1, Ordering::SeqCst);
        let _ = sys::thread_suspend(me);
        SEEN.store(2, Ordering::SeqCst);
    }) else {
        c.check("spawn a thread", false);
        return;
    };
    c.expect("give it its own capability", sys::cap_copy(t.slot(), me, Rights::ALL, SELF), Ok(()));
    c.expect("let it go", sys::signal(go), Ok(()));
    sys::sleep(2);
    c.equal("it suspended itself", SEEN.load(Ordering::SeqCst), 1);
    c.expect("resume it", sys::thread_resume(t.slot()), Ok(()));
    c.expect("join it", t.join(), Ok(()));
    c.equal("it went on", SEEN.load(Ordering::SeqCst), 2);
    cap::release(me);
    cap::release(go);
    cap::release(ep);
    cap::free(reply);
}

fn two_server_threads(c: &mut Checks) {
    let ep = new_object(Kind::Endpoint, 0);
    let Ok(server) =
        cap::spawn("ipctest", "thread-server", PRIORITY_DEFAULT, &[memory(), Grant::new(ep, GIVEN, Rights::READ)])
    else {
        c.check("start the two-thread server", false);
        return;
    };
    // Until both server threads receive, a PING waits: its answer says they are.
    c.equal("the server's threads are up", sys::call_ep(ep, &Msg::new(PING, &[0])).map(|a| a.words[0]), Ok(1));
    let clients: Vec<Slot> = (0..2)
        .filter_map(|_| {
            cap::spawn("ipctest", "hold-client", PRIORITY_DEFAULT, &[Grant::new(ep, GIVEN, Rights::WRITE)]).ok()
        })
        .collect();
    c.equal("two clients call at once", clients.len(), 2);
    let answered: Vec<_> = clients.iter().map(|&p| sys::wait(p)).collect();
    let threads: Vec<u64> = answered
        .iter()
        .filter_map(|s| match s {
            Ok(ExitStatus::Exited(tid)) if *tid != 0 && *tid < ALONE => Some(*tid),
            _ => None,
        })
        .collect();
    c.equal("both held calls were answered, neither alone", threads.len(), 2);
    c.check("by two different threads", threads.len() == 2 && threads[0] != threads[1]);
    let _ = sys::call_ep(ep, &Msg::new(QUIT, &[]));
    c.equal("the server ends", sys::wait(server), Ok(ExitStatus::Exited(0)));
    clients.into_iter().for_each(cap::release);
    cap::release(server);
    cap::release(ep);
}

/// `thread-server`: two threads on the endpoint in slot 2. A HOLD is answered (with the
/// answering thread's id) only once the other thread has a HOLD too, or after a watchdog of
/// two seconds (then with `ALONE`). The first PING is answered once both receive; QUIT ends
/// the process.
pub fn thread_server() -> u64 {
    let pair = new_object(Kind::Notification, 0);
    let up = new_object(Kind::Notification, 0);
    // The sibling signals bit 1 through a badged copy; the watchdog timer signals bit 0.
    let nudge = cap::alloc().expect("slot");
    if sys::cap_mint(pair, nudge, Rights::WRITE, 2, SELF).is_err() {
        return 1;
    }
    let second = thread::spawn(move || serve(pair, nudge, up, true));
    if second.is_err() {
        return 1;
    }
    serve(pair, nudge, up, false);
    0
}

fn serve(pair: Slot, nudge: Slot, up: Slot, second: bool) {
    let reply = cap::alloc().expect("slot");
    let me = THREAD_IDS.fetch_add(1, Ordering::SeqCst) + 1;
    if second {
        let _ = sys::signal(up);
    } else {
        // Our first receive waits until the second thread is up (it signals before its own
        // first receive, which it reaches before we run again: same priority, we wait).
        let _ = sys::ntfn_wait(up);
    }
    let mut answer = None;
    loop {
        let Ok(m) = sys::next_request(GIVEN, reply, answer.as_ref()) else { return };
        answer = Some(match m.label() {
            PING => Msg::new(PING, &[1]),
            HOLD => {
                if HELD.fetch_add(1, Ordering::SeqCst) == 0 {
                    // The first: wait for the sibling's HOLD, or the watchdog.
                    let _ = sys::timer_set(pair, 2_000_000);
                    let bits = sys::ntfn_wait(pair).unwrap_or(0);
                    let _ = sys::timer_cancel();
                    Msg::new(HOLD, &[if bits & 2 != 0 { me } else { ALONE }])
                } else {
                    let _ = sys::signal(nudge);
                    Msg::new(HOLD, &[me])
                }
            }
            _ => {
                let _ = sys::send(reply, &Msg::new(QUIT, &[]));
                sys::exit(0);
            }
        });
    }
}

static THREAD_IDS: AtomicU64 = AtomicU64::new(0);
static HELD: AtomicU64 = AtomicU64::new(0);

/// `hold-client`: one HOLD call on the endpoint in slot 2; exits with the answer.
pub fn hold_client() -> u64 {
    sys::call_ep(GIVEN, &Msg::new(HOLD, &[])).map_or(0, |a| a.words[0])
}

fn fault_stops_the_process(c: &mut Checks) {
    let faults = new_object(Kind::Endpoint, 0);
    let ep = new_object(Kind::Endpoint, 0);
    let spawned = cap::spawn_with(
        "ipctest",
        "thread-faulter",
        PRIORITY_DEFAULT,
        &[memory(), Grant::new(ep, GIVEN, Rights::READ)],
        |p| sys::process_set_fault(p, faults),
    );
    let Ok(spawned) = spawned else {
        c.check("start the faulting process", false);
        return;
    };
    let reply = cap::alloc().expect("slot");
    let fault = sys::recv(faults, reply);
    let words = fault.as_ref().map(|m| (m.label(), m.words[0], m.words[3])).ok();
    c.equal("the supervisor gets the thread's page fault at address 8", words, Some((LABEL_FAULT, 14, 8)));
    c.expect(
        "its other thread stopped too: nobody receives",
        sys::nb_send(ep, &Msg::new(PING, &[1])),
        Err(Error::WouldBlock),
    );
    c.expect("kill the stopped process", sys::process_kill(spawned.slot), Ok(()));
    c.equal("it ends killed", sys::wait(spawned.slot), Ok(ExitStatus::Killed));
    cap::release(spawned.slot);
    cap::free(reply);
    cap::release(ep);
    cap::release(faults);
}

/// `thread-faulter`: its first thread receives on slot 2 for ever; a second thread reads
/// address 8.
pub fn thread_faulter() -> u64 {
    let _ = thread::spawn(|| {
        // SAFETY: address 8 lies below USER_MIN, where nothing is ever mapped: the read
        // faults before it touches anything, and the kernel stops the process (the point).
        let _ = unsafe { core::ptr::read_volatile(core::ptr::dangling::<u64>()) };
    });
    let reply = cap::alloc().expect("slot");
    let _ = sys::recv(GIVEN, reply);
    1
}

fn everything_freed(c: &mut Checks) {
    let cycle = || {
        for _ in 0..20 {
            if let Ok(t) = thread::spawn(|| {}) {
                let _ = t.join();
            }
        }
        let ep = new_object(Kind::Endpoint, 0);
        if let Ok(p) = cap::spawn(
            "ipctest",
            &format!("crowd {CROWD}"),
            PRIORITY_DEFAULT,
            &[memory(), Grant::new(ep, GIVEN, Rights::READ)],
        ) {
            // Its PING answer says every thread is up and waiting.
            let _ = sys::call_ep(ep, &Msg::new(PING, &[0]));
            let _ = sys::process_kill(p);
            let _ = sys::wait(p);
            cap::release(p);
        }
        cap::release(ep);
        sys::mem_stats()
    };
    let first = cycle();
    let second = cycle();
    c.equal("after threads made and ended, and a crowded process killed, every frame is back", second.0, first.0);
    c.equal("and the kernel heap is where it was", second.1, first.1);
}

/// `crowd N`: N - 1 more threads, waiting for ever (on a notification nobody signals, or
/// asleep); answers one PING on slot 2 once they all are.
pub fn crowd(n: u64) -> u64 {
    let up = new_object(Kind::Notification, 0);
    let never = new_object(Kind::Notification, 0);
    for i in 1..n {
        let spawned = thread::spawn(move || {
            let _ = sys::signal(up);
            match i % 2 {
                0 => drop(sys::ntfn_wait(never)),
                _ => sys::sleep(1 << 40),
            }
        });
        if spawned.is_err() {
            return 1;
        }
        let _ = sys::ntfn_wait(up);
    }
    let reply = cap::alloc().expect("slot");
    if let Ok(m) = sys::recv(GIVEN, reply) {
        let _ = sys::send(reply, &Msg::new(m.label(), &[1]));
    }
    let _ = sys::recv(GIVEN, reply);
    0
}
