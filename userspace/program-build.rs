//! The build script every user program shares (`build = "../program-build.rs"`): link a
//! static, position-dependent executable at the address the kernel's loader expects, with
//! segments on their own pages so each gets exactly its own permissions.

fn main() {
    let args = [
        "-no-pie".to_string(),
        format!("--image-base={:#x}", ipc::layout::USER_IMAGE_BASE),
        format!("-zmax-page-size={:#x}", ipc::layout::PAGE_SIZE),
        "-zseparate-code".to_string(),
        "--build-id=none".to_string(),
    ];
    for arg in args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    // This file, found from the package's directory (a relative path would be taken from the
    // package, one or two levels below it; a path that names no file reruns the script, and
    // relinks the program, on every build).
    let package = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let script = package.ancestors().map(|dir| dir.join("program-build.rs")).find(|path| path.exists());
    println!("cargo:rerun-if-changed={}", script.expect("program-build.rs above the package").display());
}
