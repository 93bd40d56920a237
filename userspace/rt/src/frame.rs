//! [`Window`]: a Frame of this process's, mapped writable at an address of its own, to share
//! bytes with a server that maps the same Frame.

use crate::{cap, sys};
use core::sync::atomic::{AtomicU64, Ordering};
use ipc::cap::{Kind, Slot, SELF};
use ipc::layout::PAGE_SIZE;
use ipc::syscall::MapFlags;
use ipc::Error;

/// Where windows are mapped: each takes the next range, never reused (there is room for
/// millions), with an unmapped page between.
const WINDOWS: u64 = 0x0000_5c00_0000_0000;
static NEXT: AtomicU64 = AtomicU64::new(WINDOWS);

/// A Frame, mapped writable while this lives; unmapped and deleted when dropped.
pub struct Window {
    slot: Slot,
    at: u64,
    len: usize,
}

impl Window {
    /// A new Frame of `pages` pages, mapped.
    pub fn new(pages: u64) -> Result<Window, Error> {
        let len = pages.checked_mul(PAGE_SIZE).ok_or(Error::InvalidArgument)?;
        let at = NEXT.fetch_add(len + PAGE_SIZE, Ordering::Relaxed);
        let slot = cap::create(Kind::Frame, pages)?;
        if let Err(e) = sys::frame_map(slot, at, MapFlags::WRITE, SELF) {
            cap::release(slot);
            return Err(e);
        }
        Ok(Window { slot, at, len: len as usize })
    }

    /// The Frame's capability, to pass to a server.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `len` bytes are mapped writable at `at` while `self` lives, the range is
        // this Window's alone (NEXT never hands it out again), and the slice borrows `self`
        // mutably, so it is the only one. A server the Frame was passed to may write it
        // meanwhile; the bytes are plain data, checked by whoever reads them.
        unsafe { core::slice::from_raw_parts_mut(self.at as *mut u8, self.len) }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: no slice of the window outlives `self` (`bytes` borrows it).
        let unmapped = unsafe { sys::unmap(self.at, self.len as u64) };
        debug_assert!(unmapped.is_ok(), "the window was mapped");
        cap::release(self.slot);
    }
}
