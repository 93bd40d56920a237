//! The numbers around a transaction: the built-in transaction codes, the flags, and the
//! transport status (`status_t`) a call can end with instead of a reply Parcel
//! (binder-facts.md §3; the values are those of libbinder's `IBinder.h` and `Errors.h`).

/// `B_PACK_CHARS`: four characters as one code, the first in the top byte.
const fn pack(c: &[u8; 4]) -> u32 {
    (c[0] as u32) << 24 | (c[1] as u32) << 16 | (c[2] as u32) << 8 | c[3] as u32
}

/// The first and last codes an interface's own methods may use.
pub const FIRST_CALL: u32 = 1;
pub const LAST_CALL: u32 = 0x00ff_ffff;
/// Every binder answers these itself: PING with an empty reply, INTERFACE with its bare
/// descriptor (no status header).
pub const PING: u32 = pack(b"_PNG");
pub const DUMP: u32 = pack(b"_DMP");
pub const SHELL_COMMAND: u32 = pack(b"_CMD");
pub const INTERFACE: u32 = pack(b"_NTF");
pub const SYSPROPS: u32 = pack(b"_SPR");
pub const EXTENSION: u32 = pack(b"_EXT");
pub const DEBUG_PID: u32 = pack(b"_PID");

/// A oneway call: no reply, and the caller does not wait for the callee.
pub const FLAG_ONEWAY: u32 = 0x01;
/// `TF_ACCEPT_FDS`: libbinder sets it on every transaction, so the wire flags of a two-way
/// call are 0x10 and of a oneway call 0x11.
pub const FLAG_ACCEPT_FDS: u32 = 0x10;
/// Clear the buffer after use.
pub const FLAG_CLEAR_BUF: u32 = 0x20;

i32_enum! {
    /// A transport status (`status_t`): how a transaction ended when it has no reply Parcel to
    /// show for it, or why a Parcel could not be read.
    pub enum StatusCode {
        Ok = 0,
        UnknownError = i32::MIN,
        /// The node's process is gone (`-EPIPE`).
        DeadObject = -32,
        /// The transaction could not be delivered: a bad handle, no room at the receiver.
        FailedTransaction = i32::MIN + 2,
        BadType = i32::MIN + 1,
        /// A code the binder does not know (`-EBADMSG`).
        UnknownTransaction = -74,
        BadValue = -22,
        NotEnoughData = -61,
        UnexpectedNull = i32::MIN + 8,
        PermissionDenied = -1,
        NameNotFound = -2,
        NoMemory = -12,
        InvalidOperation = -38,
        AlreadyExists = -17,
        BadIndex = -75,
        WouldBlock = -11,
        TimedOut = -110,
        FdsNotAllowed = i32::MIN + 7,
        NoInit = -19,
    }
}

impl StatusCode {
    /// The status a word stands for; an unknown one reads as `UnknownError`, as libbinder
    /// treats any status it does not name.
    pub fn from_i32(v: i32) -> StatusCode {
        StatusCode::find(v).unwrap_or(StatusCode::UnknownError)
    }
}

impl From<crate::ParcelError> for StatusCode {
    fn from(e: crate::ParcelError) -> StatusCode {
        match e {
            crate::ParcelError::NotEnoughData => StatusCode::NotEnoughData,
            crate::ParcelError::BadValue => StatusCode::BadValue,
            crate::ParcelError::UnexpectedNull => StatusCode::UnexpectedNull,
            crate::ParcelError::BadType | crate::ParcelError::WrongInterface => StatusCode::BadType,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_androids() {
        assert_eq!(PING, 0x5f50_4e47);
        assert_eq!(DUMP, 0x5f44_4d50);
        assert_eq!(SHELL_COMMAND, 0x5f43_4d44);
        assert_eq!(INTERFACE, 0x5f4e_5446);
        assert_eq!(SYSPROPS, 0x5f53_5052);
        assert_eq!(EXTENSION, 0x5f45_5854);
        assert_eq!(DEBUG_PID, 0x5f50_4944);
        assert_eq!(StatusCode::FailedTransaction as i32, -0x7fff_fffe);
        assert_eq!(StatusCode::from_i32(-32), StatusCode::DeadObject);
        assert_eq!(StatusCode::from_i32(12345), StatusCode::UnknownError);
        for &s in StatusCode::ALL {
            assert_eq!(StatusCode::from_i32(s as i32), s);
        }
    }
}
