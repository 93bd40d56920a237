//! `cargo xtask test`: host unit tests, then every kernel self-test and user-space test
//! booted in QEMU.
//!
//! Each kernel test boots a real disk image whose boot manifest says `test=NAME`, captures
//! the serial console, and passes only if the kernel's verdict (through isa-debug-exit) and
//! its report are the expected ones: a fault test passes only if the report names the right
//! exception. User-space tests (`usertests`) start programs instead. The closing line is
//! `N passed, M failed`.

use crate::artifacts::{self, Builder};
use crate::fuzz;
use crate::qemu::{self, Accel, Firmware, Machine};
use crate::untangle::Untangler;
use crate::usertests::{self, UserCase};
use crate::TestArgs;
use anyhow::{bail, Context, Result};
use ipc::boot::{
    SelfTest, ALL_ENDED_LINE, INIT_PROGRAM, KEY_EXIT_WHEN_DONE, KEY_FASTPATH, KEY_TEST, PAGE_FAULT_TEST_ADDRESS,
    READY_LINE, USER_PAGE_TEST_ADDRESS,
};
use ipc::qemu::ExitCode;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a self-test must end with, and what its serial output must contain.
fn expectation(test: SelfTest) -> (ExitCode, Vec<String>) {
    use ExitCode::{Failure, Success};
    let passed = |t: SelfTest| format!("selftest {}: passed", t.name());
    let (exit, mut lines) = match test {
        SelfTest::Boot | SelfTest::Heap | SelfTest::Frames | SelfTest::Timer | SelfTest::CpuFeatures => {
            (Success, vec![passed(test)])
        }
        SelfTest::LogInInterrupt => (Success, vec!["(logged from the timer interrupt)".into(), passed(test)]),
        SelfTest::Breakpoint => (Success, vec!["breakpoint (#BP) at".into(), passed(test)]),
        SelfTest::PageFault => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "error code: 0x2 (not present, write, supervisor)".into(),
                format!("CR2: {PAGE_FAULT_TEST_ADDRESS:#018x}"),
            ],
        ),
        SelfTest::InvalidOpcode => (Failure, vec!["EXCEPTION: invalid opcode (#UD) in kernel mode".into()]),
        SelfTest::StackOverflow => {
            (Failure, vec!["EXCEPTION: double fault (#DF) in kernel mode".into(), "kernel stack overflow".into()])
        }
        SelfTest::NoExecute => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "instruction fetch, supervisor".into(),
                "(kernel heap)".into(),
            ],
        ),
        SelfTest::HeapGuard => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "(not present, read, supervisor)".into(),
                "kernel heap guard page".into(),
            ],
        ),
        SelfTest::Panic => (Failure, vec!["PANIC at kernel/src/selftest.rs:".into(), "self-test panic".into()]),
        SelfTest::TextWrite => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "error code: 0x3 (protection violation, write, supervisor)".into(),
                "CR2: 0xffffffff8".into(),
            ],
        ),
        SelfTest::DataExecute => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "error code: 0x11 (protection violation, instruction fetch, supervisor)".into(),
                "CR2: 0xffffffff8".into(),
            ],
        ),
        SelfTest::Smep => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "error code: 0x11 (protection violation, instruction fetch, supervisor)".into(),
                format!("CR2: {USER_PAGE_TEST_ADDRESS:#018x}"),
            ],
        ),
        SelfTest::Smap => (
            Failure,
            vec![
                "EXCEPTION: page fault (#PF) in kernel mode".into(),
                "error code: 0x1 (protection violation, read, supervisor)".into(),
                format!("CR2: {USER_PAGE_TEST_ADDRESS:#018x}"),
            ],
        ),
    };
    // Every test runs after boot completes.
    lines.insert(0, READY_LINE.into());
    (exit, lines)
}

enum Case {
    Kernel {
        firmware: Firmware,
        test: SelfTest,
    },
    /// A user-space case; `release` when it is the release-kernel run of a case that the
    /// run's own profile (debug, unless `--release`) covers too; `slow` when it boots with
    /// the IPC fast path off (`fastpath=off`), to show the fast path changes no result.
    User {
        case: UserCase,
        release: bool,
        slow: bool,
    },
}

impl Case {
    fn firmware(&self) -> Firmware {
        match self {
            Case::Kernel { firmware, .. } => *firmware,
            Case::User { case, .. } => case.firmware,
        }
    }

    /// Whether it boots the release kernel, in a run whose profile is `release_run`.
    fn release(&self, release_run: bool) -> bool {
        match self {
            Case::Kernel { .. } => release_run,
            Case::User { release, .. } => *release || release_run,
        }
    }

    fn name(&self) -> String {
        match self {
            Case::Kernel { firmware, test } => format!("qemu::{}::{}", firmware.name(), test.name()),
            Case::User { case, release, slow } => {
                let profile = if *release { "::release" } else { "" };
                let path = if *slow { "::slowpath" } else { "" };
                format!("qemu::{}{profile}{path}::user::{}", case.firmware.name(), case.name)
            }
        }
    }

    fn cmdline(&self) -> String {
        match self {
            Case::Kernel { test, .. } => format!("{KEY_TEST}={}", test.name()),
            Case::User { case, slow, .. } => {
                let slow = if *slow { format!("{KEY_FASTPATH}=off ") } else { String::new() };
                // A conversation ends when its steps are done; a run without one, when its
                // programs are.
                let end = if case.conversation.is_empty() { format!(" {KEY_EXIT_WHEN_DONE}") } else { String::new() };
                format!("{slow}{}{end}", case.cmdline)
            }
        }
    }

    /// The boot the case makes: its manifest, and its system and conversation if it has them.
    fn boot(&self) -> Boot<'_> {
        let (system, conversation) = match self {
            Case::User { case, .. } => (case.system.as_deref(), case.conversation.clone()),
            Case::Kernel { .. } => (None, Vec::new()),
        };
        Boot { firmware: self.firmware(), cmdline: self.cmdline(), system, conversation, extra: Vec::new() }
    }

    fn judge(&self, run: &qemu::Captured) -> Option<String> {
        match self {
            Case::Kernel { test, .. } => judge(*test, run),
            Case::User { case, slow, .. } => match judge_user(case, run) {
                None if *slow && !run.output.contains(FASTPATH_OFF_LINE) => {
                    Some(format!("the kernel did not say \"{FASTPATH_OFF_LINE}\": the fast path may have been on"))
                }
                verdict => verdict,
            },
        }
    }
}

/// The user cases (by name, or by prefix for one ending in `_`) run a second time with the IPC fast path off: every IPC
/// test, faults, the compat server's wire and hostile cases, and the shell's and weather's
/// conversations (about four minutes more in all).
const SLOW_PATH_CASES: [&str; 6] = ["ipc_", "faults", "compat", "compat_hostile", "weather", "shell"];

/// What the kernel says when it boots with `fastpath=off`.
const FASTPATH_OFF_LINE: &str = "IPC fast path off";

/// Every self-test on UEFI (as the user cases, [`usertests::FIRMWARE`]); booting on BIOS too; then the user-space tests, in the run's
/// profile, and those that ask for both once more on the release kernel (unless the whole
/// run is a release one).
fn cases(release_run: bool) -> Vec<Case> {
    let mut cases: Vec<Case> =
        SelfTest::ALL.iter().map(|&test| Case::Kernel { firmware: usertests::FIRMWARE, test }).collect();
    cases.insert(1, Case::Kernel { firmware: Firmware::Bios, test: SelfTest::Boot });
    cases.extend(usertests::cases().into_iter().map(|case| Case::User { case, release: false, slow: false }));
    if !release_run {
        let again = usertests::cases().into_iter().filter(|c| c.both_profiles);
        cases.extend(again.map(|case| Case::User { case, release: true, slow: false }));
    }
    // The cases that exercise IPC once more with the fast path off: the same results.
    let slow = usertests::cases().into_iter().filter(|c| {
        SLOW_PATH_CASES.iter().any(|p| if p.ends_with('_') { c.name.starts_with(p) } else { c.name == *p })
    });
    cases.extend(slow.map(|case| Case::User { case, release: false, slow: true }));
    cases
}

/// A user-space case: the kernel must stop QEMU with success once every process has ended,
/// without a kernel fault or panic, and the output must pass the case's own check.
fn judge_user(case: &UserCase, run: &qemu::Captured) -> Option<String> {
    if run.timed_out {
        return Some(format!("timed out after {:.0} s", run.elapsed.as_secs_f64()));
    }
    for bad in ["PANIC", "EXCEPTION:"] {
        if let Some(line) = run.output.lines().find(|l| l.contains(bad)) {
            return Some(format!("the kernel failed: {line}"));
        }
    }
    // The case's own check reads the output with kernel lines that tore through a user's
    // line put back before it.
    let untangled = Untangler::whole(&run.output);
    match &run.conversation {
        Some(Err(why)) => return Some(why.clone()),
        // The harness stopped QEMU once the conversation was done: no exit code to check.
        Some(Ok(())) => return (case.check)(&untangled).err(),
        None => {}
    }
    if run.status != Some(ExitCode::Success.qemu_status()) {
        return Some(format!("expected the kernel's success exit, got: {}", qemu::verdict(run.status)));
    }
    if !run.output.contains(ALL_ENDED_LINE) {
        return Some(format!("output lacks \"{ALL_ENDED_LINE}\""));
    }
    (case.check)(&untangled).err()
}

/// Why a captured boot does not meet its expectation, if it does not.
fn judge(test: SelfTest, run: &qemu::Captured) -> Option<String> {
    if run.timed_out {
        return Some(format!("timed out after {:.0} s", run.elapsed.as_secs_f64()));
    }
    let (exit, lines) = expectation(test);
    let failed_line = format!("selftest {}: FAILED", test.name());
    if run.output.contains(&failed_line) {
        return Some("the kernel reported the self-test failed".into());
    }
    if run.status != Some(exit.qemu_status()) {
        return Some(format!(
            "expected exit status {} ({exit:?}), got: {}",
            exit.qemu_status(),
            qemu::verdict(run.status)
        ));
    }
    lines.iter().find(|l| !run.output.contains(l.as_str())).map(|l| format!("output lacks \"{l}\""))
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

/// `cargo test` over the host-testable crates, its output passed through and its counts kept.
fn host_tests(tally: &mut Tally) -> Result<()> {
    println!("== host unit tests (cargo test)");
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("test")
        .current_dir(artifacts::root())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stdout = child.stdout.take().context("no stdout from cargo test")?;
    let mut saw_result = false;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some((p, f)) = parse_test_result(&line) {
            tally.passed += p;
            tally.failed += f;
            saw_result = true;
        }
    }
    let status = child.wait()?;
    if !status.success() && tally.failed == 0 {
        // A build failure runs no test at all: count it, so the run cannot look green.
        tally.failed += 1;
        println!("host tests did not run: cargo test failed ({status})");
    } else if !saw_result {
        bail!("cargo test printed no result line");
    }
    Ok(())
}

/// Reads cargo's `test result: ok. 12 passed; 0 failed; ...` line.
pub fn parse_test_result(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("test result: ")?;
    let count = |word: &str| -> Option<usize> {
        rest.split(';').find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(word)?
                .trim()
                .parse()
                .ok()
        })
    };
    Some((count("passed")?, count("failed")?))
}

pub fn run(args: &TestArgs) -> Result<()> {
    let mut tally = Tally::default();
    if !args.no_host {
        host_tests(&mut tally)?;
    }

    let release_run = args.build.release;
    let cases: Vec<Case> = cases(release_run)
        .into_iter()
        .filter(|c| args.filter.as_ref().is_none_or(|f| c.name().contains(f.as_str())))
        .collect();
    // The fuzzer's shrinker boots many times, one after another: it runs beside the cases.
    let shrink = "qemu::uefi::tool::fuzz_shrink";
    let shrinking = args.filter.as_ref().is_none_or(|f| shrink.contains(f.as_str()));
    if !cases.is_empty() || shrinking {
        println!("== QEMU tests");
    }
    // One build per profile the cases need, the run's own first.
    let mut builders: Vec<(bool, Builder)> = Vec::new();
    for release in [release_run, !release_run] {
        if cases.iter().any(|c| c.release(release_run) == release) || (shrinking && release == release_run) {
            builders.push((release, Builder::new(release)?));
        }
    }
    let mut passed = Vec::new();
    std::thread::scope(|s| -> Result<()> {
        let shrinker = shrinking.then(|| {
            let builder = &builders.iter().find(|(r, _)| *r == release_run).expect("built above").1;
            s.spawn(move || {
                let start = std::time::Instant::now();
                (fuzz::shrink_check(builder, release_run), start.elapsed().as_secs_f64())
            })
        });
        passed = run_cases(args, &cases, &builders, &mut tally)?;
        if let Some(shrinker) = shrinker {
            match shrinker.join().expect("the shrinker's thread panicked") {
                (Ok(what), seconds) => {
                    tally.passed += 1;
                    println!("test {shrink} ... ok ({seconds:.1} s): {what}");
                }
                (Err(why), seconds) => {
                    tally.failed += 1;
                    println!("test {shrink} ... FAILED ({seconds:.1} s): {why}");
                }
            }
        }
        Ok(())
    })?;

    if !args.no_labs {
        labs(args, &passed, &mut tally)?;
    }

    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// `cargo xtask lab verify` for the labs the filter picks (as `lab::NAME`), each a test: its
/// start builds, boots and fails exactly its own checks, its reference passes them all.
/// User cases that passed in this run (`passed`) are not booted again for the removal labs'
/// references, which are this same tree.
fn labs(args: &TestArgs, passed: &[&'static str], tally: &mut Tally) -> Result<()> {
    let names: Vec<String> = crate::labs::all()
        .iter()
        .map(|lab| lab.name.to_string())
        .filter(|name| args.filter.as_ref().is_none_or(|f| format!("lab::{name}").contains(f.as_str())))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    println!("== labs (cargo xtask lab verify)");
    let started = std::time::Instant::now();
    let results = crate::lab::verify(&names, crate::lab::VERIFY_TIMEOUT, passed)?;
    crate::lab::report(&results);
    for r in &results {
        let how = format!("start {}/{}, reference {}/{}", r.start.0, r.start.1, r.reference.0, r.reference.1);
        if r.faults.is_empty() {
            tally.passed += 1;
            println!("test lab::{} ... ok ({:.1} s): {how}", r.lab, r.seconds);
        } else {
            tally.failed += 1;
            println!("test lab::{} ... FAILED ({:.1} s): {}", r.lab, r.seconds, r.faults.join("; "));
        }
    }
    println!("labs verified in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs the QEMU cases one after another, each on its own image, tallying what they come to;
/// returns the user cases that passed as a lab's grader boots them (debug kernel, fast path
/// on, [`usertests::FIRMWARE`]).
fn run_cases(
    args: &TestArgs,
    cases: &[Case],
    builders: &[(bool, Builder)],
    tally: &mut Tally,
) -> Result<Vec<&'static str>> {
    let release_run = args.build.release;
    let mut as_graded = Vec::new();
    let mut announced = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let builder = &builders.iter().find(|(r, _)| *r == case.release(release_run)).expect("built above").1;
        let firmware = case.firmware();
        if !announced.contains(&firmware) {
            println!("{}", Machine::new(Accel::Tcg, 1, firmware)?.description());
            announced.push(firmware);
        }
        let run = case
            .boot()
            .run(builder, &format!("test-{i}"), Duration::from_secs(args.timeout))
            .with_context(|| format!("booting {}", case.name()))?;
        match case.judge(&run) {
            None => {
                tally.passed += 1;
                println!("test {} ... ok ({:.1} s)", case.name(), run.elapsed.as_secs_f64());
                if let Case::User { case: user, slow: false, .. } = case {
                    if !case.release(release_run) && user.firmware == usertests::FIRMWARE {
                        as_graded.push(user.name);
                    }
                }
            }
            Some(why) => {
                tally.failed += 1;
                println!("test {} ... FAILED ({:.1} s): {why}", case.name(), run.elapsed.as_secs_f64());
                println!("---- serial output of {} ----", case.name());
                for line in run.output.lines() {
                    println!("    {line}");
                }
                println!("---- end of {} ----", case.name());
            }
        }
    }
    Ok(as_graded)
}

/// One boot of a test image: the harness's fixtures in the ramdisk, and a system description
/// and a conversation if the case has them.
pub struct Boot<'a> {
    pub firmware: Firmware,
    pub cmdline: String,
    pub system: Option<&'a str>,
    pub conversation: Vec<crate::converse::Step>,
    /// More files for the ramdisk, besides the fixtures.
    pub extra: Vec<(String, Vec<u8>)>,
}

impl Boot<'_> {
    /// Makes the image (named after `tag`) from what `builder` built and boots it under TCG.
    pub fn run(self, builder: &Builder, tag: &str, timeout: Duration) -> Result<qemu::Captured> {
        let init = builder.program(INIT_PROGRAM).context("no init program was built")?;
        let mut files = usertests::fixtures(init);
        files.extend(self.extra);
        if let Some(toml) = self.system {
            files.push(builder.system_text(toml).context("the case's system description")?);
        }
        let images = builder.make_with(tag, &self.cmdline, &[self.firmware], &files)?;
        let machine = Machine::new(Accel::Tcg, 1, self.firmware)?;
        let image = images.get(self.firmware);
        if self.conversation.is_empty() {
            qemu::run_captured(&machine, image, timeout)
        } else {
            qemu::converse(&machine, image, timeout, self.conversation)
        }
    }
}

/// Boots a user case as `cargo xtask test` does (fast path on, the builder's profile) and
/// judges it: `None` when it passes, else why not.
pub fn run_user_case(
    builder: &Builder,
    case: UserCase,
    tag: &str,
    timeout: Duration,
) -> Result<(qemu::Captured, Option<String>)> {
    let case = Case::User { case, release: false, slow: false };
    let run = case.boot().run(builder, tag, timeout)?;
    let verdict = case.judge(&run);
    Ok((run, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(status: i32, output: &str) -> qemu::Captured {
        qemu::Captured {
            status: Some(status),
            output: output.into(),
            timed_out: false,
            elapsed: Duration::ZERO,
            conversation: None,
        }
    }

    #[test]
    fn parses_cargo_result_lines() {
        assert_eq!(parse_test_result("test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured"), Some((12, 0)));
        assert_eq!(parse_test_result("test result: FAILED. 3 passed; 2 failed; 0 ignored"), Some((3, 2)));
        assert_eq!(parse_test_result("test foo ... ok"), None);
    }

    #[test]
    fn a_fault_test_passes_only_with_the_right_report_and_status() {
        let good = format!("{READY_LINE}\nEXCEPTION: invalid opcode (#UD) in kernel mode, vector 6\n");
        assert_eq!(judge(SelfTest::InvalidOpcode, &captured(35, &good)), None);
        // Right status, wrong exception.
        let wrong = format!("{READY_LINE}\nEXCEPTION: general protection fault (#GP) in kernel mode\n");
        assert!(judge(SelfTest::InvalidOpcode, &captured(35, &wrong)).is_some());
        // Right report, but QEMU did not get the kernel's failure code.
        assert!(judge(SelfTest::InvalidOpcode, &captured(1, &good)).is_some());
        // Never booted.
        assert!(
            judge(SelfTest::InvalidOpcode, &captured(35, "EXCEPTION: invalid opcode (#UD) in kernel mode")).is_some()
        );
    }

    #[test]
    fn a_passing_test_needs_its_passed_line_and_no_failed_line() {
        let ok = format!("{READY_LINE}\nselftest heap: passed\n");
        assert_eq!(judge(SelfTest::Heap, &captured(33, &ok)), None);
        assert!(judge(SelfTest::Heap, &captured(33, READY_LINE)).is_some());
        let failed = format!("{READY_LINE}\nselftest heap: FAILED: x\nselftest heap: passed\n");
        assert!(judge(SelfTest::Heap, &captured(33, &failed)).is_some());
    }

    #[test]
    fn timeouts_fail() {
        let mut run = captured(33, &format!("{READY_LINE}\nselftest boot: passed"));
        run.timed_out = true;
        assert!(judge(SelfTest::Boot, &run).is_some());
    }

    #[test]
    fn every_self_test_runs_and_boot_runs_on_both_firmwares() {
        let cases = cases(false);
        let has = |t: SelfTest, f: Firmware| {
            cases.iter().any(|c| matches!(c, Case::Kernel { test, firmware } if *test == t && *firmware == f))
        };
        for t in SelfTest::ALL {
            assert!(has(t, Firmware::Uefi), "{t:?}");
        }
        assert!(has(SelfTest::Boot, Firmware::Bios));
        let mut names: Vec<String> = cases.iter().map(Case::name).collect();
        names.sort();
        assert!(names.windows(2).all(|w| w[0] != w[1]), "case names are unique");
    }

    #[test]
    fn cases_for_both_profiles_run_on_release_too_unless_all_do() {
        let debug_run = cases(false);
        let both = usertests::cases().iter().filter(|c| c.both_profiles).count();
        assert!(both > 0);
        let release_copies = debug_run.iter().filter(|c| c.release(false)).count();
        assert_eq!(release_copies, both);
        assert!(debug_run.iter().any(|c| c.name() == "qemu::uefi::release::user::defect_null_page"));
        assert!(debug_run.iter().any(|c| c.name() == "qemu::uefi::user::defect_null_page"));
        let release_run = cases(true);
        assert_eq!(release_run.len(), debug_run.len() - both);
        assert!(release_run.iter().all(|c| c.release(true)));
    }

    #[test]
    fn a_user_case_fails_on_a_kernel_fault_even_if_its_check_passes() {
        let case = UserCase {
            name: "x",
            firmware: Firmware::Bios,
            cmdline: "",
            check: |_| Ok(()),
            both_profiles: false,
            system: None,
            conversation: Vec::new(),
        };
        let ok = format!("{READY_LINE}\n{ALL_ENDED_LINE}\n");
        assert_eq!(judge_user(&case, &captured(33, &ok)), None);
        assert!(judge_user(&case, &captured(33, &format!("{ok}EXCEPTION: page fault"))).is_some());
        assert!(judge_user(&case, &captured(35, &ok)).is_some());
        assert!(judge_user(&case, &captured(33, READY_LINE)).is_some());
        // A conversation's verdict: QEMU was stopped, so no exit code is asked for, but a
        // failed step or a kernel fault still fails.
        let talked =
            |said: Result<(), String>, out: &str| qemu::Captured { conversation: Some(said), ..captured(-1, out) };
        assert_eq!(judge_user(&case, &talked(Ok(()), READY_LINE)), None);
        assert!(judge_user(&case, &talked(Err("waited".into()), READY_LINE)).is_some());
        assert!(judge_user(&case, &talked(Ok(()), "PANIC at x")).is_some());
    }
}
