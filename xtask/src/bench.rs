//! `cargo xtask bench`: boots the benchmark image (release build) and reports the figures
//! the `bench` program measures in the guest with `rdtsc`: min, median and p99 in TSC cycles,
//! with the configuration they were measured in. By default QEMU runs TCG with
//! `-icount shift=0`, where a TSC cycle is one guest instruction and figures repeat exactly.

use crate::artifacts::Builder;
use crate::qemu::{self, Firmware, Machine};
use crate::BenchArgs;
use anyhow::{bail, Context, Result};
use ipc::boot::{KEY_EXIT_WHEN_DONE, KEY_RUN};
use serde_json::json;
use std::time::Duration;

/// One result line of a guest program.
#[derive(Debug, PartialEq)]
struct Figure {
    name: String,
    iters: u64,
    min: u64,
    median: u64,
    p99: u64,
}

/// The result lines in a guest's console output (see [`bench_stats::parse_line`]).
fn parse(output: &str) -> Vec<Figure> {
    output
        .lines()
        .filter_map(bench_stats::parse_line)
        .map(|(name, s)| Figure { name: name.to_string(), iters: s.iters, min: s.min, median: s.median, p99: s.p99 })
        .collect()
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let mut machine = Machine::new(args.accel, 1, Firmware::Bios)?;
    if !args.no_icount && machine.accel == "tcg" {
        machine = machine.with_icount()?;
    }
    let builder = Builder::new(true)?;
    let cmdline = format!("{KEY_RUN}=bench:{} {KEY_EXIT_WHEN_DONE}", args.iters);
    let images = builder.make("bench", &cmdline, &[Firmware::Bios])?;
    println!("{}", machine.description);
    let run = qemu::run_captured(&machine, images.get(Firmware::Bios), Duration::from_secs(args.timeout))?;
    let figures = parse(&run.output);
    if run.timed_out || figures.len() < 2 {
        println!("{}", run.output);
        bail!("the benchmark did not finish ({})", qemu::verdict(run.status));
    }
    if let Some(line) = run.output.lines().find(|l| l.contains("rdtsc overhead")) {
        println!("{}", line.trim());
    }
    println!("{:<26} {:>8} {:>8} {:>8} {:>8}  (TSC cycles)", "benchmark", "iters", "min", "median", "p99");
    for f in &figures {
        println!("{:<26} {:>8} {:>8} {:>8} {:>8}", f.name, f.iters, f.min, f.median, f.p99);
    }
    if let Some(path) = &args.json {
        let report = json!({
            "config": {
                "accel": machine.accel,
                "cpu": machine.cpu,
                "icount": machine.icount,
                "qemu": machine.version()?,
                "vcpus": 1,
                "profile": "release",
            },
            "results": figures.iter().map(|f| json!({
                "name": f.name, "unit": "cycles", "min": f.min, "median": f.median, "p99": f.p99, "iters": f.iters,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_lines_among_log_noise() {
        let out = "[ 1.0] INFO  bench[1]: bench: rdtsc overhead 30 cycles (subtracted)\n\
                   [ 1.2] INFO  bench[1]: bench: null_syscall iters=100000 min=70 median=71 p99=90\n\
                   garbage bench: broken iters=x\n";
        let f = parse(out);
        assert_eq!(f, [Figure { name: "null_syscall".into(), iters: 100000, min: 70, median: 71, p99: 90 }]);
    }
}
