//! `cargo xtask bench`: boots the benchmark image (release build) and reports the figures
//! the `bench` program measures in the guest with `rdtsc`: min, median and p99 in TSC cycles,
//! with the configuration they were measured in. By default QEMU runs TCG with
//! `-icount shift=0`, where a TSC cycle is one guest instruction and figures repeat exactly.
//!
//! With `--peer linux` the same machine then boots a Linux guest running the peer benchmark
//! ([`crate::peer`]) and the two systems are printed side by side with ratios; `--json` and
//! `--plot` keep the results.

use crate::artifacts::Builder;
use crate::qemu::{self, Firmware, Machine};
use crate::{peer, plot, BenchArgs, Peer};
use anyhow::{bail, Context, Result};
use bench_stats::PAYLOAD_SIZES;
use ipc::boot::{KEY_EXIT_WHEN_DONE, KEY_RUN};
use serde_json::{json, Value};
use std::time::Duration;

/// The guest memory of a benchmark run.
pub const BENCH_MEMORY: &str = "1G";

/// One result line of a guest program.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub iters: u64,
    pub min: u64,
    pub median: u64,
    pub p99: u64,
}

/// The result lines in a guest's console output (see [`bench_stats::parse_line`]).
pub fn parse(output: &str) -> Vec<Figure> {
    output
        .lines()
        .filter_map(bench_stats::parse_line)
        .map(|(name, s)| Figure { name: name.to_string(), iters: s.iters, min: s.min, median: s.median, p99: s.p99 })
        .collect()
}

/// The Linux guest a comparison ran.
#[derive(Debug, PartialEq)]
pub struct LinuxConfig {
    pub package: String,
    pub version: String,
    pub release: String,
}

/// Everything that decides what a figure means; recorded with every result set.
#[derive(Debug, PartialEq)]
pub struct Config {
    pub qemu: String,
    pub accel: String,
    pub cpu: String,
    pub icount: bool,
    pub vcpus: u32,
    pub memory: String,
    pub iters: u64,
    pub linux: Option<LinuxConfig>,
}

impl Config {
    /// One line: QEMU version, accelerator, icount, CPU model, vCPUs, memory, Linux version.
    fn describe(&self) -> String {
        let icount = if self.icount { "-icount shift=0 (1 cycle = 1 guest instruction)" } else { "no icount" };
        let mut line = format!(
            "{}; accelerator {}, {icount}, cpu {}, {} vCPU, {}; {} iterations",
            self.qemu, self.accel, self.cpu, self.vcpus, self.memory, self.iters
        );
        if let Some(l) = &self.linux {
            line += &format!("; Linux {} ({} {})", l.release, l.package, l.version);
        }
        line
    }
}

/// The whole result set as JSON: `config` and one `results` entry per figure.
fn report_json(config: &Config, seam: &[Figure], linux: &[Figure]) -> Value {
    let results = [("seam", seam), ("linux", linux)].into_iter().flat_map(|(system, figures)| {
        figures.iter().map(move |f| {
            json!({
                "system": system, "name": f.name, "unit": "cycles",
                "min": f.min, "median": f.median, "p99": f.p99, "iters": f.iters,
            })
        })
    });
    json!({
        "config": {
            "qemu": config.qemu,
            "accel": config.accel,
            "cpu": config.cpu,
            "icount": config.icount,
            "vcpus": config.vcpus,
            "memory": config.memory,
            "iters": config.iters,
            "profile": "release",
            "linux": config.linux.as_ref().map(|l| json!({
                "package": l.package, "version": l.version, "release": l.release,
            })),
        },
        "results": results.collect::<Vec<_>>(),
    })
}

/// A row of the side-by-side table: what is compared, and which figure of each system.
#[derive(Debug, PartialEq)]
pub struct Row {
    pub label: String,
    pub seam: Option<String>,
    pub linux: Option<String>,
}

fn row(label: impl Into<String>, seam: &str, linux: Option<&str>) -> Row {
    Row { label: label.into(), seam: Some(seam.into()), linux: linux.map(Into::into) }
}

/// What is compared with what: the system-call floor, the smallest round trip against each
/// Linux mechanism, the size curve against pipes, compat's binder calls against Linux's
/// binder driver; then every other Seam figure alone.
pub fn rows(seam: &[Figure]) -> Vec<Row> {
    let mut rows = vec![
        row("system call (null / getpid)", "null_syscall", Some("linux_getpid")),
        row("round trip, smallest / futex", "ipc_call_reply_0", Some("linux_futex_rtt")),
        row("round trip, smallest / pipe 1 B", "ipc_call_reply_0", Some("linux_pipe_rtt")),
        row("round trip, smallest / unix 1 B", "ipc_call_reply_0", Some("linux_unix_rtt")),
    ];
    for size in PAYLOAD_SIZES {
        let (seam, linux) = (format!("ipc_call_reply_{size}"), format!("linux_pipe_rtt_{size}"));
        rows.push(row(format!("round trip, {size} B / pipe"), &seam, Some(&linux)));
    }
    // A legacy client's binder calls through compat beside transactions through Linux's binder
    // driver. The weather call's Parcels are about 100 bytes each way (interface token and
    // city; status and Conditions), between the two sizes Linux is measured with.
    rows.extend([
        row("binder ping / empty transaction", bench_stats::COMPAT_PING, Some("linux_binder_rtt")),
        row("binder call ~100 B / 32 B", bench_stats::COMPAT_TRANSACTION, Some("linux_binder_rtt_32")),
        row("binder call ~100 B / 256 B", bench_stats::COMPAT_TRANSACTION, Some("linux_binder_rtt_256")),
        row("binder oneway / oneway 4 B", bench_stats::COMPAT_ONEWAY, Some("linux_binder_oneway")),
    ]);
    for f in seam {
        if !rows.iter().any(|r| r.seam.as_deref() == Some(f.name.as_str())) {
            rows.push(row(f.name.clone(), &f.name, None));
        }
    }
    rows
}

/// The median of the figure called `name`, if it was measured.
pub fn median(figures: &[Figure], name: &str) -> Option<u64> {
    figures.iter().find(|f| f.name == name).map(|f| f.median)
}

fn print_figures(title: &str, figures: &[Figure]) {
    println!("\n{title}");
    println!("{:<28} {:>8} {:>8} {:>8} {:>8}  (TSC cycles)", "benchmark", "iters", "min", "median", "p99");
    for f in figures {
        println!("{:<28} {:>8} {:>8} {:>8} {:>8}", f.name, f.iters, f.min, f.median, f.p99);
    }
}

/// A figure of this run beside the same figure of an earlier one (medians).
#[derive(Debug, PartialEq)]
struct Change {
    name: String,
    earlier: Option<u64>,
    now: u64,
}

/// Seam's figures of this run beside those of an earlier run's report, in this run's order.
fn changes(earlier: &Value, now: &[Figure]) -> Vec<Change> {
    let results = earlier["results"].as_array().map(Vec::as_slice).unwrap_or_default();
    let earlier_median = |name: &str| {
        results.iter().find(|r| r["system"] == "seam" && r["name"] == name).and_then(|r| r["median"].as_u64())
    };
    now.iter().map(|f| Change { name: f.name.clone(), earlier: earlier_median(&f.name), now: f.median }).collect()
}

/// Prints [`changes`], and how many figures grew or shrank. Figures from another
/// configuration (not under icount, another QEMU) are not comparable instruction for
/// instruction: said first.
fn print_changes(path: &std::path::Path, earlier: &Value, config: &Config, now: &[Figure]) {
    let then = &earlier["config"];
    if then["icount"] != json!(config.icount) || then["qemu"] != json!(config.qemu) || then["cpu"] != json!(config.cpu)
    {
        println!("\nnote: {} was measured in another configuration: {}", path.display(), then);
    }
    println!("\nSeam against {} (median TSC cycles)", path.display());
    println!("{:<28} {:>10} {:>10} {:>8}", "benchmark", "earlier", "now", "change");
    let (mut slower, mut faster) = (0, 0);
    for c in changes(earlier, now) {
        let Some(before) = c.earlier else {
            println!("{:<28} {:>10} {:>10} {:>8}", c.name, "-", c.now, "new");
            continue;
        };
        let diff = c.now as i64 - before as i64;
        slower += usize::from(diff > 0);
        faster += usize::from(diff < 0);
        let change = if diff == 0 { "=".to_string() } else { format!("{diff:+}") };
        println!("{:<28} {:>10} {:>10} {:>8}", c.name, before, c.now, change);
    }
    println!("{slower} slower, {faster} faster than {}", path.display());
}

fn print_comparison(seam: &[Figure], linux: &[Figure]) {
    println!("\nSeam and Linux side by side (median TSC cycles; ratio = Linux / Seam)");
    println!("{:<36} {:>10} {:>10} {:>10}", "benchmark", "Seam", "Linux", "ratio");
    let cell = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for r in rows(seam) {
        let s = r.seam.as_deref().and_then(|n| median(seam, n));
        let l = r.linux.as_deref().and_then(|n| median(linux, n));
        let ratio = match (s, l) {
            (Some(s), Some(l)) if s > 0 => format!("{:.2}x", l as f64 / s as f64),
            _ => "-".into(),
        };
        println!("{:<36} {:>10} {:>10} {:>10}", r.label, cell(s), cell(l), ratio);
    }
}

/// The systems the server round trips are measured in: the name server, the servers
/// measured, and the benchmark as their client (`bench MODE ITERS`), with the figures it
/// reports. The servers are supervised, so that init ends them once the benchmark (the one
/// program that is not) has ended.
fn client_systems(iters: u64) -> [(&'static str, String, &'static [&'static str]); 5] {
    let name = crate::system::NAME_SERVER;
    let client = |uses: &str, writes: &str, mode: &str| {
        format!(
            r#"
[[program]]
name = "bench"
priority = 100
memory = "8 MiB"
uses = [{uses}]
writes = [{writes}]
args = ["{mode}", "{iters}"]
"#
        )
    };
    let echo = "\n[[program]]\nname = \"supervised-echo\"\npriority = 150\nmemory = \"1 MiB\"\nprovides = [\"echo\"]\nsupervise = { restarts = 1 }\n";
    let settings = "\n[[program]]\nname = \"settings\"\npriority = 150\nmemory = \"1 MiB\"\nprovides = [\"settings\"]\narchive = \"read\"\nstore = \"64 KiB\"\nsupervise = { restarts = 1 }\n";
    let weather = "\n[[program]]\nname = \"weather\"\npriority = 150\nmemory = \"1 MiB\"\nprovides = [\"weather\"]\nsupervise = { restarts = 1 }\n";
    let gallery = "\n[[program]]\nname = \"gallery\"\npriority = 150\nmemory = \"2 MiB\"\nprovides = [\"gallery\"]\nstore = \"64 KiB\"\nsupervise = { restarts = 1 }\n";
    // Compat after the servers it uses; compat-echo, a system program hosting a service
    // through it, above the client so it takes each oneway call as it comes.
    let compat = "\n[[program]]\nname = \"weather\"\npriority = 150\nmemory = \"1 MiB\"\nprovides = [\"weather\"]\nuses = [\"settings\"]\nsupervise = { restarts = 1 }\n\
        \n[[program]]\nname = \"compat\"\npriority = 140\nmemory = \"8 MiB\"\nprovides = [\"compat\"]\nuses = [\"init\", \"settings\", \"weather\", \"gallery\"]\narchive = \"read\"\nsupervise = { restarts = 1 }\n\
        \n[[program]]\nname = \"compat-echo\"\npriority = 130\nmemory = \"2 MiB\"\nuses = [\"compat\"]\nsupervise = { restarts = 1 }\n";
    [
        ("name lookup", format!("{name}{echo}{}", client("\"echo\"", "", "lookup")), &[bench_stats::NAME_LOOKUP]),
        (
            "settings get",
            format!("{name}{settings}{}", client("\"settings\"", "\"bench.\"", "settings")),
            &[bench_stats::SETTINGS_GET],
        ),
        (
            "weather current",
            format!("{name}{weather}{}", client("\"weather\"", "", "weather")),
            &[bench_stats::WEATHER_CURRENT],
        ),
        (
            "gallery list",
            format!("{name}{gallery}{}", client("\"gallery\"", "", "gallery")),
            &[bench_stats::GALLERY_LIST_16],
        ),
        (
            "compat",
            format!("{name}{settings}{gallery}{compat}{}", client("\"compat\", \"settings\"", "\"compat.\"", "compat")),
            &[
                bench_stats::COMPAT_TRANSACTION,
                bench_stats::COMPAT_PING,
                bench_stats::COMPAT_FORWARDED,
                bench_stats::COMPAT_ONEWAY,
            ],
        ),
    ]
}

fn run_seam(machine: &Machine, args: &BenchArgs) -> Result<Vec<Figure>> {
    let builder = Builder::new(true)?;
    let cmdline = format!("{KEY_RUN}=bench:{} {KEY_EXIT_WHEN_DONE}", args.iters);
    let images = builder.make("bench", &cmdline, &[Firmware::Bios])?;
    println!("seam: booting the benchmark image ({} iterations)...", args.iters);
    let run = qemu::run_captured(machine, images.get(Firmware::Bios), Duration::from_secs(args.timeout))?;
    let mut figures = parse(&run.output);
    for (what, system, wanted) in client_systems(args.iters) {
        let system = builder.system_text(&system)?;
        let images = builder.make_with("bench-client", KEY_EXIT_WHEN_DONE, &[Firmware::Bios], &[system])?;
        println!("seam: booting the {what} image...");
        let run = qemu::run_captured(machine, images.get(Firmware::Bios), Duration::from_secs(args.timeout))?;
        let measured = parse(&run.output);
        for figure in wanted {
            match measured.iter().find(|f| f.name == *figure) {
                Some(f) => figures.push(f.clone()),
                None => {
                    println!("{}", run.output);
                    bail!("the {what} benchmark did not finish: no {figure} ({})", qemu::verdict(run.status));
                }
            }
        }
    }
    if run.timed_out || figures.len() < 2 {
        println!("{}", run.output);
        bail!("the benchmark did not finish ({})", qemu::verdict(run.status));
    }
    if let Some(line) = run.output.lines().find(|l| l.contains("rdtsc overhead")) {
        println!("{}", line.trim());
    }
    for line in run.output.lines().filter(|l| l.contains("not measured")) {
        println!("{}", line.trim());
    }
    Ok(figures)
}

pub fn run(args: &BenchArgs) -> Result<()> {
    // More memory than the tests boot with: `ipc_scale_1000` runs a thousand processes (each
    // with its own image, stacks and page tables: about 300 KiB). Memory does not change an
    // instruction count.
    let mut machine = Machine::new(args.accel, args.vcpus, Firmware::Bios)?.with_memory(BENCH_MEMORY);
    if !args.no_icount && machine.accel == "tcg" {
        machine = machine.with_icount()?;
    }
    if args.peer.is_some() && machine.icount && args.vcpus > 1 {
        bail!("Linux stops at SMP bring-up under -icount: use --vcpus 1, or --no-icount with more vCPUs");
    }
    println!("{}", machine.description());
    if !machine.icount && machine.accel == "tcg" {
        println!("note: plain TCG without icount: the guest TSC follows host time, so figures are noisy");
    }
    let seam = run_seam(&machine, args)?;
    let mut config = Config {
        qemu: machine.version()?,
        accel: machine.accel.into(),
        cpu: machine.cpu.into(),
        icount: machine.icount,
        vcpus: machine.smp,
        memory: BENCH_MEMORY.into(),
        iters: args.iters,
        linux: None,
    };
    let mut linux = Vec::new();
    if let Some(Peer::Linux) = args.peer {
        let timeout = Duration::from_secs(args.timeout);
        let run = peer::run(&machine, args.iters, args.linux_package.as_deref(), timeout)?;
        linux = parse(&run.output);
        config.linux = Some(LinuxConfig { package: run.package, version: run.version, release: run.release });
    }

    println!("\n{}", config.describe());
    print_figures("Seam", &seam);
    if !linux.is_empty() {
        print_figures("Linux", &linux);
        print_comparison(&seam, &linux);
    }
    if let Some(path) = &args.json {
        let report = report_json(&config, &seam, &linux);
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.compare {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let earlier: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        print_changes(path, &earlier, &config, &seam);
    }
    if let Some(dir) = &args.plot {
        for path in plot::draw(dir, &config, &seam, &linux)? {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_pair_figures_by_name_and_mark_new_ones() {
        let earlier = json!({"results": [
            {"system": "seam", "name": "ipc_call_reply_0", "median": 634},
            {"system": "linux", "name": "null_syscall", "median": 338},
            {"system": "seam", "name": "null_syscall", "median": 84},
        ]});
        let now = [figure("null_syscall", 77), figure("ipc_call_reply_0", 586), figure("brand_new", 10)];
        let got = changes(&earlier, &now);
        let pairs: Vec<_> = got.iter().map(|c| (c.name.as_str(), c.earlier, c.now)).collect();
        assert_eq!(
            pairs,
            [("null_syscall", Some(84), 77), ("ipc_call_reply_0", Some(634), 586), ("brand_new", None, 10)]
        );
        assert!(changes(&json!({}), &now).iter().all(|c| c.earlier.is_none()), "a report without results");
    }

    fn figure(name: &str, median: u64) -> Figure {
        Figure { name: name.into(), iters: 100_000, min: median - 1, median, p99: median + 10 }
    }

    #[test]
    fn reads_both_guests_result_lines_among_console_noise() {
        let seam = "[ 1.0] INFO  bench[1]: bench: rdtsc overhead 30 cycles (subtracted)\n\
                   [ 1.2] INFO  bench[1]: bench: null_syscall iters=100000 min=70 median=71 p99=90\n\
                   garbage bench: broken iters=x\n";
        assert_eq!(parse(seam), [Figure { name: "null_syscall".into(), iters: 100000, min: 70, median: 71, p99: 90 }]);
        // The Linux console: CRs already removed by the capture, kernel messages in between.
        let linux = "[    0.912345] Run /init as init process\n\
                     bench: kernel 6.1.0-56-amd64\n\
                     bench: linux_getpid iters=100000 min=320 median=324 p99=330\n\
                     [   14.101010] random: crng init done\n\
                     bench: linux_futex_rtt iters=100000 min=10100 median=10120 p99=10300\n\
                     bench: done\n\
                     [   30.000000] reboot: Power down\n";
        let names: Vec<_> = parse(linux).into_iter().map(|f| (f.name, f.median)).collect();
        assert_eq!(names, [("linux_getpid".to_string(), 324), ("linux_futex_rtt".to_string(), 10120)]);
    }

    #[test]
    fn the_client_systems_are_valid() {
        let programs = crate::artifacts::user_programs().unwrap();
        for (what, system, _) in client_systems(1000) {
            crate::system::compile_text(&system, &programs).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        }
    }

    #[test]
    fn rows_pair_the_curve_and_keep_every_seam_figure() {
        let seam = [figure("null_syscall", 101), figure("ipc_call_reply_0", 1158), figure("ipc_scale_1000", 1159)];
        let rows = rows(&seam);
        let pair =
            |s: &str, l: &str| rows.iter().any(|r| r.seam.as_deref() == Some(s) && r.linux.as_deref() == Some(l));
        assert!(pair("null_syscall", "linux_getpid"));
        assert!(pair("ipc_call_reply_0", "linux_futex_rtt") && pair("ipc_call_reply_0", "linux_unix_rtt"));
        for size in PAYLOAD_SIZES {
            assert!(pair(&format!("ipc_call_reply_{size}"), &format!("linux_pipe_rtt_{size}")), "{size}");
        }
        let alone: Vec<_> = rows.iter().filter(|r| r.linux.is_none()).map(|r| r.label.as_str()).collect();
        assert_eq!(alone, ["ipc_scale_1000"]);
        let with_compat = [figure(bench_stats::COMPAT_TRANSACTION, 5000), figure(bench_stats::COMPAT_FORWARDED, 6000)];
        let compat = super::rows(&with_compat);
        let linux_of = |s: &str| -> Vec<_> {
            compat.iter().filter(|r| r.seam.as_deref() == Some(s)).map(|r| r.linux.as_deref()).collect()
        };
        assert_eq!(
            linux_of(bench_stats::COMPAT_TRANSACTION),
            [Some("linux_binder_rtt_32"), Some("linux_binder_rtt_256")]
        );
        assert_eq!(linux_of(bench_stats::COMPAT_PING), [Some("linux_binder_rtt")]);
        assert_eq!(linux_of(bench_stats::COMPAT_ONEWAY), [Some("linux_binder_oneway")]);
        assert_eq!(linux_of(bench_stats::COMPAT_FORWARDED), [None], "alone, once");
    }

    #[test]
    fn the_json_records_the_configuration_and_both_systems() {
        let config = Config {
            qemu: "QEMU emulator version 7.2.22".into(),
            accel: "tcg".into(),
            cpu: "max".into(),
            icount: true,
            vcpus: 1,
            memory: "256M".into(),
            iters: 100_000,
            linux: Some(LinuxConfig {
                package: "linux-image-6.1.0-56-amd64".into(),
                version: "6.1.192-2".into(),
                release: "6.1.0-56-amd64".into(),
            }),
        };
        let v = report_json(&config, &[figure("ipc_call_reply_0", 1158)], &[figure("linux_pipe_rtt_4096", 20000)]);
        assert_eq!(v["config"]["accel"], "tcg");
        assert_eq!(v["config"]["icount"], true);
        assert_eq!(v["config"]["vcpus"], 1);
        assert_eq!(v["config"]["iters"], 100_000);
        assert_eq!(v["config"]["linux"]["version"], "6.1.192-2");
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["system"], "seam");
        assert_eq!(results[0]["name"], "ipc_call_reply_0");
        assert_eq!(
            (results[0]["min"].as_u64(), results[0]["median"].as_u64(), results[0]["p99"].as_u64()),
            (Some(1157), Some(1158), Some(1168))
        );
        assert_eq!(results[0]["unit"], "cycles");
        assert_eq!(results[1]["system"], "linux");
        assert_eq!(results[1]["name"], "linux_pipe_rtt_4096");
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v, "round-trips through text");

        let seam_only = Config { linux: None, ..config };
        assert!(report_json(&seam_only, &[], &[])["config"]["linux"].is_null());
        assert!(seam_only.describe().contains("-icount shift=0") && !seam_only.describe().contains("Linux"));
    }
}
