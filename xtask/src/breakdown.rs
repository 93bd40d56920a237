//! `cargo xtask bench --breakdown`: where a round trip's instructions go, one by one.
//!
//! The bench program's `breakdown` mode runs each operation of [`bench_stats::BREAKDOWN`]
//! once, warmed up, between two calls of its `breakdown_mark`. This boots it under icount
//! with QEMU's gdb stub, and a gdb script (Python, run by `gdb -batch`) puts a hardware
//! breakpoint on the mark, then single-steps from one mark to the next, noting for each
//! instruction its address and the function it belongs to (the ELF symbol around it, and the
//! innermost function inlined there, from the debug information). Kernel and bench symbols
//! are both loaded: the kernel at its load address, the bench program where it is linked.
//!
//! What it prints per operation: the total, the instructions grouped by consecutive function
//! (the route through user code, the entry stub, the handlers, the switch, the exit, and the
//! server's side), and a summary per function. Under `-icount shift=0` one instruction is one
//! TSC cycle, so the total matches the bench figure, give or take the marks' own few
//! instructions and the `rdtsc` bracketing the timed loop does.

use crate::artifacts::{kernel_path, Builder};
use crate::qemu::{Accel, Firmware, Machine};
use anyhow::{bail, Context, Result};
use ipc::boot::{KERNEL_BASE, KEY_EXIT_WHEN_DONE, KEY_RUN};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One stepped instruction: its address, its ELF symbol, the innermost (inlined) function.
pub struct Step {
    pub pc: u64,
    pub symbol: String,
    pub inner: String,
}

impl Step {
    /// Whether the instruction is the kernel's (in its half of the address space).
    pub fn in_kernel(&self) -> bool {
        self.pc >= KERNEL_BASE
    }
}

const SCRIPT: &str = r#"
import gdb, json, sys
cfg = json.loads(CONFIG)
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("symbol-file %s -o %#x" % (cfg["kernel"], cfg["base"]))
gdb.execute("add-symbol-file %s" % cfg["bench"])
gdb.execute("target remote 127.0.0.1:%d" % cfg["port"])
gdb.execute("hbreak breakdown_mark")
mark = int(gdb.parse_and_eval("(unsigned long)&breakdown_mark"))
names = {}
def name(pc):
    if pc not in names:
        text = gdb.execute("info symbol %#x" % pc, to_string=True).strip()
        outer = text.split(" + ")[0].split(" in section")[0] if not text.startswith("No symbol") else "?"
        inner = outer
        try:
            block = gdb.block_for_pc(pc)
            while block is not None and block.function is None:
                block = block.superblock
            if block is not None:
                inner = block.function.print_name
        except RuntimeError:
            pass
        names[pc] = (outer, inner)
    return names[pc]
out = open(cfg["out"], "w")
for op in range(cfg["count"]):
    # Off the closing mark of the last operation first: continuing from a hardware
    # breakpoint's own address stops there again at once.
    if op > 0:
        gdb.execute("stepi", to_string=True)
    gdb.execute("continue", to_string=True)
    steps = 0
    while True:
        gdb.execute("stepi", to_string=True)
        pc = int(gdb.selected_frame().pc())
        if pc == mark:
            break
        outer, inner = name(pc)
        out.write("%d %#x\t%s\t%s\n" % (op, pc, outer, inner))
        steps += 1
        if steps > cfg["limit"]:
            out.write("%d limit\n" % op)
            break
    out.flush()
out.close()
gdb.execute("kill")
"#;

/// Boots the breakdown image, steps through it under gdb, and prints the report.
pub fn run(timeout_steps: usize) -> Result<()> {
    let builder = Builder::new(true)?;
    for op in measure(&builder, timeout_steps)? {
        print!("{}", report(op.name, &op.steps));
    }
    Ok(())
}

/// One operation of [`bench_stats::BREAKDOWN`], stepped: its instructions in order.
pub struct Operation {
    pub name: &'static str,
    pub steps: Vec<Step>,
}

/// Boots the breakdown image made from `builder`'s release build and steps through every
/// operation under gdb, at most `timeout_steps` instructions each.
pub fn measure(builder: &Builder, timeout_steps: usize) -> Result<Vec<Operation>> {
    let cmdline = format!("{KEY_RUN}=bench:breakdown {KEY_EXIT_WHEN_DONE}");
    let images = builder.make("breakdown", &cmdline, &[Firmware::Bios])?;
    let machine = Machine::new(Accel::Tcg, 1, Firmware::Bios)?.with_icount()?;
    println!("{}", machine.description());
    let kernel = kernel_path(true);
    let bench = kernel.with_file_name("bench");
    let dir = images.get(Firmware::Bios).parent().context("image without a directory")?.to_path_buf();
    let out = dir.join("breakdown.steps");
    let script = dir.join("breakdown.py");
    let port = free_port()?;
    let config = serde_json::json!({
        "kernel": kernel, "bench": bench, "base": KERNEL_BASE, "port": port, "out": out,
        "count": bench_stats::BREAKDOWN.len(), "limit": timeout_steps,
    });
    std::fs::write(&script, format!("CONFIG = {:?}\n{SCRIPT}", config.to_string()))?;
    // A steps file from an earlier run must not stand in for this one's.
    let _ = std::fs::remove_file(&out);
    let log = dir.join("breakdown.serial.log");
    let mut qemu = machine
        .command(images.get(Firmware::Bios))
        .args(["-S", "-gdb", &format!("tcp:127.0.0.1:{port}"), "-display", "none", "-monitor", "none", "-serial"])
        .arg(format!("file:{}", log.display()))
        .spawn()
        .context("cannot start QEMU")?;
    println!("stepping through the breakdown under gdb (serial output in {})...", log.display());
    let gdb_log = dir.join("breakdown.gdb.log");
    let finished = stepped(&script, &gdb_log, GDB_TIMEOUT);
    let _ = qemu.kill();
    let _ = qemu.wait();
    let finished = finished?;
    let steps = read_steps(&out)?;
    if !finished || steps.len() < bench_stats::BREAKDOWN.len() {
        bail!(
            "gdb {} after {} of {} operations (its messages in {})",
            if finished { "stopped" } else { "was stopped at the time limit" },
            steps.len(),
            bench_stats::BREAKDOWN.len(),
            gdb_log.display()
        );
    }
    Ok(bench_stats::BREAKDOWN.iter().zip(steps).map(|((name, _), steps)| Operation { name, steps }).collect())
}

/// How long stepping through every operation may take (about 50 s on two cores): a kernel
/// that never reaches a mark must not hold the caller forever.
const GDB_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the gdb script, its messages to `log`, for at most `timeout`: whether it ended.
fn stepped(script: &Path, log: &Path, timeout: Duration) -> Result<bool> {
    let messages = std::fs::File::create(log)?;
    let mut gdb = Command::new(crate::setup::ensure_gdb()?)
        .args(["-batch", "-nx", "-x"])
        .arg(script)
        .stdout(Stdio::null())
        .stderr(messages)
        .spawn()
        .context("cannot start gdb")?;
    let start = Instant::now();
    while gdb.try_wait()?.is_none() {
        if start.elapsed() > timeout {
            let _ = gdb.kill();
            let _ = gdb.wait();
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(true)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The steps file: one line per instruction, `OP PC\tSYMBOL\tINNER`.
fn read_steps(path: &Path) -> Result<Vec<Vec<Step>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("no steps in {}", path.display()))?;
    let mut ops: Vec<Vec<Step>> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let head = fields.next().unwrap_or("");
        let (op, pc) = head.split_once(' ').context("a steps line without an operation")?;
        let op: usize = op.parse()?;
        if pc == "limit" {
            bail!("operation {op} did not reach its closing mark within the step limit");
        }
        let pc = u64::from_str_radix(pc.trim_start_matches("0x"), 16)?;
        let symbol = fields.next().unwrap_or("?").to_string();
        let inner = fields.next().unwrap_or("?").to_string();
        while ops.len() <= op {
            ops.push(Vec::new());
        }
        ops[op].push(Step { pc, symbol, inner });
    }
    Ok(ops)
}

/// Where an address is: the kernel's half or user memory.
fn side(step: &Step) -> &'static str {
    if step.in_kernel() {
        "kernel"
    } else {
        "user"
    }
}

/// Drops the hash Rust appends to a symbol (`::h0123456789abcdef`).
fn tidy(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => head,
        _ => name,
    }
}

/// Counts per key, largest first (ties in first-seen order).
fn tally<'a>(keys: impl Iterator<Item = (&'static str, &'a str)>) -> Vec<((&'static str, &'a str), usize)> {
    let mut counts: Vec<((&str, &str), usize)> = Vec::new();
    for key in keys {
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// The report for one operation: the route (runs of one function, in order), then totals
/// per function and per innermost inlined function.
fn report(name: &str, steps: &[Step]) -> String {
    let mut out = String::new();
    let kernel = steps.iter().filter(|s| s.in_kernel()).count();
    let _ = writeln!(
        out,
        "\n{name}: {} instructions from mark to mark (kernel {kernel}, user {})",
        steps.len(),
        steps.len() - kernel
    );
    let _ = writeln!(out, "  route (consecutive instructions in one function):");
    let mut i = 0;
    while i < steps.len() {
        let s = &steps[i];
        let run = steps[i..].iter().take_while(|t| t.symbol == s.symbol).count();
        let _ = writeln!(out, "    {:>5}  {:<6} {}", run, side(s), tidy(&s.symbol));
        i += run;
    }
    let _ = writeln!(out, "  by function:");
    for ((side, symbol), n) in tally(steps.iter().map(|s| (side(s), tidy(&s.symbol)))) {
        let _ = writeln!(out, "    {n:>5}  {side:<6} {symbol}");
    }
    let _ = writeln!(out, "  by innermost function, inlined ones included:");
    for ((side, inner), n) in tally(steps.iter().map(|s| (side(s), tidy(&s.inner)))) {
        let _ = writeln!(out, "    {n:>5}  {side:<6} {inner}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_dropped_from_symbols_and_nothing_else() {
        assert_eq!(tidy("seam_kernel::ipc::fastpath::call::h0123456789abcdef"), "seam_kernel::ipc::fastpath::call");
        assert_eq!(tidy("seam_syscall_entry"), "seam_syscall_entry");
        assert_eq!(tidy("a::hello"), "a::hello");
    }

    #[test]
    fn the_route_groups_runs_and_the_summary_counts_each_function() {
        let step = |pc, symbol: &str, inner: &str| Step { pc, symbol: symbol.into(), inner: inner.into() };
        let steps = [
            step(0x40_0000, "bench::main", "bench::main"),
            step(KERNEL_BASE + 1, "seam_syscall_entry", "seam_syscall_entry"),
            step(KERNEL_BASE + 2, "seam_syscall_entry", "seam_syscall_entry"),
            step(KERNEL_BASE + 3, "k::f", "k::g"),
            step(0x40_0001, "bench::main", "bench::main"),
        ];
        let text = report("op", &steps);
        assert!(text.contains("op: 5 instructions from mark to mark (kernel 3, user 2)"), "{text}");
        assert!(text.contains("route (consecutive instructions in one function):\n        1  user   bench::main\n        2  kernel seam_syscall_entry\n        1  kernel k::f\n        1  user   bench::main\n"), "{text}");
        assert!(text.contains("by function:\n        2  user   bench::main\n        2  kernel seam_syscall_entry\n        1  kernel k::f\n"), "{text}");
        assert!(text.contains("        1  kernel k::g\n"), "{text}");
    }
}
