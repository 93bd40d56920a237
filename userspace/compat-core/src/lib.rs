//! The compatibility server's logic, host-testable: see [`driver`] for the Binder driver
//! and [`service_manager`] for handle 0.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod driver;
