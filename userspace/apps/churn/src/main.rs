//! `churn N`: starts and waits for N short-lived child processes, one after another (each
//! made from its Memory and Archive capabilities, holding none itself), and
//! checks that the kernel's free frames and heap use come back exactly to where they were.
//! `churn child` is the child: it exits at once. `churn threads N` does the same with N
//! threads of its own, each made, run and joined before the next.
#![no_std]
#![no_main]

use ipc::syscall::ExitStatus;
use rt::{cap, ipc, println, sys};

extern crate alloc;

rt::main!(main);

/// Children made before the baseline is taken, so that kernel tables that only ever grow
/// (page tables of the kernel stack region, the heap's free list) reach their working size.
const WARM_UP: u64 = 8;

fn main(args: rt::Args) -> u64 {
    match (args.get(0), args.get(1).map(str::parse)) {
        (Some("child"), _) => 7,
        (Some("threads"), Some(Ok(n))) => churn("threads", n, run_threads),
        (Some(n), None) => match n.parse() {
            Ok(n) => churn("processes", n, run_children),
            Err(_) => usage(),
        },
        _ => usage(),
    }
}

fn usage() -> u64 {
    println!("usage: churn N | churn threads N | churn child");
    2
}

/// Runs `WARM_UP` cycles of `cycle`, takes the kernel's free frames and heap, runs `n` more,
/// and checks both came back exactly.
fn churn(what: &str, n: u64, cycle: fn(u64) -> Result<(), &'static str>) -> u64 {
    if let Err(e) = cycle(WARM_UP) {
        println!("churn: warm-up failed: {e}");
        return 1;
    }
    let (frames_before, heap_before) = sys::mem_stats();
    if let Err(e) = cycle(n) {
        println!("churn: {e}");
        return 1;
    }
    let (frames_after, heap_after) = sys::mem_stats();
    println!(
        "churn: {n} {what}; free frames {frames_before} -> {frames_after}, kernel heap {heap_before} -> {heap_after} bytes"
    );
    u64::from(frames_before != frames_after || heap_before != heap_after)
}

fn run_threads(n: u64) -> Result<(), &'static str> {
    for i in 0..n {
        let sum = alloc::sync::Arc::new(core::sync::atomic::AtomicU64::new(0));
        let seen = sum.clone();
        let thread = rt::thread::spawn(move || seen.store(i + 1, core::sync::atomic::Ordering::Relaxed))
            .map_err(|_| "a thread could not be made")?;
        thread.join().map_err(|_| "a thread could not be joined")?;
        if sum.load(core::sync::atomic::Ordering::Relaxed) != i + 1 {
            return Err("a thread did not run");
        }
    }
    Ok(())
}

fn run_children(n: u64) -> Result<(), &'static str> {
    for _ in 0..n {
        let child = cap::spawn("churn", "child", ipc::syscall::PRIORITY_DEFAULT, &[]).map_err(|_| "spawn failed")?;
        let status = sys::wait(child);
        cap::release(child);
        if status != Ok(ExitStatus::Exited(7)) {
            return Err("a child did not exit with code 7");
        }
    }
    Ok(())
}
