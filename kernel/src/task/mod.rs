//! Threads and processes: creating them from boot programs, running them under the
//! scheduler's policy, blocking and waking them, and ending them.
//!
//! One lock guards the whole table (`Tasks`): the kernel runs with interrupts off and on one
//! CPU, so it is never contended; it only keeps the borrow checker and the timer interrupt
//! honest. A process has one thread when it starts and may make more (`threads`); the
//! thread is the unit of scheduling. `ipc` moves messages between threads; `ops` is every
//! other operation on kernel objects; `introspect` reads the whole system for the holder of
//! an Introspect capability.

#[cfg(target_os = "none")]
pub mod buffer;
pub mod elf;
pub(crate) mod lock;

#[cfg(target_os = "none")]
pub mod introspect;
#[cfg(target_os = "none")]
pub mod ipc;
#[cfg(target_os = "none")]
mod load;
#[cfg(target_os = "none")]
pub mod ops;
#[cfg(target_os = "none")]
mod table;
#[cfg(target_os = "none")]
pub mod threads;

#[cfg(target_os = "none")]
pub use table::*;
