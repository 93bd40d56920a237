//! `churn N`: starts and waits for N short-lived child processes, one after another (each
//! made from its Memory and Archive capabilities, holding none itself), and
//! checks that the kernel's free frames and heap use come back exactly to where they were.
//! `churn child` is the child: it exits at once.
#![no_std]
#![no_main]

use ipc::syscall::ExitStatus;
use rt::{cap, ipc, println, sys};

rt::main!(main);

/// Children made before the baseline is taken, so that kernel tables that only ever grow
/// (page tables of the kernel stack region, the heap's free list) reach their working size.
const WARM_UP: u64 = 8;

fn main(args: rt::Args) -> u64 {
    match args.get(0) {
        Some("child") => 7,
        Some(n) => match n.parse() {
            Ok(n) => churn(n),
            Err(_) => usage(),
        },
        None => usage(),
    }
}

fn usage() -> u64 {
    println!("usage: churn N | churn child");
    2
}

fn churn(n: u64) -> u64 {
    if let Err(e) = run_children(WARM_UP) {
        println!("churn: warm-up failed: {e}");
        return 1;
    }
    let (frames_before, heap_before) = sys::mem_stats();
    if let Err(e) = run_children(n) {
        println!("churn: {e}");
        return 1;
    }
    let (frames_after, heap_after) = sys::mem_stats();
    println!(
        "churn: {n} processes; free frames {frames_before} -> {frames_after}, kernel heap {heap_before} -> {heap_after} bytes"
    );
    u64::from(frames_before != frames_after || heap_before != heap_after)
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
