//! Seam's user runtime: what every user program links against.
//!
//! It provides the entry point (`_start`, which hands the argument string to the program's
//! `main`), safe wrappers for every system call ([`sys`], built on `ipc`'s ABI), a heap
//! that grows through the `Map` call, `print!`/`println!` on the kernel's debug console,
//! threads ([`thread`]), and a panic handler that reports and exits with [`PANIC_EXIT_CODE`].
//!
//! A program is a `#![no_std] #![no_main]` binary that writes `rt::main!(main);` with
//! `fn main(args: rt::Args) -> u64`.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod bits;
pub mod cap;
pub mod check;
pub mod compat;
pub mod console;
pub mod frame;
pub mod gallery;
mod heap;
pub mod init;
pub mod long;
pub mod name;
pub mod print;
pub mod rand;
pub mod settings;
mod start;
pub mod store;
pub mod sys;
pub mod system;
pub mod thread;
pub mod weather;

pub use ipc;
pub use start::Args;

/// Why a call to one of the system's servers failed: the kernel refused the call (or the
/// server died with it: `ObjectGone`), or the server refused the request with one of its
/// protocol's errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed<E> {
    Kernel(ipc::Error),
    Server(E),
}

impl<E: core::fmt::Display> core::fmt::Display for Failed<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Failed::Kernel(e) => write!(f, "{e}"),
            Failed::Server(e) => write!(f, "{e}"),
        }
    }
}

impl<E> From<ipc::Error> for Failed<E> {
    fn from(e: ipc::Error) -> Self {
        Failed::Kernel(e)
    }
}

/// Runs `call` once more if the server died while answering it (`ObjectGone`): its
/// supervisor restarts it on the same endpoint, so the second try reaches the new instance.
/// Only for requests that may safely run twice (each client module says which do).
pub fn retry_once<T, E>(call: impl Fn() -> Result<T, Failed<E>>) -> Result<T, Failed<E>> {
    match call() {
        Err(Failed::Kernel(ipc::Error::ObjectGone)) => call(),
        other => other,
    }
}

/// The exit code of a process whose code panicked.
pub const PANIC_EXIT_CODE: u64 = 101;

/// Names the program's `main`: `rt::main!(main);` with `fn main(args: rt::Args) -> u64`.
/// Its return value is the process's exit code.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[no_mangle]
        fn seam_main(args: $crate::Args) -> u64 {
            $main(args)
        }
    };
}
