//! The client side of the gallery server (`ipc::proto::gallery`): typed calls, and
//! [`ThumbFrame`], the one-page Frame a client passes thumbnails through.
//!
//! Which calls may be retried ([`retry_once`]): all but `create` and `add` leave the same
//! state when repeated; a repeated `create` or `add` (after a crash between the server's
//! store and its answer) says `Exists`, which tells the caller the first one was kept.

use crate::frame::Window;
use crate::{cap, long};
use ipc::cap::Slot;
use ipc::layout::PAGE_SIZE;
use ipc::proto::gallery::{self as proto, Album, GalleryError, Page, Request, THUMB_MAX};
use ipc::Error;

pub use crate::retry_once;

/// Why a gallery call failed.
pub type Failed = crate::Failed<GalleryError>;

fn call(gallery: Slot, request: Request) -> Result<ipc::proto::Long, Failed> {
    let m = request.encode().ok_or(Failed::Server(GalleryError::BadName))?;
    long::call(gallery, &m).map_err(Failed::Kernel)
}

/// Makes an album; its id.
pub fn create(gallery: Slot, album: &str) -> Result<u16, Failed> {
    let id = proto::read_number(&call(gallery, Request::Create(album))?).map_err(Failed::Server)?;
    Ok(id as u16)
}

/// Deletes an album and its photos.
pub fn delete(gallery: Slot, album: &str) -> Result<(), Failed> {
    proto::read_done(&call(gallery, Request::Delete(album))?).map_err(Failed::Server)
}

/// The `index`th album; None past the last.
pub fn album(gallery: Slot, index: u64) -> Result<Option<Album>, Failed> {
    proto::read_album(&call(gallery, Request::Albums(index))?).map_err(Failed::Server)
}

/// Adds a photo to `album`, its thumbnail the first `thumb_len` bytes of the Frame in
/// `frame`; the photo's id.
pub fn add(
    gallery: Slot,
    album: &str,
    name: &str,
    time: u64,
    size: u64,
    frame: Slot,
    thumb_len: usize,
) -> Result<u32, Failed> {
    cap::set_send_cap(0, frame);
    let request = Request::Add { album, name, time, size, thumb_len: thumb_len as u64 };
    let id = proto::read_number(&call(gallery, request)?).map_err(Failed::Server)?;
    Ok(id as u32)
}

/// Photos `first..first + count` of `album` (count at most 16), in id order.
pub fn list(gallery: Slot, album: &str, first: u64, count: u64) -> Result<Page, Failed> {
    proto::read_page(&call(gallery, Request::List { album, first, count })?).map_err(Failed::Server)
}

/// Copies photo `id`'s thumbnail into the Frame in `frame`; its length.
pub fn thumb(gallery: Slot, id: u32, frame: Slot) -> Result<usize, Failed> {
    cap::set_send_cap(0, frame);
    let len = proto::read_number(&call(gallery, Request::Thumb(id))?).map_err(Failed::Server)?;
    Ok(len as usize)
}

pub fn remove(gallery: Slot, id: u32) -> Result<(), Failed> {
    proto::read_done(&call(gallery, Request::Remove(id))?).map_err(Failed::Server)
}

/// A page of the photos, in any album, whose name starts with `prefix` and whose time is
/// in `from..=to`, from the `first`th match on.
pub fn search(gallery: Slot, prefix: &str, from: u64, to: u64, first: u64) -> Result<Page, Failed> {
    proto::read_page(&call(gallery, Request::Search { prefix, from, to, first })?).map_err(Failed::Server)
}

/// The pages of a [`ThumbFrame`].
const PAGES: u64 = (THUMB_MAX as u64).div_ceil(PAGE_SIZE);

/// A Frame of this process's just large enough for the largest thumbnail, mapped here, to
/// pass thumbnails through: write one before `add`, read one after `thumb`.
pub struct ThumbFrame {
    pub slot: Slot,
    window: Window,
}

impl ThumbFrame {
    pub fn new() -> Result<ThumbFrame, Error> {
        let window = Window::new(PAGES)?;
        Ok(ThumbFrame { slot: window.slot(), window })
    }

    /// Puts `thumb` (at most [`THUMB_MAX`] bytes) at the start of the Frame.
    pub fn write(&mut self, thumb: &[u8]) -> usize {
        let len = thumb.len().min(THUMB_MAX);
        self.window.bytes()[..len].copy_from_slice(&thumb[..len]);
        len
    }

    /// The first `len` bytes of the Frame.
    pub fn read(&mut self, len: usize) -> &[u8] {
        &self.window.bytes()[..len.min(THUMB_MAX)]
    }
}
