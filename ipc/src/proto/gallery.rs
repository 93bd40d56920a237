//! The gallery server's protocol: albums of photos, each with a name, a time, a size and a
//! small thumbnail of real bytes. Thumbnails travel through a Frame the client passes (bulk
//! data never goes through message words); everything else in [`Long`] messages.
//!
//! | request | words | capability | answer |
//! |---|---|---|---|
//! | [`CREATE`] | album | — | the album's id |
//! | [`DELETE`] | album | — | — (its photos go with it) |
//! | [`ALBUMS`] | index | — | the `index`th album: name, id, photo count |
//! | [`ADD`] | album, name, time, size, thumbnail length | a Frame holding the thumbnail (read) | the photo's id |
//! | [`LIST`] | album, first, count (at most [`PAGE_MAX`]) | — | a [`Page`] of its photos, in id order |
//! | [`THUMB`] | photo id | a Frame to copy the thumbnail into (write) | the thumbnail's length |
//! | [`REMOVE`] | photo id | — | — |
//! | [`SEARCH`] | name prefix, from, to, first | — | a [`Page`] of photos (any album) whose name starts with the prefix and whose time is in `from..=to` |
//!
//! Names of albums and photos are 1 to [`NAME_MAX`] bytes of printable ASCII without spaces.
//! A thumbnail is at most [`THUMB_MAX`] bytes, at the start of the Frame; a Frame of more
//! than [`FRAME_PAGES_MAX`] pages is refused.

use super::{Long, Reader, OK};

pub const CREATE: u32 = 1;
pub const DELETE: u32 = 2;
pub const ALBUMS: u32 = 3;
pub const ADD: u32 = 4;
pub const LIST: u32 = 5;
pub const THUMB: u32 = 6;
pub const REMOVE: u32 = 7;
pub const SEARCH: u32 = 8;

/// The longest album or photo name.
pub const NAME_MAX: usize = 24;
/// The largest thumbnail (a 64x64 image of 16-bit pixels; more than a page, so a one-page
/// Frame can be too small for one).
pub const THUMB_MAX: usize = 8192;
/// The most photos one page holds.
pub const PAGE_MAX: usize = 16;
/// The largest Frame the server maps.
pub const FRAME_PAGES_MAX: u64 = 16;

errors! {
    /// What the gallery server refuses a request with: the label of its reply.
    GalleryError {
        /// No album of that name (or, for `ALBUMS`, the index is past the last).
        UnknownAlbum = 1: "no such album",
        UnknownPhoto = 2: "no such photo",
        BadRequest = 3: "bad request",
        /// Not a name: 1 to 24 bytes of printable ASCII, no spaces.
        BadName = 4: "not a name",
        /// `CREATE` of an album that exists, or `ADD` of a name its album already holds.
        Exists = 5: "already exists",
        /// `ADD` or `THUMB` came without its Frame (or with something else).
        NoCapability = 6: "no Frame given",
        /// The Frame is smaller than the thumbnail (or, for `THUMB`, than the stored one), or
        /// larger than the server maps.
        FrameSize = 7: "Frame too small or too large",
        /// The Frame lacks the right the request needs: read for `ADD`, write for `THUMB`.
        FrameRights = 8: "Frame lacks the right",
        /// The server's store has no room left, even compacted.
        Full = 9: "gallery full",
        /// A thumbnail longer than [`THUMB_MAX`].
        TooLarge = 10: "thumbnail too large",
        /// The caller is not a program of the system.
        Denied = 11: "not allowed",
    }
}

/// Whether `name` may name an album or a photo.
pub fn is_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

/// A name, as answers carry it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; NAME_MAX],
    len: u8,
}

impl Name {
    pub fn new(name: &str) -> Option<Name> {
        if !is_name(name) {
            return None;
        }
        let mut bytes = [0; NAME_MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(Name { bytes, len: name.len() as u8 })
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A photo, as a page lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Photo {
    pub id: u32,
    /// The id of its album.
    pub album: u16,
    pub thumb_len: u16,
    pub time: u64,
    pub size: u64,
    pub name: Name,
}

/// A page of photos: up to [`PAGE_MAX`], and how many the whole list has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub total: u64,
    pub photos: [Option<Photo>; PAGE_MAX],
}

impl Page {
    pub const fn new(total: u64) -> Page {
        Page { total, photos: [None; PAGE_MAX] }
    }

    pub fn photos(&self) -> impl Iterator<Item = &Photo> {
        self.photos.iter().map_while(Option::as_ref)
    }

    /// Adds a photo; false if the page is full.
    pub fn push(&mut self, photo: Photo) -> bool {
        match self.photos.iter_mut().find(|p| p.is_none()) {
            Some(free) => {
                *free = Some(photo);
                true
            }
            None => false,
        }
    }
}

/// An album, as `ALBUMS` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Album {
    pub name: Name,
    pub id: u16,
    pub photos: u64,
}

/// A request, as the server reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Create(&'a str),
    Delete(&'a str),
    Albums(u64),
    Add { album: &'a str, name: &'a str, time: u64, size: u64, thumb_len: u64 },
    List { album: &'a str, first: u64, count: u64 },
    Thumb(u32),
    Remove(u32),
    Search { prefix: &'a str, from: u64, to: u64, first: u64 },
}

impl Request<'_> {
    /// The message; None if a name or prefix is longer than [`NAME_MAX`].
    pub fn encode(&self) -> Option<Long> {
        let mut m = Long::new(match self {
            Request::Create(_) => CREATE,
            Request::Delete(_) => DELETE,
            Request::Albums(_) => ALBUMS,
            Request::Add { .. } => ADD,
            Request::List { .. } => LIST,
            Request::Thumb(_) => THUMB,
            Request::Remove(_) => REMOVE,
            Request::Search { .. } => SEARCH,
        });
        let text = |m: &mut Long, t: &str| t.len() <= NAME_MAX && m.push_bytes(t.as_bytes());
        let ok = match *self {
            Request::Create(album) | Request::Delete(album) => text(&mut m, album),
            Request::Albums(index) => m.push(index),
            Request::Add { album, name, time, size, thumb_len } => {
                m.caps = 1;
                text(&mut m, album) && text(&mut m, name) && m.push(time) && m.push(size) && m.push(thumb_len)
            }
            Request::List { album, first, count } => text(&mut m, album) && m.push(first) && m.push(count),
            Request::Thumb(id) => {
                m.caps = 1;
                m.push(u64::from(id))
            }
            Request::Remove(id) => m.push(u64::from(id)),
            Request::Search { prefix, from, to, first } => {
                text(&mut m, prefix) && m.push(from) && m.push(to) && m.push(first)
            }
        };
        ok.then_some(m)
    }
}

/// Where a request's names are copied while it is read.
#[derive(Default)]
pub struct Buffers {
    album: [u8; NAME_MAX],
    name: [u8; NAME_MAX],
}

fn read_name<'b>(r: &mut Reader, out: &'b mut [u8; NAME_MAX]) -> Result<&'b str, GalleryError> {
    let name = r.text(NAME_MAX, out).ok_or(GalleryError::BadName)?;
    is_name(name).then_some(name).ok_or(GalleryError::BadName)
}

fn word(r: &mut Reader) -> Result<u64, GalleryError> {
    r.word().ok_or(GalleryError::BadRequest)
}

fn photo_id(r: &mut Reader) -> Result<u32, GalleryError> {
    u32::try_from(word(r)?).map_err(|_| GalleryError::UnknownPhoto)
}

/// Reads a request.
pub fn decode<'b>(m: &Long, b: &'b mut Buffers) -> Result<Request<'b>, GalleryError> {
    let mut r = m.reader(0);
    let needs_frame = matches!(m.label, ADD | THUMB);
    if needs_frame && m.caps != 1 {
        return Err(GalleryError::NoCapability);
    }
    match m.label {
        CREATE => Ok(Request::Create(read_name(&mut r, &mut b.album)?)),
        DELETE => Ok(Request::Delete(read_name(&mut r, &mut b.album)?)),
        ALBUMS => Ok(Request::Albums(word(&mut r)?)),
        ADD => {
            let album = read_name(&mut r, &mut b.album)?;
            let name = read_name(&mut r, &mut b.name)?;
            let (time, size, thumb_len) = (word(&mut r)?, word(&mut r)?, word(&mut r)?);
            if thumb_len > THUMB_MAX as u64 {
                return Err(GalleryError::TooLarge);
            }
            Ok(Request::Add { album, name, time, size, thumb_len })
        }
        LIST => {
            let album = read_name(&mut r, &mut b.album)?;
            let (first, count) = (word(&mut r)?, word(&mut r)?);
            if count > PAGE_MAX as u64 {
                return Err(GalleryError::BadRequest);
            }
            Ok(Request::List { album, first, count })
        }
        THUMB => Ok(Request::Thumb(photo_id(&mut r)?)),
        REMOVE => Ok(Request::Remove(photo_id(&mut r)?)),
        SEARCH => {
            // The empty prefix matches every name.
            let prefix = r.text(NAME_MAX, &mut b.name).ok_or(GalleryError::BadName)?;
            if !prefix.is_empty() && !is_name(prefix) {
                return Err(GalleryError::BadName);
            }
            Ok(Request::Search { prefix, from: word(&mut r)?, to: word(&mut r)?, first: word(&mut r)? })
        }
        _ => Err(GalleryError::BadRequest),
    }
}

/// A reply refusing a request.
pub fn refuse(e: GalleryError) -> Long {
    Long::new(e.code())
}

/// A reply of one number (an id, a length), or of none.
pub fn number(n: u64) -> Long {
    let mut m = Long::new(OK);
    m.push(n);
    m
}

pub fn done() -> Long {
    Long::new(OK)
}

pub fn read_done(m: &Long) -> Result<(), GalleryError> {
    match m.label {
        OK => Ok(()),
        code => Err(GalleryError::from_code(code).unwrap_or(GalleryError::BadRequest)),
    }
}

/// The number a reply carries.
pub fn read_number(m: &Long) -> Result<u64, GalleryError> {
    read_done(m)?;
    word(&mut m.reader(0))
}

/// The reply to `ALBUMS`.
pub fn album(a: &Album) -> Long {
    let mut m = Long::new(OK);
    m.push(u64::from(a.id));
    m.push(a.photos);
    m.push_bytes(a.name.as_str().as_bytes());
    m
}

/// The album a reply to `ALBUMS` carries; None past the last.
pub fn read_album(m: &Long) -> Result<Option<Album>, GalleryError> {
    if m.label == GalleryError::UnknownAlbum.code() {
        return Ok(None);
    }
    read_done(m)?;
    let mut r = m.reader(0);
    let id = u16::try_from(word(&mut r)?).map_err(|_| GalleryError::BadRequest)?;
    let photos = word(&mut r)?;
    let mut buf = [0; NAME_MAX];
    let name = Name::new(read_name(&mut r, &mut buf)?).ok_or(GalleryError::BadName)?;
    Ok(Some(Album { name, id, photos }))
}

/// The reply to `LIST` and `SEARCH`: the total, how many follow, and each photo in at most
/// seven words (id, album and thumbnail length in one; time; size; the name).
pub fn page(p: &Page) -> Long {
    let mut m = Long::new(OK);
    m.push(p.total);
    m.push(p.photos().count() as u64);
    for photo in p.photos() {
        m.push(u64::from(photo.id) << 32 | u64::from(photo.album) << 16 | u64::from(photo.thumb_len));
        m.push(photo.time);
        m.push(photo.size);
        let fits = m.push_bytes(photo.name.as_str().as_bytes());
        debug_assert!(fits, "a full page fits a message");
    }
    m
}

pub fn read_page(m: &Long) -> Result<Page, GalleryError> {
    read_done(m)?;
    let mut r = m.reader(0);
    let mut page = Page::new(word(&mut r)?);
    let count = word(&mut r)?;
    if count > PAGE_MAX as u64 {
        return Err(GalleryError::BadRequest);
    }
    for _ in 0..count {
        let packed = word(&mut r)?;
        let (time, size) = (word(&mut r)?, word(&mut r)?);
        let mut buf = [0; NAME_MAX];
        let name = Name::new(read_name(&mut r, &mut buf)?).ok_or(GalleryError::BadName)?;
        let photo = Photo {
            id: (packed >> 32) as u32,
            album: (packed >> 16) as u16,
            thumb_len: packed as u16,
            time,
            size,
            name,
        };
        page.push(photo);
    }
    Ok(page)
}

/// How the gallery server keeps its index in its store: one record per change, replayed in
/// order. A record is an op byte, then little-endian fields: `1` album created (id u16, name
/// length u8, name), `2` album deleted (id u16), `3` photo added (id u32, album u16, time u64,
/// size u64, name length u8, name, thumbnail length u16, thumbnail), `4` photo removed (id u32).
pub mod record {
    use super::{is_name, NAME_MAX, THUMB_MAX};

    /// The longest record.
    pub const MAX: usize = 1 + 4 + 2 + 8 + 8 + 1 + NAME_MAX + 2 + THUMB_MAX;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Change<'a> {
        AlbumCreated { id: u16, name: &'a str },
        AlbumDeleted { id: u16 },
        PhotoAdded { id: u32, album: u16, time: u64, size: u64, name: &'a str, thumb: &'a [u8] },
        PhotoRemoved { id: u32 },
    }

    /// Writes the record of `change` into `out`; its length. None if a name or the
    /// thumbnail is out of bounds.
    pub fn encode(change: &Change, out: &mut [u8; MAX]) -> Option<usize> {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        match *change {
            Change::AlbumCreated { id, name } if is_name(name) => {
                put(&[1]);
                put(&id.to_le_bytes());
                put(&[name.len() as u8]);
                put(name.as_bytes());
            }
            Change::AlbumDeleted { id } => {
                put(&[2]);
                put(&id.to_le_bytes());
            }
            Change::PhotoAdded { id, album, time, size, name, thumb } if is_name(name) && thumb.len() <= THUMB_MAX => {
                put(&[3]);
                put(&id.to_le_bytes());
                put(&album.to_le_bytes());
                put(&time.to_le_bytes());
                put(&size.to_le_bytes());
                put(&[name.len() as u8]);
                put(name.as_bytes());
                put(&(thumb.len() as u16).to_le_bytes());
                put(thumb);
            }
            Change::PhotoRemoved { id } => {
                put(&[4]);
                put(&id.to_le_bytes());
            }
            _ => return None,
        }
        Some(at)
    }

    /// Takes bytes off the front of a record.
    struct Cursor<'a>(&'a [u8]);

    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (head, rest) = (self.0.get(..n)?, &self.0[n..]);
            self.0 = rest;
            Some(head)
        }
        fn u8(&mut self) -> Option<u8> {
            Some(self.take(1)?[0])
        }
        fn u16(&mut self) -> Option<u16> {
            Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
        }
        fn u32(&mut self) -> Option<u32> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
        }
        fn u64(&mut self) -> Option<u64> {
            Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
        }
        fn name(&mut self) -> Option<&'a str> {
            let len = self.u8()?;
            core::str::from_utf8(self.take(usize::from(len))?).ok().filter(|n| is_name(n))
        }
    }

    /// Reads a record; None if it is not one (cut short, a bad name, trailing bytes).
    pub fn decode(record: &[u8]) -> Option<Change<'_>> {
        let mut c = Cursor(record);
        let change = match c.u8()? {
            1 => Change::AlbumCreated { id: c.u16()?, name: c.name()? },
            2 => Change::AlbumDeleted { id: c.u16()? },
            3 => {
                let (id, album, time, size, name) = (c.u32()?, c.u16()?, c.u64()?, c.u64()?, c.name()?);
                let len = usize::from(c.u16()?);
                let thumb = c.take(len).filter(|t| t.len() <= THUMB_MAX)?;
                Change::PhotoAdded { id, album, time, size, name, thumb }
            }
            4 => Change::PhotoRemoved { id: c.u32()? },
            _ => return None,
        };
        c.0.is_empty().then_some(change)
    }
}

#[cfg(test)]
mod tests;
