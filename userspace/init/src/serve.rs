//! Init's own service (`ipc::proto::init`), for the programs that use it: the list of the
//! children, and ending or restarting one by name.

use crate::child::Origin;
use crate::Init;
use ipc::proto::init::{self as proto, ChildInfo, InitError, Request, State};
use ipc::proto::Message;
use ipc::system::ProgramNumber;
use rt::{ipc, sys};

/// The answer to a message that is no request at all.
pub fn refused() -> Message {
    proto::refuse(InitError::BadRequest)
}

impl Init {
    /// Answers `request` from program `client` of the description.
    pub fn serve(&mut self, client: ProgramNumber, request: &Message) -> Message {
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
