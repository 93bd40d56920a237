//! Round trips through Linux's own binder driver: the mechanism Seam's compat server stands
//! in for, measured the way the rest of the lab is.
//!
//! Debian's kernel builds binder as a module (`binder_linux`, one device, `/dev/binder`, no
//! binderfs); the guest's `/init` loads it and mounts devtmpfs. A forked child becomes the
//! context manager (handle 0) and answers every two-way transaction with the bytes it got, as
//! its reply, straight out of its receive buffer. This process is the client, speaking the
//! driver's protocol the way libbinder's `IPCThreadState` does: one `BINDER_WRITE_READ` that
//! writes `BC_TRANSACTION` (after the `BC_FREE_BUFFER` of the previous reply) and reads until
//! `BR_REPLY`, or, for a oneway call, until `BR_TRANSACTION_COMPLETE`.
//!
//! Names and numbers are those of the UAPI header `linux/android/binder.h` (protocol version
//! 8, 64-bit).

use super::check;
use std::io::{Error, Result};
use std::mem::size_of;
use std::os::fd::RawFd;

const DEVICE: &std::ffi::CStr = c"/dev/binder";
/// What libbinder maps for a process's receive buffers: 1 MiB less two pages.
const MAP_SIZE: usize = (1 << 20) - 2 * 4096;
const PROTOCOL_VERSION: i32 = 8;

/// The data sizes of the two-way figures: empty, then as much as a small and a larger Parcel.
pub const SIZES: [usize; 3] = [0, 32, 256];
/// A two-way transaction the context manager echoes; the oneway one it takes and frees; the
/// one that makes it exit.
pub const ECHO: u32 = 1;
pub const RECORD: u32 = 2;
const QUIT: u32 = 3;
/// `TF_ONE_WAY`.
const ONE_WAY: u32 = 0x01;

/// `struct binder_write_read`.
#[repr(C)]
#[derive(Default)]
struct WriteRead {
    write_size: u64,
    write_consumed: u64,
    write_buffer: u64,
    read_size: u64,
    read_consumed: u64,
    read_buffer: u64,
}

/// `struct binder_transaction_data` (64 bytes): `target` is a handle when sent, a node's
/// pointer when received; `buffer` and `offsets` are the data's addresses.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Transaction {
    target: u64,
    cookie: u64,
    code: u32,
    flags: u32,
    sender_pid: i32,
    sender_euid: u32,
    data_size: u64,
    offsets_size: u64,
    buffer: u64,
    offsets: u64,
}

/// Linux's `_IOC` encoding: direction, size, type, number.
const fn ioc(dir: u32, kind: u8, nr: u8, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((kind as u32) << 8) | nr as u32
}
const W: u32 = 1;
const R: u32 = 2;

const BINDER_WRITE_READ: u32 = ioc(R | W, b'b', 1, size_of::<WriteRead>());
const BINDER_SET_MAX_THREADS: u32 = ioc(W, b'b', 5, 4);
const BINDER_SET_CONTEXT_MGR: u32 = ioc(W, b'b', 7, 4);
const BINDER_VERSION: u32 = ioc(R | W, b'b', 9, 4);

const BC_TRANSACTION: u32 = ioc(W, b'c', 0, size_of::<Transaction>());
const BC_REPLY: u32 = ioc(W, b'c', 1, size_of::<Transaction>());
const BC_FREE_BUFFER: u32 = ioc(W, b'c', 3, 8);
const BC_ENTER_LOOPER: u32 = ioc(0, b'c', 12, 0);

const BR_TRANSACTION: u32 = ioc(R, b'r', 2, size_of::<Transaction>());
const BR_REPLY: u32 = ioc(R, b'r', 3, size_of::<Transaction>());
const BR_DEAD_REPLY: u32 = ioc(0, b'r', 5, 0);
const BR_TRANSACTION_COMPLETE: u32 = ioc(0, b'r', 6, 0);
const BR_NOOP: u32 = ioc(0, b'r', 12, 0);
const BR_SPAWN_LOOPER: u32 = ioc(0, b'r', 13, 0);
const BR_FAILED_REPLY: u32 = ioc(0, b'r', 17, 0);

/// The size of a command's or return's payload, from its `_IOC` encoding.
fn payload_size(code: u32) -> usize {
    ((code >> 16) & 0x3fff) as usize
}

/// One process's open binder device with its receive buffers mapped.
struct Binder {
    fd: RawFd,
    out: Vec<u8>,
    incoming: Vec<u8>,
}

impl Binder {
    fn open() -> Result<Binder> {
        // SAFETY: DEVICE is a NUL-terminated path; open reads nothing else.
        let fd = check(unsafe { libc::open(DEVICE.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        let binder = Binder { fd, out: Vec::with_capacity(256), incoming: vec![0; 256] };
        let mut version = 0i32;
        binder.ioctl(BINDER_VERSION, &mut version)?;
        if version != PROTOCOL_VERSION {
            return Err(Error::other(format!("binder protocol {version}, not {PROTOCOL_VERSION}")));
        }
        binder.ioctl(BINDER_SET_MAX_THREADS, &mut 0u32)?;
        // SAFETY: a fresh read-only private mapping of the device, at an address the kernel
        // picks; nothing of ours lives there. The driver fills it with received transactions.
        let map = unsafe {
            libc::mmap(std::ptr::null_mut(), MAP_SIZE, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_NORESERVE, fd, 0)
        };
        if map == libc::MAP_FAILED {
            return Err(Error::last_os_error());
        }
        Ok(binder)
    }

    fn ioctl<T>(&self, request: u32, arg: &mut T) -> Result<()> {
        // SAFETY: every request used here takes a pointer to a `T` of the size its encoding
        // names, and `arg` is a live, writable `T`.
        check(unsafe { libc::ioctl(self.fd, request as _, arg as *mut T) }).map(|_| ())
    }

    fn command(&mut self, code: u32, payload: &[u8]) {
        self.out.extend_from_slice(&code.to_ne_bytes());
        self.out.extend_from_slice(payload);
    }

    fn transaction(&mut self, code: u32, t: &Transaction) {
        // SAFETY: Transaction is plain integers with no padding (8+8+4+4+4+4+8+8+8+8 bytes),
        // so all of its bytes are initialised.
        let bytes =
            unsafe { std::slice::from_raw_parts((t as *const Transaction).cast::<u8>(), size_of::<Transaction>()) };
        self.command(code, bytes);
    }

    /// Writes the queued commands and reads what the driver has (waiting for something if it
    /// has nothing); the returns are then in `incoming[..n]`, n returned.
    fn write_read(&mut self) -> Result<usize> {
        let mut wr = WriteRead {
            write_size: self.out.len() as u64,
            write_buffer: self.out.as_ptr() as u64,
            read_size: self.incoming.len() as u64,
            read_buffer: self.incoming.as_mut_ptr() as u64,
            ..WriteRead::default()
        };
        loop {
            match self.ioctl(BINDER_WRITE_READ, &mut wr) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(()) => break,
            }
        }
        if wr.write_consumed != wr.write_size {
            return Err(Error::other("the binder driver did not take every command"));
        }
        self.out.clear();
        Ok(wr.read_consumed as usize)
    }

    /// The returns in `incoming[..len]`, each with its payload.
    fn returns(&self, len: usize) -> Vec<(u32, Transaction)> {
        let mut found = Vec::new();
        let mut at = 0;
        while at + 4 <= len {
            let code = u32::from_ne_bytes(self.incoming[at..at + 4].try_into().unwrap_or_default());
            at += 4;
            let size = payload_size(code);
            let mut t = Transaction::default();
            if size == size_of::<Transaction>() && at + size <= len {
                // SAFETY: the source holds `size` bytes of a binder_transaction_data the
                // driver wrote, and any bytes are a valid Transaction (plain integers).
                t = unsafe { std::ptr::read_unaligned(self.incoming[at..].as_ptr().cast::<Transaction>()) };
            }
            found.push((code, t));
            at += size;
        }
        found
    }
}

impl Drop for Binder {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this Binder owns (the mapping goes with the process).
        unsafe { libc::close(self.fd) };
    }
}

/// The client's side of the binder benchmarks, with the context-manager child it started.
pub struct Peer {
    binder: Binder,
    server: libc::pid_t,
    /// The reply buffer of the last call, freed with the next command as libbinder does.
    unfreed: Option<u64>,
}

impl Peer {
    /// Forks the context manager and opens this process's own binder. Fails if the driver is
    /// not there (the module did not load).
    pub fn start() -> Result<Peer> {
        let mut ready = [0; 2];
        // SAFETY: `ready` has room for the two descriptors pipe writes.
        check(unsafe { libc::pipe(ready.as_mut_ptr()) })?;
        // SAFETY: this process has one thread here, so the child may run any code.
        let pid = check(unsafe { libc::fork() })?;
        if pid == 0 {
            let status = match serve(ready[1]) {
                Ok(()) => 0,
                Err(e) => {
                    println!("bench: the binder context manager failed: {e}");
                    1
                }
            };
            // SAFETY: ends the child without running the parent's exit handlers twice.
            unsafe { libc::_exit(status) };
        }
        let mut byte = [0u8];
        // SAFETY: reading one byte into a live one-byte buffer; the descriptors are ours.
        let got = unsafe {
            libc::close(ready[1]);
            let n = libc::read(ready[0], byte.as_mut_ptr().cast(), 1);
            libc::close(ready[0]);
            n
        };
        if got != 1 {
            // SAFETY: `pid` is our child; a null status is allowed.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            return Err(Error::other("the context manager did not start (is binder_linux loaded?)"));
        }
        Ok(Peer { binder: Binder::open()?, server: pid, unfreed: None })
    }

    /// One transaction to handle 0 with `data`: two-way, until its reply (which must echo the
    /// data's size), or oneway, until the driver has queued it.
    pub fn call(&mut self, code: u32, data: &[u8], oneway: bool) -> Result<()> {
        if let Some(buffer) = self.unfreed.take() {
            self.binder.command(BC_FREE_BUFFER, &buffer.to_ne_bytes());
        }
        let t = Transaction {
            code,
            flags: if oneway { ONE_WAY } else { 0 },
            data_size: data.len() as u64,
            buffer: data.as_ptr() as u64,
            ..Transaction::default()
        };
        self.binder.transaction(BC_TRANSACTION, &t);
        loop {
            let n = self.binder.write_read()?;
            for (code, t) in self.binder.returns(n) {
                match code {
                    BR_NOOP | BR_SPAWN_LOOPER => {}
                    BR_TRANSACTION_COMPLETE if oneway => return Ok(()),
                    BR_TRANSACTION_COMPLETE => {}
                    BR_REPLY => {
                        self.unfreed = Some(t.buffer);
                        if t.data_size != data.len() as u64 {
                            return Err(Error::other(format!("a {}-byte reply to {} bytes", t.data_size, data.len())));
                        }
                        return Ok(());
                    }
                    BR_DEAD_REPLY => return Err(Error::other("BR_DEAD_REPLY")),
                    BR_FAILED_REPLY => return Err(Error::other("BR_FAILED_REPLY")),
                    other => return Err(Error::other(format!("unexpected binder return {other:#x}"))),
                }
            }
        }
    }

    /// The reply to the last two-way call, as bytes (for checking it once, not while timing).
    pub fn last_reply(&self, len: usize) -> Option<Vec<u8>> {
        // SAFETY: the driver wrote a reply of `len` bytes (checked in `call`) at this address
        // of our read-only mapping, and it stays there until we free it.
        self.unfreed.map(|at| unsafe { std::slice::from_raw_parts(at as *const u8, len) }.to_vec())
    }

    /// Tells the context manager to end, and waits for it.
    pub fn stop(mut self) -> Result<()> {
        let result = self.call(QUIT, &[], false);
        let mut status = 0;
        // SAFETY: `server` is our child; `status` is a valid place for its status.
        unsafe { libc::waitpid(self.server, &mut status, 0) };
        result?;
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(Error::other("the binder context manager failed"));
        }
        Ok(())
    }
}

/// The context manager: answers each two-way transaction with its own data and frees each
/// buffer once answered (a oneway one at once), until QUIT. Writes a byte to `ready` once it
/// is handle 0.
fn serve(ready: RawFd) -> Result<()> {
    let mut binder = Binder::open()?;
    binder.ioctl(BINDER_SET_CONTEXT_MGR, &mut 0i32)?;
    // SAFETY: writing one byte from a live buffer to the pipe our parent reads.
    unsafe {
        libc::write(ready, [1u8].as_ptr().cast(), 1);
        libc::close(ready);
    }
    binder.command(BC_ENTER_LOOPER, &[]);
    let mut quit = false;
    loop {
        let n = binder.write_read()?;
        if quit {
            return Ok(());
        }
        for (code, t) in binder.returns(n) {
            match code {
                BR_NOOP | BR_SPAWN_LOOPER | BR_TRANSACTION_COMPLETE => {}
                BR_TRANSACTION if t.flags & ONE_WAY != 0 => binder.command(BC_FREE_BUFFER, &t.buffer.to_ne_bytes()),
                BR_TRANSACTION => {
                    // The reply is the request: the driver copies it out of our mapping
                    // before the buffer is freed by the next command.
                    let len = if t.code == ECHO { t.data_size } else { 0 };
                    let reply = Transaction { data_size: len, buffer: t.buffer, ..Transaction::default() };
                    binder.transaction(BC_REPLY, &reply);
                    binder.command(BC_FREE_BUFFER, &t.buffer.to_ne_bytes());
                    quit |= t.code == QUIT;
                }
                BR_FAILED_REPLY | BR_DEAD_REPLY => {}
                other => return Err(Error::other(format!("unexpected binder return {other:#x}"))),
            }
        }
    }
}
