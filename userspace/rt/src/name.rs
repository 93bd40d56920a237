//! The client side of the name server (`ipc::proto::name`): look up a service, register one,
//! list the registered names, watch a name. A program of the system description reaches the
//! name server through slot `ipc::system::slots::NAME` ([`NameServer::GIVEN`]).

use crate::cap;
use crate::sys::{self, Msg};
use ipc::cap::Slot;
use ipc::proto::name::{self as proto, Name, NameError, Request};
use ipc::system::slots;

/// Why a request to the name server failed.
pub type Failed = crate::Failed<NameError>;

impl From<NameError> for Failed {
    fn from(e: NameError) -> Self {
        Failed::Server(e)
    }
}

fn name(text: &str) -> Result<Name, Failed> {
    Name::new(text).ok_or(Failed::Server(NameError::BadRequest))
}

/// The name server, reached through an endpoint capability.
#[derive(Clone, Copy, Debug)]
pub struct NameServer(pub Slot);

impl NameServer {
    /// The name server as a program of the system description reaches it.
    pub const GIVEN: NameServer = NameServer(slots::NAME);

    fn call(self, request: Request) -> Result<ipc::proto::Message, Failed> {
        let answer = sys::call_ep(self.0, &Msg::from_proto(&request.encode()))?;
        answer.proto().ok_or(Failed::Server(NameError::BadRequest))
    }

    /// A capability to the service registered as `service`, in a fresh slot, and the
    /// name's generation.
    pub fn lookup(self, service: &str) -> Result<(Slot, u64), Failed> {
        let request = Request::Lookup(name(service)?);
        let slot = cap::alloc()?;
        cap::set_recv_slot(0, slot);
        let answer = self.call(request);
        // No later message may put a capability in the slot, which may be given back.
        cap::set_recv_slot(0, Slot::MAX);
        let answer = answer.inspect_err(|_| cap::free(slot))?;
        match proto::read_generation(&answer) {
            Ok(generation) if answer.caps == 1 => Ok((slot, generation)),
            other => {
                cap::free(slot);
                Err(other.err().unwrap_or(NameError::BadRequest).into())
            }
        }
    }

    /// Registers the endpoint in slot `endpoint` as `service`; returns the name's generation.
    pub fn register(self, service: &str, endpoint: Slot) -> Result<u64, Failed> {
        let request = Request::Register(name(service)?);
        cap::set_send_cap(0, endpoint);
        Ok(proto::read_generation(&self.call(request)?)?)
    }

    /// The `index`th registered name and its generation; None past the last.
    pub fn list(self, index: u64) -> Result<Option<(Name, u64)>, Failed> {
        Ok(proto::read_entry(&self.call(Request::List(index))?)?)
    }

    /// Has the notification in slot `notification` signalled whenever `service` is
    /// registered; returns its generation now (0: not registered yet).
    pub fn watch(self, service: &str, notification: Slot) -> Result<u64, Failed> {
        let request = Request::Watch(name(service)?);
        cap::set_send_cap(0, notification);
        Ok(proto::read_generation(&self.call(request)?)?)
    }
}

/// How long [`lookup`] waits for a name to be registered (again), in ticks.
const PATIENCE_TICKS: u64 = 200;

/// [`NameServer::lookup`] through the name server this program was given, waiting a while
/// for a name that is not registered yet ([`NameError::NotYet`]) and trying again when the
/// name server dies under the call: both happen while the name server or the service's
/// provider is started again.
pub fn lookup(service: &str) -> Result<(Slot, u64), Failed> {
    let mut waited = 0;
    loop {
        match NameServer::GIVEN.lookup(service) {
            Err(Failed::Server(NameError::NotYet) | Failed::Kernel(ipc::Error::ObjectGone))
                if waited < PATIENCE_TICKS =>
            {
                sys::sleep(1);
                waited += 1;
            }
            other => return other,
        }
    }
}
