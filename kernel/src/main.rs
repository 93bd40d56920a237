//! The kernel binary: the bootloader's entry point and configuration, and nothing more.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod entry {
    use bootloader_api::config::{BootloaderConfig, Mapping};
    use bootloader_api::{entry_point, BootInfo};
    use seam_kernel::mem::layout::{BOOTLOADER_DYNAMIC, KERNEL_BASE};

    /// Read by the bootloader from the kernel file before it runs.
    pub static CONFIG: BootloaderConfig = {
        let mut config = BootloaderConfig::new_default();
        config.mappings.physical_memory = Some(Mapping::Dynamic);
        config.mappings.kernel_base = Mapping::FixedAddress(KERNEL_BASE);
        // Keep the bootloader's own mappings out of the user half and the kernel's regions.
        config.mappings.dynamic_range_start = Some(BOOTLOADER_DYNAMIC.0);
        config.mappings.dynamic_range_end = Some(BOOTLOADER_DYNAMIC.1);
        config.kernel_stack_size = 128 * 1024;
        config
    };

    entry_point!(start, config = &CONFIG);

    fn start(boot: &'static mut BootInfo) -> ! {
        seam_kernel::kernel_main(boot)
    }
}

/// Built for the host (as `cargo build` at the top level does), the kernel only says where
/// it belongs.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("seam-kernel runs inside a virtual machine: use `cargo xtask run`");
    std::process::exit(1);
}
