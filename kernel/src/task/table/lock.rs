//! The task table's lock. Seam runs on one CPU, and the kernel with interrupts off, so no two
//! paths can hold the table at once: the lock is a flag, not a spin lock (no atomic
//! read-modify-write). It is still checked: taking it while it is held, a re-entry and a bug
//! of the kernel's own, panics where a spin lock would hang without a word.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

pub struct TableLock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `Guard`, and at most one exists at a time (the
// flag); with one CPU and interrupts off while it is held, no other path runs meanwhile.
unsafe impl<T: Send> Sync for TableLock<T> {}

impl<T> TableLock<T> {
    pub const fn new(value: T) -> Self {
        Self { held: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Takes the lock. Must be called with interrupts off.
    #[inline(always)]
    pub fn lock(&self) -> Guard<'_, T> {
        // Acquire and Release compile to plain moves on x86; they keep the compiler from
        // moving the table's accesses out of the guarded stretch.
        if self.held.load(Ordering::Acquire) {
            taken_twice();
        }
        self.held.store(true, Ordering::Relaxed);
        Guard { lock: self }
    }
}

#[cold]
#[inline(never)]
fn taken_twice() -> ! {
    panic!("the task table was taken while held (a re-entry in the kernel)");
}

/// The table, held: released when dropped.
pub struct Guard<'a, T> {
    lock: &'a TableLock<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (the flag), so no `&mut` to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the only one, and `&mut self` the only borrow of it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
    }
}
