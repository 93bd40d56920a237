//! The Linux peer of `cargo xtask bench --peer linux`: a Debian kernel and a one-program
//! initramfs (busybox as the shell, `linux-peer` as the benchmark), booted on the same QEMU
//! machine as Seam's benchmark.
//!
//! The parts come from the registries this project reaches and are cached under
//! `target/peer-linux/` on first use: the kernel from Debian's `linux-image-<version>-amd64`
//! (`apt-get download`, `dpkg -x`, keep `boot/vmlinuz-*`), busybox from `busybox-static`, and
//! the benchmark built here for `x86_64-unknown-linux-musl` (static).

use crate::artifacts::{self, root};
use crate::qemu::{self, Machine};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Debian's meta-package that depends on the current kernel package.
const KERNEL_META: &str = "linux-image-amd64";
const BUSYBOX: &str = "busybox-static";
const PEER_TARGET: &str = "x86_64-unknown-linux-musl";
const PEER_CRATE: &str = "linux-peer";
/// Linux's binder driver, which Debian builds as a module, and where the kernel package keeps it.
const BINDER_MODULE: &str = "binder_linux.ko";
const BINDER_MODULE_PATH: &str = "kernel/drivers/android/binder_linux.ko";
/// The serial console, no boot chatter, and reboot (which `-no-reboot` turns into QEMU's
/// exit) at once if anything panics.
const APPEND: &str = "console=ttyS0 quiet panic=-1";

/// What one Linux run used and reported.
pub struct Run {
    /// The kernel package and its Debian version, e.g. ("linux-image-6.1.0-56-amd64", "6.1.192-2").
    pub package: String,
    pub version: String,
    /// `uname -r` in the guest.
    pub release: String,
    pub output: String,
}

fn cache_dir() -> PathBuf {
    root().join("target").join("peer-linux")
}

/// Boots the Linux guest on `machine` and runs the peer benchmark with `iters` iterations.
/// `package` picks the kernel package; by default the one Debian's `linux-image-amd64`
/// currently depends on.
pub fn run(machine: &Machine, iters: u64, package: Option<&str>, timeout: Duration) -> Result<Run> {
    let cache = cache_dir();
    fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
    let package = match package {
        Some(p) => p.to_string(),
        None => current_kernel_package(&cache)?,
    };
    let is_kernel = |path: &Path| {
        path.strip_prefix("boot").ok().and_then(|p| p.to_str()).is_some_and(|name| name.starts_with("vmlinuz-"))
    };
    let is_binder = |path: &Path| path.ends_with(BINDER_MODULE_PATH);
    let (found, version) = fetch(&cache, &package, &[("vmlinuz", &is_kernel), (BINDER_MODULE, &is_binder)])?;
    let (kernel, module) = (found[0].clone().context("the kernel package holds no boot/vmlinuz-*")?, found[1].clone());
    let (busybox, _) = fetch(&cache, BUSYBOX, &[("busybox", &|path: &Path| path == Path::new("bin/busybox"))])?;
    let busybox = busybox[0].clone().context("busybox-static holds no bin/busybox")?;
    let peer = build_peer()?;
    let initrd = cache.join("initramfs.cpio");
    let mut files =
        vec![("bin/busybox".to_string(), fs::read(&busybox)?), (format!("bin/{PEER_CRATE}"), fs::read(&peer)?)];
    if let Some(module) = &module {
        files.push((format!("lib/{BINDER_MODULE}"), fs::read(module)?));
    } else {
        println!("linux: {package} has no {BINDER_MODULE_PATH}: no binder figures");
    }
    fs::write(&initrd, initramfs(&init_script(iters, module.is_some()), &files)?)
        .with_context(|| format!("cannot write {}", initrd.display()))?;
    println!("linux: booting {package} ({version}) with busybox and {PEER_CRATE} ({iters} iterations)...");
    let run = qemu::capture(machine.linux_command(&kernel, &initrd, APPEND), timeout, Vec::new())?;
    let output = run.output;
    if run.timed_out || !output.lines().any(|l| l.trim() == "bench: done") {
        println!("{output}");
        bail!("the Linux peer did not finish ({})", if run.timed_out { "timed out" } else { "no `bench: done`" });
    }
    let release = output.lines().find_map(|l| l.trim().strip_prefix("bench: kernel ")).unwrap_or("?").to_string();
    Ok(Run { package, version, release, output })
}

/// The kernel package `linux-image-amd64` depends on, from `apt-cache depends`; without apt's
/// package lists, the one kernel already cached.
fn current_kernel_package(cache: &Path) -> Result<String> {
    let out = Command::new("apt-cache").args(["depends", KERNEL_META]).output();
    if let Some(package) = out.ok().and_then(|o| kernel_dependency(&String::from_utf8_lossy(&o.stdout))) {
        return Ok(package);
    }
    let cached: Vec<String> = fs::read_dir(cache)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("linux-image-"))
        .collect();
    match cached.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "cannot find Debian's {KERNEL_META} (apt-cache depends): run `apt-get update` first, or name a kernel package with --linux-package"
        ),
    }
}

/// The `linux-image-*` package named on a `Depends:` line of `apt-cache depends` output.
fn kernel_dependency(depends: &str) -> Option<String> {
    depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && !p.starts_with('<'))
        .map(str::to_string)
}

/// A file the Linux peer keeps from a Debian package: the name it is cached under, and what
/// picks it out of the package (a path inside it).
type Wanted<'a> = (&'a str, &'a dyn Fn(&Path) -> bool);

/// The files of Debian package `package` that `wanted` picks (None for one it does not hold),
/// and the package's version: from the cache, or downloaded with `apt-get download` and
/// unpacked with `dpkg -x` (keeping only those files).
fn fetch(cache: &Path, package: &str, wanted: &[Wanted]) -> Result<(Vec<Option<PathBuf>>, String)> {
    let dir = cache.join(package);
    let version_file = dir.join("version");
    // The version file is written last, so its presence says the files were all looked for;
    // the `.absent` marker records one the package does not hold.
    let cached = |name: &str| {
        let file = dir.join(name);
        if file.is_file() {
            Some(Some(file))
        } else {
            dir.join(format!("{name}.absent")).is_file().then_some(None)
        }
    };
    if let Ok(version) = fs::read_to_string(&version_file) {
        if let Some(files) = wanted.iter().map(|(name, _)| cached(name)).collect::<Option<Vec<_>>>() {
            return Ok((files, version.trim().to_string()));
        }
    }
    println!("linux: fetching Debian's {package} (apt-get download, dpkg -x) into {}...", dir.display());
    let work = cache.join("download");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    let mut apt = Command::new("apt-get");
    if crate::setup::is_root() {
        // As root, apt downloads as the `_apt` user, which cannot write into our cache (and
        // says so); the download is ours anyway.
        apt.args(["-o", "APT::Sandbox::User=root"]);
    }
    let status = apt
        .args(["download", package])
        .current_dir(&work)
        .status()
        .with_context(|| format!("the Linux peer needs Debian's apt-get and dpkg to fetch {package}"))?;
    if !status.success() {
        bail!("`apt-get download {package}` failed; `apt-get update` may be needed first");
    }
    let deb = fs::read_dir(&work)?
        .filter_map(|e| Some(e.ok()?.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download {package} left no .deb"))?;
    let version = String::from_utf8(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg("Version").output()?.stdout)?
        .trim()
        .to_string();
    let unpacked = work.join("unpacked");
    artifacts::run(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked), "dpkg -x")?;
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let mut files = Vec::new();
    for (name, picks) in wanted {
        let file = match find_file(&unpacked, &unpacked, picks)? {
            Some(found) => {
                fs::copy(&found, dir.join(name))?;
                Some(dir.join(name))
            }
            None => {
                fs::write(dir.join(format!("{name}.absent")), "")?;
                None
            }
        };
        files.push(file);
    }
    fs::write(&version_file, &version)?;
    fs::remove_dir_all(&work)?;
    Ok((files, version))
}

fn find_file(base: &Path, dir: &Path, wanted: &dyn Fn(&Path) -> bool) -> Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            if let Some(found) = find_file(base, &path, wanted)? {
                return Ok(Some(found));
            }
        } else if path.is_file() && wanted(path.strip_prefix(base)?) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Builds the peer benchmark, static, for Linux.
fn build_peer() -> Result<PathBuf> {
    crate::setup::ensure_target(PEER_TARGET)?;
    let mut cargo = artifacts::cargo();
    cargo.args(["build", "--release", "-p", PEER_CRATE, "--target", PEER_TARGET]);
    artifacts::run(&mut cargo, "building the Linux peer benchmark")?;
    Ok(root().join("target").join(PEER_TARGET).join("release").join(PEER_CRATE))
}

/// The guest's `/init`: mount devtmpfs (where the binder device appears), load the binder
/// module if the initramfs has it, run the benchmark, then power off (QEMU then exits).
fn init_script(iters: u64, binder: bool) -> String {
    let mut script = String::from("#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs dev /dev\n");
    if binder {
        script += &format!("/bin/busybox insmod /lib/{BINDER_MODULE}\n");
    }
    script + &format!("/bin/{PEER_CRATE} {iters}\n/bin/busybox poweroff -f\n")
}

/// A newc cpio archive: `/init` (the script), `/dev/console` (Linux opens it as init's
/// standard input and output), and the files given as (path, bytes), each in a directory of
/// the top level (`bin/`, `lib/`).
fn initramfs(init: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    const DIR: u32 = 0o040755;
    const CHAR_DEVICE: u32 = 0o020600;
    const EXECUTABLE: u32 = 0o100755;
    let mut out = Vec::new();
    let mut ino = 0;
    let mut entry = |name: &str, mode: u32, data: &[u8], rdev: (u32, u32)| -> Result<()> {
        ino += 1;
        let header = cpio::newc::Builder::new(name).ino(ino).mode(mode).nlink(1).rdev_major(rdev.0).rdev_minor(rdev.1);
        let mut w = header.write(&mut out, data.len().try_into()?);
        std::io::Write::write_all(&mut w, data)?;
        w.finish()?;
        Ok(())
    };
    entry("dev", DIR, &[], (0, 0))?;
    entry("dev/console", CHAR_DEVICE, &[], (5, 1))?;
    let mut dirs: Vec<&str> = files.iter().filter_map(|(path, _)| Some(path.split_once('/')?.0)).collect();
    dirs.sort_unstable();
    dirs.dedup();
    for dir in dirs {
        entry(dir, DIR, &[], (0, 0))?;
    }
    for (path, data) in files {
        entry(path, EXECUTABLE, data, (0, 0))?;
    }
    entry("init", EXECUTABLE, init.as_bytes(), (0, 0))?;
    cpio::newc::trailer(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_package_is_the_meta_packages_dependency() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(kernel_dependency(out).as_deref(), Some("linux-image-6.1.0-56-amd64"));
        assert_eq!(kernel_dependency("linux-image-amd64\n  Depends: <linux-image-virtual>\n"), None);
        assert_eq!(kernel_dependency("E: No packages found\n"), None);
    }

    #[test]
    fn the_initramfs_holds_init_the_console_and_the_programs() {
        let files = [
            ("bin/busybox".into(), b"BB".to_vec()),
            ("bin/linux-peer".into(), b"LP".to_vec()),
            ("lib/m.ko".into(), b"KO".to_vec()),
        ];
        let archive = initramfs(&init_script(5000, true), &files).unwrap();
        let mut rest = archive.as_slice();
        let mut seen = Vec::new();
        loop {
            let reader = cpio::NewcReader::new(rest).unwrap();
            if reader.entry().is_trailer() {
                break;
            }
            let e = reader.entry();
            let (name, mode, rdev) = (e.name().to_string(), e.mode(), (e.rdev_major(), e.rdev_minor()));
            let mut data = Vec::new();
            rest = reader.to_writer(&mut data).unwrap();
            seen.push((name, mode, rdev, data));
        }
        let find = |name: &str| seen.iter().find(|e| e.0 == name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(find("dev/console").1 & 0o170000, 0o020000, "a character device");
        assert_eq!(find("dev/console").2, (5, 1));
        assert_eq!(find("bin/busybox").3, b"BB");
        let init = find("init");
        assert_eq!(init.1, 0o100755);
        let script = String::from_utf8(init.3.clone()).unwrap();
        assert!(script.starts_with("#!/bin/busybox sh\n"), "{script}");
        assert!(script.contains("/bin/linux-peer 5000\n") && script.ends_with("poweroff -f\n"), "{script}");
        let [mount, insmod, peer] =
            ["mount -t devtmpfs", "insmod /lib/binder_linux.ko", "linux-peer"].map(|w| script.find(w));
        assert!(
            mount < insmod && insmod < peer && mount.is_some(),
            "devtmpfs, then binder, then the benchmark: {script}"
        );
        assert!(!init_script(5000, false).contains("insmod"));
        assert_eq!(find("lib").1, 0o040755);
        assert_eq!(find("lib/m.ko").3, b"KO");
        let names: Vec<_> = seen.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "bin", "lib", "bin/busybox", "bin/linux-peer", "lib/m.ko", "init"]);
    }
}
