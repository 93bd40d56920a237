//! `cargo xtask book`: the book (`docs/`) and the labs' handouts as one mdBook, built to HTML
//! in `target/book/html`. mdBook comes from crates.io, installed once under `target/tools`
//! at the version pinned here.
//!
//! The chapters are staged in `target/book/src` with the handouts after them
//! (`labs/NAME.md`), and `SUMMARY.md` gains a part listing them; `docs/` itself stays a book
//! of chapters only (`mdbook build docs` reads it as it is).

use crate::artifacts::{self, run};
use crate::labs;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The mdBook the book is built with.
const MDBOOK_VERSION: &str = "0.5.4";

/// The mdBook binary, installed under `target/tools` on first use (a few minutes).
fn mdbook() -> Result<PathBuf> {
    let root = artifacts::root().join("target").join("tools");
    let path = root.join("bin").join("mdbook");
    let installed = std::process::Command::new(&path).arg("--version").output();
    if installed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(MDBOOK_VERSION)) {
        return Ok(path);
    }
    println!("installing mdbook {MDBOOK_VERSION} under {} (first time only: a few minutes)...", root.display());
    let mut cmd = artifacts::cargo();
    cmd.args(["install", "mdbook", "--locked", "--version", MDBOOK_VERSION, "--no-default-features"])
        .args(["--features", "search", "--root"])
        .arg(&root);
    run(&mut cmd, "installing mdbook")?;
    Ok(path)
}

/// The part of `SUMMARY.md` that lists the handouts, one line per lab in the course's order.
pub fn labs_part() -> String {
    let mut part = String::from("\n# Labs\n\n");
    for lab in labs::all() {
        part.push_str(&format!("- [{}: {}](labs/{}.md)\n", lab.name, lab.title, lab.name));
    }
    part
}

/// Copies the chapters, their `book.toml` and the handouts into `staged`.
fn stage(docs: &Path, staged: &Path) -> Result<()> {
    if staged.exists() {
        fs::remove_dir_all(staged)?;
    }
    let src = staged.join("src");
    fs::create_dir_all(src.join("labs"))?;
    for entry in fs::read_dir(docs)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            fs::copy(&path, src.join(path.file_name().expect("a file")))?;
        }
    }
    let summary = fs::read_to_string(docs.join("SUMMARY.md")).context("docs/SUMMARY.md")?;
    fs::write(src.join("SUMMARY.md"), summary + &labs_part())?;
    for lab in labs::all() {
        let handout = crate::lab::labs_dir().join(lab.name).join("handout.md");
        fs::copy(&handout, src.join("labs").join(format!("{}.md", lab.name)))
            .with_context(|| format!("{}", handout.display()))?;
    }
    let config = fs::read_to_string(docs.join("book.toml")).context("docs/book.toml")?;
    let config = config.replace("src = \".\"", "src = \"src\"");
    fs::write(staged.join("book.toml"), config)?;
    Ok(())
}

pub fn run_book() -> Result<()> {
    let mdbook = mdbook()?;
    let target = artifacts::root().join("target").join("book");
    stage(&artifacts::root().join("docs"), &target)?;
    let out = target.join("html");
    let mut cmd = std::process::Command::new(mdbook);
    cmd.arg("build").arg(&target).arg("--dest-dir").arg(&out);
    run(&mut cmd, "building the book")?;
    println!("the book: {}", out.join("index.html").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chapter file is in the summary, and everything the summary names exists.
    #[test]
    fn the_summary_lists_every_chapter_and_only_chapters_that_exist() {
        let docs = artifacts::root().join("docs");
        let summary = fs::read_to_string(docs.join("SUMMARY.md")).unwrap();
        let linked: Vec<&str> =
            summary.split("](").skip(1).filter_map(|rest| rest.split_once(')')).map(|(target, _)| target).collect();
        for target in &linked {
            assert!(docs.join(target).exists(), "SUMMARY.md names {target}, which does not exist");
        }
        for entry in fs::read_dir(&docs).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".md") && name != "SUMMARY.md" {
                assert!(linked.contains(&name.as_str()), "SUMMARY.md does not list {name}");
            }
        }
    }

    #[test]
    fn staging_puts_every_handout_in_the_summary() {
        let staged = std::env::temp_dir().join(format!("seam-book-{}", std::process::id()));
        stage(&artifacts::root().join("docs"), &staged).unwrap();
        let summary = fs::read_to_string(staged.join("src").join("SUMMARY.md")).unwrap();
        for lab in labs::all() {
            assert!(summary.contains(&format!("(labs/{}.md)", lab.name)), "{}", lab.name);
            assert!(staged.join("src").join("labs").join(format!("{}.md", lab.name)).exists());
        }
        assert!(fs::read_to_string(staged.join("book.toml")).unwrap().contains("src = \"src\""));
        fs::remove_dir_all(&staged).unwrap();
    }
}
