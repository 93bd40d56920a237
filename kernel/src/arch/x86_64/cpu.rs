//! CPU identification, and the protection features the kernel turns on wherever they exist.
//!
//! NX lets pages be non-executable, WP makes read-only pages read-only for the kernel too,
//! SMEP stops the kernel executing user pages and SMAP stops it touching them except through
//! the checked copy routines, UMIP hides descriptor-table addresses from user mode.

use core::sync::atomic::{AtomicBool, Ordering};
use raw_cpuid::CpuId;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The CPU has it and it is enabled.
    On,
    /// The CPU has it but it is disabled: after boot this is a bug.
    Off,
    /// The CPU does not have it.
    Absent,
}

impl State {
    fn of(supported: bool, enabled: bool) -> State {
        match (supported, enabled) {
            (false, _) => State::Absent,
            (true, true) => State::On,
            (true, false) => State::Off,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            State::On => "on",
            State::Off => "OFF",
            State::Absent => "absent",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Protection {
    pub nx: State,
    pub wp: State,
    pub smep: State,
    pub smap: State,
    pub umip: State,
}

impl Protection {
    pub fn all(&self) -> [(&'static str, State); 5] {
        [("NX", self.nx), ("WP", self.wp), ("SMEP", self.smep), ("SMAP", self.smap), ("UMIP", self.umip)]
    }
}

struct Support {
    nx: bool,
    smep: bool,
    smap: bool,
    umip: bool,
}

fn support() -> Support {
    let cpuid = CpuId::new();
    let ext = cpuid.get_extended_processor_and_feature_identifiers();
    let leaf7 = cpuid.get_extended_feature_info();
    Support {
        nx: ext.is_some_and(|e| e.has_execute_disable()),
        smep: leaf7.as_ref().is_some_and(|f| f.has_smep()),
        smap: leaf7.as_ref().is_some_and(|f| f.has_smap()),
        umip: leaf7.as_ref().is_some_and(|f| f.has_umip()),
    }
}

/// Whether SMAP is on: then `stac`/`clac` exist and the user-copy routines must use them.
static SMAP_ON: AtomicBool = AtomicBool::new(false);

pub fn smap_enabled() -> bool {
    SMAP_ON.load(Ordering::Relaxed)
}

/// Turns on every protection feature the CPU has.
pub fn enable_protection() {
    let s = support();
    SMAP_ON.store(s.smap, Ordering::Relaxed);
    // SAFETY: each flag only where CPUID reports it. The kernel touches user pages only in
    // `usercopy` (SMAP), never runs them (SMEP), writes no read-only page (WP); the
    // bootloader's tables already carry NX bits, honoured once EFER.NXE is set.
    unsafe {
        if s.nx {
            Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE));
        }
        Cr0::update(|f| f.insert(Cr0Flags::WRITE_PROTECT));
        Cr4::update(|f| {
            f.set(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION, s.smep);
            f.set(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION, s.smap);
            f.set(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION, s.umip);
        });
    }
}

/// What the CPU supports against what its control registers say now.
pub fn protection() -> Protection {
    let s = support();
    let cr4 = Cr4::read();
    Protection {
        nx: State::of(s.nx, Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE)),
        wp: State::of(true, Cr0::read().contains(Cr0Flags::WRITE_PROTECT)),
        smep: State::of(s.smep, cr4.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION)),
        smap: State::of(s.smap, cr4.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION)),
        umip: State::of(s.umip, cr4.contains(Cr4Flags::USER_MODE_INSTRUCTION_PREVENTION)),
    }
}

/// Logs the CPU's name and the features the kernel cares about.
pub fn report() {
    let cpuid = CpuId::new();
    let brand = cpuid.get_processor_brand_string();
    let vendor = cpuid.get_vendor_info();
    crate::info!(
        "cpu: {} ({})",
        brand.as_ref().map_or("unknown", |b| b.as_str().trim()),
        vendor.as_ref().map_or("unknown vendor", |v| v.as_str())
    );
    let f = cpuid.get_feature_info();
    let x2apic = f.as_ref().is_some_and(|f| f.has_x2apic());
    let invariant_tsc = cpuid.get_advanced_power_mgmt_info().is_some_and(|p| p.has_invariant_tsc());
    let leaf7 = cpuid.get_extended_feature_info();
    let fsgsbase = leaf7.as_ref().is_some_and(|f| f.has_fsgsbase());
    let p = protection();
    let mut line = heapless::String::<128>::new();
    for (name, state) in p.all() {
        let _ = core::fmt::write(&mut line, format_args!("{name} {} ", state.as_str()));
    }
    crate::info!("cpu protection: {}", line.trim_end());
    crate::info!(
        "cpu features: x2APIC {}, invariant TSC {}, FSGSBASE {}",
        yes_no(x2apic),
        yes_no(invariant_tsc),
        yes_no(fsgsbase)
    );
}

const fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
