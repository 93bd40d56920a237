//! The labs that cut into the kernel: a self-test, a system call, revoke, the ELF checks,
//! the run queue, the fast path.

use super::*;
use ipc::boot::READY_LINE;

// ---- 1. selftest ----------------------------------------------------------------------

pub(super) fn selftest() -> Lab {
    Lab {
        name: "selftest",
        title: "a kernel self-test for the divide error",
        kind: Kind::Extension,
        // The student edits the harness's expectations (xtask/src/test.rs): only the grader's
        // own files are restored.
        protected: &["xtask/src/lab.rs", "xtask/src/labs.rs", "xtask/src/labs", "xtask/src/qemu.rs"],
        checks: vec![
            check("listed", 2, OnStart::Fails, host("ipc", &["boot::tests::lab_selftest_"])),
            check("divide_error reported", 6, OnStart::Fails, boot(|_| "test=divide_error".into(), divide_error)),
            check("self-tests still listed once", 1, OnStart::Passes, host("xtask", &["every_self_test_runs"])),
            check(
                "page fault still reported",
                1,
                OnStart::Passes,
                boot(
                    |_| "test=page_fault".into(),
                    |run, _| {
                        exit_status(run, 35)?;
                        kernel_says_in_order(&run.output, &[READY_LINE, "EXCEPTION: page fault (#PF) in kernel mode"])?;
                        Ok("reported".into())
                    },
                ),
            ),
        ],
    }
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

pub(super) fn syscall() -> Lab {
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
                boot(|nonce| format!("run=sysinfotest:{nonce} exit_when_done"), sysinfotest),
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

// ---- 4. revoke -----------------------------------------------------------------------

pub(super) fn revoke() -> Lab {
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

pub(super) fn elf() -> Lab {
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
                    conversation: None,
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

pub(super) fn runqueue() -> Lab {
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
/// The fast-path lab's benchmark groups: `null` too, which costs a few seconds, so that
/// `lab verify` measures the reference once for it and for `ipccost`.
const FASTPATH_GROUPS: &str = "null,ipc,scale";

pub(super) fn fastpath() -> Lab {
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
                Test::Bench { groups: FASTPATH_GROUPS, judge: |f| at_most(f, "ipc_call_reply_0", ROUND_TRIP_MAX) },
            ),
            check(
                "bench: the fast path scales",
                2,
                OnStart::Fails,
                Test::Bench { groups: FASTPATH_GROUPS, judge: scale },
            ),
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
