//! Kernel time: the periodic tick from the local APIC timer.

use core::sync::atomic::{AtomicU64, Ordering};

/// Timer interrupts per second. 100 Hz (10 ms) is the scheduler's time-slice granularity
/// and keeps the interrupt load low for benchmarks.
pub const TICK_HZ: u64 = 100;

static TICKS: AtomicU64 = AtomicU64::new(0);

/// Called from the timer interrupt.
pub fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
