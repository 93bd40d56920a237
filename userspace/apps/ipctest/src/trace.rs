//! `ipctest trace` (booted with the kernel's `trace` flag and the Introspect capability):
//! three calls from this thread to a server thread of ours, on a badged endpoint, show up in
//! `TraceRead` as they happened: each a call, the server's receive of it and its reply, with
//! the right threads, partners, badge and labels, in TSC order, and the switches between
//! the two threads; a child's fault shows up too. Reading drains; a bad buffer takes
//! nothing; a slot that is not an Introspect capability reads nothing.
//!
//! `ipctest trace-off` (booted without the flag): `TraceRead` says `InvalidArgument`.

use super::{new_object, QUIT};
use alloc::vec::Vec;
use rt::cap;
use rt::check::Checks;
use rt::ipc::cap::{Kind, Rights, SELF};
use rt::ipc::syscall::{Syscall, PRIORITY_DEFAULT};
use rt::ipc::system::slots;
use rt::ipc::trace::{Event, Kind as Ev, EVENT_WORDS};
use rt::ipc::Error;
use rt::sys::{self, Msg};
use rt::thread;

const ASK: u32 = 0x7a1;
const ANSWER: u32 = 0x7a2;
const BADGE: u64 = 0x5ea;
const CALLS: u64 = 3;

/// Every event the kernel holds unread, and how many were lost.
fn read_all() -> Result<(Vec<Event>, u64), Error> {
    let (words, lost) = sys::trace_drain(slots::INTROSPECT, usize::MAX)?;
    Ok((words.into_iter().filter_map(Event::from_words).collect(), lost))
}

pub fn trace() -> u64 {
    let mut c = Checks::new("ipctest trace");
    let ep = new_object(Kind::Endpoint, 0);
    let badged = cap::alloc().expect("slot");
    c.expect("mint a badged endpoint", sys::cap_mint(ep, badged, Rights::WRITE, BADGE, SELF), Ok(()));
    let server = thread::spawn(move || serve(ep));
    let Ok(server) = server else {
        c.check("spawn the server thread", false);
        return c.done();
    };
    // Let it reach its receive, then forget everything before the calls.
    sys::yield_now();
    c.check("drain what boot left", read_all().is_ok());

    for i in 0..CALLS {
        let answer = sys::call_ep(badged, &Msg::new(ASK, &[i]));
        c.check("a call is answered", answer.is_ok_and(|a| a.label() == ANSWER && a.words[0] == i + 1));
    }
    let Ok((events, lost)) = read_all() else {
        c.check("read the trace", false);
        return c.done();
    };
    c.equal("nothing was lost", lost, 0);
    check_calls(&mut c, &events, server.id());

    let (again, _) = read_all().unwrap_or_default();
    c.check("a read drains: the calls are not read twice", !again.iter().any(|e| e.label == ASK));

    // An event, then a read into memory we do not have: refused, and nothing taken.
    let _ = sys::call_ep(badged, &Msg::new(ASK, &[9]));
    // SAFETY: the kernel checks the buffer before writing; this one is never mapped.
    let bad = unsafe { sys::raw(Syscall::TraceRead as u64, [slots::INTROSPECT, 0x10, 4, 0, 0, 0]) };
    c.expect("a buffer at an unmapped address", bad.map(drop), Err(Error::BadAddress));
    let mut none = [[0u64; EVENT_WORDS]; 0];
    c.equal("room for no event reads none", sys::trace_read(slots::INTROSPECT, &mut none), Ok((0, 0)));
    let (after, _) = read_all().unwrap_or_default();
    c.check("the refused read took nothing", after.iter().any(|e| e.kind == Ev::Call && e.label == ASK));
    let mut one = [[0u64; EVENT_WORDS]; 1];
    c.expect("an endpoint is no Introspect capability", sys::trace_read(ep, &mut one).map(drop), Err(Error::WrongKind));

    let _ = sys::call_ep(badged, &Msg::new(QUIT, &[]));
    c.expect("the server thread ends", server.join(), Ok(()));

    // A child that dereferences null: its fault is in the trace, with the page-fault vector.
    match cap::spawn("fault", "null", PRIORITY_DEFAULT, &[]) {
        Ok(child) => {
            let _ = sys::wait(child);
            cap::release(child);
        }
        Err(e) => c.expect("spawn a faulting child", Err::<(), _>(e), Ok(())),
    }
    let (events, _) = read_all().unwrap_or_default();
    c.check("the child's fault is recorded (vector 14)", events.iter().any(|e| e.kind == Ev::Fault && e.label == 14));
    c.done()
}

/// What the three calls left: each a call, a receive and a reply, in order, between the
/// right threads.
fn check_calls(c: &mut Checks, events: &[Event], server: u64) {
    let server = server as u32;
    let of = |kind: Ev, label: u32| events.iter().filter(move |e| e.kind == kind && e.label == label);
    let calls: Vec<&Event> = of(Ev::Call, ASK).collect();
    let receives: Vec<&Event> = of(Ev::Receive, ASK).collect();
    let replies: Vec<&Event> = of(Ev::Reply, ANSWER).collect();
    c.equal("three calls recorded", calls.len() as u64, CALLS);
    c.equal("three receives recorded", receives.len() as u64, CALLS);
    c.equal("three replies recorded", replies.len() as u64, CALLS);
    let Some(caller) = calls.first().map(|e| e.thread) else { return };
    c.check("the calls are ours, not the server's", calls.iter().all(|e| e.thread == caller && caller != server));
    c.check("each call carries the badge", calls.iter().all(|e| e.badge == BADGE));
    c.check(
        "the server thread received each from us, with the badge",
        receives.iter().all(|e| e.thread == server && e.partner == caller && e.badge == BADGE),
    );
    c.check(
        "the server thread answered us each time",
        replies.iter().all(|e| e.thread == server && e.partner == caller),
    );
    c.check("caller and server are of one process", calls.iter().chain(&replies).all(|e| e.pid == calls[0].pid));
    let ordered = calls
        .iter()
        .zip(&receives)
        .zip(&replies)
        .all(|((call, receive), reply)| call.tsc <= receive.tsc && receive.tsc <= reply.tsc);
    c.check("call, receive, reply in that order", ordered);
    c.check("the events come in TSC order", events.windows(2).all(|w| w[0].tsc <= w[1].tsc));
    let switched =
        |from: u32, to: u32| events.iter().any(|e| e.kind == Ev::Switch && e.thread == from && e.partner == to);
    c.check("the CPU went from us to the server", switched(caller, server));
    c.check("and back", switched(server, caller));
}

/// The server thread: answers ASK with (word 0 + 1) under ANSWER, until QUIT.
fn serve(ep: u64) {
    let reply = cap::alloc().expect("slot");
    let mut answer: Option<Msg> = None;
    loop {
        let received = match &answer {
            Some(a) => sys::reply_recv(ep, reply, a),
            None => sys::recv(ep, reply),
        };
        let Ok(m) = received else { return };
        if m.label() == QUIT {
            let _ = sys::send(reply, &Msg::new(QUIT, &[]));
            return;
        }
        answer = Some(Msg::new(ANSWER, &[m.words[0] + 1]));
    }
}

/// `ipctest trace-off`: a kernel booted without the flag keeps no trace.
pub fn trace_off() -> u64 {
    let mut c = Checks::new("ipctest trace-off");
    let mut one = [[0u64; EVENT_WORDS]; 1];
    c.expect(
        "no trace without the flag",
        sys::trace_read(slots::INTROSPECT, &mut one).map(drop),
        Err(Error::InvalidArgument),
    );
    c.done()
}
