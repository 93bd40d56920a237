use super::record::{decode as read_record, encode as write_record, Change, MAX};
use super::*;

fn photo(id: u32, name: &str) -> Photo {
    Photo {
        id,
        album: 3,
        thumb_len: THUMB_MAX as u16,
        time: u64::MAX - id as u64,
        size: 1 << 40,
        name: Name::new(name).unwrap(),
    }
}

#[test]
fn names() {
    for n in ["a", "Holiday-2026", "IMG_0001.jpg", &"n".repeat(NAME_MAX)] {
        assert!(is_name(n), "{n}");
    }
    for n in ["", "two words", &"n".repeat(NAME_MAX + 1), "tab\t", "ø"] {
        assert!(!is_name(n), "{n}");
    }
}

#[test]
fn requests_round_trip() {
    let long = "n".repeat(NAME_MAX);
    for r in [
        Request::Create("Holiday"),
        Request::Delete("Holiday"),
        Request::Albums(7),
        Request::Add {
            album: "Holiday",
            name: &long,
            time: 1_790_000_000,
            size: 3_000_000,
            thumb_len: THUMB_MAX as u64,
        },
        Request::List { album: "Holiday", first: 32, count: 16 },
        Request::Thumb(u32::MAX),
        Request::Remove(9),
        Request::Search { prefix: "IMG_", from: 10, to: 20, first: 0 },
        Request::Search { prefix: "", from: 0, to: u64::MAX, first: 16 },
    ] {
        let mut b = Buffers::default();
        assert_eq!(decode(&r.encode().unwrap(), &mut b), Ok(r));
    }
    assert_eq!(Request::Create(&"n".repeat(NAME_MAX + 1)).encode(), None);
}

#[test]
fn a_full_page_of_the_longest_names_fits_and_round_trips() {
    let mut full = Page::new(1000);
    for i in 0..PAGE_MAX as u32 {
        assert!(full.push(photo(i, &format!("{i:0>24}"))));
    }
    assert!(!full.push(photo(99, "x")), "a page holds 16");
    let m = page(&full);
    assert!(m.len <= crate::msg::MSG_MAX_WORDS);
    assert_eq!(read_page(&m), Ok(full));
    assert_eq!(read_page(&super::page(&Page::new(0))).map(|p| p.photos().count()), Ok(0));
}

#[test]
fn answers_round_trip() {
    let a = Album { name: Name::new("Cats").unwrap(), id: 65535, photos: 12 };
    assert_eq!(read_album(&album(&a)), Ok(Some(a)));
    assert_eq!(read_album(&refuse(GalleryError::UnknownAlbum)), Ok(None));
    assert_eq!(read_number(&number(41)), Ok(41));
    assert_eq!(read_number(&refuse(GalleryError::FrameSize)), Err(GalleryError::FrameSize));
    assert_eq!(read_done(&done()), Ok(()));
    assert_eq!(read_done(&Long::new(999)), Err(GalleryError::BadRequest), "an unknown code");
}

#[test]
fn bad_requests_are_refused() {
    let mut b = Buffers::default();
    let mut add = Request::Add { album: "A", name: "p", time: 0, size: 0, thumb_len: 1 }.encode().unwrap();
    add.caps = 0;
    assert_eq!(decode(&add, &mut b), Err(GalleryError::NoCapability));
    let big = Request::Add { album: "A", name: "p", time: 0, size: 0, thumb_len: THUMB_MAX as u64 + 1 };
    assert_eq!(decode(&big.encode().unwrap(), &mut b), Err(GalleryError::TooLarge));
    let mut thumb = Request::Thumb(1).encode().unwrap();
    thumb.caps = 0;
    assert_eq!(decode(&thumb, &mut b), Err(GalleryError::NoCapability));
    let mut m = Long::new(CREATE);
    m.push_bytes(b"two words");
    assert_eq!(decode(&m, &mut b), Err(GalleryError::BadName));
    let mut m = Long::new(CREATE);
    m.push_bytes(&[b'n'; 200]);
    assert_eq!(decode(&m, &mut b), Err(GalleryError::BadName), "too long");
    let list = Request::List { album: "A", first: 0, count: PAGE_MAX as u64 + 1 }.encode().unwrap();
    assert_eq!(decode(&list, &mut b), Err(GalleryError::BadRequest));
    let mut remove = Long::new(REMOVE);
    remove.push(1 << 40);
    assert_eq!(decode(&remove, &mut b), Err(GalleryError::UnknownPhoto));
    assert_eq!(decode(&Long::new(REMOVE), &mut b), Err(GalleryError::BadRequest), "no id");
    assert_eq!(decode(&Long::new(77), &mut b), Err(GalleryError::BadRequest));
    let mut lying = Long::new(OK);
    lying.push(1);
    lying.push(17);
    assert_eq!(read_page(&lying), Err(GalleryError::BadRequest), "more photos than a page holds");
}

#[test]
fn records_round_trip_and_refuse_what_is_not_one() {
    let thumb: Vec<u8> = (0..THUMB_MAX).map(|i| i as u8).collect();
    let changes = [
        Change::AlbumCreated { id: 1, name: "Holiday" },
        Change::AlbumDeleted { id: 65535 },
        Change::PhotoAdded { id: 7, album: 1, time: 5, size: 6, name: "IMG_1.jpg", thumb: &thumb },
        Change::PhotoAdded { id: 8, album: 1, time: 0, size: 0, name: "empty", thumb: &[] },
        Change::PhotoRemoved { id: u32::MAX },
    ];
    let mut out = [0u8; MAX];
    for c in changes {
        let n = write_record(&c, &mut out).unwrap();
        assert_eq!(read_record(&out[..n]), Some(c));
        for cut in 0..n {
            assert_eq!(read_record(&out[..cut]), None, "{c:?} cut at {cut}");
        }
        let mut longer = out[..n].to_vec();
        longer.push(0);
        assert_eq!(read_record(&longer), None, "trailing bytes");
    }
    assert_eq!(write_record(&Change::AlbumCreated { id: 1, name: "bad name" }, &mut out), None);
    assert_eq!(read_record(&[9]), None);
}
