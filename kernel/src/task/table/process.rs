//! A process in the table: its threads, its IPC buffer numbers, what it charged, and what
//! it holds outside the capability system (mapped Frames, its I/O bitmap, its timers).

use super::Tid;
use crate::cap::{ObjId, SpaceId};
use crate::mem::space::AddressSpace;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::syscall::ExitStatus;

const BUFFER_WORDS: usize = ipc::layout::THREADS_MAX.div_ceil(64) as usize;

impl Process {
    /// Whether it was started and has neither ended nor stopped on a fault: its threads may
    /// run.
    pub fn is_running(&self) -> bool {
        self.started && self.status.is_none() && self.fault.is_none()
    }

    /// Takes the lowest free IPC buffer number, if one is left.
    pub fn take_buffer(&mut self) -> Option<u64> {
        let (word, bits) = self.buffers.iter_mut().enumerate().find(|(_, bits)| **bits != u64::MAX)?;
        let bit = bits.trailing_ones();
        *bits |= 1 << bit;
        Some(word as u64 * 64 + u64::from(bit))
    }

    pub fn free_buffer(&mut self, index: u64) {
        self.buffers[(index / 64) as usize] &= !(1 << (index % 64));
    }
}

/// A Frame mapped in a process: where, and how many of its pages are still mapped there.
pub struct FrameMapping {
    pub frame: ObjId,
    pub start: u64,
    pub mapped: u64,
}

pub struct Process {
    pub name: String,
    /// Its threads: the first from `ProcessStart`, more from `ThreadCreate`; none before it
    /// starts or once it has ended.
    pub threads: Vec<Tid>,
    /// Whether it was started (it may have ended since).
    pub started: bool,
    /// Set when one of its threads stopped on a CPU exception: every thread of it is stopped
    /// for good, and this is how it ends.
    pub fault: Option<ExitStatus>,
    /// Which of its thread IPC buffers (`ipc::layout::thread_ipc_buffer`) are in use: bit `i`
    /// of word `i / 64` for buffer `i`.
    pub buffers: [u64; BUFFER_WORDS],
    /// Taken when the process ends; freed once its thread is off the CPU.
    pub space: Option<AddressSpace>,
    pub cspace: SpaceId,
    /// The quota its pages are charged to (a reference is held), and how much it charged.
    pub memory: Option<ObjId>,
    pub charged: u64,
    /// Shared Frames it has mapped: each mapping holds a reference to its Frame until its
    /// last page is unmapped or the process ends.
    pub frames: Vec<FrameMapping>,
    pub priority: u8,
    /// Set when the process has ended.
    pub status: Option<ExitStatus>,
    /// Threads waiting for it to end.
    pub joiners: Vec<Tid>,
    /// Whether a Process object (a handle) names it; an ended process without one is removed.
    pub handle: bool,
    pub ipc_buffer: u64,
    /// Where its program starts (from the ELF header, read at creation).
    pub entry: u64,
    /// The notification (held) and badge its end signals.
    pub exit_signal: Option<(ObjId, u64)>,
    /// The notification (and badge) its armed timer signals (`TimerSet`).
    pub timer: Option<(ObjId, u64)>,
    /// The I/O ports it may use, as a TSS I/O permission bitmap.
    pub io_bitmap: Option<Box<crate::arch::gdt::IoBitmap>>,
}

/// A new thread's IPC buffer: its number in the process's buffer area and the physical
/// address of its page.
pub struct ThreadBuffer {
    pub index: u64,
    pub phys: u64,
}

/// What the thread with IPC buffer number `index` cost its process's quota: nothing for the
/// first (number 0: its buffer is part of the image and its stack of the process), the
/// buffer page and kernel stack for the others.
pub fn thread_cost(index: u64) -> u64 {
    if index == 0 {
        0
    } else {
        ipc::syscall::THREAD_COST
    }
}
