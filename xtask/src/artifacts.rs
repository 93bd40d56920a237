//! Building what QEMU boots: the kernel, the ramdisk (a cpio archive) and the disk images.

use crate::qemu::Firmware;
use crate::setup;
use anyhow::{bail, Context, Result};
use ipc::boot::CMDLINE_PATH;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent directory").to_path_buf()
}

fn profile(release: bool) -> &'static str {
    if release {
        "release"
    } else {
        "debug"
    }
}

/// Where generated images and ramdisks go.
pub fn out_dir(release: bool) -> PathBuf {
    root().join("target").join("seam").join(profile(release))
}

pub fn kernel_path(release: bool) -> PathBuf {
    root().join("target").join(KERNEL_TARGET).join(profile(release)).join("seam-kernel")
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

pub fn build_kernel(release: bool) -> Result<PathBuf> {
    setup::ensure_rust_target()?;
    let mut cmd = cargo();
    cmd.args(["build", "--package", "seam-kernel", "--bin", "seam-kernel", "--target", KERNEL_TARGET]);
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd, "building the kernel")?;
    Ok(kernel_path(release))
}

/// The kernel as it goes into the disk image: without debug information, which the BIOS
/// stage would otherwise read sector by sector at boot. gdb reads the full file instead.
fn stripped_kernel(kernel: &Path, dir: &Path) -> Result<PathBuf> {
    let out = dir.join("seam-kernel.stripped");
    run(Command::new(llvm_tool("llvm-objcopy")?).arg("--strip-debug").arg(kernel).arg(&out), "stripping the kernel")?;
    Ok(out)
}

/// A tool from the toolchain's llvm-tools component, which `setup` installs.
fn llvm_tool(name: &str) -> Result<PathBuf> {
    let rustc = |arg: &str| -> Result<String> {
        let out = Command::new("rustc").args([arg]).current_dir(root()).output().context("cannot run rustc")?;
        Ok(String::from_utf8(out.stdout)?)
    };
    let sysroot = rustc("--print=sysroot")?;
    let version = rustc("-vV")?;
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).context("rustc -vV names no host")?;
    Ok(Path::new(sysroot.trim()).join("lib/rustlib").join(host.trim()).join("bin").join(name))
}

/// Builds the image-builder binary; its first build compiles the bootloader (minutes).
fn image_builder() -> Result<PathBuf> {
    // Its own target directory: RUSTC_BOOTSTRAP is part of cargo's fingerprint, so sharing
    // one with xtask would rebuild their common dependencies on every switch.
    let target_dir = root().join("target").join("image-builder");
    let path = target_dir.join("debug").join("seam-image");
    if !path.exists() {
        println!("building the bootloader's BIOS and UEFI stages (first time only: a few minutes)...");
    }
    let mut cmd = cargo();
    // The bootloader's build script compiles its stages with -Zbuild-std; this switch lets
    // stable cargo do that, for this one crate's build only.
    cmd.args(["build", "--quiet", "--package", "seam-image", "--target-dir"])
        .arg(&target_dir)
        .env("RUSTC_BOOTSTRAP", "1");
    run(&mut cmd, "building the image builder (bootloader)")?;
    Ok(path)
}

/// A newc cpio archive holding the boot manifest.
pub fn ramdisk(path: &Path, cmdline: &str) -> Result<()> {
    let mut out = Vec::new();
    let data = cmdline.as_bytes();
    let mut w = cpio::newc::Builder::new(CMDLINE_PATH).ino(1).mode(0o100644).write(&mut out, data.len() as u32);
    std::io::Write::write_all(&mut w, data)?;
    w.finish()?;
    cpio::newc::trailer(&mut out)?;
    fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// The images made for one configuration.
pub struct Images(Vec<(Firmware, PathBuf)>);

impl Images {
    pub fn get(&self, firmware: Firmware) -> &Path {
        &self.0.iter().find(|(f, _)| *f == firmware).expect("image was built").1
    }

    pub fn all(&self) -> impl Iterator<Item = &(Firmware, PathBuf)> {
        self.0.iter()
    }
}

/// Builds the kernel and disk images named `name` whose ramdisk carries `cmdline`.
pub fn images(release: bool, name: &str, cmdline: &str, firmwares: &[Firmware]) -> Result<Images> {
    Builder::new(release)?.make(name, cmdline, firmwares)
}

/// Builds the kernel once, then makes many image sets from it.
pub struct Builder {
    tool: PathBuf,
    dir: PathBuf,
    kernel: PathBuf,
}

impl Builder {
    pub fn new(release: bool) -> Result<Builder> {
        let kernel = build_kernel(release)?;
        let dir = out_dir(release);
        fs::create_dir_all(&dir)?;
        let kernel = stripped_kernel(&kernel, &dir)?;
        Ok(Builder { tool: image_builder()?, dir, kernel })
    }

    pub fn make(&self, name: &str, cmdline: &str, firmwares: &[Firmware]) -> Result<Images> {
        let ramdisk = self.dir.join(format!("{name}.cpio"));
        self::ramdisk(&ramdisk, cmdline)?;
        let path_for = |f: Firmware| self.dir.join(format!("{name}-{}.img", f.name()));
        let arg = |f: Firmware| if firmwares.contains(&f) { path_for(f).into_os_string() } else { "-".into() };
        let mut cmd = Command::new(&self.tool);
        cmd.arg(&self.kernel).arg(&ramdisk).arg(arg(Firmware::Bios)).arg(arg(Firmware::Uefi));
        run(&mut cmd, "making the disk images")?;
        Ok(Images(firmwares.iter().map(|&f| (f, path_for(f))).collect()))
    }
}
