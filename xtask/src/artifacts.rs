//! Building what QEMU boots: the kernel, the user programs, the ramdisk (a cpio archive of the
//! programs and the boot manifest) and the disk images.

use crate::qemu::Firmware;
use crate::setup;
use anyhow::{bail, Context, Result};
use ipc::boot::{CMDLINE_PATH, PROGRAM_DIR};
use ipc::system::SYSTEM_PATH;
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

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// What `cargo xtask build` makes: the kernel and the user programs, all for
/// x86_64-unknown-none, in one cargo invocation.
pub struct Built {
    pub kernel: PathBuf,
    /// (name, ELF file) of each user program.
    pub programs: Vec<(String, PathBuf)>,
}

pub fn build(release: bool) -> Result<Built> {
    setup::ensure_rust_target()?;
    let programs = user_programs()?;
    let mut cmd = cargo();
    cmd.args(["build", "--package", "seam-kernel", "--target", KERNEL_TARGET]);
    for name in &programs {
        cmd.args(["--package", name]);
    }
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd, "building the kernel and user programs")?;
    let dir = root().join("target").join(KERNEL_TARGET).join(profile(release));
    let programs = programs.into_iter().map(|name| (name.clone(), dir.join(name))).collect();
    Ok(Built { kernel: kernel_path(release), programs })
}

/// The user programs: every crate under `userspace/` that uses the shared program build
/// script, by package name. Adding a program is adding such a crate (and listing it as a
/// workspace member).
pub fn user_programs() -> Result<Vec<String>> {
    let base = root().join("userspace");
    let mut dirs = vec![];
    for parent in [base.clone(), base.join("apps"), base.join("servers")] {
        let Ok(entries) = fs::read_dir(&parent) else { continue };
        for entry in entries {
            dirs.push(entry?.path());
        }
    }
    let mut names = vec![];
    for manifest in dirs.iter().map(|d| d.join("Cargo.toml")).filter(|m| m.exists()) {
        let text = fs::read_to_string(&manifest)?;
        if !text.contains("program-build.rs") {
            continue;
        }
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .with_context(|| format!("{} names no package", manifest.display()))?;
        names.push(name.trim_matches('"').to_string());
    }
    names.sort();
    Ok(names)
}

/// An ELF file as it goes into the disk image: without debug information, which the BIOS
/// stage would otherwise read sector by sector at boot. gdb reads the full file instead.
fn stripped(elf: &Path, out: &Path) -> Result<()> {
    let what = format!("stripping {}", elf.display());
    run(Command::new(llvm_tool("llvm-objcopy")?).arg("--strip-debug").arg(elf).arg(out), &what)
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

/// A newc cpio archive holding the boot manifest and the files given as (archive path, bytes).
pub fn ramdisk<'a>(path: &Path, cmdline: &str, files: impl Iterator<Item = &'a (String, Vec<u8>)>) -> Result<()> {
    let mut out = Vec::new();
    let files = files.map(|(name, data)| (name.as_str(), data.as_slice()));
    for (i, (name, data)) in std::iter::once((CMDLINE_PATH, cmdline.as_bytes())).chain(files).enumerate() {
        let builder = cpio::newc::Builder::new(name).ino(i as u32 + 1).mode(0o100755);
        let mut w = builder.write(&mut out, data.len() as u32);
        std::io::Write::write_all(&mut w, data)?;
        w.finish()?;
    }
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

/// Builds the kernel and disk images named `name` whose ramdisk carries `cmdline` and, if
/// given, the system description `system` in its compact form.
pub fn images(
    release: bool,
    name: &str,
    cmdline: &str,
    system: Option<&Path>,
    firmwares: &[Firmware],
) -> Result<Images> {
    let builder = Builder::new(release)?;
    let extra = match system {
        Some(path) => vec![builder.system(path)?],
        None => vec![],
    };
    builder.make_with(name, cmdline, firmwares, &extra)
}

/// Builds the kernel and programs once, then makes many image sets from them.
pub struct Builder {
    tool: PathBuf,
    dir: PathBuf,
    kernel: PathBuf,
    /// The ramdisk's program files: (archive path, stripped ELF).
    programs: Vec<(String, Vec<u8>)>,
}

impl Builder {
    pub fn new(release: bool) -> Result<Builder> {
        let built = build(release)?;
        let dir = out_dir(release);
        fs::create_dir_all(dir.join("bin"))?;
        let kernel = dir.join("seam-kernel.stripped");
        stripped(&built.kernel, &kernel)?;
        let mut programs = vec![];
        for (name, elf) in &built.programs {
            let out = dir.join("bin").join(name);
            stripped(elf, &out)?;
            programs.push((format!("{PROGRAM_DIR}{name}"), fs::read(&out)?));
        }
        Ok(Builder { tool: image_builder()?, dir, kernel, programs })
    }

    /// The names of the programs built.
    pub fn program_names(&self) -> Vec<String> {
        self.programs.iter().filter_map(|(p, _)| p.strip_prefix(PROGRAM_DIR)).map(String::from).collect()
    }

    /// The ramdisk file of the system description in `path`: compiled and checked against
    /// the programs built.
    pub fn system(&self, path: &Path) -> Result<(String, Vec<u8>)> {
        let compact = crate::system::compile(path, &self.program_names())?;
        Ok((SYSTEM_PATH.into(), compact.into_bytes()))
    }

    /// As [`Builder::system`], for a description given as text (a test's own system).
    pub fn system_text(&self, toml: &str) -> Result<(String, Vec<u8>)> {
        let compact = crate::system::compile_text(toml, &self.program_names())?;
        Ok((SYSTEM_PATH.into(), compact.into_bytes()))
    }

    /// The stripped ELF of program `name`.
    pub fn program(&self, name: &str) -> Option<&[u8]> {
        let path = format!("{PROGRAM_DIR}{name}");
        self.programs.iter().find(|(p, _)| *p == path).map(|(_, elf)| elf.as_slice())
    }

    /// As [`Builder::make`], with only the programs named in the ramdisk: the BIOS stage reads
    /// the ramdisk at about five seconds a MiB under TCG, so a boot that needs two programs
    /// starts in seconds instead of half a minute.
    pub fn make_only(&self, name: &str, cmdline: &str, firmwares: &[Firmware], programs: &[&str]) -> Result<Images> {
        let ramdisk = self.dir.join(format!("{name}.cpio"));
        let wanted = |path: &str| path.strip_prefix(PROGRAM_DIR).is_some_and(|p| programs.contains(&p));
        self::ramdisk(&ramdisk, cmdline, self.programs.iter().filter(|(path, _)| wanted(path)))?;
        self.image(name, &ramdisk, firmwares)
    }

    pub fn make(&self, name: &str, cmdline: &str, firmwares: &[Firmware]) -> Result<Images> {
        self.make_with(name, cmdline, firmwares, &[])
    }

    /// As [`Builder::make`], with extra files in the ramdisk (test fixtures).
    pub fn make_with(
        &self,
        name: &str,
        cmdline: &str,
        firmwares: &[Firmware],
        extra: &[(String, Vec<u8>)],
    ) -> Result<Images> {
        let ramdisk = self.dir.join(format!("{name}.cpio"));
        self::ramdisk(&ramdisk, cmdline, self.programs.iter().chain(extra))?;
        self.image(name, &ramdisk, firmwares)
    }

    /// The disk images of the kernel with `ramdisk`.
    fn image(&self, name: &str, ramdisk: &Path, firmwares: &[Firmware]) -> Result<Images> {
        let path_for = |f: Firmware| self.dir.join(format!("{name}-{}.img", f.name()));
        let arg = |f: Firmware| if firmwares.contains(&f) { path_for(f).into_os_string() } else { "-".into() };
        let mut cmd = Command::new(&self.tool);
        cmd.arg(&self.kernel).arg(ramdisk).arg(arg(Firmware::Bios)).arg(arg(Firmware::Uefi));
        run(&mut cmd, "making the disk images")?;
        Ok(Images(firmwares.iter().map(|&f| (f, path_for(f))).collect()))
    }
}
