//! Switching between threads, which always happens inside the kernel: the outgoing thread
//! calls [`switch_context`] and is frozen there, on its own kernel stack, until some other
//! thread switches back to it. Only the callee-saved registers need saving; the user's
//! registers are already in the [`TrapFrame`] at the top of each thread's kernel stack.
//!
//! A new thread's stack is made to look as if it had been switched away: `switch_context`
//! "returns" into [`seam_thread_start`], which finishes the switch and leaves for user mode
//! through the interrupt return path with the frame [`new_thread_stack`] wrote.

use super::frame::TrapFrame;
use super::gdt;
use super::syscall::user_rflags;

core::arch::global_asm!(
    ".text",
    // Saves the callee-saved registers on the running stack and the stack pointer in (rdi).
    ".macro seam_save_context",
    "  pushq %rbp",
    "  pushq %rbx",
    "  pushq %r12",
    "  pushq %r13",
    "  pushq %r14",
    "  pushq %r15",
    "  movq %rsp, (%rdi)",
    ".endm",
    "",
    ".global seam_switch_context",
    // rdi: where to save the outgoing RSP; rsi: the incoming RSP. Saves, then enters.
    "seam_switch_context:",
    "  seam_save_context",
    "  movq %rsi, %rdi",
    // rdi: the incoming RSP. Whatever the outgoing thread needs is saved already, or nothing.
    ".global seam_enter_context",
    "seam_enter_context:",
    "  movq %rdi, %rsp",
    "  popq %r15",
    "  popq %r14",
    "  popq %r13",
    "  popq %r12",
    "  popq %rbx",
    "  popq %rbp",
    "  ret",
    "",
    ".global seam_thread_start",
    "seam_thread_start:",
    "  call seam_thread_started",
    "  jmp seam_trap_return",
    "",
    // rdi: where to save the outgoing RSP; rsi: the incoming thread's trap frame. The
    // incoming thread has nothing suspended on its kernel stack: it leaves for user mode from
    // the frame at the stack's top, after the switch is finished on the stack below it.
    ".global seam_switch_to_frame",
    "seam_switch_to_frame:",
    "  seam_save_context",
    "  movq %rsi, %rsp",
    "  call seam_thread_started",
    "  jmp seam_trap_return",
    options(att_syntax)
);

extern "C" {
    fn seam_switch_context(save_rsp: *mut u64, load_rsp: u64);
    fn seam_switch_to_frame(save_rsp: *mut u64, frame: u64);
    fn seam_thread_start();
}

/// Callee-saved registers `seam_switch_context` pushes, plus its return address.
const SWITCH_WORDS: usize = 7;

/// Saves the running thread's kernel context in `*save_rsp` and resumes the thread whose
/// context is at `load_rsp`. Returns when some thread switches back to this one.
///
/// # Safety
/// 1. `save_rsp` must stay valid until the switch completes; nothing else writes it.
/// 2. `load_rsp` must be a context saved by this function or made by [`new_thread_stack`],
///    on a kernel stack that is mapped in every address space and not otherwise in use.
/// 3. Interrupts must be disabled, and the kernel stack and address space of the incoming
///    thread already installed ([`super::syscall::set_kernel_stack`], CR3).
pub unsafe fn switch_context(save_rsp: *mut u64, load_rsp: u64) {
    // SAFETY: obligations 1–3 are the caller's; the assembly saves and restores every
    // register the C ABI asks a callee to preserve.
    unsafe { seam_switch_context(save_rsp, load_rsp) }
}

/// As [`switch_context`], but the incoming thread resumes in user mode from the trap frame
/// at `frame` (the top of its kernel stack), by the interrupt return path. Returns when some
/// thread switches back to this one.
///
/// # Safety
/// As [`switch_context`], with obligation 2 replaced: `frame` must be the trap frame at the
/// top of the incoming thread's kernel stack, holding a user-mode state to resume (one saved
/// by an entry from user mode, or written in its shape), with nothing of that thread's
/// suspended below it.
pub unsafe fn switch_to_frame(save_rsp: *mut u64, frame: u64) {
    // SAFETY: the caller's obligations; the assembly saves the callee-saved registers as
    // `seam_switch_context` does, and leaves through `seam_trap_return`, which pops the frame.
    unsafe { seam_switch_to_frame(save_rsp, frame) }
}

/// Prepares a new thread's kernel stack, whose top is `top`, so that switching to it enters
/// user mode at `rip` with stack `rsp` and the first three argument registers set. Returns
/// the context to pass to [`switch_context`].
///
/// # Safety
/// `top` must be the 16-byte aligned top of a freshly mapped kernel stack of at least a page,
/// owned by the new thread and not in use.
pub unsafe fn new_thread_stack(top: u64, rip: u64, rsp: u64, args: [u64; 3]) -> u64 {
    let selectors = gdt::selectors();
    let frame = TrapFrame {
        args: [args[0], args[1], args[2], 0, 0, 0],
        rip,
        cs: u64::from(selectors.user_code.0),
        rflags: user_rflags(0),
        rsp,
        ss: u64::from(selectors.user_data.0),
        ..TrapFrame::default()
    };
    let frame_at = top - core::mem::size_of::<TrapFrame>() as u64;
    let context_at = frame_at - (SWITCH_WORDS * 8) as u64;
    // SAFETY: both writes lie within the top page of the stack, which the caller guarantees
    // is mapped and unused; the addresses are 8-byte aligned.
    unsafe {
        (frame_at as *mut TrapFrame).write(frame);
        let context = context_at as *mut u64;
        for i in 0..SWITCH_WORDS - 1 {
            context.add(i).write(0);
        }
        context.add(SWITCH_WORDS - 1).write(seam_thread_start as *const () as u64);
    }
    context_at
}
