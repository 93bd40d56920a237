//! The client's end of `ipc::proto::compat`: a command as a message (its Parcel in the
//! message or the Frame), and a return read back into Parcels. The server's end is
//! `compat_core::wire`.

use super::Channel;
use crate::{Android, Parcel, StatusCode};
use alloc::vec;
use alloc::vec::Vec;
use ipc::proto::compat::{self as proto, Answer, CompatError, ParcelHeader, Request};
use ipc::proto::Long;

/// A transaction to one of this process's binders.
#[derive(Debug)]
pub struct Incoming {
    pub ptr: u64,
    pub cookie: u64,
    pub code: u32,
    pub flags: u32,
    pub uid: u32,
    /// 0 for a oneway call, as on Android.
    pub pid: u32,
    pub data: Parcel,
}

/// A return, as the client reads it.
#[derive(Debug)]
pub enum Return {
    Done,
    Reply(Parcel),
    Status(StatusCode),
    Transaction(Incoming),
    DeadBinder(u64),
    Nothing,
}

/// What a refused request means to a caller: compat gone or not knowing it is a dead
/// object; a malformed request is the caller's bad value.
fn status_of(e: CompatError) -> StatusCode {
    match e {
        CompatError::NotConnected => StatusCode::DeadObject,
        _ => StatusCode::BadValue,
    }
}

/// Sends one request (with `parcel`, for those that carry one) and reads its return.
pub fn call(ch: &mut dyn Channel, request: Request, free: bool, parcel: Option<&Parcel>) -> Result<Return, StatusCode> {
    let mut m = proto::request(request, free);
    if let Some(p) = parcel {
        if p.data().len() > proto::PARCEL_MAX || p.objects().len() > proto::OBJECTS_MAX {
            return Err(StatusCode::FailedTransaction);
        }
        if !put_parcel(&mut m, p.data(), p.objects(), ch.frame()) {
            return Err(StatusCode::FailedTransaction);
        }
    }
    let answer = ch.call(&m).map_err(|_| StatusCode::DeadObject)?;
    read_return(ch, &answer)
}

fn read_return(ch: &mut dyn Channel, m: &Long) -> Result<Return, StatusCode> {
    Ok(match proto::read_answer(m).map_err(status_of)? {
        Answer::Done => Return::Done,
        Answer::Nothing => Return::Nothing,
        Answer::Status(s) => Return::Status(StatusCode::from_i32(s)),
        Answer::DeadBinder(cookie) => Return::DeadBinder(cookie),
        Answer::Reply { android } => Return::Reply(read_parcel(ch, m, proto::REPLY_PARCEL_AT, android)?),
        Answer::Transaction { ptr, cookie, code, flags, uid, pid, android } => {
            let data = read_parcel(ch, m, proto::TRANSACTION_PARCEL_AT, android)?;
            Return::Transaction(Incoming { ptr, cookie, code, flags, uid, pid, data })
        }
    })
}

/// Appends a Parcel (its bytes and object offsets) to `m`: in the message if it fits, else
/// its header alone and the Parcel in `frame`. False if it fits neither. Both ends of the
/// wire write Parcels with it.
pub fn put_parcel(m: &mut Long, data: &[u8], offsets: &[usize], frame: Option<&mut [u8]>) -> bool {
    let offsets: Vec<u32> = offsets.iter().map(|&o| o as u32).collect();
    proto::push_parcel(m, data, &offsets) || frame.is_some_and(|f| proto::write_frame(f, data, &offsets))
}

/// Why a Parcel could not be taken from a message: the words are wrong, or it is said to
/// be in a Frame and there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Parcel,
    Frame,
}

/// The bytes and object offsets of the Parcel whose header is word `at` of `m`, from the
/// message or from `frame`. Both ends of the wire read Parcels with it.
pub fn take_parcel(m: &Long, at: usize, frame: Option<&[u8]>) -> Result<(Vec<u8>, Vec<usize>), Missing> {
    let header = m.words[..m.len].get(at).and_then(|&w| ParcelHeader::from_word(w)).ok_or(Missing::Parcel)?;
    let (mut data, mut offsets) = (vec![0u8; header.len as usize], vec![0u32; usize::from(header.objects)]);
    let read = match header.in_frame {
        true => proto::read_frame(frame.ok_or(Missing::Frame)?, header, &mut data, &mut offsets),
        false => proto::read_parcel(m, at, &mut data, &mut offsets).is_some(),
    };
    match read {
        true => Ok((data, offsets.into_iter().map(|o| o as usize).collect())),
        false => Err(Missing::Parcel),
    }
}

/// The Parcel of a return, from the message or the Frame, in the writer's release.
fn read_parcel(ch: &mut dyn Channel, m: &Long, at: usize, android: u32) -> Result<Parcel, StatusCode> {
    let android = Android::from_number(android).ok_or(StatusCode::BadValue)?;
    let (data, offsets) = take_parcel(m, at, ch.frame().as_deref()).map_err(|_| StatusCode::BadValue)?;
    Parcel::from_vecs(data, offsets, android).ok_or(StatusCode::BadValue)
}

/// `CONNECT`: the uid and pid compat knows this process by.
pub fn connect(ch: &mut dyn Channel, android: Android, frame_pages: u64) -> Result<(u32, u32), StatusCode> {
    let m = proto::request(Request::Connect { android: android.number(), frame_pages }, false);
    let answer = ch.call(&m).map_err(|_| StatusCode::DeadObject)?;
    proto::read_connected(&answer).map_err(status_of)
}
