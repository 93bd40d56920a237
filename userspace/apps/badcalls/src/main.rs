//! `badcalls`: system calls with bad arguments, each of which must fail with the right error
//! code and leave the process running. Prints one line per check and exits with the number
//! of failed checks.
#![no_std]
#![no_main]

use core::arch::asm;
use ipc::cap::{init_slots, Kind};
use ipc::layout::{PAGE_SIZE, USER_END};
use ipc::syscall::{Syscall, ARG_REGS};
use ipc::Error;
use rt::{cap, ipc, println, sys};

rt::main!(main);

/// A program the test harness puts in the ramdisk: a real ELF file cut short.
const BROKEN: &str = "broken";

/// An address in the user half that nothing maps.
const UNMAPPED: u64 = 0x0000_2000_0000_0000;

fn main(_: rt::Args) -> u64 {
    let text = b"never printed";
    let ptr = text.as_ptr() as u64;
    let kernel = ipc::boot::KERNEL_BASE;
    let write = Syscall::DebugWrite as u64;
    let map = Syscall::Map as u64;
    let broken = BROKEN.as_ptr() as u64;
    let create = Syscall::ProcessCreate as u64;
    let (memory, archive) = (init_slots::MEMORY, init_slots::ARCHIVE);
    let last = *Syscall::ALL.last().unwrap() as u64;
    let checks: [(&str, u64, [u64; ARG_REGS], Error); 19] = [
        ("unknown syscall number", last + 1, [0; 6], Error::UnknownSyscall),
        ("retired syscall number (Spawn)", 8, [0; 6], Error::UnknownSyscall),
        ("syscall number 2^32", 1 << 32, [0; 6], Error::UnknownSyscall),
        ("syscall number -1", u64::MAX, [0; 6], Error::UnknownSyscall),
        ("write from a kernel pointer", write, [kernel, 16, 0, 0, 0, 0], Error::BadAddress),
        ("write from an unmapped pointer", write, [UNMAPPED, 16, 0, 0, 0, 0], Error::BadAddress),
        ("write from address 0", write, [0, 1, 0, 0, 0, 0], Error::BadAddress),
        ("write straddling the user end", write, [USER_END - 8, 16, 0, 0, 0, 0], Error::BadAddress),
        ("write whose length wraps around", write, [ptr, u64::MAX - ptr + 2, 0, 0, 0, 0], Error::BadLength),
        ("write of more than the maximum", write, [ptr, 1 << 20, 0, 0, 0, 0], Error::BadLength),
        ("map writable and executable", map, [UNMAPPED, PAGE_SIZE, 3, 0, 0, 0], Error::InvalidArgument),
        ("map with unknown flags", map, [UNMAPPED, PAGE_SIZE, 8, 0, 0, 0], Error::InvalidArgument),
        ("map at an unaligned address", map, [UNMAPPED + 1, PAGE_SIZE, 1, 0, 0, 0], Error::InvalidArgument),
        ("map in the kernel half", map, [kernel, PAGE_SIZE, 1, 0, 0, 0], Error::BadAddress),
        ("map whose length wraps around", map, [UNMAPPED, u64::MAX - PAGE_SIZE + 1, 1, 0, 0, 0], Error::BadLength),
        ("map over my own text", map, [ipc::layout::USER_IMAGE_BASE, PAGE_SIZE, 1, 0, 0, 0], Error::InvalidArgument),
        ("create from a program that does not exist", create, [memory, archive, ptr, 5, 40, 0], Error::NotFound),
        ("create from a malformed ELF file", create, [memory, archive, broken, 6, 40, 0], Error::InvalidArgument),
        ("wait on an empty slot", Syscall::Wait as u64, [40, 0, 0, 0, 0, 0], Error::InvalidCapability),
    ];
    let mut failed = 0;
    for (what, number, args, expected) in checks {
        // SAFETY: every call here is refused by the kernel's checks (which is the test), so no
        // memory changes; the two that would change memory (Map) name unmapped or refused
        // ranges.
        let got = unsafe { sys::raw(number, args) };
        if got == Err(expected) {
            println!("ok: {what}: {expected}");
        } else {
            println!("FAIL: {what}: got {got:?}, expected {expected}");
            failed += 1;
        }
    }
    let survivals = [
        ("callee registers survive a syscall", registers_survive(Syscall::Null, 0)),
        ("callee registers survive a sleep", registers_survive(Syscall::Sleep, 1)),
        // The thread leaves the kernel by another thread's frame and resumes from its own,
        // which the stub must have filled in.
        ("callee registers survive a wait for a notification", registers_survive_a_wait()),
        ("callee registers survive a yield", registers_survive(Syscall::Yield, 0)),
        ("null call still works", sys::null().is_ok()),
    ];
    for (what, ok) in survivals {
        if ok {
            println!("ok: {what}");
        } else {
            println!("FAIL: {what}");
            failed += 1;
        }
    }
    println!("badcalls: {} checks, {failed} failed", checks.len() + survivals.len());
    failed
}

/// [`registers_survive`] for an `NtfnWait` that blocks until a thread of this process signals
/// the notification a tick later.
fn registers_survive_a_wait() -> bool {
    let Ok(ntfn) = cap::create(Kind::Notification, 0) else { return false };
    let signaller = rt::thread::spawn(move || {
        sys::sleep(1);
        let _ = sys::signal(ntfn);
    });
    let survived = signaller.is_ok() && registers_survive(Syscall::NtfnWait, ntfn);
    let joined = signaller.is_ok_and(|t| t.join().is_ok());
    cap::release(ntfn);
    survived && joined
}

/// Loads known values into the registers the ABI preserves, makes call `number` with `arg`
/// in its first argument register, and compares.
fn registers_survive(number: Syscall, arg: u64) -> bool {
    let mut diff: u64;
    // SAFETY: the block saves and restores rbx and rbp (which Rust reserves) on the stack,
    // declares every other register it changes, and the calls it is given (Null, Sleep,
    // Yield, NtfnWait) touch no memory.
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "mov rbx, 0x1111", "mov rbp, 0x2222", "mov r12, 0x3333",
            "mov r13, 0x4444", "mov r14, 0x5555", "mov r15, 0x6666",
            "syscall",
            "xor rbx, 0x1111", "xor rbp, 0x2222", "xor r12, 0x3333",
            "xor r13, 0x4444", "xor r14, 0x5555", "xor r15, 0x6666",
            "or rbx, rbp", "or rbx, r12", "or rbx, r13", "or rbx, r14", "or rbx, r15",
            "mov rax, rbx",
            "pop rbp",
            "pop rbx",
            inlateout("rax") number as u64 => diff,
            inlateout("rdi") arg => _,
            out("rcx") _, out("r11") _, out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            out("rsi") _, out("rdx") _, out("r10") _, out("r8") _, out("r9") _,
        );
    }
    diff == 0
}
