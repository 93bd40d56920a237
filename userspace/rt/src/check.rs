//! Checks a test program makes and reports: an `ok: WHAT` or `FAIL: WHAT` line each, then
//! a summary `PROGRAM SCENARIO: N checks, F failed` that `cargo xtask test` reads.

use crate::println;
use alloc::format;
use alloc::string::String;
use ipc::Error;

pub struct Checks {
    name: String,
    total: u64,
    failed: u64,
}

impl Checks {
    /// Checks of scenario `name`, e.g. `"ipctest pingpong"`.
    pub fn new(name: &str) -> Checks {
        Checks { name: name.into(), total: 0, failed: 0 }
    }

    pub fn check(&mut self, what: &str, ok: bool) {
        self.total += 1;
        if ok {
            println!("ok: {what}");
        } else {
            self.failed += 1;
            println!("FAIL: {what}");
        }
    }

    /// Checks that a call succeeded or failed with exactly the error wanted.
    pub fn expect<T: core::fmt::Debug>(&mut self, what: &str, got: Result<T, Error>, want: Result<(), Error>) {
        let ok = match (&got, want) {
            (Ok(_), Ok(())) => true,
            (Err(e), Err(w)) => *e == w,
            _ => false,
        };
        self.check(&format!("{what} (got {got:?}, want {want:?})"), ok);
    }

    /// Checks that a value is exactly the one wanted.
    pub fn equal<T: core::fmt::Debug + PartialEq>(&mut self, what: &str, got: T, want: T) {
        let ok = got == want;
        self.check(&format!("{what} (got {got:?}, want {want:?})"), ok);
    }

    /// Prints the summary; returns the number of failed checks (the exit code).
    pub fn done(self) -> u64 {
        println!("{}: {} checks, {} failed", self.name, self.total, self.failed);
        self.failed
    }
}
