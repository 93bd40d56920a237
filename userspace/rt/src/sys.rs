//! System calls: one raw entry ([`syscall`]) and a safe wrapper for each call in
//! [`ipc::syscall::Syscall`]. The register convention is documented there, once.

use core::arch::asm;
use ipc::cap::{Badge, CapInfo, Kind, Rights, Slot};
use ipc::msg::{slot_pair, MsgInfo};
use ipc::syscall::{self, ExitStatus, IpcStats, MapFlags, Syscall, ARG_REGS};
use ipc::Error;

/// The raw system call: number and six argument registers in, status and six result
/// registers out.
///
/// # Safety
/// Some calls change this process's memory (`Map`, `Unmap`) or end it (`Exit`): the caller
/// must make sure no live Rust reference points into memory a call unmaps. The rest are
/// harmless, which is why their wrappers are safe.
#[inline(always)]
pub unsafe fn syscall(number: u64, args: [u64; ARG_REGS]) -> (u64, [u64; ARG_REGS]) {
    let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5] = args;
    let status: u64;
    // SAFETY: `syscall` enters the kernel, which returns to the next instruction with the
    // registers as ipc::syscall documents: rcx and r11 clobbered, the rest preserved. No
    // stack is used. The caller answers for what the call itself does.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => status,
            inlateout("rdi") a0,
            inlateout("rsi") a1,
            inlateout("rdx") a2,
            inlateout("r10") a3,
            inlateout("r8") a4,
            inlateout("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (status, [a0, a1, a2, a3, a4, a5])
}

/// A call that is safe whatever its arguments: its status decoded. Inlined, so that the
/// arguments go straight into their registers and the results come straight out of them.
#[inline]
fn call(call: Syscall, args: [u64; ARG_REGS]) -> Result<[u64; ARG_REGS], Error> {
    debug_assert!(!matches!(call, Syscall::Unmap | Syscall::Exit | Syscall::ThreadCreate));
    // SAFETY: every call but Unmap, Exit and ThreadCreate leaves existing memory alone (Map
    // only maps unmapped pages; ThreadEnd of another thread leaves its memory, which it
    // may have been using, mapped); those have their own wrappers.
    let (status, results) = unsafe { syscall(call as u64, args) };
    syscall::status(status).map(|()| results)
}

/// A raw call by number, for tests of the kernel's checks: the status decoded.
///
/// # Safety
/// As for [`syscall`].
pub unsafe fn raw(number: u64, args: [u64; ARG_REGS]) -> Result<[u64; ARG_REGS], Error> {
    // SAFETY: passed on to the caller.
    let (status, results) = unsafe { syscall(number, args) };
    syscall::status(status).map(|()| results)
}

/// The call that does nothing: the cost of entering and leaving the kernel.
pub fn null() -> Result<(), Error> {
    let status: u64;
    // SAFETY: `Null` changes nothing. It takes no arguments and gives no results, so every
    // register but the status, rcx and r11 comes back as it went in (the convention in
    // `ipc::syscall`): there is nothing to load or zero first.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") Syscall::Null as u64 => status,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    syscall::status(status)
}

/// Writes `bytes` to the debug console; returns how many were taken.
pub fn debug_write(bytes: &[u8]) -> Result<usize, Error> {
    call(Syscall::DebugWrite, [bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0, 0]).map(|r| r[0] as usize)
}

pub fn exit(code: u64) -> ! {
    // SAFETY: the process ends; no reference outlives it.
    unsafe { syscall(Syscall::Exit as u64, [code, 0, 0, 0, 0, 0]) };
    unreachable!("the kernel returned from exit")
}

pub fn yield_now() {
    let _ = call(Syscall::Yield, [0; 6]);
}

pub fn sleep(ticks: u64) {
    let _ = call(Syscall::Sleep, [ticks, 0, 0, 0, 0, 0]);
}

/// (ticks since boot, ticks per second).
pub fn ticks() -> (u64, u64) {
    call(Syscall::Ticks, [0; 6]).map(|r| (r[0], r[1])).unwrap_or((0, 1))
}

/// Microseconds since boot, on the clock the kernel's log lines are stamped with.
pub fn micros_since_boot() -> u64 {
    call(Syscall::Ticks, [0; 6]).map(|r| r[2]).unwrap_or(0)
}

/// Maps `len` bytes of fresh zeroed memory at the page-aligned `addr`.
pub fn map(addr: u64, len: u64, flags: MapFlags) -> Result<(), Error> {
    call(Syscall::Map, [addr, len, flags.bits(), 0, 0, 0]).map(drop)
}

/// Unmaps `len` bytes at the page-aligned `addr`.
///
/// # Safety
/// Nothing may refer to the range afterwards.
pub unsafe fn unmap(addr: u64, len: u64) -> Result<(), Error> {
    // SAFETY: passed on to the caller.
    unsafe { raw(Syscall::Unmap as u64, [addr, len, 0, 0, 0, 0]) }.map(drop)
}

/// Waits for the process of a Process capability to end.
pub fn wait(process: Slot) -> Result<ExitStatus, Error> {
    let r = call(Syscall::Wait, [process, 0, 0, 0, 0, 0])?;
    ExitStatus::from_words(r[0], r[1])
}

/// (free frames, kernel heap bytes in use).
pub fn mem_stats() -> (u64, u64) {
    call(Syscall::MemStats, [0; 6]).map(|r| (r[0], r[1])).unwrap_or((0, 0))
}

/// The bytes of memory the kernel has taken from free frames for its heap and its capability
/// tables, in all (each grows when full, and keeps what it took).
pub fn kernel_mapped() -> u64 {
    call(Syscall::MemStats, [0; 6]).map(|r| r[2] + r[3]).unwrap_or(0)
}

/// What a capability slot holds.
pub fn cap_inspect(slot: Slot) -> Result<CapInfo, Error> {
    let r = call(Syscall::CapInspect, [slot, 0, 0, 0, 0, 0])?;
    Ok(CapInfo { kind: Kind::try_from(r[0])?, rights: Rights::try_from(r[1])?, badge: r[2] })
}

/// The number of pages of the Frame in `slot` (`WrongKind` for anything else).
pub fn frame_pages(slot: Slot) -> Result<u64, Error> {
    let r = call(Syscall::CapInspect, [slot, 0, 0, 0, 0, 0])?;
    match Kind::try_from(r[0])? {
        Kind::Frame => Ok(r[3]),
        _ => Err(Error::WrongKind),
    }
}

/// Copies `src` to slot `dest` of `target` (`ipc::cap::SELF` or a Process capability).
pub fn cap_copy(src: Slot, dest: Slot, rights: Rights, target: Slot) -> Result<(), Error> {
    call(Syscall::CapCopy, [src, dest, rights.bits(), target, 0, 0]).map(drop)
}

pub fn cap_mint(src: Slot, dest: Slot, rights: Rights, badge: Badge, target: Slot) -> Result<(), Error> {
    call(Syscall::CapMint, [src, dest, rights.bits(), badge, target, 0]).map(drop)
}

pub fn cap_move(src: Slot, dest: Slot, target: Slot) -> Result<(), Error> {
    call(Syscall::CapMove, [src, dest, target, 0, 0, 0]).map(drop)
}

pub fn cap_delete(slot: Slot) -> Result<(), Error> {
    call(Syscall::CapDelete, [slot, 0, 0, 0, 0, 0]).map(drop)
}

pub fn cap_revoke(slot: Slot) -> Result<(), Error> {
    call(Syscall::CapRevoke, [slot, 0, 0, 0, 0, 0]).map(drop)
}

/// Makes an object of `kind` from a Memory capability into `dest` (`size`: pages of a
/// Frame, bytes of a Memory).
pub fn create(memory: Slot, kind: Kind, dest: Slot, size: u64) -> Result<(), Error> {
    call(Syscall::Create, [memory, kind as u64, dest, size, 0, 0]).map(drop)
}

/// Makes a process from boot program `name`; its Process capability goes to `dest`.
pub fn process_create(memory: Slot, archive: Slot, name: &str, dest: Slot) -> Result<(), Error> {
    call(Syscall::ProcessCreate, [memory, archive, name.as_ptr() as u64, name.len() as u64, dest, 0]).map(drop)
}

/// Starts a created process; returns its process id.
pub fn process_start(process: Slot, args: &str, priority: u8) -> Result<u64, Error> {
    call(Syscall::ProcessStart, [process, args.as_ptr() as u64, args.len() as u64, priority as u64, 0, 0]).map(|r| r[0])
}

pub fn process_kill(process: Slot) -> Result<(), Error> {
    call(Syscall::ProcessKill, [process, 0, 0, 0, 0, 0]).map(drop)
}

pub fn process_notify_exit(process: Slot, notification: Slot) -> Result<(), Error> {
    call(Syscall::ProcessNotifyExit, [process, notification, 0, 0, 0, 0]).map(drop)
}

pub fn process_set_fault(process: Slot, endpoint: Slot) -> Result<(), Error> {
    call(Syscall::ProcessSetFault, [process, endpoint, 0, 0, 0, 0]).map(drop)
}

/// A message as the registers carry it: the sender's badge (on receipt), the info word and
/// the first four words. Words beyond four and capabilities are in the IPC buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    pub badge: Badge,
    pub info: u64,
    pub words: [u64; 4],
}

impl Msg {
    pub fn new(label: u32, words: &[u64]) -> Msg {
        let mut w = [0; 4];
        w[..words.len().min(4)].copy_from_slice(&words[..words.len().min(4)]);
        Msg { badge: 0, info: MsgInfo::new(label, words.len(), 0).encode(), words: w }
    }

    /// The info word decoded (the kernel only delivers valid ones).
    pub fn info(&self) -> MsgInfo {
        MsgInfo::decode(self.info).unwrap_or(MsgInfo::new(0, 0, 0))
    }

    pub fn label(&self) -> u32 {
        self.info().label
    }

    /// A protocol message (`ipc::proto`), ready to send.
    pub fn from_proto(m: &ipc::proto::Message) -> Msg {
        Msg { badge: 0, info: m.info().encode(), words: m.words }
    }

    /// This message as a protocol reads it (None if the kernel delivered no valid info word,
    /// which it never does).
    pub fn proto(&self) -> Option<ipc::proto::Message> {
        ipc::proto::Message::received(self.info, self.words)
    }

    fn from_regs(r: [u64; ARG_REGS]) -> Msg {
        Msg { badge: r[0], info: r[1], words: [r[2], r[3], r[4], r[5]] }
    }
}

#[inline]
fn msg_call(number: Syscall, first: u64, m: &Msg) -> Result<Msg, Error> {
    call(number, [first, m.info, m.words[0], m.words[1], m.words[2], m.words[3]]).map(Msg::from_regs)
}

/// Sends through an endpoint, waiting for a receiver; or answers through a reply capability.
#[inline]
pub fn send(endpoint: Slot, m: &Msg) -> Result<(), Error> {
    msg_call(Syscall::Send, endpoint, m).map(drop)
}

/// Sends only if a receiver is waiting (`WouldBlock` otherwise).
#[inline]
pub fn nb_send(endpoint: Slot, m: &Msg) -> Result<(), Error> {
    msg_call(Syscall::NbSend, endpoint, m).map(drop)
}

/// Sends and waits for the answer.
#[inline]
pub fn call_ep(endpoint: Slot, m: &Msg) -> Result<Msg, Error> {
    msg_call(Syscall::Call, endpoint, m)
}

/// Waits for a message on `endpoint`; a call's reply capability goes to slot `reply`.
#[inline]
pub fn recv(endpoint: Slot, reply: Slot) -> Result<Msg, Error> {
    msg_call(Syscall::Recv, slot_pair(endpoint, reply), &Msg::default())
}

/// A server's next request on `endpoint`: after answering the last one with `answer` (a
/// reply-and-receive), or, with no answer owed, a plain receive.
#[inline]
pub fn next_request(endpoint: Slot, reply: Slot, answer: Option<&Msg>) -> Result<Msg, Error> {
    match answer {
        Some(a) => reply_recv(endpoint, reply, a),
        None => recv(endpoint, reply),
    }
}

/// Answers the call in slot `reply` with `m`, then waits on `endpoint`.
#[inline]
pub fn reply_recv(endpoint: Slot, reply: Slot, m: &Msg) -> Result<Msg, Error> {
    msg_call(Syscall::ReplyRecv, slot_pair(endpoint, reply), m)
}

/// As [`reply_recv`], for a server that answers in place: `m` is the answer, and the request
/// that comes next replaces it (on an error it is left as it was). Nothing is copied but the
/// registers themselves.
#[inline]
pub fn reply_recv_in_place(endpoint: Slot, reply: Slot, m: &mut Msg) -> Result<(), Error> {
    let r =
        call(Syscall::ReplyRecv, [slot_pair(endpoint, reply), m.info, m.words[0], m.words[1], m.words[2], m.words[3]])?;
    *m = Msg::from_regs(r);
    Ok(())
}

#[inline]
pub fn signal(notification: Slot) -> Result<(), Error> {
    call(Syscall::Signal, [notification, 0, 0, 0, 0, 0]).map(drop)
}

/// Waits for bits on a notification; returns them.
#[inline]
pub fn ntfn_wait(notification: Slot) -> Result<u64, Error> {
    call(Syscall::NtfnWait, [notification, 0, 0, 0, 0, 0]).map(|r| r[0])
}

#[inline]
pub fn poll(notification: Slot) -> Result<u64, Error> {
    call(Syscall::Poll, [notification, 0, 0, 0, 0, 0]).map(|r| r[0])
}

/// Arms this process's timer: the notification is signalled once, `micros` microseconds
/// (at least) from now. Replaces an earlier arming.
pub fn timer_set(notification: Slot, micros: u64) -> Result<(), Error> {
    call(Syscall::TimerSet, [notification, micros.max(1), 0, 0, 0, 0]).map(drop)
}

/// Whether the IPC fast path is on, and the calls that took the general path.
pub fn ipc_stats() -> Result<IpcStats, Error> {
    call(Syscall::IpcStats, [0; 6]).map(|r| IpcStats::from_words([r[0], r[1], r[2]]))
}

/// A new thread of this process (`SELF`) or of a child's (`target`), started at once at the
/// caller's priority in user mode at `entry` with `rsp = stack`, `rdi = arg` and `rsi` its
/// IPC buffer's address; its Thread capability goes to slot `dest`. Returns its id and its
/// IPC buffer's address. [`crate::thread::spawn`] is the safe way to start one.
///
/// # Safety
/// The new thread runs `entry` on `stack` with nothing else set up: `entry` must be code that
/// expects exactly that, and the stack memory must be its own for as long as it runs.
pub unsafe fn thread_create(target: Slot, entry: u64, stack: u64, arg: u64, dest: Slot) -> Result<(u64, u64), Error> {
    // SAFETY: passed on to the caller.
    let (status, r) = unsafe { syscall(Syscall::ThreadCreate as u64, [target, entry, stack, arg, dest, 0]) };
    syscall::status(status).map(|()| (r[0], r[1]))
}

/// Sets a thread's priority (no higher than the caller's).
pub fn thread_priority(thread: Slot, priority: u8) -> Result<(), Error> {
    call(Syscall::ThreadPriority, [thread, u64::from(priority), 0, 0, 0, 0]).map(drop)
}

/// Stops a thread until [`thread_resume`]; a call it waits in returns `Interrupted`.
pub fn thread_suspend(thread: Slot) -> Result<(), Error> {
    call(Syscall::ThreadSuspend, [thread, 0, 0, 0, 0, 0]).map(drop)
}

pub fn thread_resume(thread: Slot) -> Result<(), Error> {
    call(Syscall::ThreadResume, [thread, 0, 0, 0, 0, 0]).map(drop)
}

/// Ends a thread (not the caller: see [`thread_exit`]).
pub fn thread_end(thread: Slot) -> Result<(), Error> {
    if thread == ipc::cap::SELF {
        return Err(Error::InvalidArgument);
    }
    call(Syscall::ThreadEnd, [thread, 0, 0, 0, 0, 0]).map(drop)
}

/// Ends the calling thread; the last thread's end is the process's, as `exit(0)`.
pub fn thread_exit() -> ! {
    // SAFETY: the thread ends; nothing of it runs again.
    unsafe { syscall(Syscall::ThreadEnd as u64, [ipc::cap::SELF, 0, 0, 0, 0, 0]) };
    unreachable!("the kernel returned from ThreadEnd on the caller")
}

/// Disarms this process's timer.
pub fn timer_cancel() -> Result<(), Error> {
    call(Syscall::TimerSet, [0, 0, 0, 0, 0, 0]).map(drop)
}

pub fn ntfn_bind(notification: Slot) -> Result<(), Error> {
    call(Syscall::NtfnBind, [notification, 0, 0, 0, 0, 0]).map(drop)
}

/// Maps a Frame at `addr` in the caller's (`SELF`) or a child's address space.
pub fn frame_map(frame: Slot, addr: u64, flags: MapFlags, target: Slot) -> Result<(), Error> {
    call(Syscall::FrameMap, [frame, addr, flags.bits(), target, 0, 0]).map(drop)
}

pub fn irq_bind(irq: Slot, notification: Slot) -> Result<(), Error> {
    call(Syscall::IrqBind, [irq, notification, 0, 0, 0, 0]).map(drop)
}

pub fn irq_ack(irq: Slot) -> Result<(), Error> {
    call(Syscall::IrqAck, [irq, 0, 0, 0, 0, 0]).map(drop)
}

pub fn io_ports_enable(ports: Slot) -> Result<(), Error> {
    call(Syscall::IoPortsEnable, [ports, 0, 0, 0, 0, 0]).map(drop)
}

/// Copies what fits of boot-archive file `name`, from byte `offset` on, into `buf`. Returns
/// (the file's length, bytes copied).
pub fn archive_read(archive: Slot, name: &str, buf: &mut [u8], offset: u64) -> Result<(u64, usize), Error> {
    let args = [archive, name.as_ptr() as u64, name.len() as u64, buf.as_mut_ptr() as u64, buf.len() as u64, offset];
    call(Syscall::ArchiveRead, args).map(|r| (r[0], r[1] as usize))
}

/// A capability to the ports `first..=last` of `ports`' range in slot `dest`, charged to
/// `memory`.
pub fn io_ports_derive(ports: Slot, first: u16, last: u16, dest: Slot, memory: Slot) -> Result<(), Error> {
    call(Syscall::IoPortsDerive, [ports, first.into(), last.into(), dest, memory, 0]).map(drop)
}

/// What `ProcessInfo` tells of a process.
#[derive(Clone, Copy, Debug)]
pub struct ProcessInfo {
    pub pid: u64,
    /// Bytes its image and mappings have charged to its quota.
    pub charged: u64,
    pub state: syscall::ProcessState,
    name: [u64; 3],
}

impl ProcessInfo {
    /// Its name (the first 24 bytes), unpacked into `buf`.
    pub fn name<'a>(&self, buf: &'a mut [u8; 64]) -> &'a str {
        ipc::proto::unpack(&self.name, buf).unwrap_or("?")
    }
}

/// The `index`th live process, through the Introspect capability in `introspect`.
pub fn process_info(introspect: Slot, index: u64) -> Result<ProcessInfo, Error> {
    let r = call(Syscall::ProcessInfo, [introspect, index, 0, 0, 0, 0])?;
    let state = syscall::ProcessState::from_word(r[2])?;
    Ok(ProcessInfo { pid: r[0], charged: r[1], state, name: [r[3], r[4], r[5]] })
}

/// Drains the oldest unread events of the kernel's IPC trace into `events` (as many as fit,
/// at most [`ipc::trace::TRACE_READ_MAX`]): how many it wrote, and how many were overwritten
/// unread since the last read. `InvalidArgument` if the kernel does not trace.
pub fn trace_read(introspect: Slot, events: &mut [[u64; ipc::trace::EVENT_WORDS]]) -> Result<(usize, u64), Error> {
    let r = call(Syscall::TraceRead, [introspect, events.as_mut_ptr() as u64, events.len() as u64, 0, 0, 0])?;
    Ok((r[0] as usize, r[1]))
}

/// Reads the IPC trace with [`trace_read`] until nothing is left or `limit` events are
/// read: the events, as `TraceRead` gives them, and how many were lost meanwhile.
pub fn trace_drain(
    introspect: Slot,
    limit: usize,
) -> Result<(alloc::vec::Vec<[u64; ipc::trace::EVENT_WORDS]>, u64), Error> {
    let mut events = alloc::vec::Vec::new();
    let mut chunk = alloc::vec![[0u64; ipc::trace::EVENT_WORDS]; ipc::trace::TRACE_READ_MAX as usize];
    let mut lost = 0;
    while events.len() < limit {
        let (n, more) = trace_read(introspect, &mut chunk)?;
        lost += more;
        if n == 0 {
            break;
        }
        events.extend_from_slice(&chunk[..n]);
    }
    Ok((events, lost))
}

/// The first capability in slot `from` or above of process `pid`, and its slot.
pub fn cap_read(introspect: Slot, pid: u64, from: Slot) -> Result<(Slot, CapInfo), Error> {
    let r = call(Syscall::CapRead, [introspect, pid, from, 0, 0, 0])?;
    Ok((r[0], CapInfo { kind: Kind::try_from(r[1])?, rights: Rights::try_from(r[2])?, badge: r[3] }))
}
