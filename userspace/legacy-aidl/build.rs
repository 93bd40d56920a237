//! Compiles the `.aidl` files under `aidl/` (and, for the tests, `tests-aidl/`) with
//! aidl-gen into `$OUT_DIR`.

use std::path::{Path, PathBuf};

fn aidl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("a directory").map(|e| e.expect("an entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            aidl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "aidl") {
            out.push(path);
        }
    }
}

fn compile(dir: &str, out: &str) {
    let mut paths = Vec::new();
    aidl_files(Path::new(dir), &mut paths);
    let files: Vec<(String, String)> =
        paths.iter().map(|p| (p.display().to_string(), std::fs::read_to_string(p).expect("readable"))).collect();
    let code = aidl_gen::generate(&files).unwrap_or_else(|e| panic!("{e}"));
    let to = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join(out);
    std::fs::write(to, code).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed={dir}");
}

fn main() {
    compile("aidl", "aidl.rs");
    compile("tests-aidl", "tests_aidl.rs");
}
