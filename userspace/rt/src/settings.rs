//! The client side of the settings server (`ipc::proto::settings`): typed calls instead of
//! packed words, and [`retry_once`] for a call whose server died under it.

use crate::long;
use alloc::string::String;
use core::fmt;
use ipc::cap::Slot;
use ipc::proto::settings::{self as proto, Buffers, Request, SettingsError, Value};

/// Why a settings call failed.
pub type Failed = crate::Failed<SettingsError>;

/// A value, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    Int(i64),
    Bool(bool),
    Str(String),
}

impl Setting {
    fn of(value: Value) -> Setting {
        match value {
            Value::Int(i) => Setting::Int(i),
            Value::Bool(b) => Setting::Bool(b),
            Value::Str(s) => Setting::Str(String::from(s)),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Setting::Int(i) => write!(f, "{i}"),
            Setting::Bool(b) => write!(f, "{b}"),
            Setting::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

fn call(settings: Slot, request: Request) -> Result<ipc::proto::Long, Failed> {
    let m = request.encode().ok_or(Failed::Server(SettingsError::TooLarge))?;
    long::call(settings, &m).map_err(Failed::Kernel)
}

pub fn get(settings: Slot, key: &str) -> Result<Setting, Failed> {
    let answer = call(settings, Request::Get(key))?;
    let mut b = Buffers::default();
    proto::read_value_reply(&answer, &mut b).map(Setting::of).map_err(Failed::Server)
}

pub fn set(settings: Slot, key: &str, value: Value) -> Result<(), Failed> {
    proto::read_done(&call(settings, Request::Set(key, value))?).map_err(Failed::Server)
}

pub fn del(settings: Slot, key: &str) -> Result<(), Failed> {
    proto::read_done(&call(settings, Request::Del(key))?).map_err(Failed::Server)
}

/// The `index`th key under `prefix` and its value; None past the last.
pub fn list(settings: Slot, prefix: &str, index: u64) -> Result<Option<(String, Setting)>, Failed> {
    let answer = call(settings, Request::List(prefix, index))?;
    let mut b = Buffers::default();
    let entry = proto::read_entry(&answer, &mut b).map_err(Failed::Server)?;
    Ok(entry.map(|(k, v)| (String::from(k), Setting::of(v))))
}

/// Has the notification in slot `notification` signalled whenever a key under `prefix`
/// changes (until the server restarts: then watch again).
pub fn watch(settings: Slot, prefix: &str, notification: Slot) -> Result<(), Failed> {
    crate::cap::set_send_cap(0, notification);
    proto::read_done(&call(settings, Request::Watch(prefix))?).map_err(Failed::Server)
}

/// Runs a call once more if the server died under it ([`crate::retry_once`]). Every call
/// above may run twice: a get, a set or a delete repeated leaves the same state (a repeated
/// delete may say `NotFound`), and a watch repeated is one more watch.
pub use crate::retry_once;
