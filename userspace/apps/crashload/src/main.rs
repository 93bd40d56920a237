//! `crashload SERVICE KILLS WRITES`: a server under load and under fire. Run as a program of
//! a system that gives it the service (`settings` or `gallery`) and `init`'s service, it starts
//! two writer processes (this program, given a copy of its capability to the service), then
//! kills the server `KILLS` times at pseudo-random moments while they work. Each writer makes
//! `WRITES` changes and undoes each ten changes later, so the server's store fills and is
//! compacted, and it keeps what the server acknowledged. At the end every acknowledged change
//! must be there, and every acknowledged undo must have happened. A change whose answer was
//! lost with the server may or may not have happened, but nothing else may have.
//!
//! - settings (`writes = ["load."]`): set a fresh key, delete it later (`settings.rs`).
//! - gallery: add a photo with a thumbnail to the writer's album, remove it later; reads
//!   list the album under load; at the end each photo is found by search and its thumbnail
//!   compared byte for byte (`gallery.rs`).
//!
//! It runs the load twice: a first round with a few kills lets the kernel's tables and the
//! server's heap reach their working size; the second, with `KILLS` kills, is measured. It
//! prints the counts (acknowledged, clean errors, losses, kills) and the kernel's free frames
//! and heap before and after the second round, and exits with the number of failures: a
//! writer that found a loss or a wrong answer, a kill that failed, or free frames not back
//! where they were.
#![no_std]
#![no_main]

extern crate alloc;

mod gallery;
mod settings;

use alloc::format;
use alloc::vec::Vec;
use ipc::cap::{init_slots, Rights, Slot};
use ipc::proto::init::{self as init_proto, Request};
use ipc::syscall::{ExitStatus, PRIORITY_DEFAULT};
use rt::cap::{self, Grant};
use rt::sys::{self, Msg};
use rt::{ipc, name, println};

rt::main!(main);

/// Where a writer finds the service capability its parent gave it.
const GIVEN: Slot = 2;
/// A change is undone this many changes after it was made.
const LAG: usize = 10;

fn main(args: rt::Args) -> u64 {
    let number = |i: usize| args.get(i).and_then(|n| n.parse().ok()).unwrap_or(0);
    match (args.get(0), args.get(1)) {
        (Some("writer"), Some("settings")) => settings::writer(number(2), number(3)),
        (Some("writer"), Some("gallery")) => gallery::writer(number(2), number(3)),
        (Some(service @ ("settings" | "gallery")), _) => drive(service, number(1), number(2)),
        _ => {
            println!("usage: crashload settings|gallery KILLS WRITES");
            1
        }
    }
}

/// What became of one change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome<T> {
    Acked(T),
    /// The server died with the call: a clean error, and the change may or may not be there.
    Lost,
}

/// A small pseudo-random sequence: the kill moments repeat from run to run.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
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
        let args = format!("writer {name} {id} {writes}");
        match cap::spawn(
            "crashload",
            &args,
            PRIORITY_DEFAULT,
            &[
                Grant::new(service, GIVEN, Rights::WRITE.union(Rights::GRANT)),
                // Its Frame for thumbnails comes out of this program's Memory.
                Grant::new(init_slots::MEMORY, init_slots::MEMORY, Rights::ALL),
            ],
        ) {
            Ok(slot) => writers.push(slot),
            Err(e) => {
                println!("crashload: cannot start a writer: {e}");
                return 1;
            }
        }
    }
    let mut seed = 0x5eed;
    let mut done = 0;
    for _ in 0..kills {
        sys::sleep(1 + next(&mut seed) % 4);
        if kill(name, init) {
            done += 1;
        }
    }
    let mut failed = 0;
    for w in writers {
        if sys::wait(w) != Ok(ExitStatus::Exited(0)) {
            failed += 1;
        }
        cap::release(w);
    }
    // The last restart has finished (its backoff is 10 ms).
    sys::sleep(3);
    println!("crashload: {name} killed {done} times");
    failed + u64::from(done != kills as u64)
}
