//! The only place the kernel reads user memory through user addresses. SMAP makes any
//! other kernel access to a user page fault; these routines lift it (`stac`) for the copy
//! alone and restore it (`clac`). The caller has checked the range first
//! (`mem::space::AddressSpace::check_user`).

use super::cpu;

/// Copies `dst.len()` bytes from user address `src` of the current address space.
///
/// # Safety
/// `[src, src + dst.len())` must be mapped, present and user-accessible in the active
/// address space, and stay so during the copy (the kernel is not preempted, and this CPU is
/// the only one).
pub unsafe fn copy_from_user(dst: &mut [u8], src: u64) {
    let smap = cpu::smap_enabled();
    // SAFETY: stac/clac only toggle RFLAGS.AC and exist when SMAP does; the range is
    // readable per the caller's checks and does not overlap the kernel buffer `dst` (one is
    // in the user half, the other in the kernel's).
    unsafe {
        if smap {
            core::arch::asm!("stac", options(nomem, nostack));
        }
        core::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len());
        if smap {
            core::arch::asm!("clac", options(nomem, nostack));
        }
    }
}
