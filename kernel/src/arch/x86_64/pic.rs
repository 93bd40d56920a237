//! The legacy 8259 PIC pair: moved off the exception vectors and masked.
//!
//! Seam's timer is the local APIC's. The 8259s must still be reprogrammed, because their
//! power-on vectors (8–15) collide with CPU exceptions and a spurious IRQ would look like a
//! double fault. A line is unmasked only while a user driver holds an Irq capability bound to
//! a notification; the kernel masks it when it fires and the driver's `IrqAck` unmasks it.

use super::vectors::PIC_BASE;
use x86_64::instructions::port::Port;

const MASTER: u16 = 0x20;
const SLAVE: u16 = 0xa0;
/// ICW1: initialise, ICW4 follows.
const ICW1_INIT: u8 = 0x11;
/// ICW4: 8086 mode.
const ICW4_8086: u8 = 0x01;

pub fn remap_and_mask() {
    let steps: [(u16, u8); 10] = [
        (MASTER, ICW1_INIT),
        (SLAVE, ICW1_INIT),
        (MASTER + 1, PIC_BASE as u8),
        (SLAVE + 1, PIC_BASE as u8 + 8),
        (MASTER + 1, 1 << 2), // the slave hangs off IRQ 2
        (SLAVE + 1, 2),       // ... and is told its cascade identity
        (MASTER + 1, ICW4_8086),
        (SLAVE + 1, ICW4_8086),
        (MASTER + 1, 0xff), // mask every line
        (SLAVE + 1, 0xff),
    ];
    for (port, value) in steps {
        // SAFETY: these are the 8259 command and data ports on every PC, and port 0x80 (POST
        // codes) is the customary write-only delay between commands; interrupts are off.
        unsafe {
            Port::<u8>::new(port).write(value);
            Port::<u8>::new(0x80).write(0);
        }
    }
}

/// Masks interrupt line `line` (0–15).
pub fn mask(line: u8) {
    set_mask(line, true);
}

/// Unmasks interrupt line `line` (0–15); with the slave's, the cascade line too.
pub fn unmask(line: u8) {
    set_mask(line, false);
    if line >= 8 {
        set_mask(2, false);
    }
}

fn set_mask(line: u8, masked: bool) {
    let (port, bit) = if line < 8 { (MASTER + 1, line) } else { (SLAVE + 1, line - 8) };
    let mut data = Port::<u8>::new(port);
    // SAFETY: the 8259 data port holds the mask register after initialisation; read-modify-
    // write with interrupts off (the kernel's state) changes only this line's bit.
    unsafe {
        let old = data.read();
        data.write(if masked { old | 1 << bit } else { old & !(1 << bit) });
    }
}

/// Acknowledges line `line` at the 8259(s) that raised it.
pub fn end_of_interrupt(line: u8) {
    const EOI: u8 = 0x20;
    // SAFETY: writing EOI to the command ports acknowledges the interrupt in service; it
    // has no other effect.
    unsafe {
        if line >= 8 {
            Port::<u8>::new(SLAVE).write(EOI);
        }
        Port::<u8>::new(MASTER).write(EOI);
    }
}

/// Whether line 7 or 15 is really in service (else the 8259 raised a spurious interrupt,
/// which must not be acknowledged).
pub fn in_service(line: u8) -> bool {
    const READ_ISR: u8 = 0x0b;
    let (port, bit) = if line < 8 { (MASTER, line) } else { (SLAVE, line - 8) };
    // SAFETY: OCW3 selects the in-service register for the next read of the command port.
    unsafe {
        Port::<u8>::new(port).write(READ_ISR);
        Port::<u8>::new(port).read() & (1 << bit) != 0
    }
}
