//! `tracer [MS]`: reads the kernel's IPC trace. It sleeps `MS` milliseconds (500 unless
//! told) while the rest of the system runs, then drains every event the kernel kept
//! (`TraceRead`, through the Introspect capability its entry must grant), and only then
//! prints them, so that its printing is not in the trace: one `trace: ` line per event with
//! its four words in hex (`ipc::trace::Event::to_words`), then
//! `trace: end EVENTS events, LOST lost`. `cargo xtask trace` boots a system with it and the
//! kernel's `trace` flag and turns those lines into a Perfetto trace.
#![no_std]
#![no_main]

use rt::ipc::system::slots;
use rt::ipc::trace::TRACE_CAPACITY;
use rt::ipc::Error;
use rt::{println, sys};

rt::main!(main);

/// Milliseconds per timer tick (the kernel's tick is 100 Hz).
const TICK_MS: u64 = 10;

fn main(args: rt::Args) -> u64 {
    let ms = args.get(0).and_then(|m| m.parse::<u64>().ok()).unwrap_or(500);
    sys::sleep(ms.div_ceil(TICK_MS));
    // What is recorded while we read (nothing of ours: we make no IPC call) is read too; a
    // system that keeps talking could keep us here, so read at most one ring's worth more.
    let (events, lost) = match sys::trace_drain(slots::INTROSPECT, 2 * TRACE_CAPACITY) {
        Ok(read) => read,
        Err(Error::InvalidArgument) => {
            println!("tracer: the kernel keeps no trace: boot it with the `trace` flag");
            return 1;
        }
        Err(e) => {
            println!("tracer: cannot read the trace: {e}");
            return 1;
        }
    };
    for [a, b, c, d] in &events {
        println!("trace: {a:x} {b:x} {c:x} {d:x}");
    }
    println!("trace: end {} events, {lost} lost", events.len());
    0
}
