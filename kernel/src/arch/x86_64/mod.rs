//! Everything specific to x86-64: descriptor tables, trap entry, interrupt controllers,
//! timers, CPU features. The rest of the kernel reaches the hardware only through here.

pub mod exception;
pub mod frame;

#[cfg(target_os = "none")]
pub mod acpi;
#[cfg(target_os = "none")]
pub mod apic;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod entry;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod idt;
#[cfg(target_os = "none")]
pub mod pic;
#[cfg(target_os = "none")]
pub mod pit;
#[cfg(target_os = "none")]
pub mod qemu;
#[cfg(target_os = "none")]
pub mod switch;
#[cfg(target_os = "none")]
pub mod syscall;
#[cfg(target_os = "none")]
pub mod trap;
#[cfg(target_os = "none")]
pub mod tsc;
#[cfg(target_os = "none")]
pub mod usercopy;

/// Interrupt vectors the kernel uses. 0–31 are the CPU's exceptions.
pub mod vectors {
    /// The masked 8259s are moved here, clear of the exceptions.
    pub const PIC_BASE: u64 = 0x20;
    /// The local APIC timer.
    pub const TIMER: u64 = 0x30;
    /// The local APIC's spurious-interrupt vector (low four bits must be set on old APICs).
    pub const SPURIOUS: u64 = 0xff;

    pub const fn is_legacy_pic(vector: u64) -> bool {
        vector >= PIC_BASE && vector < PIC_BASE + 16
    }
}

/// Descriptor tables and trap entry: from here on, a fault is reported, not a reboot.
#[cfg(target_os = "none")]
pub fn init_traps() {
    let selectors = gdt::init();
    idt::init(selectors.kernel_code);
    syscall::check_selectors();
    syscall::init();
}

/// Runs `entry(arg)` on the stack whose top is `top`; the current stack is abandoned.
///
/// # Safety
/// `top` must be the 16-byte aligned top of a mapped kernel stack that nothing else uses, and
/// nothing on the current stack may be referenced after the switch.
#[cfg(target_os = "none")]
pub unsafe fn switch_stack(top: u64, entry: extern "C" fn(u64) -> !, arg: u64) -> ! {
    // SAFETY: the caller guarantees the new stack; `entry` never returns, so nothing pops the
    // (absent) frame of this function, and RBP is cleared so backtraces stop here.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {entry}",
            "ud2",
            top = in(reg) top,
            entry = in(reg) entry,
            in("rdi") arg,
            options(noreturn)
        )
    }
}
