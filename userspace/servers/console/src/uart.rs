//! COM1, driven from user space through the ports the description grants: the transmit
//! and receive registers, the line status, and the interrupt enable.

use core::arch::asm;

const COM1: u16 = 0x3f8;
const DATA: u16 = COM1;
const INTERRUPT_ENABLE: u16 = COM1 + 1;
const FIFO_CONTROL: u16 = COM1 + 2;
const MODEM_CONTROL: u16 = COM1 + 4;
const LINE_STATUS: u16 = COM1 + 5;

const RECEIVED: u8 = 1 << 0;
const TRANSMIT_EMPTY: u8 = 1 << 5;
/// Interrupt enable: data received.
const ON_RECEIVE: u8 = 1 << 0;
/// Modem control: OUT2, which lets the UART's interrupt reach the interrupt controller.
const OUT2: u8 = 1 << 3;
/// FIFO control: the 16-byte FIFOs on and emptied, interrupting from the first byte. Without
/// them every byte is an interrupt and a trip through the kernel before the next can come.
const FIFOS_ON: u8 = 0b0000_0111;

fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: `in` from a COM1 port, which the console enabled for this process
    // (IoPortsEnable) before any call here; reading touches no memory.
    unsafe { asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack)) };
    value
}

fn outb(port: u16, value: u8) {
    // SAFETY: as for `inb`; writing a UART register touches no memory.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack)) };
}

/// Has the UART raise its interrupt when a byte arrives.
pub fn enable_receive_interrupt() {
    outb(FIFO_CONTROL, FIFOS_ON);
    outb(MODEM_CONTROL, inb(MODEM_CONTROL) | OUT2);
    outb(INTERRUPT_ENABLE, ON_RECEIVE);
}

/// Turns the receive interrupt off and on: if bytes are waiting, the interrupt line drops
/// and rises again, an edge the interrupt controller sees.
pub fn rearm() {
    outb(INTERRUPT_ENABLE, 0);
    outb(INTERRUPT_ENABLE, ON_RECEIVE);
}

/// A received byte, if one is waiting.
pub fn receive() -> Option<u8> {
    (inb(LINE_STATUS) & RECEIVED != 0).then(|| inb(DATA))
}

pub fn write_byte(b: u8) {
    while inb(LINE_STATUS) & TRANSMIT_EMPTY == 0 {
        core::hint::spin_loop();
    }
    outb(DATA, b);
}

/// Writes text, each `\n` as `\r\n`.
pub fn write(text: &str) {
    for b in text.bytes() {
        if b == b'\n' {
            write_byte(b'\r');
        }
        write_byte(b);
    }
}
