//! Built-in self-tests, chosen with `test=NAME` in the boot manifest (see `ipc::boot`).
//!
//! A test runs once the kernel is ready. One that passes logs `selftest NAME: passed` and
//! exits QEMU with success; one that fails says why and exits with failure. The fault tests
//! pass by never coming back: the report their fault produces is what `cargo xtask test` reads.

use crate::arch::{cpu, pit, qemu, trap, tsc};
use crate::mem::layout::{HEAP_BASE, HEAP_RESERVED, PAGE_SIZE};
use crate::mem::paging;
use crate::mem::{self, heap, stack};
use crate::{error, info, time};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bootloader_api::info::MemoryRegionKind;
use bootloader_api::BootInfo;
use core::hint::black_box;
use core::sync::atomic::AtomicU8;
use ipc::boot::{SelfTest, PAGE_FAULT_TEST_ADDRESS, USER_PAGE_TEST_ADDRESS};
use ipc::qemu::ExitCode;
use x86_64::structures::paging::PageTableFlags;

type Outcome = Result<(), String>;

pub fn run(test: SelfTest, boot: &BootInfo) -> ! {
    info!("selftest {}: running", test.name());
    let outcome = match test {
        SelfTest::Boot => Ok(()),
        SelfTest::Heap => heap_and_frames(),
        SelfTest::Frames => frames_come_from_usable_memory(boot),
        SelfTest::Timer => timer_rate(),
        SelfTest::LogInInterrupt => log_in_interrupt(),
        SelfTest::CpuFeatures => cpu_features(),
        SelfTest::Breakpoint => breakpoint_resumes(),
        SelfTest::PageFault => provoke(page_fault),
        SelfTest::InvalidOpcode => provoke(invalid_opcode),
        SelfTest::StackOverflow => provoke(stack_overflow),
        SelfTest::NoExecute => provoke(execute_heap),
        SelfTest::HeapGuard => provoke(read_past_heap),
        SelfTest::Panic => panic!("self-test panic"),
        SelfTest::TextWrite => provoke(write_kernel_text),
        SelfTest::DataExecute => provoke(execute_kernel_data),
        SelfTest::Smep => user_page(USER_CODE).and_then(|page| provoke_at(page, execute_at)),
        SelfTest::Smap => user_page(USER_DATA).and_then(|page| provoke_at(page, read_at)),
    };
    match outcome {
        Ok(()) => {
            info!("selftest {}: passed", test.name());
            qemu::exit(ExitCode::Success)
        }
        Err(why) => {
            error!("selftest {}: FAILED: {why}", test.name());
            qemu::exit(ExitCode::Failure)
        }
    }
}

fn check(ok: bool, why: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

fn heap_and_frames() -> Outcome {
    let (heap_before, _) = heap::usage();
    let (frames_before, _) = mem::frame_counts();
    {
        let big = alloc::vec![0xa5u8; 4 << 20];
        check(big.iter().all(|&b| b == 0xa5), || "large allocation corrupted".into())?;
        let many: Vec<Box<u64>> = (0..20_000u64).map(Box::new).collect();
        check(many.iter().enumerate().all(|(i, b)| **b == i as u64), || "small allocations corrupted".into())?;
        let map: BTreeMap<u64, String> = (0..5_000u64).map(|i| (i, format!("value {i}"))).collect();
        check(map.get(&4_321).map(String::as_str) == Some("value 4321"), || "map lookup failed".into())?;
        let (during, _) = heap::usage();
        check(during >= heap_before + (4 << 20), || format!("heap usage {during} did not grow"))?;
        let mut huge = Vec::<u8>::new();
        check(huge.try_reserve_exact(HEAP_RESERVED as usize).is_err(), || {
            "reserved more than the heap can grow to".into()
        })?;
        info!("heap: {} KiB in use at peak", during / 1024);
    }
    let (heap_after, _) = heap::usage();
    check(heap_after == heap_before, || format!("heap use {heap_before} before, {heap_after} after"))?;

    // Frames: each handed out once, writable through the physical window, all returned.
    let frames: Vec<u64> = (0..1_000).map_while(|_| mem::alloc_frame()).collect();
    check(frames.len() == 1_000, || format!("only {} frames allocated", frames.len()))?;
    for &f in &frames {
        // SAFETY: the frame was just allocated to this test and is seen through the window.
        unsafe { core::ptr::write_volatile(mem::phys_to_virt(f) as *mut u64, f) };
    }
    for &f in &frames {
        // SAFETY: as above; the value written is read back.
        let v = unsafe { core::ptr::read_volatile(mem::phys_to_virt(f) as *const u64) };
        check(v == f && f % PAGE_SIZE == 0, || format!("frame {f:#x} shared or misaligned"))?;
    }
    frames.into_iter().for_each(mem::free_frame);
    let s = stack::alloc().ok_or("no kernel stack")?;
    stack::free(s);
    let (frames_after, _) = mem::frame_counts();
    check(frames_after == frames_before, || format!("free frames {frames_before} before, {frames_after} after"))?;

    // Growth: more than the heap has free, in small blocks and one large one, comes from free
    // frames, which stay with the heap afterwards.
    let top_before = heap::top();
    {
        let (_, free) = heap::usage();
        let small: Vec<Box<[u64; 32]>> = (0..(free / 256) as u64).map(|i| Box::new([i; 32])).collect();
        let large = alloc::vec![0x5au8; 8 << 20];
        let top = heap::top();
        let (frames_now, _) = mem::frame_counts();
        check(top > top_before, || "the heap did not grow".into())?;
        // The frames the heap took, and the page tables that map them (one per 2 MiB).
        let (pages, fell) = ((top - top_before) / PAGE_SIZE, frames_after - frames_now);
        check(fell >= pages && fell - pages <= pages.div_ceil(512) + 1, || {
            format!("the heap grew {pages} pages, the free frames fell by {fell}")
        })?;
        check(small.iter().enumerate().all(|(i, b)| b.iter().all(|&v| v == i as u64)), || {
            "small blocks corrupted".into()
        })?;
        check(large.iter().all(|&b| b == 0x5a), || "the large block was corrupted".into())?;
        info!("heap: grew from {} to {} MiB", (top_before - HEAP_BASE) >> 20, (top - HEAP_BASE) >> 20);
    }
    Ok(())
}

fn frames_come_from_usable_memory(boot: &BootInfo) -> Outcome {
    let (free_before, managed) = mem::frame_counts();
    let mut taken = Vec::with_capacity(free_before as usize);
    while let Some(frame) = mem::alloc_frame() {
        taken.push(frame);
    }
    let drained = taken.len() as u64;
    taken.sort_unstable();
    let distinct = taken.windows(2).all(|w| w[0] != w[1]);
    let usable = |f: u64| {
        boot.memory_regions.iter().any(|r| r.kind == MemoryRegionKind::Usable && r.start <= f && f + PAGE_SIZE <= r.end)
    };
    let stray = taken
        .iter()
        .copied()
        .find(|&f| !usable(f) || mem::excluded().iter().any(|x| f < x.end && x.start < f + PAGE_SIZE));
    taken.iter().copied().for_each(mem::free_frame);
    info!("frames: drained {drained} of {managed}, {} ranges excluded", mem::excluded().len());
    check(drained == free_before, || format!("{drained} frames handed out, {free_before} were free"))?;
    check(distinct, || "a frame was handed out twice".into())?;
    check(stray.is_none(), || format!("frame {:#x} is not usable memory or is excluded", stray.unwrap_or(0)))?;
    check(mem::frame_counts().0 == free_before, || "frames not all returned".into())
}

fn timer_rate() -> Outcome {
    const WINDOW_MS: u64 = 500;
    let expected = time::TICK_HZ * WINDOW_MS / 1000;
    let start = time::ticks();
    pit::wait_us(WINDOW_MS * 1000);
    let got = time::ticks() - start;
    info!("timer: {got} ticks in {WINDOW_MS} ms of PIT time, {expected} expected");
    check((expected / 2..=expected * 2).contains(&got), || format!("{got} ticks, expected about {expected}"))
}

fn log_in_interrupt() -> Outcome {
    const WINDOW_MS: u64 = 300;
    let start = time::ticks();
    let until = tsc::rdtsc() + tsc::hz() * WINDOW_MS / 1000;
    time::log_every_tick(true);
    let mut lines = 0u64;
    while tsc::rdtsc() < until {
        lines += 1;
        crate::debug!("line {lines} from the interrupted code");
    }
    time::log_every_tick(false);
    let ticks = time::ticks() - start;
    info!("log: {lines} lines from the main loop, {ticks} from the timer interrupt");
    check(ticks >= time::TICK_HZ * WINDOW_MS / 1000 / 2, || format!("only {ticks} timer interrupts logged"))
}

fn cpu_features() -> Outcome {
    let off: Vec<&str> =
        cpu::protection().all().into_iter().filter(|(_, s)| *s == cpu::State::Off).map(|(n, _)| n).collect();
    check(off.is_empty(), || format!("supported but not enabled: {off:?}"))
}

fn breakpoint_resumes() -> Outcome {
    let before = trap::breakpoints();
    let (a, b, c) = (0x1111_2222_3333_4444u64, 0x5555_6666_7777_8888u64, 0x9999_aaaa_bbbb_ccccu64);
    let (ra, rb, rc): (u64, u64, u64);
    // SAFETY: int3 traps into the kernel's breakpoint handler, which logs and returns; the
    // asm declares the registers it hands over and reads back.
    unsafe {
        core::arch::asm!("int3", inout("r12") a => ra, inout("r15") b => rb, inout("rax") c => rc);
    }
    check(trap::breakpoints() == before + 1, || "breakpoint handler did not run".into())?;
    check((ra, rb, rc) == (a, b, c), || "registers changed across the trap".into())
}

fn provoke(fault: fn()) -> Outcome {
    fault();
    Err("the expected fault did not happen".into())
}

fn page_fault() {
    // SAFETY: deliberately unsound: the write must fault, and the fault ends the kernel.
    unsafe { core::ptr::write_volatile(PAGE_FAULT_TEST_ADDRESS as *mut u64, 1) };
}

fn invalid_opcode() {
    // SAFETY: ud2 raises #UD, which ends the kernel; nothing after it runs.
    unsafe { core::arch::asm!("ud2") };
}

#[allow(unconditional_recursion)]
fn stack_overflow() {
    #[inline(never)]
    fn recurse(depth: u64) -> u64 {
        let frame = black_box([depth; 32]);
        recurse(depth + 1) + frame[(depth % 32) as usize]
    }
    black_box(recurse(0));
}

fn execute_heap() {
    let code = Box::new([0xc3u8; 16]); // ret
                                       // SAFETY: deliberately unsound: heap pages are no-execute, so the call faults on fetch.
    let f: extern "C" fn() = unsafe { core::mem::transmute(code.as_ptr()) };
    f();
}

fn read_past_heap() {
    // SAFETY: deliberately unsound: nothing is mapped above the heap's top.
    black_box(unsafe { core::ptr::read_volatile(heap::top() as *const u8) });
}

fn write_kernel_text() {
    let text = write_kernel_text as fn() as *mut u8;
    // SAFETY: deliberately unsound: the kernel's text is mapped read-only and CR0.WP makes
    // that hold for the kernel, so the write faults instead of landing.
    unsafe { core::ptr::write_volatile(text, 0xcc) };
}

/// A user page the kernel might be tricked into running: present, user, executable.
const USER_CODE: PageTableFlags = PageTableFlags::PRESENT.union(PageTableFlags::USER_ACCESSIBLE);
/// A user page the kernel might be tricked into reading: present, user, writable, no-execute.
const USER_DATA: PageTableFlags = USER_CODE.union(PageTableFlags::WRITABLE).union(PageTableFlags::NO_EXECUTE);

/// A lone `ret`, in the kernel's writable data (an atomic is never put in read-only data).
static DATA_RET: [AtomicU8; 1] = [AtomicU8::new(0xc3)];

fn execute_kernel_data() {
    // SAFETY: deliberately unsound: the byte is a `ret`, a valid function body, but data
    // pages are no-execute, so the call faults on the fetch.
    let f: extern "C" fn() = unsafe { core::mem::transmute(DATA_RET.as_ptr()) };
    f();
}

/// Maps one user-accessible page at [`USER_PAGE_TEST_ADDRESS`] in the kernel's own address
/// space, holding a `ret` at its start.
fn user_page(flags: PageTableFlags) -> Result<u64, String> {
    paging::map_fresh(USER_PAGE_TEST_ADDRESS, 1, flags).map_err(|e| format!("cannot map the user page: {e:?}"))?;
    let phys = paging::translate(USER_PAGE_TEST_ADDRESS).ok_or("the user page is not mapped")?;
    // SAFETY: the frame was just mapped for this test alone; it is written through the
    // physical window, not through the user mapping.
    unsafe { core::ptr::write_volatile(mem::phys_to_virt(phys) as *mut u8, 0xc3) };
    Ok(USER_PAGE_TEST_ADDRESS)
}

fn provoke_at(address: u64, fault: fn(u64)) -> Outcome {
    fault(address);
    Err("the expected fault did not happen".into())
}

fn execute_at(address: u64) {
    // SAFETY: deliberately unsound: the page holds a `ret`, but it is a user page, and SMEP
    // makes the kernel's fetch from it fault.
    let f: extern "C" fn() = unsafe { core::mem::transmute(address) };
    f();
}

fn read_at(address: u64) {
    // SAFETY: deliberately unsound: a user page read by the kernel outside `stac`/`clac`,
    // which SMAP makes fault.
    black_box(unsafe { core::ptr::read_volatile(address as *const u8) });
}
