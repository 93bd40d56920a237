//! The driver's nodes and references: making a node for a binder a client sends, a handle
//! for it in a table, letting go of both, a node's death, and the translation of the binder
//! objects in a Parcel from one client's view to another's.

use super::{ClientId, Driver, Node, NodeId, Payload, Queued, Ref, Return, COMPAT, DATA_MAX, OBJECTS_MAX};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use binder::parcel::{FlatObject, OBJECT_SIZE};
use binder::{Binder, StatusCode};

impl Driver {
    /// The node `owner` hosts at `ptr`, made if new.
    pub(super) fn node_for(&mut self, owner: ClientId, ptr: u64, cookie: u64) -> NodeId {
        if let Some(&n) = self.by_owner.get(&(owner, ptr)) {
            return n;
        }
        let id = NodeId(self.next_node);
        self.next_node += 1;
        let node = Node {
            owner,
            ptr,
            cookie,
            refs: 0,
            dead: false,
            oneway_busy: false,
            oneway_queue: VecDeque::new(),
            permanent: false,
        };
        self.nodes.insert(id, node);
        self.by_owner.insert((owner, ptr), id);
        id
    }

    /// `client`'s handle for `node`, made if new (the node gains a reference).
    pub(super) fn handle_for(&mut self, client: ClientId, node: NodeId) -> u32 {
        if self.node_of(COMPAT, 0) == Some(node) {
            return 0;
        }
        let conn = self.conns.get_mut(&client).expect("a connected client");
        if let Some(&h) = conn.handles.get(&node) {
            return h;
        }
        let h = conn.next_handle;
        conn.next_handle += 1;
        conn.handles.insert(node, h);
        conn.refs.insert(h, Ref { node, strong: 0, pending: 0, links: Vec::new() });
        if let Some(n) = self.nodes.get_mut(&node) {
            n.refs += 1;
        }
        h
    }

    /// Removes `client`'s handle if nothing holds it any more.
    pub(super) fn drop_if_unused(&mut self, client: ClientId, handle: u32) {
        let conn = self.conns.get_mut(&client).expect("a connected client");
        match conn.refs.get(&handle) {
            Some(r) if r.strong == 0 && r.pending == 0 => {
                let node = r.node;
                conn.refs.remove(&handle);
                conn.handles.remove(&node);
                self.unref(node);
            }
            _ => {}
        }
    }

    /// A table let go of `node`; with no table left holding it, it goes.
    pub(super) fn unref(&mut self, node: NodeId) {
        let Some(n) = self.nodes.get_mut(&node) else { return };
        n.refs = n.refs.saturating_sub(1);
        if n.refs == 0 && !n.permanent {
            let n = self.nodes.remove(&node).expect("the node");
            if self.by_owner.get(&(n.owner, n.ptr)) == Some(&node) {
                self.by_owner.remove(&(n.owner, n.ptr));
            }
        }
    }

    /// Marks a node dead and sends each link its obituary once.
    pub(super) fn kill_node(&mut self, node: NodeId) {
        let Some(n) = self.nodes.get_mut(&node) else { return };
        n.dead = true;
        n.permanent = false;
        let queued: usize = n.oneway_queue.drain(..).map(|q| q.bytes()).sum();
        let owner = n.owner;
        if let Some(c) = self.conns.get_mut(&owner) {
            c.queued_bytes -= queued;
        }
        let mut obituaries = Vec::new();
        for (&client, conn) in self.conns.iter_mut() {
            if let Some(&h) = conn.handles.get(&node) {
                let r = conn.refs.get_mut(&h).expect("a handle's reference");
                obituaries.extend(r.links.drain(..).map(|cookie| (client, cookie)));
            }
        }
        for (client, cookie) in obituaries {
            self.stats.obituaries += 1;
            self.push(client, Queued::plain(Return::DeadBinder(cookie)));
        }
        if self.nodes.get(&node).is_some_and(|n| n.refs == 0) {
            self.nodes.remove(&node);
        }
    }

    /// Rewrites the binder objects of a Parcel going from `from` to `to`; returns the
    /// receiver's handles in it. Nothing changes unless every object is good: listed at an
    /// aligned offset inside the data, not overlapping another, a binder or handle the
    /// sender may send.
    pub(super) fn translate(
        &mut self,
        from: ClientId,
        to: ClientId,
        payload: &mut Payload,
    ) -> Result<Vec<u32>, StatusCode> {
        if payload.data.len() > DATA_MAX || payload.offsets.len() > OBJECTS_MAX {
            return Err(StatusCode::FailedTransaction);
        }
        let mut sorted = payload.offsets.clone();
        sorted.sort_unstable();
        let len = payload.data.len();
        let placed =
            sorted.iter().all(|&o| o.is_multiple_of(4) && o.checked_add(OBJECT_SIZE).is_some_and(|e| e <= len));
        let apart = sorted.windows(2).all(|w| w[1] >= w[0] + OBJECT_SIZE);
        if !placed || !apart {
            return Err(StatusCode::FailedTransaction);
        }
        // First see that every object is one the sender may send.
        enum Plan {
            Null,
            Own { ptr: u64, cookie: u64 },
            Node(NodeId),
        }
        let mut plans = Vec::with_capacity(sorted.len());
        for &at in &payload.offsets {
            let object = FlatObject::read(&payload.data, at).ok_or(StatusCode::FailedTransaction)?;
            let plan = match object.binder().map_err(|_| StatusCode::FailedTransaction)? {
                None => Plan::Null,
                Some(Binder::Local { ptr, cookie }) => match self.by_owner.get(&(from, ptr)) {
                    Some(n) if self.nodes[n].cookie != cookie => return Err(StatusCode::FailedTransaction),
                    _ => Plan::Own { ptr, cookie },
                },
                Some(Binder::Handle(h)) => Plan::Node(self.node_of(from, h).ok_or(StatusCode::FailedTransaction)?),
            };
            plans.push((at, object, plan));
        }
        let mut handles = Vec::new();
        for (at, object, plan) in plans {
            let node = match plan {
                Plan::Null => continue,
                Plan::Own { ptr, cookie } => self.node_for(from, ptr, cookie),
                Plan::Node(n) => n,
            };
            let n = &self.nodes[&node];
            let binder = if n.owner == to {
                Binder::Local { ptr: n.ptr, cookie: n.cookie }
            } else {
                let h = self.handle_for(to, node);
                if h != 0 {
                    let r = self.conns.get_mut(&to).and_then(|c| c.refs.get_mut(&h)).expect("the new handle");
                    r.pending += 1;
                    handles.push(h);
                }
                Binder::Handle(h)
            };
            let flags = object.flags;
            payload.data[at..at + OBJECT_SIZE].copy_from_slice(&FlatObject::new(Some(binder), flags).to_bytes());
        }
        Ok(handles)
    }
}
