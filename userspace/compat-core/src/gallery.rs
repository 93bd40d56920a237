//! `com.example.gallery.IGalleryService` as compat hosts it: albums and photos with
//! thumbnails, answered by the legacy store inside compat or by Seam's gallery server, as
//! the route says — and, unlike the weather, with state that moves when the route does.
//!
//! - **Ids are compat's.** A photo is named by its album and name (unique in the album, on
//!   both backends); compat gives each a number the first time a client sees it and keeps
//!   it, so an id a client holds means the same photo whichever backend answers, before and
//!   after a switch. The same goes for album ids.
//! - **Switching moves the state** ([`GalleryService::switch`]). To native: what clients
//!   changed through compat since the last switch (albums made and deleted, photos added
//!   and removed) is done on the native server, photos with their thumbnails. Back to
//!   legacy: the legacy store becomes what the native server holds, all of it (the native
//!   server may also have been changed by native programs meanwhile, and those changes are
//!   kept). A switch whose native server is gone does not happen: the route stays.

use crate::routes::{Failure as Fail, Route, Routing};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use binder::{Exception, Parcel, Status, StatusCode};
use ipc::proto::gallery::{is_name, GalleryError, THUMB_MAX};
use legacy_aidl::i_gallery_service::IGalleryService;
use legacy_aidl::PhotoInfo;

pub type Failure = Fail<GalleryError>;

/// A gallery as a client sees it: each album with its photos (compat's id, what it is, its
/// thumbnail).
pub type Snapshot = Vec<(String, Vec<(i64, Meta, Vec<u8>)>)>;

/// A photo as a backend holds it, without its thumbnail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub time: u64,
    pub size: u64,
}

/// A gallery: Seam's gallery server (`ipc::proto::gallery`), or the legacy store. Ids here
/// are the backend's own.
pub trait GalleryBackend {
    /// Makes an album (`Exists` if it does).
    fn create(&mut self, album: &str) -> Result<(), Failure>;
    /// Deletes an album and its photos.
    fn delete(&mut self, album: &str) -> Result<(), Failure>;
    /// The albums, oldest first.
    fn albums(&mut self) -> Result<Vec<String>, Failure>;
    /// Adds a photo (`Exists` if its album holds its name); its id.
    fn add(&mut self, album: &str, photo: &Meta, thumb: &[u8]) -> Result<u32, Failure>;
    /// An album's photos, in the order they were added, with their ids.
    fn photos(&mut self, album: &str) -> Result<Vec<(u32, Meta)>, Failure>;
    fn thumb(&mut self, id: u32) -> Result<Vec<u8>, Failure>;
    fn remove(&mut self, id: u32) -> Result<(), Failure>;
}

/// The legacy implementation: the whole gallery in compat's memory, with the native
/// server's rules (names, thumbnail size), so that both routes refuse the same things.
#[derive(Default)]
pub struct LegacyGallery {
    /// Albums in the order they were made, each with its photos' ids in the order added.
    albums: Vec<(String, Vec<u32>)>,
    photos: BTreeMap<u32, (Meta, Vec<u8>)>,
    next: u32,
}

impl LegacyGallery {
    fn album(&mut self, name: &str) -> Result<&mut (String, Vec<u32>), Failure> {
        self.albums.iter_mut().find(|(n, _)| n == name).ok_or(Fail::Refused(GalleryError::UnknownAlbum))
    }
}

impl GalleryBackend for LegacyGallery {
    fn create(&mut self, album: &str) -> Result<(), Failure> {
        if !is_name(album) {
            return Err(Fail::Refused(GalleryError::BadName));
        }
        if self.albums.iter().any(|(n, _)| n == album) {
            return Err(Fail::Refused(GalleryError::Exists));
        }
        self.albums.push((album.to_string(), Vec::new()));
        Ok(())
    }

    fn delete(&mut self, album: &str) -> Result<(), Failure> {
        let at = self.albums.iter().position(|(n, _)| n == album).ok_or(Fail::Refused(GalleryError::UnknownAlbum))?;
        for id in self.albums.remove(at).1 {
            self.photos.remove(&id);
        }
        Ok(())
    }

    fn albums(&mut self) -> Result<Vec<String>, Failure> {
        Ok(self.albums.iter().map(|(n, _)| n.clone()).collect())
    }

    fn add(&mut self, album: &str, photo: &Meta, thumb: &[u8]) -> Result<u32, Failure> {
        if !is_name(&photo.name) {
            return Err(Fail::Refused(GalleryError::BadName));
        }
        if thumb.len() > THUMB_MAX {
            return Err(Fail::Refused(GalleryError::TooLarge));
        }
        let at = self.albums.iter().position(|(n, _)| n == album).ok_or(Fail::Refused(GalleryError::UnknownAlbum))?;
        if self.albums[at].1.iter().any(|i| self.photos[i].0.name == photo.name) {
            return Err(Fail::Refused(GalleryError::Exists));
        }
        let id = self.next;
        self.next += 1;
        self.albums[at].1.push(id);
        self.photos.insert(id, (photo.clone(), thumb.to_vec()));
        Ok(id)
    }

    fn photos(&mut self, album: &str) -> Result<Vec<(u32, Meta)>, Failure> {
        let ids = self.album(album)?.1.clone();
        Ok(ids.into_iter().map(|id| (id, self.photos[&id].0.clone())).collect())
    }

    fn thumb(&mut self, id: u32) -> Result<Vec<u8>, Failure> {
        self.photos.get(&id).map(|(_, t)| t.clone()).ok_or(Fail::Refused(GalleryError::UnknownPhoto))
    }

    fn remove(&mut self, id: u32) -> Result<(), Failure> {
        self.photos.remove(&id).ok_or(Fail::Refused(GalleryError::UnknownPhoto))?;
        for (_, ids) in &mut self.albums {
            ids.retain(|&i| i != id);
        }
        Ok(())
    }
}

/// A change a client made through compat on the legacy route, to carry to the native
/// server at the next switch.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    Created(String),
    Deleted(String),
    Added(String, String),
    Removed(String, String),
}

/// The service: both backends, the route, compat's ids, and what changed since the last
/// switch.
pub struct GalleryService {
    pub legacy: LegacyGallery,
    pub native: alloc::boxed::Box<dyn GalleryBackend + Send>,
    pub routing: Routing,
    /// Compat's photo ids: (album, name) both ways.
    ids: BTreeMap<i64, (String, String)>,
    keys: BTreeMap<(String, String), i64>,
    albums: BTreeMap<String, i32>,
    changes: Vec<Change>,
}

fn refused(e: Failure) -> Status {
    let text = match e {
        Fail::Refused(e) => e.to_string(),
        Fail::Gone => "the service is gone".to_string(),
    };
    let exception = match e {
        Fail::Refused(GalleryError::UnknownAlbum | GalleryError::UnknownPhoto)
        | Fail::Refused(GalleryError::BadName | GalleryError::TooLarge) => Exception::IllegalArgument,
        Fail::Refused(GalleryError::Exists) => Exception::IllegalState,
        Fail::Refused(e) => return Status::service_specific(e.code() as i32, &text),
        Fail::Gone => Exception::IllegalState,
    };
    Status::exception(exception, &text)
}

impl GalleryService {
    pub fn new(native: alloc::boxed::Box<dyn GalleryBackend + Send>, route: Route) -> GalleryService {
        GalleryService {
            legacy: LegacyGallery::default(),
            native,
            routing: Routing::new(route),
            ids: BTreeMap::new(),
            keys: BTreeMap::new(),
            albums: BTreeMap::new(),
            changes: Vec::new(),
        }
    }

    pub fn route(&self) -> Route {
        self.routing.route
    }

    fn backend(&mut self) -> &mut dyn GalleryBackend {
        match self.routing.pick() {
            Route::Legacy => &mut self.legacy,
            Route::Native => self.native.as_mut(),
        }
    }

    fn answer<T>(&mut self, r: Result<T, Failure>) -> Result<T, Status> {
        self.routing.answer(r, refused)
    }

    /// Notes a change made on the legacy route, for the next switch to native.
    fn changed(&mut self, c: Change) {
        if self.routing.route == Route::Legacy {
            self.changes.push(c);
        }
    }

    /// Compat's id for a photo, made the first time it is seen.
    fn id_of(&mut self, album: &str, name: &str) -> i64 {
        let key = (album.to_string(), name.to_string());
        if let Some(&id) = self.keys.get(&key) {
            return id;
        }
        let id = self.ids.keys().next_back().map_or(1, |last| last + 1);
        self.ids.insert(id, key.clone());
        self.keys.insert(key, id);
        id
    }

    /// The backend's id of compat's photo `id`.
    fn backend_id(&mut self, id: i64) -> Result<u32, Failure> {
        let (album, name) = self.ids.get(&id).cloned().ok_or(Fail::Refused(GalleryError::UnknownPhoto))?;
        let photos = self.backend().photos(&album).map_err(|e| match e {
            Fail::Refused(GalleryError::UnknownAlbum) => Fail::Refused(GalleryError::UnknownPhoto),
            e => e,
        })?;
        photos
            .into_iter()
            .find(|(_, m)| m.name == name)
            .map(|(i, _)| i)
            .ok_or(Fail::Refused(GalleryError::UnknownPhoto))
    }

    /// A call to the service: the reply, or a status (`DEAD_OBJECT` if its backend died).
    pub fn transact(&mut self, code: u32, data: &mut Parcel, reply: &mut Parcel) -> Result<(), StatusCode> {
        self.routing.begin();
        let result = legacy_aidl::i_gallery_service::on_transact(self, code, data, reply);
        self.routing.end(result)
    }

    /// Moves the interface to `to`, carrying the gallery over. A native server that is gone
    /// (or refuses what it is given in a way that is not "already there") stops the switch;
    /// the route stays, and the error says why.
    pub fn switch(&mut self, to: Route) -> Result<(), Failure> {
        if to == self.routing.route {
            return Ok(());
        }
        match to {
            Route::Native => self.carry_to_native()?,
            Route::Legacy => self.carry_to_legacy()?,
        }
        self.changes.clear();
        self.routing.route = to;
        Ok(())
    }

    fn carry_to_native(&mut self) -> Result<(), Failure> {
        let ok_if = |r: Result<(), Failure>, fine: GalleryError| match r {
            Err(Fail::Refused(e)) if e == fine => Ok(()),
            other => other,
        };
        for c in self.changes.clone() {
            match c {
                Change::Created(a) => ok_if(self.native.create(&a), GalleryError::Exists)?,
                Change::Deleted(a) => ok_if(self.native.delete(&a), GalleryError::UnknownAlbum)?,
                Change::Added(a, n) => {
                    // Added, then perhaps removed or its album deleted: carry what is still there.
                    let Ok(photos) = self.legacy.photos(&a) else { continue };
                    let Some((id, meta)) = photos.into_iter().find(|(_, m)| m.name == n) else { continue };
                    let thumb = self.legacy.thumb(id)?;
                    ok_if(self.native.create(&a), GalleryError::Exists)?;
                    ok_if(self.native.add(&a, &meta, &thumb).map(drop), GalleryError::Exists)?;
                }
                Change::Removed(a, n) => {
                    let photos = match self.native.photos(&a) {
                        Err(Fail::Refused(GalleryError::UnknownAlbum)) => continue,
                        r => r?,
                    };
                    if let Some((id, _)) = photos.into_iter().find(|(_, m)| m.name == n) {
                        ok_if(self.native.remove(id), GalleryError::UnknownPhoto)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn carry_to_legacy(&mut self) -> Result<(), Failure> {
        let mut store = LegacyGallery::default();
        for album in self.native.albums()? {
            store.create(&album)?;
            for (id, meta) in self.native.photos(&album)? {
                let thumb = self.native.thumb(id)?;
                store.add(&album, &meta, &thumb)?;
            }
        }
        self.legacy = store;
        Ok(())
    }

    /// Every album and photo the route's backend holds, by compat's ids, with thumbnails:
    /// what a client would see (for tests and `compat` tools).
    pub fn snapshot(&mut self) -> Result<Snapshot, Failure> {
        let mut out = Vec::new();
        for album in self.backend().albums()? {
            let mut photos = Vec::new();
            for (id, meta) in self.backend().photos(&album)? {
                let thumb = self.backend().thumb(id)?;
                photos.push((self.id_of(&album, &meta.name), meta, thumb));
            }
            out.push((album, photos));
        }
        Ok(out)
    }
}

fn info(id: i64, m: &Meta) -> PhotoInfo {
    PhotoInfo { id, name: m.name.clone(), time: m.time as i64, size_bytes: m.size as i64 }
}

impl IGalleryService for GalleryService {
    fn create_album(&mut self, name: String) -> Result<i32, Status> {
        let r = self.backend().create(&name);
        self.answer(r)?;
        self.changed(Change::Created(name.clone()));
        let next = self.albums.len() as i32 + 1;
        Ok(*self.albums.entry(name).or_insert(next))
    }

    fn delete_album(&mut self, name: String) -> Result<(), Status> {
        let r = self.backend().delete(&name);
        self.answer(r)?;
        self.changed(Change::Deleted(name));
        Ok(())
    }

    fn list_albums(&mut self) -> Result<Vec<String>, Status> {
        let r = self.backend().albums();
        self.answer(r)
    }

    fn add_photo(&mut self, album: String, photo: PhotoInfo, thumbnail: Vec<u8>) -> Result<i64, Status> {
        let (time, size) = (u64::try_from(photo.time), u64::try_from(photo.size_bytes));
        let (Ok(time), Ok(size)) = (time, size) else {
            return Err(Status::exception(Exception::IllegalArgument, "negative time or size"));
        };
        let meta = Meta { name: photo.name, time, size };
        let r = self.backend().add(&album, &meta, &thumbnail);
        self.answer(r)?;
        self.changed(Change::Added(album.clone(), meta.name.clone()));
        Ok(self.id_of(&album, &meta.name))
    }

    fn list_photos(&mut self, album: String, first: i32, count: i32) -> Result<Vec<PhotoInfo>, Status> {
        let (Ok(first), Ok(count)) = (usize::try_from(first), usize::try_from(count)) else {
            return Err(Status::exception(Exception::IllegalArgument, "negative first or count"));
        };
        let r = self.backend().photos(&album);
        let photos = self.answer(r)?;
        Ok(photos.iter().skip(first).take(count).map(|(_, m)| info(self.id_of(&album, &m.name), m)).collect())
    }

    fn get_thumbnail(&mut self, id: i64) -> Result<Vec<u8>, Status> {
        let r = self.backend_id(id).and_then(|b| self.backend().thumb(b));
        self.answer(r)
    }

    fn remove_photo(&mut self, id: i64) -> Result<(), Status> {
        let r = self.backend_id(id).and_then(|b| self.backend().remove(b));
        self.answer(r)?;
        if let Some((album, name)) = self.ids.get(&id).cloned() {
            self.changed(Change::Removed(album, name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
