//! A crash-safe log of records in a region of memory: how a server keeps data that must
//! survive its own crash. The region is a Frame the server's supervisor (init) made once and
//! keeps, and hands to every new instance of the server, in the way MINIX 3's data store
//! outlives the drivers that use it. A server appends a record for every change and only
//! then acknowledges it; a restarted instance replays the records to rebuild its state.
//!
//! Layout: a superblock ([`MAGIC`], the layout version, which half is active), then two
//! halves of equal size. A half is a run of records, each `len: u32`, `crc: u32` (CRC-32 of
//! the length and the payload), the payload, and zero padding to 8 bytes; a length of 0 ends
//! it. Appending writes the payload and the checksum first and the length last, so a record
//! is either whole or not there at all. Replaying stops at the first record whose checksum
//! does not match (a write torn by a crash) and zeroes everything from there on, so the torn
//! record is dropped, never half-applied.
//!
//! When the active half fills up, [`Store::compact`] writes just the live records into the
//! other half, then flips the superblock's one word that says which half is active: a crash
//! at any point leaves one whole half active.

#![no_std]
#![forbid(unsafe_code)]

/// The superblock's first eight bytes.
pub const MAGIC: [u8; 8] = *b"SEAMSTOR";
const VERSION: u32 = 1;
const SUPERBLOCK: usize = 64;
const ACTIVE_AT: usize = 12;
/// Bytes before a record's payload.
const HEADER: usize = 8;

/// Why the store refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The region is too small to hold a store (or its halves not a multiple of 8 bytes).
    TooSmall,
    /// The region holds a store of another layout version.
    WrongVersion,
    /// No room for the record in the active half: compact first, or it never fits.
    Full,
}

/// A store over a region of memory.
pub struct Store<'a> {
    mem: &'a mut [u8],
    /// Where the next record goes, in the active half.
    tail: usize,
    /// Records dropped while opening: a torn last write.
    pub dropped: usize,
}

fn padded(len: usize) -> usize {
    (HEADER + len).next_multiple_of(8)
}

fn checksum(len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn read_u32(mem: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(mem[at..at + 4].try_into().expect("four bytes"))
}

fn write_u32(mem: &mut [u8], at: usize, value: u32) {
    mem[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

impl<'a> Store<'a> {
    /// Opens the store in `mem`, formatting it if it holds none yet, and finds the end of
    /// the active half's records (dropping a torn last one).
    pub fn open(mem: &'a mut [u8]) -> Result<Store<'a>, StoreError> {
        if mem.len() < SUPERBLOCK + 2 * 64 || !(mem.len() - SUPERBLOCK).is_multiple_of(16) {
            return Err(StoreError::TooSmall);
        }
        if mem[..8] != MAGIC {
            mem.fill(0);
            mem[..8].copy_from_slice(&MAGIC);
            write_u32(mem, 8, VERSION);
            write_u32(mem, ACTIVE_AT, 0);
        } else if read_u32(mem, 8) != VERSION {
            return Err(StoreError::WrongVersion);
        }
        let mut store = Store { mem, tail: 0, dropped: 0 };
        let (ends_at, whole) = store.scan();
        store.tail = ends_at;
        if !whole {
            store.dropped = 1;
        }
        // Whatever lies past the last whole record is a torn write or nothing: clear it, so
        // the next record is appended to zeroes.
        let (start, end) = store.half(store.active());
        store.mem[start + ends_at..end].fill(0);
        Ok(store)
    }

    fn active(&self) -> usize {
        (read_u32(self.mem, ACTIVE_AT) & 1) as usize
    }

    /// The byte range of half `i`.
    fn half(&self, i: usize) -> (usize, usize) {
        let size = (self.mem.len() - SUPERBLOCK) / 2;
        (SUPERBLOCK + i * size, SUPERBLOCK + (i + 1) * size)
    }

    /// The offset (in the active half) past the last whole record, and whether the records
    /// ended cleanly (a zero length, or the end of the half) rather than at a torn one.
    fn scan(&self) -> (usize, bool) {
        let (start, end) = self.half(self.active());
        let half = &self.mem[start..end];
        let mut at = 0;
        while at + HEADER <= half.len() {
            let len = read_u32(half, at);
            if len == 0 {
                return (at, true);
            }
            let whole = usize::try_from(len).ok().filter(|&l| at + padded(l) <= half.len());
            let Some(len) = whole else { return (at, false) };
            if read_u32(half, at + 4) != checksum(len as u32, &half[at + HEADER..at + HEADER + len]) {
                return (at, false);
            }
            at += padded(len);
        }
        (at, true)
    }

    /// The records of the active half, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let (start, _) = self.half(self.active());
        let half = &self.mem[start..start + self.tail];
        let mut at = 0;
        core::iter::from_fn(move || {
            if at >= half.len() {
                return None;
            }
            let len = read_u32(half, at) as usize;
            let record = &half[at + HEADER..at + HEADER + len];
            at += padded(len);
            Some(record)
        })
    }

    /// Bytes left in the active half for records.
    pub fn free(&self) -> usize {
        let (start, end) = self.half(self.active());
        end - start - self.tail
    }

    /// Whether a record of `len` bytes would fit now.
    pub fn fits(&self, len: usize) -> bool {
        padded(len) <= self.free()
    }

    /// Appends a record. Once this returns, the record survives the server's crash.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), StoreError> {
        if payload.is_empty() || !self.fits(payload.len()) || u32::try_from(payload.len()).is_err() {
            return Err(StoreError::Full);
        }
        let (start, _) = self.half(self.active());
        write_record(&mut self.mem[start + self.tail..], payload);
        self.tail += padded(payload.len());
        Ok(())
    }

    /// Replaces the active half's records by `live` (the state as it is now), written to the
    /// other half, which then becomes the active one. Fails, changing nothing, if they do not
    /// fit in a half.
    pub fn compact<'r>(&mut self, live: impl Iterator<Item = &'r [u8]> + Clone) -> Result<(), StoreError> {
        let (start, end) = self.half(1 - self.active());
        let needed: usize = live.clone().map(|r| padded(r.len())).sum();
        if needed > end - start || live.clone().any(|r| r.is_empty()) {
            return Err(StoreError::Full);
        }
        self.mem[start..end].fill(0);
        let mut at = start;
        for record in live {
            write_record(&mut self.mem[at..end], record);
            at += padded(record.len());
        }
        // The one write that switches halves.
        let next = 1 - self.active() as u32;
        write_u32(self.mem, ACTIVE_AT, next);
        self.tail = at - start;
        Ok(())
    }
}

/// Writes one record at the start of `to`: payload, checksum, and the length last.
fn write_record(to: &mut [u8], payload: &[u8]) {
    let len = payload.len() as u32;
    to[HEADER..HEADER + payload.len()].copy_from_slice(payload);
    write_u32(to, 4, checksum(len, payload));
    write_u32(to, 0, len);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn contents(store: &Store) -> Vec<Vec<u8>> {
        store.records().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn records_survive_reopening() {
        let mut mem = vec![0u8; 4096];
        let mut s = Store::open(&mut mem).unwrap();
        s.append(b"one").unwrap();
        s.append(b"two, longer than eight").unwrap();
        let mut reopened = Store::open(&mut mem).unwrap();
        assert_eq!(contents(&reopened), [b"one".to_vec(), b"two, longer than eight".to_vec()]);
        assert_eq!(reopened.dropped, 0);
        reopened.append(b"three").unwrap();
        assert_eq!(contents(&Store::open(&mut mem).unwrap()).len(), 3);
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_cleared() {
        let mut mem = vec![0u8; 4096];
        let mut s = Store::open(&mut mem).unwrap();
        s.append(b"kept").unwrap();
        let tail = s.tail;
        s.append(b"torn by a crash").unwrap();
        // The crash hit in the middle of the payload: its length and checksum were already
        // there (as if written in another order), the bytes are not.
        let at = SUPERBLOCK + tail + HEADER + 3;
        mem[at] ^= 0xff;
        let mut s = Store::open(&mut mem).unwrap();
        assert_eq!(contents(&s), [b"kept".to_vec()]);
        assert_eq!(s.dropped, 1);
        s.append(b"next").unwrap();
        let s = Store::open(&mut mem).unwrap();
        assert_eq!(contents(&s), [b"kept".to_vec(), b"next".to_vec()], "the torn bytes were cleared");
    }

    #[test]
    fn a_record_whose_length_was_not_written_is_not_there() {
        let mut mem = vec![0u8; 4096];
        let mut s = Store::open(&mut mem).unwrap();
        s.append(b"kept").unwrap();
        let tail = s.tail;
        s.append(b"half written").unwrap();
        write_u32(&mut mem, SUPERBLOCK + tail, 0);
        let s = Store::open(&mut mem).unwrap();
        assert_eq!((contents(&s).len(), s.dropped), (1, 0));
    }

    #[test]
    fn every_truncation_of_every_byte_leaves_a_prefix_of_the_records() {
        let mut mem = vec![0u8; 1024];
        let written: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i + 1; 5 + i as usize * 3]).collect();
        {
            let mut s = Store::open(&mut mem).unwrap();
            for r in &written {
                s.append(r).unwrap();
            }
        }
        for at in SUPERBLOCK..SUPERBLOCK + 200 {
            for value in [0u8, 0xff, 0x55] {
                let mut damaged = mem.clone();
                damaged[at] = value;
                let Ok(s) = Store::open(&mut damaged) else { continue };
                let got = contents(&s);
                assert!(got.len() <= written.len());
                assert_eq!(got[..], written[..got.len()], "damage at {at} left something else than a prefix");
            }
        }
    }

    #[test]
    fn compaction_flips_halves_and_keeps_only_the_live_records() {
        let mut mem = vec![0u8; SUPERBLOCK + 2 * 128];
        let mut s = Store::open(&mut mem).unwrap();
        let mut appended = 0;
        while s.append(b"x=1").is_ok() {
            appended += 1;
        }
        assert!(appended > 4);
        assert_eq!(s.append(b"x=2"), Err(StoreError::Full));
        let live: [&[u8]; 1] = [b"x=1"];
        s.compact(live.iter().copied()).unwrap();
        s.append(b"x=2").unwrap();
        let s = Store::open(&mut mem).unwrap();
        assert_eq!(contents(&s), [b"x=1".to_vec(), b"x=2".to_vec()]);
        assert_eq!(read_u32(&mem, ACTIVE_AT), 1);
    }

    #[test]
    fn a_crash_during_compaction_leaves_the_old_half() {
        let mut mem = vec![0u8; SUPERBLOCK + 2 * 128];
        let mut s = Store::open(&mut mem).unwrap();
        s.append(b"old").unwrap();
        // Compaction wrote the other half but died before the flip.
        let other = SUPERBLOCK + 128;
        write_record(&mut mem[other..], b"new");
        let s = Store::open(&mut mem).unwrap();
        assert_eq!(contents(&s), [b"old".to_vec()]);
    }

    #[test]
    fn refusals() {
        assert_eq!(Store::open(&mut [0u8; 100]).err(), Some(StoreError::TooSmall));
        let mut mem = vec![0u8; 4096];
        Store::open(&mut mem).unwrap();
        write_u32(&mut mem, 8, 99);
        assert_eq!(Store::open(&mut mem).err(), Some(StoreError::WrongVersion));
        let mut mem = vec![0u8; SUPERBLOCK + 2 * 64];
        let mut s = Store::open(&mut mem).unwrap();
        assert_eq!(s.append(&[1; 100]), Err(StoreError::Full));
        assert_eq!(s.append(&[]), Err(StoreError::Full), "an empty record would read as the end");
        let too_big: [&[u8]; 1] = [&[7; 100]];
        assert_eq!(s.compact(too_big.iter().copied()), Err(StoreError::Full));
    }
}
