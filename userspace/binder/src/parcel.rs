//! A Parcel: a byte buffer in Android's layout, and the offsets of the binder objects in it.
//!
//! Every write ends on a 4-byte boundary, padding with zero bytes. `bool`, `i8`/`u8` and
//! `char16` are widened to 32 bits; `i64` and `f64` are 8 bytes, 4-byte aligned. Strings are
//! String16 (length in UTF-16 units, -1 for null, UTF-16LE, a 16-bit NUL, padding); AIDL's
//! `@utf8InCpp` strings go on the wire the same way. Arrays are a 32-bit count (-1 for null)
//! and their elements.

use alloc::string::String;
use alloc::vec::Vec;

/// The Android release whose wire format a Parcel follows where releases differ (the
/// interface token, the stability word after a binder).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Android {
    /// Android 9 and earlier.
    V9,
    V10,
    V11,
    V12,
    V13,
    /// Android 14 (and later releases' Parcels, which are the same; their IServiceManager
    /// codes are not: 15 r6 and 16 inserted methods, see `service_manager`).
    V14,
}

impl Android {
    pub const ALL: [Android; 6] = [Android::V9, Android::V10, Android::V11, Android::V12, Android::V13, Android::V14];

    /// The release's number: 9 to 14.
    pub const fn number(self) -> u32 {
        match self {
            Android::V9 => 9,
            Android::V10 => 10,
            Android::V11 => 11,
            Android::V12 => 12,
            Android::V13 => 13,
            Android::V14 => 14,
        }
    }

    pub fn from_number(n: u32) -> Option<Android> {
        Android::ALL.into_iter().find(|a| a.number() == n)
    }
}

/// Why a read (or an interface check) failed: libbinder's status for it in the comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParcelError {
    /// The read runs past the end (`NOT_ENOUGH_DATA`).
    NotEnoughData,
    /// A length that is negative (other than -1 for null) or larger than what follows, a
    /// String16 without its NUL, text that is not UTF-16 (`BAD_VALUE`).
    BadValue,
    /// Null where a value is required (`UNEXPECTED_NULL`).
    UnexpectedNull,
    /// A plain read over a binder object, or an object read where none is listed
    /// (`BAD_TYPE`).
    BadType,
    /// `enforce_interface` found another header or descriptor.
    WrongInterface,
}

/// `strictModePolicy` bits on the wire before Android 10 and from 10 on.
const STRICT_MODE_PENALTY_GATHER_9: i32 = 0x0040_0000;
const STRICT_MODE_PENALTY_GATHER: i32 = 0x8000_0000_u32 as i32;
/// The interface header from Android 11 on: 'SYST'.
pub const INTERFACE_HEADER: i32 = 0x5359_5354;
/// No work source set.
const WORK_SOURCE_UNSET: i32 = -1;

/// A Parcel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    data: Vec<u8>,
    /// Where each binder object starts, in `data`, in the order written.
    objects: Vec<usize>,
    /// Where the next read starts.
    pos: usize,
    android: Android,
    /// The scheduling bits written into each binder object's flags: 0x13 (nice 19), or 0
    /// where background scheduling is off (as in servicemanager).
    sched_bits: u32,
}

impl Default for Parcel {
    fn default() -> Self {
        Parcel::new()
    }
}

impl Parcel {
    /// An empty Parcel in Android 14's format.
    pub fn new() -> Parcel {
        Parcel::for_android(Android::V14)
    }

    pub fn for_android(android: Android) -> Parcel {
        Parcel { data: Vec::new(), objects: Vec::new(), pos: 0, android, sched_bits: SCHED_BITS }
    }

    /// A Parcel to read `bytes` from, holding no binder objects.
    pub fn from_bytes(bytes: &[u8]) -> Parcel {
        Parcel { data: bytes.to_vec(), ..Parcel::new() }
    }

    /// A Parcel to read, with the offsets of its binder objects; None if an offset is not
    /// 4-byte aligned, or an object would run past the end or overlap another.
    pub fn from_parts(bytes: &[u8], offsets: &[usize], android: Android) -> Option<Parcel> {
        Parcel::from_vecs(bytes.to_vec(), offsets.to_vec(), android)
    }

    /// As [`Parcel::from_parts`], taking the bytes and offsets it is given rather than a copy.
    pub fn from_vecs(data: Vec<u8>, mut offsets: Vec<usize>, android: Android) -> Option<Parcel> {
        offsets.sort_unstable();
        let fits =
            offsets.iter().all(|&o| o.is_multiple_of(4) && o.checked_add(OBJECT_SIZE).is_some_and(|e| e <= data.len()));
        let apart = offsets.windows(2).all(|w| w[1] >= w[0] + OBJECT_SIZE);
        (fits && apart).then(|| Parcel { data, objects: offsets, ..Parcel::for_android(android) })
    }

    pub fn android(&self) -> Android {
        self.android
    }

    /// The bytes and object offsets, given up rather than copied.
    pub fn into_parts(self) -> (Vec<u8>, Vec<usize>) {
        (self.data, self.objects)
    }

    /// Whether binder objects written from now on carry the background-scheduling bits
    /// (libbinder's default) or not (servicemanager turns them off).
    pub fn set_background_scheduling(&mut self, on: bool) {
        self.sched_bits = if on { SCHED_BITS } else { 0 };
    }

    /// The bytes written.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The offsets of the binder objects in [`Parcel::data`].
    pub fn objects(&self) -> &[usize] {
        &self.objects
    }

    pub fn data_size(&self) -> usize {
        self.data.len()
    }

    /// Where the next read starts.
    pub fn data_position(&self) -> usize {
        self.pos
    }

    /// Moves the read position (as libbinder's `setDataPosition`); past the end, reads fail.
    pub fn set_data_position(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub fn data_avail(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    // ---- writing ----

    /// Makes room for `n` more bytes: at least [`FIRST_ROOM`] at the first write, so that a
    /// call's Parcel is usually one allocation rather than one per doubling.
    fn room(&mut self, n: usize) {
        if self.data.capacity() - self.data.len() < n {
            self.data.reserve(n.max(FIRST_ROOM));
        }
    }

    fn pad(&mut self) {
        self.data.resize(self.data.len().next_multiple_of(4), 0);
    }

    /// Appends `bytes`, then zero padding to 4 bytes.
    fn write_padded(&mut self, bytes: &[u8]) {
        self.room(bytes.len().next_multiple_of(4));
        self.data.extend_from_slice(bytes);
        self.pad();
    }

    /// Appends a 4- or 8-byte value (which needs no padding), with the copy inlined.
    #[inline]
    fn write_word<const N: usize>(&mut self, bytes: [u8; N]) {
        const { assert!(N.is_multiple_of(4)) };
        self.room(N);
        self.data.extend_from_slice(&bytes);
    }

    pub fn write_i32(&mut self, v: i32) {
        self.write_word(v.to_le_bytes());
    }

    pub fn write_u32(&mut self, v: u32) {
        self.write_word(v.to_le_bytes());
    }

    pub fn write_i64(&mut self, v: i64) {
        self.write_word(v.to_le_bytes());
    }

    pub fn write_u64(&mut self, v: u64) {
        self.write_word(v.to_le_bytes());
    }

    pub fn write_bool(&mut self, v: bool) {
        self.write_i32(i32::from(v));
    }

    /// A byte, widened to 32 bits.
    pub fn write_byte(&mut self, v: i8) {
        self.write_i32(i32::from(v));
    }

    /// A UTF-16 unit, widened to 32 bits.
    pub fn write_char(&mut self, v: u16) {
        self.write_i32(i32::from(v));
    }

    pub fn write_f32(&mut self, v: f32) {
        self.write_word(v.to_le_bytes());
    }

    pub fn write_f64(&mut self, v: f64) {
        self.write_word(v.to_le_bytes());
    }

    /// A length or count as Android writes it: -1 for null. Lengths past `i32::MAX` cannot
    /// be written; the caller's data never gets near that in Seam.
    fn write_len(&mut self, len: Option<usize>) {
        self.write_i32(len.map_or(-1, |l| i32::try_from(l).expect("a length under 2 GiB")));
    }

    /// A String16 (also how AIDL's `@utf8InCpp String` goes on the wire); None is null.
    pub fn write_string16(&mut self, s: Option<&str>) {
        let Some(s) = s else { return self.write_len(None) };
        if s.is_ascii() {
            // Most strings on the wire (descriptors, names) are ASCII: each byte is a unit.
            self.write_len(Some(s.len()));
            let start = self.data.len();
            self.data.resize((start + (s.len() + 1) * 2).next_multiple_of(4), 0);
            for (unit, &b) in self.data[start..].chunks_exact_mut(2).zip(s.as_bytes()) {
                unit[0] = b;
            }
            return;
        }
        let len = s.encode_utf16().count();
        self.write_len(Some(len));
        self.room((len + 1) * 2 + 2);
        for u in s.encode_utf16().chain(core::iter::once(0)) {
            self.data.extend_from_slice(&u.to_le_bytes());
        }
        self.pad();
    }

    /// A String8: the byte length, the bytes, a NUL byte, padding.
    pub fn write_string8(&mut self, s: Option<&str>) {
        let Some(s) = s else { return self.write_len(None) };
        self.write_len(Some(s.len()));
        self.data.extend_from_slice(s.as_bytes());
        self.write_padded(&[0]);
    }

    /// A C string: the bytes, a NUL, padding; no length.
    pub fn write_cstring(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        self.write_padded(&[0]);
    }

    /// `byte[]`: the count, the bytes packed, padding; None is null.
    pub fn write_byte_array(&mut self, bytes: Option<&[u8]>) {
        let Some(bytes) = bytes else { return self.write_len(None) };
        self.write_len(Some(bytes.len()));
        self.write_padded(bytes);
    }

    /// An array: the count, then each element as `write` writes it; None is null. Elements
    /// that are parcelables carry their present marker each (`write_parcelable`), as AIDL's
    /// arrays of parcelables do.
    pub fn write_array<T>(&mut self, items: Option<&[T]>, mut write: impl FnMut(&mut Parcel, &T)) {
        let Some(items) = items else { return self.write_len(None) };
        self.write_len(Some(items.len()));
        for item in items {
            write(self, item);
        }
    }

    pub fn write_i32_array(&mut self, items: Option<&[i32]>) {
        self.write_array(items, |p, &v| p.write_i32(v));
    }

    pub fn write_i64_array(&mut self, items: Option<&[i64]>) {
        self.write_array(items, |p, &v| p.write_i64(v));
    }

    pub fn write_bool_array(&mut self, items: Option<&[bool]>) {
        self.write_array(items, |p, &v| p.write_bool(v));
    }

    pub fn write_string16_array(&mut self, items: Option<&[&str]>) {
        self.write_array(items, |p, s| p.write_string16(Some(s)));
    }

    /// A structured AIDL parcelable: `int32 1` (present), then its body as `write` writes it,
    /// prefixed by the body's size (which counts the size word itself). None writes the null
    /// marker, `int32 0`.
    pub fn write_parcelable(&mut self, present: bool, write: impl FnOnce(&mut Parcel)) {
        self.write_i32(i32::from(present));
        if present {
            self.write_parcelable_body(write);
        }
    }

    /// A parcelable's body alone (as in an array of parcelables): its size, then its fields.
    pub fn write_parcelable_body(&mut self, write: impl FnOnce(&mut Parcel)) {
        let start = self.data.len();
        self.write_i32(0);
        write(self);
        let size = i32::try_from(self.data.len() - start).expect("a parcelable under 2 GiB");
        self.data[start..start + 4].copy_from_slice(&size.to_le_bytes());
    }

    /// The interface token that starts every AIDL call, in this Parcel's Android release's
    /// form: the strict-mode policy, the work source (10+), the header 'SYST' (11+), the
    /// descriptor.
    pub fn write_interface_token(&mut self, descriptor: &str) {
        match self.android {
            Android::V9 => self.write_i32(STRICT_MODE_PENALTY_GATHER_9),
            _ => {
                self.write_i32(STRICT_MODE_PENALTY_GATHER);
                self.write_i32(WORK_SOURCE_UNSET);
            }
        }
        if self.android >= Android::V11 {
            self.write_i32(INTERFACE_HEADER);
        }
        self.write_string16(Some(descriptor));
    }

    /// A reply's status header for success: `int32 0`.
    pub fn write_no_exception(&mut self) {
        self.write_i32(0);
    }

    // ---- reading ----

    /// The next `n` bytes (and the padding after them), if they are there and overlap no
    /// binder object.
    fn read_padded(&mut self, n: usize) -> Result<&[u8], ParcelError> {
        let end = self.pos.checked_add(n).ok_or(ParcelError::NotEnoughData)?;
        let padded = end.checked_next_multiple_of(4).ok_or(ParcelError::NotEnoughData)?;
        if padded > self.data.len() {
            return Err(ParcelError::NotEnoughData);
        }
        if self.objects.iter().any(|&o| o < padded && self.pos < o + OBJECT_SIZE) {
            return Err(ParcelError::BadType);
        }
        let start = self.pos;
        self.pos = padded;
        Ok(&self.data[start..end])
    }

    fn read_array4(&mut self) -> Result<[u8; 4], ParcelError> {
        Ok(self.read_padded(4)?.try_into().expect("four bytes"))
    }

    fn read_array8(&mut self) -> Result<[u8; 8], ParcelError> {
        Ok(self.read_padded(8)?.try_into().expect("eight bytes"))
    }

    pub fn read_i32(&mut self) -> Result<i32, ParcelError> {
        self.read_array4().map(i32::from_le_bytes)
    }

    pub fn read_u32(&mut self) -> Result<u32, ParcelError> {
        self.read_array4().map(u32::from_le_bytes)
    }

    pub fn read_i64(&mut self) -> Result<i64, ParcelError> {
        self.read_array8().map(i64::from_le_bytes)
    }

    pub fn read_u64(&mut self) -> Result<u64, ParcelError> {
        self.read_array8().map(u64::from_le_bytes)
    }

    /// A bool: any non-zero word is true, as libbinder reads it.
    pub fn read_bool(&mut self) -> Result<bool, ParcelError> {
        self.read_i32().map(|v| v != 0)
    }

    pub fn read_byte(&mut self) -> Result<i8, ParcelError> {
        self.read_i32().map(|v| v as i8)
    }

    pub fn read_char(&mut self) -> Result<u16, ParcelError> {
        self.read_i32().map(|v| v as u16)
    }

    pub fn read_f32(&mut self) -> Result<f32, ParcelError> {
        self.read_array4().map(f32::from_le_bytes)
    }

    pub fn read_f64(&mut self) -> Result<f64, ParcelError> {
        self.read_array8().map(f64::from_le_bytes)
    }

    /// A length or count: None for -1 (null); other negative values, or one larger than the
    /// bytes left could hold at `min_size` bytes each, are refused before anything is
    /// allocated for them.
    fn read_len(&mut self, min_size: usize) -> Result<Option<usize>, ParcelError> {
        match self.read_i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(ParcelError::BadValue),
            n if (n as usize).saturating_mul(min_size) > self.data_avail() => Err(ParcelError::BadValue),
            n => Ok(Some(n as usize)),
        }
    }

    /// A String16's UTF-16LE text, without its NUL; None for null.
    fn read_string16_bytes(&mut self) -> Result<Option<&[u8]>, ParcelError> {
        let Some(len) = self.read_len(2)? else { return Ok(None) };
        let bytes =
            self.read_padded(len.checked_add(1).and_then(|n| n.checked_mul(2)).ok_or(ParcelError::BadValue)?)?;
        let (text, nul) = bytes.split_at(len * 2);
        if nul != [0, 0] {
            return Err(ParcelError::BadValue);
        }
        Ok(Some(text))
    }

    /// A String16; None for null.
    pub fn read_string16(&mut self) -> Result<Option<String>, ParcelError> {
        let Some(text) = self.read_string16_bytes()? else { return Ok(None) };
        if let Some(ascii) = ascii_of(text) {
            let bytes: Vec<u8> = ascii.collect();
            return String::from_utf8(bytes).map(Some).map_err(|_| ParcelError::BadValue);
        }
        let mut s = String::with_capacity(text.len() / 2);
        for c in char::decode_utf16(utf16_units(text)) {
            s.push(c.map_err(|_| ParcelError::BadValue)?);
        }
        Ok(Some(s))
    }

    /// A String16 that must not be null.
    pub fn read_string16_nonnull(&mut self) -> Result<String, ParcelError> {
        self.read_string16()?.ok_or(ParcelError::UnexpectedNull)
    }

    pub fn read_string8(&mut self) -> Result<Option<String>, ParcelError> {
        let Some(len) = self.read_len(1)? else { return Ok(None) };
        let bytes = self.read_padded(len.checked_add(1).ok_or(ParcelError::BadValue)?)?;
        let (text, nul) = bytes.split_at(len);
        if nul != [0] {
            return Err(ParcelError::BadValue);
        }
        String::from_utf8(text.to_vec()).map(Some).map_err(|_| ParcelError::BadValue)
    }

    pub fn read_byte_array(&mut self) -> Result<Option<Vec<u8>>, ParcelError> {
        let Some(len) = self.read_len(1)? else { return Ok(None) };
        Ok(Some(self.read_padded(len)?.to_vec()))
    }

    /// An array of elements at least `min_size` bytes each on the wire, each read by `read`.
    pub fn read_array<T>(
        &mut self,
        min_size: usize,
        mut read: impl FnMut(&mut Parcel) -> Result<T, ParcelError>,
    ) -> Result<Option<Vec<T>>, ParcelError> {
        let Some(len) = self.read_len(min_size)? else { return Ok(None) };
        (0..len).map(|_| read(self)).collect::<Result<Vec<T>, _>>().map(Some)
    }

    pub fn read_i32_array(&mut self) -> Result<Option<Vec<i32>>, ParcelError> {
        self.read_array(4, Parcel::read_i32)
    }

    pub fn read_i64_array(&mut self) -> Result<Option<Vec<i64>>, ParcelError> {
        self.read_array(8, Parcel::read_i64)
    }

    pub fn read_bool_array(&mut self) -> Result<Option<Vec<bool>>, ParcelError> {
        self.read_array(4, Parcel::read_bool)
    }

    /// A String16 array; a null element is refused (use `read_array` for nullable ones).
    pub fn read_string16_array(&mut self) -> Result<Option<Vec<String>>, ParcelError> {
        self.read_array(4, Parcel::read_string16_nonnull)
    }

    /// A structured parcelable: false for the null marker, else its body read by `read`,
    /// which may read fewer fields than were written (the rest are skipped) but not more.
    pub fn read_parcelable(
        &mut self,
        read: impl FnOnce(&mut Parcel) -> Result<(), ParcelError>,
    ) -> Result<bool, ParcelError> {
        if self.read_i32()? == 0 {
            return Ok(false);
        }
        self.read_parcelable_body(read).map(|()| true)
    }

    /// A parcelable's body alone: its size word, then `read`; the position ends after the
    /// whole body, whatever `read` consumed of it.
    pub fn read_parcelable_body(
        &mut self,
        read: impl FnOnce(&mut Parcel) -> Result<(), ParcelError>,
    ) -> Result<(), ParcelError> {
        let start = self.pos;
        let size = self.read_i32()?;
        let end = usize::try_from(size)
            .ok()
            .filter(|&s| s >= 4)
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= self.data.len())
            .ok_or(ParcelError::BadValue)?;
        // The body's fields may not run past its size: read them in a Parcel that ends there.
        let mut body = Parcel {
            data: self.data[..end].to_vec(),
            objects: self.objects.iter().copied().filter(|&o| o < end).collect(),
            pos: self.pos,
            android: self.android,
            sched_bits: self.sched_bits,
        };
        read(&mut body)?;
        self.pos = end;
        Ok(())
    }

    /// Checks the interface token of a call: the header this Parcel's release writes, and
    /// `descriptor`. Returns the strict-mode policy the caller sent.
    pub fn enforce_interface(&mut self, descriptor: &str) -> Result<i32, ParcelError> {
        let policy = self.read_i32()?;
        if self.android >= Android::V10 {
            let _work_source = self.read_i32()?;
        }
        if self.android >= Android::V11 && self.read_i32()? != INTERFACE_HEADER {
            return Err(ParcelError::WrongInterface);
        }
        let same = |d: &[u8]| match descriptor.is_ascii() {
            // One pass over an ASCII descriptor's units: its byte, then zero.
            true => {
                d.len() == 2 * descriptor.len() && d.chunks_exact(2).zip(descriptor.bytes()).all(|(u, b)| u == [b, 0])
            }
            false => utf16_units(d).eq(descriptor.encode_utf16()),
        };
        match self.read_string16_bytes()? {
            Some(d) if same(d) => Ok(policy),
            _ => Err(ParcelError::WrongInterface),
        }
    }
}

/// The bytes of UTF-16LE text that is all ASCII (each unit below 0x80), or None.
fn ascii_of(text: &[u8]) -> Option<impl Iterator<Item = u8> + '_> {
    text.chunks_exact(2).all(|u| u[1] == 0 && u[0] < 0x80).then(|| text.iter().step_by(2).copied())
}

/// The UTF-16 units of little-endian bytes (an even number of them).
fn utf16_units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]))
}

/// The room a Parcel's first write makes: more than most calls write.
const FIRST_ROOM: usize = 256;

/// The size of a `flat_binder_object` on a 64-bit system.
pub const OBJECT_SIZE: usize = 24;

/// `flat_binder_object` types: `B_PACK_CHARS(c1, c2, c3, 0x85)`.
pub const BINDER_TYPE_BINDER: u32 = 0x7362_2a85;
pub const BINDER_TYPE_HANDLE: u32 = 0x7368_2a85;
/// `FLAT_BINDER_FLAG_ACCEPTS_FDS`.
pub const FLAG_ACCEPTS_FDS: u32 = 0x100;
/// Priority 19 and `FLAG_ACCEPTS_FDS`'s neighbour bits as libbinder writes them: nice 19.
const SCHED_BITS: u32 = 0x13;

/// A binder as a Parcel carries it: an object of the sender's own (its address and cookie,
/// opaque to everyone else), or a handle to someone else's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binder {
    Local { ptr: u64, cookie: u64 },
    Handle(u32),
}

/// A `flat_binder_object` as its 24 bytes say: the type, the flags, the `binder`/`handle`
/// word and the cookie. What a driver (the compat server) reads and rewrites when it carries
/// a Parcel from one process to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlatObject {
    pub kind: u32,
    pub flags: u32,
    pub value: u64,
    pub cookie: u64,
}

impl FlatObject {
    /// The object at `at` in `data`; None if it would run past the end.
    pub fn read(data: &[u8], at: usize) -> Option<FlatObject> {
        let bytes = data.get(at..at.checked_add(OBJECT_SIZE)?)?;
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("four bytes"));
        let long = |i: usize| u64::from(word(i)) | u64::from(word(i + 4)) << 32;
        Some(FlatObject { kind: word(0), flags: word(4), value: long(8), cookie: long(16) })
    }

    pub fn to_bytes(self) -> [u8; OBJECT_SIZE] {
        let mut b = [0; OBJECT_SIZE];
        b[0..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.value.to_le_bytes());
        b[16..24].copy_from_slice(&self.cookie.to_le_bytes());
        b
    }

    /// The binder it stands for: None for a null binder, an error for a type Seam does not
    /// carry (weak references, file descriptors, buffers) or a handle past 32 bits.
    pub fn binder(self) -> Result<Option<Binder>, ParcelError> {
        match (self.kind, self.value) {
            (BINDER_TYPE_BINDER, 0) => Ok(None),
            (BINDER_TYPE_BINDER, ptr) => Ok(Some(Binder::Local { ptr, cookie: self.cookie })),
            (BINDER_TYPE_HANDLE, h) => {
                u32::try_from(h).map(|h| Some(Binder::Handle(h))).map_err(|_| ParcelError::BadValue)
            }
            _ => Err(ParcelError::BadType),
        }
    }

    /// The object for `binder` with `flags`.
    pub fn new(binder: Option<Binder>, flags: u32) -> FlatObject {
        let (kind, value, cookie) = match binder {
            None => (BINDER_TYPE_BINDER, 0, 0),
            Some(Binder::Local { ptr, cookie }) => (BINDER_TYPE_BINDER, ptr, cookie),
            Some(Binder::Handle(h)) => (BINDER_TYPE_HANDLE, u64::from(h), 0),
        };
        FlatObject { kind, flags, value, cookie }
    }
}

/// The stability word after each binder object, per release: `None` before Android 11.
pub fn stability(android: Android) -> Option<i32> {
    match android {
        Android::V9 | Android::V10 => None,
        // `Level::SYSTEM` as an int32.
        Android::V11 => Some(0x0c),
        // `Category { version 1, reserved, level SYSTEM }`.
        Android::V12 => Some(0x0c00_0001),
        // `Level::SYSTEM` as an int16, widened.
        Android::V13 | Android::V14 => Some(0x0c),
    }
}

impl Parcel {
    /// A binder object (`flat_binder_object`), or a null binder, then the stability word of
    /// this Parcel's release (0 for a null binder). Its offset is listed unless its `binder` field is 0 (a null
    /// binder, or handle 0), as libbinder's `writeObject` does.
    pub fn write_strong_binder(&mut self, binder: Option<Binder>) {
        let flags = match binder {
            // Android 9 and 10 write 0x113 on every object.
            _ if self.android <= Android::V10 => FLAG_ACCEPTS_FDS | SCHED_BITS,
            Some(Binder::Local { .. }) => FLAG_ACCEPTS_FDS | self.sched_bits,
            None | Some(Binder::Handle(_)) => self.sched_bits,
        };
        let object = FlatObject::new(binder, flags);
        if object.value != 0 {
            self.objects.push(self.data.len());
        }
        self.data.extend_from_slice(&object.to_bytes());
        // A null binder's stability word is 0.
        if let Some(word) = stability(self.android) {
            self.write_i32(if binder.is_some() { word } else { 0 });
        }
    }

    /// A `flat_binder_object` exactly as given (listed in the offsets unless its `binder`
    /// field is 0), with no stability word: what Android 10's C servicemanager answered a
    /// lookup with (flags 0x17f).
    pub fn write_flat_object(&mut self, object: FlatObject) {
        if object.value != 0 {
            self.objects.push(self.data.len());
        }
        self.data.extend_from_slice(&object.to_bytes());
    }

    /// A binder object (or null): one whose `binder` field is not 0 must be listed in the
    /// offsets; one whose field is 0 need not be (libbinder's `readObject`). The stability
    /// word of this Parcel's release follows and must be there.
    pub fn read_strong_binder(&mut self) -> Result<Option<Binder>, ParcelError> {
        let at = self.pos;
        let object = FlatObject::read(&self.data, at).ok_or(ParcelError::NotEnoughData)?;
        let end = at + OBJECT_SIZE;
        let listed = self.objects.contains(&at);
        if (object.value != 0 && !listed) || self.objects.iter().any(|&o| o != at && o < end && at < o + OBJECT_SIZE) {
            return Err(ParcelError::BadType);
        }
        let binder = object.binder()?;
        self.pos = end;
        if stability(self.android).is_some() {
            self.read_i32()?;
        }
        Ok(binder)
    }
}

#[cfg(test)]
mod tests;
