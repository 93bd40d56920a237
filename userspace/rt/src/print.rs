//! `print!` and `println!`: through the console server for a program of a system
//! description that uses it, on the kernel's debug console otherwise (ad-hoc programs, the
//! servers that start before the console, the console itself).
//!
//! Output is gathered in a small buffer and sent once per line (or per full buffer): with
//! `DebugWrite` in one call, so lines of different processes do not interleave mid-line;
//! with the console in chunks of 32 bytes, which it keeps until the line is whole.

use crate::sys::{self, Msg};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};
use ipc::cap::{Kind, Slot};
use ipc::proto::console::{self, INPUT, OUTPUT, WRITE};
use ipc::system::{self, slots};

const BUFFER: usize = 256;

/// Where output goes: not decided yet, the kernel's debug console, or the slot of a
/// capability to the console server.
static ROUTE: AtomicU64 = AtomicU64::new(UNDECIDED);
const UNDECIDED: u64 = u64::MAX;
const KERNEL: u64 = u64::MAX - 1;

/// The console, if this program may use it: decided at the first print. Only a program
/// whose name slot holds the name server's capability (badged by init) asks; it gets the
/// console as `input` if it may read it (the shell: its prompt must show at once), else as
/// `console`, else not at all.
fn console() -> Option<Slot> {
    let route = ROUTE.load(Ordering::Relaxed);
    if route != UNDECIDED {
        return (route != KERNEL).then_some(route);
    }
    ROUTE.store(KERNEL, Ordering::Relaxed);
    let given = sys::cap_inspect(slots::NAME)
        .is_ok_and(|c| c.kind == Kind::Endpoint && system::unbadge(c.badge).is_some_and(|(_, service)| service == 0));
    let found = given.then(|| [INPUT, OUTPUT].into_iter().find_map(|name| crate::name::lookup(name).ok())).flatten();
    let slot = found.map(|(slot, _)| slot)?;
    ROUTE.store(slot, Ordering::Relaxed);
    Some(slot)
}

struct LineWriter {
    buf: [u8; BUFFER],
    len: usize,
}

impl LineWriter {
    /// Sends what the buffer holds, but for a character a full buffer cut short, which
    /// waits for its end. Text the console does not take (or that is not UTF-8) goes to the
    /// kernel's debug console.
    fn flush(&mut self) {
        let whole = match core::str::from_utf8(&self.buf[..self.len]) {
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            _ => self.len,
        };
        let out = &self.buf[..whole];
        match core::str::from_utf8(out) {
            Ok("") => {}
            Ok(text) => match console() {
                Some(c) => drop(write_to(c, text)),
                None => debug_write(out),
            },
            Err(_) => debug_write(out),
        }
        self.buf.copy_within(whole..self.len, 0);
        self.len -= whole;
    }
}

/// Writes `text` (a line, or part of one) through the console in slot `console`; if the
/// console refuses it or is gone, the whole of it goes to the kernel's debug console
/// instead, so no output is lost when the console dies in the middle of a line (the chunks
/// it took were kept for the line's end and die with it). Returns whether the console took
/// it all.
pub fn write_to(console: Slot, text: &str) -> bool {
    let taken = to_console(console, text);
    if !taken {
        debug_write(text.as_bytes());
    }
    taken
}

/// Sends `text` to the console in chunks; false if the console refused or is gone.
fn to_console(console: Slot, mut text: &str) -> bool {
    while !text.is_empty() {
        let part = console::chunk(text);
        let Some(m) = console::text_message(WRITE, part) else { return false };
        let sent = sys::call_ep(console, &Msg::from_proto(&m));
        if !sent.is_ok_and(|a| a.proto().is_some_and(|a| console::write_reply(&a).is_ok())) {
            return false;
        }
        text = &text[part.len()..];
    }
    true
}

fn debug_write(mut rest: &[u8]) {
    while !rest.is_empty() {
        match sys::debug_write(rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest = &rest[n.min(rest.len())..],
        }
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == BUFFER {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    let mut w = LineWriter { buf: [0; BUFFER], len: 0 };
    let _ = w.write_fmt(args);
    w.flush();
    if w.len > 0 {
        // What is left is a cut character that never got its end.
        debug_write(&w.buf[..w.len]);
    }
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::print::_print(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::print::_print(format_args!("{}\n", format_args!($($arg)*))));
}
