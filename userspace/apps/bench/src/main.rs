//! `bench [ITERS]`: the first latency figures, in TSC cycles, measured with `rdtsc` around
//! each operation after a warm-up:
//! - `null_syscall`: the round trip of the `Null` call;
//! - `yield_switch`: one switch between two processes that yield to each other (half of a
//!   measured yield round trip, which takes two switches).
//!
//! - `ipc_call_reply_0w`: a `Call` with no message words to a server in another process
//!   and its `ReplyRecv` answer, the whole round trip as the client sees it;
//! - `ipc_call_reply_regs`: the same with all four register words each way;
//! - `ipc_call_reply_buf64`: with 64 more words each way through the IPC buffers;
//! - `ipc_call_reply_cap`: the call transfers one capability (the server deletes it before
//!   answering, which is in the figure);
//! - `notify_signal_wait`: a round trip of signals: this process signals the server's
//!   notification and waits on its own, which the server signals once it has woken;
//! - `ipc_call_reply_0w_200idle`: `ipc_call_reply_0w` again with 200 more processes, each
//!   blocked on an endpoint of its own: does the IPC path scale with the process count?
//!
//! The cost of the `rdtsc` pair itself (its minimum) is measured and subtracted. Each result
//! is printed as one `bench:` line that `cargo xtask bench` turns into its table and JSON.
//! `bench partner N`, `bench ipc-server`, `bench ntfn-server` and `bench idle` are the
//! partner processes, started by the measuring one.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::arch::x86_64::{__rdtscp, _mm_lfence, _rdtsc};
use rt::cap::{self, Grant};
use rt::ipc::cap::{Kind, Rights, Slot};
use rt::ipc::msg::{MsgInfo, MSG_REGS};
use rt::ipc::syscall::PRIORITY_DEFAULT;
use rt::ipc::Error;
use rt::println;
use rt::sys::{self, Msg};

rt::main!(main);

const DEFAULT_ITERS: usize = 100_000;
const WARM_UP: usize = 1_000;

const QUIT: u32 = 2;
/// Slots where a partner finds what it was given.
const GIVEN: Slot = 2;

fn main(args: rt::Args) -> u64 {
    match args.get(0) {
        Some("partner") => {
            let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            for _ in 0..n {
                sys::yield_now();
            }
            return 0;
        }
        Some("ipc-server") => return ipc_server(),
        Some("ntfn-server") => return ntfn_server(),
        Some("idle") => return u64::from(sys::recv(GIVEN, GIVEN + 1).is_err()),
        _ => {}
    }
    let iters = args.get(0).and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_ITERS);
    let overhead = measure(iters, || {}).into_iter().min().unwrap_or(0);
    println!("bench: rdtsc overhead {overhead} cycles (subtracted)");

    let null = measure(iters, || {
        let _ = sys::null();
    });
    report("null_syscall", null, overhead, 1);

    // The partner yields as often as we do, and a little more, so each of our yields finds it
    // ready; it is at our priority, so a yield switches to it and its yield switches back.
    let partner_args = alloc::format!("partner {}", WARM_UP + iters + 16);
    let Ok(partner) = rt::cap::spawn("bench", &partner_args, PRIORITY_DEFAULT, &[]) else {
        println!("bench: cannot start the partner process");
        return 1;
    };
    let switch = measure(iters, sys::yield_now);
    report("yield_switch", switch, overhead, 2);
    let _ = sys::wait(partner);

    match ipc_benches(iters, overhead) {
        Ok(()) => 0,
        Err(e) => {
            println!("bench: IPC benchmarks failed: {e}");
            1
        }
    }
}

fn ipc_benches(iters: usize, overhead: u64) -> Result<(), Error> {
    let ep = cap::create(Kind::Endpoint, 0)?;
    let server = cap::spawn("bench", "ipc-server", PRIORITY_DEFAULT, &[Grant::new(ep, GIVEN, Rights::READ)])?;
    let call = |m: &Msg| {
        let _ = sys::call_ep(ep, m);
    };
    let empty = Msg::new(0, &[]);
    report("ipc_call_reply_0w", measure(iters, || call(&empty)), overhead, 1);
    let regs = Msg::new(0, &[1, 2, 3, 4]);
    report("ipc_call_reply_regs", measure(iters, || call(&regs)), overhead, 1);
    for i in MSG_REGS..MSG_REGS + 64 {
        cap::set_word(i, i as u64);
    }
    let buf64 = Msg { info: MsgInfo::new(0, MSG_REGS + 64, 0).encode(), ..regs };
    report("ipc_call_reply_buf64", measure(iters, || call(&buf64)), overhead, 1);
    let token = cap::create(Kind::Notification, 0)?;
    cap::set_send_cap(0, token);
    let with_cap = Msg { info: MsgInfo::new(0, 0, 1).encode(), ..empty };
    report("ipc_call_reply_cap", measure(iters, || call(&with_cap)), overhead, 1);

    let idle_ep = cap::create(Kind::Endpoint, 0)?;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(cap::spawn("bench", "idle", PRIORITY_DEFAULT, &[Grant::new(idle_ep, GIVEN, Rights::READ)])?);
    }
    sys::yield_now();
    report("ipc_call_reply_0w_200idle", measure(iters, || call(&empty)), overhead, 1);
    for p in idle {
        let _ = sys::process_kill(p);
        cap::release(p);
    }
    let _ = sys::call_ep(ep, &Msg::new(QUIT, &[]));
    let _ = sys::wait(server);

    let (to_server, to_me) = (cap::create(Kind::Notification, 0)?, cap::create(Kind::Notification, 0)?);
    let grants = [Grant::new(to_server, GIVEN, Rights::READ), Grant::new(to_me, GIVEN + 1, Rights::WRITE)];
    let server = cap::spawn("bench", "ntfn-server", PRIORITY_DEFAULT, &grants)?;
    let ping = measure(iters, || {
        let _ = sys::signal(to_server);
        let _ = sys::ntfn_wait(to_me);
    });
    report("notify_signal_wait", ping, overhead, 1);
    let _ = sys::process_kill(server);
    Ok(())
}

/// Answers every call with the message it got (the same words, through its own IPC buffer
/// for the longer ones); deletes any capability that came with it; ends on QUIT.
fn ipc_server() -> u64 {
    let (reply, received) = (cap::alloc().unwrap_or(40), cap::alloc().unwrap_or(41));
    cap::set_recv_slot(0, received);
    let mut answer = Msg::default();
    loop {
        let Ok(m) = sys::reply_recv(GIVEN, reply, &answer) else { return 1 };
        let info = m.info();
        if info.label == QUIT {
            let _ = sys::send(reply, &Msg::default());
            return 0;
        }
        if info.caps > 0 {
            let _ = sys::cap_delete(received);
        }
        answer = Msg { badge: 0, info: MsgInfo::new(0, info.words as usize, 0).encode(), words: m.words };
    }
}

/// Waits on its notification (slot 2) and signals the client's (slot 3), for ever.
fn ntfn_server() -> u64 {
    loop {
        if sys::ntfn_wait(GIVEN).is_err() || sys::signal(GIVEN + 1).is_err() {
            return 1;
        }
    }
}

/// Times `op` `iters` times after a warm-up; returns the raw samples.
fn measure(iters: usize, mut op: impl FnMut()) -> Vec<u64> {
    let mut samples = Vec::with_capacity(iters);
    for i in 0..WARM_UP + iters {
        let start = stamp_start();
        op();
        let end = stamp_end();
        if i >= WARM_UP {
            samples.push(end.wrapping_sub(start));
        }
    }
    samples
}

/// `lfence; rdtsc`: the fence keeps earlier instructions from drifting past the read.
#[inline(always)]
fn stamp_start() -> u64 {
    // SAFETY: lfence and rdtsc only read the time-stamp counter; the CPU (and QEMU's -cpu
    // max) has both.
    unsafe {
        _mm_lfence();
        _rdtsc()
    }
}

/// `rdtscp; lfence`: waits for the measured code to finish before reading.
#[inline(always)]
fn stamp_end() -> u64 {
    let mut aux = 0;
    // SAFETY: as above; rdtscp writes the processor id into `aux`, a local.
    unsafe {
        let t = __rdtscp(&mut aux);
        _mm_lfence();
        t
    }
}

fn report(name: &str, mut samples: Vec<u64>, overhead: u64, divide: u64) {
    for s in samples.iter_mut() {
        *s = s.saturating_sub(overhead) / divide;
    }
    samples.sort_unstable();
    let n = samples.len();
    if n == 0 {
        return;
    }
    let (min, median, p99) = (samples[0], samples[n / 2], samples[(n * 99 / 100).min(n - 1)]);
    println!("bench: {name} iters={n} min={min} median={median} p99={p99}");
}
