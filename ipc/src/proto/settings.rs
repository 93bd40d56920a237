//! The settings server's protocol: typed values under dotted keys (`system.locale`,
//! `weather.units`). Requests and answers are [`Long`] messages: a key or a string value
//! is longer than the registers hold.
//!
//! | request | words | capability | answer |
//! |---|---|---|---|
//! | [`GET`] | key | — | value |
//! | [`SET`] | key, value | — | — |
//! | [`DEL`] | key | — | — |
//! | [`LIST`] | prefix, index | — | key, value (the `index`th under the prefix, in key order) |
//! | [`WATCH`] | prefix | a notification | — (signalled whenever a key under the prefix changes) |
//!
//! Anyone given the service may read and watch; the system description says which key
//! prefixes each program may write (`writes = ["weather."]`).

use super::{Long, OK};

pub const GET: u32 = 1;
pub const SET: u32 = 2;
pub const DEL: u32 = 3;
pub const LIST: u32 = 4;
pub const WATCH: u32 = 5;

/// The longest key, and the longest string value.
pub const KEY_MAX: usize = 64;
pub const STRING_MAX: usize = 256;

errors! {
    /// What the settings server refuses a request with: the label of its reply.
    SettingsError {
        /// No such key (or, for `LIST`, the index is past the last).
        NotFound = 1: "no such key",
        /// The caller may not write under that key.
        Denied = 2: "not allowed to write that key",
        BadRequest = 3: "bad request",
        /// Not a key: 1 to 64 bytes of dot-separated words of a-z, 0-9, '-', '_'.
        BadKey = 4: "not a key",
        /// A string value longer than [`STRING_MAX`].
        TooLarge = 5: "value too large",
        /// The server's store has no room left, even compacted.
        Full = 6: "settings store full",
        /// A watch came without its notification.
        NoCapability = 7: "no capability given",
    }
}

/// Whether `key` is a key: dot-separated, non-empty words of `a-z 0-9 - _`.
pub fn is_key(key: &str) -> bool {
    key.len() <= KEY_MAX && !key.is_empty() && key.split('.').all(is_word)
}

/// Whether `prefix` is a key prefix: empty (everything), a key, or a key and a final dot.
pub fn is_prefix(prefix: &str) -> bool {
    prefix.is_empty() || is_key(prefix.strip_suffix('.').unwrap_or(prefix))
}

fn is_word(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bool(bool),
    Str(&'a str),
}

const INT: u64 = 1;
const BOOL: u64 = 2;
const STR: u64 = 3;

impl Value<'_> {
    fn push(&self, m: &mut Long) -> bool {
        match *self {
            Value::Int(i) => m.push(INT) && m.push(i as u64),
            Value::Bool(b) => m.push(BOOL) && m.push(u64::from(b)),
            Value::Str(s) => m.push(STR) && m.push_bytes(s.as_bytes()),
        }
    }
}

impl core::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

/// A request, as the server reads it; its strings are copied into `buf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Get(&'a str),
    Set(&'a str, Value<'a>),
    Del(&'a str),
    List(&'a str, u64),
    Watch(&'a str),
}

impl Request<'_> {
    /// The message; None if a key or value is out of bounds (the client checks first).
    pub fn encode(&self) -> Option<Long> {
        let mut m = Long::new(match self {
            Request::Get(_) => GET,
            Request::Set(..) => SET,
            Request::Del(_) => DEL,
            Request::List(..) => LIST,
            Request::Watch(_) => WATCH,
        });
        let ok = match self {
            Request::Get(key) | Request::Del(key) => m.push_bytes(key.as_bytes()),
            Request::Set(key, value) => m.push_bytes(key.as_bytes()) && value.push(&mut m),
            Request::List(prefix, index) => m.push_bytes(prefix.as_bytes()) && m.push(*index),
            Request::Watch(prefix) => {
                m.caps = 1;
                m.push_bytes(prefix.as_bytes())
            }
        };
        ok.then_some(m)
    }
}

/// Where a request's and an answer's strings are copied while they are read.
pub struct Buffers {
    key: [u8; KEY_MAX],
    value: [u8; STRING_MAX],
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers { key: [0; KEY_MAX], value: [0; STRING_MAX] }
    }
}

fn read_value<'b>(r: &mut super::Reader, out: &'b mut [u8; STRING_MAX]) -> Result<Value<'b>, SettingsError> {
    match r.word().ok_or(SettingsError::BadRequest)? {
        INT => Ok(Value::Int(r.word().ok_or(SettingsError::BadRequest)? as i64)),
        BOOL => match r.word() {
            Some(0) => Ok(Value::Bool(false)),
            Some(1) => Ok(Value::Bool(true)),
            _ => Err(SettingsError::BadRequest),
        },
        STR => {
            // A length past the limit is "too large"; anything else wrong is "bad".
            if r.peek().is_some_and(|len| len > STRING_MAX as u64) {
                return Err(SettingsError::TooLarge);
            }
            Ok(Value::Str(r.text(STRING_MAX, out).ok_or(SettingsError::BadRequest)?))
        }
        _ => Err(SettingsError::BadRequest),
    }
}

fn read_key<'b>(r: &mut super::Reader, out: &'b mut [u8; KEY_MAX], prefix: bool) -> Result<&'b str, SettingsError> {
    let key = r.text(KEY_MAX, out).ok_or(SettingsError::BadKey)?;
    let valid = if prefix { is_prefix(key) } else { is_key(key) };
    valid.then_some(key).ok_or(SettingsError::BadKey)
}

/// Reads a request.
pub fn decode<'b>(m: &Long, b: &'b mut Buffers) -> Result<Request<'b>, SettingsError> {
    let mut r = m.reader(0);
    match m.label {
        GET => Ok(Request::Get(read_key(&mut r, &mut b.key, false)?)),
        DEL => Ok(Request::Del(read_key(&mut r, &mut b.key, false)?)),
        SET => {
            let key = read_key(&mut r, &mut b.key, false)?;
            Ok(Request::Set(key, read_value(&mut r, &mut b.value)?))
        }
        LIST => {
            let prefix = read_key(&mut r, &mut b.key, true)?;
            Ok(Request::List(prefix, r.word().ok_or(SettingsError::BadRequest)?))
        }
        WATCH if m.caps == 1 => Ok(Request::Watch(read_key(&mut r, &mut b.key, true)?)),
        WATCH => Err(SettingsError::NoCapability),
        _ => Err(SettingsError::BadRequest),
    }
}

/// A reply refusing a request.
pub fn refuse(e: SettingsError) -> Long {
    Long::new(e.code())
}

/// The reply to `SET`, `DEL` and `WATCH`.
pub fn done() -> Long {
    Long::new(OK)
}

/// The reply to `GET` (no key) and to `LIST` (with the key).
pub fn answer(key: Option<&str>, value: Value) -> Long {
    let mut m = Long::new(OK);
    let fits = key.is_none_or(|k| m.push_bytes(k.as_bytes())) && value.push(&mut m);
    debug_assert!(fits, "a key and a value always fit a message");
    m
}

/// What a reply says: nothing (`SET`, `DEL`, `WATCH`), or the refusal.
pub fn read_done(m: &Long) -> Result<(), SettingsError> {
    match m.label {
        OK => Ok(()),
        code => Err(SettingsError::from_code(code).unwrap_or(SettingsError::BadRequest)),
    }
}

/// The value a reply to `GET` carries.
pub fn read_value_reply<'b>(m: &Long, b: &'b mut Buffers) -> Result<Value<'b>, SettingsError> {
    read_done(m)?;
    read_value(&mut m.reader(0), &mut b.value)
}

/// The key and value a reply to `LIST` carries; None past the last.
pub fn read_entry<'b>(m: &Long, b: &'b mut Buffers) -> Result<Option<(&'b str, Value<'b>)>, SettingsError> {
    if m.label == SettingsError::NotFound.code() {
        return Ok(None);
    }
    read_done(m)?;
    let mut r = m.reader(0);
    let key = read_key(&mut r, &mut b.key, false)?;
    Ok(Some((key, read_value(&mut r, &mut b.value)?)))
}

/// How the settings server keeps a change in its store (one record per change; replaying
/// them in order gives the values). A record is `op` (1 set, 2 delete), the key's length and
/// bytes, and for a set the value: a type byte, then 8 bytes of an int, 1 of a bool, or a
/// string's 2-byte length and bytes (all little-endian).
pub mod record {
    use super::{is_key, Value, KEY_MAX, STRING_MAX};

    /// The longest record.
    pub const MAX: usize = 2 + KEY_MAX + 3 + STRING_MAX;

    /// A change, as a record holds it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Change<'a> {
        Set(&'a str, Value<'a>),
        Del(&'a str),
    }

    /// Writes the record of `change` into `out`; returns its length. None if the key or a
    /// string is out of bounds.
    pub fn encode(change: &Change, out: &mut [u8; MAX]) -> Option<usize> {
        let (op, key) = match change {
            Change::Set(key, _) => (1, key),
            Change::Del(key) => (2, key),
        };
        if !is_key(key) {
            return None;
        }
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&[op, key.len() as u8]);
        put(key.as_bytes());
        if let Change::Set(_, value) = change {
            match value {
                Value::Int(i) => {
                    put(&[1]);
                    put(&i.to_le_bytes());
                }
                Value::Bool(b) => put(&[2, u8::from(*b)]),
                Value::Str(s) if s.len() <= STRING_MAX => {
                    put(&[3]);
                    put(&(s.len() as u16).to_le_bytes());
                    put(s.as_bytes());
                }
                Value::Str(_) => return None,
            }
        }
        Some(at)
    }

    /// Reads a record; None if it is not one (cut short, a bad key, trailing bytes).
    pub fn decode(record: &[u8]) -> Option<Change<'_>> {
        let (&op, rest) = record.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let key = core::str::from_utf8(rest.get(..len as usize)?).ok().filter(|k| is_key(k))?;
        let rest = &rest[len as usize..];
        match op {
            2 if rest.is_empty() => Some(Change::Del(key)),
            1 => {
                let (&kind, rest) = rest.split_first()?;
                let value = match (kind, rest) {
                    (1, bytes) if bytes.len() == 8 => Value::Int(i64::from_le_bytes(bytes.try_into().ok()?)),
                    (2, [0]) => Value::Bool(false),
                    (2, [1]) => Value::Bool(true),
                    (3, [a, b, text @ ..]) if usize::from(u16::from_le_bytes([*a, *b])) == text.len() => {
                        Value::Str(core::str::from_utf8(text).ok().filter(|t| t.len() <= STRING_MAX)?)
                    }
                    _ => return None,
                };
                Some(Change::Set(key, value))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes() {
        for k in ["system.locale", "a", "weather.units", "x-y_z.0"] {
            assert!(is_key(k), "{k}");
        }
        for k in ["", ".", "system.", ".x", "a..b", "System.x", "a b", &"k".repeat(65)] {
            assert!(!is_key(k), "{k}");
        }
        assert!(is_prefix("") && is_prefix("system.") && is_prefix("system.locale"));
        assert!(!is_prefix(".") && !is_prefix("system..") && !is_prefix("Sys."));
    }

    #[test]
    fn requests_and_answers_round_trip() {
        let long = "s".repeat(STRING_MAX);
        let requests = [
            Request::Get("system.locale"),
            Request::Set("weather.units", Value::Str("metric")),
            Request::Set("ui.scale", Value::Int(-3)),
            Request::Set("ui.dark", Value::Bool(true)),
            Request::Set("big.value", Value::Str(&long)),
            Request::Del("ui.dark"),
            Request::List("", 4),
            Request::List("weather.", 0),
            Request::Watch("system."),
        ];
        for r in requests {
            let m = r.encode().unwrap();
            let mut b = Buffers::default();
            assert_eq!(decode(&m, &mut b), Ok(r));
        }
        let mut b = Buffers::default();
        assert_eq!(read_value_reply(&answer(None, Value::Int(7)), &mut b), Ok(Value::Int(7)));
        let entry = answer(Some("a.b"), Value::Str("x"));
        assert_eq!(read_entry(&entry, &mut b), Ok(Some(("a.b", Value::Str("x")))));
        assert_eq!(read_entry(&refuse(SettingsError::NotFound), &mut b), Ok(None));
        assert_eq!(read_done(&refuse(SettingsError::Denied)), Err(SettingsError::Denied));
        assert_eq!(read_done(&done()), Ok(()));
    }

    #[test]
    fn records_round_trip_and_refuse_what_is_not_one() {
        use record::{decode as read, encode as write, Change, MAX};
        let long = "v".repeat(STRING_MAX);
        let changes = [
            Change::Set("system.locale", Value::Str("nb_NO")),
            Change::Set("ui.scale", Value::Int(i64::MIN)),
            Change::Set("ui.dark", Value::Bool(false)),
            Change::Set("big", Value::Str(&long)),
            Change::Del("ui.dark"),
        ];
        let mut out = [0u8; MAX];
        for c in changes {
            let n = write(&c, &mut out).unwrap();
            assert_eq!(read(&out[..n]), Some(c));
            for cut in 0..n {
                assert_eq!(read(&out[..cut]), None, "{c:?} cut at {cut}");
            }
        }
        assert_eq!(write(&Change::Del("Bad Key"), &mut out), None);
        assert_eq!(read(&[1, 1, b'a', 2, 7]), None, "a bool that is neither");
        assert_eq!(read(&[2, 1, b'a', 0]), None, "bytes after a delete");
        assert_eq!(read(&[9, 1, b'a']), None, "an unknown operation");
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut b = Buffers::default();
        let mut m = Long::new(GET);
        m.push_bytes(b"Not.A.Key");
        assert_eq!(decode(&m, &mut b), Err(SettingsError::BadKey));
        let mut m = Long::new(SET);
        m.push_bytes(b"a.b");
        m.push(STR);
        m.push_bytes(&[b'v'; STRING_MAX + 1]);
        assert_eq!(decode(&m, &mut b), Err(SettingsError::TooLarge));
        let mut m = Long::new(SET);
        m.push_bytes(b"a.b");
        m.push(STR);
        m.push_bytes(&[0xff, 0xfe]);
        assert_eq!(decode(&m, &mut b), Err(SettingsError::BadRequest), "not UTF-8");
        let mut m = Long::new(SET);
        m.push_bytes(b"a.b");
        m.push(BOOL);
        m.push(7);
        assert_eq!(decode(&m, &mut b), Err(SettingsError::BadRequest));
        let mut m = Request::Watch("a.").encode().unwrap();
        m.caps = 0;
        assert_eq!(decode(&m, &mut b), Err(SettingsError::NoCapability));
        assert_eq!(decode(&Long::new(99), &mut b), Err(SettingsError::BadRequest));
        assert_eq!(decode(&Long::new(GET), &mut b), Err(SettingsError::BadKey), "no key at all");
        let mut m = Long::new(SET);
        m.push_bytes(b"a.b");
        assert_eq!(decode(&m, &mut b), Err(SettingsError::BadRequest), "no value");
    }
}
