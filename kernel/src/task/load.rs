//! Making a process from a boot program: check the ELF, build an address space with its
//! segments, a stack holding the argument string, and a kernel stack whose first switch
//! enters the program's entry point in user mode.

use super::elf::{self, Segment};
use super::table::{self, Pid};
use crate::arch::switch;
use crate::mem::paging::MapError;
use crate::mem::space::{Access, AddressSpace};
use crate::mem::{phys_to_virt, stack};
use crate::{ramdisk, warn};
use ipc::layout::{PAGE_SIZE, USER_STACK_PAGES, USER_STACK_TOP};
use ipc::syscall::SPAWN_ARGS_MAX;
use ipc::Error;

fn out_of_memory(_: MapError) -> Error {
    Error::OutOfMemory
}

/// Starts boot program `name` with argument string `args` at `priority`, as a child of
/// `parent` (None for the processes the kernel starts itself).
pub fn spawn(name: &str, args: &str, priority: u8, parent: Option<Pid>) -> Result<Pid, Error> {
    let file = ramdisk::program(name).ok_or(Error::NotFound)?;
    let image = elf::parse(file).map_err(|e| {
        warn!("program '{name}' is not a valid executable: {e:?}");
        Error::InvalidArgument
    })?;
    if args.len() as u64 > SPAWN_ARGS_MAX {
        return Err(Error::BadLength);
    }
    // On any error below, dropping `space` frees whatever was mapped so far.
    let mut space = AddressSpace::new().map_err(out_of_memory)?;
    for segment in &image.segments {
        load_segment(&mut space, file, segment)?;
    }
    let (args_addr, rsp) = make_stack(&mut space, args)?;
    let kstack = stack::alloc().ok_or(Error::OutOfMemory)?;
    let pid = table::next_id();
    // SAFETY: the kernel stack was just allocated for this thread alone.
    let context =
        unsafe { switch::new_thread_stack(kstack.top, image.entry, rsp, [args_addr, args.len() as u64, pid]) };
    table::add_process(pid, name, space, kstack, context, priority, parent);
    Ok(pid)
}

/// Maps the pages of one segment, copying in its file bytes; the rest stays zero.
fn load_segment(space: &mut AddressSpace, file: &[u8], s: &Segment) -> Result<(), Error> {
    let access = Access::new(s.writable, s.executable);
    let bytes = &file[s.file_offset..s.file_offset + s.file_size];
    let (first, end) = s.pages();
    for page in (first..end).step_by(PAGE_SIZE as usize) {
        let phys = space.map_new(page, access).map_err(out_of_memory)?;
        // The part of the file bytes, which start at s.vaddr, that falls in this page.
        let from = page.max(s.vaddr);
        let to = (page + PAGE_SIZE).min(s.vaddr + s.file_size as u64);
        if from < to {
            let src = &bytes[(from - s.vaddr) as usize..(to - s.vaddr) as usize];
            // SAFETY: the frame was just allocated for this page and is seen through the
            // physical window; `from - page + len` stays within its 4 KiB.
            unsafe {
                core::ptr::copy_nonoverlapping(src.as_ptr(), (phys_to_virt(phys) + (from - page)) as *mut u8, src.len())
            };
        }
    }
    Ok(())
}

/// Maps the user stack and puts the argument string at its top. Returns the string's
/// address and the initial stack pointer (16-byte aligned minus 8, as after a `call`).
fn make_stack(space: &mut AddressSpace, args: &str) -> Result<(u64, u64), Error> {
    let top_page = USER_STACK_TOP - PAGE_SIZE;
    let top_phys = space.map_new(top_page, Access::ReadWrite).map_err(out_of_memory)?;
    for i in 2..=USER_STACK_PAGES {
        space.map_new(USER_STACK_TOP - i * PAGE_SIZE, Access::ReadWrite).map_err(out_of_memory)?;
    }
    // SPAWN_ARGS_MAX keeps the string well inside the top page.
    let args_addr = (USER_STACK_TOP - args.len() as u64) & !15;
    // SAFETY: the top page's frame was just allocated and is seen through the physical
    // window; the string fits between `args_addr` and the end of the page.
    unsafe {
        core::ptr::copy_nonoverlapping(
            args.as_ptr(),
            (phys_to_virt(top_phys) + (args_addr - top_page)) as *mut u8,
            args.len(),
        )
    };
    Ok((args_addr, args_addr - 8))
}

const _: () = assert!(SPAWN_ARGS_MAX + 16 < PAGE_SIZE);
