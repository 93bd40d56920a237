//! The 8254 programmable interval timer, used only as a reference clock to calibrate the TSC
//! and the local APIC timer. Channel 2 is polled (its gate and output are wired to port
//! 0x61), so no interrupt is needed and channel 0 stays silent.

use x86_64::instructions::port::Port;

/// The PIT's input clock, fixed by the PC standard.
pub const PIT_HZ: u64 = 1_193_182;
/// The longest wait one count can give (16-bit counter): about 54.9 ms.
const MAX_CHUNK_US: u64 = 50_000;

const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
const GATE_PORT: u16 = 0x61;
const GATE2: u8 = 1 << 0;
const SPEAKER: u8 = 1 << 1;
const OUT2: u8 = 1 << 5;
/// Channel 2 (bits 7-6 = 10), low byte then high byte (11), mode 0 (000: interrupt on
/// terminal count), binary (0).
const CH2_MODE0: u8 = 0b1011_0000;

/// Busy-waits for `us` microseconds of PIT time.
pub fn wait_us(mut us: u64) {
    while us > 0 {
        let chunk = us.min(MAX_CHUNK_US);
        wait_chunk(chunk);
        us -= chunk;
    }
}

fn wait_chunk(us: u64) {
    let count = (PIT_HZ * us / 1_000_000).clamp(1, 0xffff) as u16;
    let mut gate = Port::<u8>::new(GATE_PORT);
    let mut command = Port::<u8>::new(COMMAND);
    let mut data = Port::<u8>::new(CHANNEL2_DATA);
    // SAFETY: ports 0x42, 0x43 and 0x61 belong to the PIT and the system control port on every
    // PC; the kernel is their only user, and interrupts do not touch them.
    unsafe {
        let old = gate.read();
        gate.write((old & !SPEAKER) | GATE2);
        command.write(CH2_MODE0);
        data.write(count as u8);
        data.write((count >> 8) as u8);
        // In mode 0, OUT2 goes low when the count is written and high when it reaches zero.
        while gate.read() & OUT2 == 0 {
            core::hint::spin_loop();
        }
        gate.write(old & !SPEAKER);
    }
}
