//! Binders as a program holds them: [`SpIBinder`] (a proxy for a handle, or one of its own
//! binders), what its own binders implement ([`Service`]), and who hears of a death
//! ([`DeathRecipient`]).

use super::Process;
use crate::codes::{INTERFACE, PING};
use crate::{Binder, Parcel, StatusCode};
use alloc::rc::Rc;
use alloc::string::String;

/// One of this program's binders: what it is and how it answers (libbinder's `BBinder`).
/// PING and INTERFACE are answered for it.
pub trait Service {
    /// Its interface descriptor, e.g. `"com.example.IWeatherListener"`.
    fn descriptor(&self) -> &str;

    /// Answers transaction `code`: reads its arguments from `data` (after the interface
    /// token the caller wrote) and writes the reply into `reply`. An error status goes back
    /// to the caller as the call's result.
    fn on_transact(&self, call: &Call, code: u32, data: &mut Parcel, reply: &mut Parcel) -> Result<(), StatusCode>;
}

/// The transaction a [`Service`] is executing: its flags, and the process, which knows the
/// caller (`calling_uid`, `calling_pid`) and reads binders from `data`.
pub struct Call<'a> {
    pub process: &'a Rc<Process>,
    pub flags: u32,
}

/// Told once when a binder it is linked to dies (its process ended).
pub trait DeathRecipient {
    fn binder_died(&self);
}

impl<F: Fn()> DeathRecipient for F {
    fn binder_died(&self) {
        self()
    }
}

pub(super) enum Node {
    Remote { handle: u32, process: Rc<Process> },
    Local { ptr: u64, service: Rc<dyn Service>, process: Rc<Process> },
}

/// A binder: a proxy for another program's (or compat's), or one of this program's own.
/// Clones share one proxy; compat's reference is released once none is left.
#[derive(Clone)]
pub struct SpIBinder(pub(super) Rc<Node>);

impl SpIBinder {
    pub(super) fn from_node(node: Node) -> SpIBinder {
        SpIBinder(Rc::new(node))
    }

    /// How to write it into a Parcel: `p.write_strong_binder(Some(b.as_binder()))`.
    pub fn as_binder(&self) -> Binder {
        match &*self.0 {
            Node::Remote { handle, .. } => Binder::Handle(*handle),
            Node::Local { ptr, .. } => Binder::Local { ptr: *ptr, cookie: *ptr },
        }
    }

    /// The handle of a proxy; None for one of this program's own binders.
    pub fn handle(&self) -> Option<u32> {
        match &*self.0 {
            Node::Remote { handle, .. } => Some(*handle),
            Node::Local { .. } => None,
        }
    }

    pub fn process(&self) -> &Rc<Process> {
        match &*self.0 {
            Node::Remote { process, .. } | Node::Local { process, .. } => process,
        }
    }

    /// Sends transaction `code` with `data` and returns the reply (for `FLAG_ONEWAY`, an
    /// empty Parcel once compat has queued it). To one of this program's own binders, the
    /// call is made directly, as libbinder does.
    pub fn transact(&self, code: u32, data: &Parcel, flags: u32) -> Result<Parcel, StatusCode> {
        match &*self.0 {
            Node::Remote { handle, process } => process.transact(*handle, code, data, flags),
            Node::Local { service, process, .. } => {
                let mut reply = process.parcel();
                let mut data = data.clone();
                match code {
                    PING => {}
                    INTERFACE => reply.write_string16(Some(service.descriptor())),
                    _ => service.on_transact(&Call { process, flags }, code, &mut data, &mut reply)?,
                }
                reply.set_data_position(0);
                Ok(reply)
            }
        }
    }

    /// PING_TRANSACTION: whether it is alive.
    pub fn ping(&self) -> Result<(), StatusCode> {
        let data = self.process().parcel();
        self.transact(PING, &data, 0).map(drop)
    }

    /// INTERFACE_TRANSACTION: its interface descriptor.
    pub fn interface_descriptor(&self) -> Result<String, StatusCode> {
        let data = self.process().parcel();
        let mut reply = self.transact(INTERFACE, &data, 0)?;
        reply.read_string16().ok().flatten().ok_or(StatusCode::BadValue)
    }

    /// Asks to be told when it dies; at once if it is dead already. One of this program's
    /// own binders never dies while the program runs: nothing to link.
    pub fn link_to_death(&self, recipient: Rc<dyn DeathRecipient>) -> Result<(), StatusCode> {
        match &*self.0 {
            Node::Remote { handle, process } => process.link(*handle, recipient),
            Node::Local { .. } => Err(StatusCode::InvalidOperation),
        }
    }

    /// Stops `recipient` being told (the same `Rc` that was linked).
    pub fn unlink_to_death(&self, recipient: &Rc<dyn DeathRecipient>) -> Result<(), StatusCode> {
        match &*self.0 {
            Node::Remote { handle, process } => process.unlink(*handle, recipient),
            Node::Local { .. } => Err(StatusCode::InvalidOperation),
        }
    }
}

impl PartialEq for SpIBinder {
    fn eq(&self, other: &SpIBinder) -> bool {
        self.as_binder() == other.as_binder()
    }
}

impl core::fmt::Debug for SpIBinder {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "SpIBinder({:?})", self.as_binder())
    }
}
