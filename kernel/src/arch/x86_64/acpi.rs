//! ACPI: what the firmware says about the machine, read with the `acpi` crate.
//!
//! The kernel needs the MADT's answers: where the local APIC is, how many CPUs there are,
//! and whether legacy 8259s are present. Tables are read through the bootloader's window on
//! physical memory, so "mapping" a table is only address arithmetic.

use crate::mem;
use acpi::{AcpiHandler, AcpiTables, InterruptModel, PhysicalMapping};
use core::ptr::NonNull;

#[derive(Clone, Copy)]
struct PhysWindow;

impl AcpiHandler for PhysWindow {
    /// # Safety
    /// As `AcpiHandler` requires: `phys..phys + size` holds a `T` (the `acpi` crate passes
    /// firmware table addresses only).
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = mem::phys_to_virt(phys as u64) as *mut T;
        // SAFETY: the physical window maps all firmware tables (it covers every memory-map
        // region and the first 4 GiB), so `virt` is mapped for `size` bytes and stays so.
        unsafe { PhysicalMapping::new(phys, NonNull::new(virt).expect("null ACPI table"), size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

pub struct Platform {
    pub local_apic: u64,
    pub cpus: usize,
    pub io_apics: usize,
    pub legacy_pic: bool,
}

/// Reads the MADT through the RSDP the bootloader found.
pub fn discover(rsdp: u64) -> Result<Platform, &'static str> {
    // SAFETY: the bootloader found this RSDP (checksum-validated by the `acpi` crate) and the
    // handler maps physical addresses through the kernel's physical window.
    let tables = unsafe { AcpiTables::from_rsdp(PhysWindow, rsdp as usize) }.map_err(|_| "invalid RSDP or RSDT")?;
    let info = tables.platform_info().map_err(|_| "invalid MADT")?;
    let InterruptModel::Apic(apic) = info.interrupt_model else {
        return Err("ACPI describes no APIC");
    };
    let cpus = info.processor_info.as_ref().map_or(1, |p| 1 + p.application_processors.len());
    Ok(Platform {
        local_apic: apic.local_apic_address,
        cpus,
        io_apics: apic.io_apics.len(),
        legacy_pic: apic.also_has_legacy_pics,
    })
}
