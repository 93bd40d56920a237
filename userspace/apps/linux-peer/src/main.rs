//! `linux-peer [ITERS]`: the Linux side of `cargo xtask bench --peer linux`. It runs as the
//! only program of a Linux guest started in the same QEMU configuration as Seam's benchmark,
//! and measures, with the same `rdtsc` method ([`bench_stats`]), the round trips Seam's IPC is
//! compared with:
//! - `linux_getpid`: the `getpid` system call (a raw `syscall`, never a cached value): the
//!   floor any Linux IPC pays, next to Seam's `null_syscall`;
//! - `linux_futex_rtt`: two threads of this process hand a turn back and forth through one
//!   futex word (`FUTEX_WAIT`/`FUTEX_WAKE`, private): the cheapest blocking hand-off;
//! - `linux_pipe_rtt`: one byte to a child process through a pipe and one byte back through
//!   another; `linux_pipe_rtt_<size>` the same with `size`-byte messages, echoed whole;
//! - `linux_unix_rtt`: one byte each way over a `socketpair(AF_UNIX, SOCK_STREAM)` with a
//!   child process;
//! - `linux_binder_rtt`: an empty two-way transaction through Linux's binder driver to a
//!   context manager in a child process, until its reply; `linux_binder_rtt_<size>` the same
//!   with `size` bytes of data, echoed as the reply; `linux_binder_oneway` a oneway
//!   transaction with four bytes, until the driver has queued it ([`binder`]).
//!
//! Each result is one `bench:` line; `bench: done` ends the run.

mod binder;

use bench_stats::{measure, Line, Summary, PAYLOAD_SIZES};
use std::io::{Error, Result};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

const DEFAULT_ITERS: usize = 100_000;

fn main() {
    let iters = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS);
    match run(iters) {
        Ok(()) => println!("bench: done"),
        Err(e) => {
            println!("bench: failed: {e}");
            std::process::exit(1);
        }
    }
}

fn run(iters: usize) -> Result<()> {
    println!("bench: kernel {}", kernel_release()?);
    let overhead = bench_stats::overhead(iters);
    println!("bench: rdtsc overhead {overhead} cycles (subtracted)");
    let report = |name: &str, samples: Vec<u64>| {
        if let Some(summary) = Summary::of(samples, overhead, 1) {
            println!("{}", Line(name, summary));
        }
    };
    report(
        "linux_getpid",
        measure(iters, || {
            // SAFETY: getpid takes no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }),
    );
    report("linux_futex_rtt", futex_rtt(iters)?);
    report("linux_pipe_rtt", ping_pong(iters, 1, Channel::pipes()?)?);
    report("linux_unix_rtt", ping_pong(iters, 1, Channel::socketpair()?)?);
    for size in PAYLOAD_SIZES {
        report(&format!("linux_pipe_rtt_{size}"), ping_pong(iters, size, Channel::pipes()?)?);
    }
    match binder::Peer::start() {
        Ok(peer) => binder_figures(iters, peer, &report)?,
        Err(e) => println!("bench: no binder figures: {e}"),
    }
    Ok(())
}

/// The binder figures, through `peer`: two-way calls of each size, then oneway calls.
fn binder_figures(iters: usize, mut peer: binder::Peer, report: &impl Fn(&str, Vec<u64>)) -> Result<()> {
    for size in binder::SIZES {
        let data: Vec<u8> = (0..size).map(|i| i as u8 ^ 0x5a).collect();
        peer.call(binder::ECHO, &data, false)?;
        if peer.last_reply(size).as_deref() != Some(&data[..]) {
            return Err(Error::other(format!("the {size}-byte binder echo came back different")));
        }
        let mut result = Ok(());
        let samples = measure(iters, || {
            if result.is_ok() {
                result = peer.call(binder::ECHO, &data, false);
            }
        });
        result?;
        let name = if size == 0 { "linux_binder_rtt".to_string() } else { format!("linux_binder_rtt_{size}") };
        report(&name, samples);
    }
    let mut n = 0u32;
    let mut result = Ok(());
    let samples = measure(iters, || {
        if result.is_ok() {
            result = peer.call(binder::RECORD, &n.to_ne_bytes(), true);
            n += 1;
        }
    });
    result?;
    report("linux_binder_oneway", samples);
    peer.stop()
}

fn kernel_release() -> Result<String> {
    // SAFETY: utsname is plain bytes, so all-zero is a valid value; uname fills it in.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid, writable utsname.
    check(unsafe { libc::uname(&mut name) })?;
    let bytes: Vec<u8> = name.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn check(ret: libc::c_int) -> Result<libc::c_int> {
    if ret < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Odd: the partner thread's turn; even: the measuring thread's.
static TURN: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

fn futex(word: &AtomicU32, op: libc::c_int, value: u32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call; FUTEX_WAIT and
    // FUTEX_WAKE read no other argument than the ones given (no timeout: null).
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, value, std::ptr::null::<libc::timespec>()) };
}

/// Blocks until `ready` holds for the word's value, and returns that value.
fn wait_until(word: &AtomicU32, ready: impl Fn(u32) -> bool) -> u32 {
    loop {
        let seen = word.load(Ordering::Acquire);
        if ready(seen) {
            return seen;
        }
        // Sleeps only while the word still holds `seen`, so a wake cannot be lost.
        futex(word, libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, seen);
    }
}

fn pass_turn(to: u32) {
    TURN.store(to, Ordering::Release);
    futex(&TURN, libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
}

/// One round trip: give the partner thread the turn, wait for it back.
fn futex_rtt(iters: usize) -> Result<Vec<u64>> {
    let partner = std::thread::Builder::new().spawn(|| loop {
        let turn = wait_until(&TURN, |t| t % 2 == 1);
        if STOP.load(Ordering::Acquire) {
            return;
        }
        pass_turn(turn + 1);
    })?;
    let samples = measure(iters, || {
        let next = TURN.load(Ordering::Relaxed) + 1;
        pass_turn(next);
        wait_until(&TURN, |t| t % 2 == 0);
    });
    STOP.store(true, Ordering::Release);
    pass_turn(TURN.load(Ordering::Relaxed) + 1);
    partner.join().map_err(|_| Error::other("the futex partner thread panicked"))?;
    Ok(samples)
}

/// The file descriptors of a two-way byte channel between this process (parent) and a
/// forked child.
struct Channel {
    parent_read: RawFd,
    parent_write: RawFd,
    child_read: RawFd,
    child_write: RawFd,
}

impl Channel {
    /// Two pipes, one each way.
    fn pipes() -> Result<Channel> {
        let (mut down, mut up) = ([0; 2], [0; 2]);
        // SAFETY: each array has room for the two descriptors pipe writes.
        check(unsafe { libc::pipe(down.as_mut_ptr()) })?;
        // SAFETY: as above.
        check(unsafe { libc::pipe(up.as_mut_ptr()) })?;
        Ok(Channel { parent_read: up[0], parent_write: down[1], child_read: down[0], child_write: up[1] })
    }

    /// One connected pair of unix stream sockets, each end used both ways.
    fn socketpair() -> Result<Channel> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        check(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) })?;
        Ok(Channel { parent_read: fds[0], parent_write: fds[0], child_read: fds[1], child_write: fds[1] })
    }

    fn close(fds: &[RawFd]) {
        let mut fds = fds.to_vec();
        fds.dedup();
        for fd in fds {
            // SAFETY: closing descriptors this process owns and no longer uses.
            unsafe { libc::close(fd) };
        }
    }
}

/// Moves all of `buf` through `fd` with `op` (read or write), however many calls it takes.
/// False on an error or end of file.
fn transfer(fd: RawFd, buf: &mut [u8], write: bool) -> bool {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is a live buffer of `rest.len()` bytes, readable and writable.
        let n = unsafe {
            if write {
                libc::write(fd, rest.as_ptr().cast(), rest.len())
            } else {
                libc::read(fd, rest.as_mut_ptr().cast(), rest.len())
            }
        };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

/// Round trips of `size`-byte messages with a forked child that echoes each one whole.
fn ping_pong(iters: usize, size: usize, ch: Channel) -> Result<Vec<u64>> {
    // SAFETY: this process has one thread here (the futex partner was joined), so the child
    // may run any code; it only reads, writes and exits.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        Channel::close(&[ch.parent_read, ch.parent_write]);
        let mut buf = vec![0u8; size];
        while transfer(ch.child_read, &mut buf, false) && transfer(ch.child_write, &mut buf, true) {}
        // SAFETY: ends the child without running the parent's exit handlers twice.
        unsafe { libc::_exit(0) };
    }
    Channel::close(&[ch.child_read, ch.child_write]);
    let mut buf = vec![0x5a_u8; size];
    let mut ok = true;
    let samples = measure(iters, || {
        ok &= transfer(ch.parent_write, &mut buf, true) && transfer(ch.parent_read, &mut buf, false);
    });
    // Closing our ends gives the child end of file; then it exits.
    Channel::close(&[ch.parent_read, ch.parent_write]);
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid place for its status.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if !ok {
        return Err(Error::other(format!("the {size}-byte echo child stopped answering")));
    }
    Ok(samples)
}
