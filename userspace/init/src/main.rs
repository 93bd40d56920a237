//! `init`, the first process: for now it greets, says what the machine has, and starts the
//! programs it is asked to. (With capabilities it will start and supervise the servers.)
#![no_std]
#![no_main]

use rt::{println, sys};

rt::main!(main);

fn main(args: rt::Args) -> u64 {
    let (ticks, hz) = sys::ticks();
    let (free_frames, heap) = sys::mem_stats();
    println!("hello from user space: pid {}, {} ms after boot", args.pid, ticks * 1000 / hz);
    println!("{} MiB free, kernel heap {} KiB in use", (free_frames * 4096) >> 20, heap >> 10);
    0
}
