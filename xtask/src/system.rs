//! The system description: `userspace/system.toml` (or another file given with `--system`)
//! read with `toml` and `serde`, checked, put in start order and written in the compact form
//! `init` reads (`ipc::system`). A mistake is a build error naming the file and the program.
//!
//! ```toml
//! [[program]]
//! name = "console"            # a program under userspace/ (its package name)
//! priority = 200
//! memory = "256 KiB"          # its quota: image, stack, IPC buffer, and all it maps or makes
//! uses = ["name"]             # services it may look up
//! provides = ["console"]      # services it registers
//! ports = ["0x3f8-0x3ff"]     # I/O port ranges it owns
//! irqs = [4]                  # interrupt lines it owns
//! supervise = { restarts = 3, backoff_ms = 100 }
//! ```
//!
//! Optional too: `args` (a list of start arguments), `archive = "read"` (it may read the
//! boot archive's files) or `"spawn"` (and make processes of its programs), `introspect =
//! true` (it gets the introspection capability), `store = "64 KiB"` (a Frame that outlives
//! the program's crashes, for data it must not lose), `writes = ["weather."]` (the settings
//! key prefixes it may write), `uid = 10001` (the Android uid the compat server reports for a
//! legacy app; 1000, Android's system uid, if not given).

use anyhow::{bail, Context, Result};
use ipc::system::{self, Archive, List, Program, Restart};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    program: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    priority: u8,
    memory: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    uses: Vec<String>,
    #[serde(default)]
    provides: Vec<String>,
    #[serde(default)]
    ports: Vec<String>,
    #[serde(default)]
    irqs: Vec<u8>,
    supervise: Option<Supervise>,
    #[serde(default)]
    archive: Option<String>,
    #[serde(default)]
    introspect: bool,
    store: Option<String>,
    #[serde(default)]
    writes: Vec<String>,
    uid: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Supervise {
    restarts: u32,
    #[serde(default)]
    backoff_ms: u32,
}

/// The name server's entry, as the systems xtask makes for tests and benchmarks have it.
pub const NAME_SERVER: &str = r#"
[[program]]
name = "name"
priority = 220
memory = "1 MiB"
provides = ["name"]
archive = "read"
supervise = { restarts = 3 }
"#;

/// The console's entry, as the systems xtask makes for tests and labs have it: COM1's ports
/// and IRQ 4, supervised.
pub const CONSOLE: &str = r#"
[[program]]
name = "console"
priority = 200
memory = "1 MiB"
provides = ["console", "input"]
ports = ["0x3f8-0x3ff"]
irqs = [4]
archive = "read"
supervise = { restarts = 3 }
"#;

/// `"256 KiB"`, `"1 MiB"` or a plain number of bytes, as a number of bytes.
fn bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

/// Reads the description in `path`, checks it against the boot programs `programs` (package
/// names), and returns the compact form for the ramdisk.
pub fn compile(path: &Path, programs: &[String]) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    compile_text(&text, programs).map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))
}

/// As [`compile`], from the file's text; errors name the program, the caller adds the file.
pub fn compile_text(text: &str, programs: &[String]) -> Result<String> {
    let file: File = toml::from_str(text)?;
    let mut args = Vec::new();
    for e in &file.program {
        if !programs.contains(&e.name) {
            bail!("program '{}': no such program under userspace/ (there are: {})", e.name, programs.join(", "));
        }
        if let Some(bad) = e.args.iter().find(|a| a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == ':')) {
            bail!("program '{}': argument \"{bad}\" is empty or holds a space or ':'", e.name);
        }
        args.push(e.args.join(":"));
    }
    let mut lists = Vec::new();
    for e in &file.program {
        lists.push([
            e.uses.join(","),
            e.provides.join(","),
            e.ports.join(","),
            e.irqs.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
            e.writes.join(","),
        ]);
    }
    let mut programs = Vec::new();
    for ((e, args), [uses, provides, ports, irqs, writes]) in file.program.iter().zip(&args).zip(&lists) {
        let memory = bytes(&e.memory).with_context(|| {
            format!("program '{}': memory \"{}\" is not a size (\"256 KiB\", \"1 MiB\")", e.name, e.memory)
        })?;
        let store = match e.store.as_deref().map(|s| (s, bytes(s))) {
            None => 0,
            Some((_, Some(b))) if b > 0 && b.is_multiple_of(4096) => b,
            Some((text, _)) => {
                bail!("program '{}': store \"{text}\" is not a size in whole pages (\"64 KiB\")", e.name)
            }
        };
        let archive = match e.archive.as_deref() {
            None => Archive::None,
            Some(word) => Archive::from_word(word)
                .with_context(|| format!("program '{}': archive \"{word}\" is none, read or spawn", e.name))?,
        };
        for list in [&e.uses, &e.provides, &e.ports, &e.writes] {
            if let Some(bad) = list.iter().find(|item| item.contains(',') || item.is_empty()) {
                bail!("program '{}': \"{bad}\" is not a name or a range", e.name);
            }
        }
        programs.push(Program {
            name: &e.name,
            priority: e.priority,
            memory,
            args,
            uses: List::new(uses),
            provides: List::new(provides),
            ports: List::new(ports),
            irqs: List::new(irqs),
            restart: e.supervise.as_ref().map(|s| Restart { limit: s.restarts, backoff_ms: s.backoff_ms }),
            archive,
            introspect: e.introspect,
            store,
            writes: List::new(writes),
            uid: e.uid.unwrap_or(system::SYSTEM_UID),
        });
    }
    let mut out = format!("{}\n", system::HEADER);
    for p in start_order(programs) {
        writeln!(out, "{p}")?;
    }
    if let Err(e) = system::check(&out) {
        bail!("{e}");
    }
    Ok(out)
}

/// The programs in an order where the name server comes first and each other starts after
/// the providers of what it uses, and otherwise as the file lists them. A program in a
/// dependency loop (or using what nobody provides) goes last, where the check reports it.
fn start_order(mut left: Vec<Program>) -> Vec<Program> {
    let mut placed: Vec<Program> = Vec::new();
    if let Some(i) = left.iter().position(|p| p.provides.contains(system::NAME_SERVICE)) {
        placed.push(left.remove(i));
    }
    while !left.is_empty() {
        let ready = |p: &Program| p.uses.items().all(|s| placed.iter().any(|q| q.provides.contains(s)));
        let next = left.iter().position(ready).unwrap_or(0);
        placed.push(left.remove(next));
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["name", "console", "shell", "spinner"].map(String::from).to_vec()
    }

    const GOOD: &str = r#"
[[program]]
name = "shell"
priority = 100
memory = "1 MiB"
uses = ["name", "console"]
introspect = true
archive = "spawn"
args = ["prompt", "x"]
uid = 10001

[[program]]
name = "console"
priority = 200
memory = "256 KiB"
uses = ["name"]
provides = ["console"]
ports = ["0x3f8-0x3ff"]
irqs = [4]
supervise = { restarts = 3, backoff_ms = 100 }

[[program]]
name = "name"
priority = 220
memory = "128 KiB"
provides = ["name"]
supervise = { restarts = 3 }
"#;

    #[test]
    fn a_good_description_compiles_in_dependency_order() {
        let out = compile_text(GOOD, &known()).unwrap();
        let names: Vec<&str> = system::programs(&out).map(|p| p.unwrap().name).collect();
        assert_eq!(names, ["name", "console", "shell"]);
        let shell = system::programs(&out).map(Result::unwrap).find(|p| p.name == "shell").unwrap();
        assert_eq!((shell.memory, shell.args, shell.introspect, shell.uid), (1 << 20, "prompt:x", true, 10_001));
        let console = system::programs(&out).map(Result::unwrap).find(|p| p.name == "console").unwrap();
        assert_eq!(console.restart, Some(Restart { limit: 3, backoff_ms: 100 }));
        assert_eq!(console.uid, system::SYSTEM_UID, "no uid given: the system's");
    }

    fn error(toml: &str) -> String {
        format!("{:#}", compile_text(toml, &known()).unwrap_err())
    }

    #[test]
    fn each_kind_of_mistake_is_refused_with_its_program_named() {
        let cases = [
            (GOOD.replace("name = \"shell\"", "name = \"shel\""), "program 'shel': no such program"),
            (
                GOOD.replace("uses = [\"name\", \"console\"]", "uses = [\"weather\"]"),
                "program 'shell': uses 'weather', which no program provides",
            ),
            (GOOD.replace("name = \"shell\"", "name = \"name\""), "program 'name': listed twice"),
            (
                GOOD.replace("provides = [\"name\"]", "provides = [\"name\", \"console\"]"),
                "provides 'console', which is provided twice",
            ),
            (
                GOOD.replace("introspect = true", "introspect = true\nports = [\"0x3f0-0x3f8\"]"),
                "program 'shell': its I/O ports overlap those of 'console'",
            ),
            (
                GOOD.replace("introspect = true", "introspect = true\nirqs = [4]"),
                "program 'shell': interrupt line 4 is also given to 'console'",
            ),
            (GOOD.replace("memory = \"1 MiB\"", "memory = \"lots\""), "program 'shell': memory \"lots\" is not a size"),
            (GOOD.replace("priority = 100", "priority = 100\ncolour = \"red\""), "unknown field `colour`"),
            (GOOD.replace("irqs = [4]", "irqs = [2]"), "interrupt line 2 cannot be given"),
            (GOOD.replace("ports = [\"0x3f8-0x3ff\"]", "ports = [\"0x3f8-0x400\"]"), "is not a range of I/O ports"),
            (GOOD.replace("args = [\"prompt\", \"x\"]", "args = [\"a b\"]"), "argument \"a b\""),
            (GOOD.replace("archive = \"spawn\"", "archive = \"all\""), "archive \"all\" is none, read or spawn"),
            (GOOD.replace("archive = \"spawn\"", "store = \"100\""), "store \"100\" is not a size in whole pages"),
            (GOOD.replace("archive = \"spawn\"", "writes = [\"Weather\"]"), "\"Weather\" is not a settings key prefix"),
            (GOOD.replace("provides = [\"name\"]", "provides = [\"name\"]\nuses = [\"console\"]"), "dependency loop"),
        ];
        for (toml, want) in cases {
            let got = error(&toml);
            assert!(got.contains(want), "wanted \"{want}\" in: {got}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes("256 KiB"), Some(256 << 10));
        assert_eq!(bytes("2MiB"), Some(2 << 20));
        assert_eq!(bytes("4096"), Some(4096));
        assert_eq!(bytes("1 GiB"), None);
        assert_eq!(bytes("KiB"), None);
        assert_eq!(bytes("99999999999999999999 MiB"), None);
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = compile(Path::new("/nonexistent/system.toml"), &known()).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/system.toml"));
    }
}
