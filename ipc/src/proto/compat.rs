//! The compat server's protocol: how a legacy program (through the `binder` crate) talks to
//! the Binder driver inside compat. It is the shape of Linux's `BINDER_WRITE_READ`: each
//! request is one command, and its answer is one *return* — at once, or when something
//! arrives for the caller (the reply to its call, a call to one of its own binders, an
//! obituary). Compat keeps the caller's reply capability while it waits.
//!
//! | request | words | answer |
//! |---|---|---|
//! | [`CONNECT`] | flags, Android release (10–14), Frame pages (0–[`FRAME_PAGES_MAX`]) + the Frame | [`DONE`] with the caller's uid and pid ([`connected`]) |
//! | [`TRANSACT`] | flags, handle, code, transaction flags, Parcel | two-way: [`REPLY`] or [`STATUS`]; oneway: [`DONE`] |
//! | [`REPLY_TO`] | flags, status (0: a Parcel follows), Parcel | [`DONE`], or with [`WAIT_AFTER`] the next return |
//! | [`WAIT`] | flags | the next return; [`NOTHING`] unless [`BLOCK`] |
//! | [`RELEASE`] | flags, handle, count | [`DONE`] |
//! | [`LINK`], [`UNLINK`] | flags, handle, cookie | [`DONE`], [`DEAD_BINDER`] at once for a dead node |
//!
//! | return | words |
//! |---|---|
//! | [`DONE`] | — |
//! | [`REPLY`] | writer's release, Parcel |
//! | [`STATUS`] | a `status_t` (`DEAD_OBJECT`, `FAILED_TRANSACTION`, `UNKNOWN_TRANSACTION`, …) |
//! | [`TRANSACTION`] | pointer, cookie, code, transaction flags, uid, pid, writer's release, Parcel |
//! | [`DEAD_BINDER`] | cookie |
//! | [`NOTHING`] | — |
//!
//! **Administration** (no connection needed; what the shell's `compat` command asks):
//!
//! | request | words | answer |
//! |---|---|---|
//! | [`SERVICE`] | index | [`ServiceEntry`]: pid, whether compat hosts it, name; [`CompatError::NoSuchEntry`] past the last |
//! | [`ROUTES`] | index | [`RouteEntry`]: route, backend calls per route, interface name; `NoSuchEntry` past the last |
//! | [`STATS`] | — | [`Stats`] |
//!
//! Routes are changed through settings (`compat.route.IFACE`), whose `writes` rules say who
//! may; compat watches the keys.
//!
//! The first word of every request holds [`FREE`]: the caller is done with the oneway call it
//! was given last (libbinder's `BC_FREE_BUFFER`), so the next one to that binder may come.
//!
//! **A Parcel** is a [`ParcelHeader`] word (its length, its object count, whether it is in
//! the Frame), then, in the message, its object offsets (two 32-bit offsets a word) and its
//! bytes, packed little-endian. One too large for the message travels in the caller's Frame,
//! given at `CONNECT`: the bytes from offset 0, the offsets after them (at the next multiple
//! of 8) as 32-bit words. The caller writes the Frame before a request and reads it after the
//! answer, before its next request; compat copies out before it answers, so a client's Frame
//! serves both ways.

use super::{Long, OK};
use crate::msg::MSG_MAX_WORDS;

pub const CONNECT: u32 = 1;
pub const TRANSACT: u32 = 2;
pub const REPLY_TO: u32 = 3;
pub const WAIT: u32 = 4;
pub const RELEASE: u32 = 5;
pub const LINK: u32 = 6;
pub const UNLINK: u32 = 7;

pub const SERVICE: u32 = 32;
pub const ROUTES: u32 = 33;
pub const STATS: u32 = 34;

pub const DONE: u32 = OK;
pub const REPLY: u32 = 1;
pub const STATUS: u32 = 2;
pub const TRANSACTION: u32 = 3;
pub const DEAD_BINDER: u32 = 4;
pub const NOTHING: u32 = 5;

/// Request flags (word 0).
pub const FREE: u64 = 1;
/// `REPLY_TO`: then wait for the next return.
pub const WAIT_AFTER: u64 = 2;
/// `WAIT`: block until there is a return.
pub const BLOCK: u64 = 4;
const FLAGS: u64 = FREE | WAIT_AFTER | BLOCK;

/// The largest Frame a client gives: 64 KiB, as large as a Parcel may be.
pub const FRAME_PAGES_MAX: u64 = 16;
/// The largest Parcel compat carries, and the most binder objects in one.
pub const PARCEL_MAX: usize = 64 * 1024;
pub const OBJECTS_MAX: usize = 256;

errors! {
    /// What compat refuses a request with (a malformed message; a Binder-level failure is a
    /// [`STATUS`] return instead).
    CompatError {
        BadRequest = 16: "bad request",
        /// `CONNECT` with a release compat does not speak (10 to 14).
        BadRelease = 17: "unsupported Android release",
        /// The Frame given is not a Frame, too small or too large, or lacks read and write.
        BadFrame = 18: "bad Frame",
        /// A Parcel in the Frame, but the caller gave none.
        NoFrame = 19: "no Frame to carry the Parcel",
        /// The caller is not a program of the system, or not connected.
        NotConnected = 20: "not connected",
        /// `SERVICE` or `ROUTES` past the last.
        NoSuchEntry = 21: "no such entry",
    }
}

/// Where a message's Parcel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParcelHeader {
    /// Its bytes.
    pub len: u32,
    /// Its binder objects (the offsets that follow).
    pub objects: u16,
    /// In the caller's Frame rather than in the message.
    pub in_frame: bool,
}

impl ParcelHeader {
    const IN_FRAME: u64 = 1 << 63;

    pub const fn word(self) -> u64 {
        self.len as u64 | (self.objects as u64) << 32 | if self.in_frame { Self::IN_FRAME } else { 0 }
    }

    /// None for lengths past [`PARCEL_MAX`] or [`OBJECTS_MAX`], or unknown bits.
    pub fn from_word(w: u64) -> Option<ParcelHeader> {
        let h = ParcelHeader { len: w as u32, objects: (w >> 32) as u16, in_frame: w & Self::IN_FRAME != 0 };
        let known = w & !(Self::IN_FRAME | 0xffff_ffff_ffff) == 0;
        (known && h.len as usize <= PARCEL_MAX && usize::from(h.objects) <= OBJECTS_MAX).then_some(h)
    }

    /// The message words it takes in the message, after its header word.
    const fn inline_words(len: usize, objects: usize) -> usize {
        objects.div_ceil(2) + len.div_ceil(8)
    }

    /// Where the offsets start in the Frame, and the bytes the Parcel takes there.
    pub const fn frame_layout(len: usize, objects: usize) -> (usize, usize) {
        let at = len.next_multiple_of(8);
        (at, at + objects * 4)
    }
}

/// Appends a Parcel to a message after its fixed words: in the message if it fits, else its
/// header alone (`in_frame`), and the caller puts it in the Frame ([`write_frame`]). Returns
/// where it went: true for the message.
pub fn push_parcel(m: &mut Long, data: &[u8], offsets: &[u32]) -> bool {
    let fits = m.len + 1 + ParcelHeader::inline_words(data.len(), offsets.len()) <= MSG_MAX_WORDS;
    let header = ParcelHeader { len: data.len() as u32, objects: offsets.len() as u16, in_frame: !fits };
    m.push(header.word());
    if fits {
        for pair in offsets.chunks(2) {
            m.push(u64::from(pair[0]) | u64::from(*pair.get(1).unwrap_or(&0)) << 32);
        }
        let whole = data.chunks_exact(8);
        let tail = whole.remainder();
        for chunk in whole {
            m.push(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        if !tail.is_empty() {
            let mut word = [0u8; 8];
            word[..tail.len()].copy_from_slice(tail);
            m.push(u64::from_le_bytes(word));
        }
    }
    fits
}

/// The Parcel of a message, from word `at` (its header): the header, and for one in the
/// message its offsets and bytes copied into `offsets` and `data` (which must be large
/// enough: [`OBJECTS_MAX`], and the words of a message). None if the words are missing.
pub fn read_parcel(m: &Long, at: usize, data: &mut [u8], offsets: &mut [u32]) -> Option<ParcelHeader> {
    let words = &m.words[..m.len];
    let header = ParcelHeader::from_word(*words.get(at)?)?;
    if header.in_frame {
        return Some(header);
    }
    let (len, objects) = (header.len as usize, usize::from(header.objects));
    let body = words.get(at + 1..at + 1 + ParcelHeader::inline_words(len, objects))?;
    if data.len() < len || offsets.len() < objects {
        return None;
    }
    let (offset_words, data_words) = body.split_at(objects.div_ceil(2));
    for (i, o) in offsets[..objects].iter_mut().enumerate() {
        *o = (offset_words[i / 2] >> (32 * (i % 2))) as u32;
    }
    let mut whole = data[..len].chunks_exact_mut(8);
    for (bytes, word) in (&mut whole).zip(data_words) {
        *<&mut [u8; 8]>::try_from(bytes).expect("eight bytes") = word.to_le_bytes();
    }
    let tail = whole.into_remainder();
    if let Some(last) = data_words.get(len / 8).filter(|_| !tail.is_empty()) {
        tail.copy_from_slice(&last.to_le_bytes()[..tail.len()]);
    }
    Some(header)
}

/// Puts a Parcel in a Frame's bytes as [`ParcelHeader::frame_layout`] says; false if the
/// Frame is too small.
pub fn write_frame(frame: &mut [u8], data: &[u8], offsets: &[u32]) -> bool {
    let (at, total) = ParcelHeader::frame_layout(data.len(), offsets.len());
    if total > frame.len() {
        return false;
    }
    frame[..data.len()].copy_from_slice(data);
    for (i, o) in offsets.iter().enumerate() {
        frame[at + i * 4..at + i * 4 + 4].copy_from_slice(&o.to_le_bytes());
    }
    true
}

/// Copies a Parcel out of a Frame's bytes; false if the header says more than the Frame
/// holds or the buffers take.
pub fn read_frame(frame: &[u8], h: ParcelHeader, data: &mut [u8], offsets: &mut [u32]) -> bool {
    let (len, objects) = (h.len as usize, usize::from(h.objects));
    let (at, total) = ParcelHeader::frame_layout(len, objects);
    if total > frame.len() || len > data.len() || objects > offsets.len() {
        return false;
    }
    data[..len].copy_from_slice(&frame[..len]);
    for (i, o) in offsets[..objects].iter_mut().enumerate() {
        *o = u32::from_le_bytes(frame[at + i * 4..at + i * 4 + 4].try_into().expect("four bytes"));
    }
    true
}

/// A request's fixed words (the Parcel, if any, follows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Connect {
        android: u32,
        frame_pages: u64,
    },
    Transact {
        handle: u32,
        code: u32,
        flags: u32,
    },
    /// `status` 0: a Parcel follows; else the call ends with that status, no Parcel.
    Reply {
        status: i32,
        wait: bool,
    },
    Wait {
        block: bool,
    },
    Release {
        handle: u32,
        count: u32,
    },
    Link {
        handle: u32,
        cookie: u64,
    },
    Unlink {
        handle: u32,
        cookie: u64,
    },
}

/// Where a request's or a return's Parcel starts, for those that carry one.
pub const TRANSACT_PARCEL_AT: usize = 4;
pub const REPLY_TO_PARCEL_AT: usize = 2;
pub const REPLY_PARCEL_AT: usize = 1;
pub const TRANSACTION_PARCEL_AT: usize = 7;

/// A request's message, without its Parcel (push it with [`push_parcel`] for `Transact`,
/// and for `Reply` with status 0).
pub fn request(r: Request, free: bool) -> Long {
    let mut flags = if free { FREE } else { 0 };
    let (label, words, n): (u32, [u64; 3], usize) = match r {
        Request::Connect { android, frame_pages } => (CONNECT, [u64::from(android), frame_pages, 0], 2),
        Request::Transact { handle, code, flags } => {
            (TRANSACT, [u64::from(handle), u64::from(code), u64::from(flags)], 3)
        }
        Request::Reply { status, wait } => {
            flags |= if wait { WAIT_AFTER } else { 0 };
            (REPLY_TO, [u64::from(status as u32), 0, 0], 1)
        }
        Request::Wait { block } => {
            flags |= if block { BLOCK } else { 0 };
            (WAIT, [0; 3], 0)
        }
        Request::Release { handle, count } => (RELEASE, [u64::from(handle), u64::from(count), 0], 2),
        Request::Link { handle, cookie } => (LINK, [u64::from(handle), cookie, 0], 2),
        Request::Unlink { handle, cookie } => (UNLINK, [u64::from(handle), cookie, 0], 2),
    };
    let mut m = Long::new(label);
    m.push(flags);
    for &w in &words[..n] {
        m.push(w);
    }
    m
}

/// Reads a request's fixed words and its `FREE` flag.
pub fn decode(m: &Long) -> Result<(Request, bool), CompatError> {
    let w = |i: usize| m.words[..m.len].get(i).copied().ok_or(CompatError::BadRequest);
    let flags = w(0)?;
    if flags & !FLAGS != 0 {
        return Err(CompatError::BadRequest);
    }
    let u32_of = |v: u64| u32::try_from(v).map_err(|_| CompatError::BadRequest);
    let r = match m.label {
        CONNECT => Request::Connect { android: u32_of(w(1)?)?, frame_pages: w(2)? },
        TRANSACT => Request::Transact { handle: u32_of(w(1)?)?, code: u32_of(w(2)?)?, flags: u32_of(w(3)?)? },
        REPLY_TO => Request::Reply { status: u32_of(w(1)?)? as i32, wait: flags & WAIT_AFTER != 0 },
        WAIT => Request::Wait { block: flags & BLOCK != 0 },
        RELEASE => Request::Release { handle: u32_of(w(1)?)?, count: u32_of(w(2)?)? },
        LINK => Request::Link { handle: u32_of(w(1)?)?, cookie: w(2)? },
        UNLINK => Request::Unlink { handle: u32_of(w(1)?)?, cookie: w(2)? },
        _ => return Err(CompatError::BadRequest),
    };
    Ok((r, flags & FREE != 0))
}

/// A return's fixed words (the Parcel of `Reply` and `Transaction` follows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Done,
    Reply { android: u32 },
    Status(i32),
    Transaction { ptr: u64, cookie: u64, code: u32, flags: u32, uid: u32, pid: u32, android: u32 },
    DeadBinder(u64),
    Nothing,
}

/// A return's message, without its Parcel.
pub fn answer(a: Answer) -> Long {
    let mut m;
    match a {
        Answer::Done => m = Long::new(DONE),
        Answer::Reply { android } => {
            m = Long::new(REPLY);
            m.push(u64::from(android));
        }
        Answer::Status(s) => {
            m = Long::new(STATUS);
            m.push(u64::from(s as u32));
        }
        Answer::Transaction { ptr, cookie, code, flags, uid, pid, android } => {
            m = Long::new(TRANSACTION);
            for w in
                [ptr, cookie, u64::from(code), u64::from(flags), u64::from(uid), u64::from(pid), u64::from(android)]
            {
                m.push(w);
            }
        }
        Answer::DeadBinder(cookie) => {
            m = Long::new(DEAD_BINDER);
            m.push(cookie);
        }
        Answer::Nothing => m = Long::new(NOTHING),
    }
    m
}

/// Reads a return's fixed words; a refusal is its [`CompatError`].
pub fn read_answer(m: &Long) -> Result<Answer, CompatError> {
    let w = |i: usize| m.words[..m.len].get(i).copied().ok_or(CompatError::BadRequest);
    let u32_of = |v: u64| u32::try_from(v).map_err(|_| CompatError::BadRequest);
    Ok(match m.label {
        DONE => Answer::Done,
        REPLY => Answer::Reply { android: u32_of(w(0)?)? },
        STATUS => Answer::Status(u32_of(w(0)?)? as i32),
        TRANSACTION => Answer::Transaction {
            ptr: w(0)?,
            cookie: w(1)?,
            code: u32_of(w(2)?)?,
            flags: u32_of(w(3)?)?,
            uid: u32_of(w(4)?)?,
            pid: u32_of(w(5)?)?,
            android: u32_of(w(6)?)?,
        },
        DEAD_BINDER => Answer::DeadBinder(w(0)?),
        NOTHING => Answer::Nothing,
        code => return Err(CompatError::from_code(code).unwrap_or(CompatError::BadRequest)),
    })
}

/// A refusal.
pub fn refuse(e: CompatError) -> Long {
    Long::new(e.code())
}

/// A registered service, as `SERVICE` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceEntry<'a> {
    pub name: &'a str,
    /// The process hosting it (compat's own for its services).
    pub pid: u32,
    /// Hosted by compat itself.
    pub own: bool,
}

/// An interface compat routes, as `ROUTES` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEntry<'a> {
    pub interface: &'a str,
    /// 0: the legacy implementation inside compat; 1: the native server.
    pub native: bool,
    /// Backend calls made on each route so far: [legacy, native].
    pub served: [u64; 2],
}

/// The driver's counts, as `STATS` answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub transactions: u64,
    pub oneway: u64,
    pub replies: u64,
    pub failed: u64,
    pub dead_replies: u64,
    pub obituaries: u64,
    pub clients: u64,
    pub nodes: u64,
    pub handles: u64,
    /// Oneway calls waiting behind another to the same binder.
    pub oneway_queued: u64,
}

impl Stats {
    fn words(&self) -> [u64; 10] {
        [
            self.transactions,
            self.oneway,
            self.replies,
            self.failed,
            self.dead_replies,
            self.obituaries,
            self.clients,
            self.nodes,
            self.handles,
            self.oneway_queued,
        ]
    }
}

/// The longest name `SERVICE` and `ROUTES` carry (a ServiceManager name's limit).
pub const ADMIN_NAME_MAX: usize = 127;

/// An administration request: `SERVICE` or `ROUTES` with an index, or `STATS`.
pub fn admin(label: u32, index: u64) -> Long {
    let mut m = Long::new(label);
    m.push(index);
    m
}

/// Reads an administration request: its label and index; None for any other message.
pub fn read_admin(m: &Long) -> Option<(u32, u64)> {
    match m.label {
        SERVICE | ROUTES | STATS => Some((m.label, m.words[..m.len].first().copied().unwrap_or(0))),
        _ => None,
    }
}

pub fn service_entry(e: &ServiceEntry) -> Long {
    let mut m = Long::new(DONE);
    m.push(u64::from(e.pid) | u64::from(e.own) << 32);
    m.push_bytes(&e.name.as_bytes()[..e.name.len().min(ADMIN_NAME_MAX)]);
    m
}

fn refused(m: &Long) -> CompatError {
    CompatError::from_code(m.label).unwrap_or(CompatError::BadRequest)
}

pub fn read_service_entry<'a>(m: &Long, buf: &'a mut [u8; ADMIN_NAME_MAX]) -> Result<ServiceEntry<'a>, CompatError> {
    if m.label != DONE {
        return Err(refused(m));
    }
    let mut r = m.reader(0);
    let w = r.word().ok_or(CompatError::BadRequest)?;
    let name = r.text(ADMIN_NAME_MAX, buf).ok_or(CompatError::BadRequest)?;
    Ok(ServiceEntry { name, pid: w as u32, own: w >> 32 & 1 != 0 })
}

pub fn route_entry(e: &RouteEntry) -> Long {
    let mut m = Long::new(DONE);
    m.push(u64::from(e.native));
    m.push(e.served[0]);
    m.push(e.served[1]);
    m.push_bytes(&e.interface.as_bytes()[..e.interface.len().min(ADMIN_NAME_MAX)]);
    m
}

pub fn read_route_entry<'a>(m: &Long, buf: &'a mut [u8; ADMIN_NAME_MAX]) -> Result<RouteEntry<'a>, CompatError> {
    if m.label != DONE {
        return Err(refused(m));
    }
    let mut r = m.reader(0);
    let (native, legacy_served, native_served) = (r.word(), r.word(), r.word());
    let (Some(native), Some(a), Some(b)) = (native, legacy_served, native_served) else {
        return Err(CompatError::BadRequest);
    };
    let interface = r.text(ADMIN_NAME_MAX, buf).ok_or(CompatError::BadRequest)?;
    Ok(RouteEntry { interface, native: native != 0, served: [a, b] })
}

pub fn stats(s: &Stats) -> Long {
    let mut m = Long::new(DONE);
    for w in s.words() {
        m.push(w);
    }
    m
}

pub fn read_stats(m: &Long) -> Result<Stats, CompatError> {
    if m.label != DONE {
        return Err(refused(m));
    }
    let w = &m.words[..m.len];
    if w.len() != 10 {
        return Err(CompatError::BadRequest);
    }
    Ok(Stats {
        transactions: w[0],
        oneway: w[1],
        replies: w[2],
        failed: w[3],
        dead_replies: w[4],
        obituaries: w[5],
        clients: w[6],
        nodes: w[7],
        handles: w[8],
        oneway_queued: w[9],
    })
}

/// The answer to `CONNECT`: `DONE`, with the uid and pid compat knows the caller by.
pub fn connected(uid: u32, pid: u32) -> Long {
    let mut m = Long::new(DONE);
    m.push(u64::from(uid));
    m.push(u64::from(pid));
    m
}

/// Reads the answer to `CONNECT`: the caller's (uid, pid), or why it was refused.
pub fn read_connected(m: &Long) -> Result<(u32, u32), CompatError> {
    match (m.label, &m.words[..m.len]) {
        (DONE, &[uid, pid]) => Ok((
            u32::try_from(uid).map_err(|_| CompatError::BadRequest)?,
            u32::try_from(pid).map_err(|_| CompatError::BadRequest)?,
        )),
        (DONE, _) => Err(CompatError::BadRequest),
        (code, _) => Err(CompatError::from_code(code).unwrap_or(CompatError::BadRequest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let all = [
            Request::Connect { android: 14, frame_pages: 16 },
            Request::Transact { handle: 3, code: 0x5f50_4e47, flags: 0x11 },
            Request::Reply { status: -32, wait: true },
            Request::Reply { status: 0, wait: false },
            Request::Wait { block: true },
            Request::Wait { block: false },
            Request::Release { handle: 9, count: 2 },
            Request::Link { handle: 9, cookie: u64::MAX },
            Request::Unlink { handle: 9, cookie: 1 },
        ];
        for r in all {
            for free in [false, true] {
                assert_eq!(decode(&request(r, free)), Ok((r, free)), "{r:?}");
            }
        }
        let mut bad = request(Request::Wait { block: true }, false);
        bad.words[0] |= 8;
        assert_eq!(decode(&bad), Err(CompatError::BadRequest), "an unknown flag");
        assert_eq!(decode(&Long::new(TRANSACT)), Err(CompatError::BadRequest), "no words");
        let mut big = request(Request::Transact { handle: 1, code: 1, flags: 0 }, false);
        big.words[1] = 1 << 32;
        assert_eq!(decode(&big), Err(CompatError::BadRequest), "a handle past 32 bits");
        assert_eq!(decode(&Long::new(99)), Err(CompatError::BadRequest));
    }

    #[test]
    fn answers_round_trip() {
        let all = [
            Answer::Done,
            Answer::Reply { android: 12 },
            Answer::Status(-32),
            Answer::Status(i32::MIN + 2),
            Answer::Transaction { ptr: 1 << 40, cookie: 7, code: 1, flags: 0x11, uid: 10_001, pid: 0, android: 10 },
            Answer::DeadBinder(42),
            Answer::Nothing,
        ];
        for a in all {
            assert_eq!(read_answer(&answer(a)), Ok(a));
        }
        assert_eq!(read_answer(&refuse(CompatError::NoFrame)), Err(CompatError::NoFrame));
        assert_eq!(read_connected(&connected(10_001, 42)), Ok((10_001, 42)));
        assert_eq!(read_connected(&answer(Answer::Done)), Err(CompatError::BadRequest));
        assert_eq!(read_connected(&refuse(CompatError::BadRelease)), Err(CompatError::BadRelease));
    }

    #[test]
    fn administration_round_trips() {
        let mut buf = [0; ADMIN_NAME_MAX];
        assert_eq!(read_admin(&admin(SERVICE, 3)), Some((SERVICE, 3)));
        assert_eq!(read_admin(&admin(STATS, 0)), Some((STATS, 0)));
        assert_eq!(read_admin(&request(Request::Wait { block: false }, false)), None);
        let e = ServiceEntry { name: "com.example.IThing/default", pid: 12, own: true };
        assert_eq!(read_service_entry(&service_entry(&e), &mut buf), Ok(e));
        let r = RouteEntry { interface: "weather", native: true, served: [5, u64::MAX] };
        assert_eq!(read_route_entry(&route_entry(&r), &mut buf), Ok(r));
        assert_eq!(read_route_entry(&refuse(CompatError::NoSuchEntry), &mut buf), Err(CompatError::NoSuchEntry));
        let s = Stats {
            transactions: 1,
            oneway: 2,
            replies: 3,
            failed: 4,
            dead_replies: 5,
            obituaries: 6,
            clients: 7,
            nodes: 8,
            handles: 9,
            oneway_queued: 10,
        };
        assert_eq!(read_stats(&stats(&s)), Ok(s));
        assert_eq!(read_stats(&answer(Answer::Done)), Err(CompatError::BadRequest));
    }

    #[test]
    fn parcels_travel_in_the_message_when_they_fit_and_in_the_frame_when_not() {
        let (mut data, mut offsets) = ([0u8; PARCEL_MAX], [0u32; OBJECTS_MAX]);
        let bytes: [u8; 13] = core::array::from_fn(|i| i as u8 + 1);
        let mut m = request(Request::Transact { handle: 1, code: 2, flags: 0 }, false);
        assert!(push_parcel(&mut m, &bytes, &[0, 8, 4]));
        let h = read_parcel(&m, TRANSACT_PARCEL_AT, &mut data, &mut offsets).unwrap();
        assert_eq!(h, ParcelHeader { len: 13, objects: 3, in_frame: false });
        assert_eq!((&data[..13], &offsets[..3]), (&bytes[..], &[0, 8, 4][..]));
        // The largest that fits after a transaction's fixed words, and one byte more.
        let room = (MSG_MAX_WORDS - TRANSACTION_PARCEL_AT - 1) * 8;
        let mut m = answer(Answer::Transaction { ptr: 1, cookie: 2, code: 3, flags: 0, uid: 4, pid: 5, android: 14 });
        assert!(push_parcel(&mut m, &data[..room], &[]));
        let mut m = answer(Answer::Transaction { ptr: 1, cookie: 2, code: 3, flags: 0, uid: 4, pid: 5, android: 14 });
        assert!(!push_parcel(&mut m, &data[..room + 1], &[]));
        let h = read_parcel(&m, TRANSACTION_PARCEL_AT, &mut data, &mut offsets).unwrap();
        assert!(h.in_frame);
        // The Frame's layout: bytes, then offsets at the next multiple of 8.
        let mut frame = [0xeeu8; 64];
        assert!(write_frame(&mut frame, &bytes, &[4, 40]));
        assert_eq!(&frame[16..24], &[4, 0, 0, 0, 40, 0, 0, 0]);
        let h = ParcelHeader { len: 13, objects: 2, in_frame: true };
        assert!(read_frame(&frame, h, &mut data, &mut offsets));
        assert_eq!((&data[..13], &offsets[..2]), (&bytes[..], &[4, 40][..]));
        assert!(!write_frame(&mut frame[..20], &bytes, &[4, 40]), "too small a Frame");
        assert!(!read_frame(&frame[..20], h, &mut data, &mut offsets));
    }

    #[test]
    fn lying_headers_are_refused() {
        let (mut data, mut offsets) = ([0u8; 64], [0u32; 8]);
        let mut m = Long::new(REPLY);
        m.push(14);
        m.push(ParcelHeader { len: 100, objects: 0, in_frame: false }.word());
        assert_eq!(read_parcel(&m, REPLY_PARCEL_AT, &mut data, &mut offsets), None, "words missing");
        m.push(ParcelHeader { len: PARCEL_MAX as u32 + 1, objects: 0, in_frame: true }.word());
        assert_eq!(read_parcel(&m, 2, &mut data, &mut offsets), None, "too long");
        assert_eq!(ParcelHeader::from_word(1 << 50), None, "unknown bits");
        assert_eq!(ParcelHeader::from_word((OBJECTS_MAX as u64 + 1) << 32), None);
    }
}
