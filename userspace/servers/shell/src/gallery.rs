//! `gallery albums | mkalbum NAME | rmalbum NAME | ls ALBUM [PAGE] | add ALBUM NAME [TIME
//! [SIZE]] | rm ID | thumb ID | search PREFIX|* [FROM TO]`: the gallery service from the
//! shell. `add` makes the photo's thumbnail from its name (a small image of real bytes) and
//! prints a checksum of it; `thumb` fetches a thumbnail back and prints the same checksum.

use crate::Shell;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::proto::gallery::Page;
use rt::gallery::{self as client, retry_once, ThumbFrame};
use rt::{ipc, println, sys};

const USAGE: &str =
    "usage: gallery albums | mkalbum NAME | rmalbum NAME | ls ALBUM [PAGE] | add ALBUM NAME [TIME [SIZE]] | rm ID | thumb ID | search PREFIX|* [FROM TO]";

/// FNV-1a, 32 bits: the checksum `add` and `thumb` print.
pub fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// A 12x12 thumbnail drawn from `name`: a width and height byte, then a byte per pixel.
pub fn thumbnail(name: &str) -> Vec<u8> {
    let seed = checksum(name.as_bytes());
    let mut bytes = alloc::vec![12u8, 12];
    bytes.extend((0..144u32).map(|i| (seed.rotate_left(i % 32) ^ i.wrapping_mul(0x9e37_79b9)) as u8));
    bytes
}

fn number<T: core::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| String::from(USAGE))
}

fn print_page(page: &Page, first: u64) {
    for p in page.photos() {
        println!("  #{} {} time {} size {} thumbnail {} bytes", p.id, p.name.as_str(), p.time, p.size, p.thumb_len);
    }
    let shown = page.photos().count() as u64;
    println!("{} of {} shown (from {first})", shown, page.total);
}

/// The shell's Frame for thumbnails, made the first time one is needed.
fn thumb_frame(held: &mut Option<ThumbFrame>) -> Result<&mut ThumbFrame, String> {
    if held.is_none() {
        *held = Some(ThumbFrame::new().map_err(|e| format!("no Frame for thumbnails: {e}"))?);
    }
    Ok(held.as_mut().expect("just made"))
}

pub fn run(shell: &Shell, args: &[&str]) -> Result<(), String> {
    let service = shell.gallery.ok_or("this shell is not given the gallery service")?;
    let failed = |e: client::Failed| format!("{e}");
    let mut held = shell.thumb_frame.borrow_mut();
    match args {
        ["albums"] => {
            let mut index = 0;
            while let Some(a) = retry_once(|| client::album(service, index)).map_err(failed)? {
                println!("  {} ({} photos)", a.name.as_str(), a.photos);
                index += 1;
            }
            if index == 0 {
                println!("no albums");
            }
        }
        ["mkalbum", name] => {
            retry_once(|| client::create(service, name)).map_err(failed)?;
            println!("album {name} made");
        }
        ["rmalbum", name] => {
            retry_once(|| client::delete(service, name)).map_err(failed)?;
            println!("album {name} deleted");
        }
        ["ls", album] | ["ls", album, _] => {
            let first = args.get(2).map(|p| number::<u64>(p)).transpose()?.unwrap_or(0) * 16;
            let page = retry_once(|| client::list(service, album, first, 16)).map_err(failed)?;
            print_page(&page, first);
        }
        ["add", album, name, rest @ ..] if rest.len() <= 2 => {
            let time = rest.first().map(|t| number(t)).transpose()?.unwrap_or(sys::micros_since_boot() / 1000);
            let size = rest.get(1).map(|s| number(s)).transpose()?.unwrap_or(0);
            let thumb = thumbnail(name);
            let frame = thumb_frame(&mut held)?;
            let len = frame.write(&thumb);
            let id = retry_once(|| client::add(service, album, name, time, size, frame.slot, len)).map_err(failed)?;
            println!("added #{id} {name} to {album} (thumbnail {len} bytes, sum {:08x})", checksum(&thumb));
        }
        ["rm", id] => {
            let id = number(id)?;
            retry_once(|| client::remove(service, id)).map_err(failed)?;
            println!("#{id} removed");
        }
        ["thumb", id] => {
            let id = number(id)?;
            let frame = thumb_frame(&mut held)?;
            let len = retry_once(|| client::thumb(service, id, frame.slot)).map_err(failed)?;
            println!("#{id} thumbnail: {len} bytes, sum {:08x}", checksum(frame.read(len)));
        }
        ["search", prefix, range @ ..] if range.is_empty() || range.len() == 2 => {
            let prefix = if *prefix == "*" { "" } else { prefix };
            let (from, to) = match range {
                [from, to] => (number(from)?, number(to)?),
                _ => (0, u64::MAX),
            };
            let page = retry_once(|| client::search(service, prefix, from, to, 0)).map_err(failed)?;
            print_page(&page, 0);
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
