//! The interrupt descriptor table: all 256 vectors point at the entry stubs.
//!
//! Written out by hand rather than through the `x86_64` crate's typed table, whose handlers
//! need the unstable `x86-interrupt` ABI: here every vector shares one entry path and one
//! frame layout, which is what preemption needs.

use super::entry::{self, VECTORS};
use super::exception::{DOUBLE_FAULT, MACHINE_CHECK, NMI};
use super::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI};
use spin::Once;
use x86_64::instructions::tables::lidt;
use x86_64::structures::gdt::SegmentSelector;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

/// Present, DPL 0, 64-bit interrupt gate (the CPU clears IF on entry).
const INTERRUPT_GATE: u8 = 0x8e;

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    fn new(handler: u64, selector: SegmentSelector, ist: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: selector.0,
            ist,
            attributes: INTERRUPT_GATE,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; VECTORS]);

static IDT: Once<Idt> = Once::new();

/// Which IST stack a vector runs on (0 = the current stack).
fn ist_for(vector: u64) -> u8 {
    match vector {
        DOUBLE_FAULT => IST_DOUBLE_FAULT,
        NMI => IST_NMI,
        MACHINE_CHECK => IST_MACHINE_CHECK,
        _ => 0,
    }
}

pub fn init(code_selector: SegmentSelector) {
    let idt = IDT.call_once(|| {
        let mut gates = [Gate::default(); VECTORS];
        for (v, gate) in gates.iter_mut().enumerate() {
            *gate = Gate::new(entry::stub_address(v as u8), code_selector, ist_for(v as u64));
        }
        Idt(gates)
    });
    let pointer =
        DescriptorTablePointer { limit: (core::mem::size_of::<Idt>() - 1) as u16, base: VirtAddr::from_ptr(idt) };
    // SAFETY: the table is a static that is never changed after this, every gate points at a
    // stub that saves state and returns correctly, and the selector is the kernel code segment.
    unsafe { lidt(&pointer) };
}
