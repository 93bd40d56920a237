//! The status header of an AIDL reply (libbinder's `Status`): an exception code, and for an
//! exception its message and, for a service-specific error, its code.

use crate::parcel::{Parcel, ParcelError};
use alloc::string::String;

i32_enum! {
    /// An exception code, as the wire carries it.
    pub enum Exception {
        None = 0,
        Security = -1,
        BadParcelable = -2,
        IllegalArgument = -3,
        NullPointer = -4,
        IllegalState = -5,
        NetworkMainThread = -6,
        UnsupportedOperation = -7,
        ServiceSpecific = -8,
        Parcelable = -9,
    }
}

impl Exception {
    pub fn from_code(code: i32) -> Option<Exception> {
        Exception::find(code)
    }
}

/// A reply header that says more follows before the status: skipped on read.
const EX_HAS_REPLY_HEADER: i32 = -128;

/// A reply's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub exception: Exception,
    pub message: Option<String>,
    /// For [`Exception::ServiceSpecific`]: the service's own code.
    pub service_code: i32,
}

impl Status {
    pub fn ok() -> Status {
        Status { exception: Exception::None, message: None, service_code: 0 }
    }

    pub fn exception(exception: Exception, message: &str) -> Status {
        Status { exception, message: Some(String::from(message)), service_code: 0 }
    }

    pub fn service_specific(code: i32, message: &str) -> Status {
        Status { exception: Exception::ServiceSpecific, message: Some(String::from(message)), service_code: code }
    }

    pub fn is_ok(&self) -> bool {
        self.exception == Exception::None
    }

    /// Writes the header as libbinder's `Status::writeToParcel` does.
    pub fn write_to(&self, p: &mut Parcel) {
        p.write_i32(self.exception as i32);
        if self.is_ok() {
            return;
        }
        p.write_string16(self.message.as_deref());
        // The remote stack trace's size: none.
        p.write_i32(0);
        match self.exception {
            Exception::ServiceSpecific => p.write_i32(self.service_code),
            Exception::Parcelable => p.write_i32(0),
            _ => {}
        }
    }

    /// Reads a header as `Status::readFromParcel` does: a reply header (-128) is skipped, as
    /// is a remote stack trace.
    pub fn read_from(p: &mut Parcel) -> Result<Status, ParcelError> {
        let mut code = p.read_i32()?;
        if code == EX_HAS_REPLY_HEADER {
            let start = p.data_position() - 4;
            let size = p.read_i32()?;
            let skip_to = usize::try_from(size).ok().and_then(|s| start.checked_add(4)?.checked_add(s));
            match skip_to {
                Some(to) if size >= 4 && to <= p.data_size() => p.set_data_position(to),
                _ => return Err(ParcelError::BadValue),
            }
            code = Exception::None as i32;
        }
        let exception = Exception::from_code(code).ok_or(ParcelError::BadValue)?;
        if exception == Exception::None {
            return Ok(Status::ok());
        }
        let message = p.read_string16()?;
        // A remote stack trace: its size counts its own size word.
        let trace_start = p.data_position();
        let trace = usize::try_from(p.read_i32()?).map_err(|_| ParcelError::BadValue)?;
        if trace > 0 {
            let to = trace_start.checked_add(trace).filter(|&t| t >= p.data_position() && t <= p.data_size());
            p.set_data_position(to.ok_or(ParcelError::BadValue)?);
        }
        let service_code = match exception {
            Exception::ServiceSpecific => p.read_i32()?,
            Exception::Parcelable => {
                p.read_i32()?;
                0
            }
            _ => 0,
        };
        Ok(Status { exception, message, service_code })
    }
}
