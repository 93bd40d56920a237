//! The name server's protocol. A service name (1 to [`NAME_MAX`] bytes of `a-z 0-9 - _`)
//! travels packed in three message words; every message fits in the registers, plus at most
//! one capability.
//!
//! | request | words | capability | reply words | reply capability |
//! |---|---|---|---|---|
//! | [`REGISTER`] | name | the service's endpoint | generation | — |
//! | [`LOOKUP`] | name | — | generation | an endpoint, badged for the caller |
//! | [`LIST`] | index | — | name, generation | — |
//! | [`WATCH`] | name | a notification | generation | — |
//!
//! The caller's badge ([`crate::system::badge`]) tells the server who calls; the system
//! description says which names each program may register (`provides`) and look up
//! (`uses`). A name's generation counts its registrations: it grows each time the name is
//! registered again (after its server restarted, say), and a watcher's notification is
//! signalled each time.

use super::{pack, unpack, Message, OK};
use crate::system::{is_name, NAME_MAX};
use core::fmt;

pub const REGISTER: u32 = 1;
pub const LOOKUP: u32 = 2;
pub const LIST: u32 = 3;
pub const WATCH: u32 = 4;

errors! {
    /// What the name server refuses a request with: the label of its reply.
    NameError {
        /// No such name is registered (or, for `LIST`, the index is past the end).
        NotFound = 1: "no such name",
        /// The caller may not register or look up that name.
        Denied = 2: "not allowed",
        /// Not a request of this protocol, or not a name.
        BadRequest = 3: "bad request",
        /// The server's table is full.
        Full = 4: "name table full",
        /// The request needs a capability and came without one.
        NoCapability = 5: "no capability given",
        /// A program of the system provides the name, but it is not registered: its
        /// provider has not started, or the name server has been started again and init
        /// has not registered it again yet.
        NotYet = 6: "not registered yet",
    }
}

/// A valid service name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; NAME_MAX],
    len: u8,
}

impl Name {
    pub fn new(text: &str) -> Option<Name> {
        if !is_name(text) {
            return None;
        }
        let mut bytes = [0; NAME_MAX];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Name { bytes, len: text.len() as u8 })
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len as usize]).expect("checked when made")
    }

    fn to_words(self) -> [u64; 3] {
        pack(self.as_str()).expect("a name fits three words")
    }

    fn from_words(words: &[u64]) -> Option<Name> {
        let mut buf = [0; 64];
        Name::new(unpack(&[words[0], words[1], words[2]], &mut buf)?)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Name({:?})", self.as_str())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request, as the server reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Registers the endpoint the message carries under the name.
    Register(Name),
    Lookup(Name),
    /// The `index`th registered name.
    List(u64),
    /// Signals the notification the message carries whenever the name is registered.
    Watch(Name),
}

impl Request {
    pub fn encode(&self) -> Message {
        let named = |label, name: &Name, caps| {
            let [a, b, c] = name.to_words();
            Message::new(label, &[a, b, c], caps)
        };
        match self {
            Request::Register(name) => named(REGISTER, name, 1),
            Request::Lookup(name) => named(LOOKUP, name, 0),
            Request::List(index) => Message::new(LIST, &[*index], 0),
            Request::Watch(name) => named(WATCH, name, 1),
        }
    }

    pub fn decode(m: &Message) -> Result<Request, NameError> {
        let name = || {
            if m.len < 3 {
                return Err(NameError::BadRequest);
            }
            Name::from_words(&m.words).ok_or(NameError::BadRequest)
        };
        let with_capability = |request| if m.caps == 1 { Ok(request) } else { Err(NameError::NoCapability) };
        match m.label {
            REGISTER => with_capability(Request::Register(name()?)),
            LOOKUP => Ok(Request::Lookup(name()?)),
            LIST if m.len >= 1 => Ok(Request::List(m.words[0])),
            WATCH => with_capability(Request::Watch(name()?)),
            _ => Err(NameError::BadRequest),
        }
    }
}

/// A reply refusing a request.
pub fn refuse(e: NameError) -> Message {
    Message::new(e.code(), &[], 0)
}

/// The reply to `REGISTER` and `WATCH`: the name's generation. To `LOOKUP`, the same with the
/// endpoint (`caps` 1).
pub fn generation(generation: u64, caps: u8) -> Message {
    Message::new(OK, &[generation], caps)
}

/// The reply to `LIST`: a name and its generation.
pub fn entry(name: Name, generation: u64) -> Message {
    let [a, b, c] = name.to_words();
    Message::new(OK, &[a, b, c, generation], 0)
}

/// The generation a reply to `REGISTER`, `LOOKUP` or `WATCH` carries (for `LOOKUP`, the
/// endpoint has arrived in the receive slot), or the server's refusal.
pub fn read_generation(m: &Message) -> Result<u64, NameError> {
    match m.label {
        OK if m.len >= 1 => Ok(m.words[0]),
        OK => Err(NameError::BadRequest),
        code => Err(NameError::from_code(code).unwrap_or(NameError::BadRequest)),
    }
}

/// A reply to `LIST`: the entry, or None past the last one.
pub fn read_entry(m: &Message) -> Result<Option<(Name, u64)>, NameError> {
    match m.label {
        OK if m.len == 4 => Name::from_words(&m.words).map(|n| Some((n, m.words[3]))).ok_or(NameError::BadRequest),
        OK => Err(NameError::BadRequest),
        code if code == NameError::NotFound.code() => Ok(None),
        code => Err(NameError::from_code(code).unwrap_or(NameError::BadRequest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn requests_round_trip() {
        let requests = [
            Request::Register(name("console")),
            Request::Lookup(name("a")),
            Request::List(7),
            Request::Watch(name("x-y_z9")),
        ];
        for r in requests {
            let m = r.encode();
            assert_eq!(Request::decode(&m), Ok(r));
            let delivered = Message::received(m.info().encode(), m.words).unwrap();
            assert_eq!(Request::decode(&delivered), Ok(r), "after the info word");
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut register = Request::Register(name("console")).encode();
        register.caps = 0;
        assert_eq!(Request::decode(&register), Err(NameError::NoCapability));
        let mut short = Request::Lookup(name("console")).encode();
        short.len = 2;
        assert_eq!(Request::decode(&short), Err(NameError::BadRequest));
        let garbage = Message::new(LOOKUP, &[u64::MAX, 0, 0], 0);
        assert_eq!(Request::decode(&garbage), Err(NameError::BadRequest));
        let upper = Message::new(LOOKUP, &[u64::from_le_bytes(*b"CONSOLE\0"), 0, 0], 0);
        assert_eq!(Request::decode(&upper), Err(NameError::BadRequest), "not a valid name");
        assert_eq!(Request::decode(&Message::new(99, &[], 0)), Err(NameError::BadRequest));
        assert_eq!(Request::decode(&Message::new(LIST, &[], 0)), Err(NameError::BadRequest));
    }

    #[test]
    fn replies_round_trip() {
        assert_eq!(read_generation(&generation(3, 1)), Ok(3));
        assert_eq!(read_generation(&refuse(NameError::Denied)), Err(NameError::Denied));
        assert_eq!(read_generation(&Message::new(1234, &[], 0)), Err(NameError::BadRequest));
        assert_eq!(read_entry(&entry(name("name"), 1)), Ok(Some((name("name"), 1))));
        assert_eq!(read_entry(&refuse(NameError::NotFound)), Ok(None));
        for &e in NameError::ALL {
            assert_eq!(NameError::from_code(e.code()), Some(e));
        }
        assert_eq!(NameError::from_code(OK), None);
    }

    #[test]
    fn names() {
        assert_eq!(name("console").as_str(), "console");
        assert!(Name::new("").is_none());
        assert!(Name::new("Console").is_none());
        assert!(Name::new("twenty-five-bytes-is-over").is_none());
        assert!(Name::new("exactly-twenty-four-byte").is_some());
    }
}
