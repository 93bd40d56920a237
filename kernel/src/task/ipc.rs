//! Moving messages between threads: send, call, receive, reply, and notifications.
//!
//! A message goes straight from one thread to the other: registers into the receiver's saved
//! trap frame (a blocked thread resumes from it: `Thread::deliver`), buffer words and
//! capabilities from one IPC buffer page to the other through the physical window. A sender
//! that finds no receiver queues on the endpoint with its message in its `Msg` (and vice
//! versa); whoever comes second does the transfer. A call that reaches a waiting server whose
//! priority is not lower than the caller's switches to it directly; so does a
//! reply-and-receive to a caller that is not lower. Handlers never switch themselves: they
//! return what the calling thread does next ([`Next`]), which the system call's exit puts
//! into effect. Calls of words only go through `ipc::fastpath` first.

use super::buffer::{buffer_word, copy_buffer_words};
use super::table::{with, Msg, Next, State, Tasks, KEEPS_REPLY};
use crate::cap::At;
use crate::ipc::{Endpoint, Notification};
use crate::object::Object;
use crate::sched::Tid;
use ipc::cap::{Kind, Rights};
use ipc::msg::{
    split_slot_pair, MsgInfo, BUFFER_RECV_SLOTS_OFFSET, BUFFER_SEND_CAPS_OFFSET, LABEL_NOTIFICATION, MSG_REGS,
};
use ipc::syscall::{ARG_REGS, REPLY_IN_THREAD};
use ipc::trace::Kind as Event;
use ipc::Error;

type Regs = [u64; ARG_REGS];

/// Records an IPC event of thread `tid` in the trace, if it is on (`crate::trace`): off, this
/// is one load and one branch.
#[inline(always)]
pub fn note(t: &Tasks, event: Event, tid: Tid, partner: Tid, badge: u64, label: u32) {
    if crate::trace::on() {
        record(t, event, tid, partner, badge, label);
    }
}

#[cold]
#[inline(never)]
fn record(t: &Tasks, event: Event, tid: Tid, partner: Tid, badge: u64, label: u32) {
    let pid = t.threads.get(&tid).map_or(0, |th| th.pid);
    crate::trace::record(event, pid, tid, partner, badge, u64::from(label));
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Send,
    NonBlocking,
    Call,
}

fn write_message(r: &mut Regs, msg: &Msg) {
    r[0] = msg.badge;
    r[1] = msg.info;
    r[2..].copy_from_slice(&msg.words);
}

fn endpoint(t: &mut Tasks, obj: u32) -> &mut Endpoint {
    let Object::Endpoint(ep, _) = t.caps.object_mut(obj) else { unreachable!("not an endpoint") };
    ep
}

fn notification(t: &mut Tasks, obj: u32) -> &mut Notification {
    let Object::Notification(n, _) = t.caps.object_mut(obj) else { unreachable!("not a notification") };
    n
}

/// Copies the buffer words and the capabilities of a message from thread `from` to thread
/// `to`. Capabilities go only with `grant`, to the receiver's `recv_slots`, each a child of
/// the sender's; the transfer stops at the first that cannot be made (an empty source, a
/// full destination). Returns the info as delivered: its capability count is what arrived.
fn transfer(t: &mut Tasks, from: Tid, to: Tid, info: MsgInfo, grant: bool) -> MsgInfo {
    let (src, dst) = (t.threads[&from].ipc_buffer, t.threads[&to].ipc_buffer);
    copy_buffer_words(src, dst, info.buffer_words());
    let mut caps = 0;
    if grant && info.caps > 0 {
        let spaces = (t.threads[&from].cspace, t.threads[&to].cspace);
        for i in 0..info.caps as usize {
            let from_slot = buffer_word(src, BUFFER_SEND_CAPS_OFFSET + i * 8);
            let to_slot = buffer_word(dst, BUFFER_RECV_SLOTS_OFFSET + i * 8);
            let (Ok(a), Ok(b)) = (At::user(spaces.0, from_slot), At::user(spaces.1, to_slot)) else { break };
            let Ok(cap) = t.caps.get(a) else { break };
            if t.caps.copy(a, b, cap.rights).is_err() {
                break;
            }
            caps += 1;
        }
    }
    MsgInfo { caps, ..info }
}

/// Empties a receive's reply slot: it may hold an old reply capability, which goes (its
/// caller, if still waiting, gets `ObjectGone`); anything else there is refused.
fn clear_reply_slot(t: &mut Tasks, at: At) -> Result<(), Error> {
    match t.caps.get(at) {
        Err(_) => Ok(()),
        Ok(cap) if cap.kind == Kind::Reply => t.delete(at),
        Ok(_) => Err(Error::SlotInUse),
    }
}

/// Where a receive puts the reply of a call: a slot of the receiver's, or the receiving
/// thread itself (`REPLY_IN_THREAD`).
#[derive(Clone, Copy)]
enum ReplyTo {
    Slot(At),
    Thread,
}

impl ReplyTo {
    fn of(t: &Tasks, reply: u64) -> Result<ReplyTo, Error> {
        if reply == REPLY_IN_THREAD {
            Ok(ReplyTo::Thread)
        } else {
            t.slot(reply).map(ReplyTo::Slot)
        }
    }

    /// As `Thread::reply_slot` holds it.
    fn word(self) -> u32 {
        match self {
            ReplyTo::Slot(at) => at.slot,
            ReplyTo::Thread => KEEPS_REPLY,
        }
    }
}

/// Gives `caller`'s call to `server`, which is receiving: a reply capability in its reply
/// slot, or the answer kept by the thread; the caller now waits for the answer.
fn make_reply(t: &mut Tasks, server: Tid, caller: Tid) {
    if t.threads[&server].reply_slot == KEEPS_REPLY {
        debug_assert!(t.threads[&server].caller.is_none(), "the receive dropped what it kept");
        t.thread(server).caller = Some(caller);
        t.thread(caller).state = State::AwaitingThread { server };
        return;
    }
    let at = At { space: t.threads[&server].cspace, slot: t.threads[&server].reply_slot };
    // The slot was emptied when the receive began, but a holder of the server's Process
    // capability may have filled it since: the kernel's claim on it wins.
    let _ = t.delete(at);
    let reply = t
        .caps
        .create(at, Object::Reply { caller: Some(caller) }, Rights::WRITE.union(Rights::GRANT))
        .expect("the reply slot was just emptied");
    t.thread(caller).state = State::AwaitingReply { reply };
}

/// `Send`, `NbSend` and `Call` on an endpoint; `Send` and `NbSend` on a reply capability.
pub fn send(r: &mut Regs, mode: Mode) -> Result<Next, Error> {
    let info = MsgInfo::decode(r[1])?;
    with(|t| {
        if r[0] == REPLY_IN_THREAD && mode != Mode::Call {
            if let Some(c) = answer_kept(t, info, Msg::from_regs(0, r)) {
                t.wake(c, Ok(()));
            }
            return Ok(Next::Return);
        }
        let at = t.slot(r[0])?;
        let cap = t.caps.get(at)?;
        if cap.kind == Kind::Reply && mode != Mode::Call {
            if let Some(c) = reply(t, at, info, Msg::from_regs(0, r))? {
                t.wake(c, Ok(()));
            }
            return Ok(Next::Return);
        }
        if cap.kind != Kind::Endpoint {
            return Err(Error::WrongKind);
        }
        if !cap.rights.contains(Rights::WRITE) || (info.caps > 0 && !cap.rights.contains(Rights::GRANT)) {
            return Err(Error::MissingRights);
        }
        let msg = Msg::from_regs(cap.badge, r);
        let me = t.running;
        note(t, if mode == Mode::Call { Event::Call } else { Event::Send }, me, 0, cap.badge, info.label);
        let Some(rx) = endpoint(t, cap.obj).take_receiver() else {
            // Nobody can ever receive (no capability to it can): waiting would be forever.
            if !t.caps.has_readers(cap.obj) {
                return Err(Error::ObjectGone);
            }
            if mode == Mode::NonBlocking {
                return Err(Error::WouldBlock);
            }
            let thread = t.current_mut();
            thread.msg = msg;
            thread.state = State::Sending { ep: cap.obj, call: mode == Mode::Call };
            endpoint(t, cap.obj).queue_sender(me);
            return Ok(Next::Block);
        };
        let delivered = transfer(t, me, rx, info, info.caps > 0);
        t.thread(rx).deliver(&Msg { info: delivered.encode(), ..msg });
        note(t, Event::Receive, rx, me, cap.badge, info.label);
        if mode != Mode::Call {
            t.wake(rx, Ok(()));
            return Ok(Next::Return);
        }
        make_reply(t, rx, me);
        if t.threads[&rx].priority >= t.current().priority {
            t.ready_for_handoff(rx);
            Ok(Next::Handoff(rx))
        } else {
            t.wake(rx, Ok(()));
            Ok(Next::Block)
        }
    })
}

/// Answers the call the reply capability in `at` stands for, and uses the capability up.
/// Returns the caller, now holding the answer and ready but not queued, unless it is gone.
fn reply(t: &mut Tasks, at: At, info: MsgInfo, msg: Msg) -> Result<Option<Tid>, Error> {
    let cap = t.caps.lookup(at, Kind::Reply, Rights::WRITE)?;
    if info.caps > 0 && !cap.rights.contains(Rights::GRANT) {
        return Err(Error::MissingRights);
    }
    let Object::Reply { caller } = t.caps.object_mut(cap.obj) else { unreachable!("kind checked") };
    let caller = caller.take();
    t.delete(at)?;
    let Some(c) = caller else { return Ok(None) };
    note(t, Event::Reply, t.running, c, 0, info.label);
    let delivered = transfer(t, t.running, c, info, info.caps > 0);
    t.thread(c).deliver(&Msg { badge: 0, info: delivered.encode(), ..msg });
    t.ready_for_handoff(c);
    Ok(Some(c))
}

/// Answers the call the running thread keeps (`REPLY_IN_THREAD`), if it keeps one whose
/// caller still waits. Returns the caller, now holding the answer and ready but not queued.
fn answer_kept(t: &mut Tasks, info: MsgInfo, msg: Msg) -> Option<Tid> {
    let me = t.running;
    let c = t.current_mut().caller.take()?;
    note(t, Event::Reply, me, c, 0, info.label);
    let delivered = transfer(t, me, c, info, info.caps > 0);
    t.thread(c).deliver(&Msg { badge: 0, info: delivered.encode(), ..msg });
    t.ready_for_handoff(c);
    Some(c)
}

/// `Recv`: waits on an endpoint for a message.
pub fn recv(r: &mut Regs) -> Result<Next, Error> {
    with(|t| receive(t, r, None))
}

/// `ReplyRecv`: answers the call in the reply slot (if there is one), then receives.
pub fn reply_recv(r: &mut Regs) -> Result<Next, Error> {
    let info = MsgInfo::decode(r[1])?;
    let (_, reply_slot) = split_slot_pair(r[0]);
    with(|t| {
        let caller = match ReplyTo::of(t, reply_slot)? {
            ReplyTo::Thread => answer_kept(t, info, Msg::from_regs(0, r)),
            ReplyTo::Slot(at) => match t.caps.get(at) {
                Err(_) => None,
                Ok(_) => reply(t, at, info, Msg::from_regs(0, r))?,
            },
        };
        receive(t, r, caller)
    })
}

/// Receives on the endpoint in `r[0]`; `answered` is a caller just given its reply, to be
/// switched to if this thread blocks and the caller's priority is not lower.
fn receive(t: &mut Tasks, r: &mut Regs, answered: Option<Tid>) -> Result<Next, Error> {
    let (ep_slot, reply_slot) = split_slot_pair(r[0]);
    let result = receive_locked(t, r, ep_slot, reply_slot);
    let Some(c) = answered else { return result };
    match result {
        Ok(Next::Block) if t.threads[&c].priority >= t.current().priority => Ok(Next::Handoff(c)),
        other => {
            t.wake(c, Ok(()));
            other
        }
    }
}

fn receive_locked(t: &mut Tasks, r: &mut Regs, ep_slot: u64, reply_slot: u64) -> Result<Next, Error> {
    let cap = t.caps.lookup(t.slot(ep_slot)?, Kind::Endpoint, Rights::READ)?;
    let reply_to = ReplyTo::of(t, reply_slot)?;
    if let ReplyTo::Slot(at) = reply_to {
        clear_reply_slot(t, at)?;
    }
    // A thread keeps one answer, until its next receive of either kind.
    t.drop_kept_caller(t.running);
    if let Some(bits) = take_bound_bits(t) {
        note(t, Event::Receive, t.running, 0, bits, LABEL_NOTIFICATION);
        write_message(r, &notification_message(bits));
        return Ok(Next::Return);
    }
    let me = t.running;
    let Some(tx) = endpoint(t, cap.obj).take_sender() else {
        let thread = t.current_mut();
        thread.state = State::Receiving { ep: cap.obj };
        thread.reply_slot = reply_to.word();
        endpoint(t, cap.obj).queue_receiver(me);
        return Ok(Next::Block);
    };
    let sender = &t.threads[&tx];
    let (msg, state, faulted) = (sender.msg, sender.state, sender.faulted);
    let info = MsgInfo::decode(msg.info).expect("queued message checked when sent");
    let delivered = transfer(t, tx, me, info, info.caps > 0);
    write_message(r, &Msg { info: delivered.encode(), ..msg });
    note(t, Event::Receive, me, tx, msg.badge, info.label);
    if faulted {
        t.thread(tx).state = State::Faulted;
    } else if state == (State::Sending { ep: cap.obj, call: true }) {
        t.current_mut().reply_slot = reply_to.word();
        make_reply(t, me, tx);
    } else {
        t.wake(tx, Ok(()));
    }
    Ok(Next::Return)
}

fn notification_message(bits: u64) -> Msg {
    Msg { badge: bits, info: MsgInfo::new(LABEL_NOTIFICATION, 0, 0).encode(), words: [0; MSG_REGS] }
}

/// The pending bits of the notification bound to the running thread, taken.
fn take_bound_bits(t: &mut Tasks) -> Option<u64> {
    let obj = t.current().bound?;
    let n = notification(t, obj);
    n.pending().then(|| n.take())
}

/// Sets bits in a notification: a waiter gets them, or else the bound thread if it is
/// receiving; otherwise they stay pending.
pub fn signal_object(t: &mut Tasks, obj: u32, bits: u64) {
    let n = notification(t, obj);
    if let Some((tid, bits)) = n.signal(bits) {
        t.thread(tid).deliver_bits(bits);
        t.wake(tid, Ok(()));
        return;
    }
    let Some(b) = n.bound else { return };
    if let State::Receiving { ep } = t.threads[&b].state {
        let bits = notification(t, obj).take();
        endpoint(t, ep).remove(b);
        t.thread(b).deliver(&notification_message(bits));
        note(t, Event::Receive, b, 0, bits, LABEL_NOTIFICATION);
        t.wake(b, Ok(()));
    }
}

/// `Signal`: the capability's badge bits, or bit 0 for an unbadged one.
pub fn signal(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let cap = t.caps.lookup(t.slot(r[0])?, Kind::Notification, Rights::WRITE)?;
        signal_object(t, cap.obj, if cap.badge != 0 { cap.badge } else { 1 });
        Ok(())
    })
}

/// `NtfnWait`: the pending bits, waiting for some if there are none.
pub fn wait(r: &mut Regs) -> Result<Next, Error> {
    with(|t| {
        let cap = t.caps.lookup(t.slot(r[0])?, Kind::Notification, Rights::READ)?;
        let me = t.running;
        match notification(t, cap.obj).wait(me) {
            Some(bits) => {
                r[0] = bits;
                Ok(Next::Return)
            }
            None => {
                t.current_mut().state = State::Waiting { ntfn: cap.obj };
                Ok(Next::Block)
            }
        }
    })
}

/// `Poll`: the pending bits, 0 if none.
pub fn poll(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let cap = t.caps.lookup(t.slot(r[0])?, Kind::Notification, Rights::READ)?;
        r[0] = notification(t, cap.obj).take();
        Ok(())
    })
}

/// `NtfnBind`: the notification also answers the running thread's receives.
pub fn bind(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let cap = t.caps.lookup(t.slot(r[0])?, Kind::Notification, Rights::READ)?;
        let me = t.running;
        if t.current().bound.is_some() || notification(t, cap.obj).bound.is_some() {
            return Err(Error::InvalidArgument);
        }
        notification(t, cap.obj).bound = Some(me);
        t.current_mut().bound = Some(cap.obj);
        Ok(())
    })
}

/// Sends the fault message of the running thread, which has faulted, through endpoint
/// `ep`: to a waiting receiver now, or queued. The thread never runs in user mode again.
pub fn send_fault(t: &mut Tasks, ep: u32, msg: Msg) {
    let me = t.running;
    let thread = t.current_mut();
    thread.faulted = true;
    thread.msg = msg;
    match endpoint(t, ep).take_receiver() {
        Some(rx) => {
            t.thread(rx).deliver(&msg);
            note(t, Event::Receive, rx, me, msg.badge, MsgInfo::label_of(msg.info));
            t.wake(rx, Ok(()));
            t.current_mut().state = State::Faulted;
        }
        None => {
            t.current_mut().state = State::Sending { ep, call: false };
            endpoint(t, ep).queue_sender(me);
        }
    }
}
