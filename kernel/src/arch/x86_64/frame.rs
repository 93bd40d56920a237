//! The register frame every interrupt and exception entry saves.
//!
//! Its layout is fixed by the entry stubs in `entry.rs` and `syscall.rs`: general registers
//! pushed by the common stub, then the vector and error code pushed by the per-vector stub,
//! then what the CPU pushes itself. Everything a preempted thread needs to resume is here.
//! The six system-call argument registers come first, in the ABI's order, so the syscall
//! dispatcher reads arguments and writes results in place.

#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TrapFrame {
    /// rdi, rsi, rdx, r10, r8, r9: the argument and result registers of `ipc::syscall`.
    pub args: [u64; 6],
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rbp: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    /// The interrupt vector, pushed by the per-vector stub.
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors that have none.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    pub const fn rdi(&self) -> u64 {
        self.args[0]
    }
    pub const fn rsi(&self) -> u64 {
        self.args[1]
    }
    pub const fn rdx(&self) -> u64 {
        self.args[2]
    }
    pub const fn r10(&self) -> u64 {
        self.args[3]
    }
    pub const fn r8(&self) -> u64 {
        self.args[4]
    }
    pub const fn r9(&self) -> u64 {
        self.args[5]
    }

    /// Whether the CPU was running user code (privilege level 3) when the trap came.
    pub const fn came_from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// The assembly that pushes the general registers as the first 15 fields of a [`TrapFrame`]
/// (r15 first, so the argument registers end at the lowest addresses). The interrupt stubs
/// and the `syscall` stub's fast path use this one sequence (the stub's general path leaves
/// the callee-saved slots for later, see `syscall.rs`); `seam_trap_return` pops it in reverse.
#[cfg(target_os = "none")]
macro_rules! push_general_registers {
    () => {
        "pushq %r15; pushq %r14; pushq %r13; pushq %r12; pushq %r11; pushq %rbp; pushq %rcx; pushq %rbx;
         pushq %rax; pushq %r9; pushq %r8; pushq %r10; pushq %rdx; pushq %rsi; pushq %rdi"
    };
}
#[cfg(target_os = "none")]
pub(crate) use push_general_registers;

/// Byte offsets the assembly relies on; checked here so a field moved is a compile error.
pub const FRAME_VECTOR_OFFSET: usize = 15 * 8;
pub const FRAME_CS_OFFSET: usize = 18 * 8;
pub const FRAME_SIZE: usize = 22 * 8;
const _: () = {
    assert!(core::mem::offset_of!(TrapFrame, vector) == FRAME_VECTOR_OFFSET);
    assert!(core::mem::offset_of!(TrapFrame, cs) == FRAME_CS_OFFSET);
    assert!(core::mem::size_of::<TrapFrame>() == FRAME_SIZE);
};
