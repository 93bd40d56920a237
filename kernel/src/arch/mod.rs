//! Architecture support. Seam runs on x86-64 only; the split keeps hardware details in one
//! place, where a reader knows to expect them.
pub mod x86_64;
pub use self::x86_64::*;
