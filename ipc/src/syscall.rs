//! System calls: their numbers and the register convention. This comment is the reference.
//!
//! # Register convention
//!
//! A user thread enters the kernel with the `syscall` instruction.
//!
//! | register | on entry | on return |
//! |---|---|---|
//! | `rax` | the syscall number ([`Syscall`]) | status: 0 for success, else an [`Error`] code |
//! | `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9` | arguments 0–5 | results 0–5 |
//! | `rcx`, `r11` | — | clobbered: the CPU keeps the return address and flags there |
//! | everything else | — | preserved |
//!
//! Arguments and results share the same six registers, in the same order, so later message
//! words travel in place; `r10` stands in for `rcx` (the C convention's fourth argument),
//! which `syscall` overwrites. A register that carries no result of the call (every one, when
//! the call fails) comes back as it went in.
//!
//! A process starts at its ELF entry point with `rdi` = address and `rsi` = length of its
//! argument string (UTF-8, words separated by spaces, on its stack), `rdx` = its process id,
//! and `rsp` 16-byte aligned minus 8, as after a `call`. See [`crate::layout`] for where things
//! are in a user address space.

use crate::Error;

/// Number of argument (and result) registers.
pub const ARG_REGS: usize = 6;

/// The system calls, by number. Numbers are stable ABI: add at the end, never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Syscall {
    /// Does nothing and succeeds: the round trip the latency benchmark measures.
    Null = 0,
    /// `(ptr, len)` → `(written)`: writes UTF-8 text to the kernel's debug console, prefixed
    /// with the process name. At most [`DEBUG_WRITE_MAX`] bytes per call.
    DebugWrite = 1,
    /// `(code)`: ends the calling process; never returns.
    Exit = 2,
    /// Gives up the rest of the time slice to threads of the same priority.
    Yield = 3,
    /// `(ticks)`: blocks for at least `ticks` timer ticks; 0 is a yield.
    Sleep = 4,
    /// → `(ticks since boot, ticks per second)`.
    Ticks = 5,
    /// `(addr, len, flags)`: maps fresh zeroed pages at a page-aligned user range.
    /// `flags` are [`MapFlags`]; writable and executable together are refused.
    Map = 6,
    /// `(addr, len)`: unmaps a page-aligned user range and frees its pages.
    Unmap = 7,
    /// `(name ptr, name len, args ptr, args len, priority)` → `(pid)`: starts the boot program
    /// `name` as a child process. The priority may not exceed the caller's. (Stand-in until
    /// processes are made from capabilities.)
    Spawn = 8,
    /// `(pid)` → `(status kind, value)`: waits for a child to end; see [`ExitStatus`].
    Wait = 9,
    /// → `(free frames, kernel heap bytes in use)`: for tests and the shell.
    MemStats = 10,
}

impl Syscall {
    pub const ALL: [Syscall; 11] = [
        Syscall::Null,
        Syscall::DebugWrite,
        Syscall::Exit,
        Syscall::Yield,
        Syscall::Sleep,
        Syscall::Ticks,
        Syscall::Map,
        Syscall::Unmap,
        Syscall::Spawn,
        Syscall::Wait,
        Syscall::MemStats,
    ];
}

impl TryFrom<u64> for Syscall {
    type Error = Error;

    /// A `match` rather than a table lookup, so the kernel's dispatcher compiles to a single
    /// jump table.
    #[inline]
    fn try_from(number: u64) -> Result<Self, Error> {
        Ok(match number {
            0 => Syscall::Null,
            1 => Syscall::DebugWrite,
            2 => Syscall::Exit,
            3 => Syscall::Yield,
            4 => Syscall::Sleep,
            5 => Syscall::Ticks,
            6 => Syscall::Map,
            7 => Syscall::Unmap,
            8 => Syscall::Spawn,
            9 => Syscall::Wait,
            10 => Syscall::MemStats,
            _ => return Err(Error::UnknownSyscall),
        })
    }
}

/// The longest text one `DebugWrite` takes.
pub const DEBUG_WRITE_MAX: u64 = 4096;

/// The longest range one `Map` or `Unmap` takes (1 GiB): a call's work stays bounded.
pub const MAP_MAX: u64 = 1 << 30;

/// The longest program name and argument string `Spawn` takes.
pub const SPAWN_NAME_MAX: u64 = 64;
pub const SPAWN_ARGS_MAX: u64 = 1024;

/// Scheduling priorities: 0 is the lowest, 255 the highest; the idle thread runs below all.
pub const PRIORITY_MAX: u64 = 255;
/// The priority boot programs get when the command line names none.
pub const PRIORITY_DEFAULT: u8 = 100;

/// Flags for [`Syscall::Map`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFlags(u64);

impl MapFlags {
    pub const READ: MapFlags = MapFlags(0);
    pub const WRITE: MapFlags = MapFlags(1);
    pub const EXECUTE: MapFlags = MapFlags(2);

    pub const fn bits(self) -> u64 {
        self.0
    }
    pub const fn union(self, other: MapFlags) -> MapFlags {
        MapFlags(self.0 | other.0)
    }
    pub const fn writable(self) -> bool {
        self.0 & MapFlags::WRITE.0 != 0
    }
    pub const fn executable(self) -> bool {
        self.0 & MapFlags::EXECUTE.0 != 0
    }
}

impl TryFrom<u64> for MapFlags {
    type Error = Error;

    /// Unknown bits, or writable together with executable, are refused.
    fn try_from(bits: u64) -> Result<Self, Error> {
        let flags = MapFlags(bits);
        if bits & !(MapFlags::WRITE.0 | MapFlags::EXECUTE.0) != 0 || (flags.writable() && flags.executable()) {
            return Err(Error::InvalidArgument);
        }
        Ok(flags)
    }
}

/// How a process ended, as [`Syscall::Wait`] reports it in two words `(kind, value)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Exited(u64),
    /// The kernel stopped it after a CPU exception with this vector.
    Faulted(u8),
}

impl ExitStatus {
    const EXITED: u64 = 0;
    const FAULTED: u64 = 1;

    pub const fn to_words(self) -> (u64, u64) {
        match self {
            ExitStatus::Exited(code) => (Self::EXITED, code),
            ExitStatus::Faulted(vector) => (Self::FAULTED, vector as u64),
        }
    }

    pub fn from_words(kind: u64, value: u64) -> Result<Self, Error> {
        match kind {
            Self::EXITED => Ok(ExitStatus::Exited(value)),
            Self::FAULTED => u8::try_from(value).map(ExitStatus::Faulted).map_err(|_| Error::InvalidArgument),
            _ => Err(Error::InvalidArgument),
        }
    }
}

/// Splits a status register into success or the error it names. A code this library does not
/// know (a newer kernel) reads as [`Error::UnknownSyscall`]: the call was not understood.
#[inline]
pub fn status(rax: u64) -> Result<(), Error> {
    if rax == 0 {
        return Ok(());
    }
    Err(Error::try_from(rax).unwrap_or(Error::UnknownSyscall))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_in_order() {
        for (i, call) in Syscall::ALL.into_iter().enumerate() {
            assert_eq!(call as u64, i as u64);
            assert_eq!(Syscall::try_from(i as u64), Ok(call));
        }
    }

    #[test]
    fn unknown_numbers_are_refused() {
        for n in [Syscall::ALL.len() as u64, 12, 255, 1 << 32, u64::MAX, u64::MAX - 1] {
            assert_eq!(Syscall::try_from(n), Err(Error::UnknownSyscall), "{n}");
        }
    }

    #[test]
    fn map_flags_refuse_unknown_bits_and_write_with_execute() {
        assert_eq!(MapFlags::try_from(0), Ok(MapFlags::READ));
        assert_eq!(MapFlags::try_from(1), Ok(MapFlags::WRITE));
        assert_eq!(MapFlags::try_from(2), Ok(MapFlags::EXECUTE));
        assert_eq!(MapFlags::try_from(3), Err(Error::InvalidArgument));
        assert_eq!(MapFlags::try_from(4), Err(Error::InvalidArgument));
        assert_eq!(MapFlags::try_from(u64::MAX), Err(Error::InvalidArgument));
        assert_eq!(MapFlags::WRITE.union(MapFlags::EXECUTE).bits(), 3);
    }

    #[test]
    fn exit_status_round_trips_and_refuses_bad_words() {
        for s in [ExitStatus::Exited(0), ExitStatus::Exited(u64::MAX), ExitStatus::Faulted(14), ExitStatus::Faulted(0)]
        {
            let (k, v) = s.to_words();
            assert_eq!(ExitStatus::from_words(k, v), Ok(s));
        }
        assert_eq!(ExitStatus::from_words(1, 256), Err(Error::InvalidArgument));
        assert_eq!(ExitStatus::from_words(2, 0), Err(Error::InvalidArgument));
        assert_eq!(ExitStatus::from_words(u64::MAX, 0), Err(Error::InvalidArgument));
    }

    #[test]
    fn status_register_decodes() {
        assert_eq!(status(0), Ok(()));
        for e in Error::ALL {
            assert_eq!(status(e.code()), Err(e));
        }
        assert_eq!(status(9999), Err(Error::UnknownSyscall));
    }
}
