//! System calls: decode the number and hand the arguments to a safe handler. Every failure a
//! user process can cause comes back as an `ipc::Error`; the register convention is in
//! `ipc::syscall`, and the entry stub that calls [`dispatch`] in `arch::x86_64::syscall`.

use crate::arch::usercopy;
use crate::mem::{self, heap, space::Access};
use crate::{info, task, time};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use ipc::layout::PAGE_SIZE;
use ipc::syscall::{ExitStatus, MapFlags, Syscall, ARG_REGS, DEBUG_WRITE_MAX, MAP_MAX, PRIORITY_MAX, SPAWN_ARGS_MAX, SPAWN_NAME_MAX};
use ipc::Error;

type Results = [u64; ARG_REGS];
const NONE: Results = [0; ARG_REGS];

pub fn dispatch(number: u64, a: [u64; ARG_REGS]) -> Result<Results, Error> {
    match Syscall::try_from(number)? {
        Syscall::Null => Ok(NONE),
        Syscall::DebugWrite => debug_write(a[0], a[1]),
        Syscall::Exit => task::end_current(ExitStatus::Exited(a[0])),
        Syscall::Yield => {
            task::yield_now();
            Ok(NONE)
        }
        Syscall::Sleep => {
            task::sleep(a[0]);
            Ok(NONE)
        }
        Syscall::Ticks => Ok([time::ticks(), time::TICK_HZ, 0, 0, 0, 0]),
        Syscall::Map => map(a[0], a[1], a[2]),
        Syscall::Unmap => unmap(a[0], a[1]),
        Syscall::Spawn => spawn(a[0], a[1], a[2], a[3], a[4]),
        Syscall::Wait => {
            let (kind, value) = task::wait(a[0])?.to_words();
            Ok([kind, value, 0, 0, 0, 0])
        }
        Syscall::MemStats => Ok([mem::frame_counts().0, heap::usage().0 as u64, 0, 0, 0, 0]),
    }
}

/// Copies `len` bytes (at most `max`) from the caller's memory at `addr`, after checking
/// that all of it is the caller's to read.
fn read_user(addr: u64, len: u64, max: u64) -> Result<Vec<u8>, Error> {
    if len > max {
        return Err(Error::BadLength);
    }
    task::with_current_space(|space| space.check_user(addr, len, false))?;
    let mut buf = vec![0; len as usize];
    // SAFETY: the range was just checked to be mapped, present and user-readable in the
    // active address space (the caller's), and nothing can unmap it before the copy: the
    // kernel is not preempted and runs on one CPU.
    unsafe { usercopy::copy_from_user(&mut buf, addr) };
    Ok(buf)
}

fn read_user_str(addr: u64, len: u64, max: u64) -> Result<String, Error> {
    String::from_utf8(read_user(addr, len, max)?).map_err(|_| Error::InvalidArgument)
}

fn debug_write(addr: u64, len: u64) -> Result<Results, Error> {
    let bytes = read_user(addr, len, DEBUG_WRITE_MAX)?;
    let text = String::from_utf8_lossy(&bytes);
    task::with_current_name(|name, pid| {
        for line in text.lines() {
            info!("{name}[{pid}]: {line}");
        }
    });
    Ok([len, 0, 0, 0, 0, 0])
}

/// Checks a page-aligned, non-empty user range for `Map`/`Unmap`; returns its end.
fn page_range(addr: u64, len: u64) -> Result<u64, Error> {
    if addr % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 || len == 0 {
        return Err(Error::InvalidArgument);
    }
    let end = addr.checked_add(len).ok_or(Error::BadLength)?;
    if len > MAP_MAX {
        return Err(Error::BadLength);
    }
    if !ipc::layout::is_user_range(addr, len) {
        return Err(Error::BadAddress);
    }
    Ok(end)
}

fn map(addr: u64, len: u64, flags: u64) -> Result<Results, Error> {
    let flags = MapFlags::try_from(flags)?;
    let end = page_range(addr, len)?;
    let access = match (flags.writable(), flags.executable()) {
        (true, _) => Access::ReadWrite,
        (false, true) => Access::ReadExecute,
        (false, false) => Access::Read,
    };
    task::with_current_space(|space| {
        if (addr..end).step_by(PAGE_SIZE as usize).any(|page| space.is_mapped(page)) {
            return Err(Error::InvalidArgument);
        }
        for page in (addr..end).step_by(PAGE_SIZE as usize) {
            if space.map_new(page, access).is_err() {
                // Out of memory: undo, so a failed call changes nothing.
                for done in (addr..page).step_by(PAGE_SIZE as usize) {
                    space.unmap(done);
                }
                return Err(Error::OutOfMemory);
            }
        }
        Ok(NONE)
    })
}

fn unmap(addr: u64, len: u64) -> Result<Results, Error> {
    let end = page_range(addr, len)?;
    task::with_current_space(|space| {
        for page in (addr..end).step_by(PAGE_SIZE as usize) {
            space.unmap(page);
        }
    });
    Ok(NONE)
}

fn spawn(name: u64, name_len: u64, args: u64, args_len: u64, priority: u64) -> Result<Results, Error> {
    let name = read_user_str(name, name_len, SPAWN_NAME_MAX)?;
    let args = read_user_str(args, args_len, SPAWN_ARGS_MAX)?;
    if priority > PRIORITY_MAX || priority as u8 > task::current_priority() {
        return Err(Error::InvalidArgument);
    }
    let pid = task::spawn(&name, &args, priority as u8, Some(task::current_pid()))?;
    Ok([pid, 0, 0, 0, 0, 0])
}
