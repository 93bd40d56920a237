//! Interrupt and exception entry: 256 small stubs and the common path that saves a full
//! [`TrapFrame`](super::frame::TrapFrame), calls [`trap::dispatch`](super::trap) in safe Rust,
//! and returns with `iretq`.
//!
//! Each stub pushes a zero where the CPU pushes no error code (so every frame has the same
//! shape), then its vector number, and jumps to the common path. Stubs are padded to
//! [`STUB_SIZE`] bytes, so the IDT finds vector `v` at `seam_trap_stubs + v * STUB_SIZE`: the
//! longest stub, `push $0; push $imm32; jmp rel32`, is 12 bytes.

use super::exception::ERROR_CODE_VECTORS;
use super::frame::{FRAME_CS_OFFSET, FRAME_VECTOR_OFFSET};

pub const STUB_SIZE: u64 = 16;
pub const VECTORS: usize = 256;

core::arch::global_asm!(
    ".text",
    ".balign {stub}",
    ".global seam_trap_stubs",
    "seam_trap_stubs:",
    ".set vector, 0",
    ".rept {vectors}",
    "  .balign {stub}",
    "  .if (({mask} >> vector) & 1) == 0",
    "    pushq $0",
    "  .endif",
    "  pushq $vector",
    "  jmp seam_trap_common",
    "  .set vector, vector + 1",
    ".endr",
    "",
    // Stack on entry: vector, error code, then the CPU's RIP, CS, RFLAGS, RSP, SS.
    "seam_trap_common:",
    // Coming from user mode, GS holds the user's base: switch to the kernel's per-CPU base.
    "  testb $3, {cs}(%rsp)",
    "  jz 1f",
    "  swapgs",
    "1:",
    super::frame::push_general_registers!(),
    // The frame is 22 words above a 16-byte aligned point (the CPU aligns RSP before it
    // pushes), so RSP is 16-byte aligned here, as the call below needs.
    "  movq %rsp, %rdi",
    "  cld",
    "  call seam_trap_dispatch",
    // Also where a new thread first enters user mode, and where a syscall returns when
    // `sysret` cannot be used: the frame on the stack says where to go.
    ".global seam_trap_return",
    "seam_trap_return:",
    "  popq %rdi",
    "  popq %rsi",
    "  popq %rdx",
    "  popq %r10",
    "  popq %r8",
    "  popq %r9",
    "  popq %rax",
    "  popq %rbx",
    "  popq %rcx",
    "  popq %rbp",
    "  popq %r11",
    "  popq %r12",
    "  popq %r13",
    "  popq %r14",
    "  popq %r15",
    "  testb $3, {cs}(%rsp)",
    "  jz 2f",
    "  swapgs",
    "2:",
    "  addq $16, %rsp",
    "  iretq",
    stub = const STUB_SIZE,
    vectors = const VECTORS,
    mask = const ERROR_CODE_VECTORS,
    cs = const FRAME_CS_OFFSET - FRAME_VECTOR_OFFSET,
    options(att_syntax)
);

extern "C" {
    static seam_trap_stubs: [u8; VECTORS * STUB_SIZE as usize];
}

/// The address of the entry stub for `vector`.
pub fn stub_address(vector: u8) -> u64 {
    // Only the address of the stub table is taken; it is never read as data.
    let base = core::ptr::addr_of!(seam_trap_stubs) as u64;
    base + vector as u64 * STUB_SIZE
}
