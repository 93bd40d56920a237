//! Init's own service (`ipc::proto::init`), for the programs that use it: the list of the
//! children, ending or restarting one by name, and word of every child's end (`WATCH`).

use crate::child::Origin;
use crate::Init;
use ipc::cap::{Kind, Slot};
use ipc::proto::init::{self as proto, ChildInfo, InitError, Request, State};
use ipc::proto::Message;
use ipc::system::ProgramNumber;
use rt::{cap, ipc, sys};

/// A program that asked to hear of every child's end: its two Notifications.
pub struct Watcher {
    client: ProgramNumber,
    deaths: Slot,
    doorbell: Slot,
}

/// The answer to a message that is no request at all.
pub fn refused() -> Message {
    proto::refuse(InitError::BadRequest)
}

impl Init {
    /// Answers `request` from program `client` of the description.
    /// `carried` are the slots where the capabilities the request carried landed; what the
    /// request keeps is moved out of them.
    pub fn serve(&mut self, client: ProgramNumber, request: &Message, carried: [Slot; 2]) -> Message {
        let allowed =
            self.children.iter().any(|c| matches!(&c.kind, Origin::Described(d) if d.number == client && d.uses_init));
        if !allowed {
            return proto::refuse(InitError::Denied);
        }
        let mut buf = [0; 64];
        let result = match proto::decode(request, &mut buf) {
            Ok(Request::Child(index)) => return self.child_info(index),
            Ok(Request::Kill(name)) => self.kill(name),
            Ok(Request::Restart(name)) => self.restart_now(name),
            Ok(Request::Watch) => self.watch(client, carried),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => proto::done(),
            Err(e) => proto::refuse(e),
        }
    }

    fn child_info(&self, index: u64) -> Message {
        let found = usize::try_from(index).ok().and_then(|i| Some((i, self.children.get(i)?)));
        let Some((i, c)) = found else { return proto::refuse(InitError::NotFound) };
        let info = ChildInfo {
            pid: c.pid as u32,
            priority: c.priority,
            state: if self.alive & 1 << i != 0 { State::Running } else { State::Ended },
            restarts: c.restarts.min(255) as u8,
            supervised: c.is_supervised(),
        };
        proto::child(&c.name, info).unwrap_or_else(|| proto::refuse(InitError::BadRequest))
    }

    /// Keeps the two Notifications `carried` as `client`'s watch, in place of an earlier one.
    fn watch(&mut self, client: ProgramNumber, carried: [Slot; 2]) -> Result<(), InitError> {
        let notification = |slot| sys::cap_inspect(slot).is_ok_and(|c| c.kind == Kind::Notification);
        if !carried.iter().all(|&slot| notification(slot)) {
            return Err(InitError::BadRequest);
        }
        let (deaths, doorbell) = (cap::alloc(), cap::alloc());
        let (Ok(deaths), Ok(doorbell)) = (deaths, doorbell) else {
            deaths.into_iter().chain(doorbell).for_each(cap::free);
            return Err(InitError::Failed);
        };
        if sys::cap_move(carried[0], deaths, ipc::cap::SELF).is_err()
            || sys::cap_move(carried[1], doorbell, ipc::cap::SELF).is_err()
        {
            cap::release(deaths);
            cap::release(doorbell);
            return Err(InitError::Failed);
        }
        if let Some(old) = self.watchers.iter().position(|w| w.client == client) {
            let old = self.watchers.swap_remove(old);
            cap::release(old.deaths);
            cap::release(old.doorbell);
        }
        self.watchers.push(Watcher { client, deaths, doorbell });
        Ok(())
    }

    /// Tells every watcher that child `i` ended: bit `i` of its `deaths`, then its doorbell.
    pub fn announce(&self, i: usize) {
        for w in &self.watchers {
            let told = cap::with_badged(w.deaths, 1 << i, sys::signal).and_then(|()| sys::signal(w.doorbell));
            if let Err(e) = told {
                rt::println!("init: cannot tell program {} that '{}' ended: {e}", w.client, self.children[i].name);
            }
        }
    }

    fn running(&self, name: &str) -> Option<usize> {
        (0..self.children.len()).find(|&i| self.children[i].name == name && self.alive & 1 << i != 0)
    }

    /// Kills a running child; its death notice then comes as for any end (a supervised one
    /// is started again).
    fn kill(&mut self, name: &str) -> Result<(), InitError> {
        let i = self.running(name).ok_or(InitError::NotFound)?;
        sys::process_kill(self.children[i].process).map_err(|_| InitError::Failed)
    }

    /// Ends a child if it runs and starts it at once, its restart count unchanged.
    fn restart_now(&mut self, name: &str) -> Result<(), InitError> {
        let i = (0..self.children.len()).find(|&i| self.children[i].name == name).ok_or(InitError::NotFound)?;
        if self.alive & 1 << i != 0 {
            self.end(i);
        }
        if !self.start(i) {
            return Err(InitError::Failed);
        }
        self.alive |= 1 << i;
        Ok(())
    }
}
