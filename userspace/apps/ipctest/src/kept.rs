//! `ipctest kept`: answers a receiving thread keeps itself (`REPLY_IN_THREAD`), checked from
//! user space, with the fast path on and (in the `slowpath` run) off:
//!
//! 1. a server thread that keeps its answers serves 100 calls by `ReplyRecv`, one of them
//!    answered with a capability, and its last by `Send`;
//! 2. receiving again before answering drops the kept call: its caller gets `ObjectGone`,
//!    and the next caller is answered;
//! 3. a caller killed while its call is kept: the answer is dropped, `Send` still succeeds,
//!    and the thread that calls next (which may get the killed one's thread id) gets only its
//!    own answer;
//! 4. a server that ends, and one that faults (stopped for its supervisor), with a call kept:
//!    the caller gets `ObjectGone`.

use super::{new_object, spawn, GIVEN, PING, QUIT};
use core::sync::atomic::{AtomicU64, Ordering};
use rt::cap::{self, Grant};
use rt::check::Checks;
use rt::ipc::cap::{Kind, Rights};
use rt::ipc::msg::{MsgInfo, LABEL_FAULT};
use rt::ipc::syscall::{ExitStatus, PRIORITY_DEFAULT, REPLY_IN_THREAD};
use rt::ipc::Error;
use rt::sys::{self, Msg};
use rt::thread;

/// Asks the echo thread for a capability in the answer.
const GIVE: u32 = 30;

/// What a thread's call came back with: 0 not yet, 1 + word 0 of the answer, or
/// `FAILED + code` of the error.
static RESULT: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
const FAILED: u64 = 1 << 32;

fn outcome(r: Result<Msg, Error>) -> u64 {
    match r {
        Ok(m) => 1 + m.words[0],
        Err(e) => failed(e),
    }
}

fn failed(e: Error) -> u64 {
    FAILED + e.code()
}

pub fn kept() -> u64 {
    let mut c = Checks::new("ipctest kept");
    serves_calls(&mut c);
    receiving_again_drops(&mut c);
    caller_killed(&mut c);
    server_gone(&mut c, "kept-exit", false);
    server_gone(&mut c, "kept-fault", true);
    c.done()
}

fn serves_calls(c: &mut Checks) {
    let ep = new_object(Kind::Endpoint, 0);
    let received = cap::alloc().expect("slot");
    cap::set_recv_slot(0, received);
    let Ok(server) = thread::spawn(move || {
        let mut m = Msg::default();
        loop {
            if sys::reply_recv_in_place(ep, REPLY_IN_THREAD, &mut m).is_err() {
                return;
            }
            m = match m.label() {
                PING => Msg::new(PING, &[m.words[0] + 1]),
                GIVE => {
                    cap::set_send_cap(0, ep);
                    let mut a = Msg::new(GIVE, &[7]);
                    a.info = MsgInfo::new(GIVE, 1, 1).encode();
                    a
                }
                _ => {
                    let _ = sys::send(REPLY_IN_THREAD, &Msg::new(QUIT, &[42]));
                    return;
                }
            };
        }
    }) else {
        c.check("spawn the server thread", false);
        return;
    };
    let right = (0..100).filter(|&i| sys::call_ep(ep, &Msg::new(PING, &[i])).map(|a| a.words[0]) == Ok(i + 1)).count();
    c.equal("100 calls answered rightly by the thread that keeps its answers", right, 100);
    let given = sys::call_ep(ep, &Msg::new(GIVE, &[]));
    c.equal("an answer that carries a capability", given.map(|a| (a.words[0], a.info().caps)), Ok((7, 1)));
    c.equal("which arrives", sys::cap_inspect(received).map(|i| i.kind), Ok(Kind::Endpoint));
    let last = sys::call_ep(ep, &Msg::new(QUIT, &[]));
    c.equal("the last call is answered by Send", last.map(|a| a.words[0]), Ok(42));
    c.expect("the server thread ends", server.join(), Ok(()));
    let _ = sys::cap_delete(received);
    cap::free(received);
    cap::release(ep);
}

/// Starts a thread that calls `ep` with `word`, noting what comes back in `RESULT[i]`.
fn caller(i: usize, ep: u64, word: u64) -> Option<thread::Thread> {
    RESULT[i].store(0, Ordering::SeqCst);
    thread::spawn(move || RESULT[i].store(outcome(sys::call_ep(ep, &Msg::new(PING, &[word]))), Ordering::SeqCst)).ok()
}

fn receiving_again_drops(c: &mut Checks) {
    let ep = new_object(Kind::Endpoint, 0);
    let (Some(a), Some(b)) = (caller(0, ep, 1), caller(1, ep, 2)) else {
        c.check("spawn the callers", false);
        return;
    };
    let first = sys::recv(ep, REPLY_IN_THREAD).map(|m| m.words[0]);
    let second = sys::recv(ep, REPLY_IN_THREAD).map(|m| m.words[0]);
    c.equal("both calls are received, in order", (first, second), (Ok(1), Ok(2)));
    c.expect("the second is answered", sys::send(REPLY_IN_THREAD, &Msg::new(PING, &[20])), Ok(()));
    let _ = (a.join(), b.join());
    c.equal(
        "the first call, kept when the second came, failed",
        RESULT[0].load(Ordering::SeqCst),
        failed(Error::ObjectGone),
    );
    c.equal("the second got its answer", RESULT[1].load(Ordering::SeqCst), 21);
    c.expect(
        "Send with nothing kept: the answer is dropped",
        sys::send(REPLY_IN_THREAD, &Msg::new(PING, &[30])),
        Ok(()),
    );
    cap::release(ep);
}

fn caller_killed(c: &mut Checks) {
    let ep = new_object(Kind::Endpoint, 0);
    let child = spawn("kept-caller", &[Grant::new(ep, GIVEN, Rights::WRITE)]);
    let call = sys::recv(ep, REPLY_IN_THREAD).map(|m| m.words[0]);
    c.equal("the child's call is received and kept", call, Ok(5));
    c.expect("kill the child", sys::process_kill(child), Ok(()));
    c.equal("it ends killed", sys::wait(child), Ok(ExitStatus::Killed));
    cap::release(child);
    let Some(next) = caller(0, ep, 6) else {
        c.check("spawn a caller", false);
        return;
    };
    c.expect(
        "answering the killed caller's call: dropped",
        sys::send(REPLY_IN_THREAD, &Msg::new(PING, &[100])),
        Ok(()),
    );
    let call = sys::recv(ep, REPLY_IN_THREAD).map(|m| m.words[0]);
    c.equal("the next call is received", call, Ok(6));
    c.expect("and answered", sys::send(REPLY_IN_THREAD, &Msg::new(PING, &[60])), Ok(()));
    let _ = next.join();
    c.equal("the next caller got only its own answer", RESULT[0].load(Ordering::SeqCst), 61);
    cap::release(ep);
}

/// `kept-caller`: calls the endpoint in slot 2 with 5, and waits for ever.
pub fn kept_caller() -> u64 {
    let _ = sys::call_ep(GIVEN, &Msg::new(PING, &[5]));
    1
}

/// A server (`kept-exit` or `kept-fault`) takes a call and keeps it, then ends or faults;
/// the caller must get `ObjectGone`. The faulting one is stopped for its supervisor (us).
fn server_gone(c: &mut Checks, role: &str, faults: bool) {
    let ep = new_object(Kind::Endpoint, 0);
    let fault_ep = new_object(Kind::Endpoint, 0);
    let spawned = cap::spawn_with("ipctest", role, PRIORITY_DEFAULT, &[Grant::new(ep, GIVEN, Rights::READ)], |p| {
        if faults {
            sys::process_set_fault(p, fault_ep)
        } else {
            Ok(())
        }
    });
    let Ok(spawned) = spawned else {
        c.check(&alloc::format!("start {role}"), false);
        return;
    };
    let answer = sys::call_ep(ep, &Msg::new(PING, &[1])).map(|m| m.words[0]);
    c.equal(&alloc::format!("{role}: the call it kept fails"), answer, Err(Error::ObjectGone));
    if faults {
        let reply = cap::alloc().expect("slot");
        let fault = sys::recv(fault_ep, reply).map(|m| m.label());
        c.equal(&alloc::format!("{role}: its fault reaches the supervisor"), fault, Ok(LABEL_FAULT));
        c.expect(&alloc::format!("{role}: kill it"), sys::process_kill(spawned.slot), Ok(()));
        let _ = sys::cap_delete(reply);
        cap::free(reply);
    }
    let status = sys::wait(spawned.slot);
    let expected = if faults { ExitStatus::Killed } else { ExitStatus::Exited(0) };
    c.equal(&alloc::format!("{role}: it ends"), status, Ok(expected));
    cap::release(spawned.slot);
    cap::release(fault_ep);
    cap::release(ep);
}

/// `kept-exit`, `kept-fault`: receive one call on slot 2, keep it, then end (exit 0) or fault.
pub fn kept_server(faults: bool) -> u64 {
    let _ = sys::recv(GIVEN, REPLY_IN_THREAD);
    if faults {
        // SAFETY: address 8 lies below USER_MIN, where nothing is ever mapped: the read faults
        // before it touches anything, and the kernel stops the process (the point).
        let _ = unsafe { core::ptr::read_volatile(core::ptr::dangling::<u64>()) };
    }
    0
}
