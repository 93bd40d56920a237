//! `photo-importer [ALBUM]`: a demo app of the native gallery service. It imports a camera
//! roll of twelve photos (names, times, sizes, and thumbnails of real bytes passed through a
//! Frame) into an album, then lists it. Run again (after a reboot of the gallery, or a crash
//! of this program), it finds the photos already there: the gallery refuses a name its album
//! holds with `Exists`, so an import never doubles.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use ipc::proto::gallery::GalleryError;
use rt::gallery::{self as gallery, Failed, ThumbFrame};
use rt::{ipc, name, println};

rt::main!(main);

const PHOTOS: u64 = 12;

/// An 8x8 thumbnail of photo `i`: a width and height byte, then a gradient per photo.
fn thumbnail(i: u64) -> Vec<u8> {
    let mut bytes = alloc::vec![8u8, 8];
    bytes.extend((0..64u64).map(|p| ((p % 8) * 16 + (p / 8) * 8 + i * 5) as u8));
    bytes
}

fn main(args: rt::Args) -> u64 {
    let album = args.get(0).unwrap_or("Camera");
    let Ok((service, _)) = name::lookup("gallery") else {
        println!("photo-importer: needs the gallery service");
        return 1;
    };
    let Ok(mut frame) = ThumbFrame::new() else {
        println!("photo-importer: no Frame for thumbnails");
        return 1;
    };
    match gallery::retry_once(|| gallery::create(service, album)) {
        Ok(_) | Err(Failed::Server(GalleryError::Exists)) => {}
        Err(e) => {
            println!("photo-importer: cannot make album {album}: {e}");
            return 1;
        }
    }
    let (mut new, mut there) = (0, 0);
    for i in 1..=PHOTOS {
        let name = format!("IMG_{i:04}.jpg");
        let len = frame.write(&thumbnail(i));
        let time = 1_790_000_000 + i * 600;
        match gallery::retry_once(|| gallery::add(service, album, &name, time, 2_000_000 + i * 12_345, frame.slot, len))
        {
            Ok(_) => new += 1,
            Err(Failed::Server(GalleryError::Exists)) => there += 1,
            Err(e) => {
                println!("photo-importer: {name}: {e}");
                return 1;
            }
        }
    }
    let total = gallery::retry_once(|| gallery::list(service, album, 0, 0)).map(|page| page.total);
    println!("photo-importer: {album} holds {} photos ({new} imported, {there} already there)", total.unwrap_or(0));
    0
}
