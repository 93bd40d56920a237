//! The course's labs and how each is graded: the one place `cargo xtask grade`, `lab list`
//! and `lab verify` read them from. Each lab's handout and patches are in `labs/NAME/`.
//!
//! A check is a host test run, a QEMU boot judged on what the kernel printed (its own lines,
//! which a user program cannot print: [`kernel_says`]), or a benchmark figure under
//! `-icount shift=0` (an exact instruction count). Every check says what
//! the lab's start does with it: fails it (the lab's work) or passes it (a regression check,
//! which the work must not break); `lab verify` holds the start to that.

use crate::bench::Figure;
use crate::breakdown::Operation;
use crate::converse::Step;
use crate::qemu::Captured;
use anyhow::{bail, Result};
use std::path::PathBuf;

mod ipccost;
mod kernel;
mod user;

use ipccost::ipccost;
use kernel::{elf, fastpath, revoke, runqueue, selftest, syscall};
use user::{console, pingpong, string16};

/// Iterations of the benchmark a lab's figures come from: under icount a figure is the same
/// from the first iteration on, so a few hundred are as good as a hundred thousand.
pub const BENCH_ITERS: u64 = 300;
/// Seconds the benchmark boot may take (it starts a thousand processes for `ipc_scale_1000`).
pub const BENCH_TIMEOUT: u64 = 240;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The start takes a mechanism out of main; main is the reference.
    Removal,
    /// The start adds a scaffold; the reference is the start with `solution.patch`.
    Extension,
}

/// What a lab's start does with a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStart {
    /// Fails it: the check grades the lab's work.
    Fails,
    /// Passes it: the check guards what the work must not break.
    Passes,
}

/// Ramdisk files: (path in the archive, content).
pub type Files = Vec<(String, Vec<u8>)>;

pub struct BootCheck {
    /// The boot manifest, given the grading run's nonce.
    pub cmdline: fn(u64) -> String,
    /// The system description to boot, if any, given the nonce.
    pub system: Option<fn(u64) -> String>,
    /// Files the ramdisk holds besides the programs, made from init's ELF file.
    pub files: Option<fn(&[u8]) -> Files>,
    /// What to type at the serial console and wait for, given the nonce: the boot passes
    /// only if every step is done (QEMU is then stopped), before the judge reads it.
    pub conversation: Option<fn(u64) -> Vec<Step>>,
    /// What was seen if the boot passes, else why not.
    pub judge: fn(&Captured, u64) -> Result<String, String>,
}

/// The name of a lab's answers file (in `labs/NAME/`), which is the student's: `grade
/// --official` restores the rest of the lab's folder, never this.
pub const ANSWERS_FILE: &str = "answers.toml";

/// A file of answers the student fills in, judged against the grader's own measurements of
/// the tree being graded.
pub struct AnswersCheck {
    /// The answers file (TOML), `labs/NAME/`[`ANSWERS_FILE`]: the start adds it with every
    /// answer 0 or "".
    pub file: &'static str,
    /// The answers the check reads (dotted keys): each must be filled in, or the check fails
    /// before anything is measured.
    pub keys: &'static [&'static str],
    /// The benchmark groups whose figures the answers are compared with ("" for none).
    pub groups: &'static str,
    /// Whether they are compared with `cargo xtask bench --breakdown` too.
    pub breakdown: bool,
    pub judge: fn(&Answers, &Measured) -> Result<String, String>,
}

/// What the grader measured for an [`AnswersCheck`].
pub struct Measured<'a> {
    pub figures: &'a [Figure],
    pub breakdown: &'a [Operation],
}

/// A parsed answers file.
pub struct Answers(toml::Table);

impl Answers {
    pub fn parse(text: &str) -> Result<Answers, String> {
        text.parse().map(Answers).map_err(|e| format!("the answers are not TOML: {e}"))
    }

    fn value(&self, key: &str) -> Option<&toml::Value> {
        let mut parts = key.split('.');
        let mut value = self.0.get(parts.next()?)?;
        for part in parts {
            value = value.get(part)?;
        }
        Some(value)
    }

    /// The keys of `keys` still unanswered: missing, 0, or empty text.
    pub fn unfilled<'k>(&self, keys: &[&'k str]) -> Vec<&'k str> {
        let filled = |v: &toml::Value| match v {
            toml::Value::Integer(n) => *n != 0,
            toml::Value::String(t) => !t.trim().is_empty(),
            _ => true,
        };
        keys.iter().copied().filter(|k| !self.value(k).is_some_and(filled)).collect()
    }

    pub fn number(&self, key: &str) -> Result<u64, String> {
        let value = self.value(key).ok_or_else(|| format!("no answer {key}"))?;
        value.as_integer().and_then(|n| u64::try_from(n).ok()).ok_or_else(|| format!("{key} is not a count"))
    }

    pub fn text(&self, key: &str) -> Result<&str, String> {
        let value = self.value(key).ok_or_else(|| format!("no answer {key}"))?;
        value.as_str().ok_or_else(|| format!("{key} is not text"))
    }
}

pub enum Test {
    /// `cargo test -p PACKAGE -- FILTERS`: at least one test runs, none fails.
    Host { package: &'static str, filters: &'static [&'static str] },
    /// A case of `cargo xtask test` (its user cases, by name), judged as there.
    Case(&'static str),
    /// A boot of the debug kernel (UEFI) with its own manifest and judge.
    Boot(BootCheck),
    /// The benchmark's figures of some groups (as `bench ITERS GROUPS` takes them: `null`,
    /// `yield`, `ipc`, `scale`, `notify`), measured as `cargo xtask bench` does (release
    /// kernel, TCG, `-icount shift=0`), judged.
    Bench { groups: &'static str, judge: fn(&[Figure]) -> Result<String, String> },
    /// Answers the student wrote, against the grader's measurements.
    Answers(AnswersCheck),
}

pub struct Check {
    pub name: &'static str,
    pub points: u32,
    pub start: OnStart,
    pub test: Test,
}

pub struct Lab {
    pub name: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    /// Paths (from the workspace root) that `grade --official` restores from the lab's start
    /// before grading, besides `labs/NAME/`: the grader (all of `xtask/` unless the lab has
    /// the student edit part of it) and the programs and tests its checks run.
    pub protected: &'static [&'static str],
    pub checks: Vec<Check>,
}

impl Lab {
    pub fn start_patch(&self) -> PathBuf {
        crate::lab::labs_dir().join(self.name).join("start.patch")
    }

    pub fn solution_patch(&self) -> PathBuf {
        crate::lab::labs_dir().join(self.name).join("solution.patch")
    }
}

/// Every lab, in the order the course takes them.
pub fn all() -> Vec<Lab> {
    vec![selftest(), syscall(), pingpong(), revoke(), elf(), runqueue(), fastpath(), ipccost(), console(), string16()]
}

pub fn find(name: &str) -> Result<Lab> {
    match all().into_iter().find(|l| l.name == name) {
        Some(lab) => Ok(lab),
        None => {
            let names: Vec<&str> = all().iter().map(|l| l.name).collect();
            bail!("no lab is named {name}; the labs are {}", names.join(", "))
        }
    }
}

fn check(name: &'static str, points: u32, start: OnStart, test: Test) -> Check {
    Check { name, points, start, test }
}

fn host(package: &'static str, filters: &'static [&'static str]) -> Test {
    Test::Host { package, filters }
}

/// A boot with manifest `cmdline`, no system and no extra files, judged by `judge`.
fn boot(cmdline: fn(u64) -> String, judge: fn(&Captured, u64) -> Result<String, String>) -> Test {
    Test::Boot(BootCheck { cmdline, system: None, files: None, conversation: None, judge })
}

/// The message of a kernel log line (`[    1.234567] INFO  message`), or of a report the
/// kernel writes without the prefix (`EXCEPTION: ...`, `PANIC at ...`); None for other lines.
/// A user program's lines are the kernel's too, as `name[pid]: text`: a matcher that needs the
/// kernel's own word looks for a message that starts with it, which such a line cannot.
pub fn kernel_message(line: &str) -> Option<&str> {
    let line = line.trim_end_matches('\r');
    if is_kernel_report(line) {
        return Some(line);
    }
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] ")?;
    let (secs, micros) = stamp.trim_start().split_once('.')?;
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || micros.len() != 6 {
        return None;
    }
    let (level, message) = rest.split_at_checked(5)?;
    if !["ERROR", "WARN ", "INFO ", "DEBUG"].contains(&level) {
        return None;
    }
    message.strip_prefix(' ')
}

/// Whether `line` is a fault or panic report the kernel writes (`EXCEPTION: ...`,
/// `PANIC at ...`).
pub fn is_kernel_report(line: &str) -> bool {
    line.starts_with("EXCEPTION: ") || line.starts_with("PANIC at ")
}

/// The first line at or after byte `from` whose kernel message starts with `start`: its
/// message and where the line ends.
pub fn kernel_says<'a>(output: &'a str, start: &str, from: usize) -> Option<(&'a str, usize)> {
    let mut at = 0;
    for line in output.split_inclusive('\n') {
        let end = at + line.len();
        if end > from {
            if let Some(message) = kernel_message(line.trim_end_matches('\n')).filter(|m| m.starts_with(start)) {
                return Some((message, end));
            }
        }
        at = end;
    }
    None
}

/// The pids of the processes of `program` that printed a line starting with `text` (the
/// kernel writes a user program's line as `program[pid]: text`).
pub fn user_says(output: &str, program: &str, text: &str) -> Vec<u64> {
    output
        .lines()
        .filter_map(kernel_message)
        .filter_map(|m| {
            let (pid, said) = m.strip_prefix(program)?.strip_prefix('[')?.split_once("]: ")?;
            said.starts_with(text).then(|| pid.parse().ok()).flatten()
        })
        .collect()
}

/// The pids of the processes of `program` that the kernel says exited with code 0.
pub fn exited_cleanly(output: &str, program: &str) -> Vec<u64> {
    let start = format!("process '{program}' (pid ");
    output
        .lines()
        .filter_map(kernel_message)
        .filter_map(|m| m.strip_prefix(start.as_str())?.strip_suffix(") exited with code 0")?.parse().ok())
        .collect()
}

/// Each of `starts` said by the kernel, in order.
pub fn kernel_says_in_order(output: &str, starts: &[&str]) -> Result<(), String> {
    let mut from = 0;
    for start in starts {
        match kernel_says(output, start, from) {
            Some((_, end)) => from = end,
            None if kernel_says(output, start, 0).is_some() => {
                return Err(format!("the kernel said \"{start}\", but not after \"{}\"", starts[0]))
            }
            None => return Err(format!("the kernel did not say \"{start}\"")),
        }
    }
    Ok(())
}

/// The status QEMU exits with when the kernel writes `code` to isa-debug-exit.
fn exit_status(run: &Captured, status: i32) -> Result<(), String> {
    if run.status != Some(status) {
        return Err(format!("expected QEMU's exit status {status}, got: {}", crate::qemu::verdict(run.status)));
    }
    Ok(())
}

/// A figure's median (under icount every iteration of a figure costs the same).
pub fn figure(figures: &[Figure], name: &str) -> Result<u64, String> {
    crate::bench::median(figures, name).ok_or_else(|| format!("the benchmark did not report {name}"))
}

/// A figure at most `max`.
fn at_most(figures: &[Figure], name: &str, max: u64) -> Result<String, String> {
    let value = figure(figures, name)?;
    if value <= max {
        Ok(format!("{name} {value} (at most {max})"))
    } else {
        Err(format!("{name} {value}, more than {max}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines_are_told_from_user_lines() {
        assert_eq!(
            kernel_message("[    1.234567] INFO  process 'x' (pid 3) exited"),
            Some("process 'x' (pid 3) exited")
        );
        assert_eq!(kernel_message("[   12.000001] ERROR selftest x: FAILED"), Some("selftest x: FAILED"));
        assert_eq!(
            kernel_message("EXCEPTION: divide error (#DE) in kernel mode"),
            Some("EXCEPTION: divide error (#DE) in kernel mode")
        );
        assert_eq!(kernel_message("process 'x' (pid 3) exited"), None);
        assert_eq!(kernel_message("[    1.23] INFO  short stamp"), None);
        // A user program's print is a kernel line too, but its message starts with its name.
        let user = "[    1.234567] INFO  pingpong[3]: process 'pingpong' (pid 3) exited with code 0";
        assert!(kernel_says(user, "process 'pingpong'", 0).is_none());
        let both = format!("{user}\n[    1.300000] INFO  process 'pingpong' (pid 3) exited with code 0\n");
        assert!(kernel_says(&both, "process 'pingpong'", 0).is_some());
    }

    #[test]
    fn kernel_lines_in_order() {
        let out = "[    0.100000] INFO  a\n[    0.200000] INFO  b\n";
        assert!(kernel_says_in_order(out, &["a", "b"]).is_ok());
        assert!(kernel_says_in_order(out, &["b", "a"]).unwrap_err().contains("not after"));
        assert!(kernel_says_in_order(out, &["c"]).unwrap_err().contains("did not say"));
    }

    #[test]
    fn every_lab_has_its_folder_work_to_grade_and_unique_check_names() {
        for lab in all() {
            assert!(lab.start_patch().exists(), "{} has no start.patch", lab.name);
            assert!(crate::lab::labs_dir().join(lab.name).join("handout.md").exists(), "{} has no handout", lab.name);
            assert_eq!(lab.solution_patch().exists(), lab.kind == Kind::Extension, "{}: solution.patch", lab.name);
            assert!(lab.checks.iter().any(|c| c.start == OnStart::Fails), "{} grades nothing", lab.name);
            // Each protected path is in the tree, or the start adds it.
            let start = std::fs::read_to_string(lab.start_patch()).unwrap();
            for path in lab.protected {
                let added = start.contains(&format!("+++ b/{path}"));
                assert!(added || crate::artifacts::root().join(path).exists(), "{}: no {path} to protect", lab.name);
            }
            // A lab's answers are in its folder, under the one name `--official` leaves alone,
            // and the start adds them.
            for check in &lab.checks {
                if let Test::Answers(answers) = &check.test {
                    assert_eq!(answers.file, format!("labs/{}/{ANSWERS_FILE}", lab.name), "{}", lab.name);
                    assert!(
                        start.contains(&format!("+++ b/{}", answers.file)),
                        "{}: the start adds no answers",
                        lab.name
                    );
                }
            }
            let mut names: Vec<_> = lab.checks.iter().map(|c| c.name).collect();
            names.sort();
            assert!(names.windows(2).all(|w| w[0] != w[1]), "{}: check names repeat", lab.name);
        }
    }
}
