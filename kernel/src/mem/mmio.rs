//! Device memory: physical register pages mapped uncached into the kernel's MMIO region,
//! each mapping followed by an unmapped page.

use super::layout::{MMIO_BASE, MMIO_SIZE, PAGE_SIZE};
use super::paging::{self, MapError, KERNEL_MMIO};
use super::regions::align_down;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

static NEXT: Mutex<u64> = Mutex::new(MMIO_BASE);

/// Maps `len` bytes of device memory at physical `phys` and returns its virtual address.
pub fn map(phys: u64, len: u64) -> Result<u64, MapError> {
    let first = align_down(phys);
    let pages = (phys + len).div_ceil(PAGE_SIZE) - first / PAGE_SIZE;
    let virt = without_interrupts(|| {
        let mut next = NEXT.lock();
        let virt = *next;
        let after = virt + (pages + 1) * PAGE_SIZE;
        if after > MMIO_BASE + MMIO_SIZE {
            return Err(MapError::OutOfVirtualSpace);
        }
        *next = after;
        Ok(virt)
    })?;
    paging::map_phys(virt, first, pages, KERNEL_MMIO)?;
    Ok(virt + (phys - first))
}
