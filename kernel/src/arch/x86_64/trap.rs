//! Where every interrupt and exception lands after the entry stub: safe Rust deciding what
//! the trap means.
//!
//! Exceptions in the kernel are bugs, so they are reported and the machine stops (the test
//! harness reads the report); a breakpoint is logged and execution resumes. An exception in
//! user mode stops only the process that caused it. Device interrupts are acknowledged at
//! the local APIC; the timer also drives the scheduler.

use super::exception::{self, BREAKPOINT, MACHINE_CHECK, NMI};
use super::frame::TrapFrame;
use super::{apic, pic, qemu, vectors};
use crate::{console, time, warn};
use core::sync::atomic::{AtomicU64, Ordering};
use ipc::qemu::ExitCode;
use x86_64::registers::control::Cr2;

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// Breakpoints taken since boot (the self-tests check the trap return path with it).
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

#[no_mangle]
extern "C" fn seam_trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        BREAKPOINT => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
            crate::info!("breakpoint (#BP) at {:#x}, resuming", frame.rip);
        }
        // NMI and machine check are the machine's, not the process's.
        v @ 0..=31 if frame.came_from_user() && v != NMI && v != MACHINE_CHECK => {
            crate::task::fault_current(frame, Cr2::read_raw())
        }
        0..=31 => fatal(frame),
        vectors::TIMER => {
            time::tick();
            // Acknowledge first: a switch below may not come back here for a while.
            apic::end_of_interrupt();
            crate::task::on_timer_tick(frame.came_from_user());
        }
        // A legacy line a user driver has bound: masked, acknowledged, signalled. The 8259
        // can also raise a spurious IRQ 7 or 15, which must not be acknowledged.
        v if vectors::is_legacy_pic(v) => {
            let line = (v - vectors::PIC_BASE) as u8;
            if (line == 7 || line == 15) && !pic::in_service(line) {
                return;
            }
            let outranked = crate::task::ops::on_irq(line);
            pic::end_of_interrupt(line);
            if outranked {
                crate::task::preempt_from_interrupt(frame.came_from_user());
            }
        }
        // The local APIC's spurious vector needs no EOI.
        vectors::SPURIOUS => {}
        v => {
            warn!("unexpected interrupt on vector {v:#x}");
            apic::end_of_interrupt();
        }
    }
}

/// Reports an exception in the kernel and stops the machine: it is a kernel bug.
fn fatal(frame: &TrapFrame) -> ! {
    let cr2 = Cr2::read_raw();
    let mut out = console::emergency();
    let _ = exception::write_report(&mut out, frame, cr2, crate::mem::heap::top());
    qemu::exit(ExitCode::Failure)
}
