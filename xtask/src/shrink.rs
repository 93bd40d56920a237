//! Shrinking a failing `cargo xtask fuzz` run to a short sequence of calls that fails the same
//! way, by running the failing batch again with only some calls made (the replay file,
//! `ipc::fuzz`).
//!
//! 1. The batch the failure came in is run alone, every call made: a failure that needs
//!    earlier batches' leftovers does not shrink, and the shrinker says so.
//! 2. Each child is tried alone (the others make no calls): most failures need one.
//! 3. The shortest prefix of the chosen children's calls that still fails, by bisection.
//! 4. Delta debugging (Zeller's ddmin) over the calls of that prefix: chunks of it, and
//!    everything but a chunk, are tried in turn, and any that fails becomes the new set.
//!
//! "The same way" is the failure's [`signature`]: the kernel's panic location, or its
//! exception line, or the supervisor's line, with numbers masked; or a hang. Each try boots
//! QEMU, so a shrink is bounded by a number of boots (`--shrink-boots`).

use crate::artifacts::{self, Builder};
use crate::fuzz::{judge, Verdict, FIRMWARE, QUIET};
use crate::qemu::{self, Captured, Machine};
use anyhow::{Context, Result};
use ipc::boot::{KEY_EXIT_WHEN_DONE, KEY_RUN};
use ipc::fuzz::{Indices, BATCH_LINE, REPLAY_PATH};
use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

/// What a failure is, to tell whether a smaller run fails the same way; `None` for a clean run.
pub fn signature(verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::Clean => None,
        Verdict::Hung => Some("the system hung".into()),
        Verdict::KernelFailed(line) => {
            // `PANIC at FILE:LINE:COLUMN: message`: the place, not the message's numbers.
            if let Some((_, place)) = line.split_once("PANIC at ") {
                let place: Vec<&str> = place.splitn(4, ':').take(3).collect();
                return Some(format!("PANIC at {}", place.join(":")));
            }
            Some(mask_numbers(line))
        }
        Verdict::SupervisorFailed(line) => Some(mask_numbers(line)),
    }
}

/// `line` from its kernel or `fuzz:` text on, with every run of digits (and hex digits after
/// `0x`) as `#`.
fn mask_numbers(line: &str) -> String {
    let line = ["EXCEPTION:", "fuzz:"].iter().find_map(|m| line.find(m).map(|at| &line[at..])).unwrap_or(line);
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let hex = c == '0' && chars.peek() == Some(&'x');
            if hex {
                chars.next();
            }
            while chars.peek().is_some_and(|d| if hex { d.is_ascii_hexdigit() } else { d.is_ascii_digit() }) {
                chars.next();
            }
            out.push('#');
        } else {
            out.push(c);
        }
    }
    out
}

/// The batch the failure came in: the last batch line's first seed, end and calls per child.
pub fn last_batch(output: &str) -> Option<(u64, u64, u64)> {
    let line = last_batch_line(output)?;
    let (seeds, rest) = line.split_once(", ")?;
    let (first, end) = seeds.split_once("..")?;
    let calls = rest.split(' ').next()?;
    Some((first.parse().ok()?, end.parse().ok()?, calls.parse().ok()?))
}

/// Which batch of a replay file the last batch line names.
pub fn last_replay(output: &str) -> Option<usize> {
    last_batch_line(output)?.rsplit_once(", replay ")?.1.trim().parse().ok()
}

fn last_batch_line(output: &str) -> Option<&str> {
    output.lines().rev().find_map(|l| l.split_once(BATCH_LINE).map(|(_, rest)| rest))
}

/// Candidates a boot tries, at most.
const PER_BOOT: usize = 24;

/// Answers, for candidates tried in order, which is the first to fail (`None`: none does).
/// One boot tries many: a replay file runs its batches one after another, and the first
/// failure ends the boot.
pub trait FirstFailing<T> {
    fn first_failing(&mut self, candidates: &[Vec<T>]) -> Result<Option<usize>>;
}

impl<T, F: FnMut(&[Vec<T>]) -> Result<Option<usize>>> FirstFailing<T> for F {
    fn first_failing(&mut self, candidates: &[Vec<T>]) -> Result<Option<usize>> {
        self(candidates)
    }
}

/// Zeller's ddmin: a subset of `items` that still fails, 1-minimal when the budget lasts (no
/// single item can be taken out). `items` must fail to begin with. Each round splits the set
/// into `n` chunks and tries each chunk, then (with more than two) everything but each chunk,
/// in that order, all in one [`FirstFailing`] question: the first that fails is kept.
pub fn ddmin<T: Clone>(mut items: Vec<T>, tries: &mut impl FirstFailing<T>) -> Result<Vec<T>> {
    let mut n = 2;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(n);
        let chunks: Vec<Vec<T>> = items.chunks(chunk).map(<[T]>::to_vec).collect();
        let mut candidates = chunks.clone();
        if chunks.len() > 2 {
            for i in 0..chunks.len() {
                candidates
                    .push(chunks.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, c)| c.clone()).collect());
            }
        }
        match tries.first_failing(&candidates)? {
            Some(i) => {
                n = if i < chunks.len() { 2 } else { (n - 1).max(2) };
                items = candidates.swap_remove(i);
            }
            None if n >= items.len() => break,
            None => n = (2 * n).min(items.len()),
        }
    }
    Ok(items)
}

/// The shortest `k` in `1..=longest` for which the prefix of `k` fails, that of `longest`
/// failing: a failure at call `k - 1` fails every prefix that reaches it. Each question
/// tries up to `per_question` prefixes, evenly spread, shortest first.
pub fn shortest_prefix(longest: u64, per_question: u64, tries: &mut impl FirstFailing<u64>) -> Result<u64> {
    let (mut passes, mut fails_at) = (0, longest);
    while fails_at - passes > 1 {
        let step = (fails_at - passes).div_ceil(per_question + 1).max(1);
        let points: Vec<u64> = (1..).map(|i| passes + i * step).take_while(|&p| p < fails_at).collect();
        let candidates: Vec<Vec<u64>> = points.iter().map(|&p| vec![p]).collect();
        match tries.first_failing(&candidates)? {
            Some(i) => (passes, fails_at) = (if i == 0 { passes } else { points[i - 1] }, points[i]),
            None => passes = *points.last().expect("a point between"),
        }
    }
    Ok(fails_at)
}

/// A replay file's batch from `seed` of `children` children, `calls` each, making the calls
/// `kept` (child, index) names.
pub fn replay_text(seed: u64, calls: u64, children: u64, kept: &[(u64, u64)]) -> String {
    let mut text = format!("{seed} {calls}\n");
    for child in 0..children {
        let indices: Vec<u64> = kept.iter().filter(|(c, _)| *c == child).map(|(_, i)| *i).collect();
        text += &format!("{}\n", Indices(&indices));
    }
    text
}

/// Boots the fuzzer on the replay file `text` (`plant`: with the planted failure).
pub fn replay(builder: &Builder, machine: &Machine, text: &str, plant: bool, timeout: Duration) -> Result<Captured> {
    let flags = if plant { ":plant" } else { "" };
    let cmdline = format!("{KEY_RUN}=fuzz:replay{flags} {KEY_EXIT_WHEN_DONE}");
    let file = (REPLAY_PATH.to_string(), text.as_bytes().to_vec());
    let images = builder.make_with("fuzz-replay", &cmdline, &[FIRMWARE], &[file])?;
    qemu::run_until_quiet(machine, images.get(FIRMWARE), timeout, QUIET)
}

/// What a shrink needs to boot replays.
pub struct Shrinker<'a> {
    pub builder: &'a Builder,
    pub machine: &'a Machine,
    pub plant: bool,
    pub release: bool,
    pub boots: usize,
    pub timeout: Duration,
    /// Prints nothing (a test runs it beside others and reports what it came to).
    pub quiet: bool,
}

impl Shrinker<'_> {
    /// Shrinks the failure `verdict` of the run whose serial output is `output`; prints what
    /// it tries and the shortest failing replay it finds, with the command that runs it again.
    /// `None` when the failing batch does not fail on its own.
    pub fn shrink(&self, output: &str, verdict: &Verdict) -> Result<Option<Shrunk>> {
        let say = |line: String| {
            if !self.quiet {
                println!("{line}");
            }
        };
        let want = signature(verdict).context("a clean run has nothing to shrink")?;
        let (seed, end, calls) = last_batch(output).context("the output names no batch")?;
        let children = end - seed;
        say(format!(
            "seam: shrinking \"{want}\": batch {seed}..{end}, {calls} calls each, at most {} boots",
            self.boots
        ));
        let boots = Cell::new(0);
        // Runs the candidates (each the calls to make, as (child, index)) in order, as many in
        // a boot as it can: the first that fails as wanted. One that fails otherwise ends its
        // boot too; the next boot goes on after it.
        let mut tries = |candidates: &[Vec<(u64, u64)>]| -> Result<Option<usize>> {
            let mut start = 0;
            while start < candidates.len() && boots.get() < self.boots {
                boots.set(boots.get() + 1);
                let end = (start + PER_BOOT).min(candidates.len());
                let text: String =
                    candidates[start..end].iter().map(|kept| replay_text(seed, calls, children, kept)).collect();
                let run = replay(self.builder, self.machine, &text, self.plant, self.timeout)?;
                let verdict = judge(&run.output, run.timed_out);
                let at = last_replay(&run.output).map(|i| start + i);
                match (signature(&verdict), at) {
                    (None, _) => start = end,
                    (Some(got), Some(at)) if got == want => return Ok(Some(at)),
                    (Some(_), Some(at)) => start = at + 1,
                    (Some(_), None) => start = end,
                }
            }
            Ok(None)
        };
        let every = |chosen: &[u64], n: u64| -> Vec<(u64, u64)> {
            chosen.iter().flat_map(|&c| (0..n).map(move |i| (c, i))).collect()
        };
        let all: Vec<u64> = (0..children).collect();
        if tries(&[every(&all, calls)])?.is_none() {
            say("seam: the batch does not fail that way on its own: it needs what earlier batches left".into());
            return Ok(None);
        }
        let alone: Vec<Vec<(u64, u64)>> = all.iter().map(|&c| every(&[c], calls)).collect();
        let chosen = match children {
            1 => all,
            _ => tries(&alone)?.map_or(all, |c| vec![c as u64]),
        };
        say(format!("seam: shrinking: children {chosen:?} of the batch; finding the shortest prefix"));
        let prefix = shortest_prefix(calls, PER_BOOT as u64, &mut |points: &[Vec<u64>]| {
            tries(&points.iter().map(|p| every(&chosen, p[0])).collect::<Vec<_>>())
        })?;
        say(format!(
            "seam: shrinking: the first {prefix} calls fail; cutting them down ({} boots so far)",
            boots.get()
        ));
        let kept = ddmin(every(&chosen, prefix), &mut tries)?;
        let text = replay_text(seed, calls, children, &kept);
        let path = artifacts::out_dir(self.release).join("fuzz-replay.txt");
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let run = replay(self.builder, self.machine, &text, self.plant, self.timeout)?;
        for line in run
            .output
            .lines()
            .filter(|l| l.contains("fuzz:   replay") || l.contains("PANIC") || l.contains("EXCEPTION"))
        {
            say(line.trim().into());
        }
        let boots = boots.get();
        say(format!(
            "seam: shrunk to {} calls in {boots} boots{}; run it again with: cargo xtask fuzz{}{} --replay {}",
            kept.len(),
            if boots >= self.boots { " (the boot budget ran out: it may shrink further)" } else { "" },
            if self.release { "" } else { " --debug" },
            if self.plant { " --plant" } else { "" },
            display(&path)
        ));
        Ok(Some(Shrunk { kept, boots, output: run.output }))
    }
}

/// What a shrink came to.
pub struct Shrunk {
    /// The calls the shortest failing replay makes, as (child, index).
    pub kept: Vec<(u64, u64)>,
    pub boots: usize,
    /// The serial output of that replay, which shows each call.
    pub output: String,
}

/// `path` relative to the working directory when it is under it.
fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A [`FirstFailing`] from a predicate, counting the questions asked.
    fn asking<'a, T>(
        questions: &'a mut usize,
        fails: impl Fn(&[T]) -> bool + 'a,
    ) -> impl FnMut(&[Vec<T>]) -> Result<Option<usize>> + 'a {
        move |candidates| {
            *questions += 1;
            Ok(candidates.iter().position(|c| fails(c)))
        }
    }

    #[test]
    fn ddmin_finds_the_calls_a_failure_needs() {
        // Fails when 3, 17 and 60 are all there: ddmin finds exactly those.
        let needed = [3u64, 17, 60];
        let mut questions = 0;
        let found =
            ddmin((0..100).collect(), &mut asking(&mut questions, |s: &[u64]| needed.iter().all(|n| s.contains(n))))
                .unwrap();
        assert_eq!(found, needed);
        assert!(questions < 40, "{questions} questions");
        // One needed item: found by halving.
        let found = ddmin((0..1000).collect(), &mut asking(&mut 0, |s: &[u64]| s.contains(&777))).unwrap();
        assert_eq!(found, [777]);
    }

    #[test]
    fn ddmin_keeps_what_it_cannot_test_away() {
        // A budget spent (nothing fails any more): what is left still fails.
        let mut budget = 3;
        let found = ddmin((0..64).collect(), &mut |candidates: &[Vec<u64>]| {
            if budget == 0 {
                return Ok(None);
            }
            budget -= 1;
            Ok(candidates.iter().position(|c| c.contains(&40)))
        })
        .unwrap();
        assert!(found.contains(&40) && found.len() < 64);
    }

    #[test]
    fn the_shortest_failing_prefix_is_found_a_few_questions_at_a_time() {
        let mut questions = 0;
        let k = shortest_prefix(10_000, 24, &mut asking(&mut questions, |p: &[u64]| p[0] > 4_321)).unwrap();
        assert_eq!(k, 4_322);
        assert!(questions <= 3, "{questions} questions");
        let k = shortest_prefix(10_000, 1, &mut asking(&mut 0, |p: &[u64]| p[0] > 4_321)).unwrap();
        assert_eq!(k, 4_322, "one prefix a question: bisection");
        assert_eq!(shortest_prefix(1, 24, &mut asking(&mut 0, |_: &[u64]| true)).unwrap(), 1);
        assert_eq!(shortest_prefix(100, 24, &mut asking(&mut 0, |p: &[u64]| p[0] >= 1)).unwrap(), 1);
    }

    #[test]
    fn signatures_keep_the_place_and_mask_the_numbers() {
        let panic = Verdict::KernelFailed("PANIC at kernel/src/cap/mod.rs:120:9: index 7 out of range for 3".into());
        assert_eq!(signature(&panic).unwrap(), "PANIC at kernel/src/cap/mod.rs:120:9");
        let ex = Verdict::KernelFailed("[ 1.5] EXCEPTION: page fault (#PF) in kernel mode, vector 14".into());
        assert_eq!(signature(&ex).unwrap(), "EXCEPTION: page fault (#PF) in kernel mode, vector #");
        let sup =
            Verdict::SupervisorFailed("[ 2.0] INFO fuzz[2]: fuzz: the supervisor failed: seed 17 at 0x1f00".into());
        assert_eq!(signature(&sup).unwrap(), "fuzz: the supervisor failed: seed # at #");
        assert_eq!(signature(&Verdict::Hung).unwrap(), "the system hung");
        assert_eq!(signature(&Verdict::Clean), None);
    }

    #[test]
    fn the_failing_batch_is_the_last_one_begun() {
        let out = "fuzz: batch 1..4, 500 calls each\nfuzz: seed 1: 500 calls, finished\nfuzz: batch 4..7, 500 calls each\nPANIC";
        assert_eq!(last_batch(out), Some((4, 7, 500)));
        assert_eq!(last_batch("PANIC"), None);
        assert_eq!(last_replay(out), None);
        let out = "fuzz: batch 9..10, 600 calls each, replay 0\nfuzz: batch 9..10, 600 calls each, replay 13\nPANIC";
        assert_eq!((last_batch(out), last_replay(out)), (Some((9, 10, 600)), Some(13)));
    }

    #[test]
    fn replay_files_name_each_childs_calls() {
        let text = replay_text(4, 500, 3, &[(1, 0), (1, 1), (1, 2), (1, 9), (2, 499)]);
        assert_eq!(text, "4 500\nnone\n0-2.9\n499\n");
    }
}
