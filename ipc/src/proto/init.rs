//! The protocol of init's own service ([`crate::system::INIT_SERVICE`]): the programs it
//! started and supervises, and ending or restarting one by name. Only programs that `use`
//! the service get to call it (the shell).
//!
//! | request | words | reply words |
//! |---|---|---|
//! | [`CHILD`] | index | name, [`ChildInfo`] packed |
//! | [`KILL`] | name | — (a supervised program is restarted as after a fault) |
//! | [`RESTART`] | name | — (ended and started again now; not counted against its limit) |
//! | [`WATCH`] | — + two Notifications: `deaths` (unbadged), `doorbell` | — |
//!
//! `WATCH` asks to hear of every child's end without polling: from then on, whenever a
//! child ends (it exited, faulted, was killed, or was ended to be restarted), init signals
//! `deaths` with bit *index* (the child's index, as `CHILD` counts) and then `doorbell`.
//! The watcher binds the doorbell's notification to its thread, with a badge of its own
//! choosing, and reads the bits with a poll of `deaths` when it rings. A later `WATCH` from
//! the same program replaces its earlier one (a restarted watcher asks again).

use super::{pack, unpack, Message, OK};

pub const CHILD: u32 = 1;
pub const KILL: u32 = 2;
pub const RESTART: u32 = 3;
pub const WATCH: u32 = 4;

errors! {
    /// What init refuses a request with: the label of its reply.
    InitError {
        /// No such program (or, for `CHILD`, the index is past the last).
        NotFound = 1: "no such program",
        /// The caller does not use init's service.
        Denied = 2: "not allowed",
        BadRequest = 3: "bad request",
        /// It could not be started again.
        Failed = 4: "could not start it again",
    }
}

/// Where a child stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running = 0,
    /// Ended and not restarted (it exited, or init gave up on it).
    Ended = 1,
}

/// A child of init, as `CHILD` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its current process (the last one, once ended).
    pub pid: u32,
    pub priority: u8,
    pub state: State,
    /// Restarts so far.
    pub restarts: u8,
    /// Whether init restarts it.
    pub supervised: bool,
}

impl ChildInfo {
    fn to_word(self) -> u64 {
        u64::from(self.pid)
            | u64::from(self.priority) << 32
            | (self.state as u64) << 40
            | u64::from(self.restarts) << 48
            | u64::from(self.supervised) << 56
    }

    fn from_word(w: u64) -> Option<ChildInfo> {
        let state = match (w >> 40) & 0xff {
            0 => State::Running,
            1 => State::Ended,
            _ => return None,
        };
        Some(ChildInfo {
            pid: w as u32,
            priority: (w >> 32) as u8,
            state,
            restarts: (w >> 48) as u8,
            supervised: (w >> 56) & 1 != 0,
        })
    }
}

/// A request, as init reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Child(u64),
    Kill(&'a str),
    Restart(&'a str),
    /// The two Notifications travel with the message.
    Watch,
}

/// Encodes a request; None if a name does not fit (more than 24 bytes, or a NUL).
pub fn encode(request: Request) -> Option<Message> {
    match request {
        Request::Child(index) => Some(Message::new(CHILD, &[index], 0)),
        Request::Kill(name) => Some(Message::new(KILL, &pack::<3>(name)?, 0)),
        Request::Restart(name) => Some(Message::new(RESTART, &pack::<3>(name)?, 0)),
        Request::Watch => Some(Message::new(WATCH, &[], 2)),
    }
}

/// Reads a request; a name is unpacked into `buf`.
pub fn decode<'a>(m: &Message, buf: &'a mut [u8; 64]) -> Result<Request<'a>, InitError> {
    let name = |buf: &'a mut [u8; 64]| -> Result<&'a str, InitError> {
        if m.len < 3 {
            return Err(InitError::BadRequest);
        }
        unpack(&[m.words[0], m.words[1], m.words[2]], buf).ok_or(InitError::BadRequest)
    };
    match m.label {
        CHILD if m.len >= 1 => Ok(Request::Child(m.words[0])),
        KILL => Ok(Request::Kill(name(buf)?)),
        RESTART => Ok(Request::Restart(name(buf)?)),
        WATCH if m.caps == 2 => Ok(Request::Watch),
        _ => Err(InitError::BadRequest),
    }
}

pub fn refuse(e: InitError) -> Message {
    Message::new(e.code(), &[], 0)
}

pub fn done() -> Message {
    Message::new(OK, &[], 0)
}

/// The reply to `CHILD`; None if the name does not fit.
pub fn child(name: &str, info: ChildInfo) -> Option<Message> {
    let [a, b, c] = pack::<3>(name)?;
    Some(Message::new(OK, &[a, b, c, info.to_word()], 0))
}

/// A reply to `KILL` or `RESTART`.
pub fn read_done(m: &Message) -> Result<(), InitError> {
    match m.label {
        OK => Ok(()),
        code => Err(InitError::from_code(code).unwrap_or(InitError::BadRequest)),
    }
}

/// A reply to `CHILD`: the child's name (into `buf`) and what it is, or None past the last.
pub fn read_child<'a>(m: &Message, buf: &'a mut [u8; 64]) -> Result<Option<(&'a str, ChildInfo)>, InitError> {
    match m.label {
        OK if m.len == 4 => {
            let info = ChildInfo::from_word(m.words[3]).ok_or(InitError::BadRequest)?;
            let name = unpack(&[m.words[0], m.words[1], m.words[2]], buf).ok_or(InitError::BadRequest)?;
            Ok(Some((name, info)))
        }
        OK => Err(InitError::BadRequest),
        code if code == InitError::NotFound.code() => Ok(None),
        code => Err(InitError::from_code(code).unwrap_or(InitError::BadRequest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let mut buf = [0; 64];
        for r in [Request::Child(3), Request::Kill("console"), Request::Restart("name"), Request::Watch] {
            let m = encode(r).unwrap();
            assert_eq!(decode(&m, &mut buf), Ok(r));
        }
        assert_eq!(encode(Request::Kill("twenty-five-bytes-is-over")), None);
        assert_eq!(decode(&Message::new(KILL, &[1], 0), &mut buf), Err(InitError::BadRequest));
        assert_eq!(decode(&Message::new(42, &[], 0), &mut buf), Err(InitError::BadRequest));
        assert_eq!(decode(&Message::new(WATCH, &[], 1), &mut buf), Err(InitError::BadRequest), "one Notification");
        let info = ChildInfo { pid: 7, priority: 200, state: State::Running, restarts: 2, supervised: true };
        let reply = child("console", info).unwrap();
        assert_eq!(read_child(&reply, &mut buf), Ok(Some(("console", info))));
        assert_eq!(read_child(&refuse(InitError::NotFound), &mut buf), Ok(None));
        assert_eq!(read_child(&refuse(InitError::Denied), &mut buf), Err(InitError::Denied));
        assert_eq!(read_done(&done()), Ok(()));
        assert_eq!(read_done(&refuse(InitError::Failed)), Err(InitError::Failed));
        let ended = ChildInfo { state: State::Ended, supervised: false, ..info };
        assert_eq!(ChildInfo::from_word(ended.to_word()), Some(ended));
        assert_eq!(ChildInfo::from_word(9 << 40), None);
    }
}
