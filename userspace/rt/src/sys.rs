//! System calls: one raw entry ([`syscall`]) and a safe wrapper for each call in
//! [`ipc::syscall::Syscall`]. The register convention is documented there, once.

use core::arch::asm;
use ipc::syscall::{self, ExitStatus, MapFlags, Syscall, ARG_REGS};
use ipc::Error;

/// The raw system call: number and six argument registers in, status and six result
/// registers out.
///
/// # Safety
/// Some calls change this process's memory (`Map`, `Unmap`) or end it (`Exit`): the caller
/// must make sure no live Rust reference points into memory a call unmaps. The rest are
/// harmless, which is why their wrappers are safe.
#[inline(always)]
pub unsafe fn syscall(number: u64, args: [u64; ARG_REGS]) -> (u64, [u64; ARG_REGS]) {
    let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5] = args;
    let status: u64;
    // SAFETY: `syscall` enters the kernel, which returns to the next instruction with the
    // registers as ipc::syscall documents: rcx and r11 clobbered, the rest preserved. No
    // stack is used. The caller answers for what the call itself does.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => status,
            inlateout("rdi") a0,
            inlateout("rsi") a1,
            inlateout("rdx") a2,
            inlateout("r10") a3,
            inlateout("r8") a4,
            inlateout("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (status, [a0, a1, a2, a3, a4, a5])
}

/// A call that is safe whatever its arguments: its status decoded.
fn call(call: Syscall, args: [u64; ARG_REGS]) -> Result<[u64; ARG_REGS], Error> {
    debug_assert!(!matches!(call, Syscall::Unmap | Syscall::Exit));
    // SAFETY: every call but Unmap and Exit leaves existing memory alone (Map only maps
    // unmapped pages); those two have their own wrappers.
    let (status, results) = unsafe { syscall(call as u64, args) };
    syscall::status(status).map(|()| results)
}

/// A raw call by number, for tests of the kernel's checks: the status decoded.
///
/// # Safety
/// As for [`syscall`].
pub unsafe fn raw(number: u64, args: [u64; ARG_REGS]) -> Result<[u64; ARG_REGS], Error> {
    // SAFETY: passed on to the caller.
    let (status, results) = unsafe { syscall(number, args) };
    syscall::status(status).map(|()| results)
}

pub fn null() -> Result<(), Error> {
    call(Syscall::Null, [0; 6]).map(drop)
}

/// Writes `bytes` to the debug console; returns how many were taken.
pub fn debug_write(bytes: &[u8]) -> Result<usize, Error> {
    call(Syscall::DebugWrite, [bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0, 0]).map(|r| r[0] as usize)
}

pub fn exit(code: u64) -> ! {
    // SAFETY: the process ends; no reference outlives it.
    unsafe { syscall(Syscall::Exit as u64, [code, 0, 0, 0, 0, 0]) };
    unreachable!("the kernel returned from exit")
}

pub fn yield_now() {
    let _ = call(Syscall::Yield, [0; 6]);
}

pub fn sleep(ticks: u64) {
    let _ = call(Syscall::Sleep, [ticks, 0, 0, 0, 0, 0]);
}

/// (ticks since boot, ticks per second).
pub fn ticks() -> (u64, u64) {
    call(Syscall::Ticks, [0; 6]).map(|r| (r[0], r[1])).unwrap_or((0, 1))
}

/// Maps `len` bytes of fresh zeroed memory at the page-aligned `addr`.
pub fn map(addr: u64, len: u64, flags: MapFlags) -> Result<(), Error> {
    call(Syscall::Map, [addr, len, flags.bits(), 0, 0, 0]).map(drop)
}

/// Unmaps `len` bytes at the page-aligned `addr`.
///
/// # Safety
/// Nothing may refer to the range afterwards.
pub unsafe fn unmap(addr: u64, len: u64) -> Result<(), Error> {
    // SAFETY: passed on to the caller.
    unsafe { raw(Syscall::Unmap as u64, [addr, len, 0, 0, 0, 0]) }.map(drop)
}

/// Starts boot program `name` with `args` at `priority`; returns its process id.
pub fn spawn(name: &str, args: &str, priority: u8) -> Result<u64, Error> {
    let a = [name.as_ptr() as u64, name.len() as u64, args.as_ptr() as u64, args.len() as u64, priority as u64, 0];
    call(Syscall::Spawn, a).map(|r| r[0])
}

/// Waits for child `pid` to end.
pub fn wait(pid: u64) -> Result<ExitStatus, Error> {
    let r = call(Syscall::Wait, [pid, 0, 0, 0, 0, 0])?;
    ExitStatus::from_words(r[0], r[1])
}

/// (free frames, kernel heap bytes in use).
pub fn mem_stats() -> (u64, u64) {
    call(Syscall::MemStats, [0; 6]).map(|r| (r[0], r[1])).unwrap_or((0, 0))
}
