//! The test world: compat's core with programs around it, over the real wire. Each program
//! is a `binder::client::Process` on a thread of its own, whose channel hands its messages
//! to `compat_core` the way the compat process does (`wire::read_request`,
//! `Compat::command`, `wire::write_return`) and blocks until its answer comes, as a Seam
//! program blocks in its call. Compat hosts no services of its own, or [`Services`].
#![allow(dead_code)]

use binder::client::{Channel, Process};
use binder::{Android, StatusCode};
use compat_core::driver::{ClientId, Delivery, Driver, Identity, Payload, Transaction};
use compat_core::services::Services;
use compat_core::wire::{self, Incoming};
use compat_core::{Compat, Host};
use ipc::proto::compat::{self as proto, CompatError};
use ipc::proto::Long;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const SYSTEM_UID: u32 = 1000;
pub const APP_UID: u32 = 10_001;
const FRAME: usize = 4 * 4096;
/// Long enough for any answer; a test that waits longer has failed (rather than hung).
const PATIENCE: Duration = Duration::from_secs(20);

pub struct NoHost;

impl Host for NoHost {
    fn descriptor(&self, _: u64) -> Option<&str> {
        None
    }
    fn transact(&mut self, _: &mut Driver, _: &Transaction, _: &mut binder::Parcel) -> Result<Payload, StatusCode> {
        Err(StatusCode::DeadObject)
    }
    fn binder_died(&mut self, _: &mut Driver, _: u64) {}
}

/// Compat, and what the process around it keeps: each client's answer once it has one,
/// its Frame, and who it is.
pub struct Net {
    pub compat: Compat,
    /// The services compat hosts, if any.
    pub services: Option<Services>,
    answers: BTreeMap<ClientId, Long>,
    frames: BTreeMap<ClientId, Vec<u8>>,
    ids: BTreeMap<ClientId, (u32, u32)>,
    /// Programs killed: what they still send is refused.
    dead: Vec<ClientId>,
}

#[derive(Clone)]
pub struct World(Arc<(Mutex<Net>, Condvar)>);

pub fn world() -> World {
    world_with(None)
}

/// A world whose compat hosts `services`, registered under their names.
pub fn world_with(services: Option<Services>) -> World {
    let mut net = Net {
        compat: Compat::new(1),
        services,
        answers: BTreeMap::new(),
        frames: BTreeMap::new(),
        ids: BTreeMap::new(),
        dead: Vec::new(),
    };
    if let Some(mut s) = net.services.take() {
        for (name, ptr) in compat_core::services::ALL {
            net.compat.add_own_service(name, ptr, &mut s);
        }
        net.services = Some(s);
    }
    World(Arc::new((Mutex::new(net), Condvar::new())))
}

impl World {
    pub fn net(&self) -> std::sync::MutexGuard<'_, Net> {
        self.0 .0.lock().unwrap()
    }

    /// The program's process ended: compat hears of it, and a call it was blocked in ends.
    pub fn kill(&self, client: ClientId) {
        let mut net = self.net();
        let d = net.with_host(|c, h| c.disconnect(client, h));
        net.deliver(d);
        net.dead.push(client);
        net.answers.entry(client).or_insert(proto::refuse(CompatError::NotConnected));
        self.0 .1.notify_all();
    }

    pub fn counts(&self) -> (usize, usize) {
        self.net().compat.driver.counts()
    }
}

impl Net {
    /// Runs `f` on compat with its host.
    pub fn with_host<T>(&mut self, f: impl FnOnce(&mut Compat, &mut dyn Host) -> T) -> T {
        let compat = &mut self.compat;
        match &mut self.services {
            Some(s) => f(compat, s),
            None => f(compat, &mut NoHost),
        }
    }

    /// Lets compat's own code run (after the test called a service directly) and delivers
    /// what it sent.
    pub fn settle(&mut self) {
        let d = self.with_host(|c, h| c.settle(h));
        self.deliver(d);
    }

    pub fn deliver(&mut self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            let frame = self.frames.get_mut(&d.to).map(|f| f.as_mut_slice());
            let m = wire::write_return(&d.ret, frame);
            assert!(self.answers.insert(d.to, m).is_none(), "two returns for client {}", d.to);
        }
    }

    /// What the compat process does with a request from `client`.
    fn request(&mut self, client: ClientId, m: &Long) {
        if self.dead.contains(&client) {
            self.answers.insert(client, proto::refuse(CompatError::NotConnected));
            return;
        }
        let frame = self.frames.get(&client).map(|f| f.as_slice());
        match wire::read_request(m, frame) {
            Err(e) => {
                self.answers.insert(client, proto::refuse(e));
            }
            Ok(Incoming::Connect { android, frame_pages }) => {
                let (uid, pid) = self.ids[&client];
                let bytes = frame_pages as usize * 4096;
                self.frames.insert(client, vec![0; bytes]);
                let id = Identity { uid, pid, android };
                let d = self.with_host(|c, h| c.connect(client, id, wire::limits(bytes), h));
                self.deliver(d);
                self.answers.insert(client, proto::connected(uid, pid));
            }
            Ok(Incoming::Command { free, command }) => {
                let d = self.with_host(|c, h| c.command(client, free, command, h));
                self.deliver(d);
            }
        }
    }
}

struct TestChannel {
    world: World,
    client: ClientId,
    frame: Vec<u8>,
}

impl Channel for TestChannel {
    fn call(&mut self, m: &Long) -> Result<Long, ipc::Error> {
        let (lock, ready) = &*self.world.0;
        let mut net = lock.lock().unwrap();
        if let Some(f) = net.frames.get_mut(&self.client) {
            f.copy_from_slice(&self.frame);
        }
        net.request(self.client, m);
        ready.notify_all();
        let deadline = Instant::now() + PATIENCE;
        let answer = loop {
            if let Some(a) = net.answers.remove(&self.client) {
                break a;
            }
            let left = deadline.checked_duration_since(Instant::now()).ok_or(ipc::Error::WouldBlock)?;
            net = ready.wait_timeout(net, left).unwrap().0;
        };
        if let Some(f) = net.frames.get(&self.client) {
            self.frame.copy_from_slice(f);
        }
        Ok(answer)
    }

    fn frame(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.frame)
    }
}

/// Program `client` of the world, on this thread, with `uid`, built for `android`.
pub fn program(w: &World, client: ClientId, uid: u32, android: Android) -> Rc<Process> {
    w.net().ids.insert(client, (uid, 100 + client));
    let channel = TestChannel { world: w.clone(), client, frame: vec![0; FRAME] };
    Process::connect(Box::new(channel), android).expect("connects")
}

/// Calls `f` until it says yes; false if it never does.
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}
