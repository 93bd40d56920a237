//! Capabilities: capability spaces, the derivation tree, and object lifetimes.
//!
//! Pure bookkeeping, generic over the object type, so `cargo test` exercises it on the host.
//! The kernel instantiates it with its objects (`crate::object::Object`); the tests with small
//! stand-ins.
//!
//! - A **space** is a process's table of slots. A slot holds at most one capability.
//! - A **capability** (a node of the derivation tree) names an object, with rights and a badge.
//!   Every capability made from another (copy, mint, a transfer by IPC) is its child.
//! - **Objects** are reference-counted: each capability naming one counts, and so does each
//!   [`Caps::retain`] the kernel takes for its own links (a process's memory quota, a mapped
//!   Frame). When the count reaches zero the object is handed back to the caller, which does
//!   what its kind needs (wake blocked threads, free memory).
//!
//! The rules: rights never grow along the tree; a badge is set once; deleting a capability
//! gives its children to its parent (they stay valid); revoking one deletes all its
//! descendants, wherever they are.
//!
//! Each object also counts its capabilities that carry the read right (its *readers*).
//! Rights never grow, so once an object has none it never will again: an endpoint in that
//! state has nobody left who can receive from it. Objects that lose their last reader while
//! other capabilities keep them alive are listed for the kernel ([`Caps::take_unread`]).

mod slab;

use alloc::boxed::Box;
use alloc::vec::Vec;
use ipc::cap::{Badge, Kind, Rights, CSPACE_SLOTS};
use ipc::Error;
use slab::Slab;

pub type ObjId = u32;
pub type SpaceId = u32;
type NodeId = u32;

/// What the capability system needs to know about an object.
pub trait Object {
    fn kind(&self) -> Kind;
}

/// A slot in a space. User-visible slots are `0..CSPACE_SLOTS`; spaces also have a few slots
/// beyond, where the kernel keeps capabilities a process holds without being able to name
/// them (the endpoint its faults go to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub space: SpaceId,
    pub slot: u32,
}

/// Slots past the user-visible ones, for the kernel's use.
pub const HIDDEN_SLOTS: u32 = 2;
/// The hidden slot holding the endpoint a process's faults are sent to.
pub const FAULT_SLOT: u32 = CSPACE_SLOTS as u32;

impl At {
    /// A slot a user process named: out of range is `InvalidCapability`.
    pub fn user(space: SpaceId, slot: u64) -> Result<At, Error> {
        if slot >= CSPACE_SLOTS {
            return Err(Error::InvalidCapability);
        }
        Ok(At { space, slot: slot as u32 })
    }

    /// One of the kernel's hidden slots.
    pub const fn hidden(space: SpaceId, slot: u32) -> At {
        At { space, slot }
    }
}

/// A capability, as seen by a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    pub obj: ObjId,
    pub kind: Kind,
    pub rights: Rights,
    pub badge: Badge,
}

/// A capability in the derivation tree. A node's children are a list threaded through them
/// (`first_child`, then each child's `next`, with `prev` back), so that deleting one of a
/// million copies of a capability is a few stores, not a search of its siblings.
struct Node {
    obj: ObjId,
    rights: Rights,
    badge: Badge,
    at: At,
    parent: Option<NodeId>,
    first_child: Option<NodeId>,
    prev: Option<NodeId>,
    next: Option<NodeId>,
}

struct Entry<T> {
    object: T,
    refs: u32,
    /// Capabilities to it with the read right.
    readers: u32,
}

/// What a slot holds: its capability's node in the tree, and the capability itself, whole,
/// so that a lookup is one load. The copy never goes stale: an object's kind, and a
/// capability's object, rights and badge, never change once it exists; only its slot does,
/// and a move takes the copy along.
#[derive(Clone, Copy)]
struct Held {
    node: NodeId,
    cap: Cap,
}

/// Slots in a space, the hidden ones included.
const SPACE_SLOTS: usize = CSPACE_SLOTS as usize + HIDDEN_SLOTS as usize;

/// A space's slots: a fixed-size array, so that a slot checked against `CSPACE_SLOTS` (as
/// [`At::user`] does) needs no second bounds check, and a space is one pointer in its slab.
struct Space {
    slots: Box<[Option<Held>; SPACE_SLOTS]>,
}

/// The most kernel memory one space's capabilities can hold: its slots (the hidden ones too),
/// each filled with a capability to an object of its own, each counted twice in the slabs
/// (their arrays keep the places of freed values and map pages ahead of need), with the slabs'
/// lists of free places. A process's quota is charged this much (with its other records) when
/// it is made, so the capabilities it holds never cost the kernel more than it paid.
pub const fn space_bytes_max<T>() -> usize {
    let slots = SPACE_SLOTS;
    let per_capability = size_of::<Option<Node>>() + size_of::<Option<Entry<T>>>() + 2 * size_of::<u32>();
    slots * (size_of::<Option<Held>>() + 2 * per_capability)
}

pub struct Caps<T> {
    objects: Slab<Entry<T>>,
    nodes: Slab<Node>,
    spaces: Slab<Space>,
    /// Live objects whose last reader went since [`Caps::take_unread`] was last called.
    unread: Vec<ObjId>,
}

impl<T: Object> Default for Caps<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Object> Caps<T> {
    pub const fn new() -> Self {
        Caps { objects: Slab::new(), nodes: Slab::new(), spaces: Slab::new(), unread: Vec::new() }
    }

    /// A new, empty space.
    pub fn create_space(&mut self) -> SpaceId {
        // Made on the heap: the array built on the kernel stack first could overflow it.
        let slots: Box<[Option<Held>]> = (0..SPACE_SLOTS).map(|_| None).collect();
        let slots = slots.try_into().unwrap_or_else(|_| unreachable!("SPACE_SLOTS slots were made"));
        self.spaces.insert(Space { slots })
    }

    /// Deletes every capability in the space, then the space. Returns the objects freed.
    pub fn destroy_space(&mut self, space: SpaceId, freed: &mut Vec<T>) {
        self.clear_slots(space, None, freed);
        self.spaces.remove(space);
    }

    /// Deletes every capability in the space's user-visible slots; the hidden ones keep
    /// theirs. Returns the objects freed.
    pub fn clear_user_slots(&mut self, space: SpaceId, freed: &mut Vec<T>) {
        self.clear_slots(space, Some(CSPACE_SLOTS as usize), freed);
    }

    fn clear_slots(&mut self, space: SpaceId, first_kept: Option<usize>, freed: &mut Vec<T>) {
        let Some(s) = self.spaces.get(space) else { return };
        let slots = &s.slots[..first_kept.unwrap_or(s.slots.len())];
        let nodes: Vec<NodeId> = slots.iter().flatten().map(|h| h.node).collect();
        for node in nodes {
            self.delete_node(node, freed);
        }
    }

    /// Makes `object` and puts the first capability to it, with `rights`, in `at`.
    pub fn create(&mut self, at: At, object: T, rights: Rights) -> Result<ObjId, Error> {
        self.empty_slot(at)?;
        let obj = self.objects.insert(Entry { object, refs: 0, readers: 0 });
        self.insert_node(at, obj, rights, 0, None);
        Ok(obj)
    }

    /// The capability in `at`.
    #[inline]
    pub fn get(&self, at: At) -> Result<Cap, Error> {
        self.held(at).map(|h| h.cap)
    }

    /// The capability in `at` if it is of `kind` and has `rights`; None for anything else,
    /// an empty slot included (the IPC fast path's look-up: one compare says both that the
    /// slot holds a capability and that it is of the kind).
    #[inline(always)]
    pub fn find(&self, at: At, kind: Kind, rights: Rights) -> Option<Cap> {
        match self.spaces.get(at.space)?.slots.get(at.slot as usize)? {
            Some(Held { cap, .. }) if cap.kind == kind && cap.rights.contains(rights) => Some(*cap),
            _ => None,
        }
    }

    /// The capability in `at`, which must be of `kind` and have `rights`.
    pub fn lookup(&self, at: At, kind: Kind, rights: Rights) -> Result<Cap, Error> {
        let cap = self.get(at)?;
        if cap.kind != kind {
            return Err(Error::WrongKind);
        }
        if !cap.rights.contains(rights) {
            return Err(Error::MissingRights);
        }
        Ok(cap)
    }

    #[inline]
    pub fn object(&self, obj: ObjId) -> &T {
        &self.objects.get(obj).expect("object id of a freed object").object
    }

    #[inline]
    pub fn object_mut(&mut self, obj: ObjId) -> &mut T {
        &mut self.objects.get_mut(obj).expect("object id of a freed object").object
    }

    /// Object `obj`, to change, if exactly one reference (a capability, or a retain) holds
    /// it: the count and the object from one look-up.
    #[inline]
    pub fn sole_object_mut(&mut self, obj: ObjId) -> Option<&mut T> {
        self.objects.get_mut(obj).filter(|e| e.refs == 1).map(|e| &mut e.object)
    }

    /// Whether `obj` is a live object (ids are reused once freed).
    pub fn is_live(&self, obj: ObjId) -> bool {
        self.objects.get(obj).is_some()
    }

    /// Whether some capability to `obj` carries the read right. For an endpoint: whether
    /// anyone could still receive from it.
    pub fn has_readers(&self, obj: ObjId) -> bool {
        self.objects.get(obj).is_some_and(|e| e.readers > 0)
    }

    /// The objects that lost their last reader and were still alive then, since the last call
    /// (an id may have been freed, even reused, since: check before use).
    pub fn take_unread(&mut self) -> Vec<ObjId> {
        core::mem::take(&mut self.unread)
    }

    /// Copies `src` into `dest` with `rights`, which may not exceed the source's.
    pub fn copy(&mut self, src: At, dest: At, rights: Rights) -> Result<(), Error> {
        self.derive(src, dest, rights, None)
    }

    /// Copies `src` into `dest` with `rights` and a badge. The source must have none.
    pub fn mint(&mut self, src: At, dest: At, rights: Rights, badge: Badge) -> Result<(), Error> {
        if badge == 0 {
            return Err(Error::InvalidArgument);
        }
        self.derive(src, dest, rights, Some(badge))
    }

    fn derive(&mut self, src: At, dest: At, rights: Rights, badge: Option<Badge>) -> Result<(), Error> {
        let parent = self.node_at(src)?;
        self.empty_slot(dest)?;
        let p = self.nodes.get(parent).expect("slot names a dead node");
        if !p.rights.contains(rights) {
            return Err(Error::MissingRights);
        }
        let badge = match badge {
            Some(_) if p.badge != 0 => return Err(Error::InvalidArgument),
            Some(b) => b,
            None => p.badge,
        };
        let obj = p.obj;
        self.insert_node(dest, obj, rights, badge, Some(parent));
        Ok(())
    }

    /// Moves the capability in `src` to the empty slot `dest`.
    pub fn move_cap(&mut self, src: At, dest: At) -> Result<(), Error> {
        let node = self.node_at(src)?;
        if src == dest {
            return Ok(());
        }
        self.empty_slot(dest)?;
        let held = self.slot_mut(src).take();
        *self.slot_mut(dest) = held;
        self.nodes.get_mut(node).expect("slot names a dead node").at = dest;
        Ok(())
    }

    /// Empties `at`; its children pass to its parent. Objects freed go to `freed`.
    pub fn delete(&mut self, at: At, freed: &mut Vec<T>) -> Result<(), Error> {
        let node = self.node_at(at)?;
        self.delete_node(node, freed);
        Ok(())
    }

    /// Deletes every capability derived from the one in `at` (not that one itself), in one
    /// go (the kernel revokes in slices, [`Caps::revoke_some`]).
    #[cfg(test)]
    pub fn revoke(&mut self, at: At, freed: &mut Vec<T>) -> Result<(), Error> {
        self.revoke_some(at, usize::MAX, freed).map(drop)
    }

    /// Deletes up to `budget` of the capabilities derived from the one in `at`; true when
    /// none is left. Called again, it goes on where it stopped, so a huge revoke can be done
    /// in slices with interrupts taken in between (seL4's preemption point). Each step
    /// deletes the first child of `at`, whose children pass to `at`, so the whole revoke costs
    /// one step per capability and one more per child passed on, however deep or wide the tree.
    pub fn revoke_some(&mut self, at: At, budget: usize, freed: &mut Vec<T>) -> Result<bool, Error> {
        let node = self.node_at(at)?;
        for _ in 0..budget {
            let Some(child) = self.node(node).first_child else { return Ok(true) };
            self.delete_node(child, freed);
        }
        Ok(self.node(node).first_child.is_none())
    }

    /// Takes a reference to `obj` that is not a capability (the kernel's own link).
    pub fn retain(&mut self, obj: ObjId) {
        self.objects.get_mut(obj).expect("retain of a freed object").refs += 1;
    }

    /// Drops a reference taken by [`Caps::retain`] (or a capability's); a last one frees.
    pub fn release(&mut self, obj: ObjId, freed: &mut Vec<T>) {
        let entry = self.objects.get_mut(obj).expect("release of a freed object");
        entry.refs -= 1;
        if entry.refs == 0 {
            freed.push(self.objects.remove(obj).expect("object vanished").object);
        }
    }

    /// The capabilities in a space's user-visible slots, as (slot, capability).
    pub fn caps_in(&self, space: SpaceId) -> impl Iterator<Item = (u32, Cap)> + '_ {
        let slots = self.spaces.get(space).map(|s| &s.slots[..CSPACE_SLOTS as usize]).unwrap_or(&[]);
        slots.iter().enumerate().filter_map(move |(i, n)| {
            n.map(|_| (i as u32, self.get(At { space, slot: i as u32 }).expect("slot names a dead node")))
        })
    }

    #[cfg(test)]
    /// How many objects are alive (for tests and statistics).
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    fn insert_node(&mut self, at: At, obj: ObjId, rights: Rights, badge: Badge, parent: Option<NodeId>) {
        let node =
            self.nodes.insert(Node { obj, rights, badge, at, parent, first_child: None, prev: None, next: None });
        if let Some(p) = parent {
            self.push_children(p, node, node);
        }
        let kind = self.object(obj).kind();
        *self.slot_mut(at) = Some(Held { node, cap: Cap { obj, kind, rights, badge } });
        self.retain(obj);
        if rights.contains(Rights::READ) {
            self.objects.get_mut(obj).expect("just retained").readers += 1;
        }
    }

    /// Drops the reference of a capability with `rights` that was just taken out of the tree.
    fn release_cap(&mut self, obj: ObjId, rights: Rights, freed: &mut Vec<T>) {
        let entry = self.objects.get_mut(obj).expect("capability of a freed object");
        if rights.contains(Rights::READ) {
            entry.readers -= 1;
            if entry.readers == 0 && entry.refs > 1 {
                self.unread.push(obj);
            }
        }
        self.release(obj, freed);
    }

    /// Takes `node` out of the tree and its slot; its children pass to its parent (or become
    /// roots). Costs a few stores, and one more per child.
    fn delete_node(&mut self, node: NodeId, freed: &mut Vec<T>) {
        let dead = self.nodes.remove(node).expect("delete of a dead node");
        *self.slot_mut(dead.at) = None;
        // Out of its siblings' list.
        match dead.prev {
            Some(prev) => self.node_mut(prev).next = dead.next,
            None => {
                if let Some(p) = dead.parent {
                    self.node_mut(p).first_child = dead.next;
                }
            }
        }
        if let Some(next) = dead.next {
            self.node_mut(next).prev = dead.prev;
        }
        // Its children to its parent: each learns its new parent, and the list goes whole to
        // the front of the parent's. Without a parent, each is a root, in no list.
        let mut child = dead.first_child;
        let mut last = None;
        while let Some(c) = child {
            let n = self.node_mut(c);
            n.parent = dead.parent;
            child = n.next;
            if dead.parent.is_none() {
                (n.prev, n.next) = (None, None);
            }
            last = Some(c);
        }
        if let (Some(p), Some(first), Some(last)) = (dead.parent, dead.first_child, last) {
            self.push_children(p, first, last);
        }
        self.release_cap(dead.obj, dead.rights, freed);
    }

    /// Puts the list of siblings `first..=last` (linked by `next`, `first.prev` empty) at the
    /// front of `parent`'s children. Their `parent` must already be `parent`, or be set by
    /// the caller.
    fn push_children(&mut self, parent: NodeId, first: NodeId, last: NodeId) {
        let old = self.node(parent).first_child;
        self.node_mut(last).next = old;
        if let Some(old) = old {
            self.node_mut(old).prev = Some(last);
        }
        self.node_mut(parent).first_child = Some(first);
    }

    fn node(&self, node: NodeId) -> &Node {
        self.nodes.get(node).expect("a dead node in the tree")
    }

    fn node_mut(&mut self, node: NodeId) -> &mut Node {
        self.nodes.get_mut(node).expect("a dead node in the tree")
    }

    /// The children of `node`, in their list's order.
    #[cfg(test)]
    fn children(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        core::iter::successors(self.node(node).first_child, |&c| self.node(c).next)
    }

    fn node_at(&self, at: At) -> Result<NodeId, Error> {
        self.held(at).map(|h| h.node)
    }

    /// What slot `at` holds; an empty slot, or one of no space, is `InvalidCapability`.
    #[inline]
    fn held(&self, at: At) -> Result<Held, Error> {
        let space = self.spaces.get(at.space).ok_or(Error::InvalidCapability)?;
        space.slots.get(at.slot as usize).copied().flatten().ok_or(Error::InvalidCapability)
    }

    fn empty_slot(&self, at: At) -> Result<(), Error> {
        let space = self.spaces.get(at.space).ok_or(Error::InvalidCapability)?;
        match space.slots.get(at.slot as usize) {
            None => Err(Error::InvalidCapability),
            Some(Some(_)) => Err(Error::SlotInUse),
            Some(None) => Ok(()),
        }
    }

    fn slot_mut(&mut self, at: At) -> &mut Option<Held> {
        &mut self.spaces.get_mut(at.space).expect("dead space").slots[at.slot as usize]
    }

    /// Checks the tree's invariants; for tests.
    #[cfg(test)]
    fn check(&self) {
        let mut refs = alloc::collections::BTreeMap::<ObjId, u32>::new();
        let mut readers = alloc::collections::BTreeMap::<ObjId, u32>::new();
        let mut listed = 0;
        for (id, n) in self.nodes.iter() {
            assert_eq!(self.node_at(n.at), Ok(id), "node and slot agree");
            let held = self.get(n.at).expect("a node's slot holds it");
            let kind = self.object(n.obj).kind();
            assert_eq!(
                held,
                Cap { obj: n.obj, kind, rights: n.rights, badge: n.badge },
                "the slot's copy is the node's"
            );
            *refs.entry(n.obj).or_default() += 1;
            *readers.entry(n.obj).or_default() += u32::from(n.rights.contains(Rights::READ));
            if let Some(p) = n.parent {
                let parent = self.nodes.get(p).expect("parent alive");
                assert!(parent.rights.contains(n.rights), "rights grew along the tree");
                assert!(parent.badge == 0 || parent.badge == n.badge, "a badge changed");
                assert_eq!(parent.obj, n.obj);
            }
            if n.parent.is_none() {
                assert_eq!((n.prev, n.next), (None, None), "a root is in no list");
            }
            let mut prev = None;
            for c in self.children(id) {
                listed += 1;
                let child = self.nodes.get(c).expect("child alive");
                assert_eq!(child.parent, Some(id));
                assert_eq!(child.prev, prev, "the list links back");
                prev = Some(c);
            }
        }
        // Every child names its parent, so each node with a parent is in that parent's list
        // (and no other) when the lists hold as many nodes as have parents.
        assert_eq!(listed, self.nodes.iter().filter(|(_, n)| n.parent.is_some()).count(), "every child is listed once");
        for (id, e) in self.objects.iter() {
            assert_eq!(refs.get(&id).copied().unwrap_or(0), e.refs, "object {id}: references counted");
            assert_eq!(readers.get(&id).copied().unwrap_or(0), e.readers, "object {id}: readers counted");
            assert!(e.refs > 0);
        }
    }
}

#[cfg(test)]
mod tests;
