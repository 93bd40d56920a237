use super::*;
use alloc::vec;
use binder::{Binder, Parcel};

const A: ClientId = 1;
const B: ClientId = 2;
const C: ClientId = 3;

fn id(uid: u32, pid: u32) -> Identity {
    Identity { uid, pid, android: Android::V14 }
}

/// A driver with clients A (uid 10001, pid 11), B (10002, 12) and C (1000, 13).
fn driver() -> Driver {
    let mut d = Driver::new(2);
    d.connect(A, id(10_001, 11), Limits::MAX);
    d.connect(B, id(10_002, 12), Limits::MAX);
    d.connect(C, id(SYSTEM_UID, 13), Limits::MAX);
    d
}

/// A Parcel of a word and then `binders`.
fn payload(binders: &[Option<Binder>]) -> Payload {
    let mut p = Parcel::new();
    p.write_i32(7);
    for &b in binders {
        p.write_strong_binder(b);
    }
    Payload::from(p)
}

fn binders(payload: &Payload) -> Vec<Option<Binder>> {
    let mut p = Parcel::from_parts(&payload.data, &payload.offsets, Android::V14).expect("good offsets");
    assert_eq!(p.read_i32(), Ok(7));
    let mut out = Vec::new();
    while p.data_avail() > 0 {
        out.push(p.read_strong_binder().expect("a binder"));
    }
    out
}

fn call(handle: u32, code: u32, binders: &[Option<Binder>]) -> Command {
    Command::Transact { handle, code, flags: 0, payload: payload(binders) }
}

fn oneway(handle: u32, code: u32) -> Command {
    Command::Transact { handle, code, flags: FLAG_ONEWAY, payload: payload(&[]) }
}

fn wait() -> Command {
    Command::Wait { block: true }
}

fn poll() -> Command {
    Command::Wait { block: false }
}

fn reply_with(binders: &[Option<Binder>]) -> Command {
    Command::Reply { result: Ok(payload(binders)), wait: false }
}

fn transaction(r: Option<Return>) -> Transaction {
    match r {
        Some(Return::Transaction(t)) => t,
        other => panic!("not a transaction: {other:?}"),
    }
}

fn local(ptr: u64) -> Option<Binder> {
    Some(Binder::Local { ptr, cookie: ptr + 1 })
}

/// `client` registers its local binder `ptr` with compat (a call to handle 0 carrying it,
/// answered by compat): returns compat's handle for it, held once.
fn register(d: &mut Driver, client: ClientId, ptr: u64) -> u32 {
    assert_eq!(d.command(client, false, call(0, 3, &[local(ptr)])), None, "waits for compat's answer");
    let t = match d.take_local() {
        Some(Return::Transaction(t)) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(t.ptr, SERVICE_MANAGER_PTR);
    let [Some(Binder::Handle(h))] = binders(&t.payload)[..] else { panic!("not a handle") };
    assert_eq!(d.command(COMPAT, false, reply_with(&[])), Some(Return::Done));
    let android = d.identity(client).unwrap().android;
    assert_eq!(d.take_deliveries(), [Delivery { to: client, ret: Return::Reply(payload(&[]), android) }]);
    h
}

/// Compat hands its handle `h` to `client` (the answer to a call of the client's): returns
/// the client's handle.
fn hand_out(d: &mut Driver, client: ClientId, h: u32) -> u32 {
    assert_eq!(d.command(client, false, call(0, 1, &[])), None);
    transaction(d.take_local());
    assert_eq!(d.command(COMPAT, false, reply_with(&[Some(Binder::Handle(h))])), Some(Return::Done));
    let ds = d.take_deliveries();
    let [Delivery { to, ret: Return::Reply(p, _) }] = &ds[..] else { panic!("{ds:?}") };
    assert_eq!(*to, client);
    let [Some(Binder::Handle(mine))] = binders(p)[..] else { panic!("not a handle") };
    mine
}

#[test]
fn a_local_binder_travels_as_a_handle_and_comes_home_as_itself() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    assert_ne!(a, 0);
    // A calls B's node, passing the same handle back: B sees its own binder.
    assert_eq!(d.command(A, false, call(a, 9, &[Some(Binder::Handle(a)), None])), None);
    let t = transaction(d.command(B, false, wait()));
    assert_eq!((t.ptr, t.cookie, t.code, t.uid, t.pid), (0xb0, 0xb1, 9, 10_001, 11));
    assert_eq!(binders(&t.payload), [local(0xb0), None]);
    // A's own binder reaches B as a handle in B's table, and A's handle 0 stays 0.
    assert_eq!(d.command(B, false, Command::Reply { result: Ok(payload(&[])), wait: false }), Some(Return::Done));
    assert_eq!(d.take_deliveries(), [Delivery { to: A, ret: Return::Reply(payload(&[]), Android::V14) }]);
    assert_eq!(d.command(A, false, call(a, 10, &[local(0xa0), Some(Binder::Handle(0))])), None);
    let t = transaction(d.command(B, false, wait()));
    let got = binders(&t.payload);
    assert!(matches!(got[0], Some(Binder::Handle(h)) if h != 0), "{got:?}");
    assert_eq!(got[1], Some(Binder::Handle(0)));
}

#[test]
fn handles_cannot_be_forged_and_bad_objects_change_nothing() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    let before = d.counts();
    let failed = Some(Return::Status(StatusCode::FailedTransaction));
    assert_eq!(d.command(A, false, call(a + 40, 1, &[])), failed, "a handle A was never given");
    assert_eq!(d.command(C, false, call(a, 1, &[])), failed, "A's handle means nothing to C");
    // A good object, then a forged one: the whole Parcel fails, the first makes no node.
    assert_eq!(d.command(A, false, call(a, 1, &[local(0xa0), Some(Binder::Handle(99))])), failed);
    assert_eq!(d.counts(), before);
    let mut bad = payload(&[local(0xa0)]);
    for offsets in [vec![2], vec![bad.data.len() - 4], vec![usize::MAX - 3], vec![4, 8]] {
        bad.offsets = offsets.clone();
        let c = Command::Transact { handle: a, code: 1, flags: 0, payload: bad.clone() };
        assert_eq!(d.command(A, false, c), failed, "offsets {offsets:?}");
    }
    // A weak binder, a file descriptor: types Seam does not carry.
    for kind in [0x7762_2a85u32, 0x6664_2a85] {
        let mut p = payload(&[local(0xa0)]);
        p.data[4..8].copy_from_slice(&kind.to_le_bytes());
        assert_eq!(d.command(A, false, Command::Transact { handle: a, code: 1, flags: 0, payload: p }), failed);
    }
    // A cookie other than the one its node was made with.
    let mut p = payload(&[local(0xb0)]);
    p.data[4 + 16..4 + 24].copy_from_slice(&5u64.to_le_bytes());
    assert_eq!(d.command(B, false, Command::Transact { handle: 0, code: 3, flags: 0, payload: p }), failed);
    assert_eq!(d.counts(), before);
    assert_eq!(d.stats.transactions, 2, "only register and hand_out went through");
}

#[test]
fn nested_calls_reach_a_client_waiting_for_its_own_reply() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    // A calls B with a callback; B, handling it, calls the callback; A, waiting for B,
    // gets that call, answers, and then B answers A.
    assert_eq!(d.command(A, false, call(a, 1, &[local(0xa0)])), None);
    let t = transaction(d.command(B, false, wait()));
    let [Some(Binder::Handle(cb))] = binders(&t.payload)[..] else { panic!() };
    assert_eq!(d.command(B, false, call(cb, 2, &[])), None);
    let ds = d.take_deliveries();
    let [Delivery { to: A, ret: Return::Transaction(t) }] = &ds[..] else { panic!("{ds:?}") };
    assert_eq!((t.ptr, t.code, t.uid, t.pid), (0xa0, 2, 10_002, 12));
    assert_eq!(d.command(A, false, Command::Reply { result: Ok(payload(&[])), wait: true }), None);
    assert_eq!(d.take_deliveries(), [Delivery { to: B, ret: Return::Reply(payload(&[]), Android::V14) }]);
    assert_eq!(d.command(B, false, reply_with(&[])), Some(Return::Done));
    assert_eq!(d.take_deliveries(), [Delivery { to: A, ret: Return::Reply(payload(&[]), Android::V14) }]);
    // A reply with nothing being handled is refused.
    assert_eq!(d.command(B, false, reply_with(&[])), Some(Return::Status(StatusCode::InvalidOperation)));
}

#[test]
fn oneway_calls_go_one_at_a_time_in_order_and_two_way_calls_pass_them() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    for code in 1..=1000 {
        assert_eq!(d.command(A, false, oneway(a, code)), Some(Return::Done));
    }
    assert_eq!(d.oneway_depth(), 999);
    let first = transaction(d.command(B, false, wait()));
    assert_eq!((first.code, first.pid, first.uid), (1, 0, 10_001), "a oneway call's pid reads 0");
    // Not freed: the next does not come, but a two-way call does.
    assert_eq!(d.command(B, false, poll()), Some(Return::Nothing));
    assert_eq!(d.command(C, false, call(0, 1, &[])), None);
    let t = transaction(d.take_local());
    assert_eq!(t.pid, 13);
    assert_eq!(d.command(A, false, call(a, 5000, &[])), None);
    let two_way = transaction(d.command(B, false, wait()));
    assert_eq!((two_way.code, two_way.pid), (5000, 11));
    assert_eq!(d.command(B, false, reply_with(&[])), Some(Return::Done));
    assert_eq!(d.take_deliveries(), [Delivery { to: A, ret: Return::Reply(payload(&[]), Android::V14) }]);
    // Each free lets the next one out, in order.
    for code in 2..=1000 {
        assert_eq!(transaction(d.command(B, true, wait())).code, code);
    }
    assert_eq!(d.command(B, true, poll()), Some(Return::Nothing));
    assert_eq!(d.oneway_depth(), 0);
    // With B waiting, the next oneway call reaches it at once.
    assert_eq!(d.command(B, false, wait()), None);
    assert_eq!(d.command(A, false, oneway(a, 7)), Some(Return::Done));
    let ds = d.take_deliveries();
    assert!(matches!(&ds[..], [Delivery { to: B, ret: Return::Transaction(t) }] if t.code == 7), "{ds:?}");
}

#[test]
fn a_full_queue_fails_oneway_calls_and_a_receiver_gets_only_what_fits() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    let big = Payload { data: alloc::vec![0; 32 * 1024], offsets: Vec::new() };
    let send = |d: &mut Driver| {
        d.command(A, false, Command::Transact { handle: a, code: 1, flags: FLAG_ONEWAY, payload: big.clone() })
    };
    let mut sent = 0;
    while send(&mut d) == Some(Return::Done) {
        sent += 1;
    }
    assert_eq!(sent, QUEUED_MAX / (32 * 1024));
    assert_eq!(send(&mut d), Some(Return::Status(StatusCode::FailedTransaction)));
    // Taking one makes room for one.
    transaction(d.command(B, true, wait()));
    assert_eq!(send(&mut d), Some(Return::Done));
    // A client that can take 1 KiB gets no more, and the replier hears of it.
    d.connect(C, id(SYSTEM_UID, 13), Limits { bytes: 1024, objects: 4 });
    let c = hand_out(&mut d, C, in_compat);
    let huge = Command::Transact { handle: c, code: 1, flags: 0, payload: big.clone() };
    assert_eq!(d.command(C, false, huge), None, "B can take it");
    // B takes its queued oneway calls first, then C's call.
    let t = loop {
        let t = transaction(d.command(B, true, wait()));
        if !t.is_oneway() {
            break t;
        }
    };
    assert_eq!(t.uid, SYSTEM_UID);
    let answer = Command::Reply { result: Ok(big.clone()), wait: false };
    assert_eq!(d.command(B, false, answer), Some(Return::Status(StatusCode::FailedTransaction)));
    assert_eq!(d.take_deliveries(), [Delivery { to: C, ret: Return::Status(StatusCode::FailedTransaction) }]);
}

#[test]
fn death_sends_each_obituary_once_and_ends_calls_with_dead_object() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    let c = hand_out(&mut d, C, in_compat);
    assert_eq!(d.command(A, false, Command::LinkToDeath { handle: a, cookie: 5 }), Some(Return::Done));
    assert_eq!(d.command(A, false, Command::LinkToDeath { handle: a, cookie: 5 }), Some(Return::Done));
    assert_eq!(d.command(C, false, Command::LinkToDeath { handle: c, cookie: 6 }), Some(Return::Done));
    assert_eq!(d.command(C, false, Command::LinkToDeath { handle: c, cookie: 7 }), Some(Return::Done));
    assert_eq!(d.command(C, false, Command::UnlinkToDeath { handle: c, cookie: 7 }), Some(Return::Done));
    assert_eq!(
        d.command(C, false, Command::UnlinkToDeath { handle: c, cookie: 7 }),
        Some(Return::Status(StatusCode::NameNotFound))
    );
    // A waits for B's answer; C has a call queued at B; then B dies.
    assert_eq!(d.command(A, false, call(a, 1, &[])), None);
    transaction(d.command(B, false, wait()));
    assert_eq!(d.command(C, false, call(c, 2, &[])), None);
    d.disconnect(B);
    let ds = d.take_deliveries();
    assert!(ds.contains(&Delivery { to: A, ret: Return::Status(StatusCode::DeadObject) }), "{ds:?}");
    assert!(ds.contains(&Delivery { to: C, ret: Return::Status(StatusCode::DeadObject) }), "{ds:?}");
    assert_eq!(ds.len(), 2, "{ds:?}");
    // The obituaries wait in the queues: one for A's link, one for C's.
    assert_eq!(d.command(A, false, poll()), Some(Return::DeadBinder(5)));
    assert_eq!(d.command(A, false, poll()), Some(Return::Nothing));
    assert_eq!(d.command(C, false, poll()), Some(Return::DeadBinder(6)));
    assert_eq!(d.command(C, false, poll()), Some(Return::Nothing));
    assert_eq!(d.stats.obituaries, 2);
    // Calls to the dead node, oneway too, answer DEAD_OBJECT; a new link gets its obituary.
    assert_eq!(d.command(A, false, call(a, 1, &[])), Some(Return::Status(StatusCode::DeadObject)));
    assert_eq!(d.command(A, false, oneway(a, 1)), Some(Return::Status(StatusCode::DeadObject)));
    assert_eq!(d.command(A, false, Command::LinkToDeath { handle: a, cookie: 8 }), Some(Return::DeadBinder(8)));
    // The dead node goes when the last table lets go of it.
    let (nodes, _) = d.counts();
    d.command(A, false, Command::Release { handle: a, count: 1 });
    d.command(C, false, Command::Release { handle: c, count: 1 });
    assert_eq!(d.counts().0, nodes);
    d.command(COMPAT, false, Command::Release { handle: in_compat, count: 1 });
    assert_eq!(d.counts(), (nodes - 1, 0));
}

#[test]
fn references_are_counted_and_the_last_release_frees_the_node() {
    let mut d = driver();
    let baseline = d.counts();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    assert_eq!(hand_out(&mut d, A, in_compat), a, "the same node, the same handle");
    assert_eq!(d.counts(), (baseline.0 + 1, 2));
    let node = d.node_of(A, a).unwrap();
    assert_eq!(d.node_refs(node), 2, "compat's table and A's");
    let bad = Some(Return::Status(StatusCode::BadValue));
    assert_eq!(d.command(A, false, Command::Release { handle: a, count: 3 }), bad, "A holds it twice");
    assert_eq!(d.command(A, false, Command::Release { handle: a, count: 1 }), Some(Return::Done));
    assert_eq!(d.node_of(A, a), Some(node), "still held once");
    assert_eq!(d.command(A, false, Command::Release { handle: a, count: 1 }), Some(Return::Done));
    assert_eq!(d.node_of(A, a), None);
    assert_eq!(d.command(A, false, Command::Release { handle: a, count: 1 }), bad);
    assert_eq!(d.command(COMPAT, false, Command::Release { handle: in_compat, count: 1 }), Some(Return::Done));
    assert_eq!(d.counts(), baseline);
    // B sending the binder again makes a node anew.
    let again = register(&mut d, B, 0xb0);
    assert_ne!(d.node_of(COMPAT, again), Some(node));
}

#[test]
fn a_handle_in_flight_survives_its_release() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    // C hosts a node A calls; A passes B's handle in the call; before C takes it, nothing
    // of B's may go, even if compat lets go of its own hold.
    let c_in_compat = register(&mut d, C, 0xc0);
    let a_to_c = hand_out(&mut d, A, c_in_compat);
    assert_eq!(
        d.command(
            A,
            false,
            Command::Transact {
                handle: a_to_c,
                code: 1,
                flags: FLAG_ONEWAY,
                payload: payload(&[Some(Binder::Handle(a))])
            }
        ),
        Some(Return::Done)
    );
    d.command(A, false, Command::Release { handle: a, count: 1 });
    d.command(COMPAT, false, Command::Release { handle: in_compat, count: 1 });
    let t = transaction(d.command(C, false, wait()));
    let [Some(Binder::Handle(h))] = binders(&t.payload)[..] else { panic!() };
    assert_eq!(d.command(C, true, call(h, 4, &[])), None, "the handle works");
    assert_eq!(transaction(d.command(B, false, wait())).uid, SYSTEM_UID);
}

#[test]
fn a_client_connecting_again_is_a_new_process() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    d.command(A, false, Command::LinkToDeath { handle: a, cookie: 1 });
    d.connect(B, id(10_002, 40), Limits::MAX);
    assert_eq!(d.command(A, false, poll()), Some(Return::DeadBinder(1)));
    assert_eq!(d.command(A, false, call(a, 1, &[])), Some(Return::Status(StatusCode::DeadObject)));
    // B's new process sends the same pointer: a new node, alive.
    let fresh = register(&mut d, B, 0xb0);
    let a2 = hand_out(&mut d, A, fresh);
    assert_ne!(a2, a);
    assert_eq!(d.command(A, false, call(a2, 1, &[])), None);
    assert_eq!(transaction(d.command(B, false, wait())).pid, 11);
    assert_eq!(d.command(9, false, poll()), Some(Return::Status(StatusCode::NoInit)), "not connected");
}

#[test]
fn compat_calls_out_oneway_only() {
    let mut d = driver();
    let in_compat = register(&mut d, B, 0xb0);
    assert_eq!(d.command(COMPAT, false, call(in_compat, 1, &[])), Some(Return::Status(StatusCode::InvalidOperation)));
    assert_eq!(d.command(COMPAT, false, oneway(in_compat, 1)), Some(Return::Done));
    let t = transaction(d.command(B, false, wait()));
    assert_eq!((t.uid, t.pid), (SYSTEM_UID, 0));
    // A second command while waiting is a broken client.
    assert_eq!(d.command(A, false, wait()), None);
    assert_eq!(d.command(A, false, wait()), Some(Return::Status(StatusCode::InvalidOperation)));
}

#[test]
fn a_client_in_a_call_takes_only_its_answer_and_nested_calls() {
    let mut d = driver();
    let b_in_compat = register(&mut d, B, 0xb0);
    let a_in_compat = register(&mut d, A, 0xa0);
    let a_to_b = hand_out(&mut d, A, b_in_compat);
    let c_to_a = hand_out(&mut d, C, a_in_compat);
    let b_to_a = hand_out(&mut d, B, a_in_compat);
    d.command(C, false, Command::LinkToDeath { handle: c_to_a, cookie: 1 });
    // A calls B and waits; a oneway call for A comes meanwhile, and waits too.
    assert_eq!(d.command(A, false, call(a_to_b, 1, &[])), None);
    assert_eq!(d.command(C, false, oneway(c_to_a, 50)), Some(Return::Done));
    assert!(d.take_deliveries().is_empty(), "A is in a call");
    // B's nested call does reach A.
    transaction(d.command(B, false, wait()));
    assert_eq!(d.command(B, false, call(b_to_a, 60, &[])), None);
    let ds = d.take_deliveries();
    assert!(matches!(&ds[..], [Delivery { to: A, ret: Return::Transaction(t) }] if t.code == 60), "{ds:?}");
    assert_eq!(d.command(A, false, Command::Reply { result: Ok(payload(&[])), wait: true }), None);
    assert_eq!(d.take_deliveries(), [Delivery { to: B, ret: Return::Reply(payload(&[]), Android::V14) }]);
    // B answers: A gets the answer before the oneway call that came first.
    assert_eq!(d.command(B, false, reply_with(&[])), Some(Return::Done));
    assert_eq!(d.take_deliveries(), [Delivery { to: A, ret: Return::Reply(payload(&[]), Android::V14) }]);
    assert_eq!(transaction(d.command(A, false, poll())).code, 50);
}

#[test]
/// A Parcel is read in its writer's release; compat writes each client's own.
fn every_parcel_comes_with_its_writers_release() {
    let mut d = driver();
    d.connect(B, Identity { uid: 10_002, pid: 12, android: Android::V12 }, Limits::MAX);
    d.connect(A, Identity { uid: 10_001, pid: 11, android: Android::V10 }, Limits::MAX);
    let in_compat = register(&mut d, B, 0xb0);
    let a = hand_out(&mut d, A, in_compat);
    assert_eq!(d.command(A, false, call(a, 1, &[])), None);
    assert_eq!(transaction(d.command(B, false, wait())).android, Android::V10);
    assert_eq!(d.command(B, false, reply_with(&[])), Some(Return::Done));
    assert_eq!(d.take_deliveries(), [Delivery { to: A, ret: Return::Reply(payload(&[]), Android::V12) }]);
}
