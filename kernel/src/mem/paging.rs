//! Page tables: mapping and unmapping kernel pages in the active address space.
//!
//! The page tables are reached through the physical window, with the `x86_64` crate's
//! `OffsetPageTable` doing the walk. New page-table pages come from the frame allocator and
//! are kept once made, so the kernel half's structure only ever grows.

use super::layout::{pml4_index, PAGE_SIZE};
use super::{alloc_frame, free_frame, phys_to_virt};
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::mapper::{MapToError, TranslateResult};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Kernel data: present, writable, never executable.
pub const KERNEL_DATA: Flags = Flags::PRESENT.union(Flags::WRITABLE).union(Flags::NO_EXECUTE);
/// Device registers: as data, and uncached.
pub const KERNEL_MMIO: Flags = KERNEL_DATA.union(Flags::NO_CACHE).union(Flags::WRITE_THROUGH);

static MAPPER: Mutex<Option<OffsetPageTable<'static>>> = Mutex::new(None);
/// The physical address of the boot level-4 table: the kernel's own address space, whose
/// upper half every user address space shares.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    OutOfFrames,
    AlreadyMapped,
    /// A fixed-size kernel region (such as the MMIO window) is full.
    OutOfVirtualSpace,
}

impl From<MapToError<Size4KiB>> for MapError {
    /// The mapper fails only for want of a frame for a page table, or because something is
    /// mapped already (a page, or a huge page above it).
    fn from(e: MapToError<Size4KiB>) -> MapError {
        match e {
            MapToError::FrameAllocationFailed => MapError::OutOfFrames,
            MapToError::ParentEntryHugePage | MapToError::PageAlreadyMapped(_) => MapError::AlreadyMapped,
        }
    }
}

struct GlobalFrames;

// SAFETY: `alloc_frame` hands out each free frame once, until it is freed again.
unsafe impl FrameAllocator<Size4KiB> for GlobalFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        alloc_frame().map(|p| PhysFrame::containing_address(PhysAddr::new(p)))
    }
}

pub fn init(phys_offset: u64) {
    let (l4_frame, _) = Cr3::read();
    KERNEL_ROOT.store(l4_frame.start_address().as_u64(), Ordering::Relaxed);
    let l4 = (phys_offset + l4_frame.start_address().as_u64()) as *mut PageTable;
    // SAFETY: CR3 holds the active level-4 table, seen through the physical window at
    // `phys_offset`; this is the only reference the kernel makes to it, kept behind MAPPER.
    let mapper = unsafe { OffsetPageTable::new(&mut *l4, VirtAddr::new(phys_offset)) };
    without_interrupts(|| *MAPPER.lock() = Some(mapper));
}

fn with_mapper<R>(f: impl FnOnce(&mut OffsetPageTable<'static>) -> R) -> R {
    without_interrupts(|| f(MAPPER.lock().as_mut().expect("paging used before paging::init")))
}

fn page(addr: u64) -> Page {
    Page::containing_address(VirtAddr::new(addr))
}

/// Maps `pages` pages at `virt` to the physical range at `phys`.
pub fn map_phys(virt: u64, phys: u64, pages: u64, flags: Flags) -> Result<(), MapError> {
    with_mapper(|m| {
        for i in 0..pages {
            let frame = PhysFrame::containing_address(PhysAddr::new(phys + i * PAGE_SIZE));
            // SAFETY: callers map frames they own (fresh from the allocator, or device memory)
            // at kernel addresses nothing else uses; the TLB entry is flushed.
            unsafe { m.map_to(page(virt + i * PAGE_SIZE), frame, flags, &mut GlobalFrames) }?.flush();
        }
        Ok(())
    })
}

/// A frame from the allocator, filled with zeroes.
pub fn alloc_zeroed_frame() -> Option<u64> {
    let phys = alloc_frame()?;
    // One `rep stosq` of 512 quadwords rather than `write_bytes`, which becomes a
    // `rep stosb` of 4,096 bytes: under QEMU's TCG each repetition is emulated on its own, so
    // the byte form made zeroing most of the cost of `Map`, Frames and process creation.
    // SAFETY: the frame was just allocated, so nothing else refers to it; it is seen through
    // the physical window, page-aligned. The direction flag is clear, as the Rust ABI
    // requires (every kernel entry clears it).
    unsafe {
        core::arch::asm!(
            "rep stosq",
            inout("rcx") PAGE_SIZE / 8 => _,
            inout("rdi") phys_to_virt(phys) => _,
            in("rax") 0u64,
            options(nostack, preserves_flags)
        )
    };
    Some(phys)
}

/// Maps `pages` freshly allocated, zeroed frames at `virt`. On failure nothing stays mapped.
pub fn map_fresh(virt: u64, pages: u64, flags: Flags) -> Result<(), MapError> {
    for i in 0..pages {
        let result = alloc_zeroed_frame()
            .ok_or(MapError::OutOfFrames)
            .and_then(|phys| map_phys(virt + i * PAGE_SIZE, phys, 1, flags).inspect_err(|_| free_frame(phys)));
        if let Err(e) = result {
            unmap_and_free(virt, i);
            return Err(e);
        }
    }
    Ok(())
}

/// Unmaps `pages` pages at `virt` and returns their frames to the allocator.
pub fn unmap_and_free(virt: u64, pages: u64) {
    for i in 0..pages {
        let unmapped = with_mapper(|m| m.unmap(page(virt + i * PAGE_SIZE)));
        match unmapped {
            Ok((frame, flush)) => {
                flush.flush();
                free_frame(frame.start_address().as_u64());
            }
            Err(e) => panic!("unmapping {:#x} that the kernel mapped: {e:?}", virt + i * PAGE_SIZE),
        }
    }
}

/// The physical address behind `virt`, if mapped.
pub fn translate(virt: u64) -> Option<u64> {
    with_mapper(|m| match m.translate(VirtAddr::new(virt)) {
        TranslateResult::Mapped { frame, offset, .. } => Some(frame.start_address().as_u64() + offset),
        _ => None,
    })
}

/// Gives the kernel region at `addr` its own level-3 table now, so that every address space
/// made later, which copies the kernel's level-4 entries, sees what is mapped there afterwards.
/// The slot must be empty: the bootloader was told to keep out of it.
pub fn claim_kernel_slot(addr: u64) {
    with_mapper(|m| {
        let entry = &mut m.level_4_table_mut()[pml4_index(addr)];
        assert!(entry.is_unused(), "level-4 slot of kernel region {addr:#x} is already in use");
        let table = alloc_zeroed_frame().expect("no memory for a kernel page table");
        entry.set_frame(PhysFrame::containing_address(PhysAddr::new(table)), Flags::PRESENT | Flags::WRITABLE);
    });
}
