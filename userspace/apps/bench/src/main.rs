//! `bench [ITERS]`: the first latency figures, in TSC cycles, measured with `rdtsc` around
//! each operation after a warm-up:
//! - `null_syscall`: the round trip of the `Null` call;
//! - `yield_switch`: one switch between two processes that yield to each other (half of a
//!   measured yield round trip, which takes two switches).
//!
//! The cost of the `rdtsc` pair itself (its minimum) is measured and subtracted. Each result
//! is printed as one `bench:` line that `cargo xtask bench` turns into its table and JSON.
//! `bench partner N` is the second process of the yield test.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::arch::x86_64::{__rdtscp, _mm_lfence, _rdtsc};
use rt::ipc::syscall::PRIORITY_DEFAULT;
use rt::{println, sys};

rt::main!(main);

const DEFAULT_ITERS: usize = 100_000;
const WARM_UP: usize = 1_000;

fn main(args: rt::Args) -> u64 {
    if args.get(0) == Some("partner") {
        let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
        for _ in 0..n {
            sys::yield_now();
        }
        return 0;
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
    0
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
