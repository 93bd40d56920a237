//! `ipctest slowpath`: calls the IPC fast path must leave to the general path, each still
//! answered right. The kernel counts the `Call`s and `ReplyRecv`s the general path takes
//! (`IpcStats`), so each case also checks which path it went:
//!
//! 1. a call to a server of lower priority than the caller (the fast path only switches to
//!    a partner the scheduler would run anyway);
//! 2. a reply while another caller is queued on the endpoint (the server does not block,
//!    it takes the next message);
//! 3. a reply from a server whose bound notification has bits pending (its receive returns
//!    the notification, not a message);
//!
//! and, as the control, a call and reply between equals with nothing pending, which take the
//! fast path both ways. With the fast path off (`fastpath=off`) every call and reply counts,
//! and the answers must be the same.

use super::{exited_ok, new_object, spawn, GIVEN, PING, QUIT};
use alloc::format;
use rt::cap::{self, Grant};
use rt::check::Checks;
use rt::ipc::cap::{Kind, Rights, Slot};
use rt::ipc::msg::LABEL_NOTIFICATION;
use rt::ipc::syscall::{IpcStats, PRIORITY_DEFAULT};
use rt::ipc::Error;
use rt::println;
use rt::sys::{self, Msg};

/// Asks the server to signal its own bound notification before it answers.
const SIGNAL_SELF: u32 = 10;
/// Asks the server for the notification bits its receives have returned so far.
const REPORT: u32 = 11;
/// Makes sure the server waits on its endpoint: answered once it does.
const HELLO: u32 = 12;

fn stats() -> IpcStats {
    sys::ipc_stats().expect("IpcStats")
}

/// Checks how many `Call`s and `ReplyRecv`s took the general path since `before`: exactly
/// `fast` with the fast path on, exactly `off` (every one made) with it off.
fn check_paths(c: &mut Checks, what: &str, before: IpcStats, fast: (u64, u64), off: (u64, u64)) {
    let now = stats();
    let taken = (now.general_calls - before.general_calls, now.general_reply_recvs - before.general_reply_recvs);
    let want = if now.fast_path { fast } else { off };
    c.equal(&format!("{what}: calls and replies by the general path"), taken, want);
}

/// Calls with one word; the answer's first word.
fn call(ep: Slot, label: u32, word: u64) -> Result<u64, Error> {
    sys::call_ep(ep, &Msg::new(label, &[word])).map(|a| a.words[0])
}

pub fn slow_path() -> u64 {
    let mut c = Checks::new("ipctest slowpath");
    println!("the IPC fast path is {}", if stats().fast_path { "on" } else { "off" });

    // Cases 1 and 2: a server one priority below us, and a second caller at ours that waits
    // for our signal. Our HELLO waits until both are in place: while we wait for its answer,
    // the caller (higher) runs into its wait first, then the server into its receive.
    let ep = new_object(Kind::Endpoint, 0);
    let low_note = new_object(Kind::Notification, 0);
    let low = cap::spawn(
        "ipctest",
        "slow-server",
        PRIORITY_DEFAULT - 1,
        &[Grant::new(ep, GIVEN, Rights::READ), Grant::new(low_note, GIVEN + 1, Rights::READ)],
    )
    .expect("spawn failed");
    let start = new_object(Kind::Notification, 0);
    let queuer = spawn("queuer", &[Grant::new(ep, GIVEN, Rights::WRITE), Grant::new(start, GIVEN + 1, Rights::READ)]);
    c.equal("the lower-priority server answers HELLO", call(ep, HELLO, 0), Ok(1));

    let before = stats();
    c.equal("a call to a lower-priority server", call(ep, PING, 41), Ok(42));
    check_paths(&mut c, "a call to a lower-priority server", before, (1, 0), (1, 1));

    // The second caller is woken and runs at our priority; whichever of us calls first, the
    // server (lower than both) gets that call while the other caller is still ready, and
    // that caller queues before the server answers. Both calls go to a lower-priority
    // server; the first answer finds a caller queued; the second finds nobody.
    let before = stats();
    c.expect("wake the second caller", sys::signal(start), Ok(()));
    c.equal("a call answered while another caller is queued", call(ep, PING, 1), Ok(2));
    c.check("the queued caller is answered too (it checks its answer)", exited_ok(queuer));
    check_paths(&mut c, "two callers, one queued behind the other", before, (2, 1), (2, 2));

    c.equal("the lower-priority server quits", call(ep, QUIT, 0), Ok(0));
    c.check("it ends", exited_ok(low));

    // Case 3 and the control: a server at our priority with a bound notification.
    let ep = new_object(Kind::Endpoint, 0);
    let note = new_object(Kind::Notification, 0);
    let peer = spawn("slow-server", &[Grant::new(ep, GIVEN, Rights::READ), Grant::new(note, GIVEN + 1, Rights::ALL)]);
    c.equal("the equal server answers HELLO", call(ep, HELLO, 0), Ok(1));

    let before = stats();
    c.equal("a call to an equal server, nothing pending", call(ep, PING, 7), Ok(8));
    check_paths(&mut c, "the control: a call and its answer between equals", before, (0, 0), (1, 1));

    let before = stats();
    c.equal("a call whose answer leaves notification bits pending", call(ep, SIGNAL_SELF, 9), Ok(10));
    c.equal("the server's receive returned the bits (bit 0), once", call(ep, REPORT, 0), Ok(1 << 32 | 1));
    check_paths(&mut c, "an answer with notification bits pending", before, (0, 1), (2, 2));

    c.equal("the equal server quits", call(ep, QUIT, 0), Ok(0));
    c.check("it ends", exited_ok(peer));
    c.done()
}

/// The server of `slowpath`, on the endpoint in slot 2 with the notification in slot 3
/// bound: answers PING and HELLO with word 0 + 1, SIGNAL_SELF the same after signalling its
/// own notification (if it may), REPORT with the notifications its receives returned
/// (count << 32 | bits seen), and QUIT with 0, then ends.
pub fn slow_server() -> u64 {
    let reply = cap::alloc().expect("slot");
    if sys::ntfn_bind(GIVEN + 1).is_err() {
        return 1;
    }
    let (mut bits, mut notifications) = (0, 0u64);
    let mut answer: Option<Msg> = None;
    loop {
        let Ok(m) = sys::next_request(GIVEN, reply, answer.as_ref()) else { return 1 };
        let word = m.words[0];
        answer = match m.label() {
            LABEL_NOTIFICATION => {
                bits |= m.badge;
                notifications += 1;
                None
            }
            SIGNAL_SELF => {
                let _ = sys::signal(GIVEN + 1);
                Some(Msg::new(PING, &[word + 1]))
            }
            REPORT => Some(Msg::new(REPORT, &[notifications << 32 | bits])),
            QUIT => return u64::from(sys::send(reply, &Msg::new(QUIT, &[0])).is_err()),
            _ => Some(Msg::new(PING, &[word + 1])),
        };
    }
}

/// The second caller of `slowpath`: waits for the notification in slot 3, then calls the
/// endpoint in slot 2 once; exits 0 if the answer is right.
pub fn queuer() -> u64 {
    if sys::ntfn_wait(GIVEN + 1).is_err() {
        return 1;
    }
    u64::from(call(GIVEN, PING, 100) != Ok(101))
}
