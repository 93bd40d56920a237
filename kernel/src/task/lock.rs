//! The task table's lock. Seam runs on one CPU, and the kernel with interrupts off, so no two
//! paths can hold the table at once: the lock is a plain flag, not a spin lock (no atomic
//! read-modify-write, and a test of it is one compare). It is still checked: taking it while
//! it is held, a re-entry and a bug of the kernel's own, panics where a spin lock would hang
//! without a word.
//!
//! Nothing but the code holding the table runs between the flag's store and the release: no
//! interrupt (they are off), no other CPU. Where interrupts come back on after a release
//! (`task::with`), the `sti` is an `asm!` block, which the compiler does not move memory
//! accesses across.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

pub struct TableLock<T> {
    held: UnsafeCell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `Guard`, and at most one exists at a time (the
// flag); with one CPU and interrupts off while the flag is read, written or held, no other
// path runs meanwhile.
unsafe impl<T: Send> Sync for TableLock<T> {}

impl<T> TableLock<T> {
    pub const fn new(value: T) -> Self {
        Self { held: UnsafeCell::new(false), value: UnsafeCell::new(value) }
    }

    /// Takes the lock. Must be called with interrupts off.
    #[inline(always)]
    pub fn lock(&self) -> Guard<'_, T> {
        // SAFETY: the flag is only read and written here and in `Guard::drop`, with
        // interrupts off on the one CPU: never two at once.
        unsafe {
            if *self.held.get() {
                taken_twice();
            }
            *self.held.get() = true;
        }
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
        // SAFETY: as in `TableLock::lock`.
        unsafe { *self.lock.held.get() = false };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_gives_the_value_and_releases_it_when_dropped() {
        let lock = TableLock::new(1);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2, "taken again after the first guard went");
    }

    #[test]
    #[should_panic(expected = "taken while held")]
    fn taking_it_while_held_panics() {
        let lock = TableLock::new(());
        let _held = lock.lock();
        let _again = lock.lock();
    }
}
