//! Threads of this process: [`spawn`] runs a closure on a new thread, with its own stack and
//! IPC buffer, at the caller's priority; [`Thread::join`] waits for it to end and gives its
//! stack back.
//!
//! Each thread's stack is a slot of the stack area: [`STACK_PAGES`] pages mapped at the top
//! of [`STACK_STRIDE`] bytes, the rest left unmapped, so an overflow faults. The first
//! thread keeps the stack the kernel gave the process.

use crate::bits;
use crate::cap;
use crate::sys;
use alloc::boxed::Box;
use core::sync::atomic::AtomicU64;
use ipc::cap::{Kind, Slot, SELF};
use ipc::layout::{PAGE_SIZE, THREADS_MAX};
use ipc::syscall::MapFlags;
use ipc::Error;

/// A lock between this process's threads: a waiter sleeps a tick at a time, so that a holder
/// of lower priority gets the CPU to finish (spinning would keep it off for ever).
pub type Mutex<T> = spin::mutex::SpinMutex<T, Sleep>;

/// How a [`Mutex`] waits: by sleeping a tick.
pub struct Sleep;

impl spin::RelaxStrategy for Sleep {
    fn relax() {
        sys::sleep(1);
    }
}

/// Where the stack area starts: far from the image, the heap and the windows rt maps.
const STACK_AREA: u64 = 0x0000_4000_0000_0000;
/// The space each thread's stack slot takes; only its top [`STACK_PAGES`] are mapped.
pub const STACK_STRIDE: u64 = 1 << 20;
pub const STACK_PAGES: u64 = 16;

/// Which stack slots are taken: one bit each.
static TAKEN: [AtomicU64; (THREADS_MAX / 64) as usize] = [const { AtomicU64::new(0) }; (THREADS_MAX / 64) as usize];

/// A stack slot: its number, and the top of its stack.
struct Stack(u64);

impl Stack {
    fn take() -> Result<Stack, Error> {
        let stack = Stack(bits::take(&TAKEN, 0..THREADS_MAX).ok_or(Error::OutOfMemory)?);
        let bottom = stack.top() - STACK_PAGES * PAGE_SIZE;
        match sys::map(bottom, STACK_PAGES * PAGE_SIZE, MapFlags::WRITE) {
            Ok(()) => Ok(stack),
            Err(e) => {
                bits::free(&TAKEN, stack.0);
                Err(e)
            }
        }
    }

    fn top(&self) -> u64 {
        STACK_AREA + (self.0 + 1) * STACK_STRIDE
    }

    /// Unmaps the stack and frees the slot; its thread must have ended.
    fn free(self) {
        let bottom = self.top() - STACK_PAGES * PAGE_SIZE;
        // SAFETY: the stack's thread has ended, and nothing else refers to its pages.
        let _ = unsafe { sys::unmap(bottom, STACK_PAGES * PAGE_SIZE) };
        bits::free(&TAKEN, self.0);
    }
}

/// What a new thread runs: the closure, and the notification it signals when it returns.
struct Start {
    body: Box<dyn FnOnce() + Send>,
    done: Slot,
}

/// A thread [`spawn`] started.
pub struct Thread {
    slot: Slot,
    id: u64,
    done: Slot,
    stack: Stack,
}

/// Runs `body` on a new thread of this process, at the caller's priority. Makes a
/// notification for its end (so the process needs its Memory capability, as for
/// [`cap::create`]); the thread's stack is charged to the process's quota, as `Map` is.
pub fn spawn(body: impl FnOnce() + Send + 'static) -> Result<Thread, Error> {
    let done = cap::create(Kind::Notification, 0)?;
    let slot = cap::alloc().inspect_err(|_| cap::release(done))?;
    let stack = Stack::take().inspect_err(|_| {
        cap::release(done);
        cap::free(slot);
    })?;
    let start = Box::into_raw(Box::new(Start { body: Box::new(body), done }));
    // The stack pointer as just after a `call`: 16-byte aligned minus the return address.
    let rsp = stack.top() - 8;
    // SAFETY: `thread_start` takes exactly a `Start` pointer in `rdi` and runs on a stack that
    // is its own until it ends (`join` frees it only after).
    let created = unsafe { sys::thread_create(SELF, thread_start as *const () as u64, rsp, start as u64, slot) };
    match created {
        Ok((id, _)) => Ok(Thread { slot, id, done, stack }),
        Err(e) => {
            // SAFETY: the thread was not made, so the Start is still only ours.
            drop(unsafe { Box::from_raw(start) });
            stack.free();
            cap::free(slot);
            cap::release(done);
            Err(e)
        }
    }
}

/// Where a spawned thread begins.
extern "C" fn thread_start(start: *mut Start) -> ! {
    // SAFETY: `spawn` passed a Start it made with `Box::into_raw` and gave up.
    let Start { body, done } = *unsafe { Box::from_raw(start) };
    body();
    let _ = sys::signal(done);
    sys::thread_exit()
}

impl Thread {
    /// The slot of its Thread capability (for `sys::thread_priority`, suspend, resume).
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// Its thread id, as the kernel numbers threads.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Waits until the closure has returned and the thread has ended, then frees its stack.
    pub fn join(self) -> Result<(), Error> {
        sys::ntfn_wait(self.done)?;
        // Its closure returned; it ends in its next system call. Wait until it has (its
        // capability then names nothing): it may be below us, so sleep, not spin.
        loop {
            match sys::thread_resume(self.slot) {
                Err(Error::ObjectGone) => break,
                Ok(()) => sys::sleep(1),
                Err(e) => return Err(e),
            }
        }
        self.stack.free();
        cap::release(self.slot);
        cap::release(self.done);
        Ok(())
    }
}
