//! Checking a user program's ELF file before anything is mapped: what it asks for must be a
//! static x86-64 executable whose loadable segments lie in user memory, each on pages of its
//! own, never writable and executable at once. A malformed file is an error, never a fault.
//! Parsing is the `elf` crate's; the policy is ours. Pure, host-tested.

use elf::abi::{EM_X86_64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use ipc::layout::{PAGE_SIZE, USER_END, USER_MIN, USER_STACK_PAGES, USER_STACK_TOP};

/// More loadable segments than a program built by this project has (it has three or four).
pub const MAX_SEGMENTS: usize = 8;
/// The most memory one image may ask for.
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Segments must end below the stack and the unmapped gap beneath it.
const IMAGE_END: u64 = USER_STACK_TOP - (USER_STACK_PAGES + 16) * PAGE_SIZE;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    /// Where the segment's initialised bytes are in the file (`file_size` bytes).
    pub file_offset: usize,
    pub file_size: usize,
    pub writable: bool,
    pub executable: bool,
}

impl Segment {
    /// The first page and the end of the last page the segment touches.
    pub fn pages(&self) -> (u64, u64) {
        (self.vaddr & !(PAGE_SIZE - 1), (self.vaddr + self.mem_size).next_multiple_of(PAGE_SIZE))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub entry: u64,
    pub segments: heapless::Vec<Segment, MAX_SEGMENTS>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Not parseable as a little-endian ELF64 file.
    Malformed,
    NotExecutable,
    WrongMachine,
    NoSegments,
    TooManySegments,
    /// A segment's file bytes lie (partly) outside the file, or exceed its memory size.
    BadFileRange,
    /// A segment lies (partly) outside user memory or the image area, or is too large.
    OutsideUserMemory,
    WritableAndExecutable,
    /// Two segments share a page (each needs its own permissions).
    Overlap,
    /// The entry point is not in an executable segment.
    BadEntry,
}

pub fn parse(data: &[u8]) -> Result<Image, ElfError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(data).map_err(|_| ElfError::Malformed)?;
    if file.ehdr.class != elf::file::Class::ELF64 {
        return Err(ElfError::Malformed);
    }
    if file.ehdr.e_type != ET_EXEC {
        return Err(ElfError::NotExecutable);
    }
    if file.ehdr.e_machine != EM_X86_64 {
        return Err(ElfError::WrongMachine);
    }
    let mut segments = heapless::Vec::new();
    let mut total = 0u64;
    for ph in file.segments().ok_or(ElfError::NoSegments)?.iter().filter(|ph| ph.p_type == PT_LOAD) {
        let segment = check_segment(data.len(), ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, ph.p_flags)?;
        total += segment.pages().1 - segment.pages().0;
        if total > MAX_IMAGE_BYTES {
            return Err(ElfError::OutsideUserMemory);
        }
        segments.push(segment).map_err(|_| ElfError::TooManySegments)?;
    }
    if segments.is_empty() {
        return Err(ElfError::NoSegments);
    }
    for (i, a) in segments.iter().enumerate() {
        for b in &segments[i + 1..] {
            let ((a0, a1), (b0, b1)) = (a.pages(), b.pages());
            if a0 < b1 && b0 < a1 {
                return Err(ElfError::Overlap);
            }
        }
    }
    let entry = file.ehdr.e_entry;
    if !segments.iter().any(|s| s.executable && (s.vaddr..s.vaddr + s.mem_size).contains(&entry)) {
        return Err(ElfError::BadEntry);
    }
    Ok(Image { entry, segments })
}

fn check_segment(
    file_len: usize,
    vaddr: u64,
    mem_size: u64,
    offset: u64,
    file_size: u64,
    flags: u32,
) -> Result<Segment, ElfError> {
    let file_end = offset.checked_add(file_size).ok_or(ElfError::BadFileRange)?;
    if file_end > file_len as u64 || file_size > mem_size {
        return Err(ElfError::BadFileRange);
    }
    let end = vaddr.checked_add(mem_size).ok_or(ElfError::OutsideUserMemory)?;
    if vaddr < USER_MIN || end > IMAGE_END || end > USER_END || mem_size > MAX_IMAGE_BYTES {
        return Err(ElfError::OutsideUserMemory);
    }
    let (writable, executable) = (flags & PF_W != 0, flags & PF_X != 0);
    if writable && executable {
        return Err(ElfError::WritableAndExecutable);
    }
    Ok(Segment { vaddr, mem_size, file_offset: offset as usize, file_size: file_size as usize, writable, executable })
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u32 = 4;
    const RX: u32 = 5;
    const RW: u32 = 6;

    /// A minimal ELF64 executable: header, program headers, then each segment's bytes.
    /// Each segment is (vaddr, file bytes, memory size, flags).
    fn build(entry: u64, segments: &[(u64, &[u8], u64, u32)]) -> Vec<u8> {
        let phoff = 64u64;
        let data_start = phoff + 56 * segments.len() as u64;
        let mut out = Vec::new();
        out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&ET_EXEC.to_le_bytes());
        out.extend_from_slice(&EM_X86_64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // no section headers
        out.extend_from_slice(&0u32.to_le_bytes());
        for half in [64u16, 56, segments.len() as u16, 64, 0, 0] {
            out.extend_from_slice(&half.to_le_bytes());
        }
        let mut offset = data_start;
        for &(vaddr, bytes, mem, flags) in segments {
            out.extend_from_slice(&PT_LOAD.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            for word in [offset, vaddr, vaddr, bytes.len() as u64, mem, PAGE_SIZE] {
                out.extend_from_slice(&word.to_le_bytes());
            }
            offset += bytes.len() as u64;
        }
        for &(_, bytes, _, _) in segments {
            out.extend_from_slice(bytes);
        }
        out
    }

    fn good() -> Vec<u8> {
        build(0x40_1000, &[(0x40_0000, b"ro", 2, R), (0x40_1000, b"\xc3", 1, RX), (0x40_2000, b"rw", 0x2000, RW)])
    }

    #[test]
    fn accepts_a_well_formed_program() {
        let image = parse(&good()).unwrap();
        assert_eq!(image.entry, 0x40_1000);
        assert_eq!(image.segments.len(), 3);
        let data = &image.segments[2];
        assert!(data.writable && !data.executable);
        assert_eq!((data.file_size, data.mem_size), (2, 0x2000));
        assert_eq!(data.pages(), (0x40_2000, 0x40_4000));
    }

    #[test]
    fn refuses_what_the_policy_forbids() {
        let cases: [(Vec<u8>, ElfError); 8] = [
            (build(0x40_0000, &[(0x40_0000, b"x", 1, 7)]), ElfError::WritableAndExecutable),
            (build(0x40_0000, &[(0x40_0000, b"x", 1, RX), (0x40_0800, b"y", 1, RW)]), ElfError::Overlap),
            (build(0x50_0000, &[(0x40_0000, b"x", 1, RX)]), ElfError::BadEntry),
            (build(0x40_0000, &[(0x40_0000, b"x", 1, R)]), ElfError::BadEntry),
            (build(0x10, &[(0, b"x", 1, RX)]), ElfError::OutsideUserMemory),
            (build(0x1000, &[(0x1000, b"x", 1, RX)]), ElfError::OutsideUserMemory),
            (build(0xffff_ffff_8000_0000, &[(0xffff_ffff_8000_0000, b"x", 1, RX)]), ElfError::OutsideUserMemory),
            (build(0x40_0000, &[(0x40_0000, b"xy", 1, RX)]), ElfError::BadFileRange),
        ];
        for (i, (file, err)) in cases.iter().enumerate() {
            assert_eq!(parse(file), Err(*err), "case {i}");
        }
        assert_eq!(parse(&build(0x40_0000, &[])), Err(ElfError::NoSegments));
        assert_eq!(
            parse(&build(0x40_0000, &[(0x40_0000, b"x", u64::MAX - 0x3f_ffff, RX)])),
            Err(ElfError::OutsideUserMemory)
        );
        assert_eq!(parse(&build(0x40_0000, &[(0x40_0000, b"x", 1 << 30, RX)])), Err(ElfError::OutsideUserMemory));
    }

    #[test]
    fn refuses_other_kinds_of_file() {
        let mut dynamic = good();
        dynamic[16] = 3; // ET_DYN
        assert_eq!(parse(&dynamic), Err(ElfError::NotExecutable));
        let mut arm = good();
        arm[18] = 183; // EM_AARCH64
        assert_eq!(parse(&arm), Err(ElfError::WrongMachine));
        let mut big_endian = good();
        big_endian[5] = 2;
        assert!(parse(&big_endian).is_err());
        assert_eq!(parse(b"#!/bin/sh\n"), Err(ElfError::Malformed));
        assert_eq!(parse(&[]), Err(ElfError::Malformed));
    }

    #[test]
    fn every_truncation_and_single_byte_corruption_is_an_error_or_a_valid_image() {
        let file = good();
        for len in 0..file.len() {
            let _ = parse(&file[..len]);
        }
        for i in 0..file.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut bad = file.clone();
                bad[i] = value;
                if let Ok(image) = parse(&bad) {
                    // Whatever still parses must still obey every rule.
                    for s in &image.segments {
                        assert!(!(s.writable && s.executable));
                        assert!(s.file_offset + s.file_size <= bad.len());
                        assert!(s.vaddr >= USER_MIN && s.vaddr + s.mem_size <= IMAGE_END);
                    }
                }
            }
        }
    }
}
