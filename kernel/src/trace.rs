//! The IPC trace: with the boot flag `trace`, the kernel records each IPC event (call, send,
//! receive, reply, fault, switch; [`ipc::trace`]) with its TSC into a ring of the newest
//! [`TRACE_CAPACITY`] events, which the holder of an Introspect capability drains with
//! `TraceRead`. Without the flag the ring is never made, the general path's records stop at
//! one test of [`on`], and the fast path runs a copy of itself compiled without them (see
//! `ipc::fastpath`), so it pays nothing.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use ipc::trace::{Event, Kind, EVENT_WORDS, TRACE_CAPACITY};
use spin::Mutex;
use x86_64::instructions::interrupts;

static ON: AtomicBool = AtomicBool::new(false);
static RING: Mutex<Option<Ring>> = Mutex::new(None);

/// The newest events, and how far the reader has got.
struct Ring {
    events: Vec<[u64; EVENT_WORDS]>,
    /// Events recorded since boot; the newest is at `(written - 1) % TRACE_CAPACITY`.
    written: u64,
    /// Events recorded since boot that the reader has had or lost.
    read: u64,
}

impl Ring {
    fn push(&mut self, words: [u64; EVENT_WORDS]) {
        let at = (self.written % TRACE_CAPACITY as u64) as usize;
        match self.events.get_mut(at) {
            Some(slot) => *slot = words,
            None => self.events.push(words),
        }
        self.written += 1;
    }
}

/// Starts recording (the boot flag). Takes the ring's memory from the kernel heap now, so
/// recording never allocates.
pub fn start() {
    let mut events = Vec::new();
    if events.try_reserve_exact(TRACE_CAPACITY).is_err() {
        crate::warn!("IPC trace off: no room for its {TRACE_CAPACITY} events");
        return;
    }
    interrupts::without_interrupts(|| *RING.lock() = Some(Ring { events, written: 0, read: 0 }));
    ON.store(true, Ordering::Relaxed);
}

/// Whether events are being recorded.
#[inline(always)]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Records an event of `thread` (of process `pid`), stamped with the TSC now.
pub fn record(kind: Kind, pid: u64, thread: u64, partner: u64, badge: u64, label: u64) {
    if !on() {
        return;
    }
    let event = Event {
        tsc: crate::arch::tsc::rdtsc(),
        kind,
        pid: u32::try_from(pid).unwrap_or(u32::MAX),
        thread: thread as u32,
        partner: partner as u32,
        badge,
        label: label as u32,
    };
    interrupts::without_interrupts(|| {
        if let Some(ring) = RING.lock().as_mut() {
            ring.push(event.to_words());
        }
    });
}

/// How many events are there to read (lost ones not counted); None if not recording.
pub fn unread() -> Option<u64> {
    interrupts::without_interrupts(|| {
        let guard = RING.lock();
        let ring = guard.as_ref()?;
        Some(ring.written - ring.read.max(oldest(ring)))
    })
}

/// The first event the ring still holds.
fn oldest(ring: &Ring) -> u64 {
    ring.written.saturating_sub(TRACE_CAPACITY as u64)
}

/// Takes up to `max` of the oldest unread events, as the bytes `TraceRead` copies out, and
/// how many events were overwritten unread since the last read (empty if not recording).
pub fn drain(max: u64) -> (Vec<u8>, u64) {
    interrupts::without_interrupts(|| {
        let mut guard = RING.lock();
        let Some(ring) = guard.as_mut() else { return (Vec::new(), 0) };
        let start = ring.read.max(oldest(ring));
        let lost = start - ring.read;
        let count = (ring.written - start).min(max);
        let mut out = Vec::with_capacity(count as usize * EVENT_WORDS * 8);
        for n in start..start + count {
            for word in ring.events[(n % TRACE_CAPACITY as u64) as usize] {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        ring.read = start + count;
        (out, lost)
    })
}
