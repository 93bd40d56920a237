//! `init`, the first process. It holds every initial capability (all memory, the boot
//! archive, all I/O ports, every interrupt line) and builds the system: the programs of the
//! system description (`etc/system` in the boot archive, compiled by `cargo xtask` from a
//! TOML file), in their start order, each given exactly what its line grants
//! (`child.rs`), then the ad-hoc programs of `run=` words (passed to init as arguments),
//! each given a copy of init's Memory and Archive capabilities.
//!
//! It keeps the original of every object it hands out, so an endpoint outlives the server
//! behind it, and registers each service with the name server. Then it supervises: each
//! child's end signals a bit of a notification bound to init's thread, and the faults of
//! supervised children arrive as messages on init's endpoint; a supervised program that
//! faults or ends is started again (with the same objects, its names registered again) up to
//! its restart limit. The same endpoint serves init's own service (`ipc::proto::init`) to the
//! programs that use it: the list of children, and ending or restarting one by name. With
//! `exit_when_done` on the command line, once every unsupervised program has ended, init ends
//! the supervised ones and exits (with no unsupervised program, once all have ended).
//!
//! Init never waits for a server: registrations, at boot and after each restart, are made by a
//! thread of its own (`registrar.rs`), so that a name server that dies while a registration
//! waits on it cannot stop init from starting it again. (At boot the name server's death
//! would otherwise leave init waiting for ever in its endpoint's queue, with nobody left to
//! start it.)
#![no_std]
#![no_main]

extern crate alloc;

mod child;
mod registrar;
mod serve;

use alloc::string::String;
use alloc::vec::Vec;
use child::{Child, Origin};
use ipc::boot::{CmdLine, Launch, CMDLINE_PATH, KEY_EXIT_WHEN_DONE};
use ipc::cap::{init_slots, Kind, Rights, Slot, SELF};
use ipc::msg::{FaultWord, LABEL_FAULT, LABEL_NOTIFICATION};
use ipc::syscall::{ExitStatus, PRIORITY_DEFAULT};
use ipc::system::{self, INIT_SERVICE, NAME_SERVICE, SYSTEM_PATH};
use rt::name::NameServer;
use rt::sys::Msg;
use rt::{cap, ipc, println, sys};

rt::main!(main);

/// At most this many programs: each has a bit in the death-notice word.
const CHILDREN_MAX: usize = 64;

fn main(args: rt::Args) -> u64 {
    let description = match cap::read_file(init_slots::ARCHIVE, SYSTEM_PATH) {
        Ok(bytes) => Some(bytes),
        Err(ipc::Error::NotFound) => None,
        Err(e) => {
            println!("init: cannot read {SYSTEM_PATH}: {e}");
            None
        }
    };
    if description.is_none() && args.as_str().is_empty() {
        let (ticks, hz) = sys::ticks();
        let (free_frames, heap) = sys::mem_stats();
        println!("hello from user space: pid {}, {} ms after boot", args.pid, ticks * 1000 / hz);
        println!("{} MiB free, kernel heap {} KiB in use", (free_frames * 4096) >> 20, heap >> 10);
        return 0;
    }
    let exit_when_done = cap::read_file(init_slots::ARCHIVE, CMDLINE_PATH)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|line| CmdLine::new(&line).has(KEY_EXIT_WHEN_DONE));
    let Ok((faults, deaths, reply, incoming)) = setup() else {
        println!("init: cannot make its endpoint and notification");
        return 1;
    };
    let mut init = Init {
        children: Vec::new(),
        name: None,
        registrar: None,
        faults,
        deaths,
        alive: 0,
        noticed: 0,
        watchers: Vec::new(),
    };
    if let Some(bytes) = &description {
        if let Err(e) = init.describe(bytes) {
            println!("init: the system description: {e}");
            return 1;
        }
    }
    for word in args.words() {
        match Launch::parse(word) {
            Ok(l) => {
                let args = l.args().collect::<Vec<_>>().join(" ");
                init.add(Child::ad_hoc(l.name, args, l.priority.unwrap_or(PRIORITY_DEFAULT)));
            }
            Err(e) => println!("init: run={word}: {e}"),
        }
    }
    // From here on init never waits for the name server: a thread of its own registers names.
    init.registrar = init.name.and_then(|name| {
        registrar::Registrar::start(name)
            .inspect_err(|e| println!("init: no registrar thread ({e}); registering names itself"))
            .ok()
    });
    for i in 0..init.children.len() {
        if init.start(i) {
            init.alive |= 1 << i;
        }
    }
    init.supervise(reply, incoming, exit_when_done)
}

/// The endpoint for faults and init's service, the death-notice notification (bound to
/// init's thread), the slot for reply capabilities, and the slots for the capabilities a
/// request carries.
fn setup() -> Result<(Slot, Slot, Slot, [Slot; 2]), ipc::Error> {
    let faults = cap::create(Kind::Endpoint, 0)?;
    let deaths = cap::create(Kind::Notification, 0)?;
    sys::ntfn_bind(deaths)?;
    Ok((faults, deaths, cap::alloc()?, [cap::alloc()?, cap::alloc()?]))
}

struct Init {
    children: Vec<Child>,
    /// The name server's endpoint (init's original), once the description has one.
    name: Option<NameServer>,
    /// The thread that registers names (None: there is no name server, or no thread could be
    /// made and init registers them itself).
    registrar: Option<registrar::Registrar>,
    faults: Slot,
    deaths: Slot,
    /// A bit per child that runs.
    alive: u64,
    /// Death notices taken while doing something else, not handled yet.
    noticed: u64,
    /// The programs that asked to hear of every child's end (`WATCH`).
    watchers: Vec<serve::Watcher>,
}

impl Init {
    fn add(&mut self, child: Child) {
        if self.children.len() == CHILDREN_MAX {
            println!("init: more than {CHILDREN_MAX} programs; '{}' not started", child.name);
            return;
        }
        self.children.push(child);
    }

    /// Makes every program of the description, with the objects it will be given.
    fn describe(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        let text = core::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
        if let Err(e) = system::check(text) {
            println!("init: {SYSTEM_PATH}: {e}");
            return Err("it breaks the rules");
        }
        for (i, p) in system::programs(text).flatten().enumerate() {
            let number = i as system::ProgramNumber + 1;
            let child = Child::described(&p, number, self.name.map(|n| n.0)).map_err(|_| "out of memory")?;
            if p.provides.contains(NAME_SERVICE) {
                if let Origin::Described(d) = &child.kind {
                    self.name = d.service.map(NameServer);
                }
            }
            self.add(child);
        }
        Ok(())
    }

    /// Registers `endpoint` as `service` with the name server: a copy that may call and pass
    /// capabilities, never receive, so the name server cannot take anyone's messages.
    /// Registration waits for the name server's answer: while init supervises, its
    /// registrar thread waits, not init.
    fn register(&self, service: &str, endpoint: Slot) {
        let Some(name) = self.name else { return };
        let copy = cap::alloc().and_then(|copy| {
            sys::cap_copy(endpoint, copy, Rights::WRITE.union(Rights::GRANT), SELF)
                .map(|()| copy)
                .inspect_err(|_| cap::free(copy))
        });
        let registered = match (copy, &self.registrar) {
            (Err(e), _) => Err(rt::name::Failed::Kernel(e)),
            (Ok(copy), Some(registrar)) => {
                registrar.register(service, copy);
                Ok(())
            }
            (Ok(copy), None) => {
                let sent = name.register(service, copy);
                cap::release(copy);
                sent.map(drop)
            }
        };
        if let Err(e) = registered {
            println!("init: cannot register '{service}': {e}");
        }
    }

    /// Registers the names child `i` provides.
    fn register_child(&self, i: usize) {
        if let Origin::Described(d) = &self.children[i].kind {
            for name in &d.provides {
                if let Some(endpoint) = d.service {
                    self.register(name, endpoint);
                }
            }
        }
    }

    /// Starts child `i`, then registers the names it provides. When it is the name server
    /// (at boot, or after a restart, with an empty table), init's own service and every
    /// running program's names are registered with it. Reports a failure.
    fn start(&mut self, i: usize) -> bool {
        let (faults, deaths) = (self.faults, self.deaths);
        let c = &mut self.children[i];
        match c.start(i, faults, deaths) {
            Ok(pid) => println!("init: started '{}' (pid {pid}, priority {})", c.name, c.priority),
            Err(e) => {
                println!("init: cannot start '{}': {e}", c.name);
                return false;
            }
        }
        self.register_child(i);
        let is_name_server =
            matches!(&self.children[i].kind, Origin::Described(d) if d.provides.iter().any(|n| n == NAME_SERVICE));
        if is_name_server {
            self.register(INIT_SERVICE, self.faults);
            for j in (0..self.children.len()).filter(|&j| j != i && self.alive & 1 << j != 0) {
                self.register_child(j);
            }
        }
        true
    }

    /// Restarts supervised child `i` after its policy's backoff, if it has restarts left.
    fn restart(&mut self, i: usize) -> bool {
        let c = &mut self.children[i];
        let Some(policy) = c.restart else { return false };
        c.restarts += 1;
        if c.restarts > policy.limit {
            println!("init: giving up on '{}'", c.name);
            return false;
        }
        let (_, hz) = sys::ticks();
        sys::sleep((u64::from(policy.backoff_ms) * hz).div_ceil(1000));
        self.start(i)
    }

    /// Ends child `i` and takes back its death notice, which is not news to init (the
    /// watchers are told).
    fn end(&mut self, i: usize) {
        let c = &mut self.children[i];
        let _ = sys::process_kill(c.process);
        cap::release(c.process);
        self.noticed |= sys::poll(self.deaths).unwrap_or(0) & !(1 << i);
        self.alive &= !(1 << i);
        self.announce(i);
    }

    fn supervise(&mut self, reply: Slot, incoming: [Slot; 2], exit_when_done: bool) -> u64 {
        let supervised: u64 =
            (0..self.children.len()).filter(|&i| self.children[i].is_supervised()).fold(0, |m, i| m | 1 << i);
        // A run to completion ends when its unsupervised programs have (the supervised ones
        // are the system they ran on); with none, when everything has.
        let any_unsupervised = self.children.len() > supervised.count_ones() as usize;
        loop {
            let ended = core::mem::take(&mut self.noticed) & self.alive;
            for i in (0..self.children.len()).filter(|i| ended & 1 << i != 0) {
                self.report(i);
                self.announce(i);
                self.alive &= !(1 << i);
                if self.children[i].is_supervised() && self.restart(i) {
                    self.alive |= 1 << i;
                }
            }
            let finished = match exit_when_done && any_unsupervised {
                true => self.alive & !supervised == 0,
                false => self.alive == 0,
            };
            if finished {
                break;
            }
            for (i, &slot) in incoming.iter().enumerate() {
                cap::set_recv_slot(i, slot);
            }
            let m = match sys::recv(self.faults, reply) {
                Ok(m) => m,
                Err(e) => {
                    println!("init: receive failed: {e}");
                    return 1;
                }
            };
            match (m.label(), system::unbadge(m.badge)) {
                (LABEL_NOTIFICATION, _) => self.noticed |= m.badge,
                (LABEL_FAULT, None) => self.faulted(&m),
                (_, Some((client, _))) => {
                    let answer = m.proto().map_or(serve::refused(), |request| self.serve(client, &request, incoming));
                    let _ = sys::send(reply, &Msg::from_proto(&answer));
                    // What a request carried and init did not keep.
                    for slot in incoming {
                        if sys::cap_inspect(slot).is_ok() {
                            let _ = sys::cap_delete(slot);
                        }
                    }
                }
                _ => {}
            }
        }
        let alive = self.alive;
        for i in (0..self.children.len()).filter(|i| alive & 1 << i != 0) {
            self.end(i);
        }
        0
    }

    /// A supervised child's fault message: end it and start it again.
    fn faulted(&mut self, m: &Msg) {
        let i = m.badge as usize - 1;
        let Some(c) = self.children.get(i) else { return };
        println!(
            "init: '{}' faulted (vector {}, address {:#x}); restarting it",
            c.name,
            m.words[FaultWord::Vector as usize],
            m.words[FaultWord::Address as usize]
        );
        self.end(i);
        if self.restart(i) {
            self.alive |= 1 << i;
        }
    }

    /// Says how child `i` ended, unless it exited with 0, and lets its handle go.
    fn report(&self, i: usize) {
        let c = &self.children[i];
        match sys::wait(c.process) {
            Ok(ExitStatus::Exited(0)) => {}
            Ok(status) => println!("init: '{}' ended: {status:?}", c.name),
            Err(e) => println!("init: waiting for '{}': {e}", c.name),
        }
        cap::release(c.process);
    }
}
