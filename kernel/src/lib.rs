//! The Seam microkernel: scheduling, address spaces and capability IPC, nothing else.
//!
//! `main.rs` is only the bootloader's entry point; everything lives in this library. Modules
//! that need no hardware (frame bitmap, layout, exception reports, ramdisk parsing) build on
//! the host too, where `cargo test` exercises them; the rest builds only for the kernel target.
//!
//! The modules are `pub(crate)`, but for the memory layout the binary reads: a static that a
//! public function of the crate names is exported, and position-independent code reaches an
//! exported static through the GOT, one load more on every access (the IPC fast path's
//! included).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
// Built for the host only the hardware-free modules are whole, and the kernel code that uses
// the rest of their items is not there.
#![cfg_attr(not(target_os = "none"), allow(dead_code, unused_imports))]

extern crate alloc;

pub(crate) mod arch;
pub(crate) mod cap;
pub(crate) mod ipc;
pub mod mem;
pub(crate) mod ramdisk;
pub(crate) mod sched;
pub(crate) mod task;
pub(crate) mod time;

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
pub(crate) mod console;
#[cfg(target_os = "none")]
pub(crate) mod object;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod selftest;
#[cfg(target_os = "none")]
mod syscall;
#[cfg(target_os = "none")]
pub(crate) mod trace;

#[cfg(target_os = "none")]
pub use boot::kernel_main;
