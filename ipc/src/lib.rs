//! Seam's ABI: the one definition shared by the kernel, the user runtime and the tools.
//!
//! Everything two sides of a boundary must agree on lives here and nowhere else: error codes
//! a user process sees, the boot manifest the image builder writes and the kernel reads, and
//! the exit codes the kernel reports to the test harness, system call numbers and their register
//! convention, the user address-space layout, capability kinds and rights, and message
//! layout. It grows with server protocols as those land.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod boot;
pub mod cap;
pub mod error;
pub mod fuzz;
pub mod layout;
pub mod msg;
pub mod proto;
pub mod qemu;
pub mod syscall;
pub mod system;
pub mod trace;

pub use error::Error;
