//! The [`Channel`] of a program running on Seam (feature `seam`): compat's endpoint, found
//! by name, and a Frame shared with it for large Parcels.

use crate::client::{Channel, Process};
use crate::{Android, StatusCode};
use alloc::boxed::Box;
use alloc::rc::Rc;
use ipc::cap::Slot;
use ipc::proto::compat::{CONNECT, FRAME_PAGES_MAX};
use ipc::proto::Long;
use rt::frame::Window;

/// The name compat's service is registered under.
pub const SERVICE: &str = "compat";

/// Compat's endpoint and this program's Frame.
pub struct SeamChannel {
    endpoint: Slot,
    /// The endpoint's slot was filled by [`connect`]'s lookup, and is released with the
    /// channel; one given to [`connect_to`] stays the caller's.
    owned: bool,
    frame: Window,
}

impl Drop for SeamChannel {
    fn drop(&mut self) {
        if self.owned {
            rt::cap::release(self.endpoint);
        }
    }
}

impl Channel for SeamChannel {
    fn call(&mut self, m: &Long) -> Result<Long, ipc::Error> {
        if m.label == CONNECT {
            let mut with_frame = m.clone();
            with_frame.caps = 1;
            rt::cap::set_send_cap(0, self.frame.slot());
            return rt::long::call(self.endpoint, &with_frame);
        }
        rt::long::call(self.endpoint, m)
    }

    fn frame(&mut self) -> Option<&mut [u8]> {
        Some(self.frame.bytes())
    }
}

/// Connects this program to compat (its entry `uses = ["compat"]`) as a program built for
/// `android`, with a Frame as large as a Parcel may be.
pub fn connect(android: Android) -> Result<Rc<Process>, StatusCode> {
    let (endpoint, _) = rt::name::lookup(SERVICE).map_err(|_| StatusCode::NameNotFound)?;
    open(endpoint, true, android)
}

/// Connects this program to compat through the endpoint capability in slot `endpoint` (one
/// it was given, rather than looked up), as a program built for `android`.
pub fn connect_to(endpoint: Slot, android: Android) -> Result<Rc<Process>, StatusCode> {
    open(endpoint, false, android)
}

fn open(endpoint: Slot, owned: bool, android: Android) -> Result<Rc<Process>, StatusCode> {
    let channel =
        SeamChannel { endpoint, owned, frame: Window::new(FRAME_PAGES_MAX).map_err(|_| StatusCode::NoMemory)? };
    Process::connect(Box::new(channel), android)
}
