//! `init`, the first process. It holds every initial capability (all memory, the boot
//! archive, all I/O ports, every interrupt line) and starts the programs the command line
//! names (`run=NAME[@PRIORITY][:ARG...]`, passed to it as arguments), giving each exactly a
//! copy of its Memory and Archive capabilities, then waits for them all: each child's end
//! signals a bit of a notification bound to init's thread. Programs whose name starts with
//! `supervised-` also get init's fault endpoint: when one faults, init kills it and starts it
//! again from its archive entry (up to `RESTARTS_MAX` times).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use ipc::boot::Launch;
use ipc::cap::{init_slots, Kind, Rights};
use ipc::msg::{FaultWord, LABEL_FAULT, LABEL_NOTIFICATION};
use ipc::syscall::{ExitStatus, PRIORITY_DEFAULT};
use rt::cap::{self, Grant};
use rt::{ipc, println, sys};

rt::main!(main);

/// How often init restarts a supervised program that keeps faulting.
const RESTARTS_MAX: u32 = 3;

/// The capabilities every program init starts gets: its quota and the archive, in the usual
/// slots, so it can make processes of its own.
const GRANTS: [Grant; 2] = [
    Grant::new(init_slots::MEMORY, init_slots::MEMORY, Rights::ALL),
    Grant::new(init_slots::ARCHIVE, init_slots::ARCHIVE, Rights::ALL),
];

/// Who gets what beyond the usual grants: init's policy, by program name. `Echo` is the
/// endpoint of the supervised echo server, which init makes at start.
enum Extra {
    Cap(u64),
    Echo,
}

/// (what, the child's slot, rights)
type Gift = (Extra, u64, Rights);

const POLICY: &[(&str, &[Gift])] = &[
    // The test program's `irq` scenario is a serial-port driver; `restart` calls the echo server.
    (
        "ipctest",
        &[
            (Extra::Cap(init_slots::IOPORTS), 2, Rights::ALL),
            (Extra::Cap(init_slots::IRQ_FIRST + 4), 3, Rights::ALL),
            (Extra::Echo, 4, Rights::WRITE),
        ],
    ),
    ("supervised-echo", &[(Extra::Echo, 2, Rights::READ)]),
];

struct Child<'a> {
    launch: Launch<'a>,
    args: alloc::string::String,
    slot: u64,
    restarts: u32,
    supervised: bool,
}

/// At most this many programs: each has a bit in the death-notice word.
const CHILDREN_MAX: usize = 64;

fn main(args: rt::Args) -> u64 {
    if args.as_str().is_empty() {
        let (ticks, hz) = sys::ticks();
        let (free_frames, heap) = sys::mem_stats();
        println!("hello from user space: pid {}, {} ms after boot", args.pid, ticks * 1000 / hz);
        println!("{} MiB free, kernel heap {} KiB in use", (free_frames * 4096) >> 20, heap >> 10);
        return 0;
    }
    let Ok((faults, deaths, reply, echo)) = setup() else {
        println!("init: cannot make its endpoint and notification");
        return 1;
    };
    let mut children = Vec::new();
    for word in args.words() {
        let launch = match Launch::parse(word) {
            Ok(l) => l,
            Err(e) => {
                println!("init: run={word}: {e}");
                continue;
            }
        };
        if children.len() == CHILDREN_MAX {
            println!("init: more than {CHILDREN_MAX} programs; '{}' not started", launch.name);
            continue;
        }
        let supervised = launch.name.starts_with("supervised-");
        let args: Vec<&str> = launch.args().collect();
        let mut child = Child { launch, args: args.join(" "), slot: 0, restarts: 0, supervised };
        if start(&mut child, children.len(), faults, deaths, echo) {
            children.push(child);
        }
    }
    // Faults of supervised children and the death notices of all arrive on one endpoint
    // (the notices through the notification bound to init's thread).
    let mut alive: u64 = (0..children.len()).fold(0, |m, i| m | 1 << i);
    while alive != 0 {
        let m = match sys::recv(faults, reply) {
            Ok(m) => m,
            Err(e) => {
                println!("init: receive failed: {e}");
                return 1;
            }
        };
        match m.label() {
            LABEL_NOTIFICATION => alive &= !m.badge,
            LABEL_FAULT => {
                let i = m.badge as usize - 1;
                let Some(c) = children.get_mut(i) else { continue };
                println!(
                    "init: '{}' faulted (vector {}, address {:#x}); restarting it",
                    c.launch.name,
                    m.words[FaultWord::Vector as usize],
                    m.words[FaultWord::Address as usize]
                );
                let _ = sys::process_kill(c.slot);
                cap::release(c.slot);
                c.restarts += 1;
                let restarted = c.restarts <= RESTARTS_MAX && start(c, i, faults, deaths, echo);
                // The kill's own death notice is not news; any other bit that came with it is.
                let notices = sys::poll(deaths).unwrap_or(0) & !(1 << i);
                alive &= !notices;
                if !restarted {
                    println!("init: giving up on '{}'", children[i].launch.name);
                    alive &= !(1 << i);
                }
            }
            _ => {}
        }
    }
    for c in &children {
        match sys::wait(c.slot) {
            Ok(ExitStatus::Exited(0)) => {}
            Ok(status) => println!("init: '{}' ended: {status:?}", c.launch.name),
            Err(e) => println!("init: waiting for '{}': {e}", c.launch.name),
        }
    }
    0
}

/// The fault endpoint, the death-notice notification (bound to init's thread), the slot
/// for reply capabilities, and the echo server's endpoint.
fn setup() -> Result<(u64, u64, u64, u64), ipc::Error> {
    let (faults, deaths, reply, echo) = (cap::alloc()?, cap::alloc()?, cap::alloc()?, cap::alloc()?);
    sys::create(init_slots::MEMORY, Kind::Endpoint, faults, 0)?;
    sys::create(init_slots::MEMORY, Kind::Notification, deaths, 0)?;
    sys::create(init_slots::MEMORY, Kind::Endpoint, echo, 0)?;
    sys::ntfn_bind(deaths)?;
    Ok((faults, deaths, reply, echo))
}

/// Starts child number `index` with its grants, a death notice (bit `index`) and, if
/// supervised, a fault endpoint badged `index + 1`. Reports a failure and returns false.
fn start(c: &mut Child, index: usize, faults: u64, deaths: u64, echo: u64) -> bool {
    let name = c.launch.name;
    let priority = c.launch.priority.unwrap_or(PRIORITY_DEFAULT);
    let extra = POLICY.iter().find(|(n, _)| *n == name).map_or(&[][..], |(_, e)| e);
    let policy = extra.iter().map(|(what, to, rights)| {
        let from = match what {
            Extra::Cap(s) => *s,
            Extra::Echo => echo,
        };
        Grant::new(from, *to, *rights)
    });
    let grants: Vec<Grant> = GRANTS.into_iter().chain(policy).collect();
    let supervised = c.supervised;
    let made = cap::spawn_with(name, &c.args, priority, &grants, |slot| {
        cap::with_badged(deaths, 1 << index, |b| sys::process_notify_exit(slot, b))?;
        if supervised {
            cap::with_badged(faults, index as u64 + 1, |b| sys::process_set_fault(slot, b))?;
        }
        Ok(())
    });
    match made {
        Ok(child) => {
            println!("init: started '{name}' (pid {}, priority {priority})", child.pid);
            c.slot = child.slot;
            true
        }
        Err(e) => {
            println!("init: cannot start '{name}': {e}");
            false
        }
    }
}
