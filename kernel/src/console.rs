//! The kernel console: COM1 through `uart_16550`, and the levelled log macros.
//!
//! Every line starts with the time since boot, from the TSC. The console lock is only ever
//! taken with interrupts masked, so an interrupt handler that logs can never spin on a lock
//! its own CPU holds. Fault and panic reports, which may arrive while the lock is held, write
//! through [`emergency`] instead: a second handle on the same port that takes no lock.

use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::{BaudRate, Config, Uart16550, Uart16550Tty};
use x86_64::instructions::interrupts;

const COM1: u16 = 0x3f8;

static CONSOLE: Mutex<Option<Uart16550Tty<PioBackend>>> = Mutex::new(None);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    const fn tag(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
        }
    }
}

/// Lines above this level are dropped.
const MAX_LEVEL: Level = Level::Debug;

/// Initialises COM1. Before this, log lines are dropped (there is nowhere to put them).
pub fn init() {
    let config = Config { baud_rate: BaudRate::Baud115200, ..Config::DEFAULT };
    // SAFETY: 0x3f8..0x400 is COM1 on every PC and on QEMU's machine types. The console
    // server drives the same port from user space: it writes whole bytes to the data register and
    // sets only the FIFO and interrupt registers, not the line settings made here. The worst
    // that happens is that a kernel line lands in the middle of one of the server's (xtask's
    // tests untangle that).
    let tty = unsafe { Uart16550Tty::new_port(COM1, config) };
    if let Ok(tty) = tty {
        interrupts::without_interrupts(|| *CONSOLE.lock() = Some(tty));
    }
}

#[doc(hidden)]
pub fn _log(level: Level, args: fmt::Arguments) {
    if level > MAX_LEVEL {
        return;
    }
    let us = crate::arch::tsc::micros_since_boot();
    interrupts::without_interrupts(|| {
        if let Some(tty) = CONSOLE.lock().as_mut() {
            let _ = writeln!(tty, "[{:>5}.{:06}] {} {}", us / 1_000_000, us % 1_000_000, level.tag(), args);
        }
    });
}

/// A writer for reports made when the kernel may be in any state: it takes no lock and does
/// not reinitialise the UART, only polls its transmit-empty bit. Output may interleave with a
/// line that was being written when the fault struck; nothing else can go wrong.
pub fn emergency() -> impl Write {
    // SAFETY: the same port as `init` uses; a second handle only reads the line status and
    // writes the data register, which is harmless beside the first.
    match unsafe { Uart16550::new_port(COM1) } {
        Ok(uart) => Sink::Port(Uart16550Tty::from_inner(uart)),
        Err(_) => Sink::Nowhere,
    }
}

enum Sink {
    Port(Uart16550Tty<PioBackend>),
    Nowhere,
}

impl Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self {
            Sink::Port(tty) => tty.write_str(s),
            Sink::Nowhere => Ok(()),
        }
    }
}

#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)*) => { $crate::console::_log($level, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! error { ($($arg:tt)*) => { $crate::log!($crate::console::Level::Error, $($arg)*) }; }
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::log!($crate::console::Level::Warn, $($arg)*) }; }
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::log!($crate::console::Level::Info, $($arg)*) }; }
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::log!($crate::console::Level::Debug, $($arg)*) }; }
