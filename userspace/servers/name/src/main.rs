//! `name`, the name server: it keeps service names and the endpoint capability behind each,
//! and hands out capabilities to them, as the system description allows (`ipc::proto::name`).
//!
//! It reads the description from the boot archive (`archive = "read"`), so it knows every
//! program by its number, the number in the badge of each capability to it: a program may
//! register only the names it `provides`, and look up or watch only those it `uses`. Badge 0
//! is init, which registers every service at start and after each restart, and may do
//! anything. A lookup gets a copy of the service's endpoint badged with the caller's number
//! and the name's place among its provider's names, so servers know who calls them.
//!
//! `fault-once-at NAME`, for a name server given a store, is a test hook: the first time in the
//! life of the store that it is asked to register NAME, it faults instead of answering, as a
//! name server with a bug would in the midst of init's registrations. The store remembers, so
//! the instance init starts again registers NAME like any other.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use ipc::cap::{Rights, Slot, SELF};
use ipc::proto::name::{self as proto, Name, NameError, Request};
use ipc::proto::Message;
use ipc::syscall::REPLY_IN_THREAD;
use ipc::system::{self, slots, ProgramNumber};
use rt::cap;
use rt::sys::{self, Msg};
use rt::{ipc, println};

rt::main!(main);

/// What the description says of one program.
struct Program {
    uses: Vec<Name>,
    provides: Vec<Name>,
}

/// A name, registered or only watched so far.
struct Entry {
    name: Name,
    /// The slot of the endpoint registered under it (None: watched, never registered).
    endpoint: Option<Slot>,
    /// Which program provides it, and the name's place among that program's names.
    provider: ProgramNumber,
    service: u8,
    generation: u64,
    /// Notifications to signal when it is registered.
    watchers: Vec<Slot>,
}

struct Server {
    /// Program `n` of the description is `programs[n - 1]`.
    programs: Vec<Program>,
    entries: Vec<Entry>,
}

fn main(args: rt::Args) -> u64 {
    let mut fault_once = match FaultOnce::from_args(&args) {
        Ok(f) => f,
        Err(e) => {
            println!("name: {e}");
            return 1;
        }
    };
    let programs = match read_description() {
        Ok(p) => p,
        Err(e) => {
            println!("name: cannot read the system description: {e}");
            return 1;
        }
    };
    let mut server = Server { programs, entries: Vec::new() };
    // Every answer is given before the next request is taken: the thread keeps it, no slot.
    let (reply, incoming) = (REPLY_IN_THREAD, cap::alloc().expect("slot"));
    let mut answer: Option<Message> = None;
    // The lookup answer's copy of an endpoint, deleted once the answer has gone.
    let mut sent: Option<Slot> = None;
    loop {
        cap::set_recv_slot(0, incoming);
        let owed = answer.take().map(|a| Msg::from_proto(&a));
        let received = sys::next_request(slots::SERVICE, reply, owed.as_ref());
        if let Some(slot) = sent.take() {
            cap::release(slot);
        }
        let m = match received {
            Ok(m) => m,
            Err(e) => {
                println!("name: receive failed: {e}");
                return 1;
            }
        };
        let Some(request) = m.proto() else { continue };
        let result = match (system::caller(m.badge), Request::decode(&request)) {
            (None, _) => Err(NameError::Denied),
            (_, Err(e)) => Err(e),
            (Some(client), Ok(r)) => {
                if let (Request::Register(name), Some(f)) = (&r, fault_once.as_mut()) {
                    f.on_register(name);
                }
                server.handle(client, r, incoming)
            }
        };
        // A capability the request carried and the server did not keep goes.
        if request.caps > 0 && sys::cap_inspect(incoming).is_ok() {
            let _ = sys::cap_delete(incoming);
        }
        answer = Some(match result {
            Ok(Answer::Message(m)) => m,
            Ok(Answer::Endpoint(slot, generation)) => {
                cap::set_send_cap(0, slot);
                sent = Some(slot);
                proto::generation(generation, 1)
            }
            Err(e) => proto::refuse(e),
        });
    }
}

/// The `fault-once-at` hook: the name, and the store's first byte, set once it has faulted.
struct FaultOnce {
    name: Name,
    done: &'static mut u8,
}

impl FaultOnce {
    fn from_args(args: &rt::Args) -> Result<Option<FaultOnce>, &'static str> {
        let mut words = args.words();
        if words.next() != Some("fault-once-at") {
            return Ok(None);
        }
        let name = words.next().and_then(Name::new).ok_or("fault-once-at: which name?")?;
        let store = rt::store::map().map_err(|_| "fault-once-at needs a store")?;
        let done = store.first_mut().ok_or("fault-once-at: the store is empty")?;
        Ok(Some(FaultOnce { name, done }))
    }

    /// Faults if `name` is the hook's and it has not faulted before.
    fn on_register(&mut self, name: &Name) {
        if *name != self.name || *self.done != 0 {
            return;
        }
        *self.done = 1;
        println!("name: faulting at the registration of '{}', as asked", name.as_str());
        // SAFETY: `ud2` only raises an invalid-opcode exception: the kernel stops this process
        // there and tells its supervisor, and nothing of this program runs after it.
        unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    }
}

enum Answer {
    Message(Message),
    /// A capability in the slot, to send with the generation.
    Endpoint(Slot, u64),
}

/// The capability a request carried, moved from the receive slot to a slot of its own.
fn take(incoming: Slot) -> Result<Slot, NameError> {
    let slot = cap::alloc().map_err(|_| NameError::Full)?;
    sys::cap_move(incoming, slot, SELF).inspect_err(|_| cap::free(slot)).map_err(|_| NameError::NoCapability)?;
    Ok(slot)
}

fn read_description() -> Result<Vec<Program>, &'static str> {
    let text = rt::system::description()?;
    let names = |list: system::List| list.items().filter_map(Name::new).collect();
    let programs = system::programs(&text).flatten();
    Ok(programs.map(|p| Program { uses: names(p.uses), provides: names(p.provides) }).collect())
}

impl Server {
    fn program(&self, n: ProgramNumber) -> Option<&Program> {
        self.programs.get(usize::from(n).checked_sub(1)?)
    }

    /// Whether `client` may look up or watch `name`.
    fn may_use(&self, client: ProgramNumber, name: &Name) -> bool {
        client == 0 || self.program(client).is_some_and(|p| p.uses.contains(name))
    }

    /// The program that provides `name`, and the name's place among its names (init, 0, for
    /// its own service).
    fn provider(&self, name: &Name) -> Option<(ProgramNumber, u8)> {
        if name.as_str() == system::INIT_SERVICE {
            return Some((0, 0));
        }
        self.programs.iter().enumerate().find_map(|(i, p)| {
            let place = p.provides.iter().position(|n| n == name)?;
            Some((i as ProgramNumber + 1, place as u8))
        })
    }

    fn entry(&mut self, name: &Name) -> Result<&mut Entry, NameError> {
        if let Some(i) = self.entries.iter().position(|e| e.name == *name) {
            return Ok(&mut self.entries[i]);
        }
        let (provider, service) = self.provider(name).ok_or(NameError::NotFound)?;
        self.entries.push(Entry {
            name: *name,
            endpoint: None,
            provider,
            service,
            generation: 0,
            watchers: Vec::new(),
        });
        Ok(self.entries.last_mut().expect("just pushed"))
    }

    fn handle(&mut self, client: ProgramNumber, request: Request, incoming: Slot) -> Result<Answer, NameError> {
        match request {
            Request::Register(name) => {
                let entry = self.entry(&name).map_err(|_| NameError::Denied)?;
                if client != 0 && client != entry.provider {
                    return Err(NameError::Denied);
                }
                let slot = take(incoming)?;
                if let Some(old) = entry.endpoint.replace(slot) {
                    cap::release(old);
                }
                entry.generation += 1;
                for &w in &entry.watchers {
                    let _ = sys::signal(w);
                }
                Ok(Answer::Message(proto::generation(entry.generation, 0)))
            }
            Request::Lookup(name) => {
                if !self.may_use(client, &name) {
                    return Err(NameError::Denied);
                }
                let entry = self.entry(&name)?;
                let endpoint = entry.endpoint.ok_or(NameError::NotYet)?;
                let copy = cap::alloc().map_err(|_| NameError::Full)?;
                let rights = Rights::WRITE.union(Rights::GRANT);
                let badge = system::badge(client, entry.service);
                // A server that registered a badged capability keeps its badge.
                let made = sys::cap_mint(endpoint, copy, rights, badge, SELF)
                    .or_else(|_| sys::cap_copy(endpoint, copy, rights, SELF));
                if made.is_err() {
                    cap::free(copy);
                    return Err(NameError::NotFound);
                }
                Ok(Answer::Endpoint(copy, entry.generation))
            }
            Request::List(index) => {
                let registered = self.entries.iter().filter(|e| e.endpoint.is_some());
                let e =
                    registered.clone().nth(usize::try_from(index).unwrap_or(usize::MAX)).ok_or(NameError::NotFound)?;
                Ok(Answer::Message(proto::entry(e.name, e.generation)))
            }
            Request::Watch(name) => {
                if !self.may_use(client, &name) {
                    return Err(NameError::Denied);
                }
                let entry = self.entry(&name)?;
                entry.watchers.push(take(incoming)?);
                Ok(Answer::Message(proto::generation(entry.generation, 0)))
            }
        }
    }
}
