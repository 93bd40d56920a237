//! The grader: runs a lab's checks, building and measuring what they need once per run.

use crate::artifacts::{self, Builder};
use crate::bench::{self, Figure};
use crate::breakdown;
use crate::labs::{self, Check, Test};
use crate::qemu::{self, Accel, Firmware, Machine};
use crate::{test, usertests};
use anyhow::{bail, Context, Result};
use ipc::boot::{INIT_PROGRAM, KEY_EXIT_WHEN_DONE, KEY_RUN};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What one check came to.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: &'static str,
    pub points: u32,
    pub passed: bool,
    /// What was seen: the figure, or why the check failed.
    pub detail: String,
    pub seconds: f64,
}

impl Outcome {
    /// The points it earned: all of them or none.
    pub fn score(&self) -> u32 {
        if self.passed {
            self.points
        } else {
            0
        }
    }
}

/// The most instructions an operation of the breakdown may take before gdb gives up on it.
const BREAKDOWN_STEPS: usize = 20_000;

/// Runs checks, building what they need once: the debug kernel and programs for the boots,
/// the release ones and one benchmark run for the figures.
pub struct Grader {
    pub nonce: u64,
    timeout: Duration,
    debug: Option<Builder>,
    release: Option<Builder>,
    /// The benchmark's figures, by the groups measured.
    figures: Vec<(&'static str, Result<Vec<Figure>, String>)>,
    /// `cargo xtask bench --breakdown`'s operations, stepped once per run if a check asks.
    breakdown: Option<Result<Vec<breakdown::Operation>, String>>,
    /// Boots already made in this run, by boot manifest: checks that judge one boot
    /// differently share it.
    boots: Vec<(String, qemu::Captured)>,
    /// User cases `cargo xtask test` passed on this very tree before verifying the labs:
    /// their verdicts stand, and they are not booted again.
    pub suite_passed: Vec<&'static str>,
    /// Print a failed boot's whole serial output.
    pub verbose: bool,
}

impl Grader {
    pub fn new(timeout: Duration) -> Grader {
        Grader {
            nonce: nonce(),
            timeout,
            debug: None,
            release: None,
            figures: Vec::new(),
            breakdown: None,
            boots: Vec::new(),
            suite_passed: Vec::new(),
            verbose: false,
        }
    }

    fn builder(&mut self, release: bool) -> Result<&Builder> {
        let slot = if release { &mut self.release } else { &mut self.debug };
        if slot.is_none() {
            *slot = Some(Builder::new(release)?);
        }
        Ok(slot.as_ref().expect("built just above"))
    }

    /// Runs one check; an error is a failed check, not a failed grader.
    pub fn run(&mut self, check: &Check) -> Outcome {
        let start = Instant::now();
        let result = self.attempt(&check.test);
        let (passed, detail) = match result {
            Ok(Ok(seen)) => (true, seen),
            Ok(Err(why)) => (false, why),
            Err(e) => (false, format!("{e:#}")),
        };
        Outcome { name: check.name, points: check.points, passed, detail, seconds: start.elapsed().as_secs_f64() }
    }

    fn attempt(&mut self, test: &Test) -> Result<Result<String, String>> {
        match test {
            Test::Host { package, filters } => host(package, filters),
            Test::Case(name) if self.suite_passed.contains(name) => {
                Ok(Ok("passed in this run of cargo xtask test, on this tree".into()))
            }
            Test::Case(name) => {
                // The case on the firmware most cases boot (`init` runs on both; UEFI is faster).
                let mut cases: Vec<_> = usertests::cases().into_iter().filter(|c| c.name == *name).collect();
                cases.sort_by_key(|c| c.firmware != usertests::FIRMWARE);
                let case = cases.into_iter().next().with_context(|| format!("no user case is named {name}"))?;
                let timeout = self.timeout;
                let verbose = self.verbose;
                let builder = self.builder(false)?;
                let (run, verdict) = test::run_user_case(builder, case, "lab", timeout)?;
                Ok(verdict.map_or_else(
                    || Ok(format!("passed ({:.1} s)", run.elapsed.as_secs_f64())),
                    |why| Err(with_output(why, &run, verbose)),
                ))
            }
            Test::Boot(boot) => {
                let nonce = self.nonce;
                let timeout = self.timeout;
                let verbose = self.verbose;
                let cmdline = (boot.cmdline)(nonce);
                let system = boot.system.map(|s| s(nonce));
                let conversation = boot.conversation.map(|c| c(nonce)).unwrap_or_default();
                let key = format!("{cmdline}\n{}\n{conversation:?}", system.as_deref().unwrap_or(""));
                if !self.boots.iter().any(|(k, _)| *k == key) {
                    let builder = self.builder(false)?;
                    let init = builder.program(INIT_PROGRAM).context("no init program was built")?;
                    let run = test::Boot {
                        firmware: usertests::FIRMWARE,
                        cmdline,
                        system: system.as_deref(),
                        conversation,
                        extra: boot.files.map(|files| files(init)).unwrap_or_default(),
                    }
                    .run(builder, "lab", timeout)?;
                    self.boots.push((key.clone(), run));
                }
                let run = &self.boots.iter().find(|(k, _)| *k == key).expect("booted just above").1;
                if let Some(Err(why)) = &run.conversation {
                    return Ok(Err(with_output(why.clone(), run, verbose)));
                }
                if run.timed_out {
                    return Ok(Err(with_output(format!("timed out after {} s", timeout.as_secs()), run, verbose)));
                }
                Ok((boot.judge)(run, nonce).map_err(|why| with_output(why, run, verbose)))
            }
            Test::Bench { groups, judge } => Ok(self.figures(groups).and_then(|figures| judge(&figures))),
            Test::Answers(check) => Ok(self.answers(check)),
        }
    }

    /// The benchmark's figures of `groups`, measured once per grading run.
    /// A run that measured more groups serves too: a figure is exact under icount, whichever
    /// run measured it.
    fn figures(&mut self, groups: &'static str) -> Result<Vec<Figure>, String> {
        let covers = |measured: &str| groups.split(',').all(|g| measured.split(',').any(|m| m == g));
        if !self.figures.iter().any(|(g, _)| covers(g)) {
            let figures = self.bench(groups);
            self.figures.push((groups, figures));
        }
        self.figures.iter().find(|(g, _)| covers(g)).expect("measured just above").1.clone()
    }

    /// An answers file, read; if every answer the check reads is filled in, the grader's own
    /// measurements (made once per run), and the check's judgement of the one by the other.
    fn answers(&mut self, check: &labs::AnswersCheck) -> Result<String, String> {
        let path = artifacts::root().join(check.file);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", check.file))?;
        let answers = labs::Answers::parse(&text)?;
        let unfilled = answers.unfilled(check.keys);
        if !unfilled.is_empty() {
            return Err(format!("not answered yet in {}: {}", check.file, unfilled.join(", ")));
        }
        let figures = if check.groups.is_empty() { Vec::new() } else { self.figures(check.groups)? };
        if check.breakdown && self.breakdown.is_none() {
            let measured = self.builder(true).and_then(|b| breakdown::measure(b, BREAKDOWN_STEPS));
            self.breakdown = Some(measured.map_err(|e| format!("the breakdown failed: {e:#}")));
        }
        let operations = match &self.breakdown {
            Some(Ok(operations)) => &operations[..],
            Some(Err(why)) => return Err(why.clone()),
            None => &[],
        };
        (check.judge)(&answers, &labs::Measured { figures: &figures, breakdown: operations })
    }

    /// The benchmark's figures of `groups`, as `cargo xtask bench` measures them (release
    /// kernel, TCG, `-icount shift=0`, BIOS, 1 GiB), with [`labs::BENCH_ITERS`] iterations.
    fn bench(&mut self, groups: &str) -> Result<Vec<Figure>, String> {
        let timeout = self.timeout.max(Duration::from_secs(labs::BENCH_TIMEOUT));
        let mut measure = || -> Result<Vec<Figure>> {
            let builder = self.builder(true)?;
            let cmdline = format!("{KEY_RUN}=bench:{}:{groups} {KEY_EXIT_WHEN_DONE}", labs::BENCH_ITERS);
            let images = builder.make_only("lab-bench", &cmdline, &[Firmware::Bios], &[INIT_PROGRAM, "bench"])?;
            let machine =
                Machine::new(Accel::Tcg, 1, Firmware::Bios)?.with_memory(bench::BENCH_MEMORY).with_icount()?;
            let run = qemu::run_captured(&machine, images.get(Firmware::Bios), timeout)?;
            let figures = bench::parse(&run.output);
            if run.timed_out || figures.is_empty() {
                bail!("the benchmark did not finish ({})", qemu::verdict(run.status));
            }
            Ok(figures)
        };
        measure().map_err(|e| format!("{e:#}"))
    }
}

/// A failure's reason, with the boot's serial output when asked for (else its last lines).
fn with_output(why: String, run: &qemu::Captured, verbose: bool) -> String {
    let lines: Vec<&str> = run.output.lines().collect();
    let shown = if verbose { &lines[..] } else { &lines[lines.len().saturating_sub(6)..] };
    let mut out = why;
    out.push_str("\n      serial output");
    out.push_str(if verbose { ":" } else { " (last lines; --verbose for all):" });
    for line in shown {
        out.push_str("\n      | ");
        out.push_str(line);
    }
    out
}

/// A random number for this grading run: the checks pass it to the programs they start, so
/// that output printed by rote cannot pass.
fn nonce() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    // Six digits: short enough to read in a failure, long enough not to guess.
    100_000 + h.finish() % 900_000
}

/// `cargo test -p PACKAGE FILTERS...`: passes if at least one test ran and none failed.
fn host(package: &str, filters: &[&str]) -> Result<Result<String, String>> {
    let mut child = artifacts::cargo()
        .args(["test", "--package", package, "--"])
        .args(filters)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stdout = child.stdout.take().context("no stdout from cargo test")?;
    let stderr = child.stderr.take().context("no stderr from cargo test")?;
    let errors = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(Result::ok).filter(|l| l.starts_with("error")).collect::<Vec<_>>()
    });
    let (mut passed, mut failed, mut failures) = (0, 0, Vec::new());
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some((p, f)) = test::parse_test_result(&line) {
            passed += p;
            failed += f;
        } else if let Some(name) = line.strip_prefix("test ").and_then(|l| l.strip_suffix(" ... FAILED")) {
            failures.push(name.to_string());
        }
    }
    let status = child.wait()?;
    let errors = errors.join().unwrap_or_default();
    Ok(if failed > 0 || !failures.is_empty() {
        let more = failures.len().saturating_sub(3);
        let named = failures.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        Err(format!("{failed} of {} failed: {named}{more}", passed + failed))
    } else if !status.success() {
        Err(format!("cargo test failed ({status}): {}", errors.first().map_or("", String::as_str)))
    } else if passed == 0 {
        Err(format!("no test of {package} matches {}", filters.join(" ")))
    } else {
        Ok(format!("{passed} passed"))
    })
}
