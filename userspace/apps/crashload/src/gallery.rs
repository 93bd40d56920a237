//! The gallery writer: adds photos with thumbnails to an album of its own, removes each ten
//! adds later, and lists the album as it goes. An add whose answer died with the server is
//! tried once more: `Exists` then says the first one was kept (names are unique in an album),
//! and the photo's id is found by search.

use crate::{Outcome, GIVEN, LAG};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::proto::gallery::GalleryError;
use rt::gallery::{self as gallery, Failed, ThumbFrame};
use rt::{ipc, println};

/// Photo `i`'s thumbnail: 64 to 319 bytes that depend on the writer and the photo.
fn thumbnail(id: usize, i: usize) -> Vec<u8> {
    let len = 64 + (i * 37 + id * 11) % 256;
    (0..len).map(|b| (b * 31 + i * 7 + id) as u8).collect()
}

/// The id of the photo named `name` with time `time` (the writer gives photo `i` time `i`),
/// if there is one. The time range keeps the search to that one photo: a name prefix alone
/// also matches the longer names after it ("p1" matches "p10" to "p199"), more than a page.
fn find(name: &str, time: u64) -> Result<Option<u32>, Failed> {
    let page = crate::read_through(|| gallery::search(GIVEN, name, time, time, 0))?;
    let id = page.photos().find(|p| p.name.as_str() == name).map(|p| p.id);
    Ok(id)
}

/// What the writer saw.
#[derive(Default)]
struct Counts {
    writer: usize,
    acked: u64,
    reads: u64,
    errors: u64,
    unexpected: u64,
}

impl Counts {
    /// Counts an answer to `what`: acknowledged, a clean error (the server died with the
    /// call), or anything else, which must not happen.
    fn note(&mut self, what: &str, r: Result<u32, Failed>) -> Outcome<u32> {
        match r {
            Ok(photo) => {
                self.acked += 1;
                Outcome::Acked(photo)
            }
            Err(Failed::Kernel(ipc::Error::ObjectGone)) => {
                self.errors += 1;
                Outcome::Lost
            }
            Err(e) => {
                self.unexpected += 1;
                println!("writer {}: unexpected answer to {what}: {e}", self.writer);
                Outcome::Lost
            }
        }
    }
}

pub fn writer(id: usize, writes: usize) -> u64 {
    let album = format!("load-{id}");
    let name = |i: usize| format!("w{id}-p{i}");
    let mut n = Counts { writer: id, ..Counts::default() };
    match gallery::retry_once(|| gallery::create(GIVEN, &album)) {
        Ok(_) | Err(Failed::Server(GalleryError::Exists)) => {}
        Err(e) => {
            println!("writer {id}: cannot make its album: {e}");
            return 1;
        }
    }
    let Ok(mut frame) = ThumbFrame::new() else {
        println!("writer {id}: no Frame for thumbnails");
        return 1;
    };
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for i in 0..writes {
        if crate::stopped() {
            break;
        }
        let thumb = thumbnail(id, i);
        let len = frame.write(&thumb);
        let add = || gallery::add(GIVEN, &album, &name(i), i as u64, 1000 + i as u64, frame.slot, len);
        let added = match add() {
            // The add died with the server: once more. `Exists` says the first was kept.
            Err(Failed::Kernel(ipc::Error::ObjectGone)) => match add() {
                Err(Failed::Server(GalleryError::Exists)) => {
                    find(&name(i), i as u64).and_then(|p| p.ok_or(Failed::Server(GalleryError::UnknownPhoto)))
                }
                other => other,
            },
            other => other,
        };
        adds.push(n.note("add", added));
        if i >= LAG {
            // Only a photo whose id is known can be removed; the rest stay.
            let removed = match adds[i - LAG] {
                Outcome::Acked(photo) => Some(n.note("remove", gallery::remove(GIVEN, photo).map(|()| photo))),
                Outcome::Lost => None,
            };
            removes.push(removed);
        }
        if i % 8 == 0 {
            // A read under load: a page of the album, every photo on it this writer's.
            match gallery::list(GIVEN, &album, 0, 16) {
                Ok(page) if page.photos().all(|p| p.name.as_str().starts_with(&format!("w{id}-"))) => n.reads += 1,
                Ok(_) => {
                    n.unexpected += 1;
                    println!("writer {id}: a page of its album holds another's photo");
                }
                Err(e) => drop(n.note("list", Err(e))),
            }
        }
    }
    // Every acknowledged add is there with its thumbnail, unless its remove was acknowledged.
    let mut lost = 0;
    let mut report = |what: String| {
        lost += 1;
        if lost <= 3 {
            println!("writer {id}: {what}");
        }
    };
    for (i, &add) in adds.iter().enumerate() {
        let found = match find(&name(i), i as u64) {
            Ok(found) => found,
            Err(e) => {
                report(format!("search for {} failed: {e}", name(i)));
                continue;
            }
        };
        let removed = removes.get(i).copied().flatten();
        match (add, removed, found) {
            (_, Some(Outcome::Acked(_)), Some(_)) => report(format!("{} is there after its remove", name(i))),
            (Outcome::Acked(photo), None | Some(Outcome::Lost), Some(f)) if f != photo => {
                report(format!("{} has id {f}, not {photo}", name(i)))
            }
            (Outcome::Acked(photo), None, None) => report(format!("{} (#{photo}) is gone", name(i))),
            (_, _, Some(f)) => {
                let want = thumbnail(id, i);
                match crate::read_through(|| gallery::thumb(GIVEN, f, frame.slot)) {
                    Ok(len) if frame.read(len) == want.as_slice() => {}
                    other => report(format!("{}'s thumbnail is wrong: {other:?}", name(i))),
                }
            }
            _ => {}
        }
    }
    let _ = gallery::retry_once(|| gallery::delete(GIVEN, &album));
    println!(
        "writer {id}: {} changes acknowledged, {} reads, {} clean errors, {} unexpected, {lost} lost",
        n.acked, n.reads, n.errors, n.unexpected
    );
    n.unexpected + lost
}
