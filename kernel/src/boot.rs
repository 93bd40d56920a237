//! The boot sequence: from the bootloader's hand-over to a kernel that is ready.
//!
//! Order matters. Serial first (to say anything), the TSC next (to timestamp it), traps
//! before anything can fault, protection features before memory is mapped, memory before
//! anything allocates, then a guarded stack, the interrupt controllers, and the timer.

use crate::arch::{self, acpi, apic, cpu, gdt, pic, tsc};
use crate::mem::{self, layout, stack};
use crate::{info, ramdisk, selftest, task, time, warn};
use bootloader_api::BootInfo;
use ipc::boot::{
    CmdLine, SelfTest, INIT_PROGRAM, KEY_EXIT_WHEN_DONE, KEY_FASTPATH, KEY_RUN, KEY_TEST, KEY_TRACE, READY_LINE,
};
use ipc::qemu::ExitCode;
use ipc::syscall::PRIORITY_MAX;

pub fn kernel_main(boot: &'static mut BootInfo) -> ! {
    crate::console::init();
    tsc::calibrate();
    info!("Seam {} starting", env!("CARGO_PKG_VERSION"));
    arch::init_traps();
    cpu::enable_protection();
    cpu::report();

    let summary = mem::init(boot);
    let (free, managed) = mem::frame_counts();
    info!(
        "memory: {} MiB usable in {} map regions, physical window at {:#x}",
        summary.usable_bytes >> 20,
        summary.regions,
        summary.phys_offset
    );
    info!(
        "frames: {free} free of {managed} managed ({} used), {} MiB free",
        managed - free,
        (free * layout::PAGE_SIZE) >> 20
    );
    info!(
        "heap: {} MiB at {:#x}, grown from free frames when full (up to {} GiB), unmapped on both sides",
        layout::HEAP_INITIAL >> 20,
        layout::HEAP_BASE,
        layout::HEAP_RESERVED >> 30
    );

    gdt::use_guarded_ist_stacks();
    let boot_stack = stack::alloc().expect("no memory for the boot stack");
    info!("stacks: boot stack #{} at {:#x}, IST stacks guarded", boot_stack.slot, boot_stack.top);
    // SAFETY: the stack was just mapped for this purpose and is never freed; `boot` is the
    // bootloader's 'static hand-over, passed on by address, and nothing on this stack is
    // used after the switch.
    unsafe { arch::switch_stack(boot_stack.top, continue_on_kernel_stack, boot as *mut BootInfo as u64) }
}

extern "C" fn continue_on_kernel_stack(boot: u64) -> ! {
    // SAFETY: `kernel_main` passes the address of the bootloader's 'static BootInfo.
    let boot = unsafe { &*(boot as *const BootInfo) };

    let rsdp = boot.rsdp_addr.into_option().expect("the bootloader found no ACPI RSDP");
    let platform = acpi::discover(rsdp).unwrap_or_else(|e| panic!("ACPI: {e}"));
    pic::remap_and_mask();
    let mode = apic::init(platform.local_apic);
    info!(
        "interrupts: local APIC {} at {:#x} (id {}, version {:#x}), {} CPU(s), {} I/O APIC(s), 8259 {}",
        mode,
        platform.local_apic,
        apic::id(),
        apic::version(),
        platform.cpus,
        platform.io_apics,
        if platform.legacy_pic { "present, masked" } else { "absent" }
    );
    let rate = apic::calibrate_timer();
    let initial = apic::start_periodic(rate, time::TICK_HZ);
    info!(
        "timer: TSC {}.{:03} MHz, APIC timer {} kHz (/16), {} Hz tick (count {initial})",
        tsc::hz() / 1_000_000,
        tsc::hz() / 1_000 % 1_000,
        rate / 1000,
        time::TICK_HZ
    );
    x86_64::instructions::interrupts::enable();

    let cmdline = read_cmdline(boot);
    info!("{READY_LINE} in {} ms; command line: \"{cmdline}\"", tsc::micros_since_boot() / 1000);

    let cmdline = CmdLine::new(&cmdline);
    if cmdline.get(KEY_FASTPATH) == Some("off") {
        crate::ipc::fastpath::disable();
        info!("IPC fast path off ({KEY_FASTPATH}=off): every call takes the full path");
    }
    if cmdline.has(KEY_TRACE) {
        crate::trace::start();
        crate::ipc::fastpath::trace();
        info!("IPC trace on ({KEY_TRACE}): events recorded for TraceRead");
    }
    match cmdline.get(KEY_TEST) {
        Some(name) => match SelfTest::from_name(name) {
            Some(test) => selftest::run(test, boot),
            None => {
                crate::error!("unknown self-test \"{name}\"");
                arch::qemu::exit(ExitCode::Failure)
            }
        },
        None => start_user_space(cmdline),
    }
}

/// Starts `init` with every initial capability, passing on the programs the command line
/// names (`run=`, one argument each, which init starts), and becomes the idle thread.
fn start_user_space(cmdline: CmdLine) -> ! {
    let args = cmdline.all(KEY_RUN).collect::<alloc::vec::Vec<_>>().join(" ");
    let priority = PRIORITY_MAX as u8;
    match task::ops::start_init(INIT_PROGRAM, &args, priority) {
        Ok(pid) => info!("started '{INIT_PROGRAM}' (pid {pid}, priority {priority}) args \"{args}\""),
        Err(e) => warn!("cannot start '{INIT_PROGRAM}': {e}"),
    }
    task::run_idle(cmdline.has(KEY_EXIT_WHEN_DONE))
}

fn read_cmdline(boot: &'static BootInfo) -> alloc::string::String {
    let Some(addr) = boot.ramdisk_addr.into_option() else {
        return alloc::string::String::new();
    };
    // SAFETY: the bootloader mapped the ramdisk at `addr` for `ramdisk_len` bytes, and its
    // frames were excluded from the allocator, so nothing overwrites them.
    let archive = unsafe { core::slice::from_raw_parts(addr as *const u8, boot.ramdisk_len as usize) };
    info!("ramdisk: {} bytes at {addr:#x}", archive.len());
    ramdisk::init(archive);
    ramdisk::cmdline(archive).unwrap_or_else(|e| {
        warn!("ramdisk: {e}; booting with an empty command line");
        alloc::string::String::new()
    })
}
