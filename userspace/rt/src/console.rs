//! The client side of the console server's input (`ipc::proto::console`): whole lines, for a
//! program that looked the console up as `input`.

use crate::sys::{self, Msg};
use alloc::string::String;
use ipc::cap::Slot;
use ipc::proto::console::{self, ConsoleError, READ};
use ipc::proto::Message;

/// The next line typed (without its `\n`), waiting for it; `EndOfInput` after Ctrl-D.
pub fn read_line(console: Slot) -> Result<String, ConsoleError> {
    let mut line = String::new();
    loop {
        let answer = sys::call_ep(console, &Msg::from_proto(&Message::new(READ, &[], 0)));
        let answer = answer.ok().and_then(|a| a.proto()).ok_or(ConsoleError::BadRequest)?;
        let mut buf = [0; 64];
        let chunk = console::read_reply(&answer, &mut buf)?;
        match chunk.strip_suffix('\n') {
            Some(last) => {
                line.push_str(last);
                return Ok(line);
            }
            None => line.push_str(chunk),
        }
    }
}
