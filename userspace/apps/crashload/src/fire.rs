//! `crashload fire KILLS WRITES`: every server of the system under fire. One client of each
//! works while init kills the servers, `KILLS` times each, in a pseudo-random order and at
//! pseudo-random moments. Each kill waits until the server's last one has been restarted
//! (init reports a new pid), so that every kill ends a running server. When the kills are
//! done and every server is back, the clients are told to stop; each then checks what it was
//! acknowledged and says what it saw. At the end init's restart count of every server must
//! have grown by exactly the number of kills.

use crate::{kill, spawn_client, wait_all};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::cap::{Kind, Slot};
use ipc::layout::PAGE_SIZE;
use ipc::proto::init::State;
use ipc::system::slots;
use rt::rand::XorShift;
use rt::sys::Msg;
use rt::{cap, init, ipc, name, println, sys};

/// The servers fired at, by the name init knows each by (its first service's name too).
const SERVERS: [&str; 6] = ["name", "console", "settings", "weather", "gallery", "compat"];

/// How long a killed server may take to be back (init's backoff is 10 ms).
const BACK_MICROS: u64 = 5_000_000;

/// One server under fire.
struct Target {
    name: &'static str,
    /// Its place in init's list of children.
    child: u64,
    /// The capability its client is given: the service (the name server's own slot for it).
    service: Slot,
    /// The pid of the process that runs it now.
    pid: u32,
}

/// The pid and restart count of child `child` once it runs with a pid other than `not`.
fn running(init: Slot, child: u64, not: u32) -> Option<(u32, u8)> {
    let deadline = sys::micros_since_boot() + BACK_MICROS;
    while sys::micros_since_boot() < deadline {
        match init::child(init, child) {
            Ok(Some((_, info))) if info.state == State::Running && info.pid != not => {
                return Some((info.pid, info.restarts))
            }
            Ok(Some(_)) => sys::sleep(1),
            _ => return None,
        }
    }
    None
}

pub fn drive(kills: usize, writes: usize) -> u64 {
    let Ok((init, _)) = name::lookup("init") else {
        println!("crashload: needs init's service");
        return 1;
    };
    let mut targets = Vec::new();
    for name in SERVERS {
        let service = match name {
            "name" => Ok(slots::NAME),
            _ => name::lookup(name).map(|(slot, _)| slot),
        };
        match (service, init::find(init, name)) {
            (Ok(service), Some((child, _))) => targets.push(Target { name, child, service, pid: 0 }),
            _ => {
                println!("crashload: needs the {name} server and its service");
                return 1;
            }
        }
    }
    let restarts = |targets: &mut [Target]| -> Option<Vec<u8>> {
        let mut counts = Vec::new();
        for t in targets {
            let (pid, restarts) = running(init, t.child, 0)?;
            t.pid = pid;
            counts.push(restarts);
        }
        Some(counts)
    };
    let Some(first) = restarts(&mut targets) else { return 1 };
    let warm_up = round(init, &mut targets, 0, 2, writes);
    let before = fresh(init, &mut targets);
    let failed = round(init, &mut targets, SERVERS.len(), kills, writes);
    let after = fresh(init, &mut targets);
    let (Some(before), Some(after)) = (before, after) else { return 1 };
    println!(
        "crashload: memory free or charged to a process {} -> {} bytes, kernel heap {} -> {} bytes",
        before.free_or_charged(),
        after.free_or_charged(),
        before.heap,
        after.heap
    );
    let leaked = before.free_or_charged() != after.free_or_charged();
    if leaked {
        before.show_difference(&after);
    }
    // Init restarted each server once for each kill.
    let mut wrong = 0;
    match restarts(&mut targets) {
        Some(last) => {
            for ((t, a), b) in targets.iter().zip(first).zip(last) {
                // Two kills each to warm up, one each for a fresh baseline before and after.
                let (n, want) = (usize::from(b - a), kills + 4);
                if n != want {
                    wrong += 1;
                    println!("crashload: init restarted {} {n} times, not {want}", t.name);
                }
            }
        }
        None => wrong += 1,
    }
    warm_up + failed + wrong + u64::from(leaked)
}

/// Has init kill `t`'s server, and waits until init runs it again (a new pid).
fn fire_at(init: Slot, t: &mut Target) -> Result<(), &'static str> {
    if !kill(t.name, init) {
        return Err("init could not kill it");
    }
    t.pid = running(init, t.child, t.pid).ok_or("it did not come back")?.0;
    Ok(())
}

/// Kills every server once more and lets the new ones set themselves up; then what the
/// kernel's memory is doing ([`Memory`]), once it is still.
fn fresh(init: Slot, targets: &mut [Target]) -> Option<Memory> {
    for t in targets.iter_mut() {
        let _ = fire_at(init, t);
    }
    // A server answers once it has set itself up, and that takes a while after a long round:
    // settings and the gallery first read their store logs, and compat waits for both.
    for t in targets.iter() {
        let _ = sys::call_ep(t.service, &Msg::new(UNKNOWN_LABEL, &[]));
    }
    let mut last = Memory::now()?;
    for _ in 0..SETTLE_TRIES {
        sys::sleep(5);
        let now = Memory::now()?;
        if now == last {
            break;
        }
        last = now;
    }
    Some(last)
}

/// A label no server's protocol has: each answers it with an error.
const UNKNOWN_LABEL: u32 = 0x7e57_0000;

/// How many readings, 5 ticks apart, [`fresh`] takes at most for two to agree.
const SETTLE_TRIES: usize = 40;

/// The kernel's memory: its free frames, and the bytes charged to every live process (its
/// image, mappings, page tables, kernel stacks and records), together in bytes; and its heap.
/// A server's memory grows with the work it has done, within its quota (a gallery started
/// again on a longer store log builds its index with more heap), so free frames alone do
/// not come back; free and charged together must, or memory leaked outside every quota.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Memory {
    free: u64,
    heap: u64,
    /// Each live process: its pid, name and the bytes charged to it.
    processes: Vec<(u64, String, u64)>,
}

impl Memory {
    fn now() -> Option<Memory> {
        let (frames, heap) = sys::mem_stats();
        let mut processes = Vec::new();
        for i in 0.. {
            match sys::process_info(slots::INTROSPECT, i) {
                Ok(info) => processes.push((info.pid, info.name(&mut [0; 64]).into(), info.charged)),
                Err(ipc::Error::NotFound) => break,
                Err(e) => {
                    println!("crashload: cannot read the list of processes ({e}); needs introspect = true");
                    return None;
                }
            }
        }
        Some(Memory { free: frames * PAGE_SIZE, heap, processes })
    }

    fn free_or_charged(&self) -> u64 {
        self.free + self.processes.iter().map(|p| p.2).sum::<u64>()
    }

    /// Says how `after` differs: the free bytes, and each process's charge.
    fn show_difference(&self, after: &Memory) {
        println!("crashload: free {} -> {} bytes", self.free, after.free);
        for (when, m) in [("before", self), ("after", after)] {
            let list: Vec<String> = m.processes.iter().map(|(pid, name, c)| format!("{name}[{pid}] {c}")).collect();
            println!("crashload: charged {when}: {}", list.join(", "));
        }
    }
}

/// One client of each server (numbered from `first`) while each server is killed `kills`
/// times; returns the failures.
fn round(init: Slot, targets: &mut [Target], first: usize, kills: usize, writes: usize) -> u64 {
    // A stop notification per client: a poll takes the bits it finds.
    let (mut clients, mut stops) = (Vec::new(), Vec::new());
    for (i, t) in targets.iter().enumerate() {
        let Ok(stop) = cap::create(Kind::Notification, 0) else { return 1 };
        stops.push(stop);
        match spawn_client(t.name, first + i, writes, t.service, Some(stop)) {
            Some(c) => clients.push(c),
            None => return 1,
        }
    }
    // The clients get going before the first kill.
    sys::sleep(10);
    let mut left: Vec<usize> = targets.iter().map(|_| kills).collect();
    let mut done: Vec<usize> = targets.iter().map(|_| 0).collect();
    let mut rng = XorShift::new(0xf17e ^ first as u64);
    let mut failed = 0;
    while left.iter().any(|&l| l > 0) {
        // Which server: any that has kills left.
        let candidates: Vec<usize> = (0..left.len()).filter(|&i| left[i] > 0).collect();
        let i = candidates[rng.below(candidates.len() as u64) as usize];
        left[i] -= 1;
        match fire_at(init, &mut targets[i]) {
            Ok(()) => done[i] += 1,
            Err(why) => {
                println!("crashload: {}: {why}", targets[i].name);
                failed += 1;
            }
        }
        // A restart keeps the processor busy for a while (a new process, and the server
        // setting itself up above its clients): the clients need time between kills too.
        sys::sleep(1 + rng.below(4));
    }
    for stop in stops {
        let _ = sys::signal(stop);
        cap::release(stop);
    }
    failed += wait_all(clients);
    for (t, n) in targets.iter().zip(done) {
        println!("crashload: {} killed {n} times", t.name);
        failed += u64::from(n != kills);
    }
    failed
}
