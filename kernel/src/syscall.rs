//! System calls: decode the number and hand the arguments to a safe handler. Every failure a
//! user process can cause comes back as an `ipc::Error`; the register convention is in
//! `ipc::syscall`, and the entry stub that calls [`handle`] in `arch::x86_64::syscall`.

use crate::arch::frame::TrapFrame;
use crate::arch::usercopy;
use crate::ipc::fastpath;
use crate::mem::{self, heap};
use crate::sched::Tid;
use crate::task::ipc::{self, Mode};
use crate::task::{introspect, ops, threads, Next};
use crate::{info, task, time};
use ::ipc::syscall::{
    ExitStatus, Syscall, ARCHIVE_NAME_MAX, ARCHIVE_READ_MAX, ARG_REGS, DEBUG_WRITE_MAX, SPAWN_ARGS_MAX, SPAWN_NAME_MAX,
};
use ::ipc::trace::{EVENT_WORDS, TRACE_READ_MAX};
use ::ipc::Error;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// The argument registers, which the handlers overwrite with their results.
type Regs = [u64; ARG_REGS];

/// Runs the system call a thread entered the kernel with (`frame`, as the entry stub saved
/// it) and leaves: returns the exit word of the frame the stub leaves by
/// ([`task::exit_word`]). The entry stub has tried the fast path first for `Call` and
/// `ReplyRecv` (`ipc::fastpath`); this is every call it did not take.
#[inline(always)]
pub fn handle(frame: &mut TrapFrame) -> u64 {
    let done = match HANDLERS.get(frame.rax as usize) {
        Some(handler) => handler(&mut frame.args),
        None => Done::Failed(Error::UnknownSyscall),
    };
    frame.rax = 0;
    let next = match done {
        Done::Return => Next::Return,
        Done::Block => Next::Block,
        Done::Handoff(tid) => Next::Handoff(tid),
        Done::Restart(call) => Next::Restart(call),
        Done::Failed(e) => {
            frame.rax = e.code();
            Next::Return
        }
    };
    task::leave(next, frame)
}

/// What a handler gives back: what the calling thread does next ([`Next`]), or the error its
/// call returns. Flat, a tag and a word, so that it comes back in two registers; a
/// `Result<Next, Error>` came back through memory, four instructions more on every call.
#[derive(Clone, Copy)]
enum Done {
    Return,
    Block,
    Handoff(Tid),
    Restart(Syscall),
    Failed(Error),
}

impl From<Result<Next, Error>> for Done {
    #[inline(always)]
    fn from(result: Result<Next, Error>) -> Done {
        match result {
            Ok(Next::Return) => Done::Return,
            Ok(Next::Block) => Done::Block,
            Ok(Next::Handoff(tid)) => Done::Handoff(tid),
            Ok(Next::Restart(call)) => Done::Restart(call),
            Err(e) => Done::Failed(e),
        }
    }
}

/// A handler writes its results over the argument registers in place (a register that
/// carries no result keeps its value).
type Handler = fn(&mut Regs) -> Done;

/// One past the highest system call number.
const NUMBERS: usize = {
    let mut end = 0;
    let mut i = 0;
    while i < Syscall::ALL.len() {
        if Syscall::ALL[i] as usize >= end {
            end = Syscall::ALL[i] as usize + 1;
        }
        i += 1;
    }
    end
};

/// The handler of every number below [`NUMBERS`], those no call has (8, once `Spawn`)
/// included, so that the dispatcher checks a number once. Handlers are called through the
/// pointer, never inlined into the dispatcher, so a call pays only for its own handler's
/// registers and stack (the null call for none).
static HANDLERS: [Handler; NUMBERS] = {
    let mut table: [Handler; NUMBERS] = [|_| Done::Failed(Error::UnknownSyscall); NUMBERS];
    let mut i = 0;
    while i < Syscall::ALL.len() {
        table[Syscall::ALL[i] as usize] = handler(Syscall::ALL[i]);
        i += 1;
    }
    table
};

/// The handler of each system call.
const fn handler(call: Syscall) -> Handler {
    match call {
        Syscall::Null => |_| Done::Return,
        Syscall::DebugWrite => |r| returns(debug_write(r)),
        Syscall::Exit => |r| task::end_current(ExitStatus::Exited(r[0])),
        Syscall::Yield => |_| returns(yield_now()),
        Syscall::Sleep => |r| returns(sleep(r)),
        Syscall::Ticks => |r| returns(ticks(r)),
        Syscall::Map => |r| ops::map(r).into(),
        Syscall::Unmap => |r| ops::unmap(r).into(),
        Syscall::Wait => |r| returns(wait(r)),
        Syscall::MemStats => |r| returns(mem_stats(r)),
        Syscall::CapInspect => |r| returns(ops::inspect(r)),
        Syscall::CapCopy => |r| returns(ops::copy(r)),
        Syscall::CapMint => |r| returns(ops::mint(r)),
        Syscall::CapMove => |r| returns(ops::move_cap(r)),
        Syscall::CapDelete => |r| returns(ops::delete(r)),
        Syscall::CapRevoke => |r| ops::revoke(r).into(),
        Syscall::Create => |r| ops::create(r).into(),
        Syscall::ProcessCreate => |r| returns(process_create(r)),
        Syscall::ProcessStart => |r| returns(process_start(r)),
        Syscall::ProcessKill => |r| returns(ops::process_kill(r)),
        Syscall::ProcessSetFault => |r| returns(ops::process_set_fault(r)),
        Syscall::Send => |r| ipc::send(r, Mode::Send).into(),
        Syscall::NbSend => |r| ipc::send(r, Mode::NonBlocking).into(),
        Syscall::Call => |r| {
            fastpath::count_general(true);
            ipc::send(r, Mode::Call).into()
        },
        Syscall::Recv => |r| ipc::recv(r).into(),
        Syscall::ReplyRecv => |r| {
            fastpath::count_general(false);
            ipc::reply_recv(r).into()
        },
        Syscall::Signal => |r| returns(ipc::signal(r)),
        Syscall::NtfnWait => |r| ipc::wait(r).into(),
        Syscall::Poll => |r| returns(ipc::poll(r)),
        Syscall::NtfnBind => |r| returns(ipc::bind(r)),
        Syscall::FrameMap => |r| returns(ops::frame_map(r)),
        Syscall::IrqBind => |r| returns(ops::irq_bind(r)),
        Syscall::IrqAck => |r| returns(ops::irq_ack(r)),
        Syscall::IoPortsEnable => |r| returns(ops::io_ports_enable(r)),
        Syscall::ProcessNotifyExit => |r| returns(ops::process_notify_exit(r)),
        Syscall::ArchiveRead => |r| returns(archive_read(r)),
        Syscall::IoPortsDerive => |r| returns(ops::io_ports_derive(r)),
        Syscall::ProcessInfo => |r| returns(introspect::process_info(r)),
        Syscall::CapRead => |r| returns(introspect::cap_read(r)),
        Syscall::TimerSet => |r| returns(ops::timer_set(r)),
        Syscall::IpcStats => |r| {
            [r[0], r[1], r[2]] = fastpath::stats();
            Done::Return
        },
        Syscall::ThreadCreate => |r| returns(threads::create(r)),
        Syscall::ThreadPriority => |r| returns(threads::priority(r)),
        Syscall::ThreadSuspend => |r| threads::suspend(r).into(),
        Syscall::ThreadResume => |r| returns(threads::resume(r)),
        Syscall::ThreadEnd => |r| returns(threads::end(r)),
        Syscall::TraceRead => |r| returns(trace_read(r)),
    }
}

/// A handler's result for a call that returns to its caller when it is done.
#[inline(always)]
fn returns(done: Result<(), Error>) -> Done {
    match done {
        Ok(()) => Done::Return,
        Err(e) => Done::Failed(e),
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
    [r[0], r[1], r[2]] = [time::ticks(), time::TICK_HZ, crate::arch::tsc::micros_since_boot()];
    Ok(())
}

fn wait(r: &mut Regs) -> Result<(), Error> {
    [r[0], r[1]] = task::wait(r[0])?.to_words().into();
    Ok(())
}

fn mem_stats(r: &mut Regs) -> Result<(), Error> {
    [r[0], r[1], r[2], r[3]] =
        [mem::frame_counts().0, heap::usage().0 as u64, heap::top() - mem::layout::HEAP_BASE, mem::array::mapped()];
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

/// `ArchiveRead`: the part of a boot-archive file from `offset` that fits the buffer, up to
/// `ARCHIVE_READ_MAX` bytes (the copy runs with interrupts off).
fn archive_read(r: &mut Regs) -> Result<(), Error> {
    let [archive, name, name_len, buf, buf_len, offset] = *r;
    let name = read_user_str(name, name_len, ARCHIVE_NAME_MAX)?;
    ops::archive_check(archive)?;
    let file = crate::ramdisk::file(&name).ok_or(Error::NotFound)?;
    let rest = file.get(usize::try_from(offset).unwrap_or(usize::MAX)..).unwrap_or(&[]);
    let most = buf_len.min(ARCHIVE_READ_MAX) as usize;
    let part = &rest[..rest.len().min(most)];
    task::with_current_space(|space| space.check_user(buf, part.len() as u64, true))?;
    // SAFETY: the range was just checked to be mapped, user-accessible and writable in the
    // active address space (the caller's), and nothing can unmap it before the copy: the
    // kernel is not preempted and runs on one CPU. `part` is the ramdisk's, in the kernel half.
    unsafe { usercopy::copy_to_user(buf, part) };
    [r[0], r[1]] = [file.len() as u64, part.len() as u64];
    Ok(())
}

/// `TraceRead`: the IPC trace's oldest unread events, copied to the caller's buffer.
fn trace_read(r: &mut Regs) -> Result<(), Error> {
    let [introspect, buf, max, ..] = *r;
    introspect::check(introspect)?;
    let unread = crate::trace::unread().ok_or(Error::InvalidArgument)?;
    let count = unread.min(max).min(TRACE_READ_MAX);
    let event_bytes = (EVENT_WORDS * 8) as u64;
    if count > 0 {
        task::with_current_space(|space| space.check_user(buf, count * event_bytes, true))?;
    }
    // Nothing is recorded between the count and the copy (no IPC happens in between), and a
    // drain never gives more than it is asked for.
    let (bytes, lost) = crate::trace::drain(count);
    // SAFETY: the range (for `count` events, at least what `bytes` holds) was just checked to
    // be mapped, user-accessible and writable in the active address space (the caller's),
    // and nothing can unmap it before the copy: the kernel is not preempted and runs on one
    // CPU. `bytes` is the kernel's.
    unsafe { usercopy::copy_to_user(buf, &bytes) };
    [r[0], r[1]] = [bytes.len() as u64 / event_bytes, lost];
    Ok(())
}

fn process_create(r: &mut Regs) -> Result<(), Error> {
    let name = read_user_str(r[2], r[3], SPAWN_NAME_MAX)?;
    ops::process_create(r, &name)
}

fn process_start(r: &mut Regs) -> Result<(), Error> {
    let args = read_user_str(r[1], r[2], SPAWN_ARGS_MAX)?;
    ops::process_start(r, &args)
}
