//! Leaving the machine: the verdict to QEMU's isa-debug-exit device, or a halt.

use ipc::qemu::{ExitCode, DEBUG_EXIT_PORT};
use x86_64::instructions::{hlt, interrupts, port::Port};

/// Reports `code` to QEMU, which exits. Without the device (real hardware, or QEMU started
/// without it) the write goes nowhere and the CPU halts for good.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is QEMU's debug-exit device or, where that is absent, an unused port
    // on the PC's I/O map: writing to it has no other effect.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(code as u32) };
    halt_forever()
}

/// Stops this CPU: interrupts off, then halt in a loop (an NMI could still wake it).
pub fn halt_forever() -> ! {
    interrupts::disable();
    loop {
        hlt();
    }
}
