//! `legacy-gallery-browser [ROUNDS]`: a legacy app, as an Android 11 gallery was written:
//! it finds `gallery` through the ServiceManager and, about twice a second, lists the
//! albums, pages through one, and looks at a thumbnail; every few rounds it adds a photo to
//! its own album `Browser` (keeping the newest five). Only the `binder` crate and the
//! interfaces generated from `.aidl` are used, never Seam's native protocols.
//!
//! Whichever backend compat routes the gallery to, it must see the same gallery: the photos
//! it added and has not removed are always there, with the thumbnails it gave them. With
//! ROUNDS it stops after that many rounds and says how it went (`legacy-gallery-browser:
//! N calls, F failed, R retried after DEAD_OBJECT, L photos lost`); without, it runs on.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::format;
use alloc::rc::Rc;
use binder::client::{Process, Refused, SpIBinder};
use binder::{Android, StatusCode};
use legacy_aidl::i_gallery_service::Proxy;
use legacy_aidl::PhotoInfo;
use rt::{println, sys};

rt::main!(main);

const ALBUM: &str = "Browser";
const KEEP: usize = 5;

#[derive(Default)]
struct Counts {
    calls: u64,
    failed: u64,
    retried: u64,
    lost: u64,
}

/// The service registered as `name`, once it is; None if compat is gone.
fn find(process: &Rc<Process>, name: &str) -> Option<SpIBinder> {
    loop {
        match process.service_manager().get_service(name) {
            Ok(Some(b)) => return Some(b),
            Ok(None) => sys::sleep(10),
            Err(_) => return None,
        }
    }
}

/// A call, once more if its backend died under it (compat answers `DEAD_OBJECT`, and the
/// native server is restarted behind the same route).
fn call<T>(counts: &mut Counts, mut f: impl FnMut() -> Result<T, Refused>) -> Result<T, Refused> {
    counts.calls += 1;
    match f() {
        Err(Refused::Transport(StatusCode::DeadObject)) => {
            counts.retried += 1;
            sys::sleep(5);
            f()
        }
        other => other,
    }
}

fn thumb_of(n: u64) -> alloc::vec::Vec<u8> {
    (0..64 + n % 64).map(|i| (i as u8).wrapping_mul(n as u8 | 1)).collect()
}

fn main(args: rt::Args) -> u64 {
    let rounds: Option<u64> = args.get(0).and_then(|r| r.parse().ok());
    let mut counts = Counts::default();
    // The photos it added and keeps: compat's id, and the number its thumbnail is made from.
    let mut mine: VecDeque<(i64, u64)> = VecDeque::new();
    let mut next = 0u64;
    let mut round = 0u64;
    let mut shown = false;
    'session: loop {
        let Ok(process) = binder::seam::connect(Android::V11) else {
            sys::sleep(10);
            continue;
        };
        let Some(g) = find(&process, "gallery") else { continue };
        let g = Proxy(g);
        let _ = call(&mut counts, || g.create_album(ALBUM));
        loop {
            if rounds.is_some_and(|r| round >= r) {
                break 'session;
            }
            round += 1;
            let albums = match call(&mut counts, || g.list_albums()) {
                Ok(a) => a,
                Err(Refused::Transport(StatusCode::DeadObject)) if process.poll().is_err() => continue 'session,
                Err(e) => {
                    counts.failed += 1;
                    println!("legacy-gallery-browser: listAlbums failed: {e:?}");
                    sys::sleep(50);
                    continue;
                }
            };
            if !shown {
                shown = true;
                println!("legacy-gallery-browser: sees {} albums through compat", albums.len());
            }
            if let Some(album) = albums.get(round as usize % albums.len().max(1)) {
                if call(&mut counts, || g.list_photos(album, 0, 16)).is_err() {
                    counts.failed += 1;
                }
            }
            if round.is_multiple_of(4) {
                let photo = PhotoInfo {
                    id: 0,
                    name: format!("BROWSE_{next}.jpg"),
                    time: 1_790_000_000 + next as i64,
                    size_bytes: 1000 + next as i64,
                };
                match call(&mut counts, || g.add_photo(ALBUM, &photo, &thumb_of(next))) {
                    Ok(id) => mine.push_back((id, next)),
                    Err(e) => {
                        counts.failed += 1;
                        println!("legacy-gallery-browser: addPhoto failed: {e:?}");
                    }
                }
                next += 1;
                if mine.len() > KEEP {
                    let (id, _) = mine.pop_front().expect("more than KEEP");
                    if call(&mut counts, || g.remove_photo(id)).is_err() {
                        counts.failed += 1;
                    }
                }
            }
            // Every photo it keeps is there, with its thumbnail.
            for &(id, n) in &mine {
                match call(&mut counts, || g.get_thumbnail(id)) {
                    Ok(t) if t == thumb_of(n) => {}
                    Ok(_) | Err(Refused::Exception(_)) => counts.lost += 1,
                    Err(_) => counts.failed += 1,
                }
            }
            sys::sleep(50);
        }
    }
    println!(
        "legacy-gallery-browser: {} calls, {} failed, {} retried after DEAD_OBJECT, {} photos lost",
        counts.calls, counts.failed, counts.retried, counts.lost
    );
    u64::from(counts.failed + counts.lost > 0)
}
