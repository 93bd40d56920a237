//! Kernel time: the periodic tick from the local APIC timer.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Timer interrupts per second. 100 Hz (10 ms) is the scheduler's time-slice granularity
/// and keeps the interrupt load low for benchmarks.
pub const TICK_HZ: u64 = 100;

static TICKS: AtomicU64 = AtomicU64::new(0);
/// When set, every tick writes a log line: the self-test that proves logging from an
/// interrupt handler cannot deadlock against the code it interrupted.
static LOG_EVERY_TICK: AtomicBool = AtomicBool::new(false);

/// Called from the timer interrupt.
#[cfg(target_os = "none")]
pub fn tick() {
    let n = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    if LOG_EVERY_TICK.load(Ordering::Relaxed) {
        crate::debug!("tick {n} (logged from the timer interrupt)");
    }
}

pub fn log_every_tick(on: bool) {
    LOG_EVERY_TICK.store(on, Ordering::Relaxed);
}

/// Ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
