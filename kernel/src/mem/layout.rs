//! The kernel's virtual address layout: where the heap, kernel stacks and device mappings live.
//!
//! The lower half (below 0x0000_8000_0000_0000) is left to user address spaces. In the upper
//! half, the bootloader's own mappings (physical memory window, boot info, ramdisk, its boot
//! stack) are placed in [`BOOTLOADER_DYNAMIC`], the kernel image at [`KERNEL_BASE`], and every
//! region the kernel manages itself has a level-4 slot of its own, so nothing else can land in
//! the unmapped pages that guard it. Pure constants and arithmetic: host-tested.

/// Size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Bytes covered by one level-4 page-table entry (512 GiB).
pub const PML4_SPAN: u64 = 1 << 39;

/// Where the bootloader may place the mappings it chooses itself.
pub const BOOTLOADER_DYNAMIC: (u64, u64) = (0xffff_8000_0000_0000, 0xffff_bfff_ffff_f000);
pub use ipc::boot::KERNEL_BASE;

/// The kernel heap: [`HEAP_INITIAL`] bytes mapped at boot, grown from free frames when an
/// allocation does not fit, up to [`HEAP_RESERVED`] bytes of address space. The page below it
/// and everything above its top are left unmapped.
pub const HEAP_BASE: u64 = 0xffff_e000_0000_0000;
pub const HEAP_INITIAL: u64 = 16 * 1024 * 1024;
pub const HEAP_RESERVED: u64 = 256 * 1024 * 1024 * 1024;

/// Kernel stacks: slot `i` spans `STACK_SLOT` bytes; its top `STACK_SIZE` bytes are mapped, the
/// rest below them is an unmapped guard, so an overflow faults instead of corrupting memory.
pub const STACKS_BASE: u64 = HEAP_BASE + PML4_SPAN;
/// A thread's kernel stack, part of what `ThreadCreate` charges (`ipc::syscall::THREAD_COST`).
pub const STACK_SIZE: u64 = ipc::syscall::KERNEL_STACK_PAGES * PAGE_SIZE;
pub const STACK_SLOT: u64 = 128 * 1024;
pub const STACK_SLOTS: usize = 4096;

/// Device memory (local APIC, later I/O APIC) mapped uncached.
pub const MMIO_BASE: u64 = STACKS_BASE + PML4_SPAN;
pub const MMIO_SIZE: u64 = 1024 * 1024 * 1024;

/// Arrays that grow in place (`mem::array`, the capability tables' slabs): array `i` has
/// `ARRAY_SPAN` bytes of address space from `ARRAYS_BASE + i * ARRAY_SPAN`, mapped from its
/// start as it grows; the rest of its span is an unmapped guard.
pub const ARRAYS_BASE: u64 = MMIO_BASE + PML4_SPAN;
pub const ARRAY_SPAN: u64 = 64 * 1024 * 1024 * 1024;
pub const ARRAY_REGIONS: usize = 8;

/// Level-4 indexes the kernel owns and must find empty when it starts.
pub const KERNEL_PML4_SLOTS: [u64; 4] = [HEAP_BASE, STACKS_BASE, MMIO_BASE, ARRAYS_BASE];

// Each region, with its guards, fits in its level-4 slot; each stack slot has a guard.
const _: () = {
    assert!(HEAP_INITIAL <= HEAP_RESERVED && HEAP_RESERVED + PAGE_SIZE < PML4_SPAN);
    assert!(STACK_SLOTS as u64 * STACK_SLOT <= PML4_SPAN);
    assert!(STACK_SLOT - STACK_SIZE >= PAGE_SIZE);
    assert!(MMIO_SIZE <= PML4_SPAN);
    assert!(ARRAY_REGIONS as u64 * ARRAY_SPAN <= PML4_SPAN);
};

pub const fn pml4_index(addr: u64) -> usize {
    ((addr >> 39) & 0x1ff) as usize
}

/// The addresses of kernel stack slot `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackSlot {
    pub index: usize,
    /// First byte of the guard (lowest address of the slot).
    pub guard: u64,
    /// Lowest mapped byte of the stack.
    pub bottom: u64,
    /// One past the highest byte: the initial stack pointer.
    pub top: u64,
}

impl StackSlot {
    pub const fn new(index: usize) -> StackSlot {
        let guard = STACKS_BASE + index as u64 * STACK_SLOT;
        let top = guard + STACK_SLOT;
        StackSlot { index, guard, bottom: top - STACK_SIZE, top }
    }
}

/// What a kernel address is, as far as the kernel's own regions go: fault reports use it to
/// say "stack overflow" or "heap guard" instead of leaving the reader to work it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    Heap,
    HeapGuard,
    Stack(usize),
    StackGuard(usize),
    Mmio,
    /// In the span of grow-in-place array `i`, mapped or not.
    Array(usize),
}

/// What `addr` is, with the heap mapped up to `heap_top`: past the top, up to the end of the
/// heap's reserved span, is its guard.
pub fn region_of(addr: u64, heap_top: u64) -> Option<Region> {
    if (HEAP_BASE..heap_top).contains(&addr) {
        Some(Region::Heap)
    } else if (HEAP_BASE - PAGE_SIZE..HEAP_BASE).contains(&addr)
        || (heap_top..HEAP_BASE + HEAP_RESERVED + PAGE_SIZE).contains(&addr)
    {
        Some(Region::HeapGuard)
    } else if (STACKS_BASE..STACKS_BASE + STACK_SLOTS as u64 * STACK_SLOT).contains(&addr) {
        let slot = StackSlot::new(((addr - STACKS_BASE) / STACK_SLOT) as usize);
        Some(if addr < slot.bottom { Region::StackGuard(slot.index) } else { Region::Stack(slot.index) })
    } else if (MMIO_BASE..MMIO_BASE + MMIO_SIZE).contains(&addr) {
        Some(Region::Mmio)
    } else if (ARRAYS_BASE..ARRAYS_BASE + ARRAY_REGIONS as u64 * ARRAY_SPAN).contains(&addr) {
        Some(Region::Array(((addr - ARRAYS_BASE) / ARRAY_SPAN) as usize))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_regions_are_in_the_upper_half_and_apart() {
        let mut slots: Vec<usize> = KERNEL_PML4_SLOTS.iter().map(|&a| pml4_index(a)).collect();
        slots.push(pml4_index(KERNEL_BASE));
        for &s in &slots {
            assert!(s >= 256, "slot {s} is in the lower half");
        }
        let dynamic = pml4_index(BOOTLOADER_DYNAMIC.0)..=pml4_index(BOOTLOADER_DYNAMIC.1);
        for &s in &slots {
            assert!(!dynamic.contains(&s), "slot {s} overlaps the bootloader's range");
        }
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), KERNEL_PML4_SLOTS.len() + 1);
    }

    #[test]
    fn stack_slots_tile_without_overlap() {
        let a = StackSlot::new(0);
        let b = StackSlot::new(1);
        assert_eq!(a.guard, STACKS_BASE);
        assert_eq!(a.top, b.guard);
        assert_eq!(a.top - a.bottom, STACK_SIZE);
        assert!(a.bottom - a.guard >= PAGE_SIZE, "at least one guard page");
        assert_eq!(a.top % 16, 0, "stack tops are ABI-aligned");
    }

    #[test]
    fn addresses_are_classified() {
        let s = StackSlot::new(7);
        let top = HEAP_BASE + HEAP_INITIAL;
        let region_of = |addr| region_of(addr, top);
        assert_eq!(region_of(s.bottom - 8), Some(Region::StackGuard(7)));
        assert_eq!(region_of(s.guard), Some(Region::StackGuard(7)));
        assert_eq!(region_of(s.bottom), Some(Region::Stack(7)));
        assert_eq!(region_of(s.top - 1), Some(Region::Stack(7)));
        assert_eq!(region_of(s.top), Some(Region::StackGuard(8)));
        assert_eq!(region_of(HEAP_BASE), Some(Region::Heap));
        assert_eq!(region_of(top - 1), Some(Region::Heap));
        assert_eq!(region_of(top), Some(Region::HeapGuard));
        assert_eq!(region_of(HEAP_BASE + HEAP_RESERVED), Some(Region::HeapGuard));
        assert_eq!(region_of(HEAP_BASE - 1), Some(Region::HeapGuard));
        assert_eq!(region_of(MMIO_BASE), Some(Region::Mmio));
        assert_eq!(region_of(ARRAYS_BASE), Some(Region::Array(0)));
        assert_eq!(region_of(ARRAYS_BASE + 3 * ARRAY_SPAN - 1), Some(Region::Array(2)));
        assert_eq!(region_of(0x1000), None);
        assert_eq!(region_of(KERNEL_BASE), None);
    }
}
