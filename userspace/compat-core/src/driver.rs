//! A Binder driver in a server: what Linux's binder driver does between processes, done by
//! the compat server between its clients (binder-facts.md §2, §5).
//!
//! - A **node** is a binder object some client hosts (a local binder it sent out), or one of
//!   compat's own (the ServiceManager, the services compat hosts). It is named by its owner
//!   and the owner's pointer for it.
//! - Each client has a **handle table**: handle `h` names a node hosted by someone else;
//!   handle 0 is always the ServiceManager. A reference counts how many times the handle
//!   was delivered to the client and not yet released; at zero (and none in flight) it goes,
//!   and a node no reference reaches any more goes with it.
//! - Parcels are carried **with their objects translated**: a local binder sent out arrives as
//!   a handle in the receiver's table, a handle that names the receiver's own node arrives as
//!   its local binder, and a handle of another client's table can never be forged: a handle
//!   the sender does not hold fails the transaction.
//! - A client talks to the driver in **commands** (transact, reply, wait, release, link and
//!   unlink to death) and is answered with **returns** (done, a reply, a transport status,
//!   an incoming transaction, an obituary). Every command's sender waits for one return; the
//!   driver answers it at once or keeps it waiting (for a reply, or for work) and answers
//!   later, when something arrives for it. An incoming transaction can reach a client while
//!   it waits for a reply of its own, as nested calls do in libbinder.
//! - **Oneway** calls to one node are delivered one at a time, in order: the next waits until
//!   the receiver frees the one before (a flag on its next command, as `BC_FREE_BUFFER`).
//!   Two-way calls are never held behind them. A oneway call's sender pid reads 0.
//! - **Death**: when a client goes, its nodes die; everyone linked to one of them gets one
//!   obituary per link; a transaction to a dead node, or one the dead client was handling,
//!   ends in `DEAD_OBJECT`.
//!
//! Compat itself is a client here too ([`COMPAT`]): its nodes are the ServiceManager and the
//! services it hosts, and what is delivered to it is taken with [`Driver::take_local`] and
//! handled at once by the code around the driver.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use binder::codes::FLAG_ONEWAY;
use binder::{Android, Parcel, StatusCode};

/// Who a connection is: the compat server's key for a client (Seam's program number).
pub type ClientId = u32;

/// Compat itself, as a client of its own driver.
pub const COMPAT: ClientId = 0;

/// Compat's pointer for the ServiceManager node, handle 0 in every table.
pub const SERVICE_MANAGER_PTR: u64 = 0x5345_5256_4943_4531;

/// The most bytes of data one transaction or reply carries, and the most binder objects in
/// one Parcel: what the protocol carries.
pub use ipc::proto::compat::{OBJECTS_MAX, PARCEL_MAX as DATA_MAX};
/// The most bytes of data waiting for one client, undelivered: a oneway call that would
/// pass it fails (`FAILED_TRANSACTION`), as Linux's does when the async space is spent.
pub const QUEUED_MAX: usize = 512 * 1024;

/// A client as the system description names it, and the Android release it was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub pid: u32,
    pub android: Android,
}

/// A node: a binder object, named in the driver by a number that is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeId(u64);

/// A Parcel's bytes and the offsets of the binder objects in them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    pub data: Vec<u8>,
    pub offsets: Vec<usize>,
}

impl From<Parcel> for Payload {
    fn from(p: Parcel) -> Payload {
        let (data, offsets) = p.into_parts();
        Payload { data, offsets }
    }
}

/// A transaction as its receiver gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The receiver's pointer and cookie for the node called.
    pub ptr: u64,
    pub cookie: u64,
    pub code: u32,
    pub flags: u32,
    /// Who called: their uid, and their pid (0 for a oneway call).
    pub uid: u32,
    pub pid: u32,
    /// The release the caller writes Parcels for.
    pub android: Android,
    pub payload: Payload,
}

impl Transaction {
    pub fn is_oneway(&self) -> bool {
        self.flags & FLAG_ONEWAY != 0
    }
}

/// What a client is answered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Return {
    /// The command is done (a oneway call sent, a reply taken, a release or link made).
    Done,
    /// The reply to the client's two-way call, and the release its writer wrote it for
    /// (every Parcel is read with its writer's release, so clients of different releases
    /// understand each other).
    Reply(Payload, Android),
    /// How the client's call ended when there is no reply Parcel: `DEAD_OBJECT`,
    /// `FAILED_TRANSACTION`, `UNKNOWN_TRANSACTION`, or what a command was refused with.
    Status(StatusCode),
    /// A call to one of the client's own nodes.
    Transaction(Transaction),
    /// An obituary: the node the client linked to with this cookie has died.
    DeadBinder(u64),
    /// A `Wait` that does not block found nothing.
    Nothing,
}

/// What a client asks of the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Calls the node `handle` names. Two-way: answered with the reply (or a status). Oneway
    /// (`FLAG_ONEWAY`): answered `Done` once queued.
    Transact {
        handle: u32,
        code: u32,
        flags: u32,
        payload: Payload,
    },
    /// Answers the two-way transaction the client is handling (the innermost); then, with
    /// `wait`, waits as `Wait { block: true }` does, else is answered `Done`.
    Reply {
        result: Result<Payload, StatusCode>,
        wait: bool,
    },
    /// The next return queued for the client; if there is none, waits for one (`block`) or
    /// is answered `Nothing`.
    Wait {
        block: bool,
    },
    /// Drops `count` of the deliveries of `handle` the client holds.
    Release {
        handle: u32,
        count: u32,
    },
    /// Asks for an obituary with `cookie` when the node `handle` names dies (at once, as the
    /// answer, if it is dead already).
    LinkToDeath {
        handle: u32,
        cookie: u64,
    },
    UnlinkToDeath {
        handle: u32,
        cookie: u64,
    },
}

/// A return for a client that was waiting: to be sent through the reply capability kept
/// for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub to: ClientId,
    pub ret: Return,
}

/// A node's state.
#[derive(Debug)]
struct Node {
    owner: ClientId,
    ptr: u64,
    cookie: u64,
    /// Client references to it (one per table that holds a handle for it).
    refs: u32,
    dead: bool,
    /// A oneway transaction to it is with its owner, not yet freed.
    oneway_busy: bool,
    /// Oneway transactions waiting for that one.
    oneway_queue: VecDeque<Queued>,
    /// Compat's own nodes are never freed for want of references.
    permanent: bool,
}

/// A handle in a table.
#[derive(Debug)]
struct Ref {
    node: NodeId,
    /// Deliveries the client took and has not released.
    strong: u32,
    /// Deliveries queued for the client, not yet taken.
    pending: u32,
    /// Cookies of the client's death links.
    links: Vec<u64>,
}

/// A return waiting in a client's queue, with what delivering it means to the driver.
#[derive(Debug)]
struct Queued {
    ret: Return,
    /// The receiver's handles in it: each becomes a held reference when it is delivered.
    handles: Vec<u32>,
    /// For a two-way transaction: its number and its caller, to answer `DEAD_OBJECT` if
    /// the receiver dies first.
    call: Option<(TxnId, ClientId)>,
    /// For a oneway transaction: the node it is to.
    oneway: Option<NodeId>,
    /// For the answer to a call of the receiver's: that call.
    answers: Option<TxnId>,
}

impl Queued {
    fn plain(ret: Return) -> Queued {
        Queued { ret, handles: Vec::new(), call: None, oneway: None, answers: None }
    }

    fn answer(ret: Return, handles: Vec<u32>, txn: TxnId) -> Queued {
        Queued { ret, handles, call: None, oneway: None, answers: Some(txn) }
    }

    fn bytes(&self) -> usize {
        match &self.ret {
            Return::Reply(p, _) => p.data.len(),
            Return::Transaction(t) => t.payload.data.len(),
            _ => 0,
        }
    }
}

type TxnId = u64;

#[derive(Debug)]
struct Conn {
    id: Identity,
    /// The largest Parcel it can take (its inline space, or its shared Frame).
    limits: Limits,
    refs: BTreeMap<u32, Ref>,
    handles: BTreeMap<NodeId, u32>,
    next_handle: u32,
    /// It waits in a command for a return.
    waiting: bool,
    todo: VecDeque<Queued>,
    queued_bytes: usize,
    /// Two-way transactions delivered to it and not yet answered, innermost last: their
    /// number and caller.
    handling: Vec<(TxnId, ClientId)>,
    /// Two-way transactions it sent and waits for, innermost last.
    awaiting: Vec<TxnId>,
    /// The node of the oneway transaction it was last given, until it frees it.
    oneway: Option<NodeId>,
}

/// Counts for `compat stats`: the driver keeps the transaction counts; the rest (clients,
/// nodes, handles, queued) are taken when asked (`Compat::stats`).
pub use ipc::proto::compat::Stats;

/// The driver.
#[derive(Debug)]
pub struct Driver {
    conns: BTreeMap<ClientId, Conn>,
    nodes: BTreeMap<NodeId, Node>,
    /// (owner, ptr) → node.
    by_owner: BTreeMap<(ClientId, u64), NodeId>,
    next_node: u64,
    next_txn: TxnId,
    /// Returns for clients that were waiting, to be sent.
    out: Vec<Delivery>,
    pub stats: Stats,
}

/// How a command went for its sender.
enum Answer {
    Now(Return),
    /// The sender waits: it gets its return as a delivery later.
    Wait,
}

impl Driver {
    /// A driver with compat connected (uid 1000, `pid`) and the ServiceManager's node.
    pub fn new(compat_pid: u32) -> Driver {
        let mut d = Driver {
            conns: BTreeMap::new(),
            nodes: BTreeMap::new(),
            by_owner: BTreeMap::new(),
            next_node: 1,
            next_txn: 1,
            out: Vec::new(),
            stats: Stats::default(),
        };
        let id = Identity { uid: SYSTEM_UID, pid: compat_pid, android: Android::V14 };
        d.conns.insert(COMPAT, Conn::new(id, Limits::MAX));
        d.add_local_node(SERVICE_MANAGER_PTR);
        d
    }

    /// Makes a node of compat's own for `ptr` (a service it hosts), never freed for want of
    /// references; returns a handle for it in compat's table, as if delivered once.
    pub fn add_local_node(&mut self, ptr: u64) -> NodeId {
        let node = self.node_for(COMPAT, ptr, 0);
        if let Some(n) = self.nodes.get_mut(&node) {
            n.permanent = true;
        }
        node
    }

    /// Connects a client (a new process of it: whatever an earlier one left is gone first,
    /// with obituaries), which can take Parcels up to `limits`.
    pub fn connect(&mut self, client: ClientId, id: Identity, limits: Limits) {
        if client == COMPAT {
            return;
        }
        if self.conns.contains_key(&client) {
            self.disconnect(client);
        }
        let limits = Limits { bytes: limits.bytes.min(DATA_MAX), objects: limits.objects.min(OBJECTS_MAX) };
        self.conns.insert(client, Conn::new(id, limits));
    }

    pub fn identity(&self, client: ClientId) -> Option<Identity> {
        self.conns.get(&client).map(|c| c.id)
    }

    /// Whether the client waits in a command (compat holds its reply capability).
    pub fn is_waiting(&self, client: ClientId) -> bool {
        self.conns.get(&client).is_some_and(|c| c.waiting)
    }

    pub fn is_connected(&self, client: ClientId) -> bool {
        self.conns.contains_key(&client)
    }

    /// The clients connected (compat aside).
    pub fn clients(&self) -> impl Iterator<Item = (ClientId, Identity)> + '_ {
        self.conns.iter().filter(|(&c, _)| c != COMPAT).map(|(&c, conn)| (c, conn.id))
    }

    /// Returns for waiting clients, in the order they were made.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        core::mem::take(&mut self.out)
    }

    /// The next return for compat itself, delivered (its handles now held by compat).
    pub fn take_local(&mut self) -> Option<Return> {
        self.next_return(COMPAT)
    }

    /// Puts a return back in front of compat's queue (an obituary a link answered at once,
    /// to be handled after the request in hand).
    pub fn requeue_local(&mut self, ret: Return) {
        if let Some(c) = self.conns.get_mut(&COMPAT) {
            c.todo.push_back(Queued::plain(ret));
        }
    }

    /// Compat is done with the oneway transaction it took last.
    pub fn free_local(&mut self) {
        self.free_oneway(COMPAT);
    }

    /// A command from `client`, which waits for its answer. `free` says it is done with the
    /// oneway transaction it was given last. Returns the answer if there is one now; else the
    /// client waits and gets it through [`Driver::take_deliveries`] later.
    pub fn command(&mut self, client: ClientId, free: bool, command: Command) -> Option<Return> {
        let Some(conn) = self.conns.get_mut(&client) else { return Some(Return::Status(StatusCode::NoInit)) };
        if conn.waiting && client != COMPAT {
            // A client waits in one command at a time; a second is a broken client.
            return Some(Return::Status(StatusCode::InvalidOperation));
        }
        if free {
            self.free_oneway(client);
        }
        let answer = match command {
            Command::Transact { handle, code, flags, payload } => self.transact(client, handle, code, flags, payload),
            Command::Reply { result, wait } => self.reply(client, result, wait),
            Command::Wait { block } => self.wait(client, block),
            Command::Release { handle, count } => Answer::Now(self.release(client, handle, count)),
            Command::LinkToDeath { handle, cookie } => Answer::Now(self.link(client, handle, cookie)),
            Command::UnlinkToDeath { handle, cookie } => Answer::Now(self.unlink(client, handle, cookie)),
        };
        match answer {
            Answer::Now(r) => Some(r),
            Answer::Wait => {
                if let Some(c) = self.conns.get_mut(&client) {
                    c.waiting = true;
                }
                None
            }
        }
    }

    /// Compat's own hold on `handle` (a binder a hosted service keeps): one more reference.
    pub fn acquire(&mut self, handle: u32) -> bool {
        match self.conns.get_mut(&COMPAT).and_then(|c| c.refs.get_mut(&handle)) {
            Some(r) => {
                r.strong += 1;
                true
            }
            None => handle == 0,
        }
    }

    /// The node a handle of `client`'s names; handle 0 is the ServiceManager.
    pub fn node_of(&self, client: ClientId, handle: u32) -> Option<NodeId> {
        if handle == 0 {
            return self.by_owner.get(&(COMPAT, SERVICE_MANAGER_PTR)).copied();
        }
        self.conns.get(&client)?.refs.get(&handle).map(|r| r.node)
    }

    /// Who hosts the node `client`'s `handle` refers to.
    pub fn host_of(&self, client: ClientId, handle: u32) -> Option<Identity> {
        let (owner, _) = self.node_owner(self.node_of(client, handle)?)?;
        self.identity(owner)
    }

    /// The owner and the owner's pointer of a node.
    pub fn node_owner(&self, node: NodeId) -> Option<(ClientId, u64)> {
        self.nodes.get(&node).map(|n| (n.owner, n.ptr))
    }

    pub fn node_is_dead(&self, node: NodeId) -> bool {
        self.nodes.get(&node).is_none_or(|n| n.dead)
    }

    /// How many tables hold a handle for `node` (compat's own included).
    pub fn node_refs(&self, node: NodeId) -> u32 {
        self.nodes.get(&node).map_or(0, |n| n.refs)
    }

    /// The number of nodes alive in the driver, and of handles in all tables.
    pub fn counts(&self) -> (usize, usize) {
        (self.nodes.len(), self.conns.values().map(|c| c.refs.len()).sum())
    }

    /// Oneway transactions waiting behind a busy node, over all nodes.
    pub fn oneway_depth(&self) -> usize {
        self.nodes.values().map(|n| n.oneway_queue.len()).sum()
    }

    /// One of compat's own nodes dies (the native server behind it is gone): obituaries go
    /// out, and calls to it answer `DEAD_OBJECT` from now on.
    pub fn local_node_died(&mut self, ptr: u64) {
        if let Some(&node) = self.by_owner.get(&(COMPAT, ptr)) {
            self.by_owner.remove(&(COMPAT, ptr));
            self.kill_node(node);
        }
    }

    /// The client is gone: its nodes die (obituaries to everyone linked), the calls it was
    /// handling or had not yet taken answer `DEAD_OBJECT`, its references are dropped.
    pub fn disconnect(&mut self, client: ClientId) {
        if client == COMPAT {
            return;
        }
        let Some(conn) = self.conns.remove(&client) else { return };
        for (txn, from) in conn.handling.iter().copied() {
            self.dead_reply(from, txn);
        }
        for q in conn.todo {
            if let Some((txn, from)) = q.call {
                self.dead_reply(from, txn);
            }
        }
        for r in conn.refs.values() {
            self.unref(r.node);
        }
        let owned: Vec<NodeId> = self.by_owner.range((client, 0)..=(client, u64::MAX)).map(|(_, &n)| n).collect();
        for node in owned {
            if let Some(n) = self.nodes.get(&node) {
                self.by_owner.remove(&(client, n.ptr));
            }
            self.kill_node(node);
        }
    }

    // ---- commands ----

    fn transact(&mut self, from: ClientId, handle: u32, code: u32, flags: u32, mut payload: Payload) -> Answer {
        let oneway = flags & FLAG_ONEWAY != 0;
        if from == COMPAT && !oneway {
            // Compat never waits on a client: its own calls out are oneway.
            return Answer::Now(Return::Status(StatusCode::InvalidOperation));
        }
        let Some(node_id) = self.node_of(from, handle) else {
            self.stats.failed += 1;
            return Answer::Now(Return::Status(StatusCode::FailedTransaction));
        };
        let node = &self.nodes[&node_id];
        if node.dead {
            self.stats.dead_replies += 1;
            return Answer::Now(Return::Status(StatusCode::DeadObject));
        }
        let (to, ptr, cookie) = (node.owner, node.ptr, node.cookie);
        let Some(receiver) = self.conns.get(&to) else {
            return Answer::Now(Return::Status(StatusCode::DeadObject));
        };
        let size = payload.data.len();
        let room = receiver.can_take(&payload) && (!oneway || receiver.queued_bytes + size <= QUEUED_MAX);
        if !room {
            self.stats.failed += 1;
            return Answer::Now(Return::Status(StatusCode::FailedTransaction));
        }
        let handles = match self.translate(from, to, &mut payload) {
            Ok(h) => h,
            Err(e) => {
                self.stats.failed += 1;
                return Answer::Now(Return::Status(e));
            }
        };
        let caller = self.conns[&from].id;
        let t = Transaction {
            ptr,
            cookie,
            code,
            flags,
            uid: caller.uid,
            pid: if oneway { 0 } else { caller.pid },
            android: self.written_in(from, to),
            payload,
        };
        self.stats.transactions += 1;
        if oneway {
            self.stats.oneway += 1;
            let q = Queued { ret: Return::Transaction(t), handles, call: None, oneway: Some(node_id), answers: None };
            let node = self.nodes.get_mut(&node_id).expect("the node called");
            if node.oneway_busy {
                node.oneway_queue.push_back(q);
                self.conns.get_mut(&to).expect("the receiver").queued_bytes += size;
            } else {
                node.oneway_busy = true;
                self.push(to, q);
            }
            return Answer::Now(Return::Done);
        }
        let txn = self.next_txn;
        self.next_txn += 1;
        self.conns.get_mut(&from).expect("the caller").awaiting.push(txn);
        let q = Queued { ret: Return::Transaction(t), handles, call: Some((txn, from)), oneway: None, answers: None };
        self.push(to, q);
        // The caller may be answered already (a call to compat's own node is handled before
        // this returns, by the code around the driver); else it waits for its reply.
        Answer::Wait
    }

    fn reply(&mut self, client: ClientId, result: Result<Payload, StatusCode>, wait: bool) -> Answer {
        let conn = self.conns.get_mut(&client).expect("a connected client");
        let Some((txn, to)) = conn.handling.pop() else {
            return Answer::Now(Return::Status(StatusCode::InvalidOperation));
        };
        let mut answer = Return::Done;
        let awaited = self.conns.get(&to).is_some_and(|c| c.awaiting.contains(&txn));
        if awaited {
            let ret = match result {
                Err(status) => Ok((Return::Status(status), Vec::new())),
                Ok(mut payload) if self.conns[&to].can_take(&payload) => {
                    let android = self.written_in(client, to);
                    self.translate(client, to, &mut payload).map(|h| (Return::Reply(payload, android), h))
                }
                Ok(_) => Err(StatusCode::FailedTransaction),
            };
            self.stats.replies += 1;
            match ret {
                Ok((ret, handles)) => self.push(to, Queued::answer(ret, handles, txn)),
                Err(e) => {
                    self.stats.failed += 1;
                    self.push(to, Queued::answer(Return::Status(e), Vec::new(), txn));
                    answer = Return::Status(e);
                }
            }
        }
        if wait && answer == Return::Done {
            return self.wait(client, true);
        }
        Answer::Now(answer)
    }

    /// The release a Parcel from `from` to `to` is written in: the writer's, but compat
    /// writes each client's own.
    fn written_in(&self, from: ClientId, to: ClientId) -> Android {
        let writer = if from == COMPAT { to } else { from };
        self.conns.get(&writer).map_or(Android::V14, |c| c.id.android)
    }

    fn wait(&mut self, client: ClientId, block: bool) -> Answer {
        match self.next_return(client) {
            Some(r) => Answer::Now(r),
            None if block => Answer::Wait,
            None => Answer::Now(Return::Nothing),
        }
    }

    fn release(&mut self, client: ClientId, handle: u32, count: u32) -> Return {
        if handle == 0 {
            return Return::Done;
        }
        let conn = self.conns.get_mut(&client).expect("a connected client");
        let Some(r) = conn.refs.get_mut(&handle) else { return Return::Status(StatusCode::BadValue) };
        if count > r.strong {
            return Return::Status(StatusCode::BadValue);
        }
        r.strong -= count;
        self.drop_if_unused(client, handle);
        Return::Done
    }

    fn link(&mut self, client: ClientId, handle: u32, cookie: u64) -> Return {
        let Some(node) = self.node_of(client, handle) else { return Return::Status(StatusCode::BadValue) };
        if self.node_is_dead(node) {
            self.stats.obituaries += 1;
            return Return::DeadBinder(cookie);
        }
        if handle != 0 {
            let r = self.conns.get_mut(&client).and_then(|c| c.refs.get_mut(&handle)).expect("a held handle");
            if !r.links.contains(&cookie) {
                r.links.push(cookie);
            }
        }
        // Links to handle 0 are kept by nobody: the ServiceManager never dies.
        Return::Done
    }

    fn unlink(&mut self, client: ClientId, handle: u32, cookie: u64) -> Return {
        if handle == 0 {
            return Return::Done;
        }
        match self.conns.get_mut(&client).and_then(|c| c.refs.get_mut(&handle)) {
            Some(r) if r.links.contains(&cookie) => {
                r.links.retain(|&c| c != cookie);
                Return::Done
            }
            _ => Return::Status(StatusCode::NameNotFound),
        }
    }

    // ---- queues ----

    /// Queues a return for `to`, and delivers it at once if `to` waits.
    fn push(&mut self, to: ClientId, q: Queued) {
        let Some(conn) = self.conns.get_mut(&to) else { return };
        conn.queued_bytes += q.bytes();
        conn.todo.push_back(q);
        if conn.waiting && to != COMPAT {
            if let Some(ret) = self.next_return(to) {
                self.conns.get_mut(&to).expect("the receiver").waiting = false;
                self.out.push(Delivery { to, ret });
            }
        }
    }

    /// Takes the next return queued for `client`: its handles become held references, a
    /// two-way transaction goes on its stack, a oneway one marks what it must free. A client
    /// in a call of its own takes only the answer and calls made to it (nested calls);
    /// oneway calls and obituaries wait until it waits with no call outstanding, as they
    /// would for a binder thread pool's other threads.
    fn next_return(&mut self, client: ClientId) -> Option<Return> {
        let conn = self.conns.get_mut(&client)?;
        let in_call = !conn.awaiting.is_empty();
        let at = conn.todo.iter().position(|q| !in_call || q.answers.is_some() || q.call.is_some())?;
        let q = conn.todo.remove(at).expect("a queued return");
        if let Some(txn) = q.answers {
            conn.awaiting.retain(|&t| t != txn);
        }
        conn.queued_bytes -= q.bytes();
        for h in &q.handles {
            if let Some(r) = conn.refs.get_mut(h) {
                r.pending -= 1;
                r.strong += 1;
            }
        }
        if let Some(call) = q.call {
            conn.handling.push(call);
        }
        if let Some(node) = q.oneway {
            conn.oneway = Some(node);
        }
        Some(q.ret)
    }

    /// The client is done with its oneway transaction: the next one to that node goes out.
    fn free_oneway(&mut self, client: ClientId) {
        let Some(node_id) = self.conns.get_mut(&client).and_then(|c| c.oneway.take()) else { return };
        let Some(node) = self.nodes.get_mut(&node_id) else { return };
        match node.oneway_queue.pop_front() {
            Some(q) => {
                let owner = node.owner;
                if let Some(c) = self.conns.get_mut(&owner) {
                    c.queued_bytes -= q.bytes();
                }
                self.push(owner, q);
            }
            None => node.oneway_busy = false,
        }
    }

    fn dead_reply(&mut self, to: ClientId, txn: TxnId) {
        let Some(conn) = self.conns.get_mut(&to) else { return };
        let answered = conn.todo.iter().any(|q| q.answers == Some(txn));
        if conn.awaiting.contains(&txn) && !answered {
            self.stats.dead_replies += 1;
            self.push(to, Queued::answer(Return::Status(StatusCode::DeadObject), Vec::new(), txn));
        }
    }
}

/// Android's uid for system services; apps start at [`APP_UID_START`].
pub const SYSTEM_UID: u32 = 1000;
pub const APP_UID_START: u32 = 10_000;

/// The largest Parcel a client can take: bytes, and binder objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub bytes: usize,
    pub objects: usize,
}

impl Limits {
    /// As much as the driver carries.
    pub const MAX: Limits = Limits { bytes: DATA_MAX, objects: OBJECTS_MAX };
}

impl Conn {
    fn can_take(&self, p: &Payload) -> bool {
        p.data.len() <= self.limits.bytes && p.offsets.len() <= self.limits.objects
    }

    fn new(id: Identity, limits: Limits) -> Conn {
        Conn {
            id,
            limits,
            refs: BTreeMap::new(),
            handles: BTreeMap::new(),
            next_handle: 1,
            waiting: false,
            todo: VecDeque::new(),
            queued_bytes: 0,
            handling: Vec::new(),
            awaiting: Vec::new(),
            oneway: None,
        }
    }
}

mod objects;
#[cfg(test)]
mod tests;
