//! The course's labs and how each is graded: the one place `cargo xtask grade`, `lab list`
//! and `lab verify` read them from. Each lab's handout and patches are in `labs/NAME/`.
//!
//! A check is a host test run, a QEMU boot judged on what the kernel printed (its own lines,
//! which a user program cannot print: [`kernel_says`]), or a benchmark figure under
//! `-icount shift=0` (an exact instruction count). Every check says what
//! the lab's start does with it: fails it (the lab's work) or passes it (a regression check,
//! which the work must not break); `lab verify` holds the start to that.

use crate::bench::Figure;
use crate::qemu::Captured;
use anyhow::{bail, Result};
use ipc::boot::READY_LINE;
use std::path::PathBuf;

/// Iterations of the benchmark a lab's figures come from: under icount a figure is the same
/// from the first iteration on, so a few hundred are as good as a hundred thousand.
pub const BENCH_ITERS: u64 = 300;
/// Seconds the benchmark boot may take (it starts a thousand processes for `ipc_scale_1000`).
pub const BENCH_TIMEOUT: u64 = 240;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The start takes a mechanism out of main; main is the reference.
    Removal,
    /// The start adds a scaffold; the reference is the start with `solution.patch`.
    Extension,
}

/// What a lab's start does with a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStart {
    /// Fails it: the check grades the lab's work.
    Fails,
    /// Passes it: the check guards what the work must not break.
    Passes,
}

/// Ramdisk files: (path in the archive, content).
pub type Files = Vec<(String, Vec<u8>)>;

pub struct BootCheck {
    /// The boot manifest, given the grading run's nonce.
    pub cmdline: fn(u64) -> String,
    /// The system description to boot, if any, given the nonce.
    pub system: Option<fn(u64) -> String>,
    /// Files the ramdisk holds besides the programs, made from init's ELF file.
    pub files: Option<fn(&[u8]) -> Files>,
    /// What was seen if the boot passes, else why not.
    pub judge: fn(&Captured, u64) -> Result<String, String>,
}

pub enum Test {
    /// `cargo test -p PACKAGE -- FILTERS`: at least one test runs, none fails.
    Host { package: &'static str, filters: &'static [&'static str] },
    /// A case of `cargo xtask test` (its user cases, by name), judged as there.
    Case(&'static str),
    /// A boot of the debug kernel (UEFI) with its own manifest and judge.
    Boot(BootCheck),
    /// The benchmark's figures of some groups (as `bench ITERS GROUPS` takes them: `null`,
    /// `yield`, `ipc`, `scale`, `notify`), measured as `cargo xtask bench` does (release
    /// kernel, TCG, `-icount shift=0`), judged.
    Bench { groups: &'static str, judge: fn(&[Figure]) -> Result<String, String> },
}

pub struct Check {
    pub name: &'static str,
    pub points: u32,
    pub start: OnStart,
    pub test: Test,
}

pub struct Lab {
    pub name: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    /// Paths (from the workspace root) that `grade --official` restores from the lab's start
    /// before grading, besides `labs/NAME/`: the grader (all of `xtask/` unless the lab has
    /// the student edit part of it) and the programs and tests its checks run.
    pub protected: &'static [&'static str],
    pub checks: Vec<Check>,
}

impl Lab {
    pub fn start_patch(&self) -> PathBuf {
        crate::lab::labs_dir().join(self.name).join("start.patch")
    }

    pub fn solution_patch(&self) -> PathBuf {
        crate::lab::labs_dir().join(self.name).join("solution.patch")
    }
}

/// Every lab, in the order the course takes them.
pub fn all() -> Vec<Lab> {
    vec![selftest(), syscall(), pingpong(), revoke(), elf(), runqueue(), fastpath(), string16()]
}

pub fn find(name: &str) -> Result<Lab> {
    match all().into_iter().find(|l| l.name == name) {
        Some(lab) => Ok(lab),
        None => {
            let names: Vec<&str> = all().iter().map(|l| l.name).collect();
            bail!("no lab is named {name}; the labs are {}", names.join(", "))
        }
    }
}

fn check(name: &'static str, points: u32, start: OnStart, test: Test) -> Check {
    Check { name, points, start, test }
}

fn host(package: &'static str, filters: &'static [&'static str]) -> Test {
    Test::Host { package, filters }
}

/// The message of a kernel log line (`[    1.234567] INFO  message`), or of a report the
/// kernel writes without the prefix (`EXCEPTION: ...`, `PANIC at ...`); None for other lines.
/// A user program's lines are the kernel's too, as `name[pid]: text`: a matcher that needs the
/// kernel's own word looks for a message that starts with it, which such a line cannot.
pub fn kernel_message(line: &str) -> Option<&str> {
    let line = line.trim_end_matches('\r');
    if line.starts_with("EXCEPTION: ") || line.starts_with("PANIC at ") {
        return Some(line);
    }
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] ")?;
    let (secs, micros) = stamp.trim_start().split_once('.')?;
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || micros.len() != 6 {
        return None;
    }
    let (level, message) = rest.split_at_checked(5)?;
    if !["ERROR", "WARN ", "INFO ", "DEBUG"].contains(&level) {
        return None;
    }
    message.strip_prefix(' ')
}

/// The first line at or after byte `from` whose kernel message starts with `start`: its
/// message and where the line ends.
pub fn kernel_says<'a>(output: &'a str, start: &str, from: usize) -> Option<(&'a str, usize)> {
    let mut at = 0;
    for line in output.split_inclusive('\n') {
        let end = at + line.len();
        if end > from {
            if let Some(message) = kernel_message(line.trim_end_matches('\n')).filter(|m| m.starts_with(start)) {
                return Some((message, end));
            }
        }
        at = end;
    }
    None
}

/// The pids of the processes of `program` that printed a line starting with `text` (the
/// kernel writes a user program's line as `program[pid]: text`).
pub fn user_says(output: &str, program: &str, text: &str) -> Vec<u64> {
    output
        .lines()
        .filter_map(kernel_message)
        .filter_map(|m| {
            let (pid, said) = m.strip_prefix(program)?.strip_prefix('[')?.split_once("]: ")?;
            said.starts_with(text).then(|| pid.parse().ok()).flatten()
        })
        .collect()
}

/// The pids of the processes of `program` that the kernel says exited with code 0.
pub fn exited_cleanly(output: &str, program: &str) -> Vec<u64> {
    let start = format!("process '{program}' (pid ");
    output
        .lines()
        .filter_map(kernel_message)
        .filter_map(|m| m.strip_prefix(start.as_str())?.strip_suffix(") exited with code 0")?.parse().ok())
        .collect()
}

/// Each of `starts` said by the kernel, in order.
pub fn kernel_says_in_order(output: &str, starts: &[&str]) -> Result<(), String> {
    let mut from = 0;
    for start in starts {
        match kernel_says(output, start, from) {
            Some((_, end)) => from = end,
            None if kernel_says(output, start, 0).is_some() => {
                return Err(format!("the kernel said \"{start}\", but not after \"{}\"", starts[0]))
            }
            None => return Err(format!("the kernel did not say \"{start}\"")),
        }
    }
    Ok(())
}

/// A figure's median (under icount every iteration of a figure costs the same).
pub fn figure(figures: &[Figure], name: &str) -> Result<u64, String> {
    crate::bench::median(figures, name).ok_or_else(|| format!("the benchmark did not report {name}"))
}

/// A figure at most `max`.
fn at_most(figures: &[Figure], name: &str, max: u64) -> Result<String, String> {
    let value = figure(figures, name)?;
    if value <= max {
        Ok(format!("{name} {value} (at most {max})"))
    } else {
        Err(format!("{name} {value}, more than {max}"))
    }
}

// ---- 1. selftest ----------------------------------------------------------------------

fn selftest() -> Lab {
    Lab {
        name: "selftest",
        title: "a kernel self-test for the divide error",
        kind: Kind::Extension,
        // The student edits the harness's expectations (xtask/src/test.rs): only the grader's
        // own files are restored.
        protected: &["xtask/src/lab.rs", "xtask/src/labs.rs", "xtask/src/qemu.rs"],
        checks: vec![
            check("listed", 2, OnStart::Fails, host("ipc", &["boot::tests::lab_selftest_"])),
            check(
                "divide_error reported",
                6,
                OnStart::Fails,
                Test::Boot(BootCheck {
                    cmdline: |_| "test=divide_error".into(),
                    system: None,
                    files: None,
                    judge: divide_error,
                }),
            ),
            check("self-tests still listed once", 1, OnStart::Passes, host("xtask", &["every_self_test_runs"])),
            check(
                "page fault still reported",
                1,
                OnStart::Passes,
                Test::Boot(BootCheck {
                    cmdline: |_| "test=page_fault".into(),
                    system: None,
                    files: None,
                    judge: |run, _| {
                        exit_status(run, 35)?;
                        kernel_says_in_order(&run.output, &[READY_LINE, "EXCEPTION: page fault (#PF) in kernel mode"])?;
                        Ok("reported".into())
                    },
                }),
            ),
        ],
    }
}

/// The status QEMU exits with when the kernel writes `code` to isa-debug-exit.
fn exit_status(run: &Captured, status: i32) -> Result<(), String> {
    if run.status != Some(status) {
        return Err(format!("expected QEMU's exit status {status}, got: {}", crate::qemu::verdict(run.status)));
    }
    Ok(())
}

/// `test=divide_error`: the kernel ends with its failure code, having reported a #DE taken in
/// kernel mode, after it was ready, at an address in the kernel's half.
fn divide_error(run: &Captured, _: u64) -> Result<String, String> {
    if kernel_says(&run.output, "unknown self-test", 0).is_some() {
        return Err("the kernel does not know the self-test divide_error".into());
    }
    exit_status(run, 35)?;
    kernel_says_in_order(
        &run.output,
        &[READY_LINE, "selftest divide_error: running", "EXCEPTION: divide error (#DE) in kernel mode"],
    )?;
    let rip = run
        .output
        .lines()
        .skip_while(|l| !l.starts_with("EXCEPTION: divide error"))
        .find_map(|l| l.split("RIP: ").nth(1))
        .and_then(|r| u64::from_str_radix(r.trim().trim_start_matches("0x").split_whitespace().next()?, 16).ok());
    match rip {
        Some(rip) if rip >= 0xffff_8000_0000_0000 => Ok(format!("#DE reported at {rip:#x}")),
        Some(rip) => Err(format!("the #DE was at {rip:#x}, not in the kernel")),
        None => Err("the report names no RIP".into()),
    }
}

// ---- 2. syscall ----------------------------------------------------------------------

/// The checks `sysinfotest` makes (it is the grader's: `grade --official` restores it).
const SYSINFO_CHECKS: u64 = 22;

fn syscall() -> Lab {
    Lab {
        name: "syscall",
        title: "a system call end to end: SysInfo",
        kind: Kind::Extension,
        protected: &["xtask", "userspace/apps/sysinfotest"],
        checks: vec![
            check("host: SysInfo is 48", 2, OnStart::Fails, host("ipc", &["syscall::tests::lab_syscall"])),
            check(
                "qemu: sysinfotest",
                6,
                OnStart::Fails,
                Test::Boot(BootCheck {
                    cmdline: |nonce| format!("run=sysinfotest:{nonce} exit_when_done"),
                    system: None,
                    files: None,
                    judge: sysinfotest,
                }),
            ),
            check("host: numbers round trip", 1, OnStart::Passes, host("ipc", &["syscall::tests::numbers_round_trip"])),
            check("qemu: badcalls", 1, OnStart::Passes, Test::Case("badcalls")),
        ],
    }
}

/// `sysinfotest NONCE`: every one of its checks made and passed, by the process the kernel
/// says exited with code 0.
fn sysinfotest(run: &Captured, nonce: u64) -> Result<String, String> {
    let summary = format!("sysinfotest {nonce}: ");
    let failed: Vec<_> = run
        .output
        .lines()
        .filter_map(kernel_message)
        .filter(|m| m.starts_with("sysinfotest[") && m.contains("]: FAIL: "))
        .collect();
    if let Some(first) = failed.first() {
        return Err(format!("{} checks failed, the first: {first}", failed.len()));
    }
    let want = format!("{summary}{SYSINFO_CHECKS} checks, 0 failed");
    let pid = *user_says(&run.output, "sysinfotest", &want).first().ok_or(format!("no process printed \"{want}\""))?;
    if !exited_cleanly(&run.output, "sysinfotest").contains(&pid) {
        return Err(format!("sysinfotest (pid {pid}) did not exit with code 0"));
    }
    Ok(format!("{SYSINFO_CHECKS} checks passed"))
}

// ---- 3. pingpong ---------------------------------------------------------------------

/// The rounds and the first badge of a grading run: from its nonce, so that no run's lines
/// can be printed by rote.
fn pingpong_numbers(nonce: u64) -> (u64, u64) {
    (100 + nonce % 900, 1_000 + (nonce / 900) % 9_000)
}

fn pingpong_boot(judge: fn(&Captured, u64) -> Result<String, String>) -> Test {
    Test::Boot(BootCheck {
        cmdline: |nonce| {
            let (rounds, badge) = pingpong_numbers(nonce);
            format!("run=pingpong:{rounds}:{badge} exit_when_done")
        },
        system: None,
        files: None,
        judge,
    })
}

fn pingpong() -> Lab {
    Lab {
        name: "pingpong",
        title: "a server, two clients, and badges",
        kind: Kind::Extension,
        protected: &["xtask"],
        checks: vec![
            check("qemu: the clients' round trips", 4, OnStart::Fails, pingpong_boot(pingpong_clients)),
            check("qemu: the server told the badges apart", 4, OnStart::Fails, pingpong_boot(pingpong_server)),
            check("qemu: three processes", 2, OnStart::Fails, pingpong_boot(pingpong_processes)),
        ],
    }
}

/// The first process's closing line, with this run's numbers, and its clean exit.
fn pingpong_clients(run: &Captured, nonce: u64) -> Result<String, String> {
    let (rounds, badge) = pingpong_numbers(nonce);
    let line = format!("pingpong: {rounds} round trips, badges {badge} and {}", badge + 1);
    let pid = *user_says(&run.output, "pingpong", &line).first().ok_or(format!("no process printed \"{line}\""))?;
    if !exited_cleanly(&run.output, "pingpong").contains(&pid) {
        return Err(format!("pid {pid} printed \"{line}\" but did not exit with code 0"));
    }
    Ok(format!("pid {pid}: {rounds} round trips, badges {badge} and {}", badge + 1))
}

/// The server's line, with this run's numbers, from a process other than the first (the one
/// that printed the clients' line), which exited cleanly.
fn pingpong_server(run: &Captured, nonce: u64) -> Result<String, String> {
    let (rounds, badge) = pingpong_numbers(nonce);
    let line = format!("pingpong server: {rounds} calls with badge {badge}, {rounds} calls with badge {}", badge + 1);
    let first = user_says(&run.output, "pingpong", "pingpong: ");
    let servers = user_says(&run.output, "pingpong", &line);
    let pid = *servers.first().ok_or(format!("no process printed \"{line}\""))?;
    if first.contains(&pid) {
        return Err(format!("pid {pid} printed both the clients' line and the server's: one process did both"));
    }
    if !exited_cleanly(&run.output, "pingpong").contains(&pid) {
        return Err(format!("the server (pid {pid}) did not exit with code 0"));
    }
    Ok(format!("pid {pid}: {rounds} calls from each badge"))
}

/// Three processes of `pingpong` exited with code 0, by the kernel's word.
fn pingpong_processes(run: &Captured, _: u64) -> Result<String, String> {
    let mut pids = exited_cleanly(&run.output, "pingpong");
    pids.sort_unstable();
    pids.dedup();
    if pids.len() != 3 {
        return Err(format!(
            "the kernel says {} pingpong processes exited with code 0 ({pids:?}); 3 expected",
            pids.len()
        ));
    }
    exit_status(run, 33)?;
    Ok(format!("pids {pids:?}"))
}

// ---- 4. revoke -----------------------------------------------------------------------

fn revoke() -> Lab {
    Lab {
        name: "revoke",
        title: "revoke: deleting what was derived, in slices",
        kind: Kind::Removal,
        protected: &["xtask", "userspace/apps/ipctest", "kernel/src/cap/tests.rs"],
        checks: vec![
            check("host: revoke", 3, OnStart::Fails, host("seam-kernel", &["cap::tests::revok", "cap::tests::a_"])),
            check(
                "host: any sequence keeps the tree",
                2,
                OnStart::Fails,
                host("seam-kernel", &["cap::tests::any_sequence"]),
            ),
            check("qemu: ipc_revoke", 3, OnStart::Fails, Test::Case("ipc_revoke")),
            check(
                "host: delete still keeps children",
                1,
                OnStart::Passes,
                host("seam-kernel", &["cap::tests::last_capability"]),
            ),
            check("qemu: ipc_transfer", 1, OnStart::Passes, Test::Case("ipc_transfer")),
        ],
    }
}

// ---- 5. elf --------------------------------------------------------------------------

fn elf() -> Lab {
    Lab {
        name: "elf",
        title: "checking a program's ELF file before it is loaded",
        kind: Kind::Removal,
        protected: &["xtask"],
        checks: vec![
            check("host: the policy", 3, OnStart::Fails, host("seam-kernel", &["task::elf::tests::refuses"])),
            check(
                "host: every corruption",
                3,
                OnStart::Fails,
                host("seam-kernel", &["task::elf::tests::every_truncation"]),
            ),
            check(
                "qemu: hostile files refused",
                3,
                OnStart::Fails,
                Test::Boot(BootCheck {
                    cmdline: |_| {
                        format!(
                            "{} run=init exit_when_done",
                            HOSTILE_ELVES.map(|(name, _)| format!("run={name}")).join(" ")
                        )
                    },
                    system: None,
                    files: Some(hostile_elves),
                    judge: hostile_elves_refused,
                }),
            ),
            check("host: good programs load", 1, OnStart::Passes, host("seam-kernel", &["task::elf::tests::accepts"])),
            check("qemu: bad_elf", 1, OnStart::Passes, Test::Case("bad_elf")),
        ],
    }
}

/// The programs [`hostile_elves`] makes, each with the error the kernel must refuse it with.
const HOSTILE_ELVES: [(&str, &str); 3] =
    [("past-end", "BadFileRange"), ("wx", "WritableAndExecutable"), ("entry-in-data", "BadEntry")];

/// Copies of init's ELF file, each with one program header changed as [`HOSTILE_ELVES`] says:
/// the first loadable segment's file bytes running a page past the end of the file; the
/// executable segment made writable too; the entry point moved into a segment that is not
/// executable. None of them breaks the file's structure: only the kernel's rules refuse them.
fn hostile_elves(init: &[u8]) -> Files {
    let u16_at = |at: usize| u16::from_le_bytes([init[at], init[at + 1]]) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(init[at..at + 8].try_into().expect("8 bytes"));
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    let loads: Vec<usize> = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&h| u32::from_le_bytes(init[h..h + 4].try_into().expect("4 bytes")) == 1)
        .collect();
    let flags = |h: usize| u32::from_le_bytes(init[h + 4..h + 8].try_into().expect("4 bytes"));
    let code = *loads.iter().find(|&&h| flags(h) & 1 != 0).expect("init has an executable segment");
    let data = *loads.iter().find(|&&h| flags(h) & 1 == 0).expect("init has a segment that is not executable");
    let mut past_end = init.to_vec();
    let first = loads[0];
    let grown = (init.len() as u64 - u64_at(first + 8)) + 4096;
    past_end[first + 32..first + 40].copy_from_slice(&grown.to_le_bytes());
    past_end[first + 40..first + 48].copy_from_slice(&grown.max(u64_at(first + 40)).to_le_bytes());
    let mut wx = init.to_vec();
    wx[code + 4..code + 8].copy_from_slice(&(flags(code) | 2).to_le_bytes());
    let mut entry = init.to_vec();
    entry[0x18..0x20].copy_from_slice(&u64_at(data + 16).to_le_bytes());
    let files = [past_end, wx, entry];
    HOSTILE_ELVES.iter().zip(files).map(|((name, _), elf)| (format!("{}{name}", ipc::boot::PROGRAM_DIR), elf)).collect()
}

/// Each hostile program refused, with its error, by the kernel; then a good one still runs.
fn hostile_elves_refused(run: &Captured, _: u64) -> Result<String, String> {
    for (name, error) in HOSTILE_ELVES {
        let said = format!("program '{name}' is not a valid executable: {error}");
        if kernel_says(&run.output, &said, 0).is_none() {
            if let Some((message, _)) = kernel_says(&run.output, &format!("program '{name}' is not a valid"), 0) {
                return Err(format!("the kernel said \"{message}\", not {error}"));
            }
            return Err(format!("the kernel did not refuse '{name}' (expected \"{said}\")"));
        }
    }
    exit_status(run, 33)?;
    // The good program is a second init, started by the first (pid 1).
    let second = run.output.lines().filter_map(kernel_message).any(|m| {
        m.strip_prefix("process 'init' (pid ")
            .and_then(|rest| rest.strip_suffix(") exited with code 0"))
            .is_some_and(|pid| pid != "1")
    });
    if !second {
        return Err("the good program (a second init) did not run to its end".into());
    }
    Ok("refused, each for its reason; init still runs".into())
}

// ---- 6. runqueue ---------------------------------------------------------------------

/// `yield_switch` (instructions per switch) at most this: midway between the start's linear
/// scan (734 when this was set) and the reference's bitmap (294).
const YIELD_MAX: u64 = 500;

fn runqueue() -> Lab {
    Lab {
        name: "runqueue",
        title: "the run queue: a priority bitmap",
        kind: Kind::Removal,
        protected: &["xtask", "userspace/apps/bench", "userspace/bench-stats", "userspace/apps/spinner"],
        checks: vec![
            check(
                "bench: yield_switch",
                4,
                OnStart::Fails,
                Test::Bench { groups: "yield", judge: |f| at_most(f, "yield_switch", YIELD_MAX) },
            ),
            check("host: run queue", 2, OnStart::Passes, host("seam-kernel", &["sched::"])),
            check("qemu: preempt", 1, OnStart::Passes, Test::Case("preempt")),
            check("qemu: priority", 1, OnStart::Passes, Test::Case("priority")),
            check("qemu: sleep", 1, OnStart::Passes, Test::Case("sleep")),
        ],
    }
}

// ---- 7. fastpath ---------------------------------------------------------------------

/// `ipc_call_reply_0` at most this: midway between the start's general path (1,115 when this
/// was set) and the reference's fast path (442).
const ROUND_TRIP_MAX: u64 = 780;

fn fastpath() -> Lab {
    Lab {
        name: "fastpath",
        title: "the IPC fast path",
        kind: Kind::Removal,
        protected: &["xtask", "userspace/apps/bench", "userspace/bench-stats", "userspace/apps/ipctest"],
        checks: vec![
            check(
                "bench: ipc_call_reply_0",
                5,
                OnStart::Fails,
                Test::Bench { groups: "ipc,scale", judge: |f| at_most(f, "ipc_call_reply_0", ROUND_TRIP_MAX) },
            ),
            check("bench: the fast path scales", 2, OnStart::Fails, Test::Bench { groups: "ipc,scale", judge: scale }),
            check("qemu: ipc_pingpong", 1, OnStart::Passes, Test::Case("ipc_pingpong")),
            check("qemu: ipc_words", 1, OnStart::Passes, Test::Case("ipc_words")),
            check("qemu: ipc_kept", 1, OnStart::Passes, Test::Case("ipc_kept")),
        ],
    }
}

/// A round trip costs the same with a thousand other processes blocked as with two, and is
/// the fast path's (below [`ROUND_TRIP_MAX`]).
fn scale(figures: &[Figure]) -> Result<String, String> {
    let (two, thousand) = (figure(figures, "ipc_scale_2")?, figure(figures, "ipc_scale_1000")?);
    if two > ROUND_TRIP_MAX {
        return Err(format!("ipc_scale_2 {two}: not the fast path (more than {ROUND_TRIP_MAX})"));
    }
    if thousand > two + 10 {
        return Err(format!("ipc_scale_1000 {thousand} against ipc_scale_2 {two}: grows with the processes"));
    }
    Ok(format!("ipc_scale_2 {two}, ipc_scale_1000 {thousand}"))
}

// ---- 8. string16 ---------------------------------------------------------------------

fn string16() -> Lab {
    Lab {
        name: "string16",
        title: "Android's strings and interface tokens, byte for byte",
        kind: Kind::Removal,
        protected: &["xtask", "userspace/binder/src/parcel/tests.rs", "userspace/apps/compat-check"],
        checks: vec![
            check("host: golden bytes", 3, OnStart::Fails, host("binder", &["parcel::tests::interface_token"])),
            check("host: enforce_interface", 2, OnStart::Fails, host("binder", &["parcel::tests::enforce_interface"])),
            check("host: any text", 2, OnStart::Fails, host("binder", &["parcel::tests::any_text"])),
            check("host: hostile Parcels", 2, OnStart::Fails, host("binder", &["parcel::tests::broken_parcels"])),
            check("host: every Parcel test", 1, OnStart::Fails, host("binder", &["parcel::tests::"])),
            check("qemu: compat", 2, OnStart::Fails, Test::Case("compat")),
            check(
                "host: binder objects",
                1,
                OnStart::Passes,
                host("binder", &["parcel::tests::binder_objects", "parcel::tests::plain_reads"]),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines_are_told_from_user_lines() {
        assert_eq!(
            kernel_message("[    1.234567] INFO  process 'x' (pid 3) exited"),
            Some("process 'x' (pid 3) exited")
        );
        assert_eq!(kernel_message("[   12.000001] ERROR selftest x: FAILED"), Some("selftest x: FAILED"));
        assert_eq!(
            kernel_message("EXCEPTION: divide error (#DE) in kernel mode"),
            Some("EXCEPTION: divide error (#DE) in kernel mode")
        );
        assert_eq!(kernel_message("process 'x' (pid 3) exited"), None);
        assert_eq!(kernel_message("[    1.23] INFO  short stamp"), None);
        // A user program's print is a kernel line too, but its message starts with its name.
        let user = "[    1.234567] INFO  pingpong[3]: process 'pingpong' (pid 3) exited with code 0";
        assert!(kernel_says(user, "process 'pingpong'", 0).is_none());
        let both = format!("{user}\n[    1.300000] INFO  process 'pingpong' (pid 3) exited with code 0\n");
        assert!(kernel_says(&both, "process 'pingpong'", 0).is_some());
    }

    #[test]
    fn kernel_lines_in_order() {
        let out = "[    0.100000] INFO  a\n[    0.200000] INFO  b\n";
        assert!(kernel_says_in_order(out, &["a", "b"]).is_ok());
        assert!(kernel_says_in_order(out, &["b", "a"]).unwrap_err().contains("not after"));
        assert!(kernel_says_in_order(out, &["c"]).unwrap_err().contains("did not say"));
    }

    #[test]
    fn every_lab_has_its_folder_work_to_grade_and_unique_check_names() {
        for lab in all() {
            assert!(lab.start_patch().exists(), "{} has no start.patch", lab.name);
            assert!(crate::lab::labs_dir().join(lab.name).join("handout.md").exists(), "{} has no handout", lab.name);
            assert_eq!(lab.solution_patch().exists(), lab.kind == Kind::Extension, "{}: solution.patch", lab.name);
            assert!(lab.checks.iter().any(|c| c.start == OnStart::Fails), "{} grades nothing", lab.name);
            // Each protected path is in the tree, or the start adds it.
            let start = std::fs::read_to_string(lab.start_patch()).unwrap();
            for path in lab.protected {
                let added = start.contains(&format!("+++ b/{path}"));
                assert!(added || crate::artifacts::root().join(path).exists(), "{}: no {path} to protect", lab.name);
            }
            let mut names: Vec<_> = lab.checks.iter().map(|c| c.name).collect();
            names.sort();
            assert!(names.windows(2).all(|w| w[0] != w[1]), "{}: check names repeat", lab.name);
        }
    }
}
