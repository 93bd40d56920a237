//! Ending: processes and threads ended (by exit, kill or fault), a faulting process stopped
//! for its supervisor, and what an ended thread leaves for the next one to free.

use super::*;

impl Tasks {
    /// Takes a thread out of whatever it is blocked on, or out of the run queue (it is being
    /// killed or stopped), leaving it `Faulted`; its bound notification is let go.
    pub(in crate::task) fn detach(&mut self, tid: Tid) {
        self.leave_wait(tid);
        self.drop_kept_caller(tid);
        if let Some(Pending::Frame(pending)) = self.thread(tid).pending.take() {
            self.drop_pending_frame(pending);
        }
        if let Some(ntfn) = self.threads[&tid].bound {
            if let Object::Notification(n, _) = self.caps.object_mut(ntfn) {
                n.bound = None;
            }
        }
        self.thread(tid).state = State::Faulted;
    }

    /// Takes a thread out of whatever it waits on (an endpoint's queue, a reply, a
    /// notification, the sleepers, a process's joiners) or out of the run queue, leaving its
    /// state as it was for the caller to set.
    pub(in crate::task) fn leave_wait(&mut self, tid: Tid) {
        let thread = &self.threads[&tid];
        let (state, prio) = (thread.state, thread.priority);
        match state {
            State::Ready if self.running != tid => self.sched.forget(tid, prio),
            State::Ready | State::New | State::Faulted | State::Suspended => {}
            State::Sending { ep, .. } | State::Receiving { ep } => {
                if let Object::Endpoint(e, _) = self.caps.object_mut(ep) {
                    e.remove(tid);
                }
            }
            State::AwaitingReply { reply } => {
                if let Object::Reply { caller } = self.caps.object_mut(reply) {
                    *caller = None;
                }
            }
            State::AwaitingThread { server } => {
                if let Some(s) = self.threads.get_mut(&server) {
                    if s.caller == Some(tid) {
                        s.caller = None;
                    }
                }
            }
            State::Waiting { ntfn } => {
                if let Object::Notification(n, _) = self.caps.object_mut(ntfn) {
                    n.remove(tid);
                }
            }
            State::Sleeping => {
                self.sleepers.remove(tid);
            }
            State::Joining { pid } => {
                if let Some(p) = self.processes.get_mut(&pid) {
                    p.joiners.retain(|&t| t != tid);
                }
            }
        }
    }

    /// The answer thread `tid` keeps for a caller (`KEEPS_REPLY`) will never come: the caller
    /// gets `ObjectGone`, as when a Reply capability goes unanswered.
    pub(in crate::task) fn drop_kept_caller(&mut self, tid: Tid) {
        if let Some(caller) = self.thread(tid).caller.take() {
            self.wake(caller, Err(Error::ObjectGone));
        }
    }

    /// Ends process `pid` with `status`: its threads leave whatever they wait on, its
    /// capabilities are deleted (waking whoever that concerns), its memory goes back. Threads
    /// other than the running one are freed at once; the running one's stack and the address
    /// space are left for the next thread to free. Processes whose last handle it held end
    /// too, after it.
    pub fn end_process(&mut self, pid: Pid, status: ExitStatus) {
        self.end_one(pid, status);
        self.end_pending();
    }

    /// [`Tasks::end_process`] for `pid` alone: the processes it lists to end are left to the
    /// caller.
    pub(super) fn end_one(&mut self, pid: Pid, status: ExitStatus) {
        let process = self.processes.get_mut(&pid).expect("ending a process that does not exist");
        let tids = core::mem::take(&mut process.threads);
        for &tid in &tids {
            self.detach(tid);
        }
        let process = self.processes.get_mut(&pid).expect("ending a process that does not exist");
        if let ExitStatus::Exited(code) = status {
            info!("process '{}' (pid {pid}) exited with code {code}", process.name);
        } else if status == ExitStatus::Killed {
            info!("process '{}' (pid {pid}) was killed", process.name);
        }
        process.status = Some(status);
        let space = process.space.take();
        let cspace = process.cspace;
        let memory = process.memory.take();
        let charged = core::mem::take(&mut process.charged);
        let frames = core::mem::take(&mut process.frames);
        let joiners = core::mem::take(&mut process.joiners);
        let exit_signal = process.exit_signal.take();
        let timer = process.timer.take();
        let remove = !process.handle;
        let mut freed = Vec::new();
        if let Some((ntfn, badge)) = exit_signal {
            crate::task::ipc::signal_object(self, ntfn, badge.max(1));
            self.caps.release(ntfn, &mut freed);
        }
        if let Some((ntfn, _)) = timer {
            self.timers.remove(pid);
            self.caps.release(ntfn, &mut freed);
        }
        self.caps.destroy_space(cspace, &mut freed);
        for mapping in frames {
            self.caps.release(mapping.frame, &mut freed);
        }
        if let Some(memory) = memory {
            self.credit(memory, charged);
            self.caps.release(memory, &mut freed);
        }
        for j in joiners {
            self.wake(j, Ok(()));
        }
        if remove {
            self.processes.remove(&pid);
        }
        self.free_objects(freed);
        let mut current = false;
        for tid in tids {
            match tid == self.running {
                true => current = true,
                false => self.free_thread(tid),
            }
        }
        if current {
            self.leave_remains(space);
        } else {
            drop(space);
        }
    }

    /// Ends one thread of a process that has others (`ThreadEnd`): it leaves whatever it
    /// waits on, its IPC buffer goes (but the first thread's, which is part of the process's
    /// image and stays until the process ends), and so does its charge. The running thread's
    /// stack is left for the next thread to free. Ending the last thread ends the process with
    /// status `last`.
    pub fn end_thread(&mut self, tid: Tid, last: ExitStatus) {
        let pid = self.threads[&tid].pid;
        if self.processes[&pid].threads.len() <= 1 {
            return self.end_process(pid, last);
        }
        self.detach(tid);
        let index = self.threads[&tid].buffer_index;
        let cost = thread_cost(index);
        let process = self.processes.get_mut(&pid).expect("a thread's process exists");
        process.threads.retain(|&t| t != tid);
        if cost > 0 {
            process.free_buffer(index);
            if let Some(space) = process.space.as_mut() {
                space.unmap_pinned(ipc::layout::thread_ipc_buffer(index));
            }
            process.charged -= cost;
            if let Some(memory) = process.memory {
                self.credit(memory, cost);
            }
        }
        if tid == self.running {
            self.leave_remains(None);
        } else {
            self.free_thread(tid);
        }
    }

    /// Stops every thread of a process one of whose threads (the running one) faulted: the
    /// others leave whatever they wait on and never run again; `status` is how it will end.
    fn stop_process(&mut self, pid: Pid, status: ExitStatus) {
        let process = self.processes.get_mut(&pid).expect("a faulting thread's process exists");
        process.fault = Some(status);
        for tid in process.threads.clone() {
            if tid != self.running {
                self.detach(tid);
                self.thread(tid).faulted = true;
            }
        }
        // Nor will the faulting thread answer what it keeps (its Reply capabilities go with
        // the process's capabilities).
        self.drop_kept_caller(self.running);
    }

    /// Takes an ended thread, off the CPU, out of the table and frees its kernel stack.
    fn free_thread(&mut self, tid: Tid) {
        if let Some(kstack) = self.threads.remove(&tid).and_then(|thread| thread.kstack) {
            stack::free(kstack);
        }
    }

    /// The running thread has ended: what it still runs on (its kernel stack, and its
    /// process's address space if that ended too) is freed by the next thread, after the
    /// switch.
    fn leave_remains(&mut self, space: Option<AddressSpace>) {
        self.remains = Some(Remains { tid: self.running, space });
        HAS_REMAINS.store(true, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Ends the running process with `status`; its memory is freed once another thread runs.
pub fn end_current(status: ExitStatus) -> ! {
    with(|t| {
        assert!(t.running != IDLE, "the idle thread tried to end");
        let pid = t.current().pid;
        t.end_process(pid, status);
    });
    reschedule(Leave::Block);
    unreachable!("an ended thread was switched back to");
}

/// Ends the running thread (`ThreadEnd` on itself); the last thread of its process ends
/// the process, as `Exit(0)`. Its stack is freed once another thread runs.
pub fn end_current_thread() -> ! {
    with(|t| {
        assert!(t.running != IDLE, "the idle thread tried to end");
        let tid = t.running;
        t.end_thread(tid, ExitStatus::Exited(0));
    });
    reschedule(Leave::Block);
    unreachable!("an ended thread was switched back to");
}

/// A CPU exception in user mode: reported, then either sent to the process's fault endpoint
/// (the process, every thread of it, stays stopped until its supervisor kills it) or,
/// without one, the end.
///
/// A fault message asks its receiver to decide the process's end, so the process ends at
/// once if nobody could ever receive it (no capability to the endpoint has the read right) or
/// act on it (no handle to the process is left). A stopped process never runs again, so its
/// capabilities go at once (its fault slot excepted): whatever it alone kept alive is
/// released, and no process stays alive through a handle only it holds.
pub fn fault_current(frame: &TrapFrame, cr2: u64) -> ! {
    let handled = with(|t| {
        let pid = t.current().pid;
        crate::task::ipc::note(t, ipc::trace::Kind::Fault, t.running, 0, 0, frame.vector as u32);
        let name = &t.current_process().name;
        warn!("{}", exception::UserFault { name, pid, frame, cr2 });
        let cspace = t.cspace();
        let Ok(cap) = t.caps.get(At::hidden(cspace, FAULT_SLOT)) else { return false };
        if !t.caps.has_readers(cap.obj) || !t.current_process().handle {
            return false;
        }
        let address = if frame.vector == exception::PAGE_FAULT { cr2 } else { 0 };
        let msg = Msg {
            badge: cap.badge,
            info: MsgInfo::new(LABEL_FAULT, 4, 0).encode(),
            words: [frame.vector, frame.error_code, frame.rip, address],
        };
        crate::task::ipc::send_fault(t, cap.obj, msg);
        t.stop_process(pid, ExitStatus::Faulted(frame.vector as u8));
        t.clear_capabilities(cspace);
        true
    });
    if !handled {
        end_current(ExitStatus::Faulted(frame.vector as u8));
    }
    loop {
        reschedule(Leave::Block);
    }
}
