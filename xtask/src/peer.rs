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
    let (kernel, version) = fetch(&cache, &package, |path| {
        path.strip_prefix("boot").ok().and_then(|p| p.to_str()).is_some_and(|name| name.starts_with("vmlinuz-"))
    })?;
    let (busybox, _) = fetch(&cache, BUSYBOX, |path| path == Path::new("bin/busybox"))?;
    let peer = build_peer()?;
    let initrd = cache.join("initramfs.cpio");
    let files = [("bin/busybox".to_string(), fs::read(&busybox)?), (format!("bin/{PEER_CRATE}"), fs::read(&peer)?)];
    fs::write(&initrd, initramfs(&init_script(iters), &files)?)
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

/// The one file of Debian package `package` that `wanted` picks (a path inside the package),
/// and the package's version: from the cache, or downloaded with `apt-get download` and
/// unpacked with `dpkg -x` (keeping only that file).
fn fetch(cache: &Path, package: &str, wanted: impl Fn(&Path) -> bool) -> Result<(PathBuf, String)> {
    let dir = cache.join(package);
    let (file, version_file) = (dir.join("file"), dir.join("version"));
    if let (true, Ok(version)) = (file.is_file(), fs::read_to_string(&version_file)) {
        return Ok((file, version.trim().to_string()));
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
    let found = find_file(&unpacked, &unpacked, &wanted)?
        .with_context(|| format!("{package} does not hold the file the Linux peer needs"))?;
    fs::create_dir_all(&dir)?;
    fs::copy(&found, &file)?;
    fs::write(&version_file, &version)?;
    fs::remove_dir_all(&work)?;
    Ok((file, version))
}

fn find_file(base: &Path, dir: &Path, wanted: &impl Fn(&Path) -> bool) -> Result<Option<PathBuf>> {
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

/// The guest's `/init`: run the benchmark, then power off (QEMU then exits).
fn init_script(iters: u64) -> String {
    format!("#!/bin/busybox sh\n/bin/{PEER_CRATE} {iters}\n/bin/busybox poweroff -f\n")
}

/// A newc cpio archive: `/init` (the script), `/dev/console` (Linux opens it as init's
/// standard input and output), and the programs given as (path, bytes) under `/bin`.
fn initramfs(init: &str, programs: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
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
    entry("bin", DIR, &[], (0, 0))?;
    for (path, data) in programs {
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
        let archive = initramfs(&init_script(5000), &[("bin/busybox".into(), b"BB".to_vec())]).unwrap();
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
        assert_eq!(seen.len(), 5, "dev, dev/console, bin, bin/busybox, init");
    }
}
