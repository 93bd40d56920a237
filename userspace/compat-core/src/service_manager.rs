//! Handle 0: Android's ServiceManager (`cmds/servicemanager`), as binder-facts.md §4 records
//! it. Clients of Android 11 to 14 call it with their release's AIDL codes and get AIDL
//! replies (a status header first); clients of Android 10 speak the C servicemanager's
//! protocol (GET 1, CHECK 2, ADD 3, LIST 4; a lookup answered with a bare object). Either
//! way the rules are servicemanager's: a valid name (1–127 of `[A-Za-z0-9_./-]`), no null
//! binder, no adding from an app uid, a missing service is a null binder and not an error.
//! A registered binder is linked to: when its process dies, its names go.

use crate::driver::{Driver, Payload, Return, Transaction, APP_UID_START, COMPAT};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use binder::codes::{FIRST_CALL, FLAG_ONEWAY};
use binder::parcel::FlatObject;
use binder::service_manager::{is_valid_name, Method, DESCRIPTOR};
use binder::{Android, Binder, Exception, Parcel, Status, StatusCode};

pub use binder::service_manager::{DUMP_FLAG_PRIORITY_ALL, DUMP_FLAG_PRIORITY_DEFAULT, SERVICE_CALLBACK_DESCRIPTOR};

/// The death-link cookies the ServiceManager uses: this bit and a handle of compat's table.
pub const COOKIE_BIT: u64 = 1 << 63;

/// A binder held in compat's view: a handle of its table, or one of its own nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Handle(u32),
    Own(u64),
}

impl Held {
    fn binder(self) -> Binder {
        match self {
            Held::Handle(h) => Binder::Handle(h),
            Held::Own(ptr) => Binder::Local { ptr, cookie: 0 },
        }
    }

    fn from_binder(b: Binder) -> Held {
        match b {
            Binder::Handle(h) => Held::Handle(h),
            Binder::Local { ptr, .. } => Held::Own(ptr),
        }
    }
}

#[derive(Clone, Debug)]
struct Service {
    binder: Held,
    allow_isolated: bool,
    dump_priority: i32,
    /// When it was added, for the C servicemanager's list order (newest first).
    added: u64,
}

/// A registered service, as `compat services` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    pub name: String,
    /// The process that hosts it.
    pub pid: u32,
    /// Hosted by compat itself (a legacy service, or one forwarded to a native server).
    pub own: bool,
    pub allow_isolated: bool,
    pub dump_priority: i32,
}

/// The ServiceManager's state: the services by name, and who waits for which name.
#[derive(Debug, Default)]
pub struct ServiceManager {
    services: BTreeMap<String, Service>,
    callbacks: Vec<(String, Held)>,
    added: u64,
    compat_pid: u32,
}

/// What a request asks, read from its Parcel.
type Outcome = Result<Parcel, StatusCode>;

impl ServiceManager {
    pub fn new(compat_pid: u32) -> ServiceManager {
        ServiceManager { compat_pid, ..ServiceManager::default() }
    }

    /// Registers one of compat's own nodes (a service compat hosts) under `name`, replacing
    /// what was there; those waiting for the name hear of it.
    pub fn add_own(&mut self, d: &mut Driver, name: &str, ptr: u64) {
        self.add(d, name, Held::Own(ptr), false, DUMP_FLAG_PRIORITY_DEFAULT);
    }

    /// The services registered, in name order: for `compat services`.
    pub fn services(&self, d: &Driver) -> Vec<ServiceInfo> {
        self.services
            .iter()
            .map(|(name, s)| ServiceInfo {
                name: name.clone(),
                pid: self.pid_of(d, s.binder),
                own: matches!(s.binder, Held::Own(_)),
                allow_isolated: s.allow_isolated,
                dump_priority: s.dump_priority,
            })
            .collect()
    }

    /// The pointer of the compat node `name` is registered to, if it is one of compat's.
    pub fn own_ptr(&self, name: &str) -> Option<u64> {
        match self.services.get(name)?.binder {
            Held::Own(ptr) => Some(ptr),
            Held::Handle(_) => None,
        }
    }

    /// A transaction to handle 0.
    pub fn transact(&mut self, d: &mut Driver, t: &Transaction, p: &mut Parcel) -> Result<Payload, StatusCode> {
        p.enforce_interface(DESCRIPTOR).map_err(StatusCode::from)?;
        let method = Method::from_code(t.code, t.android).ok_or(StatusCode::UnknownTransaction)?;
        let mut reply = Parcel::for_android(t.android);
        // servicemanager turns background scheduling off: its objects carry flags 0.
        reply.set_background_scheduling(false);
        let reply = if t.android <= Android::V10 {
            self.legacy(d, t, method, p, reply)?
        } else {
            self.aidl(d, t, method, p, reply)?
        };
        Ok(Payload::from(reply))
    }

    /// Android 11 and later: AIDL, every reply a status header first.
    fn aidl(&mut self, d: &mut Driver, t: &Transaction, method: Method, p: &mut Parcel, mut r: Parcel) -> Outcome {
        let refuse = |mut r: Parcel, e: Exception, message: &str| {
            Status::exception(e, message).write_to(&mut r);
            Ok(r)
        };
        match method {
            Method::GetService | Method::CheckService => {
                let name = p.read_string16_nonnull()?;
                r.write_no_exception();
                r.write_strong_binder(self.services.get(&name).map(|s| s.binder.binder()));
            }
            Method::AddService => {
                let name = p.read_string16_nonnull()?;
                let binder = p.read_strong_binder()?;
                let allow_isolated = p.read_bool()?;
                let dump_priority = p.read_i32()?;
                if t.uid % 100_000 >= APP_UID_START {
                    return refuse(r, Exception::Security, "App UIDs cannot add services.");
                }
                let Some(binder) = binder else { return refuse(r, Exception::IllegalArgument, "Null binder.") };
                if !is_valid_name(&name) {
                    return refuse(r, Exception::IllegalArgument, "Invalid service name.");
                }
                let held = self.keep(d, binder);
                self.add(d, &name, held, allow_isolated, dump_priority);
                r.write_no_exception();
            }
            Method::ListServices => {
                let priority = p.read_i32()?;
                let names: Vec<&str> = self
                    .services
                    .iter()
                    .filter(|(_, s)| s.dump_priority & priority != 0)
                    .map(|(n, _)| n.as_str())
                    .collect();
                r.write_no_exception();
                r.write_string16_array(Some(&names));
            }
            Method::RegisterForNotifications => {
                let name = p.read_string16_nonnull()?;
                let callback = p.read_strong_binder()?;
                if !is_valid_name(&name) {
                    return refuse(r, Exception::IllegalArgument, "Invalid service name.");
                }
                let Some(callback) = callback else { return refuse(r, Exception::NullPointer, "Null callback.") };
                let held = self.keep(d, callback);
                self.callbacks.push((name.clone(), held));
                r.write_no_exception();
                if let Some(s) = self.services.get(&name) {
                    let service = s.binder;
                    self.notify(d, held, &name, service);
                }
            }
            Method::UnregisterForNotifications => {
                let name = p.read_string16_nonnull()?;
                let callback = p.read_strong_binder()?.map(Held::from_binder);
                let found = self.callbacks.iter().position(|(n, cb)| *n == name && Some(*cb) == callback);
                let Some(i) = found else { return refuse(r, Exception::IllegalState, "Not registered.") };
                let (_, held) = self.callbacks.remove(i);
                let_go(d, held);
                r.write_no_exception();
            }
            Method::IsDeclared => {
                // Declared means listed in a VINTF manifest; Seam has none.
                p.read_string16_nonnull()?;
                r.write_no_exception();
                r.write_bool(false);
            }
            Method::GetDeclaredInstances | Method::GetUpdatableNames => {
                p.read_string16_nonnull()?;
                r.write_no_exception();
                r.write_string16_array(Some(&[]));
            }
            Method::UpdatableViaApex => {
                p.read_string16_nonnull()?;
                r.write_no_exception();
                r.write_string16(None);
            }
            Method::GetConnectionInfo => {
                p.read_string16_nonnull()?;
                r.write_no_exception();
                r.write_parcelable(false, |_| {});
            }
            Method::RegisterClientCallback => {
                let name = p.read_string16_nonnull()?;
                let service = p.read_strong_binder()?.map(Held::from_binder);
                let _callback = p.read_strong_binder()?;
                if self.services.get(&name).map(|s| s.binder) != service || service.is_none() {
                    return refuse(r, Exception::IllegalArgument, "Service not registered with that binder.");
                }
                // Client callbacks serve lazy services, which start on demand: Seam's start
                // from the system description, so there is nothing to call back about.
                return refuse(r, Exception::UnsupportedOperation, "No lazy services on Seam.");
            }
            Method::TryUnregisterService => {
                let name = p.read_string16_nonnull()?;
                let binder = p.read_strong_binder()?.map(Held::from_binder);
                if t.uid % 100_000 >= APP_UID_START {
                    return refuse(r, Exception::Security, "App UIDs cannot unregister services.");
                }
                let Some(binder) = binder else { return refuse(r, Exception::IllegalArgument, "Null service.") };
                let Some(s) = self.services.get(&name) else {
                    return refuse(r, Exception::IllegalState, "Tried to unregister an unknown service.");
                };
                if s.binder != binder {
                    return refuse(r, Exception::IllegalState, "Tried to unregister with a different binder.");
                }
                // Clients other than compat hold it: it may not go.
                if let Held::Handle(h) = binder {
                    if d.node_of(COMPAT, h).is_some_and(|n| d.node_refs(n) > 2) {
                        return refuse(r, Exception::IllegalState, "Can't unregister, know client exists.");
                    }
                }
                if let Some(s) = self.services.remove(&name) {
                    let_go(d, s.binder);
                }
                r.write_no_exception();
            }
            Method::GetServiceDebugInfo => {
                let infos: Vec<(&str, i32)> =
                    self.services.iter().map(|(n, s)| (n.as_str(), self.pid_of(d, s.binder) as i32)).collect();
                r.write_no_exception();
                r.write_array(Some(&infos), |p, (name, pid)| {
                    p.write_parcelable(true, |p| {
                        p.write_string16(Some(name));
                        p.write_i32(*pid);
                    })
                });
            }
        }
        Ok(r)
    }

    /// Android 10 and before: the C servicemanager's four calls. A refusal is the status -1
    /// (`PERMISSION_DENIED`) in place of a reply.
    fn legacy(&mut self, d: &mut Driver, t: &Transaction, method: Method, p: &mut Parcel, mut r: Parcel) -> Outcome {
        match method {
            Method::GetService | Method::CheckService => {
                let name = p.read_string16_nonnull()?;
                match self.services.get(&name) {
                    // A bare object, flags 0x7f | ACCEPTS_FDS.
                    Some(s) => r.write_flat_object(FlatObject::new(Some(s.binder.binder()), 0x17f)),
                    None => r.write_i32(0),
                }
            }
            Method::AddService => {
                let name = p.read_string16_nonnull()?;
                let binder = p.read_strong_binder()?;
                let allow_isolated = p.read_i32()? != 0;
                let dump_priority = p.read_i32()?;
                let allowed = t.uid % 100_000 < APP_UID_START;
                let (Some(binder), true, true) = (binder, allowed, is_valid_name(&name)) else {
                    return Err(StatusCode::PermissionDenied);
                };
                let held = self.keep(d, binder);
                self.add(d, &name, held, allow_isolated, dump_priority);
                r.write_i32(0);
            }
            Method::ListServices => {
                let index = usize::try_from(p.read_i32()?).map_err(|_| StatusCode::PermissionDenied)?;
                let priority = p.read_i32()?;
                let mut matching: Vec<(&String, &Service)> =
                    self.services.iter().filter(|(_, s)| s.dump_priority & priority != 0).collect();
                matching.sort_by_key(|(_, s)| core::cmp::Reverse(s.added));
                let (name, _) = matching.get(index).ok_or(StatusCode::PermissionDenied)?;
                r.write_string16(Some(name));
            }
            _ => return Err(StatusCode::UnknownTransaction),
        }
        Ok(r)
    }

    /// A registered binder died (compat's link with cookie `cookie`): its names go, and the
    /// callbacks it was.
    pub fn binder_died(&mut self, d: &mut Driver, cookie: u64) {
        let gone = Held::Handle((cookie & !COOKIE_BIT) as u32);
        let names: Vec<String> =
            self.services.iter().filter(|(_, s)| s.binder == gone).map(|(n, _)| n.clone()).collect();
        for name in names {
            self.services.remove(&name);
            let_go(d, gone);
        }
        let before = self.callbacks.len();
        self.callbacks.retain(|(_, cb)| *cb != gone);
        for _ in self.callbacks.len()..before {
            let_go(d, gone);
        }
    }

    fn add(&mut self, d: &mut Driver, name: &str, binder: Held, allow_isolated: bool, dump_priority: i32) {
        self.added += 1;
        let service = Service { binder, allow_isolated, dump_priority, added: self.added };
        if let Some(old) = self.services.insert(name.to_string(), service) {
            let_go(d, old.binder);
        }
        let waiting: Vec<Held> = self.callbacks.iter().filter(|(n, _)| n == name).map(|(_, cb)| *cb).collect();
        for cb in waiting {
            self.notify(d, cb, name, binder);
        }
    }

    /// Keeps a binder a request carried: one more reference, and a death link.
    fn keep(&mut self, d: &mut Driver, b: Binder) -> Held {
        let held = Held::from_binder(b);
        if let Held::Handle(h) = held {
            d.acquire(h);
            let link = crate::driver::Command::LinkToDeath { handle: h, cookie: COOKIE_BIT | u64::from(h) };
            if let Some(Return::DeadBinder(cookie)) = d.command(COMPAT, false, link) {
                // Dead already: the obituary comes back at once; act on it after this call.
                d.requeue_local(Return::DeadBinder(cookie));
            }
        }
        held
    }

    /// `IServiceCallback.onRegistration(name, binder)`, oneway, in the callback's release.
    fn notify(&self, d: &mut Driver, callback: Held, name: &str, service: Held) {
        let Held::Handle(h) = callback else { return };
        let mut p = Parcel::for_android(d.host_of(COMPAT, h).map_or(Android::V14, |i| i.android));
        p.set_background_scheduling(false);
        p.write_interface_token(SERVICE_CALLBACK_DESCRIPTOR);
        p.write_string16(Some(name));
        p.write_strong_binder(Some(service.binder()));
        let payload = Payload::from(p);
        let call = crate::driver::Command::Transact { handle: h, code: FIRST_CALL, flags: FLAG_ONEWAY, payload };
        // A dead callback is dropped when its obituary arrives.
        let _ = d.command(COMPAT, false, call);
    }

    fn pid_of(&self, d: &Driver, b: Held) -> u32 {
        match b {
            Held::Own(_) => self.compat_pid,
            Held::Handle(h) => d.host_of(COMPAT, h).map_or(0, |i| i.pid),
        }
    }
}

/// Drops compat's hold on a binder it kept.
fn let_go(d: &mut Driver, b: Held) {
    if let Held::Handle(h) = b {
        let _ = d.command(COMPAT, false, crate::driver::Command::Release { handle: h, count: 1 });
    }
}
