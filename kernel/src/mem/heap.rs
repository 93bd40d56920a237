//! The kernel heap, managed by `linked_list_allocator`: [`HEAP_INITIAL`] bytes mapped at boot,
//! grown from free frames when an allocation does not fit.
//!
//! Why it grows: what a process makes the kernel hold on the heap (capability slots, objects,
//! process and thread records) is charged to its Memory quota, and the quotas together are at
//! most the machine's free frames. A heap of fixed size would run out first, and the kernel
//! cannot refuse an allocation it did not expect to fail. Growing from the same frames the
//! quotas are drawn from, the heap can hold whatever has been charged. The frames stay with the
//! heap once it has them (a later allocation reuses them), so after a large peak `Map` may be
//! refused a page its quota would allow: a refusal the caller sees, never a kernel failure.
//!
//! The page below the heap is left unmapped, and so is everything above its top, so running
//! off either end faults at once. The lock is taken with interrupts masked, so an interrupt
//! handler that allocates cannot deadlock against the code it interrupted. Growing takes the
//! frame allocator's and the page mapper's locks inside the heap's; neither allocates.

use super::layout::{HEAP_BASE, HEAP_INITIAL, HEAP_RESERVED, PAGE_SIZE};
use super::paging::{self, KERNEL_DATA};
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};
use linked_list_allocator::Heap;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// The heap grows by at least this much at a time, when the frames are there.
const GROWTH: u64 = 1024 * 1024;

struct KernelHeap(Mutex<Grown>);

/// The allocator and the top of what is mapped for it.
struct Grown {
    heap: Heap,
    top: u64,
}

/// `Grown::top`, readable without the lock: the exception handler reads it to say whether a
/// faulting address is in the heap, and the fault may have come with the lock held.
static TOP: AtomicU64 = AtomicU64::new(HEAP_BASE);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Grown { heap: Heap::empty(), top: HEAP_BASE }));

// SAFETY: allocation and deallocation are delegated to `linked_list_allocator::Heap`, which
// returns blocks that fit `layout` and do not overlap, behind a lock; growth only adds
// freshly mapped memory above everything the heap had.
unsafe impl GlobalAlloc for KernelHeap {
    /// # Safety
    /// As `GlobalAlloc::alloc` requires: `layout` has a non-zero size.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        without_interrupts(|| {
            let mut grown = self.0.lock();
            if let Ok(p) = grown.heap.allocate_first_fit(layout) {
                return p.as_ptr();
            }
            if grown.grow(layout).is_none() {
                return ptr::null_mut();
            }
            grown.heap.allocate_first_fit(layout).map_or(ptr::null_mut(), |p| p.as_ptr())
        })
    }

    /// # Safety
    /// As `GlobalAlloc::dealloc` requires: `ptr` came from this allocator with this `layout`.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a pointer this allocator returned for `layout`, so non-null.
        without_interrupts(|| unsafe { self.0.lock().heap.deallocate(NonNull::new_unchecked(ptr), layout) })
    }
}

impl Grown {
    /// Maps enough fresh frames above the top for `layout` to fit in them alone (at least
    /// [`GROWTH`] when there are that many free) and gives them to the heap. `None` when the
    /// frames or the heap's address space are not there; nothing changes then.
    fn grow(&mut self, layout: Layout) -> Option<()> {
        // A new block at the top, aligned inside the new memory, with room for the
        // allocator's own hole record.
        let needed = (layout.size() as u64)
            .checked_add(layout.align() as u64)?
            .checked_add(2 * size_of::<usize>() as u64)?
            .checked_next_multiple_of(PAGE_SIZE)?;
        let room = HEAP_BASE + HEAP_RESERVED - self.top;
        let free = super::frame_counts().0.saturating_mul(PAGE_SIZE);
        if needed > room || needed > free {
            return None;
        }
        let bytes = needed.max(GROWTH.min(room).min(free));
        paging::map_fresh(self.top, bytes / PAGE_SIZE, KERNEL_DATA).ok()?;
        // SAFETY: the pages just mapped start at the heap's top (`top` is where the last
        // mapping ended, and the heap was given everything below it), belong to nothing else,
        // and stay mapped for ever.
        unsafe { self.heap.extend(bytes as usize) };
        self.top += bytes;
        TOP.store(self.top, Ordering::Relaxed);
        Some(())
    }
}

pub fn init() {
    paging::map_fresh(HEAP_BASE, HEAP_INITIAL / PAGE_SIZE, KERNEL_DATA).expect("no memory for the kernel heap");
    without_interrupts(|| {
        let mut grown = HEAP.0.lock();
        // SAFETY: the region was just mapped, is used by nothing else, and lives forever.
        unsafe { grown.heap.init(HEAP_BASE as *mut u8, HEAP_INITIAL as usize) };
        grown.top = HEAP_BASE + HEAP_INITIAL;
        TOP.store(grown.top, Ordering::Relaxed);
    });
}

/// (used, free) bytes.
pub fn usage() -> (usize, usize) {
    without_interrupts(|| {
        let grown = HEAP.0.lock();
        (grown.heap.used(), grown.heap.free())
    })
}

/// The end of what is mapped for the heap: [`HEAP_BASE`] plus its size.
pub fn top() -> u64 {
    TOP.load(Ordering::Relaxed)
}
