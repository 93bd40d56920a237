//! The `console` scenario, run as a program of a system with a name server and a console
//! that it `uses`: all its output goes through the console server, which prints each line
//! whole and tagged `ipctest: `; the harness checks those lines. Reading is refused: this
//! program did not look the console up as `input`, and may not.

use rt::check::Checks;
use rt::ipc::proto::console::{self as proto, ConsoleError, READ};
use rt::ipc::proto::name::NameError;
use rt::ipc::proto::Message;
use rt::name::{self, Failed};
use rt::sys::{self, Msg};
use rt::{print, println};

/// A line longer than the console's chunks, with a marker at each end.
pub const LONG: &str = "<begin 123456789 123456789 123456789 123456789 123456789 123456789 123456789 end>";

pub fn console() -> u64 {
    let mut c = Checks::new("ipctest console");
    println!("{LONG}");
    print!("a line in ");
    print!("three ");
    println!("prints");
    println!("across chunks: {}", "é".repeat(20));
    let denied = name::lookup(proto::INPUT);
    c.check("the input name is not this program's to look up", denied == Err(Failed::Server(NameError::Denied)));
    let found = name::lookup(proto::OUTPUT);
    c.check("the console name is", found.is_ok());
    let Ok((console, _)) = found else { return c.done() };
    let read = sys::call_ep(console, &Msg::from_proto(&Message::new(READ, &[], 0)));
    let refused = read.ok().and_then(|a| a.proto()).map(|a| a.label);
    c.check("reading through it is refused", refused == Some(ConsoleError::Denied.code()));
    let garbage = sys::call_ep(console, &Msg::from_proto(&Message::new(77, &[1, 2], 0)));
    let refused = garbage.ok().and_then(|a| a.proto()).map(|a| a.label);
    c.check("a request it does not know is refused", refused == Some(ConsoleError::BadRequest.code()));
    c.done()
}
