//! The `gallery` scenario, a client of the gallery server: what it refuses about the Frame a
//! thumbnail travels in (too small, too large, without the right, not a Frame at all), that
//! a thumbnail of the largest size comes back byte for byte, and that the server lets go of
//! each Frame once the request is answered (its pages are free as soon as the client deletes
//! its capability).

use ipc::cap::{Kind, Rights, SELF};
use ipc::layout::PAGE_SIZE;
use ipc::proto::gallery::{GalleryError, THUMB_MAX};
use ipc::syscall::MapFlags;
use rt::check::Checks;
use rt::gallery::{self as client, Failed};
use rt::{cap, ipc, sys};

const AT: u64 = 0x0000_5100_0000_0000;

fn refused<T>(e: GalleryError) -> Result<T, Failed> {
    Err(Failed::Server(e))
}

pub fn gallery() -> u64 {
    let mut c = Checks::new("ipctest gallery");
    let Ok((g, _)) = rt::name::lookup("gallery") else {
        c.check("look up the gallery", false);
        return c.done();
    };
    c.check("make an album", client::create(g, "Refusals").is_ok());
    let pages = (THUMB_MAX as u64).div_ceil(PAGE_SIZE);
    let frame = cap::create(Kind::Frame, pages).expect("a Frame");
    let one_page = cap::create(Kind::Frame, 1).expect("a Frame");
    let huge = cap::create(Kind::Frame, 17).expect("a Frame");
    let endpoint = cap::create(Kind::Endpoint, 0).expect("an endpoint");
    let (read_only, write_only) = (cap::alloc().expect("slot"), cap::alloc().expect("slot"));
    sys::cap_copy(frame, read_only, Rights::READ, SELF).expect("copy");
    sys::cap_copy(frame, write_only, Rights::WRITE, SELF).expect("copy");

    let add = |frame, name, len| client::add(g, "Refusals", name, 1, 2, frame, len);
    c.check(
        "a thumbnail larger than its Frame",
        add(one_page, "a", PAGE_SIZE as usize + 1) == refused(GalleryError::FrameSize),
    );
    c.check("a Frame larger than the server maps", add(huge, "a", 10) == refused(GalleryError::FrameSize));
    c.check("a Frame it may not read", add(write_only, "a", 10) == refused(GalleryError::FrameRights));
    c.check("an endpoint for a Frame", add(endpoint, "a", 10) == refused(GalleryError::NoCapability));
    c.check("a thumbnail over the limit", add(frame, "a", THUMB_MAX + 1) == refused(GalleryError::TooLarge));
    c.check("an unknown album", client::add(g, "Nowhere", "a", 0, 0, frame, 1) == refused(GalleryError::UnknownAlbum));
    c.check("a name that is not one", add(frame, "two words", 1) == refused(GalleryError::BadName));

    // The largest thumbnail, written through this process's mapping of the Frame.
    sys::frame_map(frame, AT, MapFlags::WRITE, SELF).expect("map");
    // SAFETY: the Frame's `pages` pages are mapped writable at AT, and only this slice refers
    // to them while this process runs (the server reads or writes them only during a call).
    let bytes = unsafe { core::slice::from_raw_parts_mut(AT as *mut u8, (pages * PAGE_SIZE) as usize) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i * 7 + i / 256) as u8;
    }
    let id = add(read_only, "largest", THUMB_MAX);
    c.check("a read-only Frame is enough to add", id.is_ok());
    let id = id.unwrap_or(0);
    bytes.fill(0);
    c.check("fetching into a read-only Frame", client::thumb(g, id, read_only) == refused(GalleryError::FrameRights));
    c.check("fetching into a Frame too small", client::thumb(g, id, one_page) == refused(GalleryError::FrameSize));
    c.check("an unknown photo", client::thumb(g, id + 1000, frame) == refused(GalleryError::UnknownPhoto));
    c.check("the thumbnail comes back", client::thumb(g, id, frame) == Ok(THUMB_MAX));
    let same = bytes[..THUMB_MAX].iter().enumerate().all(|(i, &b)| b == (i * 7 + i / 256) as u8);
    c.check("byte for byte", same);
    c.check("nothing past it", bytes[THUMB_MAX..].iter().all(|&b| b == 0));

    // The server unmapped every Frame it was given: deleting a fresh one frees it at once.
    let (before, _) = sys::mem_stats();
    let fresh = cap::create(Kind::Frame, 2).expect("a Frame");
    c.check("a fresh Frame takes two pages", sys::mem_stats().0 == before - 2);
    c.check("add through it", client::add(g, "Refusals", "fresh", 0, 0, fresh, 100).is_ok());
    c.check("and fetch through it", client::thumb(g, id, fresh) == Ok(THUMB_MAX));
    cap::release(fresh);
    c.check("its pages are free once it is deleted", sys::mem_stats().0 == before);
    c.check("delete the album", client::delete(g, "Refusals").is_ok());
    c.done()
}
