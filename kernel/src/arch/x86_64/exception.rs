//! CPU exceptions: their names, which push an error code, and the fault report.
//!
//! The report is what a student sees when the kernel dies, and what the in-QEMU tests check,
//! so it names the exception in words and mnemonic, decodes the error code, and says what a
//! faulting address is when it falls in a guard page. Pure formatting, host-tested.

use super::frame::TrapFrame;
use crate::mem::layout::{self, Region};
use core::fmt::{self, Write};

pub const DOUBLE_FAULT: u64 = 8;
pub const PAGE_FAULT: u64 = 14;
pub const BREAKPOINT: u64 = 3;
pub const NMI: u64 = 2;
pub const MACHINE_CHECK: u64 = 18;

/// Vectors for which the CPU pushes an error code: bit `v` set for vector `v`. The entry stubs
/// are generated from this mask.
pub const ERROR_CODE_VECTORS: u32 =
    1 << 8 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 17 | 1 << 21 | 1 << 29 | 1 << 30;

/// (name, mnemonic) of an exception vector (0–31).
pub const fn name(vector: u64) -> (&'static str, &'static str) {
    match vector {
        0 => ("divide error", "#DE"),
        1 => ("debug", "#DB"),
        2 => ("non-maskable interrupt", "NMI"),
        3 => ("breakpoint", "#BP"),
        4 => ("overflow", "#OF"),
        5 => ("bound range exceeded", "#BR"),
        6 => ("invalid opcode", "#UD"),
        7 => ("device not available", "#NM"),
        8 => ("double fault", "#DF"),
        9 => ("coprocessor segment overrun", "#CSO"),
        10 => ("invalid TSS", "#TS"),
        11 => ("segment not present", "#NP"),
        12 => ("stack-segment fault", "#SS"),
        13 => ("general protection fault", "#GP"),
        14 => ("page fault", "#PF"),
        16 => ("x87 floating-point error", "#MF"),
        17 => ("alignment check", "#AC"),
        18 => ("machine check", "#MC"),
        19 => ("SIMD floating-point exception", "#XM"),
        20 => ("virtualization exception", "#VE"),
        21 => ("control protection exception", "#CP"),
        28 => ("hypervisor injection exception", "#HV"),
        29 => ("VMM communication exception", "#VC"),
        30 => ("security exception", "#SX"),
        _ => ("reserved exception", "#??"),
    }
}

/// A page-fault error code, decoded.
pub struct PageFaultCode(pub u64);

impl fmt::Display for PageFaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let bit = |n: u32| c & (1 << n) != 0;
        f.write_str(if bit(0) { "protection violation" } else { "not present" })?;
        f.write_str(if bit(4) {
            ", instruction fetch"
        } else if bit(1) {
            ", write"
        } else {
            ", read"
        })?;
        f.write_str(if bit(2) { ", user" } else { ", supervisor" })?;
        if bit(3) {
            f.write_str(", reserved bit set")?;
        }
        if bit(5) {
            f.write_str(", protection key")?;
        }
        if bit(6) {
            f.write_str(", shadow stack")?;
        }
        Ok(())
    }
}

/// Says what a faulting address is, when the kernel's layout knows.
fn address_note(addr: u64, heap_top: u64) -> Option<Note> {
    match layout::region_of(addr, heap_top)? {
        Region::StackGuard(i) => Some(Note::StackOverflow(i)),
        Region::HeapGuard => Some(Note::Text("kernel heap guard page: access outside the heap")),
        Region::Heap => Some(Note::Text("kernel heap")),
        Region::Stack(_) => Some(Note::Text("kernel stack")),
        Region::Mmio => Some(Note::Text("device memory")),
        Region::Array(_) => Some(Note::Text("a kernel array (past its end if not mapped)")),
    }
}

enum Note {
    StackOverflow(usize),
    Text(&'static str),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::StackOverflow(i) => write!(f, "guard page of kernel stack #{i}: kernel stack overflow"),
            Note::Text(t) => f.write_str(t),
        }
    }
}

/// Writes the fatal-exception report for `frame`; `cr2` is the faulting address register,
/// `heap_top` the end of what is mapped for the kernel heap.
pub fn write_report(w: &mut impl Write, frame: &TrapFrame, cr2: u64, heap_top: u64) -> fmt::Result {
    let (name, mnemonic) = name(frame.vector);
    let mode = if frame.came_from_user() { "user" } else { "kernel" };
    writeln!(w, "EXCEPTION: {name} ({mnemonic}) in {mode} mode, vector {}", frame.vector)?;
    if frame.vector == PAGE_FAULT {
        writeln!(w, "  error code: {:#x} ({})", frame.error_code, PageFaultCode(frame.error_code))?;
    } else if ERROR_CODE_VECTORS & (1 << frame.vector.min(31)) != 0 {
        writeln!(w, "  error code: {:#x}", frame.error_code)?;
    }
    writeln!(w, "  RIP: {:#018x}  CS: {:#x}  RFLAGS: {:#x}", frame.rip, frame.cs, frame.rflags)?;
    writeln!(w, "  RSP: {:#018x}  SS: {:#x}", frame.rsp, frame.ss)?;
    // CR2 is the faulting address of the page fault, and for a double fault, of the page
    // fault that could not be delivered: that is how a stack overflow shows itself.
    if frame.vector == PAGE_FAULT || frame.vector == DOUBLE_FAULT {
        write!(w, "  CR2: {cr2:#018x}")?;
        match address_note(cr2, heap_top) {
            Some(note) => writeln!(w, " ({note})")?,
            None => writeln!(w)?,
        }
    }
    #[rustfmt::skip]
    let regs = [
        ("RAX", frame.rax), ("RBX", frame.rbx), ("RCX", frame.rcx), ("RDX", frame.rdx()),
        ("RSI", frame.rsi()), ("RDI", frame.rdi()), ("RBP", frame.rbp), ("R8 ", frame.r8()),
        ("R9 ", frame.r9()), ("R10", frame.r10()), ("R11", frame.r11), ("R12", frame.r12),
        ("R13", frame.r13), ("R14", frame.r14), ("R15", frame.r15),
    ];
    for row in regs.chunks(4) {
        w.write_str(" ")?;
        for (n, v) in row {
            write!(w, " {n}: {v:#018x}")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// The one-line report of a user process stopped by an exception: which process, which
/// exception, where, and (for a page fault) what address and why.
pub struct UserFault<'a> {
    pub name: &'a str,
    pub pid: u64,
    pub frame: &'a TrapFrame,
    pub cr2: u64,
}

impl fmt::Display for UserFault<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frame = self.frame;
        let (name, mnemonic) = name(frame.vector);
        write!(f, "process '{}' (pid {}) stopped: {name} ({mnemonic}) at rip {:#x}", self.name, self.pid, frame.rip)?;
        if frame.vector == PAGE_FAULT {
            write!(f, ", address {:#x} ({})", self.cr2, PageFaultCode(frame.error_code))
        } else if ERROR_CODE_VECTORS & (1 << frame.vector.min(31)) != 0 {
            write!(f, ", error code {:#x}", frame.error_code)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::layout::StackSlot;

    #[test]
    fn user_fault_line_names_process_exception_and_address() {
        let frame = TrapFrame { vector: 14, error_code: 0b101, cs: 0x23, rip: 0x40_1234, ..Default::default() };
        let line = UserFault { name: "fault", pid: 7, frame: &frame, cr2: 0xffff_ffff_8000_0000 }.to_string();
        assert_eq!(
            line,
            "process 'fault' (pid 7) stopped: page fault (#PF) at rip 0x401234, address 0xffffffff80000000 \
             (protection violation, read, user)"
        );
        let gp = TrapFrame { vector: 13, rip: 0x40_0010, ..Default::default() };
        let line = UserFault { name: "x", pid: 1, frame: &gp, cr2: 0 }.to_string();
        assert_eq!(line, "process 'x' (pid 1) stopped: general protection fault (#GP) at rip 0x400010, error code 0x0");
        let de = TrapFrame { vector: 0, rip: 0x40_0020, ..Default::default() };
        let line = UserFault { name: "x", pid: 1, frame: &de, cr2: 0 }.to_string();
        assert_eq!(line, "process 'x' (pid 1) stopped: divide error (#DE) at rip 0x400020");
    }

    fn report(frame: TrapFrame, cr2: u64) -> String {
        let mut s = String::new();
        write_report(&mut s, &frame, cr2, layout::HEAP_BASE + layout::HEAP_INITIAL).unwrap();
        s
    }

    #[test]
    fn page_fault_report_decodes_error_and_address() {
        let frame =
            TrapFrame { vector: 14, error_code: 0b10, cs: 0x8, rip: 0xffff_ffff_8000_1234, ..Default::default() };
        let r = report(frame, 0xdead_0000);
        assert!(r.starts_with("EXCEPTION: page fault (#PF) in kernel mode"), "{r}");
        assert!(r.contains("error code: 0x2 (not present, write, supervisor)"), "{r}");
        assert!(r.contains("RIP: 0xffffffff80001234"), "{r}");
        assert!(r.contains("CR2: 0x00000000dead0000\n"), "{r}");
    }

    #[test]
    fn instruction_fetch_and_user_mode_are_named() {
        let frame = TrapFrame { vector: 14, error_code: 0b10101, cs: 0x23, ..Default::default() };
        let r = report(frame, 0x1000);
        assert!(r.contains("in user mode"), "{r}");
        assert!(r.contains("(protection violation, instruction fetch, user)"), "{r}");
    }

    #[test]
    fn double_fault_in_a_stack_guard_is_called_an_overflow() {
        let slot = StackSlot::new(3);
        let frame = TrapFrame { vector: 8, cs: 0x8, ..Default::default() };
        let r = report(frame, slot.bottom - 8);
        assert!(r.starts_with("EXCEPTION: double fault (#DF)"), "{r}");
        assert!(r.contains("error code: 0x0"), "{r}");
        assert!(r.contains("guard page of kernel stack #3: kernel stack overflow"), "{r}");
    }

    #[test]
    fn vectors_without_error_code_do_not_print_one() {
        let r = report(TrapFrame { vector: 6, ..Default::default() }, 0);
        assert!(r.starts_with("EXCEPTION: invalid opcode (#UD)"), "{r}");
        assert!(!r.contains("error code"), "{r}");
        assert!(!r.contains("CR2"), "{r}");
    }

    #[test]
    fn error_code_mask_matches_the_manual() {
        let with: Vec<u64> = (0..32).filter(|v| ERROR_CODE_VECTORS & (1 << v) != 0).collect();
        assert_eq!(with, [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
        for v in 0..32 {
            assert_ne!(name(v).0, "", "vector {v}");
        }
    }
}
