use super::*;
use proptest::prelude::*;

/// A stand-in object: its kind and a unique number, so the tests see which one was freed.
#[derive(Debug, PartialEq, Eq)]
struct Obj(Kind, u32);

impl Object for Obj {
    fn kind(&self) -> Kind {
        self.0
    }
}

fn at(space: SpaceId, slot: u32) -> At {
    At { space, slot }
}

#[test]
fn create_lookup_and_kind_and_rights_checks() {
    let mut c = Caps::new();
    let s = c.create_space();
    c.create(at(s, 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    assert_eq!(c.lookup(at(s, 0), Kind::Endpoint, Rights::WRITE).unwrap().badge, 0);
    assert_eq!(c.lookup(at(s, 0), Kind::Notification, Rights::NONE), Err(Error::WrongKind));
    assert_eq!(c.get(at(s, 1)), Err(Error::InvalidCapability));
    assert_eq!(c.get(at(s, 9999)), Err(Error::InvalidCapability));
    assert_eq!(c.create(at(s, 0), Obj(Kind::Endpoint, 2), Rights::ALL), Err(Error::SlotInUse));
    c.copy(at(s, 0), at(s, 1), Rights::WRITE).unwrap();
    assert_eq!(c.lookup(at(s, 1), Kind::Endpoint, Rights::READ), Err(Error::MissingRights));
    assert_eq!(c.copy(at(s, 1), at(s, 2), Rights::ALL), Err(Error::MissingRights), "copying never adds rights");
    assert_eq!(At::user(s, CSPACE_SLOTS), Err(Error::InvalidCapability));
    c.check();
}

#[test]
fn badges_are_set_once() {
    let mut c = Caps::new();
    let s = c.create_space();
    c.create(at(s, 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    c.mint(at(s, 0), at(s, 1), Rights::WRITE, 42).unwrap();
    assert_eq!(c.get(at(s, 1)).unwrap().badge, 42);
    assert_eq!(c.mint(at(s, 1), at(s, 2), Rights::WRITE, 43), Err(Error::InvalidArgument));
    assert_eq!(c.mint(at(s, 0), at(s, 2), Rights::WRITE, 0), Err(Error::InvalidArgument));
    c.copy(at(s, 1), at(s, 2), Rights::NONE).unwrap();
    assert_eq!(c.get(at(s, 2)).unwrap().badge, 42, "a copy keeps the badge");
    c.check();
}

#[test]
fn last_capability_frees_and_delete_keeps_children() {
    let mut c = Caps::new();
    let (a, b) = (c.create_space(), c.create_space());
    let mut freed = Vec::new();
    c.create(at(a, 0), Obj(Kind::Notification, 7), Rights::ALL).unwrap();
    c.copy(at(a, 0), at(b, 5), Rights::READ).unwrap();
    c.copy(at(b, 5), at(b, 6), Rights::READ).unwrap();
    c.delete(at(b, 5), &mut freed).unwrap();
    assert!(freed.is_empty());
    c.check();
    c.delete(at(a, 0), &mut freed).unwrap();
    assert!(freed.is_empty(), "b's copy still names it");
    c.delete(at(b, 6), &mut freed).unwrap();
    assert_eq!(freed, vec![Obj(Kind::Notification, 7)]);
    assert_eq!(c.object_count(), 0);
}

#[test]
fn revoke_reaches_every_space_and_keeps_the_original() {
    let mut c = Caps::new();
    let spaces: Vec<_> = (0..3).map(|_| c.create_space()).collect();
    let mut freed = Vec::new();
    c.create(at(spaces[0], 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    c.mint(at(spaces[0], 0), at(spaces[1], 3), Rights::WRITE, 9).unwrap();
    c.copy(at(spaces[1], 3), at(spaces[2], 4), Rights::WRITE).unwrap();
    c.move_cap(at(spaces[2], 4), at(spaces[2], 8)).unwrap();
    c.revoke(at(spaces[0], 0), &mut freed).unwrap();
    assert!(freed.is_empty());
    assert_eq!(c.get(at(spaces[1], 3)), Err(Error::InvalidCapability));
    assert_eq!(c.get(at(spaces[2], 8)), Err(Error::InvalidCapability));
    assert!(c.get(at(spaces[0], 0)).is_ok());
    c.check();
}

/// Slots for `n` capabilities, `CSPACE_SLOTS` to a space, in fresh spaces.
fn many_slots(c: &mut Caps<Obj>, n: u32) -> Vec<At> {
    let per = CSPACE_SLOTS as u32;
    let spaces: Vec<SpaceId> = (0..n.div_ceil(per)).map(|_| c.create_space()).collect();
    (0..n).map(|i| at(spaces[(i / per) as usize], i % per)).collect()
}

/// A derivation chain 100,000 capabilities deep (each a copy of the one before, across 391
/// spaces) is revoked, and deleted from its top down, without recursion: a recursive walk
/// would overflow the kernel's stack long before, and this test thread's too.
#[test]
fn a_chain_a_hundred_thousand_deep_is_revoked_and_deleted() {
    const DEPTH: u32 = 100_000;
    let mut c = Caps::new();
    let slots = many_slots(&mut c, DEPTH);
    let mut freed = Vec::new();
    c.create(slots[0], Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    let chain = |c: &mut Caps<Obj>| {
        for pair in slots.windows(2) {
            c.copy(pair[0], pair[1], Rights::ALL).unwrap();
        }
    };
    chain(&mut c);
    c.revoke(slots[0], &mut freed).unwrap();
    assert!(freed.is_empty(), "revoke keeps the original, and so the object");
    assert!(slots[1..].iter().all(|&s| c.get(s) == Err(Error::InvalidCapability)));
    c.check();
    // In slices, as the kernel does it: one step per capability, however deep.
    chain(&mut c);
    let slices = (1..).find(|_| c.revoke_some(slots[0], 1000, &mut freed).unwrap()).unwrap();
    assert_eq!(slices, 100, "99,999 capabilities in slices of 1,000");
    assert!(slots[1..].iter().all(|&s| c.get(s) == Err(Error::InvalidCapability)));
    c.check();
    chain(&mut c);
    for &slot in &slots[..DEPTH as usize - 1] {
        c.delete(slot, &mut freed).unwrap();
    }
    assert!(freed.is_empty(), "each delete hands the chain on to what is left");
    c.delete(slots[DEPTH as usize - 1], &mut freed).unwrap();
    assert_eq!(freed, vec![Obj(Kind::Endpoint, 1)]);
    assert_eq!(c.object_count(), 0);
}

/// A tree 100,000 capabilities wide (copies and badged mints of one root, across 391 spaces)
/// is revoked in one call, the root staying.
#[test]
fn a_tree_a_hundred_thousand_wide_is_revoked() {
    const WIDTH: u32 = 100_000;
    let mut c = Caps::new();
    let slots = many_slots(&mut c, WIDTH + 1);
    let mut freed = Vec::new();
    c.create(slots[0], Obj(Kind::Endpoint, 0), Rights::ALL).unwrap();
    for (i, &slot) in slots[1..].iter().enumerate() {
        match i % 2 {
            0 => c.copy(slots[0], slot, Rights::WRITE).unwrap(),
            _ => c.mint(slots[0], slot, Rights::WRITE, i as u64).unwrap(),
        }
    }
    c.revoke(slots[0], &mut freed).unwrap();
    assert!(slots[1..].iter().all(|&s| c.get(s) == Err(Error::InvalidCapability)));
    assert_eq!(c.object_count(), 1);
    c.check();
}

/// The same tree's copies deleted one at a time, as when the processes holding them end (the
/// spaces destroyed in turn), then the root with a fresh set of children. Each delete takes
/// its node out of its siblings' list in a few steps: with the siblings searched, as they
/// once were, this was 5 billion steps.
#[test]
fn a_tree_a_hundred_thousand_wide_is_deleted_a_copy_at_a_time() {
    const WIDTH: u32 = 100_000;
    let mut c = Caps::new();
    let root_space = c.create_space();
    let slots = many_slots(&mut c, WIDTH);
    let mut freed = Vec::new();
    c.create(at(root_space, 0), Obj(Kind::Endpoint, 0), Rights::ALL).unwrap();
    for &slot in &slots {
        c.copy(at(root_space, 0), slot, Rights::ALL).unwrap();
    }
    let spaces: alloc::collections::BTreeSet<SpaceId> = slots.iter().map(|s| s.space).collect();
    for &space in &spaces {
        c.destroy_space(space, &mut freed);
    }
    assert!(freed.is_empty());
    assert_eq!(c.children(c.node_at(at(root_space, 0)).unwrap()).count(), 0);
    c.check();
    // The root deleted: its children become roots, and the object lives while they do.
    let slots = many_slots(&mut c, 1_000);
    for &slot in &slots {
        c.copy(at(root_space, 0), slot, Rights::ALL).unwrap();
    }
    c.delete(at(root_space, 0), &mut freed).unwrap();
    assert!(freed.is_empty());
    c.check();
    for &slot in slots.iter().rev() {
        c.delete(slot, &mut freed).unwrap();
    }
    assert_eq!(freed, vec![Obj(Kind::Endpoint, 0)]);
    c.check();
}

#[test]
fn destroying_a_space_frees_what_only_it_held() {
    let mut c = Caps::new();
    let (a, b) = (c.create_space(), c.create_space());
    let mut freed = Vec::new();
    c.create(at(a, 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    c.create(at(a, 1), Obj(Kind::Frame, 2), Rights::ALL).unwrap();
    c.copy(at(a, 1), at(b, 0), Rights::READ).unwrap();
    c.destroy_space(a, &mut freed);
    assert_eq!(freed, vec![Obj(Kind::Endpoint, 1)]);
    assert_eq!(c.get(at(b, 0)).unwrap().kind, Kind::Frame);
    assert_eq!(c.get(at(a, 1)), Err(Error::InvalidCapability), "a dead space has no slots");
    c.check();
}

#[test]
fn retained_objects_outlive_their_capabilities() {
    let mut c = Caps::new();
    let s = c.create_space();
    let mut freed = Vec::new();
    let obj = c.create(at(s, 0), Obj(Kind::Memory, 1), Rights::ALL).unwrap();
    c.retain(obj);
    c.delete(at(s, 0), &mut freed).unwrap();
    assert!(freed.is_empty() && c.is_live(obj));
    c.release(obj, &mut freed);
    assert_eq!(freed.len(), 1);
    assert!(!c.is_live(obj));
}

#[test]
fn an_object_whose_last_reader_goes_is_reported_while_others_keep_it() {
    let mut c = Caps::new();
    let (a, b) = (c.create_space(), c.create_space());
    let mut freed = Vec::new();
    let ep = c.create(at(a, 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    c.copy(at(a, 0), at(b, 0), Rights::WRITE).unwrap();
    c.copy(at(a, 0), at(b, 1), Rights::READ).unwrap();
    c.delete(at(a, 0), &mut freed).unwrap();
    assert!(c.has_readers(ep) && c.take_unread().is_empty(), "b's read copy is left");
    c.delete(at(b, 1), &mut freed).unwrap();
    assert!(!c.has_readers(ep));
    assert_eq!(c.take_unread(), vec![ep], "only the write copy is left");
    assert!(c.take_unread().is_empty(), "reported once");
    c.delete(at(b, 0), &mut freed).unwrap();
    assert_eq!(freed.len(), 1);
    assert!(c.take_unread().is_empty(), "a freed object is not reported");
    c.check();
}

#[test]
fn revoking_the_readers_reports_the_object() {
    let mut c = Caps::new();
    let (a, b) = (c.create_space(), c.create_space());
    let mut freed = Vec::new();
    let ep = c.create(at(a, 0), Obj(Kind::Endpoint, 1), Rights::WRITE).unwrap();
    c.copy(at(a, 0), at(b, 0), Rights::WRITE).unwrap();
    assert!(!c.has_readers(ep), "no capability ever had the read right");
    let n = c.create(at(a, 1), Obj(Kind::Notification, 2), Rights::ALL).unwrap();
    c.copy(at(a, 1), at(b, 1), Rights::ALL).unwrap();
    c.move_cap(at(a, 1), at(a, 2)).unwrap();
    assert!(c.has_readers(n));
    c.revoke(at(a, 2), &mut freed).unwrap();
    assert!(c.has_readers(n) && c.take_unread().is_empty(), "the original keeps its read right");
    c.copy(at(a, 2), at(b, 1), Rights::WRITE).unwrap();
    c.delete(at(a, 2), &mut freed).unwrap();
    assert_eq!(c.take_unread(), vec![n]);
    c.check();
}

#[test]
fn clearing_the_user_slots_keeps_the_hidden_ones_and_the_space() {
    let mut c = Caps::new();
    let s = c.create_space();
    let mut freed = Vec::new();
    c.create(at(s, 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
    c.copy(at(s, 0), At::hidden(s, FAULT_SLOT), Rights::WRITE).unwrap();
    c.create(at(s, 7), Obj(Kind::Notification, 2), Rights::ALL).unwrap();
    c.clear_user_slots(s, &mut freed);
    assert_eq!(freed, vec![Obj(Kind::Notification, 2)]);
    assert!(c.get(at(s, 0)).is_err() && c.get(at(s, 7)).is_err());
    assert_eq!(c.get(At::hidden(s, FAULT_SLOT)).unwrap().rights, Rights::WRITE);
    c.create(at(s, 3), Obj(Kind::Memory, 3), Rights::ALL).unwrap();
    c.check();
}

#[derive(Clone, Debug)]
enum Op {
    Create { space: u8, slot: u8, rights: u8 },
    Copy { from: (u8, u8), to: (u8, u8), rights: u8 },
    Mint { from: (u8, u8), to: (u8, u8), rights: u8, badge: u8 },
    Move { from: (u8, u8), to: (u8, u8) },
    Delete { space: u8, slot: u8 },
    Revoke { space: u8, slot: u8 },
}

const SPACES: u8 = 3;
const SLOTS: u8 = 6;

fn place() -> impl Strategy<Value = (u8, u8)> {
    (0..SPACES, 0..SLOTS)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..SPACES, 0..SLOTS, 0..8u8).prop_map(|(space, slot, rights)| Op::Create { space, slot, rights }),
        (place(), place(), 0..8u8).prop_map(|(from, to, rights)| Op::Copy { from, to, rights }),
        (place(), place(), 0..8u8, 0..4u8).prop_map(|(from, to, rights, badge)| Op::Mint { from, to, rights, badge }),
        (place(), place()).prop_map(|(from, to)| Op::Move { from, to }),
        (0..SPACES, 0..SLOTS).prop_map(|(space, slot)| Op::Delete { space, slot }),
        (0..SPACES, 0..SLOTS).prop_map(|(space, slot)| Op::Revoke { space, slot }),
    ]
}

proptest! {
    /// Any sequence of operations keeps the tree sound: rights never grow from parent to
    /// child, badges never change, reference counts match the capabilities, an object is
    /// freed exactly when its last capability goes, and after a revoke none of the revoked
    /// capability's descendants is left anywhere.
    #[test]
    fn any_sequence_keeps_the_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let mut c = Caps::new();
        let spaces: Vec<SpaceId> = (0..SPACES).map(|_| c.create_space()).collect();
        let a = |(s, slot): (u8, u8)| at(spaces[s as usize], slot as u32);
        let mut live = std::collections::BTreeSet::new();
        let mut next = 0;
        for op in ops {
            let mut freed = Vec::new();
            let read_before: Vec<ObjId> = c.objects.iter().map(|(id, _)| id).filter(|&id| c.has_readers(id)).collect();
            match op {
                Op::Create { space, slot, rights } => {
                    next += 1;
                    if c.create(a((space, slot)), Obj(Kind::Endpoint, next), Rights::try_from(rights as u64).unwrap()).is_ok() {
                        live.insert(next);
                    }
                }
                Op::Copy { from, to, rights } => {
                    let before = c.get(a(from));
                    let r = Rights::try_from(rights as u64).unwrap();
                    if c.copy(a(from), a(to), r).is_ok() {
                        let (src, dst) = (before.unwrap(), c.get(a(to)).unwrap());
                        prop_assert!(src.rights.contains(dst.rights));
                        prop_assert_eq!(src.badge, dst.badge);
                    }
                }
                Op::Mint { from, to, rights, badge } => {
                    let before = c.get(a(from));
                    let r = Rights::try_from(rights as u64).unwrap();
                    if c.mint(a(from), a(to), r, badge as u64).is_ok() {
                        prop_assert_eq!(before.unwrap().badge, 0, "only an unbadged capability is minted");
                    }
                }
                Op::Move { from, to } => {
                    let before = c.get(a(from));
                    if c.move_cap(a(from), a(to)).is_ok() {
                        prop_assert_eq!(before, c.get(a(to)));
                    }
                }
                Op::Delete { space, slot } => {
                    let _ = c.delete(a((space, slot)), &mut freed);
                }
                Op::Revoke { space, slot } => {
                    let node = c.node_at(a((space, slot)));
                    if c.revoke(a((space, slot)), &mut freed).is_ok() {
                        let node = c.nodes.get(node.unwrap()).unwrap();
                        prop_assert!(node.first_child.is_none());
                        let obj = node.obj;
                        // Only the revoked capability and those not derived from it remain.
                        let remaining = c.nodes.iter().filter(|(_, n)| n.obj == obj).count();
                        prop_assert!(remaining >= 1);
                        prop_assert!(freed.is_empty(), "revoke leaves the original, so never frees");
                    }
                }
            }
            for Obj(_, id) in freed {
                prop_assert!(live.remove(&id), "object {} freed twice or never made", id);
            }
            // Every object that lost its last reader and lives on is reported; nothing
            // reported that lives has a reader.
            let unread = c.take_unread();
            for id in read_before {
                if c.is_live(id) && !c.has_readers(id) {
                    prop_assert!(unread.contains(&id), "object {} lost its readers unreported", id);
                }
            }
            for &id in &unread {
                prop_assert!(!c.is_live(id) || !c.has_readers(id), "object {} reported with a reader", id);
            }
            c.check();
            let alive: std::collections::BTreeSet<u32> = c.objects.iter().map(|(_, e)| e.object.1).collect();
            prop_assert_eq!(&alive, &live);
        }
    }

    /// A revoked capability's whole subtree goes, however deep and wide, in every space.
    #[test]
    fn revoke_removes_every_descendant(steps in proptest::collection::vec((place(), place(), 0..8u8), 1..40)) {
        let mut c = Caps::new();
        let spaces: Vec<SpaceId> = (0..SPACES).map(|_| c.create_space()).collect();
        let a = |(s, slot): (u8, u8)| at(spaces[s as usize], slot as u32);
        c.create(at(spaces[0], 0), Obj(Kind::Endpoint, 1), Rights::ALL).unwrap();
        c.create(at(spaces[0], 1), Obj(Kind::Endpoint, 2), Rights::ALL).unwrap();
        for (from, to, rights) in steps {
            let _ = c.copy(a(from), a(to), Rights::try_from(rights as u64).unwrap());
        }
        let mut freed = Vec::new();
        c.revoke(at(spaces[0], 0), &mut freed).unwrap();
        let first = c.get(at(spaces[0], 0)).unwrap().obj;
        let survivors = c.nodes.iter().filter(|(_, n)| n.obj == first).count();
        prop_assert_eq!(survivors, 1, "only the revoked capability itself names the object");
        c.check();
    }
}
