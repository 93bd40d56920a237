//! The registrar: a thread of init that registers names with the name server, at boot and
//! while init supervises. A registration is a call, and the name server may die in the middle
//! of it, or before it takes it; init, which would start the name server again, must not be
//! the one waiting. Init queues each registration (the name and a copy of the endpoint) and
//! signals the registrar, which makes the calls in order. A call to a dead name server waits
//! in its endpoint's queue (init keeps the endpoint) for the next one, or fails with it;
//! either way init registers every name again when it restarts the name server.

use alloc::collections::VecDeque;
use alloc::string::String;
use ipc::cap::{Kind, Slot};
use rt::name::NameServer;
use rt::thread::Mutex;
use rt::{cap, ipc, println, sys};

/// A name to register and the slot of the endpoint copy to register under it (the
/// registrar's to release).
struct Job {
    service: String,
    endpoint: Slot,
}

/// Registrations not made yet, oldest first.
static QUEUE: Mutex<VecDeque<Job>> = Mutex::new(VecDeque::new());

/// Init's side of the registrar: where to signal work.
pub struct Registrar {
    work: Slot,
}

impl Registrar {
    /// Starts the registrar thread, registering with `name`.
    pub fn start(name: NameServer) -> Result<Registrar, ipc::Error> {
        let work = cap::create(Kind::Notification, 0)?;
        match rt::thread::spawn(move || serve(name, work)) {
            // The thread runs for as long as init does; it is never joined.
            Ok(_) => {}
            Err(e) => {
                cap::release(work);
                return Err(e);
            }
        }
        Ok(Registrar { work })
    }

    /// Queues `endpoint` (a slot the registrar then owns) to be registered as `service`.
    pub fn register(&self, service: &str, endpoint: Slot) {
        QUEUE.lock().push_back(Job { service: service.into(), endpoint });
        let _ = sys::signal(self.work);
    }
}

fn serve(name: NameServer, work: Slot) {
    loop {
        if sys::ntfn_wait(work).is_err() {
            return;
        }
        loop {
            // The lock is let go before the call, which may wait for a name server to start.
            let next = QUEUE.lock().pop_front();
            let Some(job) = next else { break };
            let sent = name.register(&job.service, job.endpoint);
            cap::release(job.endpoint);
            if let Err(e) = sent {
                println!("init: cannot register '{}': {e}", job.service);
            }
        }
    }
}
