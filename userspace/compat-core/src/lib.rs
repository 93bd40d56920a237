//! The compatibility server's logic, host-testable; the process around it
//! (`userspace/servers/compat`) only moves messages and Frames.
//!
//! - [`driver`]: a Binder driver, as Linux's is between processes: nodes, per-client handle
//!   tables, object translation, two-way, nested and oneway transactions, death.
//! - [`service_manager`]: handle 0, Android's ServiceManager, per client release.
//! - [`wire`]: commands and returns as `ipc::proto::compat` carries them.
//! - [`Compat`]: the two together, with compat's own nodes answered at once: the built-in
//!   transactions every binder answers (PING, INTERFACE, DEBUG_PID, EXTENSION), handle 0,
//!   and the services compat hosts, through the [`Host`] the process supplies.
//!
//! Where issue 14 stands: the process (`userspace/servers/compat`) runs in the default
//! system and serves legacy programs (`cargo xtask test compat`, `compat_hostile`), learning
//! of deaths from init's `WATCH`; the client side is `binder::client`, tested here against
//! this crate over the wire (`tests/client.rs`); compat hosts `weather`
//! ([`weather::WeatherService`]) and `gallery` ([`gallery::GalleryService`], whose albums
//! move with its route), each routed live between its legacy implementation inside compat
//! and the native server (`compat.route.NAME`, the shell's `compat route`); `cargo xtask
//! bench` reports `compat_transaction`, `compat_forwarded`, `compat_ping` and
//! `compat_oneway`.
//!
//! Migration under load passes in QEMU (`compat_migration`: the legacy demo apps calling
//! while compat-migrate flips both routes 10 times and kills the native weather server
//! twice). `cargo xtask bench --peer linux` sets the compat figures beside Linux's own binder
//! driver (`linux_binder_rtt*`, `linux_binder_oneway`); `compat_transaction` is 2.45×
//! `weather_current` (book chapter 6, *What a call costs*, with the profile).
//!
//! Left for later:
//! - Kills that land mid-call in the load test: a killed native server's calls wait on its
//!   endpoint for the restart, so the apps there never see `DEAD_OBJECT` (the `compat` QEMU
//!   case and `tests/weather.rs` cover a gone backend's `DEAD_OBJECT`).
//! - The legacy stores live in compat's memory: a restart of compat loses the legacy
//!   gallery (the `store` crate, as the native servers use, would keep it), and the legacy
//!   weather answers in metric whatever `weather.units` says.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod driver;
pub mod gallery;
pub mod routes;
pub mod service_manager;
pub mod services;
pub mod weather;
pub mod wire;

use alloc::vec::Vec;
use binder::codes::{DEBUG_PID, EXTENSION, INTERFACE, PING};
use binder::{Binder, Parcel, StatusCode};
use driver::{
    ClientId, Command, Delivery, Driver, Identity, Payload, Return, Transaction, COMPAT, SERVICE_MANAGER_PTR,
};
use service_manager::{ServiceManager, COOKIE_BIT};

/// The services compat hosts itself: what the process behind [`Compat`] supplies.
pub trait Host {
    /// The interface descriptor of compat's own node `ptr`; None if it has no such node.
    fn descriptor(&self, ptr: u64) -> Option<&str>;

    /// A transaction to compat's own node `t.ptr`, its Parcel `data` (to read; `t.payload` is
    /// empty): the reply Parcel, or a status (`UNKNOWN_TRANSACTION` for a code it does not
    /// know). Handles in `data` are compat's; they are released after the call unless the host
    /// acquires them ([`Driver::acquire`]). Calls out must be oneway.
    fn transact(&mut self, d: &mut Driver, t: &Transaction, data: &mut Parcel) -> Result<Payload, StatusCode>;

    /// A binder the host linked to (with `cookie`) died.
    fn binder_died(&mut self, d: &mut Driver, cookie: u64);
}

/// The driver, the ServiceManager, and compat's own nodes answered at once.
#[derive(Debug)]
pub struct Compat {
    pub driver: Driver,
    pub sm: ServiceManager,
}

impl Compat {
    pub fn new(compat_pid: u32) -> Compat {
        Compat { driver: Driver::new(compat_pid), sm: ServiceManager::new(compat_pid) }
    }

    /// A client connects (again: an earlier process of it is gone first).
    pub fn connect(
        &mut self,
        client: ClientId,
        id: Identity,
        limits: driver::Limits,
        host: &mut (impl Host + ?Sized),
    ) -> Vec<Delivery> {
        self.driver.connect(client, id, limits);
        self.run_local(host);
        self.driver.take_deliveries()
    }

    /// A client's process is gone.
    pub fn disconnect(&mut self, client: ClientId, host: &mut (impl Host + ?Sized)) -> Vec<Delivery> {
        self.driver.disconnect(client);
        self.run_local(host);
        self.driver.take_deliveries()
    }

    /// A command from a client: every return it makes for a waiting client, the sender's own
    /// answer among them unless the sender is left waiting.
    pub fn command(
        &mut self,
        client: ClientId,
        free: bool,
        command: Command,
        host: &mut (impl Host + ?Sized),
    ) -> Vec<Delivery> {
        let answer = self.driver.command(client, free, command);
        self.run_local(host);
        let mut out = Vec::new();
        if let Some(ret) = answer {
            out.push(Delivery { to: client, ret });
        }
        out.extend(self.driver.take_deliveries());
        out
    }

    /// Registers compat's node `ptr` under `name` (made if new).
    pub fn add_own_service(&mut self, name: &str, ptr: u64, host: &mut (impl Host + ?Sized)) -> Vec<Delivery> {
        self.driver.add_local_node(ptr);
        self.sm.add_own(&mut self.driver, name, ptr);
        self.run_local(host);
        self.driver.take_deliveries()
    }

    /// Compat's node `ptr` died (the server behind it is gone): obituaries go out.
    pub fn own_node_died(&mut self, ptr: u64, host: &mut (impl Host + ?Sized)) -> Vec<Delivery> {
        self.driver.local_node_died(ptr);
        self.run_local(host);
        self.driver.take_deliveries()
    }

    /// The driver's counts, as the administration protocol reports them.
    pub fn stats(&self) -> ipc::proto::compat::Stats {
        let (nodes, handles) = self.driver.counts();
        ipc::proto::compat::Stats {
            clients: self.driver.clients().filter(|(c, _)| *c != COMPAT).count() as u64,
            nodes: nodes as u64,
            handles: handles as u64,
            oneway_queued: self.driver.oneway_depth() as u64,
            ..self.driver.stats
        }
    }

    /// Runs what compat's own code has to do for [`Host::transact`]'s oneway calls and the
    /// like, and collects the returns: after the host calls out on its own (a timer).
    pub fn settle(&mut self, host: &mut (impl Host + ?Sized)) -> Vec<Delivery> {
        self.run_local(host);
        self.driver.take_deliveries()
    }

    /// Answers everything queued for compat's own nodes.
    fn run_local(&mut self, host: &mut (impl Host + ?Sized)) {
        while let Some(ret) = self.driver.take_local() {
            match ret {
                Return::Transaction(mut t) => {
                    let result = self.own_transaction(&mut t, host);
                    release_handles(&mut self.driver, &t.payload);
                    if t.is_oneway() {
                        self.driver.free_local();
                    } else {
                        let _ = self.driver.command(COMPAT, false, Command::Reply { result, wait: false });
                    }
                }
                Return::DeadBinder(cookie) if cookie & COOKIE_BIT != 0 => self.sm.binder_died(&mut self.driver, cookie),
                Return::DeadBinder(cookie) => host.binder_died(&mut self.driver, cookie),
                // Compat calls out oneway only: no replies or statuses come back to it.
                _ => {}
            }
        }
    }

    fn own_transaction(&mut self, t: &mut Transaction, host: &mut (impl Host + ?Sized)) -> Result<Payload, StatusCode> {
        let descriptor = match t.ptr {
            SERVICE_MANAGER_PTR => Some(binder::service_manager::DESCRIPTOR),
            ptr => host.descriptor(ptr),
        };
        let Some(descriptor) = descriptor else { return Err(StatusCode::DeadObject) };
        let mut reply = Parcel::for_android(t.android);
        match t.code {
            PING => {}
            INTERFACE => reply.write_string16(Some(descriptor)),
            DEBUG_PID => reply.write_i32(self.driver.identity(COMPAT).map_or(0, |i| i.pid) as i32),
            EXTENSION => reply.write_strong_binder(None),
            _ => {
                // The Parcel read borrows the payload's bytes (the driver has checked its
                // offsets) and gives them back for the handles to be released.
                let Payload { data, offsets } = core::mem::take(&mut t.payload);
                let mut data = Parcel::from_vecs(data, offsets, t.android).ok_or(StatusCode::BadValue)?;
                let result = match t.ptr {
                    SERVICE_MANAGER_PTR => self.sm.transact(&mut self.driver, t, &mut data),
                    _ => host.transact(&mut self.driver, t, &mut data),
                };
                t.payload = Payload::from(data);
                return result;
            }
        }
        Ok(Payload::from(reply))
    }
}

/// Drops compat's delivery of each handle in a Parcel it was given (held on if acquired).
fn release_handles(d: &mut Driver, payload: &Payload) {
    for &at in &payload.offsets {
        let handle = binder::FlatObject::read(&payload.data, at).and_then(|o| o.binder().ok().flatten());
        if let Some(Binder::Handle(h)) = handle {
            if h != 0 {
                let _ = d.command(COMPAT, false, Command::Release { handle: h, count: 1 });
            }
        }
    }
}

#[cfg(test)]
mod tests;
