//! `crashload KILLS WRITES`: the settings server under load and under fire. Run as a program
//! of a system that gives it `settings`, `init`'s service and `writes = ["load."]`, it starts
//! two writer processes (this program, given a copy of its settings capability), then kills
//! the settings server `KILLS` times at pseudo-random moments while they work. Each writer
//! sets `WRITES` fresh keys and deletes each key ten writes later, so the store fills and is
//! compacted, and it keeps what the server acknowledged. At the end every acknowledged change
//! must be there: a set key with its value, a deleted key gone. A write whose answer was lost
//! with the server may or may not have happened, but nothing else may have.
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

use alloc::format;
use alloc::vec::Vec;
use ipc::cap::{Rights, Slot};
use ipc::proto::init::{self as init_proto, Request};
use ipc::proto::settings::{SettingsError, Value};
use ipc::syscall::{ExitStatus, PRIORITY_DEFAULT};
use rt::cap::{self, Grant};
use rt::settings::{self as settings, Failed};
use rt::sys::{self, Msg};
use rt::{ipc, name, println};

rt::main!(main);

/// Where a writer finds the settings capability its parent gave it.
const GIVEN: Slot = 2;
/// A key is deleted this many writes after it was set.
const LAG: usize = 10;

fn main(args: rt::Args) -> u64 {
    let number = |i: usize| args.get(i).and_then(|n| n.parse().ok()).unwrap_or(0);
    match args.get(0) {
        Some("writer") => writer(number(1), number(2)),
        _ => drive(number(0), number(1)),
    }
}

/// What became of one write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Acked,
    /// The server died with the call: a clean error, and the write may or may not be there.
    Lost,
}

fn writer(id: usize, writes: usize) -> u64 {
    let key = |i: usize| format!("load.w{id}.k{i}");
    let (mut sets, mut dels) = (Vec::new(), Vec::new());
    let (mut acked, mut errors, mut unexpected) = (0u64, 0u64, 0u64);
    let mut note = |r: Result<(), Failed>| match r {
        Ok(()) => {
            acked += 1;
            Outcome::Acked
        }
        Err(Failed::Kernel(ipc::Error::ObjectGone)) => {
            errors += 1;
            Outcome::Lost
        }
        Err(e) => {
            unexpected += 1;
            println!("writer {id}: unexpected answer: {e}");
            Outcome::Lost
        }
    };
    for i in 0..writes {
        sets.push(note(settings::set(GIVEN, &key(i), Value::Int(i as i64))));
        if i >= LAG {
            let deleted = settings::del(GIVEN, &key(i - LAG));
            // A key whose set died unapplied is rightly not there to delete.
            let gone = Err(Failed::Server(SettingsError::NotFound));
            let deleted = if deleted == gone && sets[i - LAG] == Outcome::Lost { Ok(()) } else { deleted };
            dels.push(note(deleted));
        }
    }
    // Every acknowledged change must be there. Reads retry once past a restart.
    let mut lost = 0;
    for (i, &set) in sets.iter().enumerate() {
        let got = settings::retry_once(|| settings::get(GIVEN, &key(i)));
        // What the key holds: its value, nothing, or something it must never hold.
        let present = match &got {
            Ok(settings::Setting::Int(v)) if *v == i as i64 => Some(true),
            Err(Failed::Server(SettingsError::NotFound)) => Some(false),
            _ => None,
        };
        let fine = match (present, set, dels.get(i).copied()) {
            (None, ..) => false,
            // An acknowledged delete: gone.
            (Some(there), _, Some(Outcome::Acked)) => !there,
            // A delete whose answer died with the server: it may have happened or not.
            (Some(_), _, Some(Outcome::Lost)) => true,
            // Never deleted: an acknowledged set is there; a set whose answer died, either.
            (Some(there), Outcome::Acked, None) => there,
            (Some(_), Outcome::Lost, None) => true,
        };
        if !fine {
            lost += 1;
            if lost <= 3 {
                println!("writer {id}: key {} lost: {got:?}", key(i));
            }
        }
    }
    println!("writer {id}: {acked} changes acknowledged, {errors} clean errors, {unexpected} unexpected, {lost} lost");
    unexpected + lost
}

/// A small pseudo-random sequence: the kill moments repeat from run to run.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

fn kill_settings(init: Slot) -> bool {
    let Some(m) = init_proto::encode(Request::Kill("settings")) else { return false };
    sys::call_ep(init, &Msg::from_proto(&m))
        .ok()
        .and_then(|a| a.proto())
        .is_some_and(|a| init_proto::read_done(&a).is_ok())
}

fn drive(kills: usize, writes: usize) -> u64 {
    let (Ok((service, _)), Ok((init, _))) = (name::lookup("settings"), name::lookup("init")) else {
        println!("crashload: needs the settings service and init's");
        return 1;
    };
    let warm_up = round(service, init, 0, 4, writes);
    let before = sys::mem_stats();
    let failed = round(service, init, 2, kills, writes);
    let after = sys::mem_stats();
    println!("crashload: free frames and kernel heap {before:?} -> {after:?}");
    warm_up + failed + u64::from(before.0 != after.0)
}

/// Two writers (numbered from `first`) under `kills` kills; returns the failures.
fn round(service: Slot, init: Slot, first: usize, kills: usize, writes: usize) -> u64 {
    let mut writers = Vec::new();
    for id in first..first + 2 {
        let args = format!("writer {id} {writes}");
        match cap::spawn(
            "crashload",
            &args,
            PRIORITY_DEFAULT,
            &[Grant::new(service, GIVEN, Rights::WRITE.union(Rights::GRANT))],
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
        if kill_settings(init) {
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
    println!("crashload: settings killed {done} times");
    failed + u64::from(done != kills as u64)
}
