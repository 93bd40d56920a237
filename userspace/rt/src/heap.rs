//! The process heap: a linked-list allocator over a region that grows on demand by mapping
//! fresh pages with the `Map` call.

use crate::sys;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use ipc::layout::PAGE_SIZE;
use ipc::syscall::MapFlags;
use linked_list_allocator::Heap;
use spin::Mutex;

/// Where the heap starts; far from the program image and the stack.
const HEAP_BASE: u64 = 0x0000_1000_0000_0000;
/// How much the heap grows by at least, each time it runs out.
const GROWTH: u64 = 64 * 1024;
/// The heap never grows past this.
const HEAP_MAX: u64 = 1 << 30;

struct UserHeap {
    heap: Heap,
    /// Bytes mapped so far, from `HEAP_BASE`.
    mapped: u64,
}

impl UserHeap {
    /// Maps at least `bytes` more and hands them to the allocator.
    fn grow(&mut self, bytes: u64) -> bool {
        let len = bytes.max(GROWTH).next_multiple_of(PAGE_SIZE);
        if self.mapped + len > HEAP_MAX || sys::map(HEAP_BASE + self.mapped, len, MapFlags::WRITE).is_err() {
            return false;
        }
        if self.mapped == 0 {
            // SAFETY: the range was just mapped, writable, and belongs to the heap alone.
            unsafe { self.heap.init(HEAP_BASE as *mut u8, len as usize) };
        } else {
            // SAFETY: the new pages continue the heap's range directly and are unused.
            unsafe { self.heap.extend(len as usize) };
        }
        self.mapped += len;
        true
    }
}

struct Allocator(Mutex<UserHeap>);

// SAFETY: allocation is delegated to linked_list_allocator, which hands out disjoint blocks of
// memory that stays mapped (the heap never shrinks).
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut h = self.0.lock();
        loop {
            if let Ok(p) = h.heap.allocate_first_fit(layout) {
                return p.as_ptr();
            }
            // Room for the block, its alignment, and the allocator's own bookkeeping.
            let need = (layout.size() + layout.align() + 64) as u64;
            if !h.grow(need) {
                return core::ptr::null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: the caller passes a block this allocator gave out, with its layout.
            unsafe { self.0.lock().heap.deallocate(p, layout) };
        }
    }
}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator(Mutex::new(UserHeap { heap: Heap::empty(), mapped: 0 }));
