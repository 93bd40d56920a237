//! `tracer [MS]`: reads the kernel's IPC trace. It sleeps `MS` milliseconds (500 unless
//! told) while the rest of the system runs, then drains every event the kernel kept
//! (`TraceRead`, through the Introspect capability its entry must grant), and only then
//! prints them, so that its printing is not in the trace: one `trace: ` line per event with
//! its four words in hex (`ipc::trace::Event::to_words`), then
//! `trace: end EVENTS events, LOST lost`. `cargo xtask trace` boots a system with it and the
//! kernel's `trace` flag and turns those lines into a Perfetto trace.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use rt::ipc::system::slots;
use rt::ipc::trace::{EVENT_WORDS, TRACE_CAPACITY, TRACE_READ_MAX};
use rt::ipc::Error;
use rt::{println, sys};

rt::main!(main);

/// Milliseconds per timer tick (the kernel's tick is 100 Hz).
const TICK_MS: u64 = 10;

fn main(args: rt::Args) -> u64 {
    let ms = args.get(0).and_then(|m| m.parse::<u64>().ok()).unwrap_or(500);
    sys::sleep(ms.div_ceil(TICK_MS));
    let mut events: Vec<[u64; EVENT_WORDS]> = Vec::with_capacity(TRACE_CAPACITY);
    let mut chunk = vec![[0u64; EVENT_WORDS]; TRACE_READ_MAX as usize];
    let mut lost = 0;
    // What is recorded while we read (nothing of ours: we make no IPC call) is read too; a
    // system that keeps talking could keep us here, so read at most one ring's worth more.
    while events.len() < 2 * TRACE_CAPACITY {
        match sys::trace_read(slots::INTROSPECT, &mut chunk) {
            Ok((0, more_lost)) => {
                lost += more_lost;
                break;
            }
            Ok((n, more_lost)) => {
                lost += more_lost;
                events.extend_from_slice(&chunk[..n]);
            }
            Err(Error::InvalidArgument) => {
                println!("tracer: the kernel keeps no trace: boot it with the `trace` flag");
                return 1;
            }
            Err(e) => {
                println!("tracer: cannot read the trace: {e}");
                return 1;
            }
        }
    }
    for [a, b, c, d] in &events {
        println!("trace: {a:x} {b:x} {c:x} {d:x}");
    }
    println!("trace: end {} events, {lost} lost", events.len());
    0
}
