//! Charging and disposal: Memory quotas charged and credited, capabilities deleted and
//! revoked, and what an object's last reference going does (wake its waiters, free its
//! memory, end a process nobody can act for any more).

use super::*;

impl Tasks {
    /// Charges `bytes` to a Memory object's quota.
    pub fn charge(&mut self, memory: ObjId, bytes: u64) -> Result<(), Error> {
        let Object::Memory { limit, used, .. } = self.caps.object_mut(memory) else { unreachable!("not a memory") };
        match used.checked_add(bytes) {
            Some(total) if total <= *limit => {
                *used = total;
                Ok(())
            }
            _ => Err(Error::OutOfMemory),
        }
    }

    pub fn credit(&mut self, memory: ObjId, bytes: u64) {
        let Object::Memory { used, .. } = self.caps.object_mut(memory) else { unreachable!("not a memory") };
        *used -= bytes;
    }

    /// Charges the running process's quota for `pages` pages it maps itself (or page tables
    /// made for it).
    pub fn charge_pages(&mut self, pages: u64) -> Result<(), Error> {
        self.charge_process(self.current().pid, pages)
    }

    pub fn credit_pages(&mut self, pages: u64) {
        self.credit_process(self.current().pid, pages)
    }

    /// Charges process `pid`'s quota for `pages` pages made for it, and counts them in what
    /// it charged (given back when it ends). A process without a quota cannot be charged.
    pub fn charge_process(&mut self, pid: Pid, pages: u64) -> Result<(), Error> {
        let memory = self.processes.get(&pid).ok_or(Error::ObjectGone)?.memory.ok_or(Error::OutOfMemory)?;
        self.charge(memory, pages * ipc::layout::PAGE_SIZE)?;
        self.processes.get_mut(&pid).expect("checked").charged += pages * ipc::layout::PAGE_SIZE;
        Ok(())
    }

    pub fn credit_process(&mut self, pid: Pid, pages: u64) {
        let Some(process) = self.processes.get_mut(&pid) else { return };
        process.charged -= pages * ipc::layout::PAGE_SIZE;
        if let Some(memory) = process.memory {
            self.credit(memory, pages * ipc::layout::PAGE_SIZE);
        }
    }

    /// Deletes the capability in `at`, then does what the objects it freed need.
    pub fn delete(&mut self, at: At) -> Result<(), Error> {
        let mut freed = Vec::new();
        self.caps.delete(at, &mut freed)?;
        self.dispose(freed);
        Ok(())
    }

    /// Deletes every capability in the user-visible slots of `space` (a process that will
    /// never run again), then disposes as [`Tasks::delete`].
    pub fn clear_capabilities(&mut self, space: SpaceId) {
        let mut freed = Vec::new();
        self.caps.clear_user_slots(space, &mut freed);
        self.dispose(freed);
    }

    /// Revokes up to `budget` of the capabilities derived from the one in `at`, then disposes
    /// as [`Tasks::delete`]; true when none is left.
    pub fn revoke(&mut self, at: At, budget: usize) -> Result<bool, Error> {
        let mut freed = Vec::new();
        let done = self.caps.revoke_some(at, budget, &mut freed)?;
        self.dispose(freed);
        Ok(done)
    }

    /// Gives up a Frame a thread was making in slices: its pages, its charge, its hold on
    /// the Memory object.
    pub fn drop_pending_frame(&mut self, pending: PendingFrame) {
        pending.pages.into_iter().for_each(mem::free_frame);
        let mut freed = Vec::new();
        self.uncharge(pending.charge, &mut freed);
        self.dispose(freed);
    }

    /// Drops a reference the kernel holds on `obj` (taken with `Caps::retain`), disposing of
    /// it if that was the last.
    pub fn release(&mut self, obj: ObjId) {
        let mut freed = Vec::new();
        self.caps.release(obj, &mut freed);
        self.dispose(freed);
    }

    /// Does what each freed object's kind needs: wakes the threads blocked on it with
    /// `ObjectGone`, frees its memory, gives back its charge. Freeing one object can free
    /// others (a reference it held was the last), and end processes (a last handle), which
    /// free more: all of it is worked through in lists, never by recursion, so a process
    /// holding the last handles of a thousand others, each holding a thousand more, ends
    /// on a kernel stack of fixed depth.
    pub fn dispose(&mut self, freed: Vec<Object>) {
        self.free_objects(freed);
        self.end_pending();
    }

    /// Ends the processes listed to end (`ending`), and those their ends list, until none is
    /// left.
    pub(super) fn end_pending(&mut self) {
        while let Some((pid, status)) = self.ending.pop() {
            if self.processes.get(&pid).is_some_and(|p| p.status.is_none()) {
                self.end_one(pid, status);
            }
        }
    }

    /// [`Tasks::dispose`] without ending the processes it lists to end.
    pub(super) fn free_objects(&mut self, mut freed: Vec<Object>) {
        while let Some(object) = freed.pop() {
            match object {
                Object::Endpoint(mut ep, charge) => {
                    for tid in ep.drain().collect::<Vec<_>>() {
                        self.wake(tid, Err(Error::ObjectGone));
                    }
                    self.uncharge(charge, &mut freed);
                }
                Object::Notification(mut n, charge) => {
                    for tid in n.drain().collect::<Vec<_>>() {
                        self.wake(tid, Err(Error::ObjectGone));
                    }
                    if let Some(tid) = n.bound {
                        self.thread(tid).bound = None;
                    }
                    self.uncharge(charge, &mut freed);
                }
                Object::Reply { caller: Some(tid) } => self.wake(tid, Err(Error::ObjectGone)),
                Object::Reply { caller: None }
                | Object::Thread { .. }
                | Object::Archive
                | Object::Introspect
                | Object::IoPorts { charge: None, .. } => {}
                Object::IoPorts { charge: Some(charge), .. } => self.uncharge(charge, &mut freed),
                Object::Process(pid) => {
                    if let Some(p) = self.processes.get_mut(&pid) {
                        p.handle = false;
                        if p.status.is_some() && p.joiners.is_empty() {
                            self.processes.remove(&pid);
                        } else if p.status.is_none() {
                            // A process that cannot run on its own ends with its last handle:
                            // nobody is left who could start it, or kill it after its fault.
                            match (p.started, p.fault) {
                                (false, _) => self.ending.push((pid, ExitStatus::Killed)),
                                (true, Some(status)) => self.ending.push((pid, status)),
                                (true, None) => {}
                            }
                        }
                    }
                }
                Object::Frame { pages, charge } => {
                    for page in pages {
                        mem::free_frame(page);
                    }
                    self.uncharge(charge, &mut freed);
                }
                Object::Irq { line, bound } => {
                    crate::arch::pic::mask(line);
                    self.irq_bound[line as usize] = None;
                    if let Some((ntfn, _)) = bound {
                        self.caps.release(ntfn, &mut freed);
                    }
                }
                Object::Memory { parent, .. } => {
                    if let Some((parent, bytes)) = parent {
                        self.uncharge(Charge { memory: parent, bytes }, &mut freed);
                    }
                }
            }
        }
        // Senders waiting on an endpoint nobody can receive from any more would wait forever:
        // they get `ObjectGone` (and a faulted one, whose fault nobody will ever take, ends).
        for obj in self.caps.take_unread() {
            if !self.caps.is_live(obj) || self.caps.has_readers(obj) {
                continue;
            }
            if let Object::Endpoint(ep, _) = self.caps.object_mut(obj) {
                for tid in ep.drain_senders().collect::<Vec<_>>() {
                    self.wake(tid, Err(Error::ObjectGone));
                }
            }
        }
    }

    fn uncharge(&mut self, charge: Charge, freed: &mut Vec<Object>) {
        self.credit(charge.memory, charge.bytes);
        self.caps.release(charge.memory, freed);
    }
}
