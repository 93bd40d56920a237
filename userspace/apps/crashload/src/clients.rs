//! The clients of `fire` that read rather than write: the name server's, the console's and
//! the weather server's. Each counts what it was answered, what was refused with a clean
//! error, and anything else, which must not happen, and prints one line at its end.

use crate::GIVEN;
use alloc::collections::BTreeMap;
use alloc::format;
use ipc::proto::name::NameError;
use ipc::proto::weather::Current;
use rt::name::NameServer;
use rt::{cap, ipc, println, sys};

/// What a client saw, from when it started.
pub struct Counts {
    pub answered: u64,
    pub errors: u64,
    pub unexpected: u64,
    started: u64,
}

impl Counts {
    pub fn new() -> Counts {
        Counts { answered: 0, errors: 0, unexpected: 0, started: sys::micros_since_boot() }
    }

    pub fn report(&self, id: usize, kind: &str, what: &str) -> u64 {
        let ms = (sys::micros_since_boot() - self.started) / 1000;
        println!(
            "writer {id} ({kind}): in {ms} ms {} {what}, {} clean errors, {} unexpected",
            self.answered, self.errors, self.unexpected
        );
        self.unexpected
    }
}

/// Looks `settings` up again and again, through the name server's own calls (not
/// `rt::name::lookup`, which waits out a restart). While the name server is dead a lookup
/// waits in its endpoint's queue for the next one, or dies with it (`ObjectGone`); a new name
/// server knows no name until init has registered it again (`NotYet`). Anything else is
/// wrong.
pub fn name(id: usize, lookups: usize) -> u64 {
    let server = NameServer(GIVEN);
    let mut n = Counts::new();
    for _ in 0..lookups {
        if crate::stopped() {
            break;
        }
        match server.lookup("settings") {
            Ok((slot, generation)) if generation > 0 => {
                n.answered += 1;
                cap::release(slot);
            }
            Err(rt::Failed::Kernel(ipc::Error::ObjectGone) | rt::Failed::Server(NameError::NotYet)) => n.errors += 1,
            other => {
                n.unexpected += 1;
                println!("writer {id}: unexpected answer to a lookup: {other:?}");
            }
        }
    }
    n.report(id, "name", "lookups answered")
}

/// Prints numbered lines through the console given: `console client ID line N`. A line the
/// console does not take goes to the kernel's debug console, so every line must reach the
/// serial line (the harness checks, from the count printed at the end).
pub fn console(id: usize, lines: usize) -> u64 {
    let mut n = Counts::new();
    let mut printed = 0;
    for i in 0..lines {
        if crate::stopped() {
            break;
        }
        match rt::print::write_to(GIVEN, &format!("console client {id} line {i}\n")) {
            true => n.answered += 1,
            false => n.errors += 1,
        }
        printed += 1;
        // A few lines a tick: enough to be in the middle of one when the console is
        // killed, not so many that the serial line is all there is.
        if i % 4 == 3 {
            sys::sleep(1);
        }
    }
    println!("console client {id}: {printed} lines printed");
    n.report(id, "console", "lines taken")
}

/// The conditions the model gives one hour; the age of the server's cache may differ.
fn reading(c: &Current) -> (i64, u8, i64, i64) {
    (c.temperature, c.sky as u8, c.humidity, c.wind)
}

/// Asks for the conditions in a few cities, again and again. Each answer must be for the
/// city asked, and one model hour must read the same whichever instance of the server
/// answered it.
pub fn weather(id: usize, calls: usize) -> u64 {
    const CITIES: [&str; 4] = ["Oslo", "Madrid", "Cairo", "Tokyo"];
    let mut n = Counts::new();
    let mut seen = BTreeMap::new();
    for i in 0..calls {
        if crate::stopped() {
            break;
        }
        let city = CITIES[i % CITIES.len()];
        match rt::weather::current(GIVEN, city) {
            Ok(c) if c.city.as_str() != city => {
                n.unexpected += 1;
                println!("writer {id}: asked for {city}, told of {}", c.city.as_str());
            }
            Ok(c) => match *seen.entry((city, c.slot)).or_insert_with(|| reading(&c)) == reading(&c) {
                true => n.answered += 1,
                false => {
                    n.unexpected += 1;
                    println!("writer {id}: {city} at hour {} reads differently", c.slot);
                }
            },
            Err(rt::Failed::Kernel(ipc::Error::ObjectGone)) => n.errors += 1,
            Err(e) => {
                n.unexpected += 1;
                println!("writer {id}: unexpected answer for {city}: {e}");
            }
        }
        // Pace it a little: the model hour changes slowly and the map stays small.
        if i % 64 == 63 {
            sys::yield_now();
        }
    }
    n.report(id, "weather", "answers")
}
