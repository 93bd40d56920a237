//! `print!` and `println!` on the kernel's debug console.
//!
//! Output is gathered in a small buffer and written with one `DebugWrite` per line (or per
//! full buffer), so lines from different processes do not interleave mid-line.

use crate::sys;
use core::fmt::{self, Write};

const BUFFER: usize = 256;

struct LineWriter {
    buf: [u8; BUFFER],
    len: usize,
}

impl LineWriter {
    fn flush(&mut self) {
        let mut rest = &self.buf[..self.len];
        while !rest.is_empty() {
            match sys::debug_write(rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest = &rest[n.min(rest.len())..],
            }
        }
        self.len = 0;
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
