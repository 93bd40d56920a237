//! The `archive` scenario: reading boot-archive files (`ArchiveRead`) and carving a smaller
//! I/O port range out of a larger one (`IoPortsDerive`), what each allows and refuses.

use alloc::format;
use ipc::cap::{init_slots, Kind, Rights, SELF};
use ipc::layout::USER_IMAGE_BASE;
use ipc::syscall::ARCHIVE_READ_MAX;
use ipc::Error;
use rt::cap;
use rt::check::Checks;
use rt::ipc;
use rt::sys;

/// Where the description gives `ipctest` COM1's ports.
const IOPORTS: u64 = ipc::system::slots::IOPORTS_FIRST;

pub fn archive() -> u64 {
    let mut c = Checks::new("ipctest archive");
    let archive = init_slots::ARCHIVE;
    let elf = cap::read_file(archive, "bin/ipctest");
    c.check("read this program's own file: an ELF", elf.as_ref().is_ok_and(|f| f.starts_with(b"\x7fELF")));
    let elf = elf.unwrap_or_default();
    let len = elf.len() as u64;
    // One read copies at most ARCHIVE_READ_MAX bytes, whatever the buffer; read_file reads on.
    let mut whole = alloc::vec![0u8; elf.len()];
    let first = sys::archive_read(archive, "bin/ipctest", &mut whole, 0);
    let most = len.min(ARCHIVE_READ_MAX) as usize;
    c.check(
        &format!("one read of {len} bytes copies {most} (got {first:?})"),
        first == Ok((len, most)) && whole[..most] == elf[..most],
    );
    c.check("the file is larger than one read, so read_file took several", len > ARCHIVE_READ_MAX);
    let mut four = [0u8; 4];
    let tail = sys::archive_read(archive, "bin/ipctest", &mut four, len - 2);
    c.check("a read near the end copies what is left", tail == Ok((len, 2)));
    c.check(
        "... and past the end, nothing",
        sys::archive_read(archive, "bin/ipctest", &mut four, u64::MAX) == Ok((len, 0)),
    );
    c.expect("a file that is not there", sys::archive_read(archive, "bin/nothing", &mut four, 0), Err(Error::NotFound));
    let read_only = cap::alloc().unwrap();
    sys::cap_copy(archive, read_only, Rights::READ, SELF).unwrap();
    c.expect("the read right is enough to read", sys::archive_read(read_only, "cmdline", &mut four, 0), Ok(()));
    let dest = cap::alloc().unwrap();
    let made = sys::process_create(init_slots::MEMORY, read_only, "ipctest", dest);
    c.expect("... but not to make a process", made, Err(Error::MissingRights));
    let raw = |buf: u64, len: u64| {
        let name = "bin/ipctest";
        let args = [archive, name.as_ptr() as u64, name.len() as u64, buf, len, 0];
        // SAFETY: ArchiveRead writes only where the kernel has checked it may; these are
        // refused before anything is written.
        unsafe { sys::raw(ipc::syscall::Syscall::ArchiveRead as u64, args) }
    };
    c.expect("into this program's own text", raw(USER_IMAGE_BASE, 4), Err(Error::BadAddress));
    c.expect("into the kernel", raw(ipc::boot::KERNEL_BASE, 4), Err(Error::BadAddress));
    c.expect("into page 0", raw(0, 4), Err(Error::BadAddress));

    let com1 = cap::alloc().unwrap();
    let derived = sys::io_ports_derive(IOPORTS, 0x3f8, 0x3ff, com1, init_slots::MEMORY);
    c.expect("carve all of COM1's ports out of the range given", derived, Ok(()));
    let info = sys::cap_inspect(com1);
    c.check(
        "it is an IoPorts capability with the source's rights",
        info.is_ok_and(|i| i.kind == Kind::IoPorts && i.rights == Rights::ALL),
    );
    let again = cap::alloc().unwrap();
    c.expect(
        "a range beyond it is refused",
        sys::io_ports_derive(com1, 0x3f0, 0x3ff, again, init_slots::MEMORY),
        Err(Error::InvalidArgument),
    );
    c.expect(
        "... so is a backwards one",
        sys::io_ports_derive(com1, 0x3fc, 0x3fa, again, init_slots::MEMORY),
        Err(Error::InvalidArgument),
    );
    c.expect("a part of it is fine", sys::io_ports_derive(com1, 0x3fd, 0x3fd, again, init_slots::MEMORY), Ok(()));
    c.expect(
        "into a full slot, refused",
        sys::io_ports_derive(com1, 0x3f8, 0x3f8, again, init_slots::MEMORY),
        Err(Error::SlotInUse),
    );
    let small = cap::alloc().unwrap();
    sys::create(init_slots::MEMORY, Kind::Memory, small, 100).unwrap();
    c.expect(
        "charged: a quota too small refuses it",
        sys::io_ports_derive(com1, 0x3f8, 0x3f8, dest, small),
        Err(Error::OutOfMemory),
    );
    c.expect("the carved range can be enabled", sys::io_ports_enable(again), Ok(()));
    // The line status register of COM1: reading it is harmless, and only works if enabled.
    let status: u8;
    // SAFETY: `in` from a port this process was just allowed to use; reading the line status
    // register changes nothing.
    unsafe { core::arch::asm!("in al, dx", in("dx") 0x3fd_u16, out("al") status, options(nomem, nostack)) };
    c.check("... and read", status & 0x60 != 0);
    c.done()
}
