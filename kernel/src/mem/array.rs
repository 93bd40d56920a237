//! Arrays that grow in place: the storage of the capability tables' slabs (`cap::slab`).
//!
//! Each array has a span of kernel address space of its own ([`ARRAY_SPAN`] bytes from
//! `ARRAYS_BASE + i * ARRAY_SPAN`), and grows by mapping fresh pages at its end. Its values
//! never move, so growing copies nothing and needs no second block beside the first (a `Vec`
//! doubling would copy every capability in the system with interrupts off, and need the old
//! and the new block in the heap at once), and a look-up is one bounds check and one index,
//! as in a `Vec` (the IPC fast path makes several a round trip; a table of chunks costs a load
//! and a shift more each).
//!
//! The pages stay with the array once it has them, as the heap's stay with the heap; the
//! kernel's memory statistics count them with the heap's ([`mapped`]). On the host, where
//! the capability tables are tested, an array is a `Vec`: the same methods, without the
//! address space.

#[cfg(not(target_os = "none"))]
pub type Array<T> = alloc::vec::Vec<T>;

#[cfg(target_os = "none")]
pub use self::kernel::{mapped, Array};

#[cfg(target_os = "none")]
mod kernel {
    use crate::mem::layout::{ARRAYS_BASE, ARRAY_REGIONS, ARRAY_SPAN, PAGE_SIZE};
    use crate::mem::paging::{self, KERNEL_DATA};
    use core::marker::PhantomData;
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// What an array maps at its first value: enough for the tables a booted system and its
    /// tests use, so that they do not take frames while a test counts them.
    const FIRST: u64 = 1024 * 1024;
    /// What it maps more each time it is full.
    const GROWTH: u64 = 64 * 1024;

    /// Spans handed out so far (each array takes the next at its first value).
    static SPANS: AtomicUsize = AtomicUsize::new(0);
    /// Bytes mapped for all arrays together.
    static MAPPED: AtomicU64 = AtomicU64::new(0);

    /// Bytes mapped for the kernel's arrays.
    pub fn mapped() -> u64 {
        MAPPED.load(Ordering::Relaxed)
    }

    pub struct Array<T> {
        /// The first value: dangling until the first value is pushed, then the span's start.
        base: NonNull<T>,
        /// Values written, all below `room`.
        len: usize,
        /// Values the mapped pages hold.
        room: usize,
        /// Bytes mapped from `base`.
        mapped: u64,
        owns: PhantomData<T>,
    }

    // SAFETY: an `Array<T>` owns its values as a `Vec<T>` does, and its span belongs to it
    // alone, so it may move between threads (and be shared) as its values may.
    unsafe impl<T: Send> Send for Array<T> {}
    // SAFETY: as above; `&Array<T>` gives only `&T`.
    unsafe impl<T: Sync> Sync for Array<T> {}

    impl<T> Array<T> {
        pub const fn new() -> Self {
            const { assert!(size_of::<T>() != 0 && align_of::<T>() as u64 <= PAGE_SIZE) };
            Array { base: NonNull::dangling(), len: 0, room: 0, mapped: 0, owns: PhantomData }
        }

        pub fn len(&self) -> usize {
            self.len
        }

        #[inline]
        fn as_slice(&self) -> &[T] {
            // SAFETY: the first `len` values from `base` are written and mapped, and stay
            // where they are while the array lives; with none, `base` is dangling and aligned,
            // as an empty slice allows.
            unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.len) }
        }

        #[inline]
        fn as_mut_slice(&mut self) -> &mut [T] {
            // SAFETY: as in `as_slice`, and `&mut self` makes the borrow the only one.
            unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
        }

        #[inline]
        pub fn get(&self, i: usize) -> Option<&T> {
            self.as_slice().get(i)
        }

        #[inline]
        pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
            self.as_mut_slice().get_mut(i)
        }

        pub fn push(&mut self, value: T) {
            if self.len == self.room {
                self.grow();
            }
            // SAFETY: `len < room`, so the place is mapped, inside this array's span, and
            // holds no value yet.
            unsafe { self.base.as_ptr().add(self.len).write(value) };
            self.len += 1;
        }

        /// Maps more pages at the end: the first time, takes a span.
        ///
        /// Panics when the frames are not there, as an allocation from the kernel heap fails:
        /// what the arrays hold (capabilities, objects, spaces) is charged to the quotas of
        /// the processes that make it, and the quotas together are at most the free frames.
        #[cold]
        fn grow(&mut self) {
            if self.mapped == 0 {
                let span = SPANS.fetch_add(1, Ordering::Relaxed);
                assert!(span < ARRAY_REGIONS, "more kernel arrays than ARRAY_REGIONS");
                let start = ARRAYS_BASE + span as u64 * ARRAY_SPAN;
                self.base = NonNull::new(start as *mut T).expect("the arrays' spans are not at 0");
            }
            let bytes = if self.mapped == 0 { FIRST } else { GROWTH };
            assert!(self.mapped + bytes <= ARRAY_SPAN, "a kernel array filled its span");
            let start = self.base.as_ptr() as u64 + self.mapped;
            paging::map_fresh(start, bytes / PAGE_SIZE, KERNEL_DATA).expect("no memory for a kernel array");
            self.mapped += bytes;
            MAPPED.fetch_add(bytes, Ordering::Relaxed);
            self.room = (self.mapped / size_of::<T>() as u64) as usize;
        }
    }

    impl<T> Drop for Array<T> {
        /// Drops the values; the pages stay mapped and the span taken (the kernel's arrays
        /// live as long as the kernel).
        fn drop(&mut self) {
            // SAFETY: the first `len` values are written, and are not used after this.
            unsafe { core::ptr::drop_in_place(self.as_mut_slice()) };
        }
    }
}
