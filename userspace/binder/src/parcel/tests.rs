//! Golden bytes from `../shared/binder-facts.md` (AOSP's wire-protocol test expectations,
//! an on-device dump, libbinder_rs's tests), and checked reads of broken Parcels.

use super::*;
use crate::status::{Exception, Status};
use alloc::vec;

/// Bytes from hex in 4-byte groups, as binder-facts.md shows them.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

#[test]
fn interface_token_and_string_as_android_11_and_later_write_them() {
    let mut p = Parcel::new();
    p.write_interface_token("android.os.IServiceManager");
    p.write_string16(Some("foo"));
    let want = hex("00000080 ffffffff 54535953 1a000000 61006e00 64007200 6f006900 64002e00 6f007300
         2e004900 53006500 72007600 69006300 65004d00 61006e00 61006700 65007200 00000000
         03000000 66006f00 6f000000");
    assert_eq!(p.data(), &want[..]);
    assert_eq!(p.data_size(), 84);
    let mut r = Parcel::from_bytes(&want);
    assert_eq!(r.enforce_interface("android.os.IServiceManager"), Ok(STRICT_MODE_PENALTY_GATHER));
    assert_eq!(r.read_string16(), Ok(Some("foo".into())));
    assert_eq!(r.data_avail(), 0);
}

#[test]
fn interface_tokens_of_older_releases() {
    let mut a11 = Parcel::for_android(Android::V11);
    a11.write_interface_token("x");
    let mut a10 = Parcel::for_android(Android::V10);
    a10.write_interface_token("x");
    // Android 10: the same bytes without the header.
    let mut without = a11.data()[..8].to_vec();
    without.extend_from_slice(&a11.data()[12..]);
    assert_eq!(a10.data(), &without[..]);
    let mut a9 = Parcel::for_android(Android::V9);
    a9.write_interface_token("android.os.IServiceManager");
    assert_eq!(&a9.data()[..8], &hex("00004000 1a000000")[..]);
    for (version, bytes) in [(Android::V9, a9.data()), (Android::V10, a10.data())] {
        let descriptor = if version == Android::V9 { "android.os.IServiceManager" } else { "x" };
        let mut r = Parcel::from_parts(bytes, &[], version).unwrap();
        assert!(r.enforce_interface(descriptor).is_ok(), "{version:?}");
    }
}

#[test]
fn enforce_interface_refuses_another_header_or_descriptor() {
    let mut p = Parcel::new();
    p.write_interface_token("android.os.IServiceManager");
    let mut wrong = Parcel::from_bytes(p.data());
    assert_eq!(wrong.enforce_interface("android.os.IOther"), Err(ParcelError::WrongInterface));
    // 'VNDR' where 'SYST' belongs: libgbinder issue #50's symptom.
    let mut vendor = p.data().to_vec();
    vendor[8..12].copy_from_slice(&0x564e_4452_i32.to_le_bytes());
    let mut r = Parcel::from_bytes(&vendor);
    assert_eq!(r.enforce_interface("android.os.IServiceManager"), Err(ParcelError::WrongInterface));
    let mut short = Parcel::from_bytes(&p.data()[..10]);
    assert_eq!(short.enforce_interface("android.os.IServiceManager"), Err(ParcelError::NotEnoughData));
}

#[test]
fn status_headers() {
    let mut p = Parcel::new();
    Status::exception(Exception::Security, "denied").write_to(&mut p);
    assert_eq!(p.data(), &hex("ffffffff 06000000 64006500 6e006900 65006400 00000000 00000000")[..]);
    let mut p = Parcel::new();
    Status::service_specific(42, "x").write_to(&mut p);
    assert_eq!(p.data(), &hex("f8ffffff 01000000 78000000 00000000 2a000000")[..]);
    // AOSP's wire-protocol test: Status::fromServiceSpecificError(8, ":/").
    let mut p = Parcel::new();
    Status::service_specific(8, ":/").write_to(&mut p);
    assert_eq!(p.data(), &hex("f8ffffff020000003a002f00000000000000000008000000")[..]);
    let mut r = Parcel::from_bytes(p.data());
    assert_eq!(Status::read_from(&mut r), Ok(Status::service_specific(8, ":/")));
    let mut p = Parcel::new();
    p.write_no_exception();
    assert_eq!(p.data(), &[0, 0, 0, 0]);
}

#[test]
fn a_reply_header_is_skipped_and_means_no_exception() {
    let mut p = Parcel::new();
    p.write_i32(-128);
    p.write_i32(12);
    p.write_i32(7);
    p.write_i32(7);
    p.write_i32(99);
    let mut r = Parcel::from_bytes(p.data());
    assert_eq!(Status::read_from(&mut r), Ok(Status::ok()));
    assert_eq!(r.read_i32(), Ok(99));
    let mut lying = Parcel::new();
    lying.write_i32(-128);
    lying.write_i32(1000);
    assert_eq!(Status::read_from(&mut Parcel::from_bytes(lying.data())), Err(ParcelError::BadValue));
    let mut unknown = Parcel::new();
    unknown.write_i32(-50);
    assert_eq!(Status::read_from(&mut Parcel::from_bytes(unknown.data())), Err(ParcelError::BadValue));
    // A remote stack trace is skipped; a size smaller than its own word is refused.
    for (trace, ok) in [(8, true), (4, true), (2, false), (-3, false)] {
        let mut p = Parcel::new();
        p.write_i32(Exception::IllegalState as i32);
        p.write_string16(Some("m"));
        p.write_i32(trace);
        p.write_i32(0x5555);
        let read = Status::read_from(&mut Parcel::from_bytes(p.data()));
        assert_eq!(read.is_ok(), ok, "trace size {trace}");
    }
}

#[test]
fn service_manager_replies() {
    let mut p = Parcel::new();
    p.write_no_exception();
    p.write_string16_array(Some(&["foo", "ab"]));
    assert_eq!(p.data(), &hex("00000000 02000000 03000000 66006f00 6f000000 02000000 61006200 00000000")[..]);
    // ServiceDebugInfo[]{{"foo", 123}}: a parcelable array; each element carries its
    // present marker, then its sized body.
    let mut p = Parcel::new();
    p.write_no_exception();
    p.write_array(Some(&[("foo", 123)]), |p, &(name, pid)| {
        p.write_parcelable(true, |p| {
            p.write_string16(Some(name));
            p.write_i32(pid);
        })
    });
    assert_eq!(p.data(), &hex("00000000 01000000 01000000 14000000 03000000 66006f00 6f000000 7b000000")[..]);
}

#[test]
fn primitives_and_arrays() {
    let mut p = Parcel::new();
    p.write_i64(-2);
    assert_eq!(p.data(), &hex("feffffff ffffffff")[..]);
    let mut p = Parcel::new();
    p.write_f64(1.0);
    assert_eq!(p.data(), &hex("00000000 0000f03f")[..]);
    let mut p = Parcel::new();
    p.write_byte_array(Some(&[1, 2, 3, 4, 5]));
    assert_eq!(p.data(), &hex("05000000 01020304 05000000")[..]);
    // AOSP's wire-protocol test samples.
    let mut p = Parcel::new();
    p.write_string8(Some("baba"));
    assert_eq!(p.data(), &hex("040000006261626100000000")[..]);
    let mut p = Parcel::new();
    p.write_byte_array(Some(&[0, 17, 255]));
    assert_eq!(p.data(), &hex("030000000011ff00")[..]);
    let mut p = Parcel::new();
    p.write_parcelable(true, |p| p.write_i32(37));
    assert_eq!(&p.data()[..4], &hex("01000000")[..]);
    // libbinder_rs: [101u8, 255, 42, 117] as a byte array; bools widened.
    let mut p = Parcel::new();
    p.write_byte_array(Some(&[101, 255, 42, 117]));
    assert_eq!(p.data(), &[4, 0, 0, 0, 101, 255, 42, 117]);
    let mut p = Parcel::new();
    p.write_bool_array(Some(&[true, false, false, true]));
    assert_eq!(p.data(), &hex("04000000 01000000 00000000 00000000 01000000")[..]);
    // Nulls.
    let mut p = Parcel::new();
    p.write_string16(None);
    p.write_string16(Some(""));
    p.write_byte_array(None);
    p.write_parcelable(false, |_| {});
    assert_eq!(p.data(), &hex("ffffffff 00000000 00000000 ffffffff 00000000")[..]);
}

#[test]
fn everything_written_reads_back() {
    let mut p = Parcel::new();
    p.write_i32(i32::MIN);
    p.write_u32(u32::MAX);
    p.write_i64(i64::MAX);
    p.write_u64(7);
    p.write_bool(true);
    p.write_byte(-3);
    p.write_char(0x20ac);
    p.write_f32(1.5);
    p.write_f64(-0.25);
    p.write_string16(Some("Grüße, 世界 🌍"));
    p.write_string16(None);
    p.write_string8(Some("abc"));
    p.write_byte_array(Some(&[9; 7]));
    p.write_i32_array(Some(&[1, -1]));
    p.write_i64_array(None);
    p.write_parcelable(true, |p| {
        p.write_i32(1);
        p.write_string16(Some("field"));
        p.write_i32(3);
    });
    p.write_i32(0x1234);
    let mut r = Parcel::from_bytes(p.data());
    assert_eq!(r.read_i32(), Ok(i32::MIN));
    assert_eq!(r.read_u32(), Ok(u32::MAX));
    assert_eq!(r.read_i64(), Ok(i64::MAX));
    assert_eq!(r.read_u64(), Ok(7));
    assert_eq!(r.read_bool(), Ok(true));
    assert_eq!(r.read_byte(), Ok(-3));
    assert_eq!(r.read_char(), Ok(0x20ac));
    assert_eq!(r.read_f32(), Ok(1.5));
    assert_eq!(r.read_f64(), Ok(-0.25));
    assert_eq!(r.read_string16(), Ok(Some("Grüße, 世界 🌍".into())));
    assert_eq!(r.read_string16(), Ok(None));
    assert_eq!(r.read_string8(), Ok(Some("abc".into())));
    assert_eq!(r.read_byte_array(), Ok(Some(vec![9; 7])));
    assert_eq!(r.read_i32_array(), Ok(Some(vec![1, -1])));
    assert_eq!(r.read_i64_array(), Ok(None));
    // An older reader knows only the first field: the rest of the body is skipped.
    let mut first = 0;
    assert_eq!(r.read_parcelable(|b| b.read_i32().map(|v| first = v)), Ok(true));
    assert_eq!(first, 1);
    assert_eq!(r.read_i32(), Ok(0x1234));
    assert_eq!(r.read_i32(), Err(ParcelError::NotEnoughData));
}

#[test]
fn broken_parcels_are_errors_not_panics() {
    let read = |bytes: &[u8]| Parcel::from_bytes(bytes);
    assert_eq!(read(&[1, 2]).read_i32(), Err(ParcelError::NotEnoughData));
    assert_eq!(read(&[0; 4]).read_i64(), Err(ParcelError::NotEnoughData));
    // A length that runs past the end, a negative one, a huge one.
    assert_eq!(read(&hex("05000000 61006200")).read_string16(), Err(ParcelError::BadValue));
    assert_eq!(read(&hex("feffffff")).read_string16(), Err(ParcelError::BadValue));
    assert_eq!(read(&hex("ffffff7f")).read_byte_array(), Err(ParcelError::BadValue));
    assert_eq!(read(&hex("ffffff7f")).read_i64_array(), Err(ParcelError::BadValue));
    // A String16 without its NUL; one that is not UTF-16 (a lone surrogate).
    assert_eq!(read(&hex("01000000 61006200")).read_string16(), Err(ParcelError::BadValue));
    assert_eq!(read(&hex("01000000 00d80000")).read_string16(), Err(ParcelError::BadValue));
    assert_eq!(read(&hex("ffffffff")).read_string16_nonnull(), Err(ParcelError::UnexpectedNull));
    // A parcelable whose size is too small, or runs past the end, or whose reader reads past it.
    assert_eq!(read(&hex("01000000 02000000")).read_parcelable(|_| Ok(())), Err(ParcelError::BadValue));
    assert_eq!(read(&hex("01000000 40000000")).read_parcelable(|_| Ok(())), Err(ParcelError::BadValue));
    let over = read(&hex("01000000 08000000 05000000 06000000")).read_parcelable(|b| {
        b.read_i32()?;
        b.read_i32().map(drop)
    });
    assert_eq!(over, Err(ParcelError::NotEnoughData));
    // Every prefix of a real Parcel reads as an error or a value, never a panic.
    let mut p = Parcel::new();
    p.write_interface_token("android.os.IServiceManager");
    p.write_string16(Some("foo"));
    p.write_byte_array(Some(&[1, 2, 3]));
    for cut in 0..p.data_size() {
        let mut r = Parcel::from_bytes(&p.data()[..cut]);
        let _ = r.enforce_interface("android.os.IServiceManager");
        let _ = r.read_string16();
        let _ = r.read_byte_array();
    }
}

#[test]
fn plain_reads_may_not_touch_a_binder_object() {
    let bytes = [0u8; 4 + OBJECT_SIZE + 4];
    let mut p = Parcel::from_parts(&bytes, &[4], Android::V14).unwrap();
    assert_eq!(p.read_i32(), Ok(0));
    assert_eq!(p.read_i32(), Err(ParcelError::BadType), "the object's first word");
    p.set_data_position(16);
    assert_eq!(p.read_i64(), Err(ParcelError::BadType), "inside the object");
    p.set_data_position(4 + OBJECT_SIZE);
    assert_eq!(p.read_i32(), Ok(0), "after it");
    assert_eq!(Parcel::from_parts(&bytes, &[2], Android::V14), None, "unaligned");
    assert_eq!(Parcel::from_parts(&bytes, &[16], Android::V14), None, "past the end");
    assert_eq!(Parcel::from_parts(&[0; 64], &[0, 8], Android::V14), None, "overlapping");
}

#[test]
fn binder_objects_per_release() {
    // A null binder from servicemanager on Android 13+ (no scheduling bits): no offset.
    let mut p = Parcel::for_android(Android::V13);
    p.set_background_scheduling(false);
    p.write_strong_binder(None);
    assert_eq!(p.data(), &hex("852a6273 00000000 00000000 00000000 00000000 00000000 00000000")[..]);
    assert!(p.objects().is_empty());
    // Stability words: none before 11, SYSTEM as a level (11, 13+) or a Category (12).
    for (android, tail) in [
        (Android::V10, None),
        (Android::V11, Some(0x0c_i32)),
        (Android::V12, Some(0x0c00_0001)),
        (Android::V13, Some(0x0c)),
        (Android::V14, Some(0x0c)),
    ] {
        let mut p = Parcel::for_android(android);
        p.write_strong_binder(Some(Binder::Handle(5)));
        assert_eq!(p.data_size(), OBJECT_SIZE + if tail.is_some() { 4 } else { 0 }, "{android:?}");
        assert_eq!(p.objects(), &[0]);
        let flags = u32::from_le_bytes(p.data()[4..8].try_into().unwrap());
        assert_eq!(flags, if android <= Android::V10 { 0x113 } else { 0x13 }, "{android:?}");
        if let Some(word) = tail {
            assert_eq!(&p.data()[OBJECT_SIZE..], &word.to_le_bytes(), "{android:?}");
        }
    }
}

#[test]
fn binder_objects_read_back_with_their_offsets() {
    let mut p = Parcel::new();
    p.write_i32(7);
    p.write_strong_binder(Some(Binder::Local { ptr: 0xdead_beef_0000, cookie: 42 }));
    p.write_strong_binder(Some(Binder::Handle(0)));
    p.write_strong_binder(None);
    p.write_strong_binder(Some(Binder::Handle(9)));
    assert_eq!(p.objects(), &[4, 88], "handle 0 and null get no offset");
    let local = u32::from_le_bytes(p.data()[8..12].try_into().unwrap());
    assert_eq!(local, FLAG_ACCEPTS_FDS | 0x13);
    let mut r = Parcel::from_parts(p.data(), p.objects(), Android::V14).unwrap();
    assert_eq!(r.read_i32(), Ok(7));
    assert_eq!(r.read_strong_binder(), Ok(Some(Binder::Local { ptr: 0xdead_beef_0000, cookie: 42 })));
    assert_eq!(r.read_strong_binder(), Ok(Some(Binder::Handle(0))));
    assert_eq!(r.read_strong_binder(), Ok(None));
    assert_eq!(r.read_strong_binder(), Ok(Some(Binder::Handle(9))));
    assert_eq!(r.data_avail(), 0);
    // The same bytes without their offsets: an object whose field is not 0 is refused.
    let mut bare = Parcel::from_bytes(p.data());
    bare.set_data_position(4);
    assert_eq!(bare.read_strong_binder(), Err(ParcelError::BadType));
    // An object read where plain data is: refused unless it is all zero (a null).
    let mut plain = Parcel::new();
    plain.write_u32(BINDER_TYPE_HANDLE);
    plain.write_u32(0);
    plain.write_u64(3);
    plain.write_u64(0);
    plain.write_i32(0x0c);
    assert_eq!(Parcel::from_bytes(plain.data()).read_strong_binder(), Err(ParcelError::BadType));
    let mut junk = Parcel::from_parts(&[0xaa; 28], &[0], Android::V14).unwrap();
    assert_eq!(junk.read_strong_binder(), Err(ParcelError::BadType), "an unknown type");
    assert_eq!(Parcel::from_bytes(&[0; 20]).read_strong_binder(), Err(ParcelError::NotEnoughData));
}

proptest::proptest! {
    /// Any text is written as Android's String16 (its length in UTF-16 units, the units, a
    /// NUL, padding to 4) and reads back the same, ASCII or not, surrogate pairs included.
    #[test]
    fn any_text_is_a_string16_of_androids_size(text in "\\PC{0,40}", tail in proptest::num::i32::ANY) {
        let mut p = Parcel::new();
        p.write_string16(Some(&text));
        p.write_i32(tail);
        let units = text.encode_utf16().count();
        proptest::prop_assert_eq!(p.data_size(), 4 + ((units + 1) * 2).next_multiple_of(4) + 4);
        proptest::prop_assert_eq!(&p.data()[..4], &(units as i32).to_le_bytes());
        let mut r = Parcel::from_bytes(p.data());
        proptest::prop_assert_eq!(r.read_string16(), Ok(Some(text.clone())));
        proptest::prop_assert_eq!(r.read_i32(), Ok(tail));
    }
}
