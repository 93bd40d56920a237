//! Where things are in a user address space: what the kernel's loader, the user runtime and
//! the build (which links programs at [`USER_IMAGE_BASE`]) must agree on.
//!
//! The lower half of the canonical address space belongs to the process; the upper half is the
//! kernel's and is mapped in every address space, but never user-accessible.

pub const PAGE_SIZE: u64 = 4096;

/// The lowest user address: nothing is ever mapped below it (as Linux's `mmap_min_addr`),
/// so a null pointer, or a small offset from one, faults in user mode and is refused by every
/// system call that takes an address. The kernel never touches user address 0.
pub const USER_MIN: u64 = 0x1_0000;

/// Where user programs are linked (`--image-base`); nothing is mapped below it, so null
/// pointers and small offsets from them fault.
pub const USER_IMAGE_BASE: u64 = 0x40_0000;
const _: () = assert!(USER_IMAGE_BASE >= USER_MIN);

/// The first address that is not user memory. The last page of the lower half is never
/// mapped: a `syscall` at its end would return to a non-canonical address, and `sysret` to a
/// non-canonical address faults in kernel mode on Intel CPUs.
pub const USER_END: u64 = 0x0000_7fff_ffff_f000;

/// The initial user stack: [`USER_STACK_PAGES`] pages below [`USER_STACK_TOP`], with unmapped
/// space below, so an overflow is a page fault.
pub const USER_STACK_TOP: u64 = 0x0000_7fff_f000_0000;
pub const USER_STACK_PAGES: u64 = 16;

/// The first thread's IPC buffer ([`crate::msg::IpcBuffer`]): one page the kernel maps in
/// every process, a guard page above the stack.
pub const IPC_BUFFER: u64 = USER_STACK_TOP + PAGE_SIZE;

/// The most threads a process may have alive at once (`ThreadCreate`).
pub const THREADS_MAX: u64 = 1024;

/// The IPC buffer of a process's thread number `index` (`index < THREADS_MAX`; the first
/// thread's is [`IPC_BUFFER`]), with an unmapped page between each two. A thread finds its
/// own through its FS base, which points at it: the buffer's first word holds its address.
pub const fn thread_ipc_buffer(index: u64) -> u64 {
    IPC_BUFFER + 2 * index * PAGE_SIZE
}

/// The buffer area: every address a thread's IPC buffer may take, which `Map` and `FrameMap`
/// refuse (`BadAddress`) and `Unmap` leaves alone (`InvalidArgument`): the kernel's to map.
pub const IPC_BUFFER_AREA: core::ops::Range<u64> = IPC_BUFFER..thread_ipc_buffer(THREADS_MAX);
const _: () = assert!(IPC_BUFFER_AREA.end <= USER_END);

/// Whether `[addr, addr + len)` (not wrapping) touches the IPC buffer area.
pub const fn touches_ipc_buffers(addr: u64, len: u64) -> bool {
    len > 0 && addr < IPC_BUFFER_AREA.end && addr + len > IPC_BUFFER_AREA.start
}

/// Whether `[addr, addr + len)` lies wholly in user memory, `[USER_MIN, USER_END)`, without
/// wrapping around. An empty range touches nothing, so any start in the lower half will do
/// (an empty Rust slice's pointer is often a small dangling one such as 1).
pub const fn is_user_range(addr: u64, len: u64) -> bool {
    match addr.checked_add(len) {
        Some(end) if len == 0 => end <= USER_END,
        Some(end) => addr >= USER_MIN && end <= USER_END,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ranges() {
        assert!(is_user_range(USER_IMAGE_BASE, PAGE_SIZE));
        assert!(is_user_range(0, 0));
        assert!(is_user_range(1, 0));
        assert!(!is_user_range(0, 1));
        assert!(!is_user_range(0, PAGE_SIZE));
        assert!(!is_user_range(USER_MIN - PAGE_SIZE, PAGE_SIZE));
        assert!(!is_user_range(USER_MIN - 1, 2));
        assert!(is_user_range(USER_MIN, PAGE_SIZE));
        assert!(is_user_range(USER_END - 1, 1));
        assert!(!is_user_range(USER_END - 1, 2));
        assert!(is_user_range(USER_END, 0));
        assert!(!is_user_range(USER_END, 1));
        assert!(!is_user_range(0xffff_ffff_8000_0000, 8));
        assert!(!is_user_range(8, u64::MAX));
        assert!(!is_user_range(u64::MAX, 1));
        assert!(is_user_range(USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE, USER_STACK_PAGES * PAGE_SIZE));
    }

    #[test]
    fn the_buffer_area_holds_every_buffer_and_nothing_else() {
        assert_eq!(thread_ipc_buffer(0), IPC_BUFFER);
        assert!(touches_ipc_buffers(thread_ipc_buffer(THREADS_MAX - 1), PAGE_SIZE));
        assert!(touches_ipc_buffers(IPC_BUFFER - PAGE_SIZE, 2 * PAGE_SIZE));
        assert!(!touches_ipc_buffers(IPC_BUFFER - PAGE_SIZE, PAGE_SIZE));
        assert!(!touches_ipc_buffers(IPC_BUFFER_AREA.end, PAGE_SIZE));
        assert!(!touches_ipc_buffers(IPC_BUFFER, 0));
        assert!(!touches_ipc_buffers(USER_STACK_TOP - PAGE_SIZE, PAGE_SIZE));
    }
}
