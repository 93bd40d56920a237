//! The only place the kernel reads or writes user memory through user addresses. SMAP makes any
//! other kernel access to a user page fault; these routines lift it (`stac`) for the copy
//! alone and restore it (`clac`). The caller has checked the range first
//! (`mem::space::AddressSpace::check_user`).
//!
//! The copy is one `rep movsb` in assembly, on purpose: a user address is not a Rust
//! pointer. Building a slice over it or passing it to `copy_nonoverlapping` would promise
//! the compiler things (non-null, dereferenceable, no other writer) that user memory never
//! guarantees, and a debug kernel checks some of those promises with a panic.

use super::cpu;
use core::arch::asm;

/// Copies `dst.len()` bytes from user address `src` of the current address space.
///
/// # Safety
/// `[src, src + dst.len())` must be mapped, present and user-accessible in the active
/// address space, and stay so during the copy (the kernel is not preempted, and this CPU is
/// the only one).
pub unsafe fn copy_from_user(dst: &mut [u8], src: u64) {
    // SAFETY: the destination is the kernel buffer `dst`, the source is the caller's to
    // answer for.
    unsafe { copy(dst.as_mut_ptr() as u64, src, dst.len()) }
}

/// Copies `src` to user address `dst` of the current address space.
///
/// # Safety
/// `[dst, dst + src.len())` must be mapped, present, user-accessible and writable in the
/// active address space, and stay so during the copy, as for [`copy_from_user`].
pub unsafe fn copy_to_user(dst: u64, src: &[u8]) {
    // SAFETY: the source is the kernel buffer `src`, the destination is the caller's to
    // answer for.
    unsafe { copy(dst, src.as_ptr() as u64, src.len()) }
}

/// `len` bytes from `src` to `dst`, one of them a user range, the other kernel memory.
///
/// # Safety
/// Both ranges must be accessible for the copy (the user one as the callers above say) and
/// must not overlap (one is in the user half, the other in the kernel's).
unsafe fn copy(dst: u64, src: u64, len: usize) {
    if len == 0 {
        return;
    }
    if cpu::smap_enabled() {
        // SAFETY: the ranges are accessible and apart, per the caller; the direction flag is
        // clear (the syscall entry masks it); stac/clac only toggle RFLAGS.AC around the
        // copy, and exist when SMAP does.
        unsafe {
            asm!("stac", "rep movsb", "clac",
                inout("rsi") src => _, inout("rdi") dst => _, inout("rcx") len => _,
                options(nostack));
        }
    } else {
        // SAFETY: as above, without SMAP to lift.
        unsafe {
            asm!("rep movsb",
                inout("rsi") src => _, inout("rdi") dst => _, inout("rcx") len => _,
                options(nostack));
        }
    }
}
