//! The boot ramdisk: a cpio (newc) archive of user programs and the boot manifest.
//!
//! The kernel reads the command line (see `ipc::boot`) and the user programs under
//! `bin/`. A malformed archive or manifest is reported and treated as empty: the kernel
//! still boots.

use alloc::collections::BTreeMap;
use alloc::string::String;
use ipc::boot::{CMDLINE_MAX, CMDLINE_PATH, PROGRAM_DIR};

/// Finds `name` in a newc archive, walking it. Each step of the walk reads every byte of the
/// file it passes (`cpio_reader` sums them), so this is for boot; afterwards [`file`] and
/// [`program`] look names up in the index [`init`] made.
pub fn find<'a>(archive: &'a [u8], name: &str) -> Option<&'a [u8]> {
    cpio_reader::iter_files(archive).find(|e| e.name() == name).map(|e| e.file())
}

/// The boot archive's files by name (the first of a name, as [`find`] would give).
static FILES: spin::Once<BTreeMap<&'static str, &'static [u8]>> = spin::Once::new();

/// Indexes the boot archive, once: a lookup is then a search of the index, not a walk of
/// the archive. (A walk of a 5 MB archive for a name that is not there took 12 ms of the
/// debug kernel, with interrupts off, and any holder of an Archive capability could ask.)
pub fn init(archive: &'static [u8]) {
    FILES.call_once(|| index(archive));
}

fn index(archive: &[u8]) -> BTreeMap<&str, &[u8]> {
    let mut files = BTreeMap::new();
    for entry in cpio_reader::iter_files(archive) {
        files.entry(entry.name()).or_insert(entry.file());
    }
    files
}

/// The ELF file of boot program `name` (stored as `bin/NAME`).
pub fn program(name: &str) -> Option<&'static [u8]> {
    file(&alloc::format!("{PROGRAM_DIR}{name}"))
}

/// File `name` of the boot archive (any file: programs, the manifest, data).
pub fn file(name: &str) -> Option<&'static [u8]> {
    FILES.get()?.get(name).copied()
}

/// The command line stored in the archive, or why it could not be read.
pub fn cmdline(archive: &[u8]) -> Result<String, &'static str> {
    let Some(bytes) = find(archive, CMDLINE_PATH) else {
        return Ok(String::new());
    };
    if bytes.len() > CMDLINE_MAX {
        return Err("command line longer than CMDLINE_MAX");
    }
    core::str::from_utf8(bytes).map(|s| String::from(s.trim())).map_err(|_| "command line is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newc archive, written by the same crate xtask uses.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (name, data)) in files.iter().enumerate() {
            let builder = cpio::newc::Builder::new(name).ino(i as u32 + 1).mode(0o100644);
            let mut w = builder.write(&mut out, data.len() as u32);
            std::io::Write::write_all(&mut w, data).unwrap();
            w.finish().unwrap();
        }
        cpio::newc::trailer(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_the_command_line() {
        let a = archive(&[("init", b"\x7fELF"), (CMDLINE_PATH, b"test=heap\n")]);
        assert_eq!(cmdline(&a).unwrap(), "test=heap");
        assert_eq!(find(&a, "init"), Some(&b"\x7fELF"[..]));
    }

    #[test]
    fn the_index_finds_what_a_walk_finds() {
        let a = archive(&[("bin/a", b"one"), ("bin/b", b""), ("bin/a", b"two"), (CMDLINE_PATH, b"x")]);
        let files = index(&a);
        assert_eq!(files.len(), 3);
        for name in ["bin/a", "bin/b", CMDLINE_PATH, "bin/c", "", "bin/"] {
            assert_eq!(files.get(name).copied(), find(&a, name), "{name}");
        }
        assert_eq!(files.get("bin/a").copied(), Some(&b"one"[..]), "the first of a name");
        assert!(index(b"not an archive").is_empty());
    }

    #[test]
    fn missing_manifest_or_empty_archive_is_an_empty_line() {
        assert_eq!(cmdline(&archive(&[("init", b"x")])).unwrap(), "");
        assert_eq!(cmdline(&[]).unwrap(), "");
    }

    #[test]
    fn garbage_and_bad_manifests_do_not_panic() {
        assert_eq!(cmdline(b"this is not a cpio archive at all").unwrap(), "");
        let mut truncated = archive(&[(CMDLINE_PATH, b"test=boot")]);
        truncated.truncate(100);
        let _ = cmdline(&truncated);
        assert!(cmdline(&archive(&[(CMDLINE_PATH, b"\xff\xfe")])).is_err());
        let long = vec![b'a'; CMDLINE_MAX + 1];
        assert!(cmdline(&archive(&[(CMDLINE_PATH, &long)])).is_err());
    }

    #[test]
    fn every_single_byte_corruption_is_survived() {
        let good = archive(&[("init", b"\x7fELF\x02\x01"), (CMDLINE_PATH, b"test=boot")]);
        for i in 0..good.len() {
            for value in [0u8, b'0', b'7', b'f', 0xff] {
                let mut bad = good.clone();
                bad[i] = value;
                let _ = cmdline(&bad);
                let _ = find(&bad, "init");
            }
        }
    }
}
