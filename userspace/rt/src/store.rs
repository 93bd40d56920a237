//! The store a program of the system description was given (`store = "64 KiB"`): a Frame
//! that init made once and hands to every instance of the program, mapped here as bytes for
//! the `store` crate's log.

use crate::sys;
use core::sync::atomic::{AtomicBool, Ordering};
use ipc::cap::SELF;
use ipc::layout::PAGE_SIZE;
use ipc::syscall::MapFlags;
use ipc::system::slots;
use ipc::Error;

/// Where the store is mapped.
const STORE_AT: u64 = 0x0000_6000_0000_0000;

static MAPPED: AtomicBool = AtomicBool::new(false);

/// The store's bytes, mapped writable; only once (`InvalidArgument` the second time).
pub fn map() -> Result<&'static mut [u8], Error> {
    let pages = sys::frame_pages(slots::STORE)?;
    if MAPPED.swap(true, Ordering::Relaxed) {
        return Err(Error::InvalidArgument);
    }
    sys::frame_map(slots::STORE, STORE_AT, MapFlags::WRITE, SELF)?;
    // SAFETY: the Frame's `pages` pages were just mapped writable at STORE_AT, where nothing
    // else is; this runs once (MAPPED), so this is the only reference to them, and the
    // mapping stays for the life of the process.
    Ok(unsafe { core::slice::from_raw_parts_mut(STORE_AT as *mut u8, (pages * PAGE_SIZE) as usize) })
}
