//! Capability slots and processes: which slots are free, the IPC buffer, and starting a child
//! with exactly the capabilities it should have.

use crate::sys;
use core::sync::atomic::AtomicU64;
use ipc::cap::{init_slots, Kind, Rights, Slot, CSPACE_SLOTS, GIVEN_SLOTS};
use ipc::msg::{IpcBuffer, CAPS_MAX, MSG_MAX_WORDS};
use ipc::Error;

/// One bit per slot from `GIVEN_SLOTS` on; a set bit is taken. (Slots below are where this
/// process's creator put what it was given.)
static TAKEN: [AtomicU64; (CSPACE_SLOTS / 64) as usize] = [const { AtomicU64::new(0) }; (CSPACE_SLOTS / 64) as usize];

/// A free slot, now taken.
pub fn alloc() -> Result<Slot, Error> {
    crate::bits::take(&TAKEN, GIVEN_SLOTS..CSPACE_SLOTS).ok_or(Error::OutOfMemory)
}

/// Gives a slot from [`alloc`] back (after its capability was deleted or moved away).
pub fn free(slot: Slot) {
    if (GIVEN_SLOTS..CSPACE_SLOTS).contains(&slot) {
        crate::bits::free(&TAKEN, slot);
    }
}

/// The calling thread's IPC buffer: the kernel points each thread's FS base at its own and
/// writes the buffer's address in its first word (`IpcBuffer::address`).
pub fn buffer() -> *mut IpcBuffer {
    let address: u64;
    // SAFETY: reads one word at FS base, which the kernel sets for every thread to its IPC
    // buffer, a page mapped for as long as the thread lives.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) address, options(nostack, readonly, preserves_flags))
    };
    address as *mut IpcBuffer
}

/// Message word `i` (`MSG_REGS <= i < MSG_MAX_WORDS`) in the IPC buffer.
pub fn set_word(i: usize, value: u64) {
    assert!(i < MSG_MAX_WORDS);
    // SAFETY: `buffer()` is this thread's own IPC buffer, mapped while it lives; no other
    // thread uses it.
    unsafe { core::ptr::addr_of_mut!((*buffer()).words[i]).write_volatile(value) }
}

pub fn word(i: usize) -> u64 {
    assert!(i < MSG_MAX_WORDS);
    // SAFETY: as in `set_word`.
    unsafe { core::ptr::addr_of!((*buffer()).words[i]).read_volatile() }
}

/// Writes `words` into the IPC buffer as message words `from..`, at once: a long message's
/// words past the registers.
pub fn set_words(from: usize, words: &[u64]) {
    assert!(from <= MSG_MAX_WORDS && words.len() <= MSG_MAX_WORDS - from);
    // SAFETY: as in `set_word`; the range is inside the buffer's words (checked). The buffer
    // is this thread's alone, and the kernel reads it only in a system call, which the
    // compiler takes as reading memory, so the writes happen before it.
    unsafe {
        let to = core::ptr::addr_of_mut!((*buffer()).words).cast::<u64>().add(from);
        core::ptr::copy_nonoverlapping(words.as_ptr(), to, words.len());
    }
}

/// Reads message words `from..from + into.len()` of the IPC buffer into `into`, at once.
pub fn words(from: usize, into: &mut [u64]) {
    assert!(from <= MSG_MAX_WORDS && into.len() <= MSG_MAX_WORDS - from);
    // SAFETY: as in `set_words`; what the kernel wrote in a system call is in memory when it
    // returns.
    unsafe {
        let at = core::ptr::addr_of!((*buffer()).words).cast::<u64>().add(from);
        core::ptr::copy_nonoverlapping(at, into.as_mut_ptr(), into.len());
    }
}

/// The slot of the `i`th capability the next send transfers.
pub fn set_send_cap(i: usize, slot: Slot) {
    assert!(i < CAPS_MAX);
    // SAFETY: as in `set_word`.
    unsafe { core::ptr::addr_of_mut!((*buffer()).send_caps[i]).write_volatile(slot) }
}

/// The empty slot where the `i`th capability of the next message received goes.
pub fn set_recv_slot(i: usize, slot: Slot) {
    assert!(i < CAPS_MAX);
    // SAFETY: as in `set_word`.
    unsafe { core::ptr::addr_of_mut!((*buffer()).recv_slots[i]).write_volatile(slot) }
}

/// A capability to give a child: from this process's slot `from`, to the child's slot `to`,
/// with `rights`.
#[derive(Clone, Copy, Debug)]
pub struct Grant {
    pub from: Slot,
    pub to: Slot,
    pub rights: Rights,
}

impl Grant {
    pub const fn new(from: Slot, to: Slot, rights: Rights) -> Grant {
        Grant { from, to, rights }
    }
}

/// A started child process.
#[derive(Clone, Copy, Debug)]
pub struct Spawned {
    /// The slot of its Process capability.
    pub slot: Slot,
    pub pid: u64,
}

/// Starts boot program `name` with `args` at `priority`, holding exactly `grants`. Needs
/// this process's Memory and Archive capabilities in their usual slots. Returns the slot of
/// the child's Process capability.
pub fn spawn(name: &str, args: &str, priority: u8, grants: &[Grant]) -> Result<Slot, Error> {
    spawn_with(name, args, priority, grants, |_| Ok(())).map(|s| s.slot)
}

/// As [`spawn`], and `setup` gets the child's Process capability slot before the child
/// starts (to give it a fault endpoint, a death notice, ...). On any error the child is
/// deleted unstarted.
pub fn spawn_with(
    name: &str,
    args: &str,
    priority: u8,
    grants: &[Grant],
    setup: impl FnOnce(Slot) -> Result<(), Error>,
) -> Result<Spawned, Error> {
    spawn_from(init_slots::MEMORY, name, args, priority, grants, setup)
}

/// As [`spawn_with`], with the child's image charged to the Memory capability in `memory`.
pub fn spawn_from(
    memory: Slot,
    name: &str,
    args: &str,
    priority: u8,
    grants: &[Grant],
    setup: impl FnOnce(Slot) -> Result<(), Error>,
) -> Result<Spawned, Error> {
    let slot = alloc()?;
    let started = (|| {
        sys::process_create(memory, init_slots::ARCHIVE, name, slot)?;
        for g in grants {
            sys::cap_copy(g.from, g.to, g.rights, slot)?;
        }
        setup(slot)?;
        sys::process_start(slot, args, priority)
    })();
    match started {
        Ok(pid) => Ok(Spawned { slot, pid }),
        Err(e) => {
            release(slot);
            Err(e)
        }
    }
}

/// Mints a copy of `src` with the write right and `badge` into a fresh slot; returns the
/// slot (e.g. a badged copy of a notification, which signals that badge's bits).
pub fn badged(src: Slot, badge: u64) -> Result<Slot, Error> {
    let slot = alloc()?;
    match sys::cap_mint(src, slot, Rights::WRITE, badge, ipc::cap::SELF) {
        Ok(()) => Ok(slot),
        Err(e) => {
            free(slot);
            Err(e)
        }
    }
}

/// Mints a copy of `src` with the write right and `badge` into a scratch slot, hands that
/// slot to `use_it` (which copies it somewhere), and deletes the scratch copy.
pub fn with_badged(src: Slot, badge: u64, use_it: impl FnOnce(Slot) -> Result<(), Error>) -> Result<(), Error> {
    let scratch = badged(src, badge)?;
    let result = use_it(scratch);
    release(scratch);
    result
}

/// Makes an object of `kind` (`size`: pages of a Frame, bytes of a Memory) from this
/// process's Memory capability, in a fresh slot; returns the slot.
pub fn create(kind: Kind, size: u64) -> Result<Slot, Error> {
    let slot = alloc()?;
    sys::create(init_slots::MEMORY, kind, slot, size).inspect_err(|_| free(slot))?;
    Ok(slot)
}

/// The whole of boot-archive file `name`, read through the Archive capability in `archive`
/// (a read at a time: each copies at most [`ipc::syscall::ARCHIVE_READ_MAX`] bytes).
pub fn read_file(archive: Slot, name: &str) -> Result<alloc::vec::Vec<u8>, Error> {
    let (len, _) = sys::archive_read(archive, name, &mut [], 0)?;
    let mut bytes = alloc::vec![0; len as usize];
    let mut done = 0;
    while done < bytes.len() {
        let (_, copied) = sys::archive_read(archive, name, &mut bytes[done..], done as u64)?;
        if copied == 0 {
            break;
        }
        done += copied;
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// Deletes a capability and frees its slot.
pub fn release(slot: Slot) {
    let _ = sys::cap_delete(slot);
    free(slot);
}
