//! `spinner LABEL TICKS`: burns CPU, never yielding, until TICKS timer ticks have passed, and
//! counts how often time jumped while it was not running (it was preempted). Two of these at
//! one priority must interleave; at different priorities the higher must finish first.
#![no_std]
#![no_main]

use rt::{println, sys};

rt::main!(main);

/// A jump of this many ticks between two looks at the clock means another thread ran.
const GAP: u64 = 2;

fn main(args: rt::Args) -> u64 {
    let label = args.get(0).unwrap_or("spinner");
    let Some(ticks) = args.get(1).and_then(|t| t.parse::<u64>().ok()) else {
        println!("usage: spinner LABEL TICKS");
        return 2;
    };
    let start = sys::ticks().0;
    println!("{label} start");
    let (mut last, mut preempted, mut loops) = (start, 0u64, 0u64);
    while last < start + ticks {
        let now = sys::ticks().0;
        if now >= last + GAP {
            preempted += 1;
        }
        last = now;
        loops += 1;
    }
    println!("{label} done preempted={preempted} loops={loops}");
    0
}
