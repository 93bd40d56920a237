//! `gallery`, the gallery server (`ipc::proto::gallery`): albums of photos, each with a
//! name, a time, a size and a thumbnail of real bytes. Thumbnails come and go through a Frame
//! the client passes, which the server maps for the one request and unmaps.
//!
//! Nothing acknowledged is lost when it crashes: every change (an album made or deleted, a
//! photo added with its thumbnail, or removed) is appended to its store before the answer
//! goes out, as the settings server does, and a restarted instance replays the store. A
//! photo's name is unique in its album, so an `ADD` retried after a crash that came between
//! the store and the answer says `Exists` rather than adding the photo twice.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use ipc::cap::Slot;
use ipc::layout::PAGE_SIZE;
use ipc::proto::gallery::record::{self, Change};
use ipc::proto::gallery::{self as proto, Buffers, GalleryError, Name, Page, Request};
use ipc::proto::Long;
use ipc::syscall::MapFlags;
use ipc::system::{self, slots};
use ipc::Error;
use rt::{ipc, long, println, sys};
use store::Store;

rt::main!(main);

/// Where a client's Frame is mapped while a request uses it.
const WINDOW: u64 = 0x0000_5000_0000_0000;

struct Photo {
    album: u16,
    name: String,
    time: u64,
    size: u64,
    thumb: Vec<u8>,
}

struct Album {
    name: String,
    photos: BTreeSet<u32>,
}

struct Gallery {
    albums: BTreeMap<u16, Album>,
    photos: BTreeMap<u32, Photo>,
    next_album: u16,
    next_photo: u32,
    log: Store<'static>,
}

fn main(_: rt::Args) -> u64 {
    let mut gallery = match Gallery::start() {
        Ok(g) => g,
        Err(e) => {
            println!("gallery: {e}");
            return 1;
        }
    };
    let failed = long::serve(slots::SERVICE, |r| {
        let mut buffers = Buffers::default();
        Some(match (system::caller(r.badge), proto::decode(r.message, &mut buffers)) {
            (None, _) => proto::refuse(GalleryError::Denied),
            (_, Err(e)) => proto::refuse(e),
            (Some(_), Ok(req)) => gallery.handle(req, r.incoming).unwrap_or_else(proto::refuse),
        })
    });
    println!("gallery: receive failed: {failed}");
    1
}

/// A client's Frame, mapped at [`WINDOW`] for one request; unmapped when dropped.
struct Mapped {
    pages: u64,
    writable: bool,
    len: usize,
}

impl Mapped {
    /// Maps the Frame in `frame` (read-only, or writable) to reach its first `len` bytes.
    /// Refuses what is not a Frame, a Frame too small for `len` or larger than the server
    /// maps, and one without the rights.
    fn new(frame: Slot, writable: bool, len: usize) -> Result<Mapped, GalleryError> {
        let pages = sys::frame_pages(frame).map_err(|_| GalleryError::NoCapability)?;
        if pages > proto::FRAME_PAGES_MAX || pages * PAGE_SIZE < len as u64 {
            return Err(GalleryError::FrameSize);
        }
        let flags = if writable { MapFlags::WRITE } else { MapFlags::READ };
        match sys::frame_map(frame, WINDOW, flags, ipc::cap::SELF) {
            Ok(()) => Ok(Mapped { pages, writable, len }),
            Err(Error::MissingRights) => Err(GalleryError::FrameRights),
            Err(_) => Err(GalleryError::NoCapability),
        }
    }

    /// The first `len` bytes. The client may write them meanwhile: they are only copied.
    fn bytes(&self) -> &[u8] {
        // SAFETY: at least `len` bytes of the Frame are mapped readable at WINDOW, where
        // nothing else is mapped, for as long as `self` lives (the slice borrows it).
        unsafe { core::slice::from_raw_parts(WINDOW as *const u8, self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        assert!(self.writable, "a read-only mapping is never written");
        // SAFETY: as in `bytes`, and mapped writable; the slice borrows `self` mutably, so it
        // is the only one.
        unsafe { core::slice::from_raw_parts_mut(WINDOW as *mut u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: no slice of the window outlives `self` (they borrow it).
        let unmapped = unsafe { sys::unmap(WINDOW, self.pages * PAGE_SIZE) };
        debug_assert!(unmapped.is_ok(), "the window was mapped");
    }
}

impl Gallery {
    fn start() -> Result<Gallery, &'static str> {
        let mem = rt::store::map().map_err(|_| "no store (give it one: store = \"512 KiB\")")?;
        let log = Store::open(mem).map_err(|_| "the store cannot be opened")?;
        if log.dropped > 0 {
            println!("gallery: dropped a write torn by the last crash");
        }
        let mut g = Gallery { albums: BTreeMap::new(), photos: BTreeMap::new(), next_album: 1, next_photo: 1, log };
        let records: Vec<Vec<u8>> = g.log.records().map(<[u8]>::to_vec).collect();
        for r in &records {
            match record::decode(r) {
                Some(change) => g.apply(&change),
                None => println!("gallery: a record it cannot read (skipped)"),
            }
        }
        Ok(g)
    }

    /// Applies a change to the index (the store already holds it).
    fn apply(&mut self, change: &Change) {
        match *change {
            Change::AlbumCreated { id, name } => {
                self.albums.insert(id, Album { name: String::from(name), photos: BTreeSet::new() });
                self.next_album = self.next_album.max(id.wrapping_add(1));
            }
            Change::AlbumDeleted { id } => {
                if let Some(album) = self.albums.remove(&id) {
                    for photo in album.photos {
                        self.photos.remove(&photo);
                    }
                }
            }
            Change::PhotoAdded { id, album, time, size, name, thumb } => {
                if let Some(a) = self.albums.get_mut(&album) {
                    a.photos.insert(id);
                    let photo = Photo { album, name: String::from(name), time, size, thumb: thumb.to_vec() };
                    self.photos.insert(id, photo);
                }
                self.next_photo = self.next_photo.max(id.wrapping_add(1));
            }
            Change::PhotoRemoved { id } => {
                if let Some(p) = self.photos.remove(&id) {
                    if let Some(a) = self.albums.get_mut(&p.album) {
                        a.photos.remove(&id);
                    }
                }
            }
        }
    }

    /// Makes a change durable (compacting the store first if it is full), then applies it.
    /// Only after this may it be acknowledged.
    fn change(&mut self, change: &Change) -> Result<(), GalleryError> {
        let mut bytes = [0u8; record::MAX];
        let len = record::encode(change, &mut bytes).ok_or(GalleryError::BadRequest)?;
        if !self.log.fits(len) {
            let live = self.live_records();
            self.log.compact(live.iter().map(Vec::as_slice)).map_err(|_| GalleryError::Full)?;
        }
        self.log.append(&bytes[..len]).map_err(|_| GalleryError::Full)?;
        self.apply(change);
        Ok(())
    }

    /// The records that rebuild the index as it is: its albums, then its photos.
    fn live_records(&self) -> Vec<Vec<u8>> {
        let encoded = |c: Change| {
            let mut out = [0u8; record::MAX];
            record::encode(&c, &mut out).map(|n| out[..n].to_vec())
        };
        let albums = self.albums.iter().map(|(&id, a)| Change::AlbumCreated { id, name: &a.name });
        let photos = self.photos.iter().map(|(&id, p)| Change::PhotoAdded {
            id,
            album: p.album,
            time: p.time,
            size: p.size,
            name: &p.name,
            thumb: &p.thumb,
        });
        albums.chain(photos).filter_map(encoded).collect()
    }

    fn album_named(&self, name: &str) -> Result<(u16, &Album), GalleryError> {
        self.albums.iter().find(|(_, a)| a.name == name).map(|(&id, a)| (id, a)).ok_or(GalleryError::UnknownAlbum)
    }

    fn listed(&self, id: u32) -> proto::Photo {
        let p = &self.photos[&id];
        proto::Photo {
            id,
            album: p.album,
            thumb_len: p.thumb.len() as u16,
            time: p.time,
            size: p.size,
            name: Name::new(&p.name).expect("names are checked before they are stored"),
        }
    }

    /// A page of the photos `ids` gives, from its `first`th on.
    fn page(&self, ids: impl Iterator<Item = u32> + Clone, first: u64, count: usize) -> Page {
        let mut page = Page::new(ids.clone().count() as u64);
        let skip = usize::try_from(first).unwrap_or(usize::MAX);
        for id in ids.skip(skip).take(count) {
            page.push(self.listed(id));
        }
        page
    }

    fn handle(&mut self, request: Request, incoming: Slot) -> Result<Long, GalleryError> {
        match request {
            Request::Create(name) => {
                if self.album_named(name).is_ok() {
                    return Err(GalleryError::Exists);
                }
                if self.albums.len() >= usize::from(u16::MAX) {
                    return Err(GalleryError::Full);
                }
                // Ids are not reused while the store remembers them: skip any still taken.
                let mut id = self.next_album.max(1);
                while self.albums.contains_key(&id) {
                    id = id.checked_add(1).unwrap_or(1);
                }
                self.change(&Change::AlbumCreated { id, name })?;
                Ok(proto::number(u64::from(id)))
            }
            Request::Delete(name) => {
                let (id, _) = self.album_named(name)?;
                self.change(&Change::AlbumDeleted { id })?;
                Ok(proto::done())
            }
            Request::Albums(index) => {
                let i = usize::try_from(index).unwrap_or(usize::MAX);
                let (&id, a) = self.albums.iter().nth(i).ok_or(GalleryError::UnknownAlbum)?;
                let name = Name::new(&a.name).expect("names are checked before they are stored");
                Ok(proto::album(&proto::Album { name, id, photos: a.photos.len() as u64 }))
            }
            Request::Add { album, name, time, size, thumb_len } => {
                let (album, a) = self.album_named(album)?;
                if a.photos.iter().any(|id| self.photos[id].name == name) {
                    return Err(GalleryError::Exists);
                }
                let id = self.next_photo;
                if id == u32::MAX {
                    return Err(GalleryError::Full);
                }
                let thumb = Mapped::new(incoming, false, thumb_len as usize)?.bytes().to_vec();
                self.change(&Change::PhotoAdded { id, album, time, size, name, thumb: &thumb })?;
                Ok(proto::number(u64::from(id)))
            }
            Request::List { album, first, count } => {
                let (_, a) = self.album_named(album)?;
                Ok(proto::page(&self.page(a.photos.iter().copied(), first, count as usize)))
            }
            Request::Thumb(id) => {
                let thumb = &self.photos.get(&id).ok_or(GalleryError::UnknownPhoto)?.thumb;
                Mapped::new(incoming, true, thumb.len())?.bytes_mut().copy_from_slice(thumb);
                Ok(proto::number(thumb.len() as u64))
            }
            Request::Remove(id) => {
                if !self.photos.contains_key(&id) {
                    return Err(GalleryError::UnknownPhoto);
                }
                self.change(&Change::PhotoRemoved { id })?;
                Ok(proto::done())
            }
            Request::Search { prefix, from, to, first } => {
                let matching =
                    self.photos.iter().filter(|(_, p)| p.name.starts_with(prefix) && (from..=to).contains(&p.time));
                Ok(proto::page(&self.page(matching.map(|(&id, _)| id), first, proto::PAGE_MAX)))
            }
        }
    }
}
