//! The gallery on both routes: the same answers, ids that survive switches, state carried
//! over in both directions (native-only content kept), and a switch that cannot happen.

extern crate std;

use super::*;
use alloc::boxed::Box;
use alloc::vec;
use binder::Android;
use legacy_aidl::i_gallery_service::{self as aidl};
use legacy_aidl::Parcelable;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Seam's gallery server as the tests play it: a store of its own (shared, so the test can
/// look at it and change it as a native program would), and a switch to make it gone.
#[derive(Clone)]
struct FakeNative {
    store: Arc<Mutex<LegacyGallery>>,
    gone: Arc<AtomicBool>,
}

impl FakeNative {
    fn run<T>(&self, f: impl FnOnce(&mut LegacyGallery) -> Result<T, Failure>) -> Result<T, Failure> {
        if self.gone.load(Ordering::SeqCst) {
            return Err(Fail::Gone);
        }
        f(&mut self.store.lock().unwrap())
    }
}

impl GalleryBackend for FakeNative {
    fn create(&mut self, album: &str) -> Result<(), Failure> {
        self.run(|s| s.create(album))
    }
    fn delete(&mut self, album: &str) -> Result<(), Failure> {
        self.run(|s| s.delete(album))
    }
    fn albums(&mut self) -> Result<Vec<String>, Failure> {
        self.run(|s| s.albums())
    }
    fn add(&mut self, album: &str, photo: &Meta, thumb: &[u8]) -> Result<u32, Failure> {
        self.run(|s| s.add(album, photo, thumb))
    }
    fn photos(&mut self, album: &str) -> Result<Vec<(u32, Meta)>, Failure> {
        self.run(|s| s.photos(album))
    }
    fn thumb(&mut self, id: u32) -> Result<Vec<u8>, Failure> {
        self.run(|s| s.thumb(id))
    }
    fn remove(&mut self, id: u32) -> Result<(), Failure> {
        self.run(|s| s.remove(id))
    }
}

fn service(route: Route) -> (GalleryService, FakeNative) {
    let native = FakeNative { store: Arc::default(), gone: Arc::default() };
    (GalleryService::new(Box::new(native.clone()), route), native)
}

/// Calls `code` with the arguments `write` adds: the reply's bytes, or the status.
fn call(g: &mut GalleryService, code: u32, write: impl FnOnce(&mut Parcel)) -> Result<Vec<u8>, StatusCode> {
    let mut data = Parcel::for_android(Android::V14);
    data.write_interface_token(aidl::DESCRIPTOR);
    write(&mut data);
    let mut data = Parcel::from_parts(data.data(), data.objects(), Android::V14).unwrap();
    let mut reply = Parcel::for_android(Android::V14);
    g.transact(code, &mut data, &mut reply)?;
    Ok(reply.data().to_vec())
}

fn photo(name: &str) -> PhotoInfo {
    PhotoInfo { id: 0, name: name.into(), time: 1_790_000_000, size_bytes: 2_000_000 }
}

fn add(g: &mut GalleryService, album: &str, name: &str, thumb: &[u8]) -> i64 {
    g.add_photo(album.into(), photo(name), thumb.to_vec()).unwrap()
}

#[test]
fn both_routes_answer_the_same_bytes() {
    let session = |g: &mut GalleryService| -> Vec<Result<Vec<u8>, StatusCode>> {
        vec![
            call(g, aidl::CREATE_ALBUM, |p| p.write_string16(Some("Holiday"))),
            call(g, aidl::CREATE_ALBUM, |p| p.write_string16(Some("Holiday"))),
            call(g, aidl::CREATE_ALBUM, |p| p.write_string16(Some("bad name"))),
            call(g, aidl::ADD_PHOTO, |p| {
                p.write_string16(Some("Holiday"));
                p.write_i32(1);
                photo("IMG_1.jpg").write_body(p);
                p.write_byte_array(Some(&[1, 2, 3]));
            }),
            call(g, aidl::LIST_PHOTOS, |p| {
                p.write_string16(Some("Holiday"));
                p.write_i32(0);
                p.write_i32(10);
            }),
            call(g, aidl::GET_THUMBNAIL, |p| p.write_i64(1)),
            call(g, aidl::GET_THUMBNAIL, |p| p.write_i64(99)),
            call(g, aidl::LIST_ALBUMS, |_| {}),
            call(g, aidl::REMOVE_PHOTO, |p| p.write_i64(1)),
            call(g, aidl::DELETE_ALBUM, |p| p.write_string16(Some("Nowhere"))),
        ]
    };
    let (mut legacy, _) = service(Route::Legacy);
    let (mut native, _) = service(Route::Native);
    assert_eq!(session(&mut legacy), session(&mut native));
    assert_eq!(legacy.routing.served[1], 0);
    assert_eq!(native.routing.served[0], 0);
}

#[test]
fn switching_carries_the_gallery_both_ways_and_ids_keep_their_photos() {
    let (mut g, native) = service(Route::Legacy);
    // A native program's album, which the legacy side knows nothing of yet.
    native.store.lock().unwrap().create("Camera").unwrap();
    native.store.lock().unwrap().add("Camera", &Meta { name: "CAM_1.jpg".into(), time: 5, size: 6 }, &[9; 10]).unwrap();

    g.create_album("Holiday".into()).unwrap();
    let a = add(&mut g, "Holiday", "IMG_1.jpg", &[1; 100]);
    let b = add(&mut g, "Holiday", "IMG_2.jpg", &[2; 200]);
    let gone = add(&mut g, "Holiday", "IMG_3.jpg", &[3; 3]);
    g.remove_photo(gone).unwrap();
    g.create_album("Scratch".into()).unwrap();
    g.delete_album("Scratch".into()).unwrap();

    g.switch(Route::Native).unwrap();
    assert_eq!(g.route(), Route::Native);
    assert_eq!(g.list_albums().unwrap(), vec!["Camera".to_string(), "Holiday".into()], "kept, and carried over");
    assert_eq!(g.get_thumbnail(a).unwrap(), vec![1; 100], "an id held before the switch");
    assert_eq!(g.get_thumbnail(b).unwrap(), vec![2; 200]);
    assert!(g.get_thumbnail(gone).is_err());
    let names: Vec<String> = g.list_photos("Holiday".into(), 0, 10).unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["IMG_1.jpg", "IMG_2.jpg"]);

    // On the native route: a client removes one, adds one; a native program adds another.
    g.remove_photo(a).unwrap();
    let c = add(&mut g, "Holiday", "IMG_4.jpg", &[4; 40]);
    native.store.lock().unwrap().add("Camera", &Meta { name: "CAM_2.jpg".into(), time: 7, size: 8 }, &[8; 8]).unwrap();

    g.switch(Route::Legacy).unwrap();
    let legacy_view = g.snapshot().unwrap();
    g.switch(Route::Native).unwrap();
    assert_eq!(g.snapshot().unwrap(), legacy_view, "nothing changed in between: the same gallery");
    assert_eq!(g.get_thumbnail(c).unwrap(), vec![4; 40]);
    assert!(g.get_thumbnail(a).is_err(), "removed on the native route, gone on both");
    let camera: Vec<String> = g.list_photos("Camera".into(), 0, 10).unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(camera, ["CAM_1.jpg", "CAM_2.jpg"]);
}

#[test]
fn a_switch_to_a_native_server_that_is_gone_does_not_happen() {
    let (mut g, native) = service(Route::Legacy);
    g.create_album("Holiday".into()).unwrap();
    let a = add(&mut g, "Holiday", "IMG_1.jpg", &[1; 10]);
    native.gone.store(true, Ordering::SeqCst);
    assert_eq!(g.switch(Route::Native), Err(Fail::Gone));
    assert_eq!(g.route(), Route::Legacy);
    assert_eq!(g.get_thumbnail(a).unwrap(), vec![1; 10], "the legacy store is as it was");
    // Once it is back, the switch carries everything.
    native.gone.store(false, Ordering::SeqCst);
    g.switch(Route::Native).unwrap();
    assert_eq!(g.get_thumbnail(a).unwrap(), vec![1; 10]);
    // Gone on the native route: DEAD_OBJECT.
    native.gone.store(true, Ordering::SeqCst);
    assert_eq!(call(&mut g, aidl::LIST_ALBUMS, |_| {}), Err(StatusCode::DeadObject));
}
