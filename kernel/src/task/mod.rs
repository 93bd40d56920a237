//! Threads and processes: creating them from boot programs, running them under the
//! scheduler's policy, blocking and waking them, and ending them.
//!
//! One lock guards the whole table (`Tasks`): the kernel runs with interrupts off and on one
//! CPU, so it is never contended; it only keeps the borrow checker and the timer interrupt
//! honest. Every process has one thread for now; the thread is its unit of scheduling.

pub mod elf;

#[cfg(target_os = "none")]
mod load;
#[cfg(target_os = "none")]
mod table;

#[cfg(target_os = "none")]
pub use load::spawn;
#[cfg(target_os = "none")]
pub use table::*;
