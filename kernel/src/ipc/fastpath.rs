//! The IPC fast path: a call, or a reply-and-receive, with a message of words only to a
//! partner already waiting, done in one pass under the lock and a direct switch to the
//! partner, without the run queue.
//!
//! `Call` takes the fast path when all of these hold (checked in this order):
//! 1. the message is words only: no capabilities (the words beyond the registers are copied
//!    from the caller's IPC buffer to the receiver's, only those sent);
//! 2. the slot holds an Endpoint capability with the write right;
//! 3. a receiver is waiting on the endpoint;
//! 4. the receiver's priority is not lower than the caller's (running it next is what the
//!    scheduler would choose anyway);
//! 5. the receiver keeps its answers itself (it received with `REPLY_IN_THREAD`: nothing to
//!    look up), or its reply slot is empty, or holds a used reply capability that is the only
//!    one to its object (the usual case: the fast reply leaves it there), which is reused;
//! 6. the receiver is on this CPU (always, with one CPU).
//!
//! Then the message goes to the receiver, which now owes the caller an answer (kept by the
//! thread, or a Reply capability in its reply slot), the caller waits for it, and the CPU
//! switches straight to the receiver.
//!
//! Both need the partner to resume from its trap frame (it blocked in a system call, as a
//! waiting receiver or caller always does): the kernel leaves by that frame, with the
//! message and the status loaded straight into the argument registers (`task::Exit`), so the
//! partner's system call returns with them.
//!
//! `ReplyRecv` takes it when all of these hold:
//! 1. the answer is words only;
//! 2. the endpoint slot holds an Endpoint capability with the read right;
//! 3. the server keeps the answer itself (`REPLY_IN_THREAD`), or the reply slot holds a Reply
//!    capability with the write right; either way its caller still waits, with a priority not
//!    lower than the server's;
//! 4. no sender is queued on the endpoint (the server is going to block);
//! 5. no notification bound to the server has bits pending.
//!
//! Then the answer goes to the caller (a Reply capability is used up: it stays in its slot,
//! answering nothing, until a call reuses it), the server waits on the endpoint, and the CPU
//! switches straight to the caller.
//!
//! When a condition fails, the call goes down the full path (`task::ipc`), which gives the
//! same result by the general route, so the fast path changes speed, never behaviour. The
//! boot flag `fastpath=off` sends every call that way, to show it. So that each object is
//! looked up once, one change is made before the last checks and undone if one fails: `Call`
//! takes the receiver off the endpoint before it checks the reply slot (and puts it back at
//! the head), `ReplyRecv` takes the caller off the thread or the Reply object before it checks
//! the rest (and gives it back). Either way the general path finds the state the call found.

use crate::cap::{At, Caps, ObjId};
use crate::object::Object;
use crate::sched::Tid;
use crate::task::buffer::copy_buffer_words;
use crate::task::{lock_entry, with_entry, Exit, State, Tasks, Thread, Threads, KEEPS_REPLY};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use ipc::cap::{Kind, Rights};
use ipc::msg::{is_words_only, split_slot_pair, MsgInfo, MSG_REGS};
use ipc::syscall::{ARG_REGS, REPLY_IN_THREAD};
use ipc::trace;

type Regs = [u64; ARG_REGS];

/// Which fast path runs: none, the one without trace records, or the one with them. One
/// load and compare chooses, as a flag on its own would cost anyway.
static MODE: AtomicU8 = AtomicU8::new(FAST);
const OFF: u8 = 0;
const FAST: u8 = 1;
const TRACED: u8 = 2;

/// Sends every call down the full path (the boot flag `fastpath=off`).
pub fn disable() {
    MODE.store(OFF, Ordering::Relaxed);
}

/// Has the fast path record trace events (the boot flag `trace`), unless it is off.
pub fn trace() {
    let _ = MODE.compare_exchange(FAST, TRACED, Ordering::Relaxed, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    MODE.load(Ordering::Relaxed) != OFF
}

/// `Call`s and `ReplyRecv`s that took the general path (`IpcStats`), counted there, so the
/// fast path pays nothing for them.
static GENERAL_CALLS: AtomicU64 = AtomicU64::new(0);
static GENERAL_REPLY_RECVS: AtomicU64 = AtomicU64::new(0);

/// Counts a `Call` (`call`) or `ReplyRecv` the general path takes.
pub fn count_general(call: bool) {
    let counter = if call { &GENERAL_CALLS } else { &GENERAL_REPLY_RECVS };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// `IpcStats`: whether the fast path is on, and the `Call`s and `ReplyRecv`s it did not take.
pub fn stats() -> [u64; 3] {
    [u64::from(enabled()), GENERAL_CALLS.load(Ordering::Relaxed), GENERAL_REPLY_RECVS.load(Ordering::Relaxed)]
}

/// Which way a `Call` or `ReplyRecv` with system-call registers `r` goes.
pub(crate) enum Route {
    /// The full path: the message carries capabilities, or the fast path is off.
    General,
    /// The fast path ([`fast`]).
    Fast,
    /// The fast path with trace records ([`traced`]).
    Traced,
}

/// The way for a `Call` or `ReplyRecv` with system-call registers `r`: the entry stub's
/// function takes each way to its own exit, so that what the fast path found stays in
/// registers (one way's answer merged with another's would go through memory).
#[inline(always)]
pub(crate) fn route(r: &Regs) -> Route {
    if !is_words_only(r[1]) {
        return Route::General;
    }
    match MODE.load(Ordering::Relaxed) {
        FAST => Route::Fast,
        TRACED => Route::Traced,
        _ => Route::General,
    }
}

/// `Call` (`CALL`) or `ReplyRecv` by the fast path: how to leave the kernel into the partner
/// (see `task::Exit`), or None, with nothing done, if a condition does not hold.
#[inline(always)]
pub(crate) fn fast<const CALL: bool>(r: &Regs) -> Option<Exit> {
    let mut t = lock_entry();
    if CALL {
        call::<false>(&mut t, r)
    } else {
        reply_recv::<false>(&mut t, r)
    }
}

/// As [`fast`], with trace records: out of line, so the untraced path keeps its straight
/// line.
#[cold]
#[inline(never)]
pub(crate) fn traced<const CALL: bool>(r: &Regs) -> Option<Exit> {
    with_entry(|t| if CALL { call::<true>(t, r) } else { reply_recv::<true>(t, r) })
}

/// Records an event of the fast path's (`TRACE` only: without, this is nothing).
#[inline(always)]
fn note<const TRACE: bool>(kind: trace::Kind, thread: &Thread, tid: Tid, partner: Tid, badge: u64, info: u64) {
    if TRACE {
        crate::trace::record(kind, thread.pid, tid, partner, badge, u64::from(MsgInfo::label_of(info)));
    }
}

/// The checks and the work of `Call`, with the switch to the receiver, which runs next;
/// returns how to leave the kernel into it.
/// `TRACE`: records the call, the receive and the switch.
#[inline(always)]
fn call<const TRACE: bool>(t: &mut Tasks, r: &Regs) -> Option<Exit> {
    let Tasks { threads, caps, sched, running, processes, .. } = t;
    let me = *running;
    let cap = caps.find(At::user(threads.get(&me)?.cspace, r[0]).ok()?, Kind::Endpoint, Rights::WRITE)?;
    let Object::Endpoint(ep, _) = caps.object_mut(cap.obj) else { return None };
    let rx = ep.peek_receiver()?;
    let [caller, server] = threads.pair_mut(me, rx)?;
    if server.priority < caller.priority || !server.resumes_from_frame() {
        return None;
    }
    // The receiver is taken while its endpoint is at hand. The reply slot is checked last:
    // if it does not do, the receiver goes back to the head of the queue, as it was.
    ep.take_receiver();
    let Some(awaiting) = claim_reply(caps, server, rx, me) else {
        if let Object::Endpoint(ep, _) = caps.object_mut(cap.obj) {
            ep.put_back_receiver(rx);
        }
        return None;
    };
    // Every condition holds: from here on the call is made.
    copy_long_message(caller, server, r[1]);
    caller.block_in_frame(awaiting);
    note::<TRACE>(trace::Kind::Call, caller, me, rx, cap.badge, r[1]);
    note::<TRACE>(trace::Kind::Receive, server, rx, me, cap.badge, r[1]);
    note::<TRACE>(trace::Kind::Switch, caller, me, rx, 0, 0);
    sched.handoff(rx, server.priority);
    *running = rx;
    Some(server.take_message_and_switch_in(cap.badge, r, processes))
}

/// Gives receiver `server` (thread `rx`) the answer it owes `caller`: kept by the thread, if
/// it received so (`KEEPS_REPLY`: no look-up at all), or through its reply slot
/// ([`reply_for`]). Returns the state the caller waits in; None, with nothing changed, if the
/// reply slot does not do.
#[inline(always)]
fn claim_reply(caps: &mut Caps<Object>, server: &mut Thread, rx: Tid, caller: Tid) -> Option<State> {
    if server.reply_slot == KEEPS_REPLY {
        if server.caller.is_some() {
            return None;
        }
        server.caller = Some(caller);
        return Some(State::AwaitingThread { server: rx });
    }
    let reply = reply_for(caps, At { space: server.cspace, slot: server.reply_slot }, caller)?;
    Some(State::AwaitingReply { reply })
}

/// The Reply object that is to answer a call from `caller` to the receiver whose reply slot
/// is `at`, with `caller` made its caller: a new one if the slot is empty, or the one of the
/// used reply capability the fast reply left there, taken up again if it is the only
/// capability to its object (no copy could answer this new call). None, with nothing
/// changed, if the slot holds anything else.
#[inline(always)]
fn reply_for(caps: &mut Caps<Object>, at: At, caller: Tid) -> Option<ObjId> {
    match caps.get(at) {
        Err(_) => Some(
            caps.create(at, Object::Reply { caller: Some(caller) }, Rights::WRITE.union(Rights::GRANT))
                .expect("the reply slot was checked empty"),
        ),
        Ok(c) if c.kind == Kind::Reply => match caps.sole_object_mut(c.obj) {
            Some(Object::Reply { caller: waiting @ None }) => {
                *waiting = Some(caller);
                Some(c.obj)
            }
            _ => None,
        },
        Ok(_) => None,
    }
}

/// The words of a message with `info` that lie past the registers, from the sender's IPC
/// buffer to the receiver's; nothing (one compare) for a message that fits the registers.
#[inline(always)]
fn copy_long_message(from: &Thread, to: &Thread, info: u64) {
    if MsgInfo::word_count(info) > MSG_REGS {
        copy_buffer(from.ipc_buffer, to.ipc_buffer, MsgInfo::buffer_word_count(info));
    }
}

/// [`copy_long_message`]'s copy, out of the straight line a message in registers takes.
#[inline(never)]
fn copy_buffer(from: u64, to: u64, words: usize) {
    copy_buffer_words(from, to, words);
}

/// Where the answer a `ReplyRecv` gives was kept: by the thread, or as a Reply capability
/// (its object, and its slot, where the used capability stays for the next call to reuse).
#[derive(Clone, Copy)]
enum Kept {
    Thread,
    Object(ObjId, u32),
}

/// The checks and the work of `ReplyRecv`, with the switch to the caller, which runs next;
/// returns how to leave the kernel into it.
/// `TRACE`: records the reply and the switch.
#[inline(always)]
fn reply_recv<const TRACE: bool>(t: &mut Tasks, r: &Regs) -> Option<Exit> {
    let Tasks { threads, caps, sched, running, processes, .. } = t;
    let me = *running;
    let (ep_slot, reply_slot) = split_slot_pair(r[0]);
    let cspace = threads.get(&me)?.cspace;
    let ep = caps.find(At::user(cspace, ep_slot).ok()?, Kind::Endpoint, Rights::READ)?;
    // The caller waiting for the answer is taken at once: off the thread, or off the Reply
    // object (the reply capability is used up, and stays in the slot for the next call to
    // reuse). If a check below fails, the caller is given back, as it was.
    let (waiting, kept) = if reply_slot == REPLY_IN_THREAD {
        (threads.get_mut(&me)?.caller.take()?, Kept::Thread)
    } else {
        let reply_at = At::user(cspace, reply_slot).ok()?;
        let reply = caps.find(reply_at, Kind::Reply, Rights::WRITE)?;
        let Object::Reply { caller } = caps.object_mut(reply.obj) else { return None };
        (caller.take()?, Kept::Object(reply.obj, reply_at.slot))
    };
    let Some([server, client]) = answerable(threads, caps, me, waiting, ep.obj) else {
        give_back(threads, caps, me, kept, waiting);
        return None;
    };
    // Every condition holds: from here on the answer is given.
    server.reply_slot = match kept {
        Kept::Thread => KEEPS_REPLY,
        Kept::Object(_, slot) => slot,
    };
    server.block_in_frame(State::Receiving { ep: ep.obj });
    copy_long_message(server, client, r[1]);
    note::<TRACE>(trace::Kind::Reply, server, me, waiting, 0, r[1]);
    note::<TRACE>(trace::Kind::Switch, server, me, waiting, 0, 0);
    sched.handoff(waiting, client.priority);
    *running = waiting;
    Some(client.take_message_and_switch_in(0, r, processes))
}

/// `reply_recv`'s checks after the first change: the server `me` and the `waiting` client,
/// if the client is not below the server's priority and resumes from its frame, the server
/// has no notification bits pending, and no sender is queued on endpoint `ep`; then the
/// server waits on it. None, with nothing changed, if a check fails.
#[inline(always)]
fn answerable<'a>(
    threads: &'a mut Threads,
    caps: &mut Caps<Object>,
    me: Tid,
    waiting: Tid,
    ep: ObjId,
) -> Option<[&'a mut Thread; 2]> {
    let [server, client] = threads.pair_mut(me, waiting)?;
    if client.priority < server.priority || !client.resumes_from_frame() {
        return None;
    }
    if let Some(n) = server.bound {
        if let Object::Notification(n, _) = caps.object(n) {
            if n.pending() {
                return None;
            }
        }
    }
    match caps.object_mut(ep) {
        Object::Endpoint(endpoint, _) if !endpoint.has_sender() => endpoint.queue_receiver(me),
        _ => return None,
    }
    Some([server, client])
}

/// Undoes `reply_recv`'s first change, when a later check fails: `waiting` is the caller
/// thread `me` keeps, or that of the Reply object, again (the reply then goes the general way).
#[cold]
fn give_back(threads: &mut Threads, caps: &mut Caps<Object>, me: Tid, kept: Kept, waiting: Tid) {
    match kept {
        Kept::Thread => {
            if let Some(server) = threads.get_mut(&me) {
                server.caller = Some(waiting);
            }
        }
        Kept::Object(reply, _) => {
            if let Object::Reply { caller } = caps.object_mut(reply) {
                *caller = Some(waiting);
            }
        }
    }
}
