//! The ServiceManager's client (libbinder's `IServiceManager`), speaking the program's
//! release: Android 11 and later through the AIDL interface (a status header before every
//! reply), Android 10 through the C servicemanager's four calls.

use super::{Call, Service, SpIBinder};
use crate::codes::FIRST_CALL;
use crate::service_manager::{Method, DESCRIPTOR, SERVICE_CALLBACK_DESCRIPTOR as SERVICE_CALLBACK};
use crate::{Android, Parcel, Status, StatusCode};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

/// Why a ServiceManager call failed: the transaction did not go through (a transport
/// status), or the ServiceManager refused it (an AIDL exception, e.g. `EX_SECURITY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    Transport(StatusCode),
    Exception(Status),
}

impl From<StatusCode> for Refused {
    fn from(s: StatusCode) -> Refused {
        Refused::Transport(s)
    }
}

impl From<crate::ParcelError> for Refused {
    fn from(e: crate::ParcelError) -> Refused {
        Refused::Transport(e.into())
    }
}

/// Told when a service is registered under a name it waits for (`IServiceCallback`).
pub trait ServiceCallback {
    fn on_registration(&self, name: &str, binder: SpIBinder);
}

/// Handle 0.
pub struct ServiceManager {
    sm: SpIBinder,
}

impl ServiceManager {
    pub(super) fn new(sm: SpIBinder) -> ServiceManager {
        ServiceManager { sm }
    }

    fn android(&self) -> Android {
        self.sm.process().android()
    }

    /// Calls `method` with the arguments `write` puts after the interface token; the reply,
    /// its status header read (from Android 11).
    fn call(&self, method: Method, write: impl FnOnce(&mut Parcel)) -> Result<Parcel, Refused> {
        let code = method.code(self.android()).ok_or(StatusCode::UnknownTransaction)?;
        let mut data = self.sm.process().parcel();
        data.write_interface_token(DESCRIPTOR);
        write(&mut data);
        let mut reply = self.sm.transact(code, &data, 0)?;
        if self.android() >= Android::V11 {
            let status = Status::read_from(&mut reply)?;
            if !status.is_ok() {
                return Err(Refused::Exception(status));
            }
        }
        Ok(reply)
    }

    /// The service registered as `name`, None if there is none (`checkService`; Seam's
    /// services are all up once the system has started, so `getService` does not wait).
    pub fn check_service(&self, name: &str) -> Result<Option<SpIBinder>, Refused> {
        self.lookup(Method::CheckService, name)
    }

    /// As [`check_service`](Self::check_service), through `getService`.
    pub fn get_service(&self, name: &str) -> Result<Option<SpIBinder>, Refused> {
        self.lookup(Method::GetService, name)
    }

    fn lookup(&self, method: Method, name: &str) -> Result<Option<SpIBinder>, Refused> {
        let mut reply = self.call(method, |p| p.write_string16(Some(name)))?;
        // Android 10's servicemanager answers a missing name with a bare 0, not an object.
        if self.android() <= Android::V10 && reply.objects().is_empty() {
            return Ok(None);
        }
        Ok(self.sm.process().read_strong_binder(&mut reply)?)
    }

    /// Registers `binder` as `name`. App uids may not (`EX_SECURITY`; on Android 10,
    /// `PERMISSION_DENIED`).
    pub fn add_service(
        &self,
        name: &str,
        binder: &SpIBinder,
        allow_isolated: bool,
        dump_priority: i32,
    ) -> Result<(), Refused> {
        let v10 = self.android() <= Android::V10;
        self.call(Method::AddService, |p| {
            p.write_string16(Some(name));
            p.write_strong_binder(Some(binder.as_binder()));
            match v10 {
                true => p.write_i32(allow_isolated.into()),
                false => p.write_bool(allow_isolated),
            }
            p.write_i32(dump_priority);
        })
        .map(drop)
    }

    /// The names registered with any of `dump_priority`'s priorities.
    pub fn list_services(&self, dump_priority: i32) -> Result<Vec<String>, Refused> {
        if self.android() <= Android::V10 {
            // One name per call, by index, until there are no more.
            let mut names = Vec::new();
            loop {
                let index = names.len() as i32;
                match self.call(Method::ListServices, |p| {
                    p.write_i32(index);
                    p.write_i32(dump_priority);
                }) {
                    Ok(mut reply) => names.push(reply.read_string16()?.unwrap_or_default()),
                    Err(Refused::Transport(StatusCode::PermissionDenied)) => return Ok(names),
                    Err(e) => return Err(e),
                }
            }
        }
        let mut reply = self.call(Method::ListServices, |p| p.write_i32(dump_priority))?;
        let names = reply.read_string16_array()?.unwrap_or_default();
        Ok(names)
    }

    /// Whether `name` is declared in a VINTF manifest (never, on Seam).
    pub fn is_declared(&self, name: &str) -> Result<bool, Refused> {
        Ok(self.call(Method::IsDeclared, |p| p.write_string16(Some(name)))?.read_bool()?)
    }

    /// Asks to hear when a service is registered as `name` (at once if it is now). The
    /// callback binder is returned, to unregister with.
    pub fn register_for_notifications(
        &self,
        name: &str,
        callback: Rc<dyn ServiceCallback>,
    ) -> Result<SpIBinder, Refused> {
        let binder = self.sm.process().add_local(Rc::new(CallbackService(callback)));
        self.call(Method::RegisterForNotifications, |p| {
            p.write_string16(Some(name));
            p.write_strong_binder(Some(binder.as_binder()));
        })?;
        Ok(binder)
    }

    pub fn unregister_for_notifications(&self, name: &str, callback: &SpIBinder) -> Result<(), Refused> {
        self.call(Method::UnregisterForNotifications, |p| {
            p.write_string16(Some(name));
            p.write_strong_binder(Some(callback.as_binder()));
        })
        .map(drop)
    }
}

/// An `IServiceCallback` binder around a [`ServiceCallback`].
struct CallbackService(Rc<dyn ServiceCallback>);

impl Service for CallbackService {
    fn descriptor(&self) -> &str {
        SERVICE_CALLBACK
    }

    fn on_transact(&self, call: &Call, code: u32, data: &mut Parcel, _: &mut Parcel) -> Result<(), StatusCode> {
        if code != FIRST_CALL {
            return Err(StatusCode::UnknownTransaction);
        }
        data.enforce_interface(SERVICE_CALLBACK)?;
        let name = data.read_string16_nonnull()?;
        let binder = call.process.read_strong_binder(data)?.ok_or(StatusCode::UnexpectedNull)?;
        self.0.on_registration(&name, binder);
        Ok(())
    }
}
