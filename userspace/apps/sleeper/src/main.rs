//! `sleeper TICKS`: sleeps and reports how many ticks actually passed.
#![no_std]
#![no_main]

use rt::{println, sys};

rt::main!(main);

fn main(args: rt::Args) -> u64 {
    let Some(ticks) = args.get(0).and_then(|t| t.parse::<u64>().ok()) else {
        println!("usage: sleeper TICKS");
        return 2;
    };
    let before = sys::ticks().0;
    sys::sleep(ticks);
    let slept = sys::ticks().0 - before;
    println!("slept {ticks} ticks: woke after {slept}");
    0
}
