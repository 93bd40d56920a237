//! Kernel stacks, each with an unmapped guard below it, so an overflow is a clean double-fault
//! report instead of silent corruption of whatever lies underneath.

use super::layout::{StackSlot, PAGE_SIZE, STACK_SIZE, STACK_SLOTS};
use super::paging::{self, KERNEL_DATA};
use crate::arch::frame::{TrapFrame, FRAME_SIZE};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// A mapped kernel stack; give it back with [`free`].
#[derive(Debug)]
pub struct KernelStack {
    pub slot: usize,
    pub top: u64,
}

impl KernelStack {
    /// Where the thread's user registers are saved: the [`TrapFrame`] at the top of the
    /// stack, which every entry from user mode pushes there.
    pub fn frame_address(&self) -> u64 {
        self.top - FRAME_SIZE as u64
    }

    /// The thread's saved user registers, for another thread to write (a message, a status)
    /// while this stack's thread is off the CPU.
    ///
    /// # Safety
    /// No other reference to the frame may be live: the stack's thread must be off the CPU
    /// and resume straight from the frame, so that no kernel code of its own is suspended on
    /// this stack holding a borrow of it (as a blocked system call's arguments would be).
    pub unsafe fn frame_mut(&mut self) -> &mut TrapFrame {
        // SAFETY: the frame lies in the mapped top page of the stack, 8-byte aligned (the top
        // is 16-byte aligned, the frame a multiple of 16 bytes); the caller guarantees that
        // nothing else refers to it, and `&mut self` that no other accessor does.
        unsafe { &mut *(self.frame_address() as *mut TrapFrame) }
    }
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
