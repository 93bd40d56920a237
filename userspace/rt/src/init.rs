//! Init's service (`ipc::proto::init`) from a program that uses it (`uses = ["init"]`).

use crate::sys::{self, Msg};
use crate::Failed;
use alloc::string::String;
use ipc::cap::Slot;
use ipc::proto::init::{self as proto, ChildInfo, InitError, Request};
use ipc::proto::Message;

/// Sends `request` to init's service at `init`; init's answer.
pub fn ask(init: Slot, request: Request) -> Result<Message, Failed<InitError>> {
    let message = proto::encode(request).ok_or(Failed::Server(InitError::BadRequest))?;
    let answer = sys::call_ep(init, &Msg::from_proto(&message))?;
    answer.proto().ok_or(Failed::Server(InitError::BadRequest))
}

/// Child `index` of init: its name and state; None past the last.
pub fn child(init: Slot, index: u64) -> Result<Option<(String, ChildInfo)>, Failed<InitError>> {
    let answer = ask(init, Request::Child(index))?;
    let mut buf = [0; 64];
    Ok(proto::read_child(&answer, &mut buf).map_err(Failed::Server)?.map(|(name, info)| (String::from(name), info)))
}

/// The child of init named `name`: its place in init's list and its state; None if init
/// has none of that name (or could not be asked).
pub fn find(init: Slot, name: &str) -> Option<(u64, ChildInfo)> {
    (0..).map_while(|i| Some((i, child(init, i).ok()??))).find(|(_, (n, _))| n == name).map(|(i, (_, info))| (i, info))
}

/// Asks to hear of every child's end: bit *index* of `deaths` (an unbadged Notification),
/// then a signal of `doorbell` (`proto::WATCH`).
pub fn watch(init: Slot, deaths: Slot, doorbell: Slot) -> Result<(), Failed<InitError>> {
    crate::cap::set_send_cap(0, deaths);
    crate::cap::set_send_cap(1, doorbell);
    proto::read_done(&ask(init, Request::Watch)?).map_err(Failed::Server)
}
