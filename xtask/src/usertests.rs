//! The user-space tests `cargo xtask test` boots: each image starts some programs from the
//! ramdisk (`run=` on the command line) and the kernel stops QEMU once they have all ended.
//! A case passes when QEMU reports success and the serial output shows what the case needs,
//! in the order it needs: preemption, priorities, sleeping, contained faults, refused bad
//! system calls, memory returned after 1,000 processes.

use crate::converse::Step;
use crate::qemu::Firmware;

mod compat;
mod fire;
mod services;

/// The firmware the cases boot with, but `init`, which boots with both. Under TCG the BIOS
/// bootloader's second stage reads the kernel and the ramdisk in real mode, about five
/// seconds per MiB on the machines this was measured on (25 s before the kernel's first
/// line for the test ramdisk); UEFI boots the same image in about six seconds all told.
pub const FIRMWARE: Firmware = Firmware::Uefi;

pub struct UserCase {
    pub name: &'static str,
    pub firmware: Firmware,
    /// Command-line words after which `exit_when_done` is added.
    pub cmdline: &'static str,
    pub check: fn(&str) -> Result<(), String>,
    /// Run on the release kernel as well as the debug one: defects that depend on how the
    /// kernel was compiled (the debug kernel checks for undefined behaviour, the release one
    /// runs it).
    pub both_profiles: bool,
    /// The system description (TOML) the case boots, if any.
    pub system: Option<String>,
    /// What the harness types and waits for; QEMU is stopped once it is done (a system with
    /// a console does not end by itself).
    pub conversation: Vec<Step>,
}

/// A test system: `ipctest SCENARIO` alone, owning COM1's ports and interrupt line, for the
/// scenarios that drive a device or carve port ranges (and make processes, read files, look
/// at the system).
fn devices(scenario: &str) -> String {
    format!(
        r#"
[[program]]
name = "ipctest"
priority = 100
memory = "8 MiB"
ports = ["0x3f8-0x3ff"]
irqs = [4]
archive = "spawn"
introspect = true
args = ["{scenario}"]
"#
    )
}

/// A test system: the name server and the console, and ipctest's `console` scenario printing
/// through the console.
fn console_system() -> String {
    format!("{}{}{CONSOLE_CLIENT}", crate::system::NAME_SERVER, crate::system::CONSOLE)
}

/// The console's client in the console's test systems.
const CONSOLE_CLIENT: &str = r#"
[[program]]
name = "ipctest"
priority = 100
memory = "8 MiB"
uses = ["console"]
args = ["console"]
"#;
/// A test system: a supervised echo server behind the name server, and ipctest's `restart`
/// scenario as its client (also the README's example of supervision).
const RESTART: &str = include_str!("../../userspace/systems/echo-restart.toml");

/// Files the harness adds to the ramdisk of every user test: programs that must be refused.
pub fn fixtures(init_elf: &[u8]) -> Vec<(String, Vec<u8>)> {
    vec![
        // A real ELF cut short: its program headers point past the end of the file.
        ("bin/broken".into(), init_elf[..init_elf.len().min(600)].to_vec()),
        ("bin/garbage".into(), b"#!/bin/sh\necho not an ELF file\n".to_vec()),
    ]
}

pub fn cases() -> Vec<UserCase> {
    let plain = |name, firmware, cmdline, check, both_profiles| UserCase {
        name,
        firmware,
        cmdline,
        check,
        both_profiles,
        system: None,
        conversation: Vec::new(),
    };
    let case = |name, firmware, cmdline, check| plain(name, firmware, cmdline, check, false);
    let defect = |name, cmdline, check| plain(name, FIRMWARE, cmdline, check, true);
    let described =
        |name, system: String, check| UserCase { system: Some(system), ..plain(name, FIRMWARE, "", check, false) };
    vec![
        case("init", Firmware::Bios, "", check_init),
        case("init", Firmware::Uefi, "", check_init),
        case("preempt", FIRMWARE, "run=spinner:a:30 run=spinner:b:30", check_preempt),
        case("priority", FIRMWARE, "run=spinner@50:low:20 run=spinner@200:high:20", check_priority),
        case("sleep", FIRMWARE, "run=spinner@50:busy:40 run=sleeper@200:5 run=sleeper@200:13", check_sleep),
        case(
            "faults",
            FIRMWARE,
            "run=spinner:survivor:60 run=fault:kernel-read run=fault:text-write run=fault:nx-jump \
             run=fault:privileged run=fault:divide run=fault:null run=fault:invalid-opcode run=fault:umip \
             run=fault:stack-overflow",
            check_faults,
        ),
        case("badcalls", FIRMWARE, "run=badcalls", check_badcalls),
        case("churn", FIRMWARE, "run=churn:10000", |o| check_churn(o, "10000 processes")),
        case("churn_threads", FIRMWARE, "run=churn:threads:10000", |o| check_churn(o, "10000 threads")),
        case("exhaust_objects", FIRMWARE, "run=exhaust:objects", |o| check_scenario(o, "exhaust", "objects")),
        case("exhaust_tables", FIRMWARE, "run=exhaust:tables", |o| check_scenario(o, "exhaust", "tables")),
        case("exhaust_quota", FIRMWARE, "run=exhaust:quota", |o| check_scenario(o, "exhaust", "quota")),
        case("exhaust_long", FIRMWARE, "run=exhaust:long", |o| check_scenario(o, "exhaust", "long")),
        case("exhaust_heap", FIRMWARE, "run=exhaust:heap", |o| check_scenario(o, "exhaust", "heap")),
        case("exhaust_whole", FIRMWARE, "run=exhaust:whole:compat:crashload:exhaust", |o| {
            check_scenario(o, "exhaust", "whole")
        }),
        // A short run of `cargo xtask fuzz`: 20 seeds of 1,000 random calls, two at a time.
        case("fuzz", FIRMWARE, "run=fuzz:run:1:20:1000:2:20000", check_fuzz),
        case("bad_elf", FIRMWARE, "run=broken run=garbage run=init", check_bad_elf),
        case("ipc_pingpong", FIRMWARE, "run=ipctest:pingpong", |o| check_ipctest(o, "pingpong")),
        case("ipc_rights", FIRMWARE, "run=ipctest:rights", |o| check_ipctest(o, "rights")),
        case("ipc_words", FIRMWARE, "run=ipctest:words", |o| check_ipctest(o, "words")),
        case("ipc_slowpath", FIRMWARE, "run=ipctest:slowpath", |o| check_ipctest(o, "slowpath")),
        case("ipc_kept", FIRMWARE, "run=ipctest:kept", |o| check_ipctest(o, "kept")),
        case("ipc_threads", FIRMWARE, "run=ipctest:threads", |o| check_ipctest(o, "threads")),
        case("ipc_revoke", FIRMWARE, "run=ipctest:revoke", |o| check_ipctest(o, "revoke")),
        case("ipc_transfer", FIRMWARE, "run=ipctest:transfer", |o| check_ipctest(o, "transfer")),
        case("ipc_notify", FIRMWARE, "run=ipctest:notify", |o| check_ipctest(o, "notify")),
        described("ipc_irq", devices("irq"), |o| check_ipctest(o, "irq")),
        case("ipc_shared", FIRMWARE, "run=ipctest:shared", |o| check_ipctest(o, "shared")),
        described("ipc_capcalls", devices("capcalls"), |o| check_ipctest(o, "capcalls")),
        described("ipc_archive", devices("archive"), |o| check_ipctest(o, "archive")),
        UserCase {
            cmdline: ipc::boot::KEY_TRACE,
            ..described("ipc_trace", devices("trace"), |o| check_ipctest(o, "trace"))
        },
        described("ipc_trace_off", devices("trace-off"), |o| check_ipctest(o, "trace-off")),
        described("ipc_restart", RESTART.into(), check_restart),
        described("console_output", console_system(), check_console_output),
        described("store_survives", STORE.into(), check_store),
        described("settings_crash_load", fire::crash_load_system("settings"), |o| {
            fire::check_crash_load(o, "settings")
        }),
        described("gallery_crash_load", fire::crash_load_system("gallery"), |o| fire::check_crash_load(o, "gallery")),
        described("servers_under_fire", fire::system(), fire::check),
        described("hostile_native", fire::hostile_system(), fire::check_hostile),
        described("gallery_frames", services::gallery_system(), |o| check_ipctest(o, "gallery")),
        described("compat", compat::system(), compat::check),
        described("compat_hostile", compat::hostile_system(), compat::check_hostile),
        described("compat_migration", compat::migration_system(), compat::check_migration),
        UserCase { conversation: typing(), ..described("console_input", typing_system(), |_| Ok(())) },
        UserCase { conversation: shell_session(), ..described("shell", DEFAULT_SYSTEM.into(), check_shell) },
        UserCase {
            conversation: services::weather_session(),
            ..described("weather", services::without_demos(), services::check_weather_session)
        },
        UserCase {
            conversation: services::gallery_session(),
            ..described("gallery", services::without_demos(), services::check_gallery_session)
        },
        UserCase {
            conversation: services::name_fault_session(),
            ..described("name_fault_at_boot", services::name_fault_system(), services::check_name_fault)
        },
        UserCase {
            conversation: services::demo_session(),
            ..described("demo_apps", DEFAULT_SYSTEM.into(), services::check_demo_session)
        },
        defect("defect_ipc_buffer", "run=defects:ipc-buffer", |o| check_defects(o, "ipc-buffer")),
        defect("defect_null_page", "run=defects:null-page", |o| check_defects(o, "null-page")),
        defect("defect_self_handle", "run=defects:self-handle", |o| check_defects(o, "self-handle")),
        defect("defect_faulted_orphan", "run=defects:faulted-orphan", |o| check_defects(o, "faulted-orphan")),
    ]
}

/// The position of `needle` in `out` at or after `from`.
fn find(out: &str, needle: &str, from: usize) -> Result<usize, String> {
    out[from..].find(needle).map(|i| from + i).ok_or_else(|| format!("output lacks \"{needle}\""))
}

/// Every needle, each after the one before.
fn in_order(out: &str, needles: &[&str]) -> Result<(), String> {
    let mut at = 0;
    for (i, n) in needles.iter().enumerate() {
        at = find(out, n, at).map_err(|e| if i == 0 { e } else { format!("{e} after \"{}\"", needles[i - 1]) })?;
    }
    Ok(())
}

/// The number right after `key` on the first line that contains `line_has`.
fn number(out: &str, line_has: &str, key: &str) -> Result<u64, String> {
    let line = out.lines().find(|l| l.contains(line_has)).ok_or_else(|| format!("output lacks \"{line_has}\""))?;
    let rest = &line[line.find(key).ok_or_else(|| format!("\"{line_has}\" line lacks \"{key}\""))? + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().map_err(|_| format!("no number after \"{key}\" in: {line}"))
}

fn check_init(out: &str) -> Result<(), String> {
    in_order(
        out,
        &[
            "started 'init' (pid 1",
            "init[1]: hello from user space: pid 1",
            "process 'init' (pid 1) exited with code 0",
        ],
    )
}

fn check_preempt(out: &str) -> Result<(), String> {
    // Neither yields: b can only start before a is done if a was preempted.
    in_order(out, &["a start", "b start", "a done"])?;
    find(out, "b done", 0)?;
    for who in ["a", "b"] {
        let n = number(out, &format!("{who} done"), "preempted=")?;
        if n < 2 {
            return Err(format!("{who} was preempted {n} times in 30 ticks; expected several time slices"));
        }
    }
    in_order(out, &["(pid 2) exited with code 0"]).and(in_order(out, &["(pid 3) exited with code 0"]))
}

fn check_priority(out: &str) -> Result<(), String> {
    // `low` is started first, but `high` runs first, to the end, unpreempted.
    in_order(
        out,
        &["init: started 'spinner' (pid 2, priority 50)", "high start", "high done", "low start", "low done"],
    )?;
    match number(out, "high done", "preempted=")? {
        0 => Ok(()),
        n => Err(format!("high was preempted {n} times by a lower priority")),
    }
}

fn check_sleep(out: &str) -> Result<(), String> {
    for ticks in [5, 13] {
        let slept = number(out, &format!("slept {ticks} ticks"), "woke after ")?;
        // The call may come just before a tick: at most one more than asked.
        if !(ticks..=ticks + 1).contains(&slept) {
            return Err(format!("sleep({ticks}) woke after {slept} ticks"));
        }
        // A waking higher priority preempts the busy lower one at once.
        in_order(out, &["busy start", &format!("slept {ticks} ticks"), "busy done"])?;
    }
    Ok(())
}

fn check_faults(out: &str) -> Result<(), String> {
    let reports = [
        (3, "page fault (#PF)", "address 0xffffffff80000000 (protection violation, read, user)"),
        (4, "page fault (#PF)", "(protection violation, write, user)"),
        (5, "page fault (#PF)", "(protection violation, instruction fetch, user)"),
        (6, "general protection fault (#GP)", "error code 0x0"),
        (7, "divide error (#DE)", "at rip 0x4"),
        (8, "page fault (#PF)", "address 0x0 (not present, read, user)"),
        (9, "invalid opcode (#UD)", "at rip 0x4"),
        // UMIP: `sgdt` in ring 3.
        (10, "general protection fault (#GP)", "error code 0x0"),
        // The unmapped page below the initial stack (ipc::layout::USER_STACK_TOP).
        (11, "page fault (#PF)", "address 0x7fffeffef"),
    ];
    let mut last = 0;
    for (pid, exception, detail) in reports {
        let head = format!("process 'fault' (pid {pid}) stopped: {exception} at rip 0x");
        let at = find(out, &head, 0)?;
        let line = out[at..].lines().next().unwrap_or("");
        if !line.contains(detail) {
            return Err(format!("report of pid {pid} lacks \"{detail}\": {line}"));
        }
        last = last.max(at);
    }
    if out.contains("the kernel let it through") {
        return Err("a fault program kept running after its fault".into());
    }
    // The survivor keeps running through all of it and finishes afterwards.
    find(out, "survivor done", last)?;
    find(out, "process 'spinner' (pid 2) exited with code 0", 0).map(drop)
}

fn check_badcalls(out: &str) -> Result<(), String> {
    if let Some(line) = out.lines().find(|l| l.contains("FAIL:")) {
        return Err(line.trim().to_string());
    }
    in_order(out, &["badcalls: 24 checks, 0 failed", "process 'badcalls' (pid 2) exited with code 0"])
}

/// The fuzzer's supervisor got through every seed (the kernel did not fail: the harness checks
/// that for every case) and the kernel's free frames came back to where they were.
fn check_fuzz(out: &str) -> Result<(), String> {
    let head = "fuzz: done: ";
    let line = out.lines().find(|l| l.contains(head)).ok_or_else(|| format!("output lacks \"{head}\""))?;
    // "fuzz: done: S seeds (A..B), N calls: ...": at least the 20,000 calls asked for.
    let calls = line.split("), ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
    if calls.is_none_or(|n| n < 20_000) {
        return Err(format!("fewer calls than asked for: {}", line.trim()));
    }
    let frames = line.split("free frames ").nth(1).and_then(|r| r.split(',').next()).unwrap_or("");
    match frames.split_once(" -> ") {
        Some((before, after)) if before == after => {}
        _ => return Err(format!("the kernel's free frames did not come back: {}", line.trim())),
    }
    find(out, "process 'fuzz' (pid 2) exited with code 0", 0).map(drop)
}

fn check_churn(out: &str, what: &str) -> Result<(), String> {
    let head = format!("churn: {what};");
    let line = out.lines().find(|l| l.contains(&head)).ok_or_else(|| format!("output lacks \"{head}\""))?;
    // "free frames A -> B, kernel heap C -> D bytes": both pairs must be equal.
    let figures: Vec<u64> = line[line.find(&head).unwrap_or(0) + head.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    match figures[..] {
        [frames_before, frames_after, heap_before, heap_after]
            if frames_before == frames_after && heap_before == heap_after => {}
        _ => return Err(format!("memory not returned: {}", line.trim())),
    }
    find(out, "process 'churn' (pid 2) exited with code 0", 0).map(drop)
}

fn check_bad_elf(out: &str) -> Result<(), String> {
    in_order(out, &["program 'broken' is not a valid executable", "cannot start 'broken'"])?;
    in_order(out, &["program 'garbage' is not a valid executable", "cannot start 'garbage'"])?;
    in_order(out, &["init[2]: hello from user space: pid 2", "process 'init' (pid 2) exited with code 0"])
}

/// A scenario of a checking program (`rt::check`): every check passed, and the program said
/// so and exited with 0.
fn check_scenario(out: &str, program: &str, scenario: &str) -> Result<(), String> {
    if let Some(line) = out.lines().find(|l| l.contains("FAIL:")) {
        return Err(line.trim().to_string());
    }
    let summary = format!("{program} {scenario}: ");
    let line = out.lines().find(|l| l.contains(&summary)).ok_or_else(|| format!("output lacks \"{summary}\""))?;
    if !line.trim_end().ends_with(" checks, 0 failed") || number(out, &summary, &summary)? == 0 {
        return Err(format!("not all checks passed: {}", line.trim()));
    }
    exited_cleanly(out, program)
}

/// Whether a process of `program` (whatever its id) exited with code 0.
fn exited_cleanly(out: &str, program: &str) -> Result<(), String> {
    let exited = format!("process '{program}' (pid ");
    match out.lines().any(|l| l.contains(&exited) && l.trim_end().ends_with(") exited with code 0")) {
        true => Ok(()),
        false => Err(format!("output lacks \"{exited}N) exited with code 0\"")),
    }
}

/// An `ipctest` scenario.
fn check_ipctest(out: &str, scenario: &str) -> Result<(), String> {
    check_scenario(out, "ipctest", scenario)
}

/// A `defects` scenario: the sequence that once broke the kernel is refused or harmless.
fn check_defects(out: &str, scenario: &str) -> Result<(), String> {
    check_scenario(out, "defects", scenario)
}

/// A test system: ipctest's `store` scenario, supervised, with a store of its own.
const STORE: &str = r#"
[[program]]
name = "ipctest"
priority = 100
memory = "2 MiB"
store = "16 KiB"
args = ["store"]
supervise = { restarts = 1 }
"#;

/// The first instance appended and crashed; init restarted it; the second found it all.
fn check_store(out: &str) -> Result<(), String> {
    in_order(
        out,
        &[
            "store: 200 records appended; crashing",
            "process 'ipctest' (pid 2) stopped: page fault (#PF)",
            "init: 'ipctest' faulted",
            "init: started 'ipctest' (pid 3",
            "ipctest store: ",
        ],
    )?;
    check_ipctest(out, "store")
}

/// The system `cargo xtask run` boots.
const DEFAULT_SYSTEM: &str = include_str!("../../userspace/system.toml");

/// A session at the default system's shell: every command, the servers killed under it,
/// and input it must survive. `check_shell` then reads what `ps` and `caps` printed.
fn shell_session() -> Vec<Step> {
    let command = |line: &str, answer: &str| vec![Step::line(line), Step::expect(answer), Step::expect("seam> ")];
    let garbage: Vec<u8> = (0x01..=0xffu8).filter(|b| ![b'\r', b'\n', 0x03, 0x04].contains(b)).collect();
    [
        vec![Step::expect("seam> ")],
        command("help", "uptime"),
        command("ps", "PID  NAME"),
        command("services", "GENERATION"),
        command("caps 3", "SLOT  KIND"),
        command("mem", "kernel heap"),
        command("uptime", "\nup "),
        command("echo marker-1", "\nmarker-1"),
        command("frobnicate now", "frobnicate: unknown command"),
        command("caps", "caps: usage: caps PID"),
        command("caps 999", "caps: no process 999"),
        command("kill nothing", "kill: nothing: no such program"),
        command("settings set user.name Ada Lovelace", "user.name = \"Ada Lovelace\""),
        command("settings set user.count 42", "user.count = 42"),
        command("settings set system.locale nb", "settings: not allowed to write that key"),
        command("settings get Bad.Key", "settings: not a key"),
        command("kill settings", "settings: killed"),
        command("settings get user.count", "user.count = 42"),
        command("settings list user.", "user.name = \"Ada Lovelace\""),
        command("settings del user.count", "user.count deleted"),
        command("settings get user.count", "settings: no such key"),
        command("kill console", "console: killed"),
        command("echo marker-2", "\nmarker-2"),
        command("kill name", "name: killed"),
        command("services", "input"),
        command(&"x".repeat(10_000), "unknown command"),
        vec![Step::Send([garbage, b"\r".to_vec()].concat()), Step::expect("seam> ")],
        command("echo marker-3", "\nmarker-3"),
    ]
    .concat()
}

/// What the shell printed: `ps` listed every server of the description, `services` their
/// names, and `caps` of the console (pid 3) showed exactly what its entry grants in the
/// described slots (its own objects live from slot 32 on).
fn check_shell(out: &str) -> Result<(), String> {
    let ps = section(out, "seam> ps\n")?;
    for server in ["init", "name", "console", "shell"] {
        if !ps.lines().any(|l| l.split_whitespace().nth(1) == Some(server)) {
            return Err(format!("ps does not list '{server}':\n{ps}"));
        }
    }
    let services = section(out, "seam> services\n")?;
    for name in ["name", "init", "console", "input"] {
        if !services.lines().any(|l| l.split_whitespace().next() == Some(name)) {
            return Err(format!("services does not list '{name}':\n{services}"));
        }
    }
    let caps = section(out, "seam> caps 3\n")?;
    let granted: Vec<(u64, &str, &str)> = caps
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            Some((w.first()?.parse().ok()?, *w.get(1)?, *w.get(2)?))
        })
        .filter(|(slot, _, _)| *slot < 32)
        .collect();
    let wanted = [
        (0, "memory", "rwg"),
        (1, "archive", "r--"),
        (2, "endpoint", "-wg"),
        (3, "endpoint", "r--"),
        (5, "ioports", "rwg"),
        (9, "irq", "rwg"),
    ];
    if granted != wanted {
        return Err(format!("caps of the console shows {granted:?}, not exactly its grants {wanted:?}"));
    }
    Ok(())
}

/// What follows the first `head` in `out`, up to the next prompt.
fn section<'a>(out: &'a str, head: &str) -> Result<&'a str, String> {
    let start = out.find(head).ok_or_else(|| format!("output lacks \"{}\"", head.trim_end()))? + head.len();
    let rest = &out[start..];
    Ok(&rest[..rest.find("seam> ").unwrap_or(rest.len())])
}

/// The console's test system, with ipctest reading lines as `input` (its `typing` scenario).
fn typing_system() -> String {
    console_system()
        .replace("uses = [\"console\"]\nargs = [\"console\"]", "uses = [\"console\", \"input\"]\nargs = [\"typing\"]")
}

/// Typing at ipctest's `typing` scenario through the console: line editing, a line far longer
/// than the console keeps, bytes that are not text, and the end of input.
fn typing() -> Vec<Step> {
    let long = "a".repeat(10_000);
    let garbage: Vec<u8> = (0x01..=0xffu8).filter(|b| ![b'\r', b'\n', 0x03, 0x04, 0x7f, 0x08].contains(b)).collect();
    vec![
        Step::expect("typing: ready"),
        Step::line("hello"),
        Step::expect("got 5: hello"),
        Step::line("ab\x7fc"),
        Step::expect("got 2: ac"),
        Step::Send(b"thrown away\x03".to_vec()),
        Step::expect("^C"),
        Step::line("kept"),
        Step::expect("got 4: kept"),
        Step::line(&long),
        Step::expect(&format!("got 256: {}", "a".repeat(256))),
        Step::Send([garbage, b"\r".to_vec()].concat()),
        Step::expect("got "),
        Step::line("still here"),
        Step::expect("got 10: still here"),
        Step::Send(vec![0x04]),
        Step::expect("typing: end of input"),
    ]
}

/// Every line the console printed for ipctest is whole and tagged, and the scenario passed.
fn check_console_output(out: &str) -> Result<(), String> {
    let long = "<begin 123456789 123456789 123456789 123456789 123456789 123456789 123456789 end>";
    let printed = |line: &str| out.lines().any(|l| l.trim_end_matches('\r') == format!("ipctest: {line}"));
    let utf8 = format!("across chunks: {}", "é".repeat(20));
    for line in [long, "a line in three prints", utf8.as_str()] {
        if !printed(line) {
            return Err(format!("the console did not print, whole and tagged: \"ipctest: {line}\""));
        }
    }
    if out.contains("INFO  ipctest[") {
        return Err("ipctest printed through the kernel, not the console".into());
    }
    check_ipctest(out, "console")
}

/// The echo server crashes, init restarts it, and the client's lost call fails while the
/// next one succeeds.
fn check_restart(out: &str) -> Result<(), String> {
    in_order(
        out,
        &[
            "init: started 'supervised-echo' (pid 3",
            "process 'supervised-echo' (pid 3) stopped: page fault (#PF)",
            "init: 'supervised-echo' faulted (vector 14, address 0x0); restarting it",
            "process 'supervised-echo' (pid 3) was killed",
            "init: started 'supervised-echo' (pid 5",
        ],
    )?;
    check_ipctest(out, "restart")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_system_compiles() {
        let programs = crate::artifacts::user_programs().unwrap();
        for case in cases() {
            if let Some(toml) = &case.system {
                crate::system::compile_text(toml, &programs).unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
            }
        }
    }

    #[test]
    fn order_and_numbers_are_checked() {
        let out = "x a start\ny b start\nz a done preempted=3 loops=9\nb done preempted=2\n\
                   (pid 2) exited with code 0\n(pid 3) exited with code 0\n";
        assert_eq!(check_preempt(out), Ok(()));
        let not_interleaved = "a start\na done preempted=3\nb start\nb done preempted=3\n";
        assert!(check_preempt(not_interleaved).is_err());
        let never_preempted = "a start\nb start\na done preempted=0\nb done preempted=0\n";
        assert!(check_preempt(never_preempted).is_err());
    }

    #[test]
    fn ipctest_needs_a_clean_summary_and_exit() {
        let ok = "ipctest notify: 9 checks, 0 failed\nprocess 'ipctest' (pid 2) exited with code 0\n";
        assert_eq!(check_ipctest(ok, "notify"), Ok(()));
        assert!(check_ipctest(&ok.replace("0 failed", "1 failed"), "notify").is_err());
        assert!(check_ipctest(&ok.replace("9 checks", "0 checks"), "notify").is_err());
        assert!(check_ipctest(&format!("FAIL: x\n{ok}"), "notify").is_err());
        assert!(check_ipctest(&ok.replace("code 0", "code 1"), "notify").is_err());
        assert!(check_ipctest(ok, "rights").is_err());
    }

    #[test]
    fn churn_needs_both_figures_unchanged() {
        let ok = "churn: 10000 threads; free frames 10 -> 10, kernel heap 5 -> 5 bytes\n\
                  process 'churn' (pid 2) exited with code 0";
        assert_eq!(check_churn(ok, "10000 threads"), Ok(()));
        assert!(check_churn(ok, "10000 processes").is_err());
        assert!(check_churn(&ok.replace("10 -> 10", "10 -> 9"), "10000 threads").is_err());
        assert!(check_churn(&ok.replace("5 -> 5", "5 -> 6"), "10000 threads").is_err());
    }

    #[test]
    fn sleep_accepts_one_tick_late_but_not_early() {
        let out =
            |a, b| format!("busy start\nslept 5 ticks: woke after {a}\nslept 13 ticks: woke after {b}\nbusy done\n");
        assert_eq!(check_sleep(&out(5, 14)), Ok(()));
        assert!(check_sleep(&out(4, 13)).is_err());
        assert!(check_sleep(&out(5, 15)).is_err());
    }
}
