//! The process heap: a linked-list allocator over a region that grows on demand by mapping
//! fresh pages with the `Map` call.

use crate::sys;
use crate::thread::Mutex;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use ipc::layout::PAGE_SIZE;
use ipc::syscall::MapFlags;
use linked_list_allocator::Heap;

/// Where the heap starts; far from the program image and the stack.
const HEAP_BASE: u64 = 0x0000_1000_0000_0000;
/// How much the heap grows by at least, each time it runs out.
const GROWTH: u64 = 64 * 1024;
/// The heap never grows past this.
const HEAP_MAX: u64 = 1 << 30;

/// The block sizes of the small-block cache. A request of at most one of these sizes (and
/// at most [`CLASS_ALIGN`] alignment) gets a block of the first that holds it; freed, the
/// block goes on its size's free list rather than back into the linked list, and the next
/// request of that size takes it in a few instructions. linked_list_allocator's first fit
/// walks its holes on every allocation and every free, and a binder call through compat makes
/// about a dozen small allocations on each side. Cached blocks stay cached (a program's peak
/// of small blocks per size, which the heap's growth already paid for).
const CLASSES: [usize; 6] = [16, 32, 64, 128, 256, 512];
const CLASS_ALIGN: usize = 16;

struct UserHeap {
    heap: Heap,
    /// Bytes mapped so far, from `HEAP_BASE`.
    mapped: u64,
    /// Per size class, the address of the first free cached block (0 for none); each free
    /// block's first word holds the address of the next.
    free: [usize; CLASSES.len()],
}

/// The size class that serves `layout`, if any.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN {
        return None;
    }
    CLASSES.iter().position(|&size| layout.size() <= size)
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
        let class = class_of(layout);
        let layout = match class {
            Some(c) if h.free[c] != 0 => {
                let block = h.free[c];
                // SAFETY: `block` is a free cached block of this class (dealloc put it there),
                // at least 16 bytes and 16-aligned, whose first word holds the next one.
                h.free[c] = unsafe { *(block as *const usize) };
                return block as *mut u8;
            }
            Some(c) => Layout::from_size_align(CLASSES[c], CLASS_ALIGN).unwrap_or(layout),
            None => layout,
        };
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
        let Some(p) = NonNull::new(ptr) else { return };
        let mut h = self.0.lock();
        match class_of(layout) {
            Some(c) => {
                // SAFETY: the caller gives back a block alloc gave out for this layout, so one
                // of class `c`: at least 16 bytes, 16-aligned, and no longer used by anyone.
                // Its first word now links it into the class's free list.
                unsafe { *(ptr as *mut usize) = h.free[c] };
                h.free[c] = ptr as usize;
            }
            // SAFETY: the caller passes a block this allocator gave out, with its layout.
            None => unsafe { h.heap.deallocate(p, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new) = Layout::from_size_align(new_size, layout.align()) else { return core::ptr::null_mut() };
        if class_of(layout).is_some() && class_of(new) == class_of(layout) {
            // The block already has its class's full size.
            return ptr;
        }
        // SAFETY: as GlobalAlloc's own realloc: a new block, the bytes both hold, the old freed.
        unsafe {
            let to = self.alloc(new);
            if !to.is_null() {
                core::ptr::copy_nonoverlapping(ptr, to, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            to
        }
    }
}

#[global_allocator]
static ALLOCATOR: Allocator =
    Allocator(Mutex::new(UserHeap { heap: Heap::empty(), mapped: 0, free: [0; CLASSES.len()] }));
