//! The programs init starts, and exactly what each is given: for a program of the system
//! description, what its line grants, in the slots `ipc::system::slots` names; for an ad-hoc
//! program of a `run=` word, a copy of init's Memory and Archive capabilities, nothing more.

use alloc::string::String;
use alloc::vec::Vec;
use ipc::cap::{init_slots, Kind, Rights, Slot, SELF};
use ipc::system::{self, slots, Program, ProgramNumber, Restart};
use ipc::Error;
use rt::cap::{self, Grant};
use rt::{ipc, sys};

/// What a program of the description is given, made once and kept by init, so that a
/// restarted instance gets the very same objects (its clients' capabilities stay good).
pub struct Described {
    pub number: ProgramNumber,
    /// Whether it may use init's own service.
    pub uses_init: bool,
    /// Its Memory quota (init keeps the original).
    memory: Slot,
    /// The endpoint it serves, if it provides services (init keeps the original).
    pub service: Option<Slot>,
    pub provides: Vec<String>,
    grants: Vec<Grant>,
}

pub enum Origin {
    Described(Described),
    AdHoc,
}

pub struct Child {
    pub name: String,
    /// Start arguments, space-separated.
    pub args: String,
    pub priority: u8,
    pub kind: Origin,
    pub restart: Option<Restart>,
    /// The slot of its Process capability while it runs, and its process id.
    pub process: Slot,
    pub pid: u64,
    pub restarts: u32,
}

impl Child {
    pub fn ad_hoc(name: &str, args: String, priority: u8) -> Child {
        Child { name: name.into(), args, priority, kind: Origin::AdHoc, restart: None, process: 0, pid: 0, restarts: 0 }
    }

    /// A program of the description, with every object it will be given made now. `name`
    /// is the name server's endpoint (None: the system has no name server, or this is it).
    pub fn described(p: &Program, number: ProgramNumber, name: Option<Slot>) -> Result<Child, Error> {
        let memory = cap::create(Kind::Memory, p.memory)?;
        let service = if p.provides.is_empty() { None } else { Some(cap::create(Kind::Endpoint, 0)?) };
        let mut grants = Vec::new();
        grants.push(Grant::new(memory, slots::MEMORY, Rights::ALL));
        if let Some(rights) = p.archive.rights() {
            grants.push(Grant::new(init_slots::ARCHIVE, slots::ARCHIVE, rights));
        }
        if let Some(name) = name.filter(|_| !p.uses.is_empty() || !p.provides.is_empty()) {
            let badged = cap::alloc()?;
            let rights = Rights::WRITE.union(Rights::GRANT);
            sys::cap_mint(name, badged, rights, system::badge(number, 0), SELF)?;
            grants.push(Grant::new(badged, slots::NAME, rights));
        }
        if let Some(service) = service {
            grants.push(Grant::new(service, slots::SERVICE, Rights::READ));
        }
        for (i, (first, last)) in p.ports.port_ranges().enumerate() {
            let ports = cap::alloc()?;
            sys::io_ports_derive(init_slots::IOPORTS, first, last, ports, init_slots::MEMORY)?;
            grants.push(Grant::new(ports, slots::IOPORTS_FIRST + i as Slot, Rights::ALL));
        }
        if p.store > 0 {
            // Paid from its own quota, kept by init, the same Frame for every instance.
            let store = cap::alloc()?;
            sys::create(memory, Kind::Frame, store, p.store / ipc::layout::PAGE_SIZE)?;
            grants.push(Grant::new(store, slots::STORE, Rights::READ.union(Rights::WRITE)));
        }
        if p.introspect {
            grants.push(Grant::new(init_slots::INTROSPECT, slots::INTROSPECT, Rights::READ));
        }
        for (i, line) in p.irqs.lines().enumerate() {
            grants.push(Grant::new(init_slots::IRQ_FIRST + u64::from(line), slots::IRQ_FIRST + i as Slot, Rights::ALL));
        }
        let described = Described {
            number,
            uses_init: p.uses.contains(system::INIT_SERVICE),
            memory,
            service,
            provides: p.provides.items().map(String::from).collect(),
            grants,
        };
        Ok(Child {
            name: p.name.into(),
            args: p.args.replace(':', " "),
            priority: p.priority,
            kind: Origin::Described(described),
            restart: p.restart,
            process: 0,
            pid: 0,
            restarts: 0,
        })
    }

    pub fn is_supervised(&self) -> bool {
        self.restart.is_some()
    }

    /// Starts it as child number `index`: its grants, a death notice (bit `index` of
    /// `deaths`) and, if supervised, `faults` badged `index + 1` as its fault endpoint.
    pub fn start(&mut self, index: usize, faults: Slot, deaths: Slot) -> Result<u64, Error> {
        let adhoc = [
            Grant::new(init_slots::MEMORY, init_slots::MEMORY, Rights::ALL),
            Grant::new(init_slots::ARCHIVE, init_slots::ARCHIVE, Rights::ALL),
        ];
        let (grants, memory) = match &self.kind {
            Origin::Described(d) => (&d.grants[..], d.memory),
            Origin::AdHoc => (&adhoc[..], init_slots::MEMORY),
        };
        let supervised = self.is_supervised();
        let made = cap::spawn_from(memory, &self.name, &self.args, self.priority, grants, |slot| {
            cap::with_badged(deaths, 1 << index, |b| sys::process_notify_exit(slot, b))?;
            if supervised {
                cap::with_badged(faults, index as u64 + 1, |b| sys::process_set_fault(slot, b))?;
            }
            Ok(())
        })?;
        self.process = made.slot;
        self.pid = made.pid;
        Ok(made.pid)
    }
}
