//! System calls: their numbers and the register convention. This comment is the reference.
//!
//! # Register convention
//!
//! A user thread enters the kernel with the `syscall` instruction.
//!
//! | register | on entry | on return |
//! |---|---|---|
//! | `rax` | the syscall number ([`Syscall`]) | status: 0 for success, else an [`Error`] code |
//! | `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9` | arguments 0–5 | results 0–5 |
//! | `rcx`, `r11` | — | clobbered: the CPU keeps the return address and flags there |
//! | everything else | — | preserved |
//!
//! Arguments and results share the same six registers, in the same order, so later message
//! words travel in place; `r10` stands in for `rcx` (the C convention's fourth argument),
//! which `syscall` overwrites. A register that carries no result of the call (every one, when
//! the call fails) comes back as it went in.
//!
//! A process starts at its ELF entry point with `rdi` = address and `rsi` = length of its
//! argument string (UTF-8, words separated by spaces, on its stack), `rdx` = its process id,
//! and `rsp` 16-byte aligned minus 8, as after a `call`. See [`crate::layout`] for where things
//! are in a user address space.

use crate::Error;

/// Number of argument (and result) registers.
pub const ARG_REGS: usize = 6;

/// The system calls, by number. Numbers are stable ABI: add at the end, never renumber.
///
/// Capability arguments are slot numbers in the caller's capability space
/// ([`crate::cap`]). A call on a slot that is out of range or empty fails with
/// `InvalidCapability`, on a capability of the wrong kind with `WrongKind`, and on one
/// lacking a right the call needs with `MissingRights`. "target" arguments name a capability
/// space: [`crate::cap::SELF`] for the caller's, else the slot of a Process capability (with
/// the write right). Message registers are described in [`crate::msg`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Syscall {
    /// Does nothing and succeeds: the round trip the latency benchmark measures.
    Null = 0,
    /// `(ptr, len)` → `(written)`: writes UTF-8 text to the kernel's debug console, prefixed
    /// with the process name. At most [`DEBUG_WRITE_MAX`] bytes per call. Once a system has
    /// a console server, its programs print through that (`rt`'s `println!` does, for those
    /// that `use` the console); this call stays for the kernel's log stream, for programs that
    /// start before the console or may not use it (init, the name server, the console
    /// itself), and for ad-hoc test programs.
    DebugWrite = 1,
    /// `(code)`: ends the calling process; never returns.
    Exit = 2,
    /// Gives up the rest of the time slice to threads of the same priority.
    Yield = 3,
    /// `(ticks)`: blocks for at least `ticks` timer ticks; 0 is a yield.
    Sleep = 4,
    /// → `(ticks since the timer started, ticks per second, microseconds since boot)`: the
    /// scheduler's clock, and the finer one the kernel's log lines are stamped with.
    Ticks = 5,
    /// `(addr, len, flags)`: maps fresh zeroed pages at a page-aligned user range, charged to
    /// the Memory quota the process was made from. `flags` are [`MapFlags`]; writable and
    /// executable together are refused. Nothing is ever mapped below
    /// [`crate::layout::USER_MIN`], nor in the IPC buffer area
    /// ([`crate::layout::IPC_BUFFER_AREA`]) (`BadAddress`). The page tables the mapping
    /// makes are charged too, and stay charged until the process ends. A long range is
    /// mapped in slices, as `CapRevoke` is; a call refused midway unmaps what it had mapped.
    Map = 6,
    /// `(addr, len)`: unmaps a page-aligned user range and frees its own pages (a mapped
    /// Frame's pages stay the Frame's; once a mapping's last page is unmapped, the mapping no
    /// longer keeps the Frame alive). A range touching the IPC buffer area is refused whole
    /// (`InvalidArgument`): a buffer is its thread's for as long as it lives. A long range
    /// is unmapped in slices, the address and length registers moved on past each (they
    /// are the caller's to lose, as every call's argument registers are).
    Unmap = 7,
    // 8 was `Spawn`, which made processes without a capability; see `ProcessCreate`.
    /// `(process)` → `(status kind, value)`: waits for the process to end; see
    /// [`ExitStatus`]. Needs the read right.
    Wait = 9,
    /// → `(free frames, kernel heap bytes in use, kernel heap bytes mapped, kernel table bytes
    /// mapped)`: for tests and the shell. The heap and the capability tables (arrays that grow
    /// in place) are mapped from free frames as they grow, and keep them.
    MemStats = 10,
    /// `(slot)` → `(kind, rights, badge, size)`: what a capability is
    /// ([`crate::cap::CapInfo`]); `size` is a Frame's number of pages, 0 for other kinds.
    CapInspect = 11,
    /// `(src, dest, rights, target)`: a copy of `src` with `rights` (no more than its own)
    /// in slot `dest` of `target`. The copy is derived from `src`: revoking `src` deletes it.
    /// Refused (`InvalidArgument`) when `target` is stopped on a fault (it holds nothing any
    /// more), and when `target` has not started and `src` is a Process capability naming it,
    /// or naming a process that holds a handle to it through processes not started either:
    /// such a loop could never be ended. The same rules hold for `CapMint` and `CapMove`.
    CapCopy = 12,
    /// `(src, dest, rights, badge, target)`: like `CapCopy`, and sets a non-zero badge;
    /// refused (`InvalidArgument`) if `src` already has one.
    CapMint = 13,
    /// `(src, dest, target)`: moves a capability to slot `dest` of `target`, rights, badge
    /// and derivation unchanged.
    CapMove = 14,
    /// `(slot)`: empties the slot. The object goes when its last capability does.
    CapDelete = 15,
    /// `(slot)`: deletes every capability derived from this one, in every process. A large
    /// revoke is done in slices: between them the call goes back to user mode at its own
    /// `syscall` instruction and runs again (interrupts are taken in between), which the
    /// caller does not see but for the time it takes.
    CapRevoke = 16,
    /// `(memory, kind, dest, size)`: makes an object of `kind` ([`crate::cap::Kind`]:
    /// Endpoint, Notification, Frame of `size` pages, or Memory of `size` bytes) charged to
    /// the Memory capability, and puts the capability to it, with all rights, in `dest`. A
    /// large Frame is made in slices, as `CapRevoke` is; the thread holds the pages made so
    /// far, charged, until the call is done, and gives them up if it ends first.
    Create = 17,
    /// `(memory, archive, name ptr, name len, dest)`: makes a process from boot program
    /// `name` with an empty capability space, not yet started; its memory is charged to
    /// `memory` ([`PROCESS_RECORD_PAGES`] says what that covers). Puts a Process capability
    /// with all rights in `dest`.
    ProcessCreate = 18,
    /// `(process, args ptr, args len, priority)` → `(pid)`: starts a created process. The
    /// priority may not exceed the caller's.
    ProcessStart = 19,
    /// `(process)`: ends a process; its capabilities are deleted, its callers get errors.
    ProcessKill = 20,
    /// `(process, endpoint)`: from now on a CPU exception in the process stops it and sends a
    /// fault message ([`crate::msg::LABEL_FAULT`]) through a copy of `endpoint`. A stopped
    /// process never runs again: its capabilities are deleted at once, and it ends when it is
    /// killed, when its last Process capability goes, or when no capability to the endpoint
    /// with the read right is left (nobody could take the fault). With no Process capability
    /// or no such receiver at the time of the fault, it ends at once, as without an endpoint.
    ProcessSetFault = 21,
    /// `(endpoint, info, w0..w3)`: sends a message, blocking until a receiver takes it. On a
    /// Reply capability: answers the call it stands for, never blocks, and uses it up; so
    /// does [`REPLY_IN_THREAD`] for the call the calling thread keeps. When
    /// no capability to the endpoint with the read right is left, nobody can ever receive:
    /// the send fails with `ObjectGone` rather than wait, and so do senders already waiting.
    Send = 22,
    /// As `Send`, but fails with `WouldBlock` instead of waiting for a receiver.
    NbSend = 23,
    /// `(endpoint, info, w0..w3)` → `(badge, info, w0..w3)`: sends and waits for the reply,
    /// atomically. The badge of a reply is 0.
    Call = 24,
    /// `(endpoint | reply << 32)` → `(badge, info, w0..w3)`: waits for a message. If it is
    /// a call, a Reply capability for it is put in slot `reply` (which must be empty or hold
    /// a reply; an old one goes, and its caller, if still waiting, gets `ObjectGone`), or,
    /// with `reply` = [`REPLY_IN_THREAD`], the receiving thread keeps the answer owed (a call
    /// it still kept is dropped the same way). A notification bound to the thread may answer
    /// instead ([`crate::msg::LABEL_NOTIFICATION`]).
    Recv = 25,
    /// `(endpoint | reply << 32, info, w0..w3)` → as `Recv`: answers the call in slot
    /// `reply`, or the one the thread keeps (if its caller is gone, or there is none, the
    /// answer is dropped), then waits on `endpoint`.
    ReplyRecv = 26,
    /// `(notification)`: sets the capability's badge bits in the notification word (bit 0
    /// for an unbadged capability) and wakes a waiter.
    Signal = 27,
    /// `(notification)` → `(bits)`: waits until some bits are set, returns and clears them.
    NtfnWait = 28,
    /// `(notification)` → `(bits)`: returns and clears the bits, 0 if none; never blocks.
    Poll = 29,
    /// `(notification)`: binds the notification to the calling thread, so that a `Recv` on
    /// any endpoint also returns when it is signalled. Needs the read right.
    NtfnBind = 30,
    /// `(frame, addr, flags, target)`: maps a Frame at page-aligned `addr` in the caller's
    /// (or target's) address space. Writable needs the write right, any mapping the read
    /// right; never executable. Not in the IPC buffer area (`BadAddress`).
    FrameMap = 31,
    /// `(irq, notification)`: from now on the interrupt line signals the notification (with
    /// its capability's badge, or bit 0 for an unbadged one) and is masked until `IrqAck`.
    IrqBind = 32,
    /// `(irq)`: unmasks the line after the driver has handled the interrupt.
    IrqAck = 33,
    /// `(ioports)`: lets the calling process use `in`/`out` on the capability's port range.
    IoPortsEnable = 34,
    /// `(process, notification)`: when the process ends, for whatever reason, the kernel
    /// signals the notification with its capability's badge (a supervisor's death notice).
    ProcessNotifyExit = 35,
    /// `(archive, name ptr, name len, buf, buf len, offset)` → `(file length, copied)`: copies
    /// what it can of boot-archive file `name` from byte `offset` on into `buf`, at most
    /// [`ARCHIVE_READ_MAX`] bytes (read on from `offset + copied` for more). Needs the read
    /// right (the write right is what makes processes). `NotFound` if there is no such file;
    /// an offset at or past the end copies nothing.
    ArchiveRead = 36,
    /// `(ioports, first, last, dest, memory)`: a capability to the ports `first..=last`, which
    /// must lie within the capability's own range, with its rights, in slot `dest`; a child of
    /// it (revoking the source reaches it). The new object is charged to `memory`.
    IoPortsDerive = 37,
    /// `(introspect, index)` → `(pid, bytes charged, state word, name…)`: the `index`th
    /// process alive, in process-id order: its id, the memory its image and mappings have
    /// charged, a [`ProcessState`] word, and its name (the first 24 bytes, packed
    /// little-endian in the last three registers, zero-padded). `NotFound` past the last.
    /// Needs the read right.
    ProcessInfo = 38,
    /// `(introspect, pid, slot)` → `(slot, kind, rights, badge)`: the first capability in
    /// slot `slot` or above of process `pid`'s space. `NotFound` if there is none, or no such
    /// process. Needs the read right.
    CapRead = 39,
    /// `(notification, micros)`: arms the calling process's one timer: after at least
    /// `micros` microseconds (rounded up to the scheduler's ticks) the notification is
    /// signalled once (with its capability's badge, or bit 0 for an unbadged one). Arming
    /// again replaces the earlier deadline and notification; `micros` 0 disarms (the
    /// notification is then not looked at). Needs the write right.
    TimerSet = 40,
    /// → `(fast path on, general Calls, general ReplyRecvs)`: whether the IPC fast path is in
    /// use (0 with the boot flag `fastpath=off`), and how many `Call`s and `ReplyRecv`s since
    /// boot took the general path instead, the fast path's conditions not holding (or it
    /// being off). For tests that a call took the path they mean it to, and for the curious.
    IpcStats = 41,
    /// `(target, entry, stack, arg, dest)` → `(thread id, IPC buffer)`: a new thread in the
    /// caller's process (`SELF`) or in the started, live process of a Process capability with
    /// the write right. It starts at once at the caller's priority, in user mode at `entry`
    /// with `rsp = stack`, `rdi = arg` and `rsi` the address of its own IPC buffer: a fresh
    /// page the kernel maps in the process's buffer area
    /// ([`crate::layout::thread_ipc_buffer`]), whose first word holds its own address, and
    /// which the thread's FS base points at. The buffer page and the thread's kernel stack
    /// ([`THREAD_COST`] in all) are charged to the process's Memory quota. A Thread
    /// capability with all rights goes to the caller's slot `dest`. At most
    /// [`crate::layout::THREADS_MAX`] threads live in a process at once (`OutOfMemory`).
    ThreadCreate = 42,
    /// `(thread, priority)`: sets a thread's priority, which may not exceed the caller's
    /// (`InvalidArgument`). Takes effect at once, in the run queue too.
    ThreadPriority = 43,
    /// `(thread)`: stops a thread until `ThreadResume`. A system call it waits in (a receive,
    /// a call, a wait, a sleep) is given up: it returns `Interrupted` when the thread resumes,
    /// having done nothing. A thread may suspend itself; its call returns when it is resumed.
    /// Suspending a suspended thread does nothing.
    ThreadSuspend = 44,
    /// `(thread)`: lets a suspended thread run again; does nothing to one that is not.
    ThreadResume = 45,
    /// `(thread)`: ends a thread (`SELF`: the caller). Its IPC buffer is unmapped and freed,
    /// its kernel stack freed, its charge given back; its Thread capabilities name nothing
    /// from then on (`ObjectGone`). Ending the last thread of a process ends the process,
    /// as `Exit` with code 0 would.
    ThreadEnd = 46,
    /// `(introspect, buf, max)` → `(events, lost)`: copies up to `max` (at most
    /// [`crate::trace::TRACE_READ_MAX`]) of the IPC trace's oldest unread events ([`crate::trace`], [`crate::trace::EVENT_WORDS`] words each) to
    /// `buf`, and says how many it copied and how many were overwritten unread since the
    /// last read. Needs an Introspect capability with the read right; `InvalidArgument` when
    /// the kernel was booted without the `trace` flag.
    TraceRead = 47,
}

/// The reply "slot" of a `Recv` or `ReplyRecv` that names no slot: the receiving thread keeps
/// the answer it owes a caller, as seL4's threads keep their caller. Such an answer is given
/// by the thread's next `ReplyRecv` with it, or by `Send` on it (nothing kept, or a caller
/// gone: the answer is dropped); it cannot be moved or copied, and it is dropped (the caller
/// gets `ObjectGone`) if the thread receives again, with a reply slot or without, before it
/// gives it, or ends, or its process stops. The IPC fast path answers it without a
/// capability or object look-up, so it suits a server that answers each call before it takes
/// the next; one that answers later receives into a slot.
pub const REPLY_IN_THREAD: u64 = 0xffff_ffff;

/// What a thread costs its process's Memory quota: its IPC buffer page and its kernel stack.
pub const THREAD_COST: u64 = crate::layout::PAGE_SIZE * (1 + KERNEL_STACK_PAGES);

/// What a process's kernel records cost its Memory quota, in pages: its capability space
/// with every slot filled, each with an object of its own (so Reply objects and copies are
/// paid for), and its process and first thread's records. A process is charged, when it is
/// made, its program's pages, its stack and IPC buffer, its first thread's kernel stack
/// ([`KERNEL_STACK_PAGES`]), these pages, and the page tables its image needs; later page
/// tables are charged as `Map`, `FrameMap` and `ThreadCreate` make them. All of it stays
/// charged until the process ends.
pub const PROCESS_RECORD_PAGES: u64 = 24;

/// The pages of a thread's kernel stack (the kernel's own, counted here for [`THREAD_COST`]).
pub const KERNEL_STACK_PAGES: u64 = 16;

/// What `IpcStats` says: whether the fast path is on, and how many `Call`s and `ReplyRecv`s
/// took the general path since boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpcStats {
    pub fast_path: bool,
    pub general_calls: u64,
    pub general_reply_recvs: u64,
}

impl IpcStats {
    /// From the result registers of `IpcStats`.
    pub fn from_words([fast_path, general_calls, general_reply_recvs]: [u64; 3]) -> IpcStats {
        IpcStats { fast_path: fast_path != 0, general_calls, general_reply_recvs }
    }
}

/// What `ProcessInfo` says of a process: its state in bits 0–7, its priority in bits 8–15.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessState {
    pub state: RunState,
    pub priority: u8,
}

/// Where a process stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Running or ready to run.
    Ready = 0,
    /// Waiting: for a message, an answer, a notification, a child, the clock.
    Blocked = 1,
    /// Stopped on a fault, waiting for its supervisor.
    Faulted = 2,
    /// Made, not started.
    New = 3,
    /// Ended; kept while a handle can still ask how.
    Ended = 4,
}

impl RunState {
    pub const fn name(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Blocked => "blocked",
            RunState::Faulted => "faulted",
            RunState::New => "new",
            RunState::Ended => "ended",
        }
    }
}

impl ProcessState {
    pub const fn to_word(self) -> u64 {
        self.state as u64 | (self.priority as u64) << 8
    }

    pub fn from_word(word: u64) -> Result<ProcessState, Error> {
        let state = match word & 0xff {
            0 => RunState::Ready,
            1 => RunState::Blocked,
            2 => RunState::Faulted,
            3 => RunState::New,
            4 => RunState::Ended,
            _ => return Err(Error::InvalidArgument),
        };
        if word >> 16 != 0 {
            return Err(Error::InvalidArgument);
        }
        Ok(ProcessState { state, priority: (word >> 8) as u8 })
    }
}

impl Syscall {
    pub const ALL: [Syscall; 47] = [
        Syscall::Null,
        Syscall::DebugWrite,
        Syscall::Exit,
        Syscall::Yield,
        Syscall::Sleep,
        Syscall::Ticks,
        Syscall::Map,
        Syscall::Unmap,
        Syscall::Wait,
        Syscall::MemStats,
        Syscall::CapInspect,
        Syscall::CapCopy,
        Syscall::CapMint,
        Syscall::CapMove,
        Syscall::CapDelete,
        Syscall::CapRevoke,
        Syscall::Create,
        Syscall::ProcessCreate,
        Syscall::ProcessStart,
        Syscall::ProcessKill,
        Syscall::ProcessSetFault,
        Syscall::Send,
        Syscall::NbSend,
        Syscall::Call,
        Syscall::Recv,
        Syscall::ReplyRecv,
        Syscall::Signal,
        Syscall::NtfnWait,
        Syscall::Poll,
        Syscall::NtfnBind,
        Syscall::FrameMap,
        Syscall::IrqBind,
        Syscall::IrqAck,
        Syscall::IoPortsEnable,
        Syscall::ProcessNotifyExit,
        Syscall::ArchiveRead,
        Syscall::IoPortsDerive,
        Syscall::ProcessInfo,
        Syscall::CapRead,
        Syscall::TimerSet,
        Syscall::IpcStats,
        Syscall::ThreadCreate,
        Syscall::ThreadPriority,
        Syscall::ThreadSuspend,
        Syscall::ThreadResume,
        Syscall::ThreadEnd,
        Syscall::TraceRead,
    ];
}

impl TryFrom<u64> for Syscall {
    type Error = Error;

    #[inline]
    fn try_from(number: u64) -> Result<Self, Error> {
        Ok(match number {
            0 => Syscall::Null,
            1 => Syscall::DebugWrite,
            2 => Syscall::Exit,
            3 => Syscall::Yield,
            4 => Syscall::Sleep,
            5 => Syscall::Ticks,
            6 => Syscall::Map,
            7 => Syscall::Unmap,
            9 => Syscall::Wait,
            10 => Syscall::MemStats,
            11 => Syscall::CapInspect,
            12 => Syscall::CapCopy,
            13 => Syscall::CapMint,
            14 => Syscall::CapMove,
            15 => Syscall::CapDelete,
            16 => Syscall::CapRevoke,
            17 => Syscall::Create,
            18 => Syscall::ProcessCreate,
            19 => Syscall::ProcessStart,
            20 => Syscall::ProcessKill,
            21 => Syscall::ProcessSetFault,
            22 => Syscall::Send,
            23 => Syscall::NbSend,
            24 => Syscall::Call,
            25 => Syscall::Recv,
            26 => Syscall::ReplyRecv,
            27 => Syscall::Signal,
            28 => Syscall::NtfnWait,
            29 => Syscall::Poll,
            30 => Syscall::NtfnBind,
            31 => Syscall::FrameMap,
            32 => Syscall::IrqBind,
            33 => Syscall::IrqAck,
            34 => Syscall::IoPortsEnable,
            35 => Syscall::ProcessNotifyExit,
            36 => Syscall::ArchiveRead,
            37 => Syscall::IoPortsDerive,
            38 => Syscall::ProcessInfo,
            39 => Syscall::CapRead,
            40 => Syscall::TimerSet,
            41 => Syscall::IpcStats,
            42 => Syscall::ThreadCreate,
            43 => Syscall::ThreadPriority,
            44 => Syscall::ThreadSuspend,
            45 => Syscall::ThreadResume,
            46 => Syscall::ThreadEnd,
            47 => Syscall::TraceRead,
            _ => return Err(Error::UnknownSyscall),
        })
    }
}

/// The longest text one `DebugWrite` takes.
pub const DEBUG_WRITE_MAX: u64 = 4096;

/// The longest range one `Map` or `Unmap` takes (1 GiB): a call's work stays bounded.
pub const MAP_MAX: u64 = 1 << 30;

/// The longest program name and argument string `ProcessCreate` and `ProcessStart` take.
pub const SPAWN_NAME_MAX: u64 = 64;
pub const SPAWN_ARGS_MAX: u64 = 1024;

/// The longest file name `ArchiveRead` takes.
pub const ARCHIVE_NAME_MAX: u64 = 128;
/// The most bytes one `ArchiveRead` copies (64 KiB, 72 µs of the debug kernel under
/// `-icount shift=0`): the copy runs with interrupts off, so a larger file takes several
/// reads and a read's time is bounded whatever the files.
pub const ARCHIVE_READ_MAX: u64 = 64 << 10;

/// Scheduling priorities: 0 is the lowest, 255 the highest; the idle thread runs below all.
pub const PRIORITY_MAX: u64 = 255;
/// The priority boot programs get when the command line names none.
pub const PRIORITY_DEFAULT: u8 = 100;

/// Flags for [`Syscall::Map`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFlags(u64);

impl MapFlags {
    pub const READ: MapFlags = MapFlags(0);
    pub const WRITE: MapFlags = MapFlags(1);
    pub const EXECUTE: MapFlags = MapFlags(2);

    pub const fn bits(self) -> u64 {
        self.0
    }
    pub const fn union(self, other: MapFlags) -> MapFlags {
        MapFlags(self.0 | other.0)
    }
    pub const fn writable(self) -> bool {
        self.0 & MapFlags::WRITE.0 != 0
    }
    pub const fn executable(self) -> bool {
        self.0 & MapFlags::EXECUTE.0 != 0
    }
}

impl TryFrom<u64> for MapFlags {
    type Error = Error;

    /// Unknown bits, or writable together with executable, are refused.
    fn try_from(bits: u64) -> Result<Self, Error> {
        let flags = MapFlags(bits);
        if bits & !(MapFlags::WRITE.0 | MapFlags::EXECUTE.0) != 0 || (flags.writable() && flags.executable()) {
            return Err(Error::InvalidArgument);
        }
        Ok(flags)
    }
}

/// How a process ended, as [`Syscall::Wait`] reports it in two words `(kind, value)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Exited(u64),
    /// The kernel stopped it after a CPU exception with this vector.
    Faulted(u8),
    /// Another process ended it (`ProcessKill`).
    Killed,
}

impl ExitStatus {
    const EXITED: u64 = 0;
    const FAULTED: u64 = 1;
    const KILLED: u64 = 2;

    pub const fn to_words(self) -> (u64, u64) {
        match self {
            ExitStatus::Exited(code) => (Self::EXITED, code),
            ExitStatus::Faulted(vector) => (Self::FAULTED, vector as u64),
            ExitStatus::Killed => (Self::KILLED, 0),
        }
    }

    pub fn from_words(kind: u64, value: u64) -> Result<Self, Error> {
        match kind {
            Self::EXITED => Ok(ExitStatus::Exited(value)),
            Self::FAULTED => u8::try_from(value).map(ExitStatus::Faulted).map_err(|_| Error::InvalidArgument),
            Self::KILLED => Ok(ExitStatus::Killed),
            _ => Err(Error::InvalidArgument),
        }
    }
}

/// Splits a status register into success or the error it names. A code this library does not
/// know (a newer kernel) reads as [`Error::UnknownSyscall`]: the call was not understood.
#[inline]
pub fn status(rax: u64) -> Result<(), Error> {
    if rax == 0 {
        return Ok(());
    }
    Err(Error::try_from(rax).unwrap_or(Error::UnknownSyscall))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for call in Syscall::ALL {
            assert_eq!(Syscall::try_from(call as u64), Ok(call));
        }
        let numbers: Vec<u64> = Syscall::ALL.iter().map(|&c| c as u64).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "ALL is in number order");
    }

    #[test]
    fn process_states_round_trip() {
        for state in [RunState::Ready, RunState::Blocked, RunState::Faulted, RunState::New, RunState::Ended] {
            let s = ProcessState { state, priority: 200 };
            assert_eq!(ProcessState::from_word(s.to_word()), Ok(s));
        }
        assert!(ProcessState::from_word(9).is_err());
        assert!(ProcessState::from_word(1 << 20).is_err());
    }

    #[test]
    fn unknown_numbers_are_refused() {
        for n in [8, 48, 255, 1 << 32, u64::MAX, u64::MAX - 1] {
            assert_eq!(Syscall::try_from(n), Err(Error::UnknownSyscall), "{n}");
        }
    }

    #[test]
    fn map_flags_refuse_unknown_bits_and_write_with_execute() {
        assert_eq!(MapFlags::try_from(0), Ok(MapFlags::READ));
        assert_eq!(MapFlags::try_from(1), Ok(MapFlags::WRITE));
        assert_eq!(MapFlags::try_from(2), Ok(MapFlags::EXECUTE));
        assert_eq!(MapFlags::try_from(3), Err(Error::InvalidArgument));
        assert_eq!(MapFlags::try_from(4), Err(Error::InvalidArgument));
        assert_eq!(MapFlags::try_from(u64::MAX), Err(Error::InvalidArgument));
        assert_eq!(MapFlags::WRITE.union(MapFlags::EXECUTE).bits(), 3);
    }

    #[test]
    fn exit_status_round_trips_and_refuses_bad_words() {
        for s in [ExitStatus::Exited(0), ExitStatus::Exited(u64::MAX), ExitStatus::Faulted(14), ExitStatus::Faulted(0)]
        {
            let (k, v) = s.to_words();
            assert_eq!(ExitStatus::from_words(k, v), Ok(s));
        }
        assert_eq!(ExitStatus::from_words(1, 256), Err(Error::InvalidArgument));
        assert_eq!(ExitStatus::from_words(2, 0), Ok(ExitStatus::Killed));
        assert_eq!(ExitStatus::from_words(3, 0), Err(Error::InvalidArgument));
        assert_eq!(ExitStatus::from_words(u64::MAX, 0), Err(Error::InvalidArgument));
    }

    #[test]
    fn status_register_decodes() {
        assert_eq!(status(0), Ok(()));
        for e in Error::ALL {
            assert_eq!(status(e.code()), Err(e));
        }
        assert_eq!(status(9999), Err(Error::UnknownSyscall));
    }
}
