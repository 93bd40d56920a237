//! The compat server's administration (`ipc::proto::compat`'s `SERVICE`, `ROUTES`,
//! `STATS`): what the shell's `compat` command shows. Every call here may run twice.

use crate::long;
use alloc::string::String;
use ipc::cap::Slot;
use ipc::proto::compat::{self as proto, CompatError, Stats, ADMIN_NAME_MAX};

pub use crate::retry_once;

/// Why a call to compat failed.
pub type Failed = crate::Failed<CompatError>;

fn entry<T>(
    compat: Slot,
    label: u32,
    index: u64,
    read: impl FnOnce(&ipc::proto::Long, &mut [u8; ADMIN_NAME_MAX]) -> Result<T, CompatError>,
) -> Result<Option<T>, Failed> {
    let answer = long::call(compat, &proto::admin(label, index))?;
    let mut buf = [0; ADMIN_NAME_MAX];
    match read(&answer, &mut buf) {
        Ok(v) => Ok(Some(v)),
        Err(CompatError::NoSuchEntry) => Ok(None),
        Err(e) => Err(Failed::Server(e)),
    }
}

/// The `index`th service registered with compat's ServiceManager: its name, the pid of
/// the process hosting it, and whether compat hosts it; None past the last.
pub fn service(compat: Slot, index: u64) -> Result<Option<(String, u32, bool)>, Failed> {
    entry(compat, proto::SERVICE, index, |m, buf| {
        proto::read_service_entry(m, buf).map(|e| (String::from(e.name), e.pid, e.own))
    })
}

/// The `index`th interface compat routes: its name, whether it goes to the native server,
/// and the backend calls made on each route ([legacy, native]); None past the last.
pub fn route(compat: Slot, index: u64) -> Result<Option<(String, bool, [u64; 2])>, Failed> {
    entry(compat, proto::ROUTES, index, |m, buf| {
        proto::read_route_entry(m, buf).map(|e| (String::from(e.interface), e.native, e.served))
    })
}

/// The driver's counts.
pub fn stats(compat: Slot) -> Result<Stats, Failed> {
    proto::read_stats(&long::call(compat, &proto::admin(proto::STATS, 0))?).map_err(Failed::Server)
}

/// Routes interface `iface` to the native server (`native`) or the legacy implementation
/// through settings (`compat.route.IFACE`, which the caller's entry must be allowed to
/// write), then waits, about ten seconds at most, until compat reports the route; false if
/// the setting was refused or compat did not follow.
pub fn switch(settings: Slot, compat: Slot, iface: &str, native: bool) -> bool {
    let key = alloc::format!("compat.route.{iface}");
    let to = if native { "native" } else { "legacy" };
    if crate::settings::set(settings, &key, ipc::proto::settings::Value::Str(to)).is_err() {
        return false;
    }
    for _ in 0..1000 {
        let now = (0..).map_while(|i| route(compat, i).ok().flatten()).find(|(n, _, _)| n == iface);
        if now.is_some_and(|(_, n, _)| n == native) {
            return true;
        }
        crate::sys::sleep(1);
    }
    false
}
