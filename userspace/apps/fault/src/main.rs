//! `fault KIND`: does one thing a user process must not be able to get away with. The kernel
//! must stop this process with a report, and nothing else. KIND is one of [`KINDS`].
#![no_std]
#![no_main]

use core::arch::asm;
use rt::{ipc, println};

rt::main!(main);

const KINDS: [&str; 9] = [
    "kernel-read",
    "text-write",
    "nx-jump",
    "privileged",
    "divide",
    "null",
    "invalid-opcode",
    "umip",
    "stack-overflow",
];

fn main(args: rt::Args) -> u64 {
    let kind = args.get(0).unwrap_or("");
    println!("about to fault: {kind}");
    match kind {
        // Each arm is meant to fault; the kernel stops the process before it goes on. The
        // SAFETY notes say why no memory is harmed even if it did not.
        "kernel-read" => {
            let p = ipc::boot::KERNEL_BASE as *const u64;
            // SAFETY: a read of a u64-aligned address; it must fault, and changes nothing.
            let v = unsafe { p.read_volatile() };
            println!("read kernel memory: {v:#x}");
        }
        "text-write" => {
            let p = main as fn(rt::Args) -> u64 as *mut u8;
            // SAFETY: the text is mapped read-only, so the write faults instead of landing.
            unsafe { p.write_volatile(0xcc) };
            println!("wrote to my own text");
        }
        "nx-jump" => {
            // A `ret` instruction in data: mapped, but not executable.
            static RET: [u8; 1] = [0xc3];
            // SAFETY: the bytes are a lone `ret`, a valid function body; the fetch must fault.
            let f: extern "C" fn() = unsafe { core::mem::transmute(RET.as_ptr()) };
            f();
            println!("executed data");
        }
        // SAFETY: `hlt` touches no memory; in ring 3 it raises #GP.
        "privileged" => unsafe { asm!("hlt") },
        "divide" => {
            let (n, d) = (1u64, core::hint::black_box(0u64));
            let q: u64;
            // SAFETY: `div` touches only rax/rdx; by zero it raises #DE (Rust's `/` would panic).
            unsafe { asm!("div {d}", d = in(reg) d, inlateout("rax") n => q, inlateout("rdx") 0u64 => _) };
            println!("divided by zero: {q}");
        }
        "null" => {
            // SAFETY: page 0 is never mapped, so the read faults and changes nothing.
            let v = unsafe { core::ptr::null::<u64>().read_volatile() };
            println!("read address 0: {v}");
        }
        // SAFETY: `ud2` touches no memory; it raises #UD.
        "invalid-opcode" => unsafe { asm!("ud2") },
        "umip" => {
            // `sgdt` would tell ring 3 where the kernel's GDT is; with UMIP on it raises #GP.
            let mut gdtr = [0u8; 10];
            // SAFETY: `sgdt` writes ten bytes, the size of the buffer it is given.
            unsafe { asm!("sgdt [{}]", in(reg) gdtr.as_mut_ptr()) };
            println!("read the GDT register: {gdtr:?}");
        }
        "stack-overflow" => {
            // Below the stack is an unmapped guard: the recursion faults there.
            println!("recursed {} deep", recurse(0));
        }
        _ => {
            println!("usage: fault KIND, KIND one of {KINDS:?}");
            return 2;
        }
    }
    println!("still running after {kind}: the kernel let it through");
    1
}

/// Recurses without end, half a KiB of stack per call.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[(depth % 64) as usize]
}
