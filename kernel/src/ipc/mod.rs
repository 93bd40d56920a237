//! IPC objects: endpoints (synchronous rendezvous) and notifications (asynchronous signal
//! words). Their state machines are pure and host-tested; moving messages between threads,
//! blocking and waking is `crate::task::ipc`'s work, and the fast path is in `fastpath.rs`.

pub mod endpoint;
#[cfg(target_os = "none")]
pub mod fastpath;
pub mod notification;

pub use endpoint::Endpoint;
pub use notification::Notification;

use crate::sched::Tid;
use alloc::collections::VecDeque;

/// Takes `tid` out of a wait queue; whether it was there.
fn remove(queue: &mut VecDeque<Tid>, tid: Tid) -> bool {
    let before = queue.len();
    queue.retain(|&t| t != tid);
    before != queue.len()
}
