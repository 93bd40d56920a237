//! The GDT and the TSS.
//!
//! Long mode ignores most of segmentation, but the CPU still needs code and data selectors
//! for each privilege level (in the order `syscall`/`sysret` expect: kernel code, kernel data,
//! user data, user code) and a TSS, which holds the stacks the CPU switches to: one for
//! entering the kernel from user mode, and the IST stacks that the double-fault, NMI and
//! machine-check handlers always run on, so they work even when the current stack is gone.

use crate::mem::stack;
use core::cell::UnsafeCell;
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slots (1-based, as the IDT names them).
pub const IST_DOUBLE_FAULT: u8 = 1;
pub const IST_NMI: u8 = 2;
pub const IST_MACHINE_CHECK: u8 = 3;
const IST_USED: [u8; 3] = [IST_DOUBLE_FAULT, IST_NMI, IST_MACHINE_CHECK];

#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

/// I/O ports a TSS bitmap covers: `0..IO_PORTS`. `in`/`out` on ports past it always fault.
pub const IO_PORTS: usize = ipc::cap::IO_PORTS_END as usize;

/// A process's I/O permission bitmap: a clear bit lets user mode use that port.
pub type IoBitmap = [u8; IO_PORTS / 8];

/// The TSS and, right after it, the I/O permission bitmap (with the terminating 0xff byte
/// the CPU may read past the last port).
#[repr(C)]
struct TssWithMap {
    tss: TaskStateSegment,
    iomap: [u8; IO_PORTS / 8 + 1],
}

/// The TSS is read by the CPU at every trap through an IST or from user mode, and written by
/// the kernel when stacks change; it lives in a cell because the GDT holds its address.
struct TssCell(UnsafeCell<TssWithMap>);
// SAFETY: only the boot CPU exists, and the TSS is written with interrupts disabled.
unsafe impl Sync for TssCell {}

static TSS: TssCell = TssCell(UnsafeCell::new(TssWithMap {
    tss: {
        let mut tss = TaskStateSegment::new();
        tss.iomap_base = core::mem::size_of::<TaskStateSegment>() as u16;
        tss
    },
    iomap: [0xff; IO_PORTS / 8 + 1],
}));

/// Whether the TSS holds a process's bitmap (else all ports are closed).
static IO_OPEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether a process's I/O permissions are installed (a switch must close them).
#[inline(always)]
pub fn io_open() -> bool {
    IO_OPEN.load(core::sync::atomic::Ordering::Relaxed)
}

/// Installs the running process's I/O permissions: its bitmap, or none.
pub fn set_io_bitmap(bitmap: Option<&IoBitmap>) {
    use core::sync::atomic::Ordering::Relaxed;
    if bitmap.is_none() && !IO_OPEN.load(Relaxed) {
        return;
    }
    // SAFETY: one CPU, interrupts off: the CPU reads the bitmap only on a user-mode `in`/`out`,
    // which cannot run while the kernel writes it.
    let map = unsafe { &mut (*TSS.0.get()).iomap };
    match bitmap {
        Some(b) => map[..IO_PORTS / 8].copy_from_slice(b),
        None => map.fill(0xff),
    }
    IO_OPEN.store(bitmap.is_some(), Relaxed);
}
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Stacks the IST uses until the kernel can map guarded ones: exceptions must be reportable
/// from the first instruction, before memory is set up.
#[repr(C, align(16))]
struct EarlyStack([u8; 16 * 1024]);
static mut EARLY_IST: [EarlyStack; 3] = [const { EarlyStack([0; 16 * 1024]) }; 3];

pub fn init() -> Selectors {
    for (i, &ist) in IST_USED.iter().enumerate() {
        // SAFETY: only the address of the early stack is taken; the CPU alone writes to it.
        let top = unsafe { core::ptr::addr_of_mut!(EARLY_IST[i]) as u64 } + 16 * 1024;
        set_ist(ist, VirtAddr::new(top));
    }
    let (gdt, selectors) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS is a static, so it outlives the GDT; it is only mutated field by
        // field, never moved.
        let tss = gdt.append(tss_descriptor());
        (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
    });
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded and describe flat 64-bit segments of the
    // right privilege; the TSS descriptor points at a valid, static TSS.
    unsafe {
        CS::set_reg(selectors.kernel_code);
        SS::set_reg(selectors.kernel_data);
        DS::set_reg(SegmentSelector(0));
        ES::set_reg(SegmentSelector(0));
        load_tss(selectors.tss);
    }
    *selectors
}

/// The TSS descriptor, its limit stretched over the I/O bitmap that follows the TSS.
fn tss_descriptor() -> Descriptor {
    // SAFETY: the TSS is a static, so it outlives the GDT; it is only mutated field by field.
    let Descriptor::SystemSegment(low, high) = (unsafe { Descriptor::tss_segment_unchecked(TSS.0.get().cast()) })
    else {
        unreachable!("a TSS descriptor is a system segment")
    };
    let limit = (core::mem::size_of::<TssWithMap>() - 1) as u64;
    const _: () = assert!(core::mem::size_of::<TssWithMap>() < 1 << 16);
    // The limit's low 16 bits are bits 0–15 of the low word; bits 16–19 (zero here) are 48–51.
    Descriptor::SystemSegment((low & !0xffff) | limit, high)
}

/// The selectors, once [`init`] has run.
pub fn selectors() -> Selectors {
    GDT.get().expect("gdt::selectors before gdt::init").1
}

/// Sets the stack the CPU switches to when an interrupt or exception arrives in user mode:
/// the top of the running thread's kernel stack.
/// `top` is a kernel stack's, in the kernel half: canonical, so it is stored as it is.
pub(crate) fn set_kernel_stack(top: u64) {
    // SAFETY: as in `set_ist`: one CPU, and the kernel runs with interrupts disabled, so no
    // trap from user mode can read RSP0 while it changes; `top` is canonical (above).
    unsafe { (*TSS.0.get()).tss.privilege_stack_table[0] = VirtAddr::new_unsafe(top) };
}

/// Replaces the early IST stacks with kernel stacks that have guard pages below them.
pub fn use_guarded_ist_stacks() {
    for ist in IST_USED {
        let stack = stack::alloc().expect("no memory for an IST stack at boot");
        set_ist(ist, VirtAddr::new(stack.top));
    }
}

fn set_ist(ist: u8, top: VirtAddr) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        // SAFETY: one CPU, interrupts off: nothing else reads or writes the TSS meanwhile.
        // An NMI could arrive and read this entry; a 64-bit aligned store is atomic on x86.
        unsafe { (*TSS.0.get()).tss.interrupt_stack_table[ist as usize - 1] = top };
    });
}
