//! The panic handler: panics are kernel bugs, so report where and why, then stop.

use crate::arch::qemu;
use crate::console;
use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};
use ipc::qemu::ExitCode;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    // A panic while reporting a panic: say nothing more, just stop.
    if PANICKING.swap(true, Ordering::Relaxed) {
        qemu::exit(ExitCode::Failure);
    }
    let mut out = console::emergency();
    let _ = match info.location() {
        Some(at) => writeln!(out, "PANIC at {}:{}:{}: {}", at.file(), at.line(), at.column(), info.message()),
        None => writeln!(out, "PANIC: {}", info.message()),
    };
    qemu::exit(ExitCode::Failure)
}
