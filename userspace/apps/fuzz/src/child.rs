//! The child: `calls` random system calls from its seed, all of them or (replaying) the ones its
//! line of the replay file keeps.

use crate::gen::{settle, Gen, ALARM_US, THREAD_STACK, THREAD_STACKS, THREAD_STACKS_COUNT, WAITS};
use crate::{Progress, PROGRESS_AT};
use alloc::vec::Vec;
use ipc::cap::{init_slots, Kind, SELF};
use ipc::fuzz::{ReplayBatch, PLANTED_EXIT, REPLAY_PATH};
use ipc::syscall::{MapFlags, Syscall, ARG_REGS};
use rt::ipc;
use rt::{cap, println, sys};

/// How the child was asked to run.
pub struct Options {
    /// Make only the calls its line of this batch of the replay file keeps, and show each.
    pub replay: Option<usize>,
    /// End with [`PLANTED_EXIT`] on meeting the planted failure.
    pub plant: bool,
}

/// A replay shows each call it makes when it makes no more than this many.
const SHOWN_MAX: u64 = 100;

pub fn child(seed: u64, calls: u64, index: u64, options: Options) -> u64 {
    if sys::frame_map(2, PROGRESS_AT, MapFlags::WRITE, SELF).is_err() {
        return 1;
    }
    let Some(progress) = Progress::map(index) else { return 1 };
    let mut kept = match options.replay {
        Some(batch) => match kept_calls(batch, index) {
            Some(kept) => kept,
            None => {
                println!("fuzz: seed {seed}: no line for child {index} of batch {batch} in {REPLAY_PATH}");
                return 1;
            }
        },
        None => Kept::all(),
    };
    let show = options.replay.is_some() && kept.count() <= SHOWN_MAX;
    // A notification bound to this thread, with the timer armed before each call that waits
    // for a message or a signal: a receive with nobody to send wakes up when it fires.
    let Ok(alarm) = cap::create(Kind::Notification, 0) else { return 1 };
    if sys::ntfn_bind(alarm).is_err() {
        return 1;
    }
    if sys::map(THREAD_STACKS, THREAD_STACKS_COUNT * THREAD_STACK, MapFlags::WRITE).is_err() {
        return 1;
    }
    let mut gen = Gen::new(seed);
    let mut buffer = [0u8; 256];
    let mut succeeded = [0u32; Syscall::ALL.len() + 1];
    let mut planted = Planted::default();
    let local = buffer.as_mut_ptr() as u64;
    for n in 0..calls {
        // Every call is drawn, so that a kept one has the arguments it had in the full run.
        let (number, args) = gen.call(local);
        if !kept.contains(n) {
            settle(number, &args, false);
            continue;
        }
        progress.note(n, number, &args);
        if show {
            let name = Syscall::try_from(number).map_or(alloc::format!("{number}"), |s| alloc::format!("{s:?}"));
            println!(
                "fuzz:   replay: seed {seed} call {n}: {name} args {:#x} {:#x} {:#x} {:#x} {:#x} {:#x}",
                args[0], args[1], args[2], args[3], args[4], args[5]
            );
        }
        // A receive is woken by the bound alarm; a wait on a notification by that notification
        // itself, if it is one the timer may signal.
        if number == Syscall::NtfnWait as u64 {
            let _ = sys::timer_set(args[0], ALARM_US);
        } else if WAITS.contains(&number) {
            let _ = sys::timer_set(alarm, ALARM_US);
        }
        // SAFETY: none: this is the fuzzer. A call may unmap or overwrite this process's own
        // memory; the process may then fault, which the supervisor counts. The kernel must
        // come to no harm whatever the call.
        let done = unsafe { sys::raw(number, args) };
        settle(number, &args, done.is_ok());
        if done.is_ok() {
            if let Some(count) = succeeded.get_mut(number as usize) {
                *count += 1;
            }
        }
        if options.plant && planted.met(number, &args, done.is_ok()) {
            println!("fuzz: seed {seed}: the planted failure, at call {n}");
            return PLANTED_EXIT;
        }
    }
    core::hint::black_box(&mut buffer);
    // Which calls got through the kernel's checks, by number: what the run reached.
    let mut line = alloc::string::String::new();
    for (number, count) in succeeded.iter().enumerate().filter(|(_, c)| **c > 0) {
        line += &alloc::format!(" {number}:{count}");
    }
    println!("fuzz: seed {seed}: succeeded by call number:{line}");
    0
}

/// The failure planted to try the shrinker, which needs two calls in order: a copy or a mint
/// into a slot of the child's own that succeeds, and then an inspection of that slot that
/// succeeds too. The calls between them, and around, do not matter, unless they empty the
/// slot or fill it again.
#[derive(Default)]
struct Planted {
    derived: Option<u64>,
}

impl Planted {
    fn met(&mut self, number: u64, args: &[u64; ARG_REGS], ok: bool) -> bool {
        let derive = [(Syscall::CapCopy as u64, 3), (Syscall::CapMint as u64, 4)];
        if derive.iter().any(|&(call, target)| number == call && args[target] == SELF) && ok {
            self.derived = Some(args[1]);
        }
        number == Syscall::CapInspect as u64 && ok && self.derived == Some(args[0])
    }
}

/// The calls a child makes, as ascending inclusive ranges, looked up in call order.
struct Kept {
    ranges: Vec<(u64, u64)>,
    /// The first range that may still hold a later call.
    at: usize,
}

impl Kept {
    fn all() -> Kept {
        Kept { ranges: alloc::vec![(0, u64::MAX)], at: 0 }
    }

    /// Whether call `n` is made; `n` never goes down from one call to the next.
    fn contains(&mut self, n: u64) -> bool {
        while self.ranges.get(self.at).is_some_and(|&(_, end)| end < n) {
            self.at += 1;
        }
        self.ranges.get(self.at).is_some_and(|&(start, _)| start <= n)
    }

    fn count(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| (b - a).saturating_add(1)).fold(0, u64::saturating_add)
    }
}

/// Child `index`'s line of batch `batch` of the replay file.
fn kept_calls(batch: usize, index: u64) -> Option<Kept> {
    let text = replay_file()?;
    let keep = ReplayBatch::nth(&text, batch)?.keeps().nth(index as usize)??;
    Some(Kept { ranges: keep.ranges().collect(), at: 0 })
}

/// The replay file's text.
pub fn replay_file() -> Option<alloc::string::String> {
    let text = cap::read_file(init_slots::ARCHIVE, REPLAY_PATH).ok()?;
    alloc::string::String::from_utf8(text).ok()
}
