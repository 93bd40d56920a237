//! The one way both benchmark programs measure and report, so their figures compare:
//! Seam's `bench` (no_std, in the Seam guest) and the Linux peer (std, in the Linux guest)
//! time each operation with the same `rdtsc` fences, after the same warm-up, subtract the
//! same `rdtsc`-pair overhead, and print the same `bench:` lines, which `cargo xtask bench`
//! reads back with [`parse_line`].
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

/// Iterations run and thrown away before the measured ones.
pub const WARM_UP: usize = 1_000;

/// The operations `bench breakdown` runs once each between two marks, for
/// `cargo xtask bench --breakdown`: a figure's name and the message bytes of its call
/// (`usize::MAX` for the null system call).
pub const BREAKDOWN: [(&str, usize); 5] = [
    ("null_syscall", usize::MAX),
    ("ipc_call_reply_0", 0),
    ("ipc_call_reply_32", 32),
    ("ipc_call_reply_64", 64),
    ("ipc_call_reply_1024", 1024),
];

/// Payload sizes, in bytes, of the latency-versus-size curve beyond each system's smallest
/// message: Seam's `ipc_call_reply_<size>` and Linux's `linux_pipe_rtt_<size>`.
pub const PAYLOAD_SIZES: [usize; 5] = [32, 64, 256, 1024, 4096];

/// The names the compat server's figures are reported under (Seam's bench, run in a system
/// with compat, the native weather server and settings), each a legacy client's call through
/// compat, Parcel in and out: `IWeatherService.getCurrent("Oslo")` answered by the legacy
/// implementation inside compat (`compat_transaction`), the same call forwarded to the
/// native weather server (`compat_forwarded`), `PING_TRANSACTION` (`compat_ping`), and a
/// oneway call to a service another program hosts, until compat has queued it
/// (`compat_oneway`).
pub const COMPAT_TRANSACTION: &str = "compat_transaction";
pub const COMPAT_FORWARDED: &str = "compat_forwarded";
pub const COMPAT_PING: &str = "compat_ping";
pub const COMPAT_ONEWAY: &str = "compat_oneway";

/// The name a name-server lookup is reported under (Seam's bench, run in a system with a
/// name server: the call, the capability minted and transferred, and deleting it again).
pub const NAME_LOOKUP: &str = "name_lookup";

/// The name a settings get is reported under (a client's round trip to the settings server:
/// an int under a short key).
pub const SETTINGS_GET: &str = "settings_get";

/// The name a weather query is reported under (a client's round trip to the weather
/// server: the current conditions in one city, from its cache).
pub const WEATHER_CURRENT: &str = "weather_current";

/// The name a gallery listing is reported under (a client's round trip to the gallery
/// server: a page of 16 photos of an album).
pub const GALLERY_LIST_16: &str = "gallery_list_16";

/// What starts every result line.
pub const PREFIX: &str = "bench: ";

/// Times `op` `iters` times after [`WARM_UP`] untimed-for-the-record runs; returns the raw
/// samples in TSC cycles.
pub fn measure(iters: usize, mut op: impl FnMut()) -> Vec<u64> {
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

/// The cost of the timing itself: the least a `stamp_start`/`stamp_end` pair around nothing
/// measures. Subtract it from every sample.
pub fn overhead(iters: usize) -> u64 {
    measure(iters, || {}).into_iter().min().unwrap_or(0)
}

/// `lfence; rdtsc`: the fence keeps earlier instructions from drifting past the read.
#[inline(always)]
pub fn stamp_start() -> u64 {
    // SAFETY: lfence and rdtsc only read the time-stamp counter; every x86-64 CPU (and QEMU's
    // `-cpu max`) has both, and neither touches memory.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// `rdtscp; lfence`: waits for the measured code to finish before reading.
#[inline(always)]
pub fn stamp_end() -> u64 {
    let mut aux = 0;
    // SAFETY: as above; rdtscp (present on QEMU's `-cpu max` and every CPU with an invariant
    // TSC) writes the processor id into `aux`, a local.
    unsafe {
        let t = core::arch::x86_64::__rdtscp(&mut aux);
        core::arch::x86_64::_mm_lfence();
        t
    }
}

/// Minimum, median and 99th percentile of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub iters: u64,
    pub min: u64,
    pub median: u64,
    pub p99: u64,
}

impl Summary {
    /// Summarises `samples` after taking `overhead` off each and dividing it by `divide` (for
    /// an operation timed `divide` times per sample). None when there are no samples.
    pub fn of(mut samples: Vec<u64>, overhead: u64, divide: u64) -> Option<Summary> {
        for s in samples.iter_mut() {
            *s = s.saturating_sub(overhead) / divide.max(1);
        }
        samples.sort_unstable();
        let n = samples.len();
        let at = |i: usize| samples[i.min(n - 1)];
        (n > 0).then(|| Summary { iters: n as u64, min: at(0), median: at(n / 2), p99: at(n * 99 / 100) })
    }
}

/// One result line: `bench: NAME iters=N min=A median=B p99=C` (cycles).
pub struct Line<'a>(pub &'a str, pub Summary);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Line(name, s) = self;
        write!(f, "{PREFIX}{name} iters={} min={} median={} p99={}", s.iters, s.min, s.median, s.p99)
    }
}

/// Reads a result line, wherever it starts in `line` (a console may put a log prefix before
/// it). Anything else, including a damaged result line, is None.
pub fn parse_line(line: &str) -> Option<(&str, Summary)> {
    let rest = &line[line.find(PREFIX)? + PREFIX.len()..];
    let mut words = rest.split_whitespace();
    let name = words.next()?;
    let mut value = |key: &str| -> Option<u64> { words.next()?.strip_prefix(key)?.parse().ok() };
    let summary =
        Summary { iters: value("iters=")?, min: value("min=")?, median: value("median=")?, p99: value("p99=")? };
    words.next().is_none().then_some((name, summary))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn summary_takes_overhead_off_then_ranks() {
        let samples: Vec<u64> = (1..=200).rev().map(|x| x + 10).collect();
        let s = Summary::of(samples, 10, 1).unwrap();
        assert_eq!(s, Summary { iters: 200, min: 1, median: 101, p99: 199 });
        let halved = Summary::of(vec![20, 40, 60], 0, 2).unwrap();
        assert_eq!((halved.min, halved.median, halved.p99), (10, 20, 30));
        assert_eq!(Summary::of(vec![5], 9, 1).unwrap().min, 0, "overhead larger than a sample");
        assert!(Summary::of(Vec::new(), 0, 1).is_none());
    }

    #[test]
    fn a_line_reads_back_as_written() {
        let s = Summary { iters: 100_000, min: 1154, median: 1160, p99: 1302 };
        let text = Line("ipc_call_reply_0", s).to_string();
        assert_eq!(text, "bench: ipc_call_reply_0 iters=100000 min=1154 median=1160 p99=1302");
        assert_eq!(parse_line(&text), Some(("ipc_call_reply_0", s)));
        let logged = alloc::format!("[ 1.234] INFO  bench[3]: {text}");
        assert_eq!(parse_line(&logged), Some(("ipc_call_reply_0", s)));
    }

    #[test]
    fn other_and_damaged_lines_are_not_results() {
        for line in [
            "bench: rdtsc overhead 30 cycles (subtracted)",
            "bench: linux_getpid iters=100000 min=3 median=4",
            "bench: linux_getpid iters=100000 min=3 median=4 p99=x",
            "bench: linux_getpid iters=100000 median=4 min=3 p99=5",
            "bench: linux_getpid iters=100000 min=3 median=4 p99=5 extra",
            "[    0.912] Run /init as init process",
            "",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }
}
