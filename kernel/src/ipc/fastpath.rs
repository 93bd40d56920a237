//! The IPC fast path: a call, or a reply-and-receive, with a short message to a partner
//! already waiting, done in one pass under the lock and a direct switch to the partner,
//! without the run queue.
//!
//! `Call` takes the fast path when all of these hold (checked in this order):
//! 1. the message is registers only: at most `MSG_REGS` words, no capabilities;
//! 2. the slot holds an Endpoint capability with the write right;
//! 3. a receiver is waiting on the endpoint;
//! 4. the receiver's priority is not lower than the caller's (running it next is what the
//!    scheduler would choose anyway);
//! 5. the receiver's reply slot is empty, or holds a used reply capability that is the only
//!    one to its object (the usual case: the fast reply leaves it there), which is reused;
//! 6. the receiver is on this CPU (always, with one CPU).
//!
//! Then the message goes to the receiver, a Reply capability to its reply slot, the caller
//! waits for the answer, and the CPU switches straight to the receiver.
//!
//! `ReplyRecv` takes it when all of these hold:
//! 1. the answer is registers only;
//! 2. the reply slot holds a Reply capability with the write right, whose caller still
//!    waits, with a priority not lower than the server's;
//! 3. the endpoint slot holds an Endpoint capability with the read right, and no sender is
//!    queued on it (the server is going to block);
//! 4. no notification bound to the server has bits pending.
//!
//! Then the answer goes to the caller, the Reply capability is used up (it stays in its slot,
//! answering nothing, until a call reuses it), the server waits on the endpoint, and the CPU
//! switches straight to the caller.
//!
//! When a condition fails, the call goes down the full path (`task::ipc`), which gives the
//! same result by the general route, so the fast path changes speed, never behaviour.

use crate::cap::At;
use crate::object::Object;
use crate::task::ipc::resumed;
use crate::task::{switch, with, Msg, State, Tasks};
use ipc::cap::{Kind, Rights};
use ipc::msg::{is_register_only, split_slot_pair};
use ipc::syscall::ARG_REGS;
use ipc::Error;

type Regs = [u64; ARG_REGS];

/// `Call` by the fast path, or None (nothing done) if a condition does not hold.
pub fn call(r: &mut Regs) -> Option<Result<(), Error>> {
    if !is_register_only(r[1]) {
        return None;
    }
    let plan = with(|t| {
        let me = t.running;
        let cspace = t.current().cspace;
        let cap = t.caps.get(At::user(cspace, r[0]).ok()?).ok()?;
        if cap.kind != Kind::Endpoint || !cap.rights.contains(Rights::WRITE) {
            return None;
        }
        let Object::Endpoint(ep, _) = t.caps.object_mut(cap.obj) else { return None };
        let rx = ep.peek_receiver()?;
        let server = &t.threads[&rx];
        let reply_at = At { space: server.cspace, slot: server.reply_slot };
        let priority = server.priority;
        if priority < t.current().priority {
            return None;
        }
        // A used reply capability left in the slot by the fast reply is taken up again, if
        // it is the only capability to its object (no copy could answer this new call).
        let reuse = match t.caps.get(reply_at) {
            Err(_) => None,
            Ok(c)
                if c.kind == Kind::Reply
                    && t.caps.is_sole(c.obj)
                    && matches!(t.caps.object(c.obj), Object::Reply { caller: None }) =>
            {
                Some(c.obj)
            }
            Ok(_) => return None,
        };
        let Object::Endpoint(ep, _) = t.caps.object_mut(cap.obj) else { return None };
        ep.take_receiver();
        let reply = match reuse {
            Some(reply) => {
                if let Object::Reply { caller } = t.caps.object_mut(reply) {
                    *caller = Some(me);
                }
                reply
            }
            None => t
                .caps
                .create(reply_at, Object::Reply { caller: Some(me) }, Rights::WRITE.union(Rights::GRANT))
                .expect("the reply slot was checked empty"),
        };
        let server = t.thread(rx);
        server.msg = Msg::from_regs(cap.badge, r);
        server.state = State::Ready;
        server.result = Ok(());
        t.current_mut().state = State::AwaitingReply { reply };
        t.sched.handoff(rx, priority);
        t.plan_switch(rx)
    })?;
    switch(plan);
    Some(resumed(r, true))
}

/// `ReplyRecv` by the fast path, or None (nothing done) if a condition does not hold.
pub fn reply_recv(r: &mut Regs) -> Option<Result<(), Error>> {
    if !is_register_only(r[1]) {
        return None;
    }
    let plan = with(|t: &mut Tasks| {
        let me = t.running;
        let (ep_slot, reply_slot) = split_slot_pair(r[0]);
        let current = t.current();
        let (cspace, my_priority, bound) = (current.cspace, current.priority, current.bound);
        let reply_at = At::user(cspace, reply_slot).ok()?;
        let reply = t.caps.get(reply_at).ok()?;
        let ep = t.caps.get(At::user(cspace, ep_slot).ok()?).ok()?;
        if reply.kind != Kind::Reply
            || !reply.rights.contains(Rights::WRITE)
            || ep.kind != Kind::Endpoint
            || !ep.rights.contains(Rights::READ)
        {
            return None;
        }
        let Object::Reply { caller: Some(caller) } = *t.caps.object(reply.obj) else { return None };
        let client = &t.threads[&caller];
        let Object::Endpoint(endpoint, _) = t.caps.object(ep.obj) else { return None };
        if client.priority < my_priority || endpoint.has_sender() {
            return None;
        }
        if let Some(n) = bound {
            if let Object::Notification(n, _) = t.caps.object(n) {
                if n.pending() {
                    return None;
                }
            }
        }
        // Used up: it answers nothing more. It stays in the slot for the next call to reuse.
        let Object::Reply { caller: waiting } = t.caps.object_mut(reply.obj) else { return None };
        *waiting = None;
        let Object::Endpoint(endpoint, _) = t.caps.object_mut(ep.obj) else { return None };
        endpoint.queue_receiver(me);
        let server = t.current_mut();
        server.state = State::Receiving { ep: ep.obj };
        server.reply_slot = reply_at.slot;
        let client = t.thread(caller);
        client.msg = Msg::from_regs(0, r);
        client.state = State::Ready;
        client.result = Ok(());
        let priority = client.priority;
        t.sched.handoff(caller, priority);
        t.plan_switch(caller)
    })?;
    switch(plan);
    Some(resumed(r, true))
}
