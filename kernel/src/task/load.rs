//! Making a process from a boot program: check the ELF, build an address space with its
//! segments, its stack and its IPC buffer; at start, the argument string on the stack and a
//! kernel stack whose first switch enters the program's entry point in user mode. Later
//! threads of a running process (`ThreadCreate`) are made here too.

use super::elf::{self, Segment};
use super::table::{thread_cost, Pid, Process, Tasks, ThreadBuffer};
use crate::arch::switch;
use crate::cap::ObjId;
use crate::mem::paging::MapError;
use crate::mem::space::{Access, AddressSpace};
use crate::mem::{phys_to_virt, stack};
use crate::sched::Tid;
use crate::{ramdisk, warn};
use alloc::vec::Vec;
use ipc::layout::{thread_ipc_buffer, IPC_BUFFER, PAGE_SIZE, USER_STACK_PAGES, USER_STACK_TOP};
use ipc::msg::BUFFER_ADDRESS_OFFSET;
use ipc::syscall::{KERNEL_STACK_PAGES, PROCESS_RECORD_PAGES, SPAWN_ARGS_MAX, THREAD_COST};
use ipc::Error;

// What `PROCESS_RECORD_PAGES` promises: a process's records fit in what it is charged for them.
const _: () = assert!(
    crate::cap::space_bytes_max::<crate::object::Object>()
        + size_of::<Process>()
        + size_of::<crate::task::table::Thread>()
        <= (PROCESS_RECORD_PAGES * PAGE_SIZE) as usize
);

fn out_of_memory(_: MapError) -> Error {
    Error::OutOfMemory
}

/// Makes a process from boot program `name`, charged to Memory object `memory`: its
/// address space with the program's segments and the IPC buffer, and an empty capability
/// space. It has no thread until [`start`]. The charge covers its pages, the page tables
/// they needed, its first kernel stack and its kernel records
/// ([`ipc::syscall::PROCESS_RECORD_PAGES`]).
pub fn create(t: &mut Tasks, name: &str, memory: ObjId, priority: u8) -> Result<Pid, Error> {
    let file = ramdisk::program(name).ok_or(Error::NotFound)?;
    let image = elf::parse(file).map_err(|e| {
        warn!("program '{name}' is not a valid executable: {e:?}");
        Error::InvalidArgument
    })?;
    let program: u64 = image.segments.iter().map(|s| (s.pages().1 - s.pages().0) / PAGE_SIZE).sum();
    let pages = program + USER_STACK_PAGES + 1 + KERNEL_STACK_PAGES + PROCESS_RECORD_PAGES;
    let mut bytes = pages * PAGE_SIZE;
    t.charge(memory, bytes)?;
    let built = build(file, &image);
    let (space, ipc_buffer) = match built {
        Ok(b) => b,
        Err(e) => {
            t.credit(memory, bytes);
            return Err(e);
        }
    };
    // The page tables the image needed, known now that it is built.
    if let Err(e) = t.charge(memory, space.tables() * PAGE_SIZE) {
        t.credit(memory, bytes);
        return Err(e);
    }
    bytes += space.tables() * PAGE_SIZE;
    t.caps.retain(memory);
    let pid = t.next_id();
    let cspace = t.caps.create_space();
    let process = Process {
        name: name.into(),
        threads: Vec::new(),
        started: false,
        fault: None,
        buffers: Default::default(),
        space: Some(space),
        cspace,
        memory: Some(memory),
        charged: bytes,
        frames: Vec::new(),
        priority,
        status: None,
        joiners: Vec::new(),
        handle: false,
        ipc_buffer,
        entry: image.entry,
        exit_signal: None,
        timer: None,
        io_bitmap: None,
    };
    t.processes.insert(pid, process);
    Ok(pid)
}

/// The address space of a program: its segments, its stack, its IPC buffer (whose physical
/// address is returned too: message transfer writes the buffer through it, which is why the
/// page is pinned). On error, dropping the space frees what was mapped.
fn build(file: &[u8], image: &elf::Image) -> Result<(AddressSpace, u64), Error> {
    let mut space = AddressSpace::new().map_err(out_of_memory)?;
    for segment in &image.segments {
        load_segment(&mut space, file, segment)?;
    }
    for i in 1..=USER_STACK_PAGES {
        space.map_new(USER_STACK_TOP - i * PAGE_SIZE, Access::ReadWrite).map_err(out_of_memory)?;
    }
    let ipc_buffer = space.map_pinned(IPC_BUFFER, Access::ReadWrite).map_err(out_of_memory)?;
    write_buffer_address(ipc_buffer, IPC_BUFFER);
    Ok((space, ipc_buffer))
}

/// Starts a created process: writes the argument string on its stack, and makes its thread,
/// ready to enter the program at its entry point.
pub fn start(t: &mut Tasks, pid: Pid, args: &str) -> Result<(), Error> {
    if args.len() as u64 > SPAWN_ARGS_MAX {
        return Err(Error::BadLength);
    }
    let process = t.processes.get_mut(&pid).ok_or(Error::ObjectGone)?;
    let (entry, priority, phys) = (process.entry, process.priority, process.ipc_buffer);
    let space = process.space.as_mut().ok_or(Error::ObjectGone)?;
    let (args_addr, rsp) = write_args(space, args)?;
    let kstack = stack::alloc().ok_or(Error::OutOfMemory)?;
    let index = process.take_buffer().expect("a process starts with every buffer free");
    debug_assert_eq!(thread_ipc_buffer(index), IPC_BUFFER);
    // SAFETY: the kernel stack was just allocated for this thread alone.
    let context = unsafe { switch::new_thread_stack(kstack.top, entry, rsp, [args_addr, args.len() as u64, pid]) };
    t.add_thread(pid, priority, kstack, context, ThreadBuffer { index, phys });
    Ok(())
}

/// Makes a thread of a running process (`ThreadCreate`) at `priority`, entering user mode at
/// `entry` with `rsp = stack`, `rdi = arg`, `rsi` = its IPC buffer's address: maps the buffer
/// and takes a kernel stack, charged to the process's quota. Returns the thread's id and its
/// buffer's address. On error nothing is left changed.
pub fn thread(t: &mut Tasks, pid: Pid, priority: u8, entry: u64, stack: u64, arg: u64) -> Result<(Tid, u64), Error> {
    let process = t.processes.get_mut(&pid).ok_or(Error::ObjectGone)?;
    process.memory.ok_or(Error::ObjectGone)?;
    let index = process.take_buffer().ok_or(Error::OutOfMemory)?;
    debug_assert_eq!(thread_cost(index), THREAD_COST, "the first buffer stays while the process lives");
    let address = thread_ipc_buffer(index);
    let space = process.space.as_ref().expect("a running process has its space");
    // A page table the buffer needs is charged too; it stays, charged, until the process ends.
    let (tables, before) = (space.tables_missing(address, PAGE_SIZE), space.tables());
    let pages = THREAD_COST / PAGE_SIZE + tables;
    if let Err(e) = t.charge_process(pid, pages) {
        t.processes.get_mut(&pid).expect("checked").free_buffer(index);
        return Err(e);
    }
    // On failure the buffer number and the charge go back, but for the tables made.
    let undo = |t: &mut Tasks, made: u64| {
        t.processes.get_mut(&pid).expect("checked").free_buffer(index);
        t.credit_process(pid, pages - made);
    };
    let process = t.processes.get_mut(&pid).expect("checked");
    let space = process.space.as_mut().expect("a running process has its space");
    let Ok(phys) = space.map_pinned(address, Access::ReadWrite) else {
        let made = space.tables() - before;
        undo(t, made);
        return Err(Error::OutOfMemory);
    };
    let Some(kstack) = stack::alloc() else {
        space.unmap_pinned(address);
        let made = space.tables() - before;
        undo(t, made);
        return Err(Error::OutOfMemory);
    };
    write_buffer_address(phys, address);
    // SAFETY: the kernel stack was just allocated for this thread alone.
    let context = unsafe { switch::new_thread_stack(kstack.top, entry, stack, [arg, address, 0]) };
    let tid = t.add_thread(pid, priority, kstack, context, ThreadBuffer { index, phys });
    Ok((tid, address))
}

/// Writes an IPC buffer's own user address into its first word (`IpcBuffer::address`).
fn write_buffer_address(phys: u64, address: u64) {
    // SAFETY: `phys` is a freshly mapped IPC buffer page, seen through the physical window;
    // its thread has not run yet, so nothing else touches it.
    unsafe { ((phys_to_virt(phys) + BUFFER_ADDRESS_OFFSET as u64) as *mut u64).write(address) };
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

/// Puts the argument string at the top of the stack. Returns the string's address and the
/// initial stack pointer (16-byte aligned minus 8, as after a `call`).
fn write_args(space: &mut AddressSpace, args: &str) -> Result<(u64, u64), Error> {
    let top_page = USER_STACK_TOP - PAGE_SIZE;
    let top_phys = space.phys_of(top_page).ok_or(Error::ObjectGone)?;
    // SPAWN_ARGS_MAX keeps the string well inside the top page.
    let args_addr = (USER_STACK_TOP - args.len() as u64) & !15;
    // SAFETY: the top stack page is mapped (its frame seen through the physical window) and
    // the process has not run yet; the string fits between `args_addr` and the page's end.
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
