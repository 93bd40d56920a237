//! The time-stamp counter: the clock behind log timestamps and, later, every benchmark.
//!
//! Its rate is measured once at boot against the PIT, whose input clock is fixed by the PC
//! standard, rather than trusted from CPUID (which many virtual CPUs leave blank).

use super::pit;
use core::sync::atomic::{AtomicU64, Ordering};

/// How long the calibration window is; longer is more precise and slows every boot.
const CALIBRATION_MS: u64 = 50;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is clear in the kernel, so it cannot fault.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Measures the TSC rate and marks "now" as time zero for timestamps.
pub fn calibrate() {
    let start = rdtsc();
    BOOT_TSC.store(start, Ordering::Relaxed);
    pit::wait_us(CALIBRATION_MS * 1000);
    let ticks = rdtsc().wrapping_sub(start);
    TSC_HZ.store(ticks * 1000 / CALIBRATION_MS, Ordering::Relaxed);
}

/// The measured rate, or 0 before `calibrate`.
pub fn hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Microseconds since `calibrate`, or 0 before it.
pub fn micros_since_boot() -> u64 {
    match hz() {
        0 => 0,
        hz => {
            let elapsed = rdtsc().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
            (elapsed as u128 * 1_000_000 / hz as u128) as u64
        }
    }
}
