//! Kernel stacks, each with an unmapped guard below it, so an overflow is a clean double-fault
//! report instead of silent corruption of whatever lies underneath.

use super::layout::{StackSlot, PAGE_SIZE, STACK_SIZE, STACK_SLOTS};
use super::paging::{self, KERNEL_DATA};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// A mapped kernel stack; give it back with [`free`].
#[derive(Debug)]
pub struct KernelStack {
    pub slot: usize,
    pub top: u64,
}

/// One bit per slot, set while the slot is in use.
static USED: Mutex<[u64; STACK_SLOTS / 64]> = Mutex::new([0; STACK_SLOTS / 64]);

fn claim_slot() -> Option<usize> {
    without_interrupts(|| {
        let mut used = USED.lock();
        let (w, word) = used.iter_mut().enumerate().find(|(_, w)| **w != u64::MAX)?;
        let bit = word.trailing_ones() as usize;
        *word |= 1 << bit;
        Some(w * 64 + bit)
    })
}

fn release_slot(slot: usize) {
    without_interrupts(|| USED.lock()[slot / 64] &= !(1 << (slot % 64)));
}

pub fn alloc() -> Option<KernelStack> {
    let slot = StackSlot::new(claim_slot()?);
    match paging::map_fresh(slot.bottom, STACK_SIZE / PAGE_SIZE, KERNEL_DATA) {
        Ok(()) => Some(KernelStack { slot: slot.index, top: slot.top }),
        Err(_) => {
            release_slot(slot.index);
            None
        }
    }
}

pub fn free(stack: KernelStack) {
    let slot = StackSlot::new(stack.slot);
    paging::unmap_and_free(slot.bottom, STACK_SIZE / PAGE_SIZE);
    release_slot(stack.slot);
}
