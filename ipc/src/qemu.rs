//! How a kernel running under the test harness reports its verdict: QEMU's isa-debug-exit.
//!
//! QEMU is started with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`. A 32-bit write of
//! `v` to the port makes QEMU exit with status `(v << 1) | 1`, so no kernel verdict can be
//! confused with QEMU's own 0 (clean shutdown) or 1 (error).

/// The I/O port of QEMU's isa-debug-exit device.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The value the kernel writes, and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything asked of the kernel succeeded.
    Success = 0x10,
    /// The kernel stopped on a failure: a fault report, a panic, a failed self-test.
    Failure = 0x11,
}

impl ExitCode {
    /// The status the QEMU process exits with when the kernel writes this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }

    /// The kernel's verdict from QEMU's exit status, if it came from the kernel at all.
    pub fn from_qemu_status(status: i32) -> Option<ExitCode> {
        [ExitCode::Success, ExitCode::Failure].into_iter().find(|c| c.qemu_status() == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_qemu_formula() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::Failure.qemu_status(), 35);
        assert_eq!(ExitCode::from_qemu_status(33), Some(ExitCode::Success));
        assert_eq!(ExitCode::from_qemu_status(35), Some(ExitCode::Failure));
        assert_eq!(ExitCode::from_qemu_status(0), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }
}
