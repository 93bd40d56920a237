//! The client side: what a legacy program uses to talk to services through the compat
//! server, with libbinder's shape. [`Process`] is the connection (libbinder's
//! `ProcessState` and `IPCThreadState` in one: a Seam program has one thread);
//! [`SpIBinder`] is a binder, a proxy for someone else's or one of this program's own
//! ([`Service`]); [`ServiceManager`] is handle 0.
//!
//! It runs over a [`Channel`], which carries one `ipc::proto::compat` request and brings
//! back its answer: on Seam, an endpoint to compat and a Frame (`binder::seam`, feature
//! `seam`); in tests, the compat server's own code.
//!
//! - **Calls.** [`SpIBinder::transact`] sends a transaction and waits for its reply. While
//!   it waits, calls made to this program's own binders (a callback, or a nested call back
//!   into it) are executed as they arrive, as libbinder's threads do.
//! - **Own binders** are kept for the life of the program. A program that only serves calls
//!   loops in [`Process::join_thread_pool`]; one that does other work calls
//!   [`Process::poll`] now and then.
//! - **References.** Each binder a Parcel brings is a reference compat counted for this
//!   program. Read it into an [`SpIBinder`] ([`Process::read_strong_binder`]) before the
//!   program's next call; references that no live proxy holds are released at the start
//!   of the next call (as libbinder frees a received buffer).
//! - **Death.** [`SpIBinder::link_to_death`]: the recipient hears once when the binder's
//!   process dies, delivered like a call (while waiting, or in `poll`).

mod proxy;
mod sm;
pub mod wire;

pub use proxy::{Call, DeathRecipient, Service, SpIBinder};
pub use sm::{Refused, ServiceCallback, ServiceManager};

use crate::codes::{FLAG_ONEWAY, INTERFACE, PING};
use crate::{Android, Binder, Parcel, ParcelError, StatusCode};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use ipc::proto::compat::Request;
use ipc::proto::Long;
use proxy::Node;
use wire::{Incoming, Return};

/// What carries requests to compat: one message there, its answer back.
pub trait Channel {
    /// Sends `m` (a `CONNECT` also carries the Frame, if there is one) and returns the
    /// answer; an error if compat could not be reached (it died).
    fn call(&mut self, m: &Long) -> Result<Long, ipc::Error>;

    /// The Frame shared with compat, for Parcels too large for a message.
    fn frame(&mut self) -> Option<&mut [u8]>;
}

/// Who made the transaction being executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    uid: u32,
    pid: u32,
}

struct State {
    channel: Box<dyn Channel>,
    /// A oneway call was executed: tell compat with the next request (`FREE`).
    free: bool,
    /// References compat gave per handle, not yet released.
    held: BTreeMap<u32, u32>,
    proxies: BTreeMap<u32, Weak<Node>>,
    /// This program's binders, by pointer.
    locals: BTreeMap<u64, Rc<dyn Service>>,
    next_ptr: u64,
    /// Death links by cookie: the handle and who to tell.
    recipients: BTreeMap<u64, (u32, Rc<dyn DeathRecipient>)>,
    next_cookie: u64,
}

/// A program's connection to compat.
pub struct Process {
    state: RefCell<State>,
    android: Android,
    me: Identity,
    /// The callers of the transactions being executed, innermost last.
    calling: RefCell<Vec<Identity>>,
    /// Obituaries delivered so far.
    obituaries: Cell<u64>,
}

impl Process {
    /// Connects through `channel` as a program built for `android`; its Frame is the
    /// channel's.
    pub fn connect(mut channel: Box<dyn Channel>, android: Android) -> Result<Rc<Process>, StatusCode> {
        let pages = channel.frame().map_or(0, |f| f.len() as u64 / ipc::layout::PAGE_SIZE);
        let (uid, pid) = wire::connect(channel.as_mut(), android, pages)?;
        let state = State {
            channel,
            free: false,
            held: BTreeMap::new(),
            proxies: BTreeMap::new(),
            locals: BTreeMap::new(),
            next_ptr: 1,
            recipients: BTreeMap::new(),
            next_cookie: 1,
        };
        Ok(Rc::new(Process {
            state: RefCell::new(state),
            android,
            me: Identity { uid, pid },
            calling: RefCell::new(Vec::new()),
            obituaries: Cell::new(0),
        }))
    }

    /// The release this program was built for: the Parcels it writes are that release's.
    pub fn android(&self) -> Android {
        self.android
    }

    /// An empty Parcel of this program's release.
    pub fn parcel(&self) -> Parcel {
        Parcel::for_android(self.android)
    }

    /// The uid of the caller of the transaction being executed; this program's own outside
    /// one (`IPCThreadState::getCallingUid`).
    pub fn calling_uid(&self) -> u32 {
        self.calling.borrow().last().unwrap_or(&self.me).uid
    }

    /// The pid of the caller (0 for a oneway call); this program's own outside one.
    pub fn calling_pid(&self) -> u32 {
        self.calling.borrow().last().unwrap_or(&self.me).pid
    }

    /// Obituaries this program has received.
    pub fn obituaries(&self) -> u64 {
        self.obituaries.get()
    }

    /// The ServiceManager (handle 0).
    pub fn service_manager(self: &Rc<Self>) -> ServiceManager {
        ServiceManager::new(self.proxy(0))
    }

    /// Reads a binder from `p` as an [`SpIBinder`]: a proxy for a handle, or this
    /// program's own binder come back.
    pub fn read_strong_binder(self: &Rc<Self>, p: &mut Parcel) -> Result<Option<SpIBinder>, ParcelError> {
        Ok(match p.read_strong_binder()? {
            None => None,
            Some(Binder::Handle(h)) => Some(self.proxy(h)),
            Some(Binder::Local { ptr, .. }) => {
                let service = self.state.borrow().locals.get(&ptr).cloned();
                service.map(|s| SpIBinder::from_node(Node::Local { ptr, service: s, process: self.clone() }))
            }
        })
    }

    /// Makes `service` one of this program's binders, to pass to others in Parcels.
    pub fn add_local(self: &Rc<Self>, service: Rc<dyn Service>) -> SpIBinder {
        let ptr = {
            let mut s = self.state.borrow_mut();
            let ptr = s.next_ptr;
            s.next_ptr += 1;
            s.locals.insert(ptr, service.clone());
            ptr
        };
        SpIBinder::from_node(Node::Local { ptr, service, process: self.clone() })
    }

    /// The proxy for handle `h`, made once and shared while it lives.
    fn proxy(self: &Rc<Self>, h: u32) -> SpIBinder {
        let mut s = self.state.borrow_mut();
        if let Some(node) = s.proxies.get(&h).and_then(Weak::upgrade) {
            return SpIBinder(node);
        }
        let node = Rc::new(Node::Remote { handle: h, process: self.clone() });
        s.proxies.insert(h, Rc::downgrade(&node));
        SpIBinder(node)
    }

    /// Executes what has arrived for this program without waiting; how many it executed.
    pub fn poll(self: &Rc<Self>) -> Result<usize, StatusCode> {
        self.release_unused()?;
        let mut n = 0;
        let mut ret = self.request(Request::Wait { block: false }, None)?;
        loop {
            match ret {
                Return::Nothing => return Ok(n),
                other => {
                    n += 1;
                    ret = self.execute(other, false)?;
                }
            }
        }
    }

    /// Executes calls to this program's binders and obituaries as they come, for ever;
    /// returns only if compat cannot be reached.
    pub fn join_thread_pool(self: &Rc<Self>) -> StatusCode {
        let mut next = None;
        loop {
            let ret = match next.take() {
                Some(r) => Ok(r),
                None => self.release_unused().and_then(|()| self.request(Request::Wait { block: true }, None)),
            };
            match ret.and_then(|r| self.execute(r, true)) {
                Ok(Return::Nothing) => {}
                Ok(r) => next = Some(r),
                Err(e) => return e,
            }
        }
    }

    /// Sends a transaction to handle `h` and waits for its reply (oneway: until compat
    /// has queued it).
    fn transact(self: &Rc<Self>, h: u32, code: u32, data: &Parcel, flags: u32) -> Result<Parcel, StatusCode> {
        self.release_unused()?;
        let mut ret = self.request(Request::Transact { handle: h, code, flags }, Some(data))?;
        if flags & FLAG_ONEWAY != 0 {
            return match ret {
                Return::Done => Ok(self.parcel()),
                Return::Status(s) => Err(s),
                _ => Err(StatusCode::BadValue),
            };
        }
        loop {
            ret = match ret {
                Return::Reply(p) => {
                    self.count_handles(&p);
                    return Ok(p);
                }
                Return::Status(s) => return Err(s),
                // Done and Nothing do not answer a call: wait on.
                Return::Done | Return::Nothing => self.request(Request::Wait { block: true }, None)?,
                other => self.execute(other, true)?,
            };
        }
    }

    /// Acts on a return that is not the answer to a call of this program's (a transaction
    /// to one of its binders, an obituary); the next return, read at once when `wait`, else
    /// with a `WAIT` that does not block.
    fn execute(self: &Rc<Self>, ret: Return, wait: bool) -> Result<Return, StatusCode> {
        let next_wait = Request::Wait { block: wait };
        match ret {
            Return::Transaction(t) => {
                let oneway = t.flags & FLAG_ONEWAY != 0;
                let result = self.run(t);
                if oneway {
                    self.state.borrow_mut().free = true;
                    return self.request(next_wait, None);
                }
                match result {
                    Ok(reply) => self.request(Request::Reply { status: 0, wait }, Some(&reply)),
                    Err(s) => self.request(Request::Reply { status: s as i32, wait }, None),
                }
                .and_then(|r| match (r, wait) {
                    // Without WAIT_AFTER the reply's answer is DONE: look for more.
                    (Return::Done, false) => self.request(next_wait, None),
                    (r, _) => Ok(r),
                })
            }
            Return::DeadBinder(cookie) => {
                let recipient = self.state.borrow_mut().recipients.remove(&cookie);
                if let Some((_, r)) = recipient {
                    self.obituaries.set(self.obituaries.get() + 1);
                    r.binder_died();
                }
                self.request(next_wait, None)
            }
            Return::Nothing => Ok(Return::Nothing),
            // A reply or status with no call waiting for it, or a stray DONE: nothing to do.
            Return::Reply(_) | Return::Status(_) | Return::Done => self.request(next_wait, None),
        }
    }

    /// Runs a transaction on one of this program's binders: its reply Parcel.
    fn run(self: &Rc<Self>, mut t: Incoming) -> Result<Parcel, StatusCode> {
        self.count_handles(&t.data);
        let service = self.state.borrow().locals.get(&t.ptr).cloned();
        let Some(service) = service else { return Err(StatusCode::DeadObject) };
        let mut reply = self.parcel();
        match t.code {
            PING => {}
            INTERFACE => reply.write_string16(Some(service.descriptor())),
            code => {
                self.calling.borrow_mut().push(Identity { uid: t.uid, pid: t.pid });
                let call = Call { process: self, flags: t.flags };
                let result = service.on_transact(&call, code, &mut t.data, &mut reply);
                self.calling.borrow_mut().pop();
                result?;
            }
        }
        Ok(reply)
    }

    /// One request and its return; `FREE` goes with it if a oneway call was executed.
    fn request(&self, request: Request, parcel: Option<&Parcel>) -> Result<Return, StatusCode> {
        let mut s = self.state.borrow_mut();
        let free = core::mem::take(&mut s.free);
        wire::call(s.channel.as_mut(), request, free, parcel)
    }

    /// Counts the references a received Parcel brought.
    fn count_handles(&self, p: &Parcel) {
        let mut s = self.state.borrow_mut();
        for &at in p.objects() {
            if let Some(Binder::Handle(h)) =
                crate::FlatObject::read(p.data(), at).and_then(|o| o.binder().ok().flatten())
            {
                if h != 0 {
                    *s.held.entry(h).or_default() += 1;
                }
            }
        }
    }

    /// Releases the references no live proxy holds (and their death links with them).
    fn release_unused(&self) -> Result<(), StatusCode> {
        let unused: Vec<(u32, u32)> = {
            let mut s = self.state.borrow_mut();
            let s = &mut *s;
            let unused: Vec<(u32, u32)> = s
                .held
                .iter()
                .filter(|(h, _)| s.proxies.get(h).and_then(Weak::upgrade).is_none())
                .map(|(&h, &n)| (h, n))
                .collect();
            for (h, _) in &unused {
                s.held.remove(h);
                s.proxies.remove(h);
                s.recipients.retain(|_, (handle, _)| handle != h);
            }
            unused
        };
        for (handle, count) in unused {
            match self.request(Request::Release { handle, count }, None)? {
                Return::Done => {}
                Return::Status(s) => return Err(s),
                _ => return Err(StatusCode::BadValue),
            }
        }
        Ok(())
    }

    fn link(&self, handle: u32, recipient: Rc<dyn DeathRecipient>) -> Result<(), StatusCode> {
        let cookie = {
            let mut s = self.state.borrow_mut();
            let cookie = s.next_cookie;
            s.next_cookie += 1;
            s.recipients.insert(cookie, (handle, recipient.clone()));
            cookie
        };
        match self.request(Request::Link { handle, cookie }, None) {
            Ok(Return::Done) => Ok(()),
            // Dead already: the obituary comes at once.
            Ok(Return::DeadBinder(c)) => {
                self.state.borrow_mut().recipients.remove(&c);
                self.obituaries.set(self.obituaries.get() + 1);
                recipient.binder_died();
                Ok(())
            }
            other => {
                self.state.borrow_mut().recipients.remove(&cookie);
                Err(match other {
                    Ok(Return::Status(s)) => s,
                    Err(s) => s,
                    Ok(_) => StatusCode::BadValue,
                })
            }
        }
    }

    fn unlink(&self, handle: u32, recipient: &Rc<dyn DeathRecipient>) -> Result<(), StatusCode> {
        let cookie = {
            let s = self.state.borrow();
            s.recipients.iter().find(|(_, (h, r))| *h == handle && Rc::ptr_eq(r, recipient)).map(|(&c, _)| c)
        };
        let cookie = cookie.ok_or(StatusCode::NameNotFound)?;
        self.state.borrow_mut().recipients.remove(&cookie);
        match self.request(Request::Unlink { handle, cookie }, None)? {
            Return::Done => Ok(()),
            Return::Status(s) => Err(s),
            _ => Err(StatusCode::BadValue),
        }
    }
}
