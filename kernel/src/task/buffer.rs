//! A thread's IPC buffer page, as the kernel reads and writes it: through the physical
//! window, by the page's physical address, so that a message can go from one thread's buffer
//! to another's whichever address space is installed. Used by the general IPC path
//! (`task::ipc`) and the fast path (`ipc::fastpath`) alike.

use crate::mem::phys_to_virt;
use ipc::msg::{BUFFER_WORDS_OFFSET, MSG_MAX_WORDS, MSG_REGS};

/// A word of a thread's IPC buffer.
pub fn buffer_word(buffer: u64, offset: usize) -> u64 {
    // SAFETY: `buffer` is the physical address of a live thread's IPC buffer page, mapped
    // through the physical window; `offset` is a constant offset inside `IpcBuffer`, which
    // fits in the page; user code cannot run meanwhile (one CPU, kernel not preemptible).
    unsafe { core::ptr::read_volatile((phys_to_virt(buffer) + offset as u64) as *const u64) }
}

/// Copies the `beyond` words of a message that lie past the registers (its buffer words),
/// from the IPC buffer page at physical address `src` to the one at `dst`: only those sent.
#[inline(always)]
pub fn copy_buffer_words(src: u64, dst: u64, beyond: usize) {
    let beyond = beyond.min(MSG_MAX_WORDS - MSG_REGS);
    if beyond == 0 || src == dst {
        return;
    }
    let offset = (BUFFER_WORDS_OFFSET + MSG_REGS * 8) as u64;
    // One `rep movsq`, inline, rather than a call to `memcpy`: a message's words are a few
    // aligned quadwords, and the call's set-up and tail handling cost more than the copy.
    // SAFETY: both are live threads' IPC buffer pages, kernel-owned, mapped through the
    // physical window, and distinct (checked); `MSG_REGS + beyond <= MSG_MAX_WORDS` keeps the
    // range inside the buffer's `words`, inside the page. User code cannot run meanwhile (one
    // CPU, the kernel not preemptible), so nothing else touches them. The direction flag is
    // clear, as the Rust ABI requires (the entry also clears it).
    unsafe {
        core::arch::asm!(
            "rep movsq",
            inout("rcx") beyond => _,
            inout("rsi") phys_to_virt(src) + offset => _,
            inout("rdi") phys_to_virt(dst) + offset => _,
            options(nostack, preserves_flags)
        )
    };
}
