//! The kernel's objects, as the capability system holds them. What each kind must do when
//! its last reference goes is `task::table::Tasks::dispose`.

use crate::cap::{self, ObjId};
use crate::ipc::{Endpoint, Notification};
use crate::sched::Tid;
use alloc::vec::Vec;
use ipc::cap::{Badge, Kind};

/// What an object cost the Memory object it was made from; given back when it is freed.
#[derive(Clone, Copy, Debug)]
pub struct Charge {
    pub memory: ObjId,
    pub bytes: u64,
}

pub enum Object {
    Endpoint(Endpoint, Charge),
    Notification(Notification, Charge),
    /// The right to answer one call: `caller` waits for the answer until it is given (or the
    /// caller is gone).
    Reply {
        caller: Option<Tid>,
    },
    /// A handle on a process, by id. The process lives on if every handle goes.
    Process(u64),
    /// Physical pages, zeroed at creation, that processes map.
    Frame {
        pages: Vec<u64>,
        charge: Charge,
    },
    /// I/O ports `first..=last`; a range derived from another is charged, the initial one
    /// is not.
    IoPorts {
        first: u16,
        last: u16,
        charge: Option<Charge>,
    },
    /// An interrupt line and the notification (with badge) it signals, once bound.
    Irq {
        line: u8,
        bound: Option<(ObjId, Badge)>,
    },
    /// A quota of `limit` bytes, `used` of it by objects made from it; a split of a parent's
    /// quota, `(parent, bytes)`, unless it is the root.
    Memory {
        limit: u64,
        used: u64,
        parent: Option<(ObjId, u64)>,
    },
    /// The boot archive.
    Archive,
    /// The right to look at every process and capability space.
    Introspect,
    /// A thread, by id and serial number: ids are reused, serials never, so a capability to
    /// an ended thread names nothing even once its id is another thread's.
    Thread {
        tid: Tid,
        serial: u64,
    },
}

impl cap::Object for Object {
    fn kind(&self) -> Kind {
        match self {
            Object::Endpoint(..) => Kind::Endpoint,
            Object::Notification(..) => Kind::Notification,
            Object::Reply { .. } => Kind::Reply,
            Object::Process(_) => Kind::Process,
            Object::Frame { .. } => Kind::Frame,
            Object::IoPorts { .. } => Kind::IoPorts,
            Object::Irq { .. } => Kind::Irq,
            Object::Memory { .. } => Kind::Memory,
            Object::Archive => Kind::Archive,
            Object::Introspect => Kind::Introspect,
            Object::Thread { .. } => Kind::Thread,
        }
    }
}
