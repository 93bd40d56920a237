//! `seam.test.IEcho`, the test interface `compat-echo` serves and `compat-check` and
//! `compat-old` call: its codes, the callback interface its clients host, and a client call.
//! Replies carry no AIDL status header: a plain interface, as Android's pre-AIDL ones were.
#![no_std]

extern crate alloc;

use alloc::rc::Rc;
use alloc::string::String;
use binder::client::{Call, Process, Service, SpIBinder};
use binder::{Parcel, StatusCode};

pub const DESCRIPTOR: &str = "seam.test.IEcho";
/// The name it is registered under.
pub const NAME: &str = "echo";

/// `(text) -> (calling uid, calling pid, text)`.
pub const ECHO: u32 = 1;
/// `(callback, text) -> the callback's answer`: the server calls the callback, two-way,
/// while the caller waits.
pub const CALL_BACK: u32 = 2;
/// Oneway `(n)`: recorded.
pub const RECORD: u32 = 3;
/// `() -> (how many recorded, whether each was one more than the last, from 0)`.
pub const RECORDED: u32 = 4;
/// `(callback)`: the server keeps it and links to its death.
pub const KEEP: u32 = 5;
/// `() -> obituaries the server has received`.
pub const DEATHS: u32 = 6;

/// What a client's callback is: code 1, `(text) -> text in capitals`.
pub const CALLBACK_DESCRIPTOR: &str = "seam.test.ICallback";

/// A callback that answers in capitals.
pub struct Shout;

impl Service for Shout {
    fn descriptor(&self) -> &str {
        CALLBACK_DESCRIPTOR
    }

    fn on_transact(&self, _: &Call, code: u32, data: &mut Parcel, reply: &mut Parcel) -> Result<(), StatusCode> {
        if code != 1 {
            return Err(StatusCode::UnknownTransaction);
        }
        data.enforce_interface(CALLBACK_DESCRIPTOR)?;
        let text = data.read_string16()?.unwrap_or_default();
        reply.write_string16(Some(&text.to_uppercase()));
        Ok(())
    }
}

/// A call of IEcho's `code` with the arguments `write` adds; the reply.
pub fn call(echo: &SpIBinder, code: u32, flags: u32, write: impl FnOnce(&mut Parcel)) -> Result<Parcel, StatusCode> {
    let mut data = echo.process().parcel();
    data.write_interface_token(DESCRIPTOR);
    write(&mut data);
    echo.transact(code, &data, flags)
}

/// `ECHO`: (uid, pid, text) as the server saw them.
pub fn echo(echo: &SpIBinder, text: &str) -> Result<(u32, u32, String), StatusCode> {
    let mut r = call(echo, ECHO, 0, |p| p.write_string16(Some(text)))?;
    Ok((r.read_i32()? as u32, r.read_i32()? as u32, r.read_string16()?.unwrap_or_default()))
}

/// Hands `process`'s new [`Shout`] callback to the server with `code` (`CALL_BACK` with a
/// text, or `KEEP`).
pub fn shout(process: &Rc<Process>) -> SpIBinder {
    process.add_local(Rc::new(Shout))
}
