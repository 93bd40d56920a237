//! The Seam microkernel: scheduling, address spaces and capability IPC, nothing else.
//!
//! `main.rs` is only the bootloader's entry point; everything lives in this library. Modules
//! that need no hardware (frame bitmap, layout, exception reports, ramdisk parsing) build on
//! the host too, where `cargo test` exercises them; the rest builds only for the kernel target.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod arch;
pub mod cap;
pub mod ipc;
pub mod mem;
pub mod ramdisk;
pub mod sched;
pub mod task;
pub mod time;

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod object;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod selftest;
#[cfg(target_os = "none")]
mod syscall;
#[cfg(target_os = "none")]
pub mod trace;

#[cfg(target_os = "none")]
pub use boot::kernel_main;
