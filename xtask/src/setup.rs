//! Prerequisites: what `run` and `test` install by themselves on a fresh machine, or explain
//! in one sentence when they cannot.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = crate::artifacts::KERNEL_TARGET;
const COMPONENTS: [(&str, &str); 2] = [("rust-src", "rust-src"), ("llvm-tools", "llvm-tools-preview")];
const QEMU: &str = "qemu-system-x86_64";
const OVMF_CANDIDATES: [&str; 3] = ["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd", "/usr/share/qemu/OVMF.fd"];
const APT_PACKAGES: [&str; 2] = ["qemu-system-x86", "ovmf"];

fn rustup(args: &[&str]) -> Result<String> {
    let out = Command::new("rustup")
        .args(args)
        .current_dir(crate::artifacts::root())
        .output()
        .context("rustup is needed to add Rust targets; install it from https://rustup.rs")?;
    if !out.status.success() {
        bail!("`rustup {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Adds the Rust target `target` with rustup, if missing.
pub fn ensure_target(target: &str) -> Result<()> {
    if !rustup(&["target", "list", "--installed"])?.lines().any(|l| l.trim() == target) {
        println!("adding the Rust target {target} (rustup target add)...");
        rustup(&["target", "add", target])?;
    }
    Ok(())
}

/// Adds the kernel target and the components the bootloader build needs, if missing.
pub fn ensure_rust_target() -> Result<()> {
    ensure_target(TARGET)?;
    let installed = rustup(&["component", "list", "--installed"])?;
    for (prefix, name) in COMPONENTS {
        if !installed.lines().any(|l| l.starts_with(prefix)) {
            println!("adding the Rust component {name} (rustup component add)...");
            rustup(&["component", "add", name])?;
        }
    }
    Ok(())
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
}

fn ovmf() -> Option<PathBuf> {
    OVMF_CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// gdb (for `bench --breakdown` and the `ipccost` lab), installed with apt-get when missing
/// and this is root on a Debian-like system.
pub fn ensure_gdb() -> Result<PathBuf> {
    if find_in_path("gdb").is_none() {
        apt_install(&["gdb"], "gdb", "install gdb your system's way")?;
    }
    find_in_path("gdb").context("gdb is still not on PATH")
}

/// Installs Debian's `packages` (what they give: `what`) with apt-get if this is root on a
/// Debian-like system; else fails, saying the command to run (or `otherwise`).
fn apt_install(packages: &[&str], what: &str, otherwise: &str) -> Result<()> {
    let install = format!("apt-get install -y {}", packages.join(" "));
    if !(is_root() && Path::new("/usr/bin/apt-get").exists()) {
        bail!("{what} is missing: run `sudo {install}` (Debian/Ubuntu) or {otherwise}");
    }
    println!("{what} is missing: installing Debian's {} with apt-get...", packages.join(" and "));
    let ok = Command::new("apt-get").arg("update").status().is_ok_and(|s| s.success())
        && Command::new("apt-get")
            .args(["install", "-y"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        bail!("installing {what} failed; run `{install}` as root and try again");
    }
    Ok(())
}

/// The QEMU binary and, when `uefi`, the OVMF firmware; installed with apt-get when missing
/// and this is root on a Debian-like system.
pub fn ensure_qemu(uefi: bool) -> Result<(PathBuf, Option<PathBuf>)> {
    let missing = find_in_path(QEMU).is_none() || (uefi && ovmf().is_none());
    if missing {
        apt_install(&APT_PACKAGES, "QEMU or OVMF", "install qemu-system-x86_64 and OVMF your system's way")?;
    }
    let qemu = find_in_path(QEMU).context("qemu-system-x86_64 is still not on PATH")?;
    let firmware = if uefi {
        Some(ovmf().with_context(|| format!("no OVMF firmware at any of {OVMF_CANDIDATES:?}"))?)
    } else {
        None
    };
    Ok((qemu, firmware))
}
