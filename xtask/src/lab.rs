//! `cargo xtask lab` and `cargo xtask grade`: the course's labs, started, graded, submitted
//! and verified.
//!
//! A lab is a folder `labs/NAME/` (a handout, a `start.patch` that takes main to the lab's
//! starting point, and for an extension lab a `solution.patch` on top of the start) and an
//! entry in [`crate::labs`], which says how it is graded. `lab start` makes a branch with the
//! start committed and tagged; `grade` runs the lab's checks and prints a score; `lab submit`
//! packs the work; `lab verify` proves, for every lab, that its start builds and boots and
//! fails exactly its own checks, and that the reference passes them all (seL4's tutorials do
//! the same for theirs).

mod grader;

pub use grader::{Grader, Outcome};

use crate::artifacts;
use crate::labs::{self, Check, Kind, Lab, OnStart, Test};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The folder of the labs, beside the workspace's crates.
pub fn labs_dir() -> PathBuf {
    artifacts::root().join("labs")
}

/// Runs every check of `lab`, printing each as it ends.
pub fn grade_checks(lab: &Lab, grader: &mut Grader) -> Vec<Outcome> {
    lab.checks
        .iter()
        .map(|check| {
            let outcome = grader.run(check);
            print_outcome(&outcome);
            outcome
        })
        .collect()
}

fn print_outcome(o: &Outcome) {
    let verdict = if o.passed { "OK  " } else { "FAIL" };
    let mut lines = o.detail.lines();
    let first = lines.next().unwrap_or("");
    println!("  {verdict} {:<40} {:>2}/{:<2} ({:>5.1} s)  {first}", o.name, o.score(), o.points, o.seconds);
    for line in lines {
        println!("  {line}");
    }
}

/// (score, most) of some outcomes.
pub fn score(outcomes: &[Outcome]) -> (u32, u32) {
    let most = outcomes.iter().map(|o| o.points).sum();
    (outcomes.iter().map(Outcome::score).sum(), most)
}

/// `cargo xtask grade NAME`.
pub fn grade(name: &str, json: Option<&Path>, official: bool, timeout: u64, verbose: bool) -> Result<()> {
    let lab = labs::find(name)?;
    if official {
        if std::env::var_os(OFFICIAL_ENV).is_none() {
            return official_grade(&lab, json, timeout, verbose);
        }
        println!("grading with the lab's own grader files, as tagged at {}", start_tag(lab.name));
    }
    let mut grader = Grader::new(Duration::from_secs(timeout));
    grader.verbose = verbose;
    println!("== grading lab {} ({}); nonce {}", lab.name, lab.title, grader.nonce);
    let outcomes = grade_checks(&lab, &mut grader);
    let (got, most) = score(&outcomes);
    println!("Score: {got}/{most}");
    if let Some(path) = json {
        let checks: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({"name": o.name, "points": o.points, "passed": o.passed, "score": o.score(),
                       "detail": o.detail, "seconds": (o.seconds * 10.0).round() / 10.0})
            })
            .collect();
        let report = json!({"lab": lab.name, "score": got, "max_score": most, "nonce": grader.nonce,
                            "commit": git_output(&["rev-parse", "HEAD"]).unwrap_or_default().trim(), "checks": checks});
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if got < most {
        std::process::exit(1);
    }
    Ok(())
}

/// Set while the grader re-runs itself from the restored files of `--official`.
const OFFICIAL_ENV: &str = "SEAM_GRADE_OFFICIAL";

/// The tag `lab start` puts on a lab's starting point.
pub fn start_tag(name: &str) -> String {
    format!("lab/{name}/start")
}

/// `grade --official`: puts the grader's own files back as they were at the lab's start
/// (the checks, the programs they start, the lab's folder), then runs the grader built from
/// them, so that editing the grader gains nothing.
fn official_grade(lab: &Lab, json: Option<&Path>, timeout: u64, verbose: bool) -> Result<()> {
    let tag = start_tag(lab.name);
    git(&["rev-parse", "--verify", "--quiet", &format!("refs/tags/{tag}")])
        .with_context(|| format!("no tag {tag}: was the lab started with `cargo xtask lab start {}`?", lab.name))?;
    // The lab's folder as tagged, but for the student's answers, if the lab has them.
    let folder = git_output(&["ls-tree", "-r", "--name-only", &tag, "--", &format!("labs/{}", lab.name)])?;
    let mut paths: Vec<&str> = folder.lines().filter(|p| !p.ends_with(labs::ANSWERS_FILE)).collect();
    paths.extend(lab.protected);
    let mut args = vec!["checkout", tag.as_str(), "--"];
    args.extend(paths.iter().copied());
    git(&args)?;
    println!("restored from {tag}: {} (`git diff --cached` shows what changed)", paths.join(", "));
    let mut cmd = artifacts::cargo();
    cmd.args(["xtask", "grade", lab.name, "--official", "--timeout", &timeout.to_string()]).env(OFFICIAL_ENV, "1");
    if let Some(path) = json {
        cmd.arg("--json").arg(path);
    }
    if verbose {
        cmd.arg("--verbose");
    }
    let status = cmd.status().context("cannot run the restored grader")?;
    std::process::exit(status.code().unwrap_or(1));
}

/// Runs git in the workspace; fails unless it succeeds.
pub fn git(args: &[&str]) -> Result<()> {
    git_output(args).map(drop)
}

/// What git prints, if it succeeds.
pub fn git_output(args: &[&str]) -> Result<String> {
    let out = Command::new("git").args(args).current_dir(artifacts::root()).output().context("cannot run git")?;
    if !out.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo xtask lab list`.
pub fn list() -> Result<()> {
    println!("{:<12} {:<10} {:>6} {:>7}  TITLE", "LAB", "KIND", "CHECKS", "POINTS");
    for lab in labs::all() {
        let kind = match lab.kind {
            Kind::Removal => "removal",
            Kind::Extension => "extension",
        };
        let points: u32 = lab.checks.iter().map(|c| c.points).sum();
        println!("{:<12} {:<10} {:>6} {:>7}  {}", lab.name, kind, lab.checks.len(), points, lab.title);
    }
    println!("\nStart one with `cargo xtask lab start NAME`; its handout is labs/NAME/handout.md.");
    Ok(())
}

/// Whether git's tree has changes to tracked files.
fn dirty() -> Result<bool> {
    Ok(!git_output(&["status", "--porcelain", "--untracked-files=no"])?.trim().is_empty())
}

/// `cargo xtask lab start NAME`: a branch `lab/NAME` from here with the start applied and
/// committed, tagged `lab/NAME/start`.
pub fn start(name: &str) -> Result<()> {
    let lab = labs::find(name)?;
    if dirty()? {
        bail!("the tree has uncommitted changes: commit or stash them first (`git status`)");
    }
    let branch = format!("lab/{name}");
    let tag = start_tag(name);
    if git(&["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")]).is_ok() {
        bail!("branch {branch} exists already: `git checkout {branch}` to go on with it");
    }
    if git(&["rev-parse", "--verify", "--quiet", &format!("refs/tags/{tag}")]).is_ok() {
        bail!("tag {tag} exists already (from an earlier start): `git tag -d {tag}` to start again");
    }
    let patch = lab.start_patch();
    git(&["checkout", "-b", &branch])?;
    let applied = git(&["apply", "--3way", "--index", &patch.to_string_lossy()]);
    if let Err(e) = applied {
        // Leave things as they were: back to the branch we came from, the new one gone.
        let _ = git(&["reset", "--hard", "--quiet"]);
        let _ = git(&["checkout", "--quiet", "-"]);
        let _ = git(&["branch", "--quiet", "-D", &branch]);
        return Err(e.context(format!("the start of lab {name} does not apply to this tree")));
    }
    git(&["commit", "--quiet", "--allow-empty", "-m", &format!("lab {name}: the starting point")])?;
    git(&["tag", &tag])?;
    println!("On branch {branch}, at the lab's starting point (tagged {tag}).");
    println!("Read labs/{name}/handout.md; grade your work with `cargo xtask grade {name}`;");
    println!("when done, `cargo xtask lab submit {name}`.");
    Ok(())
}

/// `cargo xtask lab submit NAME`: `target/seam/lab-NAME.tar.gz` (the tree as committed, with
/// `changes.diff`, the work against the start, and `time.txt`) for a course's platform.
pub fn submit(name: &str) -> Result<()> {
    let lab = labs::find(name)?;
    let tag = start_tag(lab.name);
    git(&["rev-parse", "--verify", "--quiet", &format!("refs/tags/{tag}")])
        .with_context(|| format!("no tag {tag}: start the lab with `cargo xtask lab start {name}` first"))?;
    if dirty()? {
        println!("warning: uncommitted changes are not in the submission (commit them, then submit again)");
    }
    let time = labs_dir().join(name).join("time.txt");
    let hours = std::fs::read_to_string(&time).unwrap_or_default();
    if hours.trim().parse::<f64>().is_err() {
        println!("warning: labs/{name}/time.txt should hold the hours the lab took you, as a number");
    }
    let out_dir = artifacts::root().join("target").join("seam");
    std::fs::create_dir_all(&out_dir)?;
    let diff = out_dir.join(format!("lab-{name}.diff"));
    std::fs::write(&diff, git_output(&["diff", &tag, "HEAD"])?)?;
    let archive = out_dir.join(format!("lab-{name}.tar.gz"));
    let prefix = format!("--prefix=lab-{name}/");
    let add_diff = format!("--add-file={}", diff.display());
    let mut args = vec!["archive", "--format=tar.gz", prefix.as_str(), add_diff.as_str()];
    let add_time = format!("--add-file={}", time.display());
    if time.exists() {
        args.push(&add_time);
    }
    let out = format!("--output={}", archive.display());
    args.extend([out.as_str(), "HEAD"]);
    git(&args)?;
    let changed = git_output(&["diff", "--shortstat", &tag, "HEAD"])?;
    println!("{} ({})", archive.display(), changed.trim());
    println!("It holds the tree at HEAD, lab-{name}.diff (your work against {tag}) and time.txt.");
    Ok(())
}

/// A lab's patches applied in place, taken out again when dropped (also on an error).
struct Applied {
    patches: Vec<PathBuf>,
}

impl Applied {
    fn apply(patches: &[PathBuf]) -> Result<Applied> {
        let mut applied = Applied { patches: Vec::new() };
        for patch in patches {
            let path = patch.to_string_lossy();
            git(&["apply", "--check", &path]).with_context(|| format!("{} does not apply", patch.display()))?;
            git(&["apply", &path])?;
            applied.patches.push(patch.clone());
        }
        Ok(applied)
    }
}

impl Drop for Applied {
    fn drop(&mut self) {
        for patch in self.patches.iter().rev() {
            if let Err(e) = git(&["apply", "-R", &patch.to_string_lossy()]) {
                eprintln!(
                    "could not take {} out again: {e:#}; do it by hand: git apply -R {}",
                    patch.display(),
                    patch.display()
                );
            }
        }
    }
}

/// Seconds a boot of `lab verify` may take: a reference's boots take about 5 s; a start that
/// hangs (a revoke that never happens) is cut off here.
pub const VERIFY_TIMEOUT: u64 = 20;

/// The basic boot every start must pass: init alone, without a system.
const BOOT_CASE: &str = "init";

/// What `lab verify` found for one lab.
pub struct Verified {
    pub lab: &'static str,
    pub start: (u32, u32),
    pub reference: (u32, u32),
    pub seconds: f64,
    /// Why the lab is not as it should be; empty if it is.
    pub faults: Vec<String>,
}

/// Whether a lab's patches change nothing but files in `labs/NAME/` (an answers file): its
/// reference builds exactly as this tree does.
fn only_its_folder(lab: &Lab) -> bool {
    let folder = format!("labs/{}/", lab.name);
    [lab.start_patch(), lab.solution_patch()].iter().all(|patch| {
        std::fs::read_to_string(patch).is_ok_and(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("+++ b/").or_else(|| l.strip_prefix("--- a/")))
                .all(|path| path.starts_with(&folder))
        })
    })
}

/// `cargo xtask lab verify [NAMES]`: every lab's start, then the references.
/// `passed`: user cases that passed on this tree just now (in `cargo xtask test`), which the
/// removal labs' references, this tree too, take instead of booting them again.
pub fn verify(names: &[String], timeout: u64, passed: &[&'static str]) -> Result<Vec<Verified>> {
    let labs: Vec<Lab> =
        if names.is_empty() { labs::all() } else { names.iter().map(|n| labs::find(n)).collect::<Result<_>>()? };
    for lab in &labs {
        if git(&["apply", "-R", "--check", &lab.start_patch().to_string_lossy()]).is_ok() {
            bail!(
                "the start of lab {} is applied to this tree already: `git apply -R labs/{}/start.patch`",
                lab.name,
                lab.name
            );
        }
    }
    let timeout = Duration::from_secs(timeout);
    let mut results = Vec::new();
    for lab in &labs {
        let started = Instant::now();
        println!("== lab verify {}: the start", lab.name);
        let (start, faults) = match verify_start(lab, timeout) {
            Ok(found) => found,
            Err(e) => ((0, 0), vec![format!("{e:#}")]),
        };
        let seconds = started.elapsed().as_secs_f64();
        results.push(Verified { lab: lab.name, start, reference: (0, 0), seconds, faults });
    }
    // Removal labs' reference is this tree: one build for all of them, made before any
    // extension lab's patches build over it (a builder keeps the kernel's path, not its bytes).
    // An extension lab whose patches touch only its own folder (answers, not code) is graded
    // on that build too, after them.
    let mut grader = Grader::new(timeout);
    grader.suite_passed = passed.to_vec();
    let shares_the_build: Vec<bool> = labs.iter().map(|l| l.kind == Kind::Removal || only_its_folder(l)).collect();
    let mut order: Vec<usize> = (0..labs.len()).collect();
    order.sort_by_key(|&i| (labs[i].kind == Kind::Extension, !shares_the_build[i]));
    for i in order {
        let (lab, result) = (&labs[i], &mut results[i]);
        let started = Instant::now();
        println!("== lab verify {}: the reference", lab.name);
        let mut own = Grader::new(timeout);
        let graded_by = if shares_the_build[i] { &mut grader } else { &mut own };
        let outcomes = match lab.kind {
            Kind::Removal => Ok(grade_checks(lab, graded_by)),
            Kind::Extension => Applied::apply(&[lab.start_patch(), lab.solution_patch()]).map(|applied| {
                let outcomes = grade_checks(lab, graded_by);
                drop(applied);
                outcomes
            }),
        };
        match outcomes {
            Ok(outcomes) => {
                result.reference = score(&outcomes);
                let failed = outcomes.iter().filter(|o| !o.passed);
                result.faults.extend(failed.map(|o| format!("the reference fails {}", o.name)));
            }
            Err(e) => result.faults.push(format!("{e:#}")),
        }
        result.seconds += started.elapsed().as_secs_f64();
    }
    Ok(results)
}

/// Applies a lab's start and grades it: it must boot, fail every check marked as the lab's
/// work and pass every other.
fn verify_start(lab: &Lab, timeout: Duration) -> Result<((u32, u32), Vec<String>)> {
    let _applied = Applied::apply(&[lab.start_patch()])?;
    let mut grader = Grader::new(timeout);
    let boot = Check { name: "boots (user case init)", points: 0, start: OnStart::Passes, test: Test::Case(BOOT_CASE) };
    let mut faults = Vec::new();
    let booted = grader.run(&boot);
    print_outcome(&booted);
    if !booted.passed {
        faults.push("the start does not boot".to_string());
    }
    let outcomes = grade_checks(lab, &mut grader);
    // A start's failing proptest leaves its case behind for the student to rerun; verify's
    // tree is to be left as it was found.
    git(&["clean", "-fdq", "--", ":(glob)**/proptest-regressions/**"])?;
    for (check, outcome) in lab.checks.iter().zip(&outcomes) {
        match (check.start, outcome.passed) {
            (OnStart::Fails, true) => faults.push(format!("the start passes {}, which is the lab's work", check.name)),
            (OnStart::Passes, false) => faults.push(format!("the start fails {}, which it should pass", check.name)),
            _ => {}
        }
    }
    Ok((score(&outcomes), faults))
}

/// Prints what [`verify`] found, one line per lab; true if every lab is as it should be.
pub fn report(results: &[Verified]) -> bool {
    println!("\n{:<12} {:>8} {:>10} {:>8}  verdict", "LAB", "START", "REFERENCE", "TIME");
    for r in results {
        let verdict = if r.faults.is_empty() { "ok".to_string() } else { format!("FAILED: {}", r.faults.join("; ")) };
        println!(
            "{:<12} {:>8} {:>10} {:>7.0}s  {verdict}",
            r.lab,
            format!("{}/{}", r.start.0, r.start.1),
            format!("{}/{}", r.reference.0, r.reference.1),
            r.seconds
        );
    }
    results.iter().all(|r| r.faults.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answer_labs_share_the_removal_labs_build() {
        let sharing: Vec<&str> = labs::all()
            .into_iter()
            .filter(|l| l.kind == Kind::Extension && only_its_folder(l))
            .map(|l| l.name)
            .collect();
        assert_eq!(sharing, ["ipccost"]);
    }
}
