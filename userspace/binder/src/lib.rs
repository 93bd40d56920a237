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
//! and `enforce_interface` per release), the Status header, the transaction codes, flags and
//! transport statuses ([`codes`]), and the client side ([`client`]: `Process`, `SpIBinder`,
//! local `Service`s, death recipients, the `ServiceManager` per release) over a `Channel`;
//! `seam` (feature `seam`) is the channel to the compat server on Seam. The driver and
//! ServiceManager it talks to are in `compat-core`; the protocol between a program and
//! compat is `ipc::proto::compat`. Next: marshalling generated from `.aidl` files.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

/// Declares an `i32` enum of Android's numbers once: the enum, and `ALL` (every value, in the
/// order given) with `from_i32`, which finds the value a number stands for.
macro_rules! i32_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(i32)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            fn find(v: i32) -> Option<$name> {
                $name::ALL.iter().copied().find(|e| *e as i32 == v)
            }
        }
    };
}

pub mod client;
pub mod codes;
pub mod parcel;
#[cfg(feature = "seam")]
pub mod seam;
pub mod service_manager;
pub mod status;

pub use codes::StatusCode;
pub use parcel::{Android, Binder, FlatObject, Parcel, ParcelError};
pub use status::{Exception, Status};
