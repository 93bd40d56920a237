//! Memory: physical frames, the kernel's virtual layout, page tables, the kernel heap and
//! kernel stacks.
//!
//! `init` turns the bootloader's memory map into a frame allocator, claims the kernel's own
//! level-4 slots, and maps the heap. Frame and layout arithmetic is host-tested; the rest
//! touches page tables and runs only in the kernel.

pub(crate) mod array;
pub(crate) mod frame;
pub mod layout;
pub(crate) mod regions;

#[cfg(target_os = "none")]
pub(crate) mod heap;
#[cfg(target_os = "none")]
pub(crate) mod mmio;
#[cfg(target_os = "none")]
pub(crate) mod paging;
#[cfg(target_os = "none")]
pub(crate) mod space;
#[cfg(target_os = "none")]
pub(crate) mod stack;

#[cfg(target_os = "none")]
pub(crate) use self::kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use super::frame::FrameBitmap;
    use super::layout::{KERNEL_PML4_SLOTS, PAGE_SIZE};
    use super::regions::{align_down, free_pieces, PhysRange};
    use super::{heap, paging};
    use bootloader_api::info::MemoryRegionKind;
    use bootloader_api::BootInfo;
    use core::sync::atomic::{AtomicU64, Ordering};
    use spin::{Mutex, Once};
    use x86_64::instructions::interrupts::without_interrupts;

    /// Physical memory below 1 MiB is kept back: firmware data lives there, and the code that
    /// starts the other CPUs must run from it.
    const LOW_MEMORY: PhysRange = PhysRange::new(0, 0x10_0000);
    /// Ranges excluded from the allocator at most (low memory, kernel file, ramdisk pieces,
    /// the bitmap itself); the ramdisk is physically contiguous, so it is one or two.
    const MAX_EXCLUDED: usize = 16;

    static PHYS_OFFSET: AtomicU64 = AtomicU64::new(0);
    static EXCLUDED: Once<heapless::Vec<PhysRange, MAX_EXCLUDED>> = Once::new();
    static FRAMES: Mutex<Option<FrameBitmap<'static>>> = Mutex::new(None);

    /// The virtual address at which physical address `phys` is seen through the bootloader's
    /// window on all of physical memory.
    pub fn phys_to_virt(phys: u64) -> u64 {
        PHYS_OFFSET.load(Ordering::Relaxed) + phys
    }

    pub fn alloc_frame() -> Option<u64> {
        without_interrupts(|| FRAMES.lock().as_mut()?.alloc())
    }

    /// Returns a frame; freeing one that is not allocated is a kernel bug.
    pub fn free_frame(phys: u64) {
        without_interrupts(|| {
            let mut frames = FRAMES.lock();
            let bitmap = frames.as_mut().expect("frame freed before the allocator exists");
            if let Err(e) = bitmap.free(phys) {
                panic!("frame allocator invariant broken: {e:?}");
            }
        })
    }

    /// (free, managed) frame counts.
    pub fn frame_counts() -> (u64, u64) {
        without_interrupts(|| FRAMES.lock().as_ref().map_or((0, 0), |b| (b.free_frames(), b.managed_frames())))
    }

    /// Physical ranges the allocator never hands out although the memory map calls them usable.
    pub fn excluded() -> &'static [PhysRange] {
        EXCLUDED.get().map_or(&[], |v| v.as_slice())
    }

    pub struct Summary {
        pub usable_bytes: u64,
        pub regions: usize,
        pub phys_offset: u64,
    }

    /// Sets up frames, page tables and the heap from what the bootloader handed over.
    pub fn init(boot: &BootInfo) -> Summary {
        let offset =
            boot.physical_memory_offset.into_option().expect("the bootloader mapped no physical memory window");
        PHYS_OFFSET.store(offset, Ordering::Relaxed);
        paging::init(offset);

        let mut excluded = heapless::Vec::<PhysRange, MAX_EXCLUDED>::new();
        let mut exclude = |r: PhysRange| excluded.push(r).expect("too many excluded physical ranges");
        exclude(LOW_MEMORY);
        exclude(PhysRange::new(boot.kernel_addr, boot.kernel_addr + boot.kernel_len));
        if let Some(ramdisk) = boot.ramdisk_addr.into_option() {
            ramdisk_frames(ramdisk, boot.ramdisk_len, &mut exclude);
        }

        let usable = || boot.memory_regions.iter().filter(|r| r.kind == MemoryRegionKind::Usable);
        let end = usable().map(|r| r.end).max().expect("no usable memory");
        let words = FrameBitmap::words_for(end);
        let bitmap_bytes = (words as u64 * 8).div_ceil(PAGE_SIZE) * PAGE_SIZE;

        // The bitmap lives in the first free piece large enough for it.
        let mut home = None;
        for r in usable() {
            free_pieces(PhysRange::new(r.start, r.end), &mut excluded, |piece| {
                if home.is_none() && piece.len() >= bitmap_bytes {
                    home = Some(piece.start);
                }
            });
        }
        let home = home.expect("no room for the frame bitmap");
        excluded.push(PhysRange::new(home, home + bitmap_bytes)).expect("too many excluded physical ranges");

        // SAFETY: `home..home + bitmap_bytes` is usable RAM that nothing else uses (it was just
        // excluded from the allocator), seen through the physical window, and aligned for u64.
        let storage = unsafe { core::slice::from_raw_parts_mut(phys_to_virt(home) as *mut u64, words) };
        let mut bitmap = FrameBitmap::new(storage, end);
        let mut usable_bytes = 0;
        for r in usable() {
            usable_bytes += r.end - r.start;
            free_pieces(PhysRange::new(r.start, r.end), &mut excluded, |piece| bitmap.add_free(piece));
        }
        without_interrupts(|| *FRAMES.lock() = Some(bitmap));
        EXCLUDED.call_once(|| excluded);

        for slot in KERNEL_PML4_SLOTS {
            paging::claim_kernel_slot(slot);
        }
        heap::init();
        Summary { usable_bytes, regions: boot.memory_regions.len(), phys_offset: offset }
    }

    /// Excludes the frames behind the ramdisk's virtual range, merging contiguous ones.
    fn ramdisk_frames(virt: u64, len: u64, exclude: &mut impl FnMut(PhysRange)) {
        let mut run: Option<PhysRange> = None;
        for page in (align_down(virt)..virt + len).step_by(PAGE_SIZE as usize) {
            let phys = paging::translate(page).expect("ramdisk page not mapped");
            run = match run {
                Some(r) if r.end == phys => Some(PhysRange::new(r.start, phys + PAGE_SIZE)),
                Some(r) => {
                    exclude(r);
                    Some(PhysRange::new(phys, phys + PAGE_SIZE))
                }
                None => Some(PhysRange::new(phys, phys + PAGE_SIZE)),
            };
        }
        if let Some(r) = run {
            exclude(r);
        }
    }
}
