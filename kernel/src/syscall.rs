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
use ipc::syscall::{
    ExitStatus, MapFlags, Syscall, ARG_REGS, DEBUG_WRITE_MAX, MAP_MAX, PRIORITY_MAX, SPAWN_ARGS_MAX, SPAWN_NAME_MAX,
};
use ipc::Error;

/// The argument registers, which the handlers overwrite with their results.
type Regs = [u64; ARG_REGS];

/// Runs system call `number` on the argument registers `r`, writing results over them in
/// place (a register that carries no result keeps its value). Each call has its own handler,
/// so this is one bounds check and one jump.
#[inline]
pub fn dispatch(number: u64, r: &mut Regs) -> Result<(), Error> {
    match Syscall::try_from(number)? {
        Syscall::Null => Ok(()),
        Syscall::DebugWrite => debug_write(r),
        Syscall::Exit => task::end_current(ExitStatus::Exited(r[0])),
        Syscall::Yield => yield_now(),
        Syscall::Sleep => sleep(r),
        Syscall::Ticks => ticks(r),
        Syscall::Map => map(r),
        Syscall::Unmap => unmap(r),
        Syscall::Spawn => spawn(r),
        Syscall::Wait => wait(r),
        Syscall::MemStats => mem_stats(r),
    }
}

fn yield_now() -> Result<(), Error> {
    task::yield_now();
    Ok(())
}

fn sleep(r: &mut Regs) -> Result<(), Error> {
    task::sleep(r[0]);
    Ok(())
}

fn ticks(r: &mut Regs) -> Result<(), Error> {
    [r[0], r[1]] = [time::ticks(), time::TICK_HZ];
    Ok(())
}

fn wait(r: &mut Regs) -> Result<(), Error> {
    [r[0], r[1]] = task::wait(r[0])?.to_words().into();
    Ok(())
}

fn mem_stats(r: &mut Regs) -> Result<(), Error> {
    [r[0], r[1]] = [mem::frame_counts().0, heap::usage().0 as u64];
    Ok(())
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

fn debug_write(r: &mut Regs) -> Result<(), Error> {
    let [addr, len, ..] = *r;
    let bytes = read_user(addr, len, DEBUG_WRITE_MAX)?;
    let text = String::from_utf8_lossy(&bytes);
    task::with_current_name(|name, pid| {
        for line in text.lines() {
            info!("{name}[{pid}]: {line}");
        }
    });
    r[0] = len;
    Ok(())
}

/// Checks a page-aligned, non-empty user range for `Map`/`Unmap`; returns its end.
fn page_range(addr: u64, len: u64) -> Result<u64, Error> {
    if !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
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

fn map(r: &mut Regs) -> Result<(), Error> {
    let [addr, len, flags, ..] = *r;
    let flags = MapFlags::try_from(flags)?;
    let end = page_range(addr, len)?;
    let access = Access::new(flags.writable(), flags.executable());
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
        Ok(())
    })
}

fn unmap(r: &mut Regs) -> Result<(), Error> {
    let [addr, len, ..] = *r;
    let end = page_range(addr, len)?;
    task::with_current_space(|space| {
        for page in (addr..end).step_by(PAGE_SIZE as usize) {
            space.unmap(page);
        }
    });
    Ok(())
}

fn spawn(r: &mut Regs) -> Result<(), Error> {
    let [name, name_len, args, args_len, priority, _] = *r;
    let name = read_user_str(name, name_len, SPAWN_NAME_MAX)?;
    let args = read_user_str(args, args_len, SPAWN_ARGS_MAX)?;
    if priority > PRIORITY_MAX || priority as u8 > task::current_priority() {
        return Err(Error::InvalidArgument);
    }
    r[0] = task::spawn(&name, &args, priority as u8, Some(task::current_pid()))?;
    Ok(())
}
