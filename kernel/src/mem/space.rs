//! User address spaces: one level-4 table per process. The upper half (entries 256–511) is
//! copied from the kernel's own table at creation, so every space shares the kernel's
//! mappings; the lower half is the process's alone, and every frame and page table in it
//! belongs to it and is freed when the space is dropped — except the pages of shared Frames,
//! which carry the [`SHARED`] mark and belong to their Frame object. Pages the kernel writes
//! through their physical address (the IPC buffer) carry the [`PINNED`] mark: the process
//! cannot unmap them, so their frames cannot go back to the allocator while the kernel may
//! still write to them.

use super::layout::PAGE_SIZE;
use super::paging::{self, alloc_zeroed_frame, MapError};
use super::{free_frame, phys_to_virt};
use ipc::layout::{is_user_range, USER_END, USER_MIN};
use ipc::Error;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::mapper::UnmapError;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as Flags, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// Entries of a level-4 table that map the lower, user half.
const USER_ENTRIES: usize = 256;

/// What a user page may be used for. Writable and executable are never both set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
    ReadExecute,
}

impl Access {
    /// The access for a mapping that asks to be writable and/or executable: writable wins,
    /// and is never executable.
    pub const fn new(writable: bool, executable: bool) -> Access {
        match (writable, executable) {
            (true, _) => Access::ReadWrite,
            (false, true) => Access::ReadExecute,
            (false, false) => Access::Read,
        }
    }

    fn flags(self) -> Flags {
        let user = Flags::PRESENT | Flags::USER_ACCESSIBLE;
        match self {
            Access::Read => user | Flags::NO_EXECUTE,
            Access::ReadWrite => user | Flags::WRITABLE | Flags::NO_EXECUTE,
            Access::ReadExecute => user,
        }
    }
}

/// A page-table bit the CPU ignores, marking a leaf whose frame this space does not own (a
/// shared Frame's page): unmapping or dropping the space leaves the frame alone.
const SHARED: Flags = Flags::BIT_9;

/// A page-table bit the CPU ignores, marking a page the kernel holds the physical address
/// of and writes through the physical window (the IPC buffer). Only dropping the whole space
/// frees it.
const PINNED: Flags = Flags::BIT_10;

/// What [`AddressSpace::unmap`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmapped {
    Nothing,
    /// A pinned page, left mapped.
    Pinned,
    /// The space's own page, now freed.
    Freed,
    /// A shared Frame's page (at this physical address); the frame is its object's.
    Shared(u64),
}

/// Whether `addr` is the start of a page of user memory, `[USER_MIN, USER_END)`.
fn is_user_page(addr: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE) && (USER_MIN..USER_END).contains(&addr)
}

/// Intermediate tables in the user half: the leaf entries decide the permissions.
const USER_TABLE: Flags = Flags::PRESENT.union(Flags::WRITABLE).union(Flags::USER_ACCESSIBLE);

/// Frames for new page tables, counted.
struct Frames {
    made: u64,
}

// SAFETY: `alloc_zeroed_frame` hands out each free frame once, zeroed, as page tables need.
unsafe impl FrameAllocator<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        let frame = alloc_zeroed_frame().map(|p| PhysFrame::containing_address(PhysAddr::new(p)))?;
        self.made += 1;
        Some(frame)
    }
}

pub struct AddressSpace {
    /// Physical address of the level-4 table.
    root: u64,
    /// Page tables of the lower half made so far (the root not counted). They stay until the
    /// space is dropped, and their owner's quota pays for them ([`AddressSpace::tables_missing`]
    /// says beforehand what a mapping will make).
    tables: u64,
}

impl AddressSpace {
    /// A space with the kernel's upper half and nothing in the lower half.
    pub fn new() -> Result<AddressSpace, MapError> {
        let root = alloc_zeroed_frame().ok_or(MapError::OutOfFrames)?;
        let space = AddressSpace { root, tables: 0 };
        let kernel = table(paging::kernel_root());
        let new = table(root);
        for i in USER_ENTRIES..512 {
            new[i] = kernel[i].clone();
        }
        Ok(space)
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    /// Page tables of the lower half made so far.
    pub fn tables(&self) -> u64 {
        self.tables
    }

    /// How many page tables mapping every page of `[addr, addr + len)` would make: one per
    /// 512 GiB, 1 GiB and 2 MiB region of the range whose table is not there yet.
    pub fn tables_missing(&self, addr: u64, len: u64) -> u64 {
        let Some(last) = len.checked_sub(1).and_then(|l| addr.checked_add(l)) else { return 0 };
        let mut missing = 0;
        for (shift, depth) in [(39, 1), (30, 2), (21, 3)] {
            missing += ((addr >> shift)..=(last >> shift)).filter(|r| depth_at(self.root, r << shift) < depth).count();
        }
        missing as u64
    }

    fn mapper(&mut self) -> OffsetPageTable<'_> {
        // SAFETY: the root is this space's own level-4 table, seen through the physical
        // window at offset phys_to_virt(0); `&mut self` makes this the only mapper of it.
        unsafe { OffsetPageTable::new(table(self.root), VirtAddr::new(phys_to_virt(0))) }
    }

    /// Maps a fresh zeroed page at user address `addr`; returns its physical address, through
    /// which the caller may fill it.
    pub fn map_new(&mut self, addr: u64, access: Access) -> Result<u64, MapError> {
        assert!(is_user_page(addr), "user page {addr:#x} out of user memory");
        let phys = alloc_zeroed_frame().ok_or(MapError::OutOfFrames)?;
        self.map_frame(addr, phys, access.flags()).inspect_err(|_| free_frame(phys))?;
        Ok(phys)
    }

    /// As [`AddressSpace::map_new`], but pinned: [`AddressSpace::unmap`] refuses the page, so
    /// the returned frame stays this space's until the space is dropped, and the kernel may
    /// keep its physical address.
    pub fn map_pinned(&mut self, addr: u64, access: Access) -> Result<u64, MapError> {
        assert!(is_user_page(addr), "user page {addr:#x} out of user memory");
        let phys = alloc_zeroed_frame().ok_or(MapError::OutOfFrames)?;
        self.map_frame(addr, phys, access.flags() | PINNED).inspect_err(|_| free_frame(phys))?;
        Ok(phys)
    }

    /// Maps the frame at `phys`, which belongs to a shared Frame object, at user address
    /// `addr`. The caller keeps the Frame alive as long as this space may map it.
    pub fn map_shared(&mut self, addr: u64, phys: u64, writable: bool) -> Result<(), MapError> {
        assert!(is_user_page(addr), "user page {addr:#x} out of user memory");
        self.map_frame(addr, phys, Access::new(writable, false).flags() | SHARED)
    }

    fn map_frame(&mut self, addr: u64, phys: u64, flags: Flags) -> Result<(), MapError> {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(addr));
        let frame = PhysFrame::containing_address(PhysAddr::new(phys));
        let mut tables = Frames { made: 0 };
        let mut mapper = self.mapper();
        // SAFETY: the frame is fresh and now this space's, or a shared Frame's that outlives
        // the mapping; the page is in the lower half, which holds only this process's memory;
        // no flush is needed, as the page was unmapped.
        let result = unsafe { mapper.map_to_with_table_flags(page, frame, flags, USER_TABLE, &mut tables) };
        self.tables += tables.made;
        result?.ignore();
        Ok(())
    }

    /// Unmaps the page at `addr`, freeing its frame if it is the space's own; a pinned page
    /// stays.
    pub fn unmap(&mut self, addr: u64) -> Unmapped {
        if self.is_pinned(addr) {
            return Unmapped::Pinned;
        }
        self.unmap_page(addr)
    }

    /// Unmaps and frees a pinned page (an ended thread's IPC buffer), or any other as
    /// [`AddressSpace::unmap`] does.
    pub fn unmap_pinned(&mut self, addr: u64) -> Unmapped {
        self.unmap_page(addr)
    }

    fn unmap_page(&mut self, addr: u64) -> Unmapped {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(addr));
        let flags = leaf_flags(self.root, addr);
        let shared = flags.is_some_and(|f| f.contains(SHARED));
        match self.mapper().unmap(page) {
            Ok((frame, flush)) => {
                // The space may be the active one; flushing an inactive one's address is harmless.
                flush.flush();
                if shared {
                    return Unmapped::Shared(frame.start_address().as_u64());
                }
                free_frame(frame.start_address().as_u64());
                Unmapped::Freed
            }
            Err(UnmapError::PageNotMapped) => Unmapped::Nothing,
            Err(e) => panic!("user page table corrupt at {addr:#x}: {e:?}"),
        }
    }

    /// The physical address of the frame mapped at page `addr`.
    pub fn phys_of(&mut self, addr: u64) -> Option<u64> {
        use x86_64::structures::paging::Translate;
        self.mapper().translate_addr(VirtAddr::new(addr)).map(|p| p.as_u64())
    }

    /// Whether the page at `addr` is mapped.
    pub fn is_mapped(&self, addr: u64) -> bool {
        leaf_flags(self.root, addr).is_some()
    }

    /// Whether the page at `addr` is mapped and pinned.
    pub fn is_pinned(&self, addr: u64) -> bool {
        leaf_flags(self.root, addr).is_some_and(|f| f.contains(PINNED))
    }

    /// Checks that `[addr, addr + len)` is user memory, mapped and accessible to user mode
    /// (and writable, if `write`), page by page.
    pub fn check_user(&self, addr: u64, len: u64, write: bool) -> Result<(), Error> {
        if addr.checked_add(len).is_none() {
            return Err(Error::BadLength);
        }
        if !is_user_range(addr, len) {
            return Err(Error::BadAddress);
        }
        if len == 0 {
            return Ok(());
        }
        let need = if write { Flags::USER_ACCESSIBLE | Flags::WRITABLE } else { Flags::USER_ACCESSIBLE };
        let first = addr & !(PAGE_SIZE - 1);
        for page in (first..addr + len).step_by(PAGE_SIZE as usize) {
            match leaf_flags(self.root, page) {
                Some(f) if f.contains(need) => {}
                _ => return Err(Error::BadAddress),
            }
        }
        Ok(())
    }
}

impl Drop for AddressSpace {
    /// Frees every page (but shared ones) and page table of the lower half, then the root. The space must not
    /// be active: whoever drops it has switched to another one first.
    fn drop(&mut self) {
        assert!(Cr3::read().0.start_address().as_u64() != self.root, "dropping the active address space");
        let l4 = table(self.root);
        for e4 in l4.iter_mut().take(USER_ENTRIES).filter(|e| !e.is_unused()) {
            let l3 = table(e4.addr().as_u64());
            for e3 in l3.iter_mut().filter(|e| !e.is_unused()) {
                let l2 = table(e3.addr().as_u64());
                for e2 in l2.iter_mut().filter(|e| !e.is_unused()) {
                    let l1 = table(e2.addr().as_u64());
                    for e1 in l1.iter_mut().filter(|e| !e.is_unused() && !e.flags().contains(SHARED)) {
                        free_frame(e1.addr().as_u64());
                    }
                    free_frame(e2.addr().as_u64());
                }
                free_frame(e3.addr().as_u64());
            }
            free_frame(e4.addr().as_u64());
        }
        free_frame(self.root);
    }
}

/// The page table at physical address `phys`, through the physical window.
fn table(phys: u64) -> &'static mut PageTable {
    // SAFETY: callers pass only page tables (a root, or an entry of one), which the physical
    // window maps; tables change only with interrupts off on this one CPU, so no two of
    // these references are in use at once.
    unsafe { &mut *(phys_to_virt(phys) as *mut PageTable) }
}

/// How many levels of tables below the root exist for `addr`: 0 (no level-3 table) to 3 (its
/// level-1 table is there).
fn depth_at(root: u64, addr: u64) -> u32 {
    let indices = [(addr >> 39) & 511, (addr >> 30) & 511, (addr >> 21) & 511];
    let mut phys = root;
    for (depth, &i) in indices.iter().enumerate() {
        let entry = &table(phys)[i as usize];
        if entry.is_unused() {
            return depth as u32;
        }
        phys = entry.addr().as_u64();
    }
    3
}

/// The flags in force for a 4 KiB user page: the leaf's, with USER and WRITABLE only where
/// every level grants them. None if not mapped. User tables never hold huge pages.
fn leaf_flags(root: u64, addr: u64) -> Option<Flags> {
    let indices = [(addr >> 39) & 511, (addr >> 30) & 511, (addr >> 21) & 511, (addr >> 12) & 511];
    let mut phys = root;
    let mut granted = Flags::USER_ACCESSIBLE | Flags::WRITABLE;
    let mut flags = Flags::empty();
    for (level, &i) in indices.iter().enumerate() {
        let entry = &table(phys)[i as usize];
        flags = entry.flags();
        if !flags.contains(Flags::PRESENT) || (level < 3 && flags.contains(Flags::HUGE_PAGE)) {
            return None;
        }
        granted &= flags;
        phys = entry.addr().as_u64();
    }
    Some((flags - (Flags::USER_ACCESSIBLE | Flags::WRITABLE)) | granted)
}
