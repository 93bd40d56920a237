//! The legacy 8259 PIC pair: moved off the exception vectors and masked for good.
//!
//! Seam takes interrupts through the local APIC. The 8259s must still be reprogrammed, because
//! their power-on vectors (8–15) collide with CPU exceptions and a spurious IRQ would look like
//! a double fault.

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
