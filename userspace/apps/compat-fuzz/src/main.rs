//! `compat-fuzz [COUNT]`: a hostile client of the compat server. It connects as a legacy app
//! would, then sends COUNT (100,000 unless given) requests of its own making, seeded so a
//! run can be repeated: random words under random labels, and well-formed requests mutated
//! (bytes flipped, lengths cut or stretched past the end, offsets unaligned, out of range
//! or overlapping, objects with forged handles and pointers, huge sizes, Parcels said to
//! be in a Frame that holds garbage, releases and links of handles it never had). Every
//! request must be answered (a hang fails the test by timeout) and compat must not die;
//! then a fresh connection must work as before, and the kernel's heap must be back where
//! it was. Requests that would wait for ever by design (a blocking `WAIT` with nothing to
//! come) are not sent: the flags that ask to block are cleared.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use binder::service_manager::DESCRIPTOR;
use binder::{Android, FlatObject, Parcel};
use compat_echo as echo;
use ipc::proto::compat::{self as proto, ParcelHeader, Request, BLOCK, CONNECT, WAIT_AFTER};
use ipc::proto::Long;
use rt::check::Checks;
use rt::frame::Window;
use rt::rand::XorShift;
use rt::{ipc, println, sys};

rt::main!(main);

/// xorshift64*: a small generator, seeded, so a failing run can be replayed.
fn main(args: rt::Args) -> u64 {
    let mut c = Checks::new("compat-fuzz hostile");
    let count: u64 = args.get(0).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let Ok((endpoint, _)) = rt::name::lookup(binder::seam::SERVICE) else {
        println!("FAIL: no compat");
        return 1;
    };
    let Ok(mut frame) = Window::new(proto::FRAME_PAGES_MAX) else {
        println!("FAIL: no Frame");
        return 1;
    };
    let connect = |frame: &Window, android: u32| {
        let mut m = proto::request(Request::Connect { android, frame_pages: proto::FRAME_PAGES_MAX }, false);
        m.caps = 1;
        rt::cap::set_send_cap(0, frame.slot());
        rt::long::call(endpoint, &m)
    };
    let connected = connect(&frame, 14).map(|a| proto::read_connected(&a));
    c.check(&format!("connected: {connected:?}"), matches!(connected, Ok(Ok(_))));
    let (_, heap_before) = sys::mem_stats();
    let mut rng = XorShift::new(0x5ea1_c0de ^ args.pid);
    let mut answers = [0u64; 24];
    let mut died = 0;
    for i in 0..count {
        let m = hostile(&mut rng, frame.bytes());
        // Reconnect now and then, in another release, as a restarted app would.
        let sent =
            if rng.chance(5000) { connect(&frame, 10 + rng.below(5) as u32) } else { rt::long::call(endpoint, &m) };
        match sent {
            Ok(a) => answers[(a.label as usize).min(answers.len() - 1)] += 1,
            Err(e) => {
                died += 1;
                println!("FAIL: request {i} (label {}): {e}", m.label);
                break;
            }
        }
    }
    println!("compat-fuzz: answers by label: {:?}", answers);
    c.check(&format!("{count} hostile requests, each answered, compat alive"), died == 0);
    // A fresh connection works as before.
    let fresh = binder::seam::connect(Android::V14);
    let works = fresh.as_ref().ok().and_then(|p| {
        let e = p.service_manager().check_service(echo::NAME).ok()??;
        echo::echo(&e, "after the storm").ok()
    });
    c.check(
        &format!("then a legacy app is served as before: {works:?}"),
        matches!(&works, Some((_, _, t)) if t == "after the storm"),
    );
    drop(fresh);
    let (_, heap_after) = sys::mem_stats();
    c.check(
        &format!("the kernel heap is back where it was ({heap_before} B before, {heap_after} B after)"),
        heap_after <= heap_before + 4096,
    );
    c.done()
}

/// One hostile request (with, for some, garbage or a Parcel written into the Frame).
fn hostile(rng: &mut XorShift, frame: &mut [u8]) -> Long {
    let mut m = match rng.below(8) {
        // Random words under a random label.
        0 => {
            let mut m = Long::new(rng.below(10) as u32);
            for _ in 0..rng.below(ipc::msg::MSG_MAX_WORDS as u64 + 1) {
                m.push(rng.word());
            }
            m
        }
        1 => {
            let (handle, count) = (small_or_any(rng), rng.below(4) as u32);
            match rng.below(3) {
                0 => proto::request(Request::Release { handle, count }, rng.chance(2)),
                1 => proto::request(Request::Link { handle, cookie: rng.word() }, false),
                _ => proto::request(Request::Unlink { handle, cookie: rng.word() }, false),
            }
        }
        2 => {
            let mut m = proto::request(Request::Reply { status: rng.word() as i32 & 0xff, wait: false }, rng.chance(2));
            push_mutated(rng, &mut m, frame);
            m
        }
        3 => proto::request(Request::Wait { block: false }, rng.chance(2)),
        4 => {
            let mut m =
                proto::request(Request::Connect { android: rng.below(20) as u32, frame_pages: rng.below(20) }, false);
            if rng.chance(2) {
                m.label = CONNECT + 1;
            }
            m
        }
        // Transactions: to the ServiceManager, to a handle it may hold, or to any number.
        _ => {
            let handle = if rng.chance(2) { 0 } else { small_or_any(rng) };
            let code = if rng.chance(2) { rng.below(16) as u32 } else { rng.word() as u32 };
            let flags = [0, 1, 0x10, rng.word() as u32][rng.below(4) as usize];
            let mut m = proto::request(Request::Transact { handle, code, flags }, rng.chance(2));
            push_mutated(rng, &mut m, frame);
            m
        }
    };
    // Never ask to wait for what may not come.
    if m.len > 0 {
        m.words[0] &= !(BLOCK | WAIT_AFTER);
    }
    m
}

fn small_or_any(rng: &mut XorShift) -> u32 {
    if rng.chance(2) {
        rng.below(8) as u32
    } else {
        rng.word() as u32
    }
}

/// A ServiceManager request, mutated, pushed in the message or the Frame; or a header
/// that lies.
fn push_mutated(rng: &mut XorShift, m: &mut Long, frame: &mut [u8]) {
    let mut p = Parcel::for_android(Android::V14);
    p.write_interface_token(DESCRIPTOR);
    match rng.below(3) {
        0 => p.write_string16(Some(echo::NAME)),
        1 => {
            // addService with an object of a made-up kind, pointer or handle.
            p.write_string16(Some("fuzz.service"));
            let object =
                FlatObject { kind: rng.word() as u32, flags: rng.word() as u32, value: rng.word(), cookie: rng.word() };
            p.write_flat_object(if rng.chance(2) {
                object
            } else {
                FlatObject::new(Some(binder::Binder::Handle(small_or_any(rng))), 0)
            });
            p.write_bool(false);
            p.write_i32(8);
        }
        _ => p.write_i32(rng.word() as i32),
    }
    let mut data = p.data().to_vec();
    let mut offsets: Vec<u32> = p.objects().iter().map(|&o| o as u32).collect();
    for _ in 0..rng.below(4) {
        if !data.is_empty() {
            let at = rng.below(data.len() as u64) as usize;
            data[at] ^= 1 << rng.below(8);
        }
    }
    match rng.below(6) {
        0 => data.truncate(rng.below(data.len() as u64 + 1) as usize),
        1 => data.resize(data.len() + rng.below(64) as usize, 0xa5),
        2 => offsets.push(rng.below(data.len() as u64 + 32) as u32),
        3 => offsets = (0..rng.below(20)).map(|_| rng.below(256) as u32).collect(),
        _ => {}
    }
    if rng.chance(8) {
        // A header that lies: a length or object count past the limits, or a Parcel said to
        // be in the Frame, which holds garbage or a short Parcel.
        let header = ParcelHeader {
            len: if rng.chance(2) { rng.word() as u32 } else { rng.below(proto::PARCEL_MAX as u64 + 1) as u32 },
            objects: rng.below(proto::OBJECTS_MAX as u64 + 2) as u16,
            in_frame: true,
        };
        for b in frame.iter_mut().take(rng.below(256) as usize) {
            *b = rng.word() as u8;
        }
        m.push(header.word() | if rng.chance(4) { rng.word() & (0xffff << 48) } else { 0 });
        return;
    }
    if !proto::push_parcel(m, &data, &offsets) {
        proto::write_frame(frame, &data, &offsets);
    }
}
