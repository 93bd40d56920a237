//! Long protocol messages (`ipc::proto::Long`) on the wire: the first four words in the
//! registers, the rest through this thread's IPC buffer, both ways.

use crate::cap;
use crate::sys::{self, Msg};
use ipc::cap::Slot;
use ipc::msg::{MsgInfo, MSG_MAX_WORDS, MSG_REGS};
use ipc::proto::Long;
use ipc::syscall::REPLY_IN_THREAD;
use ipc::Error;

/// The registers of `m`, its other words put in the IPC buffer.
fn outgoing(m: &Long) -> Msg {
    if m.len > MSG_REGS {
        cap::set_words(MSG_REGS, &m.words[MSG_REGS..m.len]);
    }
    let mut regs = [0; MSG_REGS];
    regs.copy_from_slice(&m.words[..MSG_REGS]);
    Msg { badge: 0, info: m.info().encode(), words: regs }
}

/// A received message, its words past the registers read from the IPC buffer.
fn incoming(m: &Msg) -> Long {
    let info = MsgInfo::decode(m.info).unwrap_or(MsgInfo::new(0, 0, 0));
    let mut long = Long::new(info.label);
    long.len = usize::from(info.words).min(MSG_MAX_WORDS);
    long.caps = info.caps;
    long.words[..MSG_REGS].copy_from_slice(&m.words);
    if long.len > MSG_REGS {
        cap::words(MSG_REGS, &mut long.words[MSG_REGS..long.len]);
    }
    long
}

/// Sends `m` through `endpoint` and waits for the answer.
pub fn call(endpoint: Slot, m: &Long) -> Result<Long, Error> {
    sys::call_ep(endpoint, &outgoing(m)).map(|a| incoming(&a))
}

/// Waits for a message on `endpoint` (a call's reply capability to slot `reply`); returns
/// the sender's badge and the message.
pub fn recv(endpoint: Slot, reply: Slot) -> Result<(u64, Long), Error> {
    sys::recv(endpoint, reply).map(|m| (m.badge, incoming(&m)))
}

/// Answers the call in slot `reply` with `m`, then waits on `endpoint`.
pub fn reply_recv(endpoint: Slot, reply: Slot, m: &Long) -> Result<(u64, Long), Error> {
    sys::reply_recv(endpoint, reply, &outgoing(m)).map(|m| (m.badge, incoming(&m)))
}

/// As `rt::sys::next_request`, for long messages.
pub fn next_request(endpoint: Slot, reply: Slot, answer: Option<&Long>) -> Result<(u64, Long), Error> {
    match answer {
        Some(a) => reply_recv(endpoint, reply, a),
        None => recv(endpoint, reply),
    }
}

/// Answers through the reply capability in slot `reply` (`Send` on it).
pub fn reply(reply: Slot, m: &Long) -> Result<(), Error> {
    sys::send(reply, &outgoing(m))
}

/// One message a server's loop ([`serve`]) received: the sender's badge (for a notification
/// bound to the thread, its bits), the message, and the slot a capability it carried landed
/// in (the handler moves it out to keep it).
pub struct Received<'a> {
    pub badge: u64,
    pub message: &'a Long,
    pub incoming: Slot,
}

/// A server's loop on `endpoint`: receives each message, hands it to `handle`, and sends the
/// answer `handle` returns while it waits for the next one (None for a notification, which
/// has nobody to answer). A capability a request carried that the handler did not move out
/// is deleted, so the next request finds the slot empty. Returns only when receiving fails.
/// The thread keeps each answer it owes itself (`REPLY_IN_THREAD`): it gives every answer
/// before it takes the next request, so it needs no reply slot, and the IPC fast path answers
/// without looking one up.
pub fn serve(endpoint: Slot, mut handle: impl FnMut(Received) -> Option<Long>) -> Error {
    let reply = REPLY_IN_THREAD;
    let incoming = match cap::alloc() {
        Ok(incoming) => incoming,
        Err(e) => return e,
    };
    let mut answer: Option<Long> = None;
    loop {
        cap::set_recv_slot(0, incoming);
        let (badge, message) = match next_request(endpoint, reply, answer.take().as_ref()) {
            Ok(r) => r,
            Err(e) => return e,
        };
        answer = handle(Received { badge, message: &message, incoming });
        if message.caps > 0 && sys::cap_inspect(incoming).is_ok() {
            let _ = sys::cap_delete(incoming);
        }
    }
}
