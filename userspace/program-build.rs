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
    println!("cargo:rerun-if-changed=../program-build.rs");
}
