//! The local APIC: the per-CPU interrupt controller, and its timer that drives preemption.
//!
//! x2APIC (registers as MSRs) is used where the CPU has it, xAPIC (registers in an uncached
//! MMIO page) otherwise; both are addressed by the same xAPIC register offsets. The timer is
//! calibrated against the PIT, then runs periodically at [`time::TICK_HZ`](crate::time::TICK_HZ).

use super::{pit, vectors};
use crate::mem;
use raw_cpuid::CpuId;
use spin::Once;
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_GLOBAL_ENABLE: u64 = 1 << 11;
const X2APIC_ENABLE: u64 = 1 << 10;
const X2APIC_MSR_BASE: u32 = 0x800;

const REG_ID: u32 = 0x20;
const REG_VERSION: u32 = 0x30;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_LINT0: u32 = 0x350;
const REG_LVT_ERROR: u32 = 0x370;
/// LINT0 delivery mode ExtINT: the 8259's interrupts arrive through the local APIC as if it
/// were not there ("virtual wire"), with the 8259's own vector.
const LVT_EXTINT: u32 = 0b111 << 8;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const LVT_TIMER_PERIODIC: u32 = 1 << 17;
/// Divide configuration 0b0011: the timer counts at bus clock / 16.
const TIMER_DIVIDE_16: u32 = 0b0011;
const CALIBRATION_US: u64 = 50_000;

#[derive(Clone, Copy)]
enum Access {
    X2Apic,
    /// Virtual address of the uncached register page.
    XApic(u64),
}

static LAPIC: Once<Access> = Once::new();

fn read(reg: u32) -> u32 {
    match LAPIC.get() {
        // SAFETY: x2APIC mode is enabled, so MSR 0x800 + reg/16 is the register `reg`.
        Some(Access::X2Apic) => unsafe { Msr::new(X2APIC_MSR_BASE + (reg >> 4)).read() as u32 },
        // SAFETY: the page is mapped uncached at `base` for the kernel's lifetime and `reg` is a
        // register offset inside it, aligned to 16 bytes.
        Some(Access::XApic(base)) => unsafe { core::ptr::read_volatile((base + reg as u64) as *const u32) },
        None => 0,
    }
}

fn write(reg: u32, value: u32) {
    match LAPIC.get() {
        // SAFETY: as in `read`; every register written here is writable in x2APIC mode.
        Some(Access::X2Apic) => unsafe { Msr::new(X2APIC_MSR_BASE + (reg >> 4)).write(value as u64) },
        // SAFETY: as in `read`.
        Some(Access::XApic(base)) => unsafe { core::ptr::write_volatile((base + reg as u64) as *mut u32, value) },
        None => {}
    }
}

/// Enables the local APIC at physical address `phys_base` (from ACPI's MADT). Returns the
/// mode's name for the boot log.
pub fn init(phys_base: u64) -> &'static str {
    let x2apic = CpuId::new().get_feature_info().is_some_and(|f| f.has_x2apic());
    let mut base_msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC; setting the enable bits keeps
    // the base address unchanged, and x2APIC is only requested where CPUID reports it.
    unsafe {
        let value = base_msr.read() | APIC_GLOBAL_ENABLE | if x2apic { X2APIC_ENABLE } else { 0 };
        base_msr.write(value);
    }
    LAPIC.call_once(|| {
        if x2apic {
            Access::X2Apic
        } else {
            Access::XApic(mem::mmio::map(phys_base, 4096).expect("cannot map the local APIC"))
        }
    });
    write(REG_TPR, 0);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_LVT_LINT0, LVT_EXTINT);
    write(REG_SVR, SVR_ENABLE | vectors::SPURIOUS as u32);
    if x2apic {
        "x2APIC"
    } else {
        "xAPIC"
    }
}

pub fn id() -> u32 {
    match LAPIC.get() {
        Some(Access::X2Apic) => read(REG_ID),
        _ => read(REG_ID) >> 24,
    }
}

pub fn version() -> u32 {
    read(REG_VERSION) & 0xff
}

/// Signals the end of the interrupt being handled.
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// Measures how fast the timer counts (at divide-by-16), in counts per second.
pub fn calibrate_timer() -> u64 {
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_16);
    write(REG_LVT_TIMER, LVT_MASKED | vectors::TIMER as u32);
    write(REG_TIMER_INITIAL, u32::MAX);
    pit::wait_us(CALIBRATION_US);
    let remaining = read(REG_TIMER_CURRENT);
    write(REG_TIMER_INITIAL, 0);
    (u32::MAX - remaining) as u64 * 1_000_000 / CALIBRATION_US
}

/// Starts the periodic tick: `counts_per_second` from [`calibrate_timer`], `hz` ticks a second.
pub fn start_periodic(counts_per_second: u64, hz: u64) -> u32 {
    let initial = (counts_per_second / hz).clamp(1, u32::MAX as u64) as u32;
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_16);
    write(REG_LVT_TIMER, LVT_TIMER_PERIODIC | vectors::TIMER as u32);
    write(REG_TIMER_INITIAL, initial);
    initial
}
