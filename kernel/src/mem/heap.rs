//! The kernel heap: a fixed region mapped at boot, managed by `linked_list_allocator`.
//!
//! The pages on both sides are left unmapped (see `layout`), so running off either end faults
//! at once. The lock is taken with interrupts masked, so an interrupt handler that allocates
//! cannot deadlock against the code it interrupted.

use super::layout::{HEAP_BASE, HEAP_SIZE, PAGE_SIZE};
use super::paging::{self, KERNEL_DATA};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use linked_list_allocator::Heap;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

struct KernelHeap(Mutex<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Heap::empty()));

// SAFETY: allocation and deallocation are delegated to `linked_list_allocator::Heap`, which
// returns blocks that fit `layout` and do not overlap, behind a lock.
unsafe impl GlobalAlloc for KernelHeap {
    /// # Safety
    /// As `GlobalAlloc::alloc` requires: `layout` has a non-zero size.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        without_interrupts(|| self.0.lock().allocate_first_fit(layout).map_or(ptr::null_mut(), |p| p.as_ptr()))
    }

    /// # Safety
    /// As `GlobalAlloc::dealloc` requires: `ptr` came from this allocator with this `layout`.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a pointer this allocator returned for `layout`, so non-null.
        without_interrupts(|| unsafe { self.0.lock().deallocate(NonNull::new_unchecked(ptr), layout) })
    }
}

pub fn init() {
    paging::map_fresh(HEAP_BASE, HEAP_SIZE / PAGE_SIZE, KERNEL_DATA).expect("no memory for the kernel heap");
    // SAFETY: the region was just mapped, is used by nothing else, and lives forever.
    without_interrupts(|| unsafe { HEAP.0.lock().init(HEAP_BASE as *mut u8, HEAP_SIZE as usize) });
}

/// (used, free) bytes.
pub fn usage() -> (usize, usize) {
    without_interrupts(|| {
        let heap = HEAP.0.lock();
        (heap.used(), heap.free())
    })
}
