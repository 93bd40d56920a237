//! `crashload`: servers under load and under fire. Run as a program of a system that gives
//! it the services it fires at and `init`'s service, it starts client processes (this
//! program again, each given a copy of its capability to one service), then has init kill
//! the servers again and again at pseudo-random moments while the clients work. Every
//! request must be answered or refused with a clean error, nothing acknowledged may be lost,
//! and nothing may hang.
//!
//! - `crashload settings|gallery KILLS WRITES`: two writers of one service under `KILLS`
//!   kills, each making `WRITES` changes and undoing each ten changes later, so the server's
//!   store fills and is compacted.
//! - `crashload fire KILLS WRITES`: one client of each of the name server, the console,
//!   settings, weather, the gallery and compat (as a legacy app, through Binder), while
//!   every one of those servers is killed `KILLS` times, in a random order (`fire.rs`). Each
//!   client works until it is told to stop, or `WRITES` requests.
//!
//! The clients (`settings.rs`, `gallery.rs`, `clients.rs`, `compat.rs`):
//! - settings (`writes = ["load."]`): set a fresh key, delete it later. At the end every
//!   acknowledged change must be there, and every acknowledged delete must have happened.
//! - gallery: add a photo with a thumbnail to the writer's album, remove it later; reads
//!   list the album under load; at the end each photo is found by search and its thumbnail
//!   compared byte for byte.
//! - name: look up `settings`, which init registers again after each restart of either.
//! - console: print numbered lines; the harness checks that every one reached the serial
//!   line, through the console or, while it is dead, the kernel's debug console.
//! - weather and compat: the conditions in a city; one model hour's answers must agree.
//!
//! A change whose answer was lost with the server may or may not have happened, but nothing
//! else may have. Each round runs twice: a first with few kills lets the kernel's tables and
//! the servers' heaps reach their working size; the second, with `KILLS` kills, is measured.
//! It prints the counts (acknowledged, clean errors, losses, kills) and the kernel's free
//! frames and heap before and after the second round (`fire`: free memory and what live
//! processes are charged, together; see `fire.rs`), and exits with the number of failures:
//! a client that found a loss or a wrong answer, a kill that failed, or memory not back
//! where it was.
#![no_std]
#![no_main]

extern crate alloc;

mod clients;
mod compat;
mod fire;
mod gallery;
mod settings;

use alloc::format;
use alloc::vec::Vec;
use ipc::cap::{init_slots, Rights, Slot};
use ipc::proto::init::{self as init_proto, Request};
use ipc::syscall::{ExitStatus, PRIORITY_DEFAULT};
use ipc::system::slots;
use rt::cap::{self, Grant};
use rt::rand::XorShift;
use rt::sys::{self, Msg};
use rt::{ipc, name, println};

rt::main!(main);

/// Where a client finds the service capability its parent gave it. It has no name server
/// in the usual slot, so it prints on the kernel's debug console: the clients share this
/// program's identity, and the console would join their half lines into one.
const GIVEN: Slot = slots::SERVICE;
/// Where a client started by `fire` finds the notification that tells it to stop.
const STOP: Slot = slots::INTROSPECT;
/// A change is undone this many changes after it was made.
const LAG: usize = 10;

fn main(args: rt::Args) -> u64 {
    let number = |i: usize| args.get(i).and_then(|n| n.parse().ok()).unwrap_or(0);
    match (args.get(0), args.get(1)) {
        (Some("writer"), Some("settings")) => settings::writer(number(2), number(3)),
        (Some("writer"), Some("gallery")) => gallery::writer(number(2), number(3)),
        (Some("writer"), Some("name")) => clients::name(number(2), number(3)),
        (Some("writer"), Some("console")) => clients::console(number(2), number(3)),
        (Some("writer"), Some("weather")) => clients::weather(number(2), number(3)),
        (Some("writer"), Some("compat")) => compat::client(number(2), number(3)),
        (Some("fire"), _) => fire::drive(number(1), number(2)),
        (Some(service @ ("settings" | "gallery")), _) => drive(service, number(1), number(2)),
        _ => {
            println!("usage: crashload settings|gallery KILLS WRITES | crashload fire KILLS WRITES");
            1
        }
    }
}

/// Whether the program that started this client has told it to stop (one given no stop
/// notification runs its count out).
pub fn stopped() -> bool {
    sys::poll(STOP).is_ok_and(|bits| bits != 0)
}

/// Starts client `id` of `service` (the capability in slot `service_slot`) for at most
/// `writes` requests, told to stop by `stop` if given. It gets this program's Memory (its
/// Frames come out of this program's quota).
pub fn spawn_client(kind: &str, id: usize, writes: usize, service_slot: Slot, stop: Option<Slot>) -> Option<Slot> {
    let args = format!("writer {kind} {id} {writes}");
    let mut grants = alloc::vec![
        Grant::new(service_slot, GIVEN, Rights::WRITE.union(Rights::GRANT)),
        Grant::new(init_slots::MEMORY, init_slots::MEMORY, Rights::ALL),
    ];
    if let Some(stop) = stop {
        grants.push(Grant::new(stop, STOP, Rights::ALL));
    }
    cap::spawn("crashload", &args, PRIORITY_DEFAULT, &grants)
        .inspect_err(|e| println!("crashload: cannot start a {kind} client: {e}"))
        .ok()
}

/// What became of one change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome<T> {
    Acked(T),
    /// The server died with the call: a clean error, and the change may or may not be there.
    Lost,
}

/// The most times [`read_through`] tries, a tick apart.
const READ_TRIES: usize = 200;

/// A read of the final check, tried again, a tick later, each time it meets a kill: the kills
/// may go on while a writer checks, and two in a row defeat a single retry. A read changes
/// nothing, so trying it again is always right; one that [`READ_TRIES`] tries cannot get
/// through is reported as it failed.
pub fn read_through<T, E>(call: impl Fn() -> Result<T, rt::Failed<E>>) -> Result<T, rt::Failed<E>> {
    let mut result = call();
    for _ in 1..READ_TRIES {
        if !matches!(result, Err(rt::Failed::Kernel(ipc::Error::ObjectGone))) {
            break;
        }
        sys::sleep(1);
        result = call();
    }
    result
}

fn kill(service: &str, init: Slot) -> bool {
    let Some(m) = init_proto::encode(Request::Kill(service)) else { return false };
    sys::call_ep(init, &Msg::from_proto(&m))
        .ok()
        .and_then(|a| a.proto())
        .is_some_and(|a| init_proto::read_done(&a).is_ok())
}

fn drive(name: &str, kills: usize, writes: usize) -> u64 {
    let (Ok((service, _)), Ok((init, _))) = (name::lookup(name), name::lookup("init")) else {
        println!("crashload: needs the {name} service and init's");
        return 1;
    };
    let warm_up = round(name, service, init, 0, 4, writes);
    let before = sys::mem_stats();
    let failed = round(name, service, init, 2, kills, writes);
    let after = sys::mem_stats();
    println!("crashload: free frames and kernel heap {before:?} -> {after:?}");
    warm_up + failed + u64::from(before.0 != after.0)
}

/// Two writers (numbered from `first`) under `kills` kills; returns the failures.
fn round(name: &str, service: Slot, init: Slot, first: usize, kills: usize, writes: usize) -> u64 {
    let mut writers = Vec::new();
    for id in first..first + 2 {
        match spawn_client(name, id, writes, service, None) {
            Some(slot) => writers.push(slot),
            None => return 1,
        }
    }
    // Seeded: the kill moments repeat from run to run.
    let mut rng = XorShift::new(0x5eed);
    let mut done = 0;
    for _ in 0..kills {
        sys::sleep(1 + rng.below(4));
        if kill(name, init) {
            done += 1;
        }
    }
    let failed = wait_all(writers);
    // The last restart has finished (its backoff is 10 ms).
    sys::sleep(3);
    println!("crashload: {name} killed {done} times");
    failed + u64::from(done != kills as u64)
}

/// Waits for every client to end; the number that did not exit with 0.
pub fn wait_all(clients: Vec<Slot>) -> u64 {
    let mut failed = 0;
    for c in clients {
        if sys::wait(c) != Ok(ExitStatus::Exited(0)) {
            failed += 1;
        }
        cap::release(c);
    }
    failed
}
