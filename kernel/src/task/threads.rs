//! The calls on threads: `ThreadCreate`, `ThreadPriority`, `ThreadSuspend`, `ThreadResume`
//! and `ThreadEnd`. A Thread capability names a thread by id and serial number, so one to a
//! thread that has ended names nothing (`ObjectGone`), even once the id is reused.

use super::load;
use super::table::{with, Next, State, Tasks};
use crate::object::Object;
use crate::sched::Tid;
use ipc::cap::{Kind, Rights, SELF};
use ipc::layout::{USER_END, USER_MIN};
use ipc::syscall::{ExitStatus, ARG_REGS};
use ipc::Error;

type Regs = [u64; ARG_REGS];

/// The live thread a Thread capability with the write right names.
fn thread_of(t: &Tasks, slot: u64) -> Result<Tid, Error> {
    let cap = t.caps.lookup(t.slot(slot)?, Kind::Thread, Rights::WRITE)?;
    let Object::Thread { tid, serial } = *t.caps.object(cap.obj) else { unreachable!("kind checked") };
    match t.threads.get(&tid) {
        Some(thread) if thread.serial == serial => Ok(tid),
        _ => Err(Error::ObjectGone),
    }
}

/// `ThreadCreate`: a thread in the caller's process or a target's, at the caller's priority.
pub fn create(r: &mut Regs) -> Result<(), Error> {
    let [target, entry, stack, arg, dest, _] = *r;
    // A new thread leaves the kernel by `iretq`, which faults in kernel mode on a
    // non-canonical RIP: the entry must lie in user memory (the stack may be its very end).
    if !(USER_MIN..USER_END).contains(&entry) || !(USER_MIN..=USER_END).contains(&stack) {
        return Err(Error::BadAddress);
    }
    with(|t| {
        let dest = t.slot(dest)?;
        if t.caps.get(dest).is_ok() {
            return Err(Error::SlotInUse);
        }
        let pid = t.target(target)?;
        if !t.processes[&pid].is_running() {
            return Err(Error::InvalidArgument);
        }
        let priority = t.current().priority;
        let (tid, address) = load::thread(t, pid, priority, entry, stack, arg)?;
        let serial = t.threads[&tid].serial;
        if let Err(e) = t.caps.create(dest, Object::Thread { tid, serial }, Rights::ALL) {
            t.end_thread(tid, ExitStatus::Killed);
            return Err(e);
        }
        [r[0], r[1]] = [tid, address];
        Ok(())
    })
}

/// `ThreadPriority`: no higher than the caller's own; the run queue follows at once.
pub fn priority(r: &mut Regs) -> Result<(), Error> {
    let [thread, priority, ..] = *r;
    with(|t| {
        let tid = thread_of(t, thread)?;
        if priority > u64::from(t.current().priority) {
            return Err(Error::InvalidArgument);
        }
        let priority = priority as u8;
        let th = t.thread(tid);
        let (old, state) = (th.priority, th.state);
        th.priority = priority;
        if tid == t.running {
            if t.sched.set_current_priority(priority) {
                super::table::note_preempt();
            }
        } else if state == State::Ready {
            t.sched.forget(tid, old);
            t.make_ready(tid);
        }
        Ok(())
    })
}

/// `ThreadSuspend`: the thread stops; a call it waits in returns `Interrupted` on resuming.
/// A thread suspending itself blocks here, and its call returns when it is resumed.
pub fn suspend(r: &mut Regs) -> Result<Next, Error> {
    with(|t| {
        let tid = thread_of(t, r[0])?;
        let th = &t.threads[&tid];
        if th.faulted || th.state == State::Suspended {
            return Ok(Next::Return);
        }
        if tid == t.running {
            t.thread(tid).state = State::Suspended;
            return Ok(Next::Block);
        }
        let waiting = th.state != State::Ready;
        t.leave_wait(tid);
        let th = t.thread(tid);
        if waiting {
            th.set_status(Err(Error::Interrupted));
        }
        th.state = State::Suspended;
        Ok(Next::Return)
    })
}

/// `ThreadResume`: a suspended thread is ready again.
pub fn resume(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let tid = thread_of(t, r[0])?;
        if t.threads[&tid].state == State::Suspended {
            t.make_ready(tid);
        }
        Ok(())
    })
}

/// `ThreadEnd`: a thread ends, or the caller itself (`SELF`), which does not return. The last
/// thread of a process ends it: as `Exit(0)` when it ends itself, killed when another does.
pub fn end(r: &mut Regs) -> Result<(), Error> {
    let own = with(|t| {
        let tid = if r[0] == SELF { t.running } else { thread_of(t, r[0])? };
        if tid == t.running {
            return Ok(true);
        }
        t.end_thread(tid, ExitStatus::Killed);
        Ok(false)
    })?;
    if own {
        super::table::end_current_thread();
    }
    Ok(())
}
