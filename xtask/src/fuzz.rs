//! `cargo xtask fuzz`: boots the `fuzz` program (userspace/apps/fuzz), which makes random
//! system calls from seeded children it supervises, and says how the kernel took them.
//!
//! A run is one of: clean (`fuzz: done`, no kernel failure), a kernel panic or kernel
//! exception (the kernel's own `PANIC` / `EXCEPTION:` lines, which no user program can
//! print), or a hang of the whole system (no `fuzz: done` within the timeout). The children's
//! own ends — finished, ended themselves, faulted themselves, blocked and killed — are the
//! fuzzer's business and are only counted. On a failure the seed and the last calls before it
//! are printed, and the failure is shrunk to a short sequence of calls that fails the same way
//! (`shrink`), written to a replay file that `--replay FILE` runs again.

use crate::artifacts::{self, Builder};
use crate::qemu::{self, Accel, Firmware, Machine};
use crate::shrink::{self, Shrinker};
use crate::FuzzArgs;
use anyhow::{bail, Context, Result};
use ipc::boot::{KEY_EXIT_WHEN_DONE, KEY_RUN};
use ipc::fuzz::SUPERVISOR_FAILED;
use std::time::Duration;

/// What a run of the fuzzer came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The kernel's failure line.
    KernelFailed(String),
    /// The fuzz program's own supervisor gave up (its line): a bug in the fuzzer, or a
    /// kernel refusing it what it should not.
    SupervisorFailed(String),
    Hung,
}

/// A guest that prints nothing for this long has hung: the supervisor prints a line per seed,
/// and a seed ends within a few hundred milliseconds of guest time.
/// The fuzzer boots through UEFI: the BIOS loader reads the ramdisk with emulated disk calls,
/// and under TCG takes about 27 s to reach the kernel, where UEFI takes about 3.
pub const FIRMWARE: Firmware = Firmware::Uefi;
pub const QUIET: Duration = Duration::from_secs(60);

/// Judges a run's serial output: a kernel failure line wins over everything, then whether the
/// supervisor finished.
pub fn judge(output: &str, timed_out: bool) -> Verdict {
    for bad in ["PANIC", "EXCEPTION:"] {
        if let Some(line) = output.lines().find(|l| l.contains(bad)) {
            return Verdict::KernelFailed(line.trim().to_string());
        }
    }
    if let Some(line) = output.lines().find(|l| l.contains(SUPERVISOR_FAILED)) {
        return Verdict::SupervisorFailed(line.trim().to_string());
    }
    if timed_out || !output.contains("fuzz: done") {
        return Verdict::Hung;
    }
    Verdict::Clean
}

/// `A..B` (B excluded) as its first seed and count.
pub fn parse_seeds(text: &str) -> Result<(u64, u64)> {
    let (a, b) = text.split_once("..").context("seeds are written A..B")?;
    let (a, b): (u64, u64) = (a.trim().parse()?, b.trim().parse()?);
    if b <= a {
        bail!("no seeds in {text}");
    }
    Ok((a, b - a))
}

pub fn run(args: &FuzzArgs) -> Result<()> {
    let builder = Builder::new(!args.debug)?;
    let machine = Machine::new(Accel::Tcg, 1, FIRMWARE)?;
    println!("{}", machine.description());
    let kernel = if args.debug { "debug" } else { "release" };
    let timeout = Duration::from_secs(args.timeout);
    let run = match &args.replay {
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            println!("seam: fuzzing the {kernel} kernel: the replay {}", file.display());
            shrink::replay(&builder, &machine, &text, args.plant, timeout)?
        }
        None => {
            let (first, seeds) = parse_seeds(&args.seeds)?;
            let per_seed = args.calls.div_ceil(seeds);
            // Children that end early make fewer calls than their share: the supervisor goes on
            // to further seeds until the calls asked for are made.
            let plant = if args.plant { ":plant" } else { "" };
            let cmdline = format!(
                "{KEY_RUN}=fuzz:run:{first}:{seeds}:{per_seed}:{}:{}{plant} {KEY_EXIT_WHEN_DONE}",
                args.procs, args.calls
            );
            let images = builder.make("fuzz", &cmdline, &[FIRMWARE])?;
            println!(
                "seam: fuzzing the {kernel} kernel: seeds {first}..{} (and on, until {} calls are made), {per_seed} calls each, {} at once{}",
                first + seeds,
                args.calls,
                args.procs,
                if args.plant { ", with the planted failure" } else { "" }
            );
            qemu::run_until_quiet(&machine, images.get(FIRMWARE), timeout, QUIET)?
        }
    };
    let log = artifacts::out_dir(!args.debug).join("fuzz.log");
    std::fs::write(&log, &run.output).with_context(|| format!("cannot write {}", log.display()))?;
    let lines: Vec<&str> = run.output.lines().filter(|l| l.contains("fuzz:")).collect();
    let shown = if args.verbose { &lines[..] } else { &lines[lines.len().saturating_sub(12)..] };
    for line in shown {
        println!("{}", line.trim());
    }
    let seconds = run.elapsed.as_secs_f64();
    let verdict = judge(&run.output, run.timed_out);
    if verdict != Verdict::Clean {
        println!("{}", tail(&run.output, 40));
    }
    if verdict != Verdict::Clean && args.replay.is_none() && !args.no_shrink {
        let shrinker = Shrinker {
            builder: &builder,
            machine: &machine,
            plant: args.plant,
            release: !args.debug,
            boots: args.shrink_boots,
            timeout,
            quiet: false,
        };
        shrinker.shrink(&run.output, &verdict)?;
    }
    match verdict {
        Verdict::Clean => {
            let made = calls_made(&run.output).unwrap_or(0);
            println!("seam: clean: {made} calls in {seconds:.1} s ({:.0} calls/s)", made as f64 / seconds);
            if args.replay.is_none() && made < args.calls {
                bail!(
                    "only {made} of the {} calls asked for were made: the seeds ran out (the supervisor goes on to \
                     at most a thousand times the seeds given); give more with --seeds",
                    args.calls
                );
            }
            Ok(())
        }
        Verdict::KernelFailed(line) => {
            bail!(
                "the kernel failed: {line} (the last batch line above names its seeds; the whole log is in {})",
                log.display()
            )
        }
        Verdict::SupervisorFailed(line) => {
            bail!("the fuzzer's supervisor failed: {line} (the whole log is in {})", log.display())
        }
        Verdict::Hung => {
            bail!(
                "the system hung: no `fuzz: done` within {} s, or nothing printed for {} s (the whole log is in {})",
                args.timeout,
                QUIET.as_secs(),
                log.display()
            )
        }
    }
}

/// The shrinker's own test (`cargo xtask test fuzz_shrink`): a run with the planted failure
/// (seeds 9 and 10, 600 calls each, two at once: seed 9 meets it at call 212), shrunk. The
/// shortest failing replay must fail the same way and make at most [`SHRUNK_MAX`] calls; the
/// shortest there is makes 4 (empty a slot, make an endpoint, mint it into the slot, inspect
/// the slot). Takes 2 to 4 minutes.
pub fn shrink_check(builder: &Builder, release: bool) -> Result<String, String> {
    let fail = |e: anyhow::Error| format!("{e:#}");
    let machine = Machine::new(Accel::Tcg, 1, FIRMWARE).map_err(fail)?;
    let timeout = Duration::from_secs(120);
    let cmdline = format!("{KEY_RUN}=fuzz:run:9:2:600:2:0:plant {KEY_EXIT_WHEN_DONE}");
    let images = builder.make("fuzz-shrink", &cmdline, &[FIRMWARE]).map_err(fail)?;
    let run = qemu::run_until_quiet(&machine, images.get(FIRMWARE), timeout, QUIET).map_err(fail)?;
    let verdict = judge(&run.output, run.timed_out);
    if !matches!(&verdict, Verdict::SupervisorFailed(line) if line.contains("the planted failure, seed 9")) {
        return Err(format!("the planted run did not fail as planted: {verdict:?}"));
    }
    let shrinker = Shrinker { builder, machine: &machine, plant: true, release, boots: 60, timeout, quiet: true };
    let shrunk = shrinker.shrink(&run.output, &verdict).map_err(fail)?.ok_or("the failing batch did not fail alone")?;
    if shrink::signature(&judge(&shrunk.output, false)) != shrink::signature(&verdict) {
        return Err(format!("the shrunk replay does not fail the same way:\n{}", shrunk.output));
    }
    let shown = shrunk.output.lines().filter(|l| l.contains("fuzz:   replay: seed 9 call")).count();
    if shrunk.kept.len() > SHRUNK_MAX || shown != shrunk.kept.len() {
        return Err(format!("shrunk to {} calls ({shown} shown), more than {SHRUNK_MAX}", shrunk.kept.len()));
    }
    Ok(format!("{} calls in {} boots", shrunk.kept.len(), shrunk.boots))
}

/// The most calls the shrinker's test accepts for the planted failure.
const SHRUNK_MAX: usize = 6;

/// The calls the children made, from the supervisor's `fuzz: done: S seeds, N calls` line.
fn calls_made(output: &str) -> Option<u64> {
    let done = output.lines().find_map(|l| l.split_once("fuzz: done: ").map(|(_, rest)| rest))?;
    done.split(", ").nth(1)?.split(' ').next()?.parse().ok()
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines_fail_a_run_and_a_missing_end_is_a_hang() {
        assert_eq!(judge("fuzz: seed 1: 10 calls, finished\nfuzz: done: 1 seeds", false), Verdict::Clean);
        assert_eq!(judge("fuzz: done", true), Verdict::Hung);
        assert_eq!(judge("fuzz: seed 1: 3 calls, finished\n", false), Verdict::Hung);
        assert!(
            matches!(judge("fuzz: done\nPANIC at kernel/src/x.rs:1: oops", false), Verdict::KernelFailed(l) if l.starts_with("PANIC"))
        );
        assert!(matches!(
            judge("EXCEPTION: page fault (#PF) in kernel mode\nfuzz: done", false),
            Verdict::KernelFailed(_)
        ));
        assert!(matches!(
            judge("fuzz: the supervisor failed: out of memory (error 8)\n", false),
            Verdict::SupervisorFailed(_)
        ));
    }

    #[test]
    fn the_calls_made_are_read_from_the_last_line() {
        let line = "[ 0.1] INFO  fuzz[2]: fuzz: done: 3 seeds (1..4), 2999 calls: 2 finished, 1 faulted themselves";
        assert_eq!(calls_made(line), Some(2999));
        assert_eq!(calls_made("fuzz: seed 1"), None);
    }

    #[test]
    fn seeds_are_a_half_open_range() {
        assert_eq!(parse_seeds("3..7").unwrap(), (3, 4));
        assert!(parse_seeds("7..7").is_err());
        assert!(parse_seeds("7").is_err());
    }
}
