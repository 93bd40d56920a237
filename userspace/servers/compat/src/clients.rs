//! What the process keeps per client beside the core's state: the reply capability of the
//! call it waits in, and its Frame, mapped at a window of its own.

use alloc::collections::BTreeMap;
use compat_core::driver::ClientId;
use ipc::cap::{Slot, SELF};
use ipc::layout::PAGE_SIZE;
use ipc::proto::compat::{CompatError, FRAME_PAGES_MAX};
use ipc::proto::Long;
use ipc::syscall::MapFlags;
use rt::{cap, ipc, long, sys};

/// Where client `n`'s Frame is mapped: `WINDOWS + n * WINDOW_BYTES`.
const WINDOWS: u64 = 0x0000_5000_0000_0000;
const WINDOW_BYTES: u64 = FRAME_PAGES_MAX * PAGE_SIZE;

#[derive(Default)]
struct Client {
    /// The reply capability of its call, while it waits for a return.
    waiting: Option<Slot>,
    /// Its Frame's capability and size in bytes, mapped at its window.
    frame: Option<(Slot, usize)>,
}

pub struct Clients(BTreeMap<ClientId, Client>);

/// Whether `incoming` holds a Frame of exactly `pages` pages, as many as compat maps.
pub fn check_frame(incoming: Slot, pages: u64) -> Result<(), CompatError> {
    match sys::frame_pages(incoming) {
        Ok(p) if p == pages && pages <= FRAME_PAGES_MAX => Ok(()),
        _ => Err(CompatError::BadFrame),
    }
}

fn window(client: ClientId) -> u64 {
    WINDOWS + u64::from(client) * WINDOW_BYTES
}

impl Clients {
    pub fn new() -> Clients {
        Clients(BTreeMap::new())
    }

    /// The bytes of `client`'s Frame, if it gave one.
    pub fn frame(&mut self, client: ClientId) -> Option<&mut [u8]> {
        let (_, len) = self.0.get_mut(&client)?.frame?;
        // SAFETY: `len` bytes of a Frame are mapped writable at the client's window while
        // `frame` is Some (`map_frame`, `forget`), nothing else is mapped there, and the
        // slice borrows `self` mutably, so it is the only one. The client may write the
        // Frame meanwhile; compat only copies Parcels in and out and checks what it reads.
        Some(unsafe { core::slice::from_raw_parts_mut(window(client) as *mut u8, len) })
    }

    /// Maps the Frame in `incoming` (of `pages` pages, readable and writable) as
    /// `client`'s; its size in bytes.
    pub fn map_frame(&mut self, client: ClientId, incoming: Slot, pages: u64) -> Result<usize, CompatError> {
        check_frame(incoming, pages)?;
        let slot = cap::alloc().map_err(|_| CompatError::BadFrame)?;
        if sys::cap_move(incoming, slot, SELF).is_err() {
            cap::free(slot);
            return Err(CompatError::BadFrame);
        }
        match sys::frame_map(slot, window(client), MapFlags::WRITE, SELF) {
            Ok(()) => {
                let len = (pages * PAGE_SIZE) as usize;
                self.0.entry(client).or_default().frame = Some((slot, len));
                Ok(len)
            }
            Err(_) => {
                cap::release(slot);
                Err(CompatError::BadFrame)
            }
        }
    }

    /// Keeps the reply capability in `reply` until `client` is answered; false if there is
    /// no slot for it.
    pub fn wait(&mut self, client: ClientId, reply: Slot) -> bool {
        let Ok(slot) = cap::alloc() else { return false };
        if sys::cap_move(reply, slot, SELF).is_err() {
            cap::free(slot);
            return false;
        }
        let c = self.0.entry(client).or_default();
        if let Some(old) = c.waiting.replace(slot) {
            cap::release(old);
        }
        true
    }

    /// Answers `client`'s waiting call with `m`; false if it does not wait.
    pub fn answer(&mut self, client: ClientId, m: &Long) -> bool {
        let Some(slot) = self.0.get_mut(&client).and_then(|c| c.waiting.take()) else { return false };
        // Answering uses the capability up; if the caller is gone, it is deleted here.
        let _ = long::reply(slot, m);
        cap::release(slot);
        true
    }

    /// Forgets `client`: a call it waited in is dropped, its Frame unmapped.
    pub fn forget(&mut self, client: ClientId) {
        let Some(c) = self.0.remove(&client) else { return };
        if let Some(slot) = c.waiting {
            cap::release(slot);
        }
        if let Some((slot, len)) = c.frame {
            // SAFETY: no slice of the window outlives the borrow `frame` gave it, and the
            // client's entry, which `frame` reads, is gone.
            let unmapped = unsafe { sys::unmap(window(client), len as u64) };
            debug_assert!(unmapped.is_ok(), "the window was mapped");
            cap::release(slot);
        }
    }
}
