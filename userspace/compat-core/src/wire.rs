//! Commands and returns on the wire (`ipc::proto::compat`): what the compat process reads
//! from a client's message (and its Frame) and writes back. Here rather than in the process
//! so that it is tested on the host with the driver.

use crate::driver::{Command, Limits, Payload, Return, Transaction};

use binder::client::wire::Missing;
use binder::{Android, StatusCode};
use ipc::msg::MSG_MAX_WORDS;
use ipc::proto::compat::{self as proto, Answer, CompatError, Request};
use ipc::proto::Long;

/// The most objects a Parcel carried in the message may have, for a client without a Frame.
pub const INLINE_OBJECTS: usize = 16;

/// A request as compat reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A client says which release it speaks and how large its Frame is.
    Connect { android: Android, frame_pages: u64 },
    /// A driver command, and whether the client is done with its last oneway call.
    Command { free: bool, command: Command },
}

/// Reads a request; a Parcel in the Frame is read from `frame` (the client's, mapped).
pub fn read_request(m: &Long, frame: Option<&[u8]>) -> Result<Incoming, CompatError> {
    let (request, free) = proto::decode(m)?;
    let command = match request {
        Request::Connect { android, frame_pages } => {
            let android =
                Android::from_number(android).filter(|a| *a >= Android::V10).ok_or(CompatError::BadRelease)?;
            if frame_pages > proto::FRAME_PAGES_MAX {
                return Err(CompatError::BadFrame);
            }
            return Ok(Incoming::Connect { android, frame_pages });
        }
        Request::Transact { handle, code, flags } => {
            let payload = read_payload(m, proto::TRANSACT_PARCEL_AT, frame)?;
            Command::Transact { handle, code, flags, payload }
        }
        Request::Reply { status: 0, wait } => {
            Command::Reply { result: Ok(read_payload(m, proto::REPLY_TO_PARCEL_AT, frame)?), wait }
        }
        Request::Reply { status, wait } => Command::Reply { result: Err(StatusCode::from_i32(status)), wait },
        Request::Wait { block } => Command::Wait { block },
        Request::Release { handle, count } => Command::Release { handle, count },
        Request::Link { handle, cookie } => Command::LinkToDeath { handle, cookie },
        Request::Unlink { handle, cookie } => Command::UnlinkToDeath { handle, cookie },
    };
    Ok(Incoming::Command { free, command })
}

fn read_payload(m: &Long, at: usize, frame: Option<&[u8]>) -> Result<Payload, CompatError> {
    match binder::client::wire::take_parcel(m, at, frame) {
        Ok((data, offsets)) => Ok(Payload { data, offsets }),
        Err(Missing::Frame) => Err(CompatError::NoFrame),
        Err(Missing::Parcel) => Err(CompatError::BadRequest),
    }
}

/// The message answering a client with `ret`, a Parcel too large for it written into the
/// client's `frame`. The driver never gives a client more than its [`limits`], so a Parcel
/// always fits one or the other; if it did not, the answer is `FAILED_TRANSACTION`.
pub fn write_return(ret: &Return, frame: Option<&mut [u8]>) -> Long {
    let (mut m, payload) = match ret {
        Return::Done => (proto::answer(Answer::Done), None),
        Return::Nothing => (proto::answer(Answer::Nothing), None),
        Return::Status(s) => (proto::answer(Answer::Status(*s as i32)), None),
        Return::DeadBinder(cookie) => (proto::answer(Answer::DeadBinder(*cookie)), None),
        Return::Reply(p, android) => (proto::answer(Answer::Reply { android: android.number() }), Some(p)),
        Return::Transaction(t) => (proto::answer(transaction(t)), Some(&t.payload)),
    };
    if let Some(p) = payload {
        if !binder::client::wire::put_parcel(&mut m, &p.data, &p.offsets, frame) {
            return proto::answer(Answer::Status(StatusCode::FailedTransaction as i32));
        }
    }
    m
}

fn transaction(t: &Transaction) -> Answer {
    Answer::Transaction {
        ptr: t.ptr,
        cookie: t.cookie,
        code: t.code,
        flags: t.flags,
        uid: t.uid,
        pid: t.pid,
        android: t.android.number(),
    }
}

/// What a client with a Frame of `frame_bytes` (0 for none) can be given.
pub fn limits(frame_bytes: usize) -> Limits {
    if frame_bytes == 0 {
        // The smallest room any return leaves in a message, less the offsets' words.
        let words = MSG_MAX_WORDS - proto::TRANSACTION_PARCEL_AT - 1 - INLINE_OBJECTS / 2;
        return Limits { bytes: words * 8, objects: INLINE_OBJECTS };
    }
    let objects = crate::driver::OBJECTS_MAX;
    Limits { bytes: (frame_bytes - objects * 4 - 8).min(proto::PARCEL_MAX), objects }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use binder::codes::FLAG_ONEWAY;

    fn round_trip(ret: Return, frame: &mut [u8]) -> (Answer, Option<Payload>) {
        let m = write_return(&ret, Some(frame));
        let a = proto::read_answer(&m).unwrap();
        let at = match a {
            Answer::Reply { .. } => proto::REPLY_PARCEL_AT,
            Answer::Transaction { .. } => proto::TRANSACTION_PARCEL_AT,
            _ => return (a, None),
        };
        let (mut data, mut offsets) = (vec![0u8; proto::PARCEL_MAX], vec![0u32; proto::OBJECTS_MAX]);
        let h = proto::read_parcel(&m, at, &mut data, &mut offsets).unwrap();
        if h.in_frame {
            assert!(proto::read_frame(frame, h, &mut data, &mut offsets));
        }
        let (len, n) = (h.len as usize, usize::from(h.objects));
        (a, Some(Payload { data: data[..len].to_vec(), offsets: offsets[..n].iter().map(|&o| o as usize).collect() }))
    }

    #[test]
    fn commands_read_from_the_message_and_the_frame() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut m = proto::request(Request::Transact { handle: 3, code: 9, flags: FLAG_ONEWAY }, true);
        assert!(proto::push_parcel(&mut m, &data, &[8]));
        let want = Command::Transact {
            handle: 3,
            code: 9,
            flags: FLAG_ONEWAY,
            payload: Payload { data: data.clone(), offsets: vec![8] },
        };
        assert_eq!(read_request(&m, None), Ok(Incoming::Command { free: true, command: want.clone() }));
        // The same in the Frame.
        let big = vec![7u8; 4000];
        let mut m = proto::request(Request::Reply { status: 0, wait: true }, false);
        assert!(!proto::push_parcel(&mut m, &big, &[0, 24]));
        assert_eq!(read_request(&m, None), Err(CompatError::NoFrame));
        let mut frame = vec![0u8; 8192];
        assert!(proto::write_frame(&mut frame, &big, &[0, 24]));
        let want = Command::Reply { result: Ok(Payload { data: big.clone(), offsets: vec![0, 24] }), wait: true };
        assert_eq!(read_request(&m, Some(&frame)), Ok(Incoming::Command { free: false, command: want }));
        assert_eq!(read_request(&m, Some(&frame[..100])), Err(CompatError::BadRequest), "a Frame too small");
        // A status reply, a connect, refusals.
        let m = proto::request(Request::Reply { status: -32, wait: false }, false);
        let want = Command::Reply { result: Err(StatusCode::DeadObject), wait: false };
        assert_eq!(read_request(&m, None), Ok(Incoming::Command { free: false, command: want }));
        let m = proto::request(Request::Connect { android: 12, frame_pages: 4 }, false);
        assert_eq!(read_request(&m, None), Ok(Incoming::Connect { android: Android::V12, frame_pages: 4 }));
        for android in [9, 15, 0, u32::MAX] {
            let m = proto::request(Request::Connect { android, frame_pages: 0 }, false);
            assert_eq!(read_request(&m, None), Err(CompatError::BadRelease), "{android}");
        }
        let m = proto::request(Request::Connect { android: 14, frame_pages: 17 }, false);
        assert_eq!(read_request(&m, None), Err(CompatError::BadFrame));
        let m = proto::request(Request::Transact { handle: 1, code: 1, flags: 0 }, false);
        assert_eq!(read_request(&m, None), Err(CompatError::BadRequest), "no Parcel");
    }

    #[test]
    fn returns_go_in_the_message_or_the_frame_and_read_back() {
        let mut frame = vec![0u8; 16 * 4096];
        for len in [0usize, 5, 900, 5000, limits(frame.len()).bytes] {
            let payload = Payload { data: (0..len).map(|i| i as u8).collect(), offsets: vec![0; len.min(2) / 2] };
            let t = Transaction {
                ptr: 1 << 33,
                cookie: 5,
                code: 2,
                flags: 0x10,
                uid: 10_001,
                pid: 11,
                android: Android::V11,
                payload: payload.clone(),
            };
            let (a, p) = round_trip(Return::Transaction(t), &mut frame);
            assert!(matches!(a, Answer::Transaction { ptr, android: 11, .. } if ptr == 1 << 33), "{a:?}");
            assert_eq!(p.as_ref(), Some(&payload), "{len}");
            let (a, p) = round_trip(Return::Reply(payload.clone(), Android::V12), &mut frame);
            assert_eq!((a, p), (Answer::Reply { android: 12 }, Some(payload)));
        }
        for r in [Return::Done, Return::Nothing, Return::DeadBinder(9), Return::Status(StatusCode::DeadObject)] {
            let (a, _) = round_trip(r.clone(), &mut frame);
            let want = match r {
                Return::Done => Answer::Done,
                Return::Nothing => Answer::Nothing,
                Return::DeadBinder(c) => Answer::DeadBinder(c),
                _ => Answer::Status(-32),
            };
            assert_eq!(a, want);
        }
        // Without a Frame, what the limits allow fits the message.
        let l = limits(0);
        let payload = Payload { data: vec![1; l.bytes], offsets: vec![0; l.objects] };
        let t = Transaction {
            ptr: 1,
            cookie: 0,
            code: 1,
            flags: 0,
            uid: 0,
            pid: 0,
            android: Android::V14,
            payload: payload.clone(),
        };
        let m = write_return(&Return::Transaction(t), None);
        assert_eq!(m.label, proto::TRANSACTION);
        let big = Payload { data: vec![1; MSG_MAX_WORDS * 8], offsets: Vec::new() };
        let m = write_return(&Return::Reply(big, Android::V14), None);
        assert_eq!(proto::read_answer(&m), Ok(Answer::Status(StatusCode::FailedTransaction as i32)));
    }
}
