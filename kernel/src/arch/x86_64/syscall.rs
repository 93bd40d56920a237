//! The `syscall` entry: MSR set-up, the entry stub, and the return by `sysret` (or `iretq`).
//!
//! `syscall` loads RIP from LSTAR and CS/SS from STAR, saves the user's RIP in RCX and RFLAGS
//! in R11, and clears the RFLAGS bits in SFMASK (interrupts among them) — but it does not
//! switch stacks. So the stub first does `swapgs` to reach this CPU's [`PerCpu`] area, parks
//! the user RSP there, loads the running thread's kernel stack, and pushes a [`TrapFrame`] of
//! exactly the shape the interrupt stubs push. A thread that entered by `syscall` can then be
//! switched away and resumed like any other, and a new thread can leave through the
//! interrupt return path. The dispatcher behind the stub is safe Rust (`crate::syscall`).
//!
//! For every call but `Call` and `ReplyRecv` (the fast path's), the frame's slots for the six
//! callee-saved registers are left unwritten on entry: the Rust code preserves those
//! registers, so a call that returns by its own frame finds them where they were, and the
//! stub neither saves nor restores them (12 instructions of the null call). A call that
//! leaves any other way — blocked, preempted, or by `iretq` — writes them into its frame
//! before it goes, since the thread will resume from the frame.
//!
//! NMI and machine check run on IST stacks, so they are safe anywhere in the stub; between
//! the `swapgs`es they would find the user's GS, which the kernel's trap code never reads.

use super::frame::{TrapFrame, FRAME_SIZE};
use super::gdt;
use crate::task::{message_registers, Exit};
use core::cell::UnsafeCell;
use x86_64::registers::model_specific::{Efer, EferFlags, GsBase, KernelGsBase, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::VirtAddr;

/// The vector number a syscall frame carries, beyond the 256 real ones.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// What the entry stubs reach through GS. Offsets are used by the assembly.
#[repr(C)]
pub struct PerCpu {
    /// Top of the running thread's kernel stack.
    kernel_rsp: u64,
    /// The user RSP, parked during syscall entry.
    user_rsp: u64,
}
const KERNEL_RSP: usize = core::mem::offset_of!(PerCpu, kernel_rsp);
const USER_RSP: usize = core::mem::offset_of!(PerCpu, user_rsp);

struct PerCpuCell(UnsafeCell<PerCpu>);
// SAFETY: one CPU; the kernel writes the area with interrupts disabled, and only the entry
// stub of the same CPU reads it.
unsafe impl Sync for PerCpuCell {}
static PER_CPU: PerCpuCell = PerCpuCell(UnsafeCell::new(PerCpu { kernel_rsp: 0, user_rsp: 0 }));

/// RFLAGS bits cleared on entry: interrupts stay off in the kernel, single-stepping, the
/// direction flag, alignment checks (SMAP's override), nested task and IOPL never leak in.
const ENTRY_MASK: RFlags = RFlags::INTERRUPT_FLAG
    .union(RFlags::TRAP_FLAG)
    .union(RFlags::DIRECTION_FLAG)
    .union(RFlags::ALIGNMENT_CHECK)
    .union(RFlags::NESTED_TASK)
    .union(RFlags::IOPL_HIGH)
    .union(RFlags::IOPL_LOW);

/// The RFLAGS bits user code may hold; the kernel sets IF itself.
const USER_FLAGS: u64 = RFlags::CARRY_FLAG.bits()
    | RFlags::PARITY_FLAG.bits()
    | RFlags::AUXILIARY_CARRY_FLAG.bits()
    | RFlags::ZERO_FLAG.bits()
    | RFlags::SIGN_FLAG.bits()
    | RFlags::OVERFLOW_FLAG.bits()
    | RFlags::DIRECTION_FLAG.bits()
    | RFlags::TRAP_FLAG.bits();

/// The RFLAGS a user thread gets: its arithmetic flags, interrupts on, bit 1 (always set).
pub fn user_rflags(saved: u64) -> u64 {
    (saved & USER_FLAGS) | RFlags::INTERRUPT_FLAG.bits() | 0x2
}

pub fn init() {
    let s = gdt::selectors();
    Star::write(s.user_code, s.user_data, s.kernel_code, s.kernel_data).expect("GDT order does not suit sysret");
    LStar::write(VirtAddr::new(seam_syscall_entry as *const () as u64));
    SFMask::write(ENTRY_MASK);
    // SAFETY: only SCE is added to the flags already in force; long mode and NX stay as set.
    unsafe { Efer::write(Efer::read() | EferFlags::SYSTEM_CALL_EXTENSIONS) };
    // In the kernel GS points at the per-CPU area; `swapgs` on each user entry and exit
    // trades it with the user's GS base (0) kept in KERNEL_GS_BASE meanwhile.
    GsBase::write(VirtAddr::new(PER_CPU.0.get() as u64));
    KernelGsBase::write(VirtAddr::zero());
}

/// Where the next entry from user mode puts its frame: the top of the kernel stack of the
/// thread about to run. Also sets the TSS, which the CPU uses for interrupts.
pub(crate) fn set_kernel_stack(top: u64) {
    // SAFETY: interrupts are off in the kernel, so no entry stub reads the field meanwhile.
    unsafe { (*PER_CPU.0.get()).kernel_rsp = top };
    gdt::set_kernel_stack(top);
}

extern "C" {
    fn seam_syscall_entry();
}

core::arch::global_asm!(
    ".text",
    ".global seam_syscall_entry",
    "seam_syscall_entry:",
    "  swapgs",
    "  movq %rsp, %gs:{user_rsp}",
    "  movq %gs:{kernel_rsp}, %rsp",
    // The frame, top down, as an interrupt from user mode would leave it. Its RFLAGS (in
    // %r11) are the user's as they were, as an interrupt's frame has them: user code cannot
    // clear IF or raise IOPL, and what else it may set (DF, AC, NT, TF) is its own to get
    // back, by `sysret` or `iretq` (which checks the kernel's NT, not the popped one).
    "  pushq ${user_ss}",
    "  pushq %gs:{user_rsp}",
    "  pushq %r11",
    "  pushq ${user_cs}",
    "  pushq %rcx",
    "  pushq $0",
    "  pushq ${vector}",
    // `Call` and `ReplyRecv` try the fast path first, which goes on to the general path
    // itself when it does not apply. They save every register, and never return: they go
    // on at `seam_syscall_exit` or `seam_syscall_general` (see `continue_at`).
    "  cmpq ${call}, %rax",
    "  je 2f",
    "  cmpq ${reply_recv}, %rax",
    "  je 3f",
    // Every other call. The frame leaves the six callee-saved registers' slots unwritten:
    // the Rust code keeps those registers as they are, so a return by this thread's own
    // frame needs them from nowhere. Leaving any other way, the stub writes them first.
    "  subq $32, %rsp", // r15, r14, r13, r12
    "  pushq %r11",
    "  subq $8, %rsp", // rbp
    "  pushq %rcx",
    "  subq $8, %rsp", // rbx
    "  pushq %rax; pushq %r9; pushq %r8; pushq %r10; pushq %rdx; pushq %rsi; pushq %rdi",
    "  movq %rsp, %rdi",
    "  call seam_syscall_dispatch",
    // By its own frame, with sysret: the answer is the frame's address, bits 0 and 1 clear.
    // The callee-saved registers are still in their registers; the rest is loaded from the
    // frame (loads, not pops: no instructions to step over the slots not needed).
    "  cmpq %rsp, %rax",
    "  jne 4f",
    "  movq {rdi}(%rsp), %rdi; movq {rsi}(%rsp), %rsi; movq {rdx}(%rsp), %rdx",
    "  movq {r10}(%rsp), %r10; movq {r8}(%rsp), %r8; movq {r9}(%rsp), %r9",
    "  movq {rax}(%rsp), %rax",
    "  movq {rip}(%rsp), %rcx",
    "  movq {rflags}(%rsp), %r11",
    "  movq {rsp}(%rsp), %rsp",
    "  swapgs",
    "  sysretq",
    // Any other way out: this thread will resume from its frame, which must be whole.
    "4:",
    "  movq %rbx, {rbx}(%rsp)",
    "  movq %rbp, {rbp}(%rsp)",
    "  movq %r12, {r12}(%rsp)",
    "  movq %r13, {r13}(%rsp)",
    "  movq %r14, {r14}(%rsp)",
    "  movq %r15, {r15}(%rsp)",
    "  jmp 5f",
    "2:",
    super::frame::push_general_registers!(),
    "  movq %rsp, %rdi",
    "  call seam_fast_call",
    "  ud2",
    "3:",
    super::frame::push_general_registers!(),
    "  movq %rsp, %rdi",
    "  call seam_fast_reply_recv",
    "  ud2",
    // A `Call` or `ReplyRecv` the fast path did not take: it comes back here with its whole
    // frame in %rdi and %rsp (the registers hold the fast path's values, not the user's).
    ".global seam_syscall_general",
    "seam_syscall_general:",
    "  call seam_syscall_dispatch",
    // The `ENTER_CONTEXT` bit of the answer: not a frame but another thread's kernel context
    // to enter (`task::leave`). This thread's frame is whole by now.
    "5:",
    ".global seam_syscall_leave",
    "seam_syscall_leave:",
    "  btrq ${enter_context_bit}, %rax",
    "  jnc seam_syscall_exit",
    "  movq %rax, %rdi",
    "  jmp seam_enter_context",
    // The general path and the fast path leave by here, with the exit word in %rax.
    ".global seam_syscall_exit",
    "seam_syscall_exit:",
    // The answer is the frame to leave by: this thread's, or that of the thread the call
    // switched to. Bit 0 set means it cannot be returned to with sysret.
    "  btrq $0, %rax",
    "  jc 6f",
    "  movq %rax, %rcx",
    "  movq {rdi}(%rcx), %rdi; movq {rsi}(%rcx), %rsi; movq {rdx}(%rcx), %rdx",
    "  movq {r10}(%rcx), %r10; movq {r8}(%rcx), %r8; movq {r9}(%rcx), %r9",
    "  movq {rax}(%rcx), %rax",
    // The fast path leaves by here with the message it carries already in the argument
    // registers and the status in %rax, the frame to leave by in %rcx: the rest of the
    // registers come from the frame. Loads, not pops: the slots not needed cost nothing.
    ".global seam_fast_exit",
    "seam_fast_exit:",
    "  movq {rbx}(%rcx), %rbx",
    "  movq {rbp}(%rcx), %rbp",
    "  movq {r12}(%rcx), %r12",
    "  movq {r13}(%rcx), %r13",
    "  movq {r14}(%rcx), %r14",
    "  movq {r15}(%rcx), %r15",
    "  movq {rflags}(%rcx), %r11",
    "  movq {rsp}(%rcx), %rsp",
    "  movq {rip}(%rcx), %rcx",
    "  swapgs",
    "  sysretq",
    "6:",
    "  movq %rax, %rsp",
    "  jmp seam_trap_return",
    call = const ipc::syscall::Syscall::Call as u64,
    reply_recv = const ipc::syscall::Syscall::ReplyRecv as u64,
    enter_context_bit = const crate::task::ENTER_CONTEXT.trailing_zeros(),
    rbx = const core::mem::offset_of!(TrapFrame, rbx),
    rbp = const core::mem::offset_of!(TrapFrame, rbp),
    r12 = const core::mem::offset_of!(TrapFrame, r12),
    r13 = const core::mem::offset_of!(TrapFrame, r13),
    r14 = const core::mem::offset_of!(TrapFrame, r14),
    r15 = const core::mem::offset_of!(TrapFrame, r15),
    rdi = const core::mem::offset_of!(TrapFrame, args),
    rsi = const core::mem::offset_of!(TrapFrame, args) + 8,
    rdx = const core::mem::offset_of!(TrapFrame, args) + 16,
    r10 = const core::mem::offset_of!(TrapFrame, args) + 24,
    r8 = const core::mem::offset_of!(TrapFrame, args) + 32,
    r9 = const core::mem::offset_of!(TrapFrame, args) + 40,
    rax = const core::mem::offset_of!(TrapFrame, rax),
    rip = const core::mem::offset_of!(TrapFrame, rip),
    rflags = const core::mem::offset_of!(TrapFrame, rflags),
    rsp = const core::mem::offset_of!(TrapFrame, rsp),
    user_rsp = const USER_RSP,
    kernel_rsp = const KERNEL_RSP,
    user_ss = const 0x1b, // user data selector | RPL 3, checked in `check_selectors`
    user_cs = const 0x23, // user code selector | RPL 3
    vector = const SYSCALL_VECTOR,
    options(att_syntax)
);

/// The stub hard-codes the user selectors; they must be the GDT's.
pub fn check_selectors() {
    let s = gdt::selectors();
    assert!(s.user_data.0 == 0x1b && s.user_code.0 == 0x23, "user selectors moved in the GDT: {s:?}");
}

/// Runs the system call in `frame` and returns the exit word: the address of the frame to
/// leave by, with bit 0 set when it must be left by `iretq` (`crate::task::exit_word`).
#[no_mangle]
extern "C" fn seam_syscall_dispatch(frame: &mut TrapFrame) -> u64 {
    crate::syscall::handle(frame)
}

/// `Call` by the fast path; if it does not apply, the general path takes the call.
///
/// The fast path never returns to the stub that called it, but jumps on ([`continue_at`]).
/// Each way goes on by its own [`continue_at`], so that what the fast path found reaches the
/// exit in registers.
#[no_mangle]
extern "C" fn seam_fast_call(frame: &TrapFrame) -> ! {
    fast_ipc::<true>(frame)
}

/// `ReplyRecv` by the fast path, as [`seam_fast_call`].
#[no_mangle]
extern "C" fn seam_fast_reply_recv(frame: &TrapFrame) -> ! {
    fast_ipc::<false>(frame)
}

#[inline(always)]
fn fast_ipc<const CALL: bool>(frame: &TrapFrame) -> ! {
    use crate::ipc::fastpath::{fast, route, traced, Route};
    match route(&frame.args) {
        Route::Fast => continue_at(fast::<CALL>(&frame.args), frame),
        Route::Traced => continue_at(traced::<CALL>(&frame.args), frame),
        Route::General => continue_at(None, frame),
    }
}

/// Goes on from the fast path: out of the kernel into the partner as `exit` says, or, when
/// the fast path did not apply (None), to the general path for the system call in `frame`.
#[inline(always)]
fn continue_at(exit: Option<Exit>, frame: &TrapFrame) -> ! {
    match exit {
        Some(Exit::Message { frame: to, badge }) => {
            let [a0, a1, a2, a3, a4, a5] = message_registers(badge, &frame.args);
            // SAFETY: `seam_fast_exit` leaves by `sysret` from the frame in %rcx, which the
            // fast path checked fit for it, with the argument registers and %rax as given
            // here (the message and the status): what is on this stack is not needed.
            unsafe {
                core::arch::asm!(
                    "jmp seam_fast_exit",
                    in("rcx") to, in("rax") 0u64,
                    in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3, in("r8") a4, in("r9") a5,
                    options(noreturn, att_syntax)
                )
            }
        }
        // SAFETY: the stub's way out takes the general path's answer in %rax (an exit word,
        // or a kernel context with ENTER_CONTEXT), with this thread's frame whole, as the
        // fast path's stub left it: what is on this stack above it is not needed.
        Some(Exit::Word(exit)) => unsafe {
            core::arch::asm!("jmp seam_syscall_leave", in("rax") exit, options(noreturn, att_syntax))
        },
        // SAFETY: the general path expects the frame the stub built in %rdi and %rsp, as it
        // was when the stub called the fast path; nothing above it on the stack is needed.
        None => unsafe {
            core::arch::asm!(
                "movq %rdi, %rsp",
                "jmp seam_syscall_general",
                in("rdi") frame as *const TrapFrame,
                options(noreturn, att_syntax)
            )
        },
    }
}

const _: () = assert!(FRAME_SIZE == 22 * 8);
