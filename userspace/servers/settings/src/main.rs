//! `settings`, the settings server: typed values under dotted keys
//! (`ipc::proto::settings`). Anyone given the service reads and watches; a program writes
//! only under the key prefixes its entry in the system description lists (`writes`), which
//! this server reads from the boot archive, as the name server does; init may write any key.
//!
//! Nothing acknowledged is lost when it crashes: every change is appended to its store (a
//! Frame init keeps, `store` crate) before the answer goes out, and a restarted instance
//! replays the store. When the store's half is full, it is compacted to the values as they
//! are. Watches are not kept: a client that watched re-registers after a restart.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use ipc::cap::Slot;
use ipc::proto::settings::record::{self, Change};
use ipc::proto::settings::{self as proto, Buffers, Request, SettingsError, Value};
use ipc::proto::Long;
use ipc::system::{self, slots, ProgramNumber};
use rt::{cap, ipc, long, println, sys};
use store::Store;

rt::main!(main);

/// A value as the server keeps it.
#[derive(Clone)]
enum Owned {
    Int(i64),
    Bool(bool),
    Str(String),
}

impl Owned {
    fn of(value: Value) -> Owned {
        match value {
            Value::Int(i) => Owned::Int(i),
            Value::Bool(b) => Owned::Bool(b),
            Value::Str(s) => Owned::Str(String::from(s)),
        }
    }

    fn as_value(&self) -> Value<'_> {
        match self {
            Owned::Int(i) => Value::Int(*i),
            Owned::Bool(b) => Value::Bool(*b),
            Owned::Str(s) => Value::Str(s),
        }
    }
}

struct Settings {
    values: BTreeMap<String, Owned>,
    /// Program `n` of the description may write under `writes[n - 1]`.
    writes: Vec<Vec<String>>,
    /// (prefix, notification) of each watch.
    watchers: Vec<(String, Slot)>,
    log: Store<'static>,
}

fn main(_: rt::Args) -> u64 {
    let mut settings = match Settings::start() {
        Ok(s) => s,
        Err(e) => {
            println!("settings: {e}");
            return 1;
        }
    };
    let failed = long::serve(slots::SERVICE, |r| {
        let mut buffers = Buffers::default();
        Some(match (system::caller(r.badge), proto::decode(r.message, &mut buffers)) {
            (None, _) => proto::refuse(SettingsError::Denied),
            (_, Err(e)) => proto::refuse(e),
            (Some(client), Ok(req)) => settings.handle(client, req, r.incoming).unwrap_or_else(proto::refuse),
        })
    });
    println!("settings: receive failed: {failed}");
    1
}

impl Settings {
    /// Reads who may write what from the description, and the values from the store.
    fn start() -> Result<Settings, &'static str> {
        let text = rt::system::description()?;
        let writes = system::programs(&text).flatten().map(|p| p.writes.items().map(String::from).collect()).collect();
        let mem = rt::store::map().map_err(|_| "no store (give it one: store = \"64 KiB\")")?;
        let log = Store::open(mem).map_err(|_| "the store cannot be opened")?;
        if log.dropped > 0 {
            println!("settings: dropped a write torn by the last crash");
        }
        let mut values = BTreeMap::new();
        for r in log.records() {
            match record::decode(r) {
                Some(Change::Set(key, value)) => {
                    values.insert(String::from(key), Owned::of(value));
                }
                Some(Change::Del(key)) => {
                    values.remove(key);
                }
                None => println!("settings: a record it cannot read (skipped)"),
            }
        }
        Ok(Settings { values, writes, watchers: Vec::new(), log })
    }

    fn may_write(&self, client: ProgramNumber, key: &str) -> bool {
        client == 0
            || usize::from(client)
                .checked_sub(1)
                .and_then(|i| self.writes.get(i))
                .is_some_and(|prefixes| prefixes.iter().any(|p| key.starts_with(p.as_str())))
    }

    fn handle(&mut self, client: ProgramNumber, request: Request, incoming: Slot) -> Result<Long, SettingsError> {
        match request {
            Request::Get(key) => {
                let value = self.values.get(key).ok_or(SettingsError::NotFound)?;
                Ok(proto::answer(None, value.as_value()))
            }
            Request::List(prefix, index) => {
                let mut under = self.values.iter().filter(|(k, _)| k.starts_with(prefix));
                let (key, value) =
                    under.nth(usize::try_from(index).unwrap_or(usize::MAX)).ok_or(SettingsError::NotFound)?;
                Ok(proto::answer(Some(key), value.as_value()))
            }
            Request::Set(key, value) => {
                if !self.may_write(client, key) {
                    return Err(SettingsError::Denied);
                }
                self.change(&Change::Set(key, value))?;
                self.values.insert(String::from(key), Owned::of(value));
                self.notify(key);
                Ok(proto::done())
            }
            Request::Del(key) => {
                if !self.may_write(client, key) {
                    return Err(SettingsError::Denied);
                }
                if !self.values.contains_key(key) {
                    return Err(SettingsError::NotFound);
                }
                self.change(&Change::Del(key))?;
                self.values.remove(key);
                self.notify(key);
                Ok(proto::done())
            }
            Request::Watch(prefix) => {
                let slot = cap::alloc().map_err(|_| SettingsError::Full)?;
                if sys::cap_move(incoming, slot, ipc::cap::SELF).is_err() {
                    cap::free(slot);
                    return Err(SettingsError::NoCapability);
                }
                self.watchers.push((String::from(prefix), slot));
                Ok(proto::done())
            }
        }
    }

    /// Makes a change durable: appended to the store (compacted first if it is full).
    /// Only after this may the change be applied and acknowledged.
    fn change(&mut self, change: &Change) -> Result<(), SettingsError> {
        let mut bytes = [0u8; record::MAX];
        let len = record::encode(change, &mut bytes).ok_or(SettingsError::BadRequest)?;
        if !self.log.fits(len) {
            let live: Vec<Vec<u8>> = self
                .values
                .iter()
                .filter_map(|(k, v)| {
                    let mut r = [0u8; record::MAX];
                    let n = record::encode(&Change::Set(k, v.as_value()), &mut r)?;
                    Some(r[..n].to_vec())
                })
                .collect();
            self.log.compact(live.iter().map(Vec::as_slice)).map_err(|_| SettingsError::Full)?;
        }
        self.log.append(&bytes[..len]).map_err(|_| SettingsError::Full)
    }

    /// Signals every watch whose prefix `key` is under.
    fn notify(&self, key: &str) {
        for (prefix, slot) in &self.watchers {
            if key.starts_with(prefix.as_str()) {
                let _ = sys::signal(*slot);
            }
        }
    }
}
