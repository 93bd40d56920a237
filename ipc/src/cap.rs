//! Capabilities as user space sees them: slots, object kinds, rights and badges.
//!
//! A process names a capability by its slot index in its own capability space (CSpace). A
//! capability is (object, rights, badge): the object is what it reaches, the rights say what
//! the holder may do with it, the badge is a number the holder cannot change that the object's
//! server sees on every message sent through it.

use crate::Error;

/// A slot index in a capability space.
pub type Slot = u64;

/// Slots a capability space has: `0..CSPACE_SLOTS`.
pub const CSPACE_SLOTS: u64 = 256;

/// The target of a capability operation that names a capability space: the caller's own, or
/// (any other value) the slot of a Process capability whose space is meant.
pub const SELF: u64 = u64::MAX;

/// What a capability reaches. Numbers are stable ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Kind {
    /// A rendezvous point for synchronous messages.
    Endpoint = 1,
    /// A word of signal bits; interrupts arrive as notifications.
    Notification = 2,
    /// The one-shot right to answer one call; the kernel makes it when a call is received.
    Reply = 3,
    /// A process: its address space, its thread and its capability space.
    Process = 4,
    /// Physical pages that can be mapped, by several processes at once (shared memory).
    Frame = 5,
    /// A range of I/O ports.
    IoPorts = 6,
    /// The right to receive one interrupt line.
    Irq = 7,
    /// A memory quota, from which every other object is made.
    Memory = 8,
    /// The boot archive: the programs processes are made from.
    Archive = 9,
    /// The right to look at the whole system: every process, and the capabilities in any
    /// process's slots (`ProcessInfo`, `CapRead`). Init holds it; the description says who
    /// else does.
    Introspect = 10,
    /// A thread of a process: suspend, resume, set its priority, end it (`Thread*` calls).
    Thread = 11,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Endpoint,
        Kind::Notification,
        Kind::Reply,
        Kind::Process,
        Kind::Frame,
        Kind::IoPorts,
        Kind::Irq,
        Kind::Memory,
        Kind::Archive,
        Kind::Introspect,
        Kind::Thread,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Kind::Endpoint => "endpoint",
            Kind::Notification => "notification",
            Kind::Reply => "reply",
            Kind::Process => "process",
            Kind::Frame => "frame",
            Kind::IoPorts => "ioports",
            Kind::Irq => "irq",
            Kind::Memory => "memory",
            Kind::Archive => "archive",
            Kind::Introspect => "introspect",
            Kind::Thread => "thread",
        }
    }

    /// What making one object of this kind (of `size` pages, for a Frame; bytes for a Memory
    /// split) costs the Memory capability it is made from, in bytes. Processes are charged
    /// as they map pages.
    pub const fn cost(self, size: u64) -> Option<u64> {
        match self {
            Kind::Endpoint | Kind::Notification | Kind::IoPorts => Some(OBJECT_COST),
            Kind::Frame => size.checked_mul(crate::layout::PAGE_SIZE),
            Kind::Memory => Some(size),
            _ => None,
        }
    }
}

/// I/O ports a process can be allowed to use: `0..IO_PORTS_END` (the PC's legacy range,
/// serial ports included). An IoPorts capability reaching past it cannot be enabled.
pub const IO_PORTS_END: u64 = 0x400;

/// Interrupt lines of the legacy PIC pair, which Irq capabilities name.
pub const IRQ_LINES: u64 = 16;

/// Slots below this are where a process's creator puts the capabilities it starts with;
/// the process's own allocations start here.
pub const GIVEN_SLOTS: Slot = 32;

/// Slots of the capabilities `init` starts with. The first two are a convention for every
/// process: one given memory and the archive (to make processes) gets them there.
pub mod init_slots {
    use super::Slot;
    /// All memory (for another process: its quota).
    pub const MEMORY: Slot = 0;
    /// The boot archive.
    pub const ARCHIVE: Slot = 1;
    /// All I/O ports (`0..IO_PORTS_END`).
    pub const IOPORTS: Slot = 2;
    /// Interrupt line `n` is in slot `IRQ_FIRST + n`, for `n < IRQ_LINES` (but 2, the
    /// cascade).
    pub const IRQ_FIRST: Slot = 3;
    /// The introspection capability.
    pub const INTROSPECT: Slot = IRQ_FIRST + super::IRQ_LINES;
    /// The first slot init finds empty.
    pub const FREE: Slot = INTROSPECT + 1;
}

/// What a small kernel object (an endpoint, a notification) costs its Memory quota.
pub const OBJECT_COST: u64 = 256;

/// The most pages one Frame may have (16 MiB).
pub const FRAME_PAGES_MAX: u64 = 4096;

impl TryFrom<u64> for Kind {
    type Error = Error;

    fn try_from(n: u64) -> Result<Self, Error> {
        Kind::ALL.into_iter().find(|k| *k as u64 == n).ok_or(Error::InvalidArgument)
    }
}

/// What the holder of a capability may do. Rights only shrink: every capability derived from
/// another has at most its rights.
///
/// | right | Endpoint | Notification | Frame | Process | Thread | Memory, Archive, IoPorts, Irq |
/// |---|---|---|---|---|---|---|
/// | `READ` | receive | wait, poll | map readable | wait for its end, inspect | — | — |
/// | `WRITE` | send, call | signal | map writable | start, kill, give capabilities | suspend, resume, set priority, end | use |
/// | `GRANT` | pass capabilities along with a message | — | — | — | — | — |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rights(u64);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const READ: Rights = Rights(1);
    pub const WRITE: Rights = Rights(2);
    pub const GRANT: Rights = Rights(4);
    pub const ALL: Rights = Rights(7);

    pub const fn bits(self) -> u64 {
        self.0
    }
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
    pub const fn intersect(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
    /// Whether every right in `other` is also in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
}

impl TryFrom<u64> for Rights {
    type Error = Error;

    /// Unknown bits are refused rather than dropped.
    fn try_from(bits: u64) -> Result<Self, Error> {
        if bits & !Rights::ALL.0 != 0 {
            return Err(Error::InvalidArgument);
        }
        Ok(Rights(bits))
    }
}

/// A badge: 0 means none. A capability with a badge cannot be badged again.
pub type Badge = u64;

/// What [`crate::syscall::Syscall::CapInspect`] reports about a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapInfo {
    pub kind: Kind,
    pub rights: Rights,
    pub badge: Badge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::try_from(k as u64), Ok(k));
        }
        for n in [0, 12, u64::MAX] {
            assert_eq!(Kind::try_from(n), Err(Error::InvalidArgument));
        }
    }

    #[test]
    fn rights_algebra() {
        assert!(Rights::ALL.contains(Rights::READ.union(Rights::GRANT)));
        assert!(!Rights::READ.contains(Rights::WRITE));
        assert!(Rights::READ.contains(Rights::NONE));
        assert_eq!(Rights::ALL.intersect(Rights::WRITE), Rights::WRITE);
        assert_eq!(Rights::try_from(7), Ok(Rights::ALL));
        assert_eq!(Rights::try_from(8), Err(Error::InvalidArgument));
    }

    #[test]
    fn costs() {
        assert_eq!(Kind::Frame.cost(2), Some(8192));
        assert_eq!(Kind::Frame.cost(u64::MAX), None);
        assert_eq!(Kind::Endpoint.cost(0), Some(OBJECT_COST));
        assert_eq!(Kind::Process.cost(0), None);
    }
}
