//! Makes Seam's disk images with the `bootloader` crate's `DiskImageBuilder`.
//!
//! `seam-image KERNEL RAMDISK BIOS_IMAGE UEFI_IMAGE`; `-` for an image skips it. This is a
//! separate binary because building `bootloader` compiles its boot stages with `-Zbuild-std`,
//! which needs `RUSTC_BOOTSTRAP=1` on stable: xtask sets that for this crate's build alone,
//! so the kernel and everything else stay on plain stable Rust.

use bootloader::{BootConfig, DiskImageBuilder};
use bootloader_boot_config::LevelFilter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One of the builder's image-writing methods.
type Create = fn(&DiskImageBuilder, &Path) -> anyhow::Result<()>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kernel, ramdisk, bios, uefi] = args.as_slice() else {
        eprintln!("usage: seam-image KERNEL RAMDISK BIOS_IMAGE|- UEFI_IMAGE|-");
        return ExitCode::from(2);
    };
    let mut config = BootConfig::default();
    // The bootloader's own log would drown the kernel's on the serial console: keep its
    // warnings and errors only, and draw nothing on the (unused) frame buffer.
    config.log_level = LevelFilter::Warn;
    config.frame_buffer_logging = false;
    let mut builder = DiskImageBuilder::new(PathBuf::from(kernel));
    builder.set_ramdisk(PathBuf::from(ramdisk)).set_boot_config(&config);
    let jobs: [(&str, &String, Create); 2] =
        [("BIOS", bios, DiskImageBuilder::create_bios_image), ("UEFI", uefi, DiskImageBuilder::create_uefi_image)];
    for (kind, out, create) in jobs {
        if out.as_str() == "-" {
            continue;
        }
        if let Err(e) = create(&builder, Path::new(out)) {
            eprintln!("seam-image: cannot create the {kind} image {out}: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
