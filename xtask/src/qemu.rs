//! Starting QEMU: choosing the accelerator, the command line, and running a guest either on
//! this terminal or captured with a time limit for the tests.

use crate::converse::{Conversation, Step, Turn};
use crate::setup;
use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ipc::boot::KERNEL_BASE;
use ipc::qemu::{ExitCode, DEBUG_EXIT_PORT};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MEMORY: &str = "256M";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Accel {
    /// KVM where the CPU has hardware virtualization and /dev/kvm works; TCG otherwise.
    Auto,
    /// QEMU's portable binary translator.
    Tcg,
    /// The Linux kernel's hypervisor.
    Kvm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    Bios,
    Uefi,
}

impl Firmware {
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }
}

/// Whether the host CPU advertises Intel VT-x or AMD-V. Without it, a /dev/kvm can only be a
/// software emulation (as on some cloud machines), far slower than TCG.
fn hardware_virtualization() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
    })
}

fn kvm_usable() -> bool {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}

/// Whether to use KVM, and why, from what the host offers. A /dev/kvm without vmx/svm in the
/// CPU flags is a software emulation: `auto` never picks it, `kvm` warns about it.
fn choose_accel(accel: Accel, hw_virt: bool, kvm_usable: bool) -> Result<(bool, &'static str)> {
    Ok(match accel {
        Accel::Tcg => (false, "chosen with --accel tcg"),
        Accel::Kvm if !kvm_usable => bail!("--accel kvm: /dev/kvm is missing or not accessible"),
        Accel::Kvm if !hw_virt => {
            (true, "chosen with --accel kvm; the CPU shows no vmx/svm, so this KVM is software-emulated and slow")
        }
        Accel::Kvm => (true, "chosen with --accel kvm"),
        Accel::Auto if hw_virt && kvm_usable => (true, "auto: hardware virtualization and /dev/kvm present"),
        Accel::Auto if kvm_usable => {
            (false, "auto: /dev/kvm exists but the CPU shows no vmx/svm, so it would be software-emulated")
        }
        Accel::Auto => (false, "auto: no usable /dev/kvm"),
    })
}

/// A configured virtual machine: which QEMU, accelerator, CPU model and firmware.
pub struct Machine {
    qemu: PathBuf,
    ovmf: Option<PathBuf>,
    pub accel: &'static str,
    pub cpu: &'static str,
    pub smp: u32,
    /// `-icount shift=0`: the guest TSC counts guest instructions (TCG only).
    pub icount: bool,
    /// Guest memory, as QEMU's `-m` takes it.
    pub memory: &'static str,
    firmware: Firmware,
    /// Why this accelerator (for [`Machine::description`]).
    why: &'static str,
}

impl Machine {
    pub fn new(accel: Accel, smp: u32, firmware: Firmware) -> Result<Machine> {
        if smp == 0 {
            bail!("--smp must be at least 1");
        }
        let (qemu, ovmf) = setup::ensure_qemu(firmware == Firmware::Uefi)?;
        let (kvm, why) = choose_accel(accel, hardware_virtualization(), kvm_usable())?;
        // Plain `-cpu host` aborts on some hosts over the arch-capabilities MSR.
        let (accel, cpu) = if kvm { ("kvm", "host,-arch-capabilities") } else { ("tcg", "max") };
        Ok(Machine { qemu, ovmf, accel, cpu, smp, icount: false, memory: MEMORY, firmware, why })
    }

    /// One line saying what runs and why, printed before every boot.
    pub fn description(&self) -> String {
        let Machine { firmware, accel, cpu, smp, memory, why, .. } = self;
        let icount = if self.icount { ", -icount shift=0" } else { "" };
        format!("qemu: {firmware:?}, accelerator {accel}, cpu {cpu}, {smp} vCPU, {memory} ({why}){icount}")
    }

    /// Runs with `-icount shift=0`: one guest instruction per TSC tick at a 1 GHz TSC, so
    /// measurements repeat exactly. TCG only.
    pub fn with_icount(mut self) -> Result<Machine> {
        if self.accel != "tcg" {
            bail!("-icount needs TCG, not {}", self.accel);
        }
        self.icount = true;
        Ok(self)
    }

    /// The same machine with `memory` of guest memory (QEMU's `-m` syntax).
    pub fn with_memory(mut self, memory: &'static str) -> Machine {
        self.memory = memory;
        self
    }

    /// QEMU's version line, e.g. "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)".
    pub fn version(&self) -> Result<String> {
        let out = Command::new(&self.qemu).arg("--version").output().context("cannot run QEMU")?;
        Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string())
    }

    /// The QEMU command for `image`, without the serial and display options.
    pub fn command(&self, image: &Path) -> Command {
        let mut cmd = self.base_command();
        cmd.arg("-drive").arg(format!("format=raw,file={}", image.display()));
        cmd
    }

    /// The QEMU command booting a Linux kernel directly (QEMU's own loader) with `initrd` and
    /// the kernel command line `append`, on this same machine.
    pub fn linux_command(&self, kernel: &Path, initrd: &Path, append: &str) -> Command {
        let mut cmd = self.base_command();
        cmd.arg("-kernel").arg(kernel).arg("-initrd").arg(initrd).args(["-append", append]);
        cmd
    }

    /// The machine: memory, CPUs, accelerator, firmware, the exit device, icount.
    fn base_command(&self) -> Command {
        let mut cmd = Command::new(&self.qemu);
        cmd.args(["-m", self.memory, "-smp", &self.smp.to_string()])
            .args(["-accel", self.accel, "-cpu", self.cpu])
            .args(["-no-reboot", "-device"])
            .arg(format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"));
        if let Some(ovmf) = &self.ovmf {
            cmd.arg("-bios").arg(ovmf);
        }
        if self.icount {
            cmd.args(["-icount", "shift=0"]);
        }
        cmd
    }
}

/// What a QEMU exit status says about the kernel's verdict.
pub fn verdict(status: Option<i32>) -> String {
    match status.and_then(ExitCode::from_qemu_status) {
        Some(ExitCode::Success) => "the kernel reported success".into(),
        Some(ExitCode::Failure) => "the kernel reported a failure".into(),
        None => match status {
            Some(code) => format!("QEMU exited with status {code}"),
            None => "QEMU was killed by a signal".into(),
        },
    }
}

/// Boots `image` with the serial console (and QEMU's monitor, Ctrl-A C) on this terminal.
pub fn run_interactive(machine: &Machine, image: &Path, extra: &[String]) -> Result<()> {
    println!("{}", machine.description());
    let status = machine
        .command(image)
        .args(["-serial", "mon:stdio", "-display", "none"])
        .args(extra)
        .status()
        .context("cannot start QEMU")?;
    println!("\n{}", verdict(status.code()));
    Ok(())
}

/// A finished (or stopped) captured boot.
pub struct Captured {
    pub status: Option<i32>,
    pub output: String,
    pub timed_out: bool,
    pub elapsed: Duration,
    /// For a conversation: None if every step was done (QEMU was then stopped), else why not.
    pub conversation: Option<Result<(), String>>,
}

/// Boots `image` with serial output captured, killing QEMU after `timeout`.
pub fn run_captured(machine: &Machine, image: &Path, timeout: Duration) -> Result<Captured> {
    capture(machine.command(image), timeout, Vec::new())
}

/// As [`run_captured`], and also kills QEMU (as timed out) once the guest has printed nothing
/// for `quiet`: for a long run that prints as it goes, a silence that long is a hang.
pub fn run_until_quiet(machine: &Machine, image: &Path, timeout: Duration, quiet: Duration) -> Result<Captured> {
    capture_with(machine.command(image), timeout, Some(quiet), Vec::new())
}

/// Boots `image` and holds the conversation `steps` with its serial console (typing into
/// it), then stops QEMU; or stops it at `timeout`, or when a step fails.
pub fn converse(machine: &Machine, image: &Path, timeout: Duration, steps: Vec<Step>) -> Result<Captured> {
    capture(machine.command(image), timeout, steps)
}

/// Runs a QEMU command with the serial output captured, killing QEMU after `timeout`; with
/// `steps`, types into the serial line as they say, and stops QEMU once they are done.
pub fn capture(qemu: Command, timeout: Duration, steps: Vec<Step>) -> Result<Captured> {
    capture_with(qemu, timeout, None, steps)
}

fn capture_with(mut qemu: Command, timeout: Duration, quiet: Option<Duration>, steps: Vec<Step>) -> Result<Captured> {
    let start = Instant::now();
    let (mut heard, mut last_heard) = (0, start);
    let mut conversation = Conversation::new(steps, start);
    let stdin = if conversation.is_empty() { Stdio::null() } else { Stdio::piped() };
    let mut child = qemu
        .args(["-serial", "stdio", "-display", "none", "-monitor", "none"])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start QEMU")?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as _),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let output = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                output.lock().expect("output lock").extend_from_slice(&buf[..n]);
            }
        })
    })
    .collect();
    let mut timed_out = false;
    let mut typing = child.stdin.take();
    let mut said = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            if typing.is_some() {
                said = Some(Err("the guest stopped before the conversation was done".into()));
            }
            break status.code();
        }
        if typing.is_some() {
            let seen = String::from_utf8_lossy(&output.lock().expect("output lock")).replace('\r', "");
            match conversation.turn(&seen, Instant::now()) {
                Turn::Send(bytes) => {
                    let sent = typing.as_mut().map(|t| t.write_all(&bytes).and_then(|()| t.flush()));
                    if let Some(Err(e)) = sent {
                        said = Some(Err(format!("cannot type into QEMU: {e}")));
                    }
                    continue;
                }
                Turn::Wait => {}
                Turn::Done => said = Some(Ok(())),
                Turn::Failed(why) => said = Some(Err(why)),
            }
            if said.is_some() {
                drop(typing.take());
                let _ = child.kill();
                break child.wait()?.code();
            }
        }
        if let Some(quiet) = quiet {
            let now = output.lock().expect("output lock").len();
            if now != heard {
                (heard, last_heard) = (now, Instant::now());
            }
            timed_out = last_heard.elapsed() > quiet;
        }
        if timed_out || start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for r in readers {
        let _ = r.join();
    }
    let output = String::from_utf8_lossy(&output.lock().expect("output lock")).replace('\r', "");
    Ok(Captured { status, output, timed_out, elapsed: start.elapsed(), conversation: said })
}

/// Boots halted with a gdb stub on localhost:1234 and gives the gdb command that attaches.
pub fn gdb(firmware: Firmware, image: &Path, kernel: &Path, attach: bool) -> Result<()> {
    // Breakpoints need guest code to run instruction by instruction under QEMU's control: TCG.
    let machine = Machine::new(Accel::Tcg, 1, firmware)?;
    let symbols = format!("symbol-file {} -o {KERNEL_BASE:#x}", kernel.display());
    let gdb_args = ["-ex", symbols.as_str(), "-ex", "target remote localhost:1234"];
    let quoted: Vec<String> =
        gdb_args.iter().map(|a| if a.starts_with('-') { a.to_string() } else { format!("\"{a}\"") }).collect();
    println!("{}", machine.description());
    if !attach {
        println!("QEMU is halted, waiting for gdb. In another terminal run:\n\n    gdb {}\n", quoted.join(" "));
        println!("then e.g. `hbreak seam_kernel::boot::kernel_main` (hardware: the kernel is not loaded yet) and\n`continue`. Ctrl-A X quits QEMU.");
        machine.command(image).args(["-s", "-S", "-serial", "mon:stdio", "-display", "none"]).status()?;
        return Ok(());
    }
    let log = image.with_extension("serial.log");
    let mut qemu = machine
        .command(image)
        .args(["-s", "-S", "-display", "none", "-monitor", "none", "-serial"])
        .arg(format!("file:{}", log.display()))
        .spawn()
        .context("cannot start QEMU")?;
    println!("serial output goes to {}", log.display());
    let status = Command::new("gdb").args(gdb_args).status();
    let _ = qemu.kill();
    let _ = qemu.wait();
    status.context("cannot start gdb (Debian: apt-get install gdb)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_kvm_only_with_hardware_virtualization() {
        assert!(choose_accel(Accel::Auto, true, true).unwrap().0);
        assert!(!choose_accel(Accel::Auto, false, true).unwrap().0, "a software-emulated KVM");
        assert!(!choose_accel(Accel::Auto, true, false).unwrap().0, "no /dev/kvm");
        assert!(!choose_accel(Accel::Auto, false, false).unwrap().0);
    }

    #[test]
    fn explicit_choices_are_honoured_or_refused() {
        assert!(!choose_accel(Accel::Tcg, true, true).unwrap().0);
        assert!(choose_accel(Accel::Kvm, true, true).unwrap().0);
        let (kvm, why) = choose_accel(Accel::Kvm, false, true).unwrap();
        assert!(kvm && why.contains("software-emulated"));
        assert!(choose_accel(Accel::Kvm, true, false).is_err());
    }
}
