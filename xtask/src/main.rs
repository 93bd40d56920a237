//! `cargo xtask`: the one front door to building, running, testing and debugging Seam.

mod artifacts;
mod bench;
mod book;
mod breakdown;
mod converse;
mod fuzz;
mod lab;
mod labs;
mod peer;
mod perfetto;
mod plot;
mod qemu;
mod setup;
mod shrink;
mod system;
mod test;
mod trace;
mod untangle;
mod usertests;

use clap::{Args, Parser, Subcommand};
use qemu::{Accel, Firmware};

#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "Build, run and test the Seam microkernel in QEMU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel and the user programs for x86_64-unknown-none.
    Build(BuildArgs),
    /// Build BIOS and UEFI disk images with the boot ramdisk.
    Image(ImageArgs),
    /// Boot Seam in QEMU with the serial console on this terminal (Ctrl-A X quits).
    Run(RunArgs),
    /// Run the host unit tests, then boot test images in QEMU and check what they report.
    Test(TestArgs),
    /// Measure system-call, switch and IPC latency in the guest (TSC cycles; release build),
    /// optionally side by side with a Linux guest on the same virtual machine.
    Bench(BenchArgs),
    /// Boot in QEMU halted, with a gdb stub on :1234, and print the gdb command to attach.
    Gdb(GdbArgs),
    /// Boot a system with the kernel's IPC trace on, collect the trace, and write it as a
    /// Chrome/Perfetto JSON trace (open it at ui.perfetto.dev).
    Trace(TraceArgs),
    /// Boot the `fuzz` program: random system calls from seeded, supervised children; fails
    /// on a kernel panic or fault, or a hang of the whole system.
    Fuzz(FuzzArgs),
    /// The course's labs: list them, start one, submit it, or verify them all.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Grade a lab: run its checks, print each with its points and the score; exits non-zero
    /// unless the score is full.
    Grade(GradeArgs),
    /// Build the book (docs/, with the labs' handouts) to HTML in target/book/html, with
    /// mdBook (installed under target/tools on first use).
    Book,
}

#[derive(Subcommand)]
enum LabCommand {
    /// List the labs.
    List,
    /// Start a lab: a branch lab/NAME from here with the lab's starting point committed and
    /// tagged lab/NAME/start (the tree must have no uncommitted changes).
    Start { name: String },
    /// Pack the work for a course: target/seam/lab-NAME.tar.gz (the tree at HEAD, the diff
    /// against the start, labs/NAME/time.txt).
    Submit { name: String },
    /// For every lab (or those named): the start builds, boots and fails exactly the lab's
    /// own checks; the reference passes them all. Patches the tree in place and restores it.
    Verify {
        names: Vec<String>,
        /// Seconds each boot may take before it counts as failed.
        #[arg(long, default_value_t = lab::VERIFY_TIMEOUT)]
        timeout: u64,
    },
}

#[derive(Args)]
struct GradeArgs {
    /// The lab to grade.
    name: String,
    /// Also write the outcome as JSON (for a course's platform) to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// First restore the grader's own files (and the programs its checks start) as they were
    /// at the lab's start, then grade with them.
    #[arg(long)]
    official: bool,
    /// Seconds each boot may take before it counts as failed.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Show the whole serial output of a failed boot.
    #[arg(long)]
    verbose: bool,
}

#[derive(Args)]
struct FuzzArgs {
    /// Seeds to run, A..B (B excluded); each seed is one child process.
    #[arg(long, default_value = "1..11")]
    seeds: String,
    /// Calls in all, shared out among the seeds; more seeds follow if their children end early.
    #[arg(long, default_value_t = 20_000)]
    calls: u64,
    /// Children fuzzing at once, sharing endpoints and notifications (1 to 8).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=8))]
    procs: u64,
    /// Fuzz a debug kernel (Rust's checks on) instead of a release one.
    #[arg(long)]
    debug: bool,
    /// Print every seed's line, not only the last few.
    #[arg(long)]
    verbose: bool,
    /// Seconds the guest may run before the run counts as a hang.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// On a failure, do not shrink it to a short sequence of calls.
    #[arg(long)]
    no_shrink: bool,
    /// The most boots a shrink may take.
    #[arg(long, default_value_t = 150)]
    shrink_boots: usize,
    /// Plant a failure in the fuzzer (a copy into a slot, then an inspection of it), to try
    /// the shrinker on a failure whose shortest sequence is known.
    #[arg(long)]
    plant: bool,
    /// Run a replay file (as a shrink writes) instead of seeds.
    #[arg(long, value_name = "FILE")]
    replay: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct TraceArgs {
    /// The system description to boot, with the tracer added [default: userspace/system.toml].
    #[arg(long)]
    system: Option<std::path::PathBuf>,
    /// Milliseconds (guest time) the system runs before the tracer reads the trace.
    #[arg(long, default_value_t = 500)]
    ms: u64,
    /// Where to write the JSON trace.
    #[arg(long, default_value = "target/seam/trace.json")]
    out: std::path::PathBuf,
    /// Seconds the guest may run before it is stopped.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

#[derive(Args, Clone, Copy)]
struct BuildArgs {
    /// Build with the release profile (optimised; debug info kept).
    #[arg(long)]
    release: bool,
}

#[derive(Args)]
struct ImageArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Boot manifest command line stored in the ramdisk, e.g. "test=heap".
    #[arg(long, default_value = "")]
    cmdline: String,
    /// The system description (TOML) to check and put in the ramdisk, in the compact form
    /// init reads (`etc/system`) [default: userspace/system.toml].
    #[arg(long, conflicts_with = "no_system")]
    system: Option<std::path::PathBuf>,
    /// Boot no system description: init starts only the `run=` programs of the command line.
    #[arg(long)]
    no_system: bool,
}

impl ImageArgs {
    /// The description to boot: the one given, the default one, or none.
    fn system(&self) -> Option<std::path::PathBuf> {
        match (&self.system, self.no_system) {
            (_, true) => None,
            (Some(path), false) => Some(path.clone()),
            (None, false) => Some(artifacts::root().join("userspace").join("system.toml")),
        }
    }
}

#[derive(Args)]
struct MachineArgs {
    /// Boot through UEFI (OVMF) instead of BIOS.
    #[arg(long)]
    uefi: bool,
    /// Number of virtual CPUs.
    #[arg(long, default_value_t = 1)]
    smp: u32,
    /// Accelerator: auto picks KVM only where the CPU has hardware virtualization (vmx/svm).
    #[arg(long, value_enum, default_value_t = Accel::Auto)]
    accel: Accel,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    image: ImageArgs,
    #[command(flatten)]
    machine: MachineArgs,
    /// Extra arguments passed to QEMU as they are.
    #[arg(last = true)]
    qemu_args: Vec<String>,
}

#[derive(Args)]
struct TestArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Run only the QEMU tests whose name contains this.
    filter: Option<String>,
    /// Seconds a QEMU test may run before it counts as failed.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Skip the host unit tests.
    #[arg(long)]
    no_host: bool,
    /// Skip `lab verify` (every lab's start and reference, graded; about 10 minutes).
    #[arg(long)]
    no_labs: bool,
}

/// The system a benchmark run is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Peer {
    /// Debian's kernel with busybox and the `linux-peer` benchmark (fetched and cached on
    /// first use with apt-get download).
    Linux,
}

#[derive(Args)]
struct BenchArgs {
    /// Also boot this system on the same virtual machine, run its peer benchmark, and print
    /// both side by side with ratios.
    #[arg(long, value_enum)]
    peer: Option<Peer>,
    /// Accelerator; icount needs TCG, so with KVM the TSC runs in real time.
    #[arg(long, value_enum, default_value_t = Accel::Tcg)]
    accel: Accel,
    /// Plain TCG, without -icount shift=0 (the TSC then follows host time: noisy).
    #[arg(long)]
    no_icount: bool,
    /// Virtual CPUs of the machine (Seam uses the first; Linux needs 1 under icount).
    #[arg(long, default_value_t = 1)]
    vcpus: u32,
    /// Measured iterations of each benchmark, after 1,000 of warm-up.
    #[arg(long, default_value_t = 100_000)]
    iters: u64,
    /// Also write the results and their configuration as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Draw SVG charts into this directory: latency versus payload size, and the round trips.
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// Compare Seam's figures with those of an earlier run's JSON (`--json`), figure by
    /// figure: `docs/bench-icount.json` holds those chapter 4 records last.
    #[arg(long)]
    compare: Option<std::path::PathBuf>,
    /// The Debian kernel package of the Linux peer (default: the one linux-image-amd64
    /// depends on).
    #[arg(long)]
    linux_package: Option<String>,
    /// Seconds each guest may run before it is stopped.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Instead of timing, step through one of each IPC operation under gdb and say where its
    /// instructions go, function by function (needs gdb).
    #[arg(long, conflicts_with_all = ["peer", "json", "plot", "compare"])]
    breakdown: bool,
}

#[derive(Args)]
struct GdbArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Boot through UEFI (OVMF) instead of BIOS.
    #[arg(long)]
    uefi: bool,
    /// Start gdb attached, instead of printing the command.
    #[arg(long)]
    attach: bool,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Build(args) => {
            let built = artifacts::build(args.release)?;
            println!("kernel: {}", built.kernel.display());
            for (name, path) in &built.programs {
                println!("program {name}: {}", path.display());
            }
        }
        Command::Image(args) => {
            let images = artifacts::images(
                args.build.release,
                "run",
                &args.cmdline,
                args.system().as_deref(),
                &[Firmware::Bios, Firmware::Uefi],
            )?;
            for (firmware, path) in images.all() {
                println!("{firmware:?} image: {}", path.display());
            }
        }
        Command::Run(args) => {
            let firmware = if args.machine.uefi { Firmware::Uefi } else { Firmware::Bios };
            let images = artifacts::images(
                args.image.build.release,
                "run",
                &args.image.cmdline,
                args.image.system().as_deref(),
                &[firmware],
            )?;
            let machine = qemu::Machine::new(args.machine.accel, args.machine.smp, firmware)?;
            qemu::run_interactive(&machine, images.get(firmware), &args.qemu_args)?;
        }
        Command::Test(args) => test::run(&args)?,
        Command::Bench(args) if args.breakdown => breakdown::run(20_000)?,
        Command::Bench(args) => bench::run(&args)?,
        Command::Trace(args) => trace::run(&args)?,
        Command::Fuzz(args) => fuzz::run(&args)?,
        Command::Lab(LabCommand::List) => lab::list()?,
        Command::Lab(LabCommand::Start { name }) => lab::start(&name)?,
        Command::Lab(LabCommand::Submit { name }) => lab::submit(&name)?,
        Command::Lab(LabCommand::Verify { names, timeout }) => {
            if !lab::report(&lab::verify(&names, timeout, &[])?) {
                std::process::exit(1);
            }
        }
        Command::Book => book::run_book()?,
        Command::Grade(args) => {
            lab::grade(&args.name, args.json.as_deref(), args.official, args.timeout, args.verbose)?
        }
        Command::Gdb(args) => {
            let firmware = if args.uefi { Firmware::Uefi } else { Firmware::Bios };
            let images = artifacts::images(
                args.image.build.release,
                "gdb",
                &args.image.cmdline,
                args.image.system().as_deref(),
                &[firmware],
            )?;
            let kernel = artifacts::kernel_path(args.image.build.release);
            qemu::gdb(firmware, images.get(firmware), &kernel, args.attach)?;
        }
    }
    Ok(())
}
