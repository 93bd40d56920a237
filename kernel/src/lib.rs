//! The Seam microkernel.
#![cfg_attr(not(test), no_std)]

pub mod mem;
