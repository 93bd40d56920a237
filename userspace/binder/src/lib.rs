//! Android's Binder model, for Seam's compatibility server and the legacy programs that talk
//! to it. `Parcel` writes and reads Android's exact byte layout (libbinder's `Parcel.cpp`, as
//! `../shared/binder-facts.md` records it per release), with libbinder's method names, so
//! Android developers find their way; every read is checked and fails with an error value,
//! never a panic.
//!
//! `no_std` + `alloc`, no `unsafe`, tested on the host (`cargo test -p binder`), golden
//! byte sequences included.
//!
//! Where it stands (issue 14): the Parcel (primitives, strings, arrays, nullable markers,
//! structured parcelables, binder objects with offsets and stability, the interface token
//! and `enforce_interface` per release) and the Status header are done. Next: typed arrays
//! of the remaining kinds and more of AOSP's wire-protocol expectations as golden tests; the
//! client side (`ServiceManager`, `IBinder::transact`, death links, local binders) over a
//! Seam protocol in `ipc/`; then the compat server in `userspace/servers/compat/`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod codes;
pub mod parcel;
pub mod service_manager;
pub mod status;

pub use codes::StatusCode;
pub use parcel::{Android, Binder, FlatObject, Parcel, ParcelError};
pub use status::{Exception, Status};
