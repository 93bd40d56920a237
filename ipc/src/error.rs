//! Error codes: what a user process sees when the kernel refuses a request.
//!
//! The code travels as a `u64` in a result register; zero is never an error, so a register
//! holding 0 means success. Codes are stable ABI: add new ones at the end, never renumber.

use core::fmt;

/// A kernel error, as user space sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Error {
    /// The syscall number is not one the kernel knows.
    UnknownSyscall = 1,
    /// An argument is out of its allowed range.
    InvalidArgument = 2,
    /// A pointer does not lie wholly inside mapped, accessible user memory.
    BadAddress = 3,
    /// A length is too large or makes a range wrap around.
    BadLength = 4,
    /// The capability slot is out of range or empty.
    InvalidCapability = 5,
    /// The capability names an object of another kind than the call needs.
    WrongKind = 6,
    /// The capability lacks a right the call needs.
    MissingRights = 7,
    /// The kernel (or the caller's memory quota) has no memory left for the request.
    OutOfMemory = 8,
    /// The object is busy or the operation would block and the caller asked not to.
    WouldBlock = 9,
    /// The object went away (its last capability was deleted or revoked) during the call.
    ObjectGone = 10,
    /// Nothing by that name or number exists (a boot program, a child process).
    NotFound = 11,
    /// The destination capability slot is already occupied.
    SlotInUse = 12,
    /// The thread was suspended while it waited in this call (`ThreadSuspend`); the call did
    /// nothing, and may be made again.
    Interrupted = 13,
}

impl Error {
    /// Every error, in code order.
    pub const ALL: [Error; 13] = [
        Error::UnknownSyscall,
        Error::InvalidArgument,
        Error::BadAddress,
        Error::BadLength,
        Error::InvalidCapability,
        Error::WrongKind,
        Error::MissingRights,
        Error::OutOfMemory,
        Error::WouldBlock,
        Error::ObjectGone,
        Error::NotFound,
        Error::SlotInUse,
        Error::Interrupted,
    ];

    /// The code carried in the result register.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// A short lower-case name, as the shell and logs print it.
    pub const fn name(self) -> &'static str {
        match self {
            Error::UnknownSyscall => "unknown syscall",
            Error::InvalidArgument => "invalid argument",
            Error::BadAddress => "bad address",
            Error::BadLength => "bad length",
            Error::InvalidCapability => "invalid capability",
            Error::WrongKind => "wrong kind",
            Error::MissingRights => "missing rights",
            Error::OutOfMemory => "out of memory",
            Error::WouldBlock => "would block",
            Error::ObjectGone => "object gone",
            Error::NotFound => "not found",
            Error::SlotInUse => "slot in use",
            Error::Interrupted => "interrupted",
        }
    }
}

/// A result-register value that is not a known error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownError(pub u64);

impl TryFrom<u64> for Error {
    type Error = UnknownError;

    fn try_from(code: u64) -> Result<Self, UnknownError> {
        // Codes are dense from 1, so a known code indexes the table at code - 1.
        if (1..=Error::ALL.len() as u64).contains(&code) {
            Ok(Error::ALL[(code - 1) as usize])
        } else {
            Err(UnknownError(code))
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error {})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for (i, e) in Error::ALL.iter().enumerate() {
            assert_eq!(e.code(), i as u64 + 1, "codes are dense and in order");
            assert_eq!(Error::try_from(e.code()), Ok(*e));
        }
    }

    #[test]
    fn zero_and_out_of_range_codes_are_rejected() {
        assert_eq!(Error::try_from(0), Err(UnknownError(0)));
        let past = Error::ALL.len() as u64 + 1;
        assert_eq!(Error::try_from(past), Err(UnknownError(past)));
        assert_eq!(Error::try_from(u64::MAX), Err(UnknownError(u64::MAX)));
        // A value that would truncate to a valid index on a 32-bit usize is still rejected.
        assert_eq!(Error::try_from(1 << 32 | 1), Err(UnknownError(1 << 32 | 1)));
    }

    #[test]
    fn names_are_distinct() {
        for a in Error::ALL {
            for b in Error::ALL {
                assert_eq!(a == b, a.name() == b.name());
            }
        }
    }
}
