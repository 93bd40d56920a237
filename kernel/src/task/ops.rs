//! The system calls on capabilities and the objects behind them: copy, mint, move, delete,
//! revoke, inspect; making objects from Memory; making, starting, killing processes; mapping
//! memory and Frames; interrupts and I/O ports. Each checks the capabilities it is given
//! (slot, kind, rights) before it changes anything.

use super::table::{with, FrameMapping, Next, Pending, PendingFrame, Tasks};
use super::{ipc as msg, load};
use crate::arch::{gdt, pic};
use crate::cap::{At, FAULT_SLOT};
use crate::ipc::{Endpoint, Notification};
use crate::mem;
use crate::mem::space::{Access, Unmapped};
use crate::object::{Charge, Object};
use alloc::vec::Vec;
use ipc::cap::{init_slots, Kind, Rights, FRAME_PAGES_MAX, IO_PORTS_END, IRQ_LINES};
use ipc::layout::PAGE_SIZE;
use ipc::syscall::{ExitStatus, MapFlags, Syscall, ARG_REGS};
use ipc::Error;

type Regs = [u64; ARG_REGS];

fn rights(bits: u64) -> Result<Rights, Error> {
    Rights::try_from(bits)
}

/// The capability space of a "target" argument.
fn target_space(t: &Tasks, target: u64) -> Result<u32, Error> {
    let pid = t.target(target)?;
    Ok(t.processes[&pid].cspace)
}

/// The capability space of a "target" argument that the capability in `src` is to be put
/// in. Two rules keep every process that cannot run on its own reachable by one that can,
/// so that no process outlives everyone able to end it:
/// - a process stopped on a fault never runs again and holds nothing: nothing goes in;
/// - a process that has not started yet ends when its last handle goes, which never happens
///   if its handles live only in processes that have not started either. So a Process
///   capability may not go into a process that has not started if the process it names is
///   that one, or holds, through such processes, a handle to it.
fn placement_space(t: &Tasks, target: u64, src: At) -> Result<u32, Error> {
    let pid = t.target(target)?;
    let process = &t.processes[&pid];
    if process.fault.is_some() {
        return Err(Error::InvalidArgument);
    }
    if !process.started {
        if let Ok(Object::Process(named)) = t.caps.get(src).map(|cap| t.caps.object(cap.obj)) {
            if holds_handle_to(t, *named, pid) {
                return Err(Error::InvalidArgument);
            }
        }
    }
    Ok(process.cspace)
}

/// Whether process `from` is `to`, or holds a handle to it through a chain of processes
/// that have not started (each holding a handle to the next).
fn holds_handle_to(t: &Tasks, from: u64, to: u64) -> bool {
    let mut next = Vec::from([from]);
    let mut seen = Vec::new();
    while let Some(pid) = next.pop() {
        if pid == to {
            return true;
        }
        if seen.contains(&pid) {
            continue;
        }
        seen.push(pid);
        // A process that runs (or ended) is no link: it can end the ones it holds itself.
        let Some(p) = t.processes.get(&pid).filter(|p| !p.started && p.status.is_none()) else { continue };
        for (_, cap) in t.caps.caps_in(p.cspace).filter(|(_, cap)| cap.kind == Kind::Process) {
            let Object::Process(held) = *t.caps.object(cap.obj) else { unreachable!("kind checked") };
            next.push(held);
        }
    }
    false
}

pub fn inspect(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let cap = t.caps.get(t.slot(r[0])?)?;
        let size = match t.caps.object(cap.obj) {
            Object::Frame { pages, .. } => pages.len() as u64,
            _ => 0,
        };
        [r[0], r[1], r[2], r[3]] = [cap.kind as u64, cap.rights.bits(), cap.badge, size];
        Ok(())
    })
}

pub fn copy(r: &mut Regs) -> Result<(), Error> {
    let [src, dest, bits, target, ..] = *r;
    with(|t| {
        let src = t.slot(src)?;
        let dest = At::user(placement_space(t, target, src)?, dest)?;
        t.caps.copy(src, dest, rights(bits)?)
    })
}

pub fn mint(r: &mut Regs) -> Result<(), Error> {
    let [src, dest, bits, badge, target, _] = *r;
    with(|t| {
        let src = t.slot(src)?;
        let dest = At::user(placement_space(t, target, src)?, dest)?;
        t.caps.mint(src, dest, rights(bits)?, badge)
    })
}

pub fn move_cap(r: &mut Regs) -> Result<(), Error> {
    let [src, dest, target, ..] = *r;
    with(|t| {
        let src = t.slot(src)?;
        let dest = At::user(placement_space(t, target, src)?, dest)?;
        t.caps.move_cap(src, dest)
    })
}

pub fn delete(r: &mut Regs) -> Result<(), Error> {
    with(|t| t.delete(t.slot(r[0])?))
}

/// Capabilities a `CapRevoke` deletes in one slice; a larger revoke runs again
/// ([`Next::Restart`]) until it is done, with interrupts taken in between.
pub const REVOKE_SLICE: usize = 1024;

/// Pages a `Create` zeroes for a Frame in one slice; a larger Frame is made over several
/// runs of the call ([`Next::Restart`]), with interrupts taken in between.
pub const FRAME_SLICE: usize = 64;

pub fn revoke(r: &mut Regs) -> Result<Next, Error> {
    match with(|t| t.revoke(t.slot(r[0])?, REVOKE_SLICE))? {
        true => Ok(Next::Return),
        false => Ok(Next::Restart(Syscall::CapRevoke)),
    }
}

/// `Create`: an Endpoint, Notification, Frame or Memory object, charged to a Memory object.
/// A Frame larger than [`FRAME_SLICE`] pages is made in slices ([`frame_pages`]).
pub fn create(r: &mut Regs) -> Result<Next, Error> {
    let [memory, kind_word, dest_word, size, ..] = *r;
    let kind = Kind::try_from(kind_word)?;
    with(|t| {
        let mem_cap = t.caps.lookup(t.slot(memory)?, Kind::Memory, Rights::WRITE)?;
        let dest = t.slot(dest_word)?;
        if t.caps.get(dest).is_ok() {
            return Err(Error::SlotInUse);
        }
        let bytes = match kind {
            Kind::Frame if !(1..=FRAME_PAGES_MAX).contains(&size) => None,
            Kind::Endpoint | Kind::Notification | Kind::Frame | Kind::Memory => kind.cost(size),
            _ => None,
        }
        .ok_or(Error::InvalidArgument)?;
        let charge = Charge { memory: mem_cap.obj, bytes };
        let object = match kind {
            Kind::Frame => match frame_pages(t, [memory, kind_word, dest_word, size], charge, size as usize)? {
                Some(pages) => Object::Frame { pages, charge },
                None => return Ok(Next::Restart(Syscall::Create)),
            },
            _ => {
                t.charge(mem_cap.obj, bytes)?;
                t.caps.retain(mem_cap.obj);
                match kind {
                    Kind::Endpoint => Object::Endpoint(Endpoint::new(), charge),
                    Kind::Notification => Object::Notification(Notification::new(), charge),
                    _ => Object::Memory { limit: size, used: 0, parent: Some((mem_cap.obj, bytes)) },
                }
            }
        };
        t.caps.create(dest, object, Rights::ALL).map(|_| Next::Return)
    })
}

/// The zeroed pages of a Frame of `size` pages, made [`FRAME_SLICE`] at a time: `Some` when
/// all are made, `None` when the call must run again for the next slice. The first slice
/// takes the charge for all of them and a hold on the Memory object, which the Frame keeps;
/// until the last, the thread keeps them (`Thread::pending`), and gives them up if it ends
/// or makes another call to `Create` or `Map` first.
fn frame_pages(t: &mut Tasks, call: [u64; 4], charge: Charge, size: usize) -> Result<Option<Vec<u64>>, Error> {
    let tid = t.running;
    let mut pending = match t.thread(tid).pending.take() {
        Some(Pending::Frame(p)) if p.call == call => p,
        other => {
            if let Some(Pending::Frame(p)) = other {
                t.drop_pending_frame(p);
            }
            t.charge(charge.memory, charge.bytes)?;
            t.caps.retain(charge.memory);
            PendingFrame { call, pages: Vec::with_capacity(size), charge }
        }
    };
    let goal = (pending.pages.len() + FRAME_SLICE).min(size);
    while pending.pages.len() < goal {
        match mem::paging::alloc_zeroed_frame() {
            Some(p) => pending.pages.push(p),
            None => {
                t.drop_pending_frame(pending);
                return Err(Error::OutOfMemory);
            }
        }
    }
    if pending.pages.len() < size {
        t.thread(tid).pending = Some(Pending::Frame(pending));
        return Ok(None);
    }
    Ok(Some(pending.pages))
}

/// `ProcessCreate`: a process from a boot program, not started, with an empty capability
/// space; the caller gets a Process capability.
pub fn process_create(r: &mut Regs, name: &str) -> Result<(), Error> {
    let [memory, archive, _, _, dest, _] = *r;
    with(|t| {
        let mem_cap = t.caps.lookup(t.slot(memory)?, Kind::Memory, Rights::WRITE)?;
        t.caps.lookup(t.slot(archive)?, Kind::Archive, Rights::WRITE)?;
        let dest = t.slot(dest)?;
        if t.caps.get(dest).is_ok() {
            return Err(Error::SlotInUse);
        }
        let priority = t.current().priority;
        let pid = load::create(t, name, mem_cap.obj, priority)?;
        t.processes.get_mut(&pid).expect("just made").handle = true;
        t.caps.create(dest, Object::Process(pid), Rights::ALL).map(drop)
    })
}

/// Checks that `slot` holds an Archive capability with the read right (`ArchiveRead`).
pub fn archive_check(slot: u64) -> Result<(), Error> {
    with(|t| t.caps.lookup(t.slot(slot)?, Kind::Archive, Rights::READ).map(drop))
}

/// The process of a Process capability with `need`.
fn process_of(t: &Tasks, slot: u64, need: Rights) -> Result<u64, Error> {
    let cap = t.caps.lookup(t.slot(slot)?, Kind::Process, need)?;
    let Object::Process(pid) = *t.caps.object(cap.obj) else { unreachable!("kind checked") };
    Ok(pid)
}

/// `ProcessStart`: gives a created process its thread, at a priority no higher than the
/// caller's. Returns its process id.
pub fn process_start(r: &mut Regs, args: &str) -> Result<(), Error> {
    let [process, _, _, priority, ..] = *r;
    with(|t| {
        let pid = process_of(t, process, Rights::WRITE)?;
        if priority > u64::from(t.current().priority) {
            return Err(Error::InvalidArgument);
        }
        if t.processes.get(&pid).is_none_or(|p| p.status.is_some() || p.started) {
            return Err(Error::InvalidArgument);
        }
        t.processes.get_mut(&pid).expect("checked").priority = priority as u8;
        load::start(t, pid, args)?;
        r[0] = pid;
        Ok(())
    })
}

/// `ProcessKill`.
pub fn process_kill(r: &mut Regs) -> Result<(), Error> {
    let me = with(|t| {
        let pid = process_of(t, r[0], Rights::WRITE)?;
        if t.processes.get(&pid).is_none_or(|p| p.status.is_some()) {
            return Ok(false);
        }
        if pid == t.current().pid {
            return Ok(true);
        }
        t.end_process(pid, ExitStatus::Killed);
        Ok(false)
    })?;
    if me {
        super::table::end_current(ExitStatus::Killed);
    }
    Ok(())
}

/// `ProcessSetFault`: a copy of the endpoint capability (send right only) goes to the
/// process's hidden fault slot, replacing any there.
pub fn process_set_fault(r: &mut Regs) -> Result<(), Error> {
    let [process, endpoint, ..] = *r;
    with(|t| {
        let space = target_space(t, process)?;
        let src = t.slot(endpoint)?;
        t.caps.lookup(src, Kind::Endpoint, Rights::WRITE)?;
        let fault = At::hidden(space, FAULT_SLOT);
        let _ = t.delete(fault);
        t.caps.copy(src, fault, Rights::WRITE)
    })
}

/// `ProcessNotifyExit`: the process's end will signal the notification (replacing any
/// earlier one).
pub fn process_notify_exit(r: &mut Regs) -> Result<(), Error> {
    let [process, ntfn, ..] = *r;
    with(|t| {
        let pid = t.target(process)?;
        let n = t.caps.lookup(t.slot(ntfn)?, Kind::Notification, Rights::WRITE)?;
        t.caps.retain(n.obj);
        let old = t.processes.get_mut(&pid).expect("target checked").exit_signal.replace((n.obj, n.badge));
        if let Some((old, _)) = old {
            t.release(old);
        }
        Ok(())
    })
}

/// `TimerSet`: arms (or, with 0 microseconds, disarms) the calling process's timer.
pub fn timer_set(r: &mut Regs) -> Result<(), Error> {
    let [ntfn, micros, ..] = *r;
    with(|t| {
        let armed = if micros == 0 {
            None
        } else {
            let n = t.caps.lookup(t.slot(ntfn)?, Kind::Notification, Rights::WRITE)?;
            t.caps.retain(n.obj);
            Some((n.obj, n.badge))
        };
        let pid = t.current().pid;
        t.timers.remove(pid);
        if armed.is_some() {
            // One tick more than the span: the current tick is already partly gone.
            let ticks = micros.div_ceil(1_000_000 / crate::time::TICK_HZ) + 1;
            t.timers.add(pid, crate::time::ticks().saturating_add(ticks));
        }
        let old = core::mem::replace(&mut t.current_process().timer, armed);
        if let Some((old, _)) = old {
            t.release(old);
        }
        Ok(())
    })
}

/// Checks a page-aligned, non-empty user range for `Map`/`Unmap`/`FrameMap`; returns its end.
pub fn page_range(addr: u64, len: u64) -> Result<u64, Error> {
    if !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(Error::InvalidArgument);
    }
    let end = addr.checked_add(len).ok_or(Error::BadLength)?;
    if len > ipc::syscall::MAP_MAX {
        return Err(Error::BadLength);
    }
    if !ipc::layout::is_user_range(addr, len) {
        return Err(Error::BadAddress);
    }
    Ok(end)
}

/// Pages a `Map` maps (and zeroes), or an `Unmap` unmaps, in one slice; a longer range is
/// done over several runs of the call ([`Next::Restart`]), with interrupts taken in between.
pub const MAP_SLICE: u64 = 64;

/// `Map`: fresh pages, charged to the process's quota; never in the IPC buffer area. Done
/// [`MAP_SLICE`] pages at a time, each slice checked and charged (its page tables too) as it
/// is mapped; the thread keeps how far it got (`Thread::pending`). A slice that fails undoes
/// the slices before it, as an `Unmap` of them would, so a failed call changes nothing.
pub fn map(r: &mut Regs) -> Result<Next, Error> {
    let [addr, len, flags_word, ..] = *r;
    let flags = MapFlags::try_from(flags_word)?;
    let end = page_range(addr, len)?;
    let access = Access::new(flags.writable(), flags.executable());
    if ipc::layout::touches_ipc_buffers(addr, len) {
        return Err(Error::BadAddress);
    }
    with(|t| {
        let call = [addr, len, flags_word, 0];
        let done = match t.current_mut().pending.take() {
            Some(Pending::Map { call: c, done }) if c == call => done,
            Some(Pending::Frame(frame)) => {
                t.drop_pending_frame(frame);
                0
            }
            _ => 0,
        };
        let from = addr + done * PAGE_SIZE;
        let to = end.min(from + MAP_SLICE * PAGE_SIZE);
        if let Err(e) = map_slice(t, from, to, access) {
            unmap_range(t, addr, from);
            return Err(e);
        }
        if to < end {
            t.current_mut().pending = Some(Pending::Map { call, done: (to - addr) / PAGE_SIZE });
            return Ok(Next::Restart(Syscall::Map));
        }
        Ok(Next::Return)
    })
}

/// Maps fresh pages at `[from, to)`, nothing of which may be mapped, charging them and the
/// page tables they make. On error nothing is left mapped or charged but those tables, which
/// stay, charged, as every page table does until the process ends.
fn map_slice(t: &mut Tasks, from: u64, to: u64, access: Access) -> Result<(), Error> {
    let space = t.current_process().space.as_mut().expect("running process without a space");
    if (from..to).step_by(PAGE_SIZE as usize).any(|page| space.is_mapped(page)) {
        return Err(Error::InvalidArgument);
    }
    let pages = (to - from) / PAGE_SIZE;
    let (tables, before) = (space.tables_missing(from, to - from), space.tables());
    t.charge_pages(pages + tables)?;
    let space = t.current_process().space.as_mut().expect("running process without a space");
    for page in (from..to).step_by(PAGE_SIZE as usize) {
        if space.map_new(page, access).is_err() {
            for done in (from..page).step_by(PAGE_SIZE as usize) {
                space.unmap(done);
            }
            let made = space.tables() - before;
            t.credit_pages(pages + tables - made);
            return Err(Error::OutOfMemory);
        }
    }
    debug_assert_eq!(t.current_process().space.as_ref().map(|s| s.tables() - before), Some(tables));
    Ok(())
}

/// `Unmap`: the process's own pages are freed and credited; a Frame's stay the Frame's. A
/// range that touches the IPC buffer area (where every pinned page is) is refused whole,
/// before anything changes. Done [`MAP_SLICE`] pages at a time: between slices the call's
/// address and length registers are moved on past what is done, and it runs again.
pub fn unmap(r: &mut Regs) -> Result<Next, Error> {
    let [addr, len, ..] = *r;
    let end = page_range(addr, len)?;
    if ipc::layout::touches_ipc_buffers(addr, len) {
        return Err(Error::InvalidArgument);
    }
    let to = end.min(addr + MAP_SLICE * PAGE_SIZE);
    with(|t| unmap_range(t, addr, to));
    if to < end {
        [r[0], r[1]] = [to, end - to];
        return Ok(Next::Restart(Syscall::Unmap));
    }
    Ok(Next::Return)
}

/// Unmaps `[from, to)` of the running process as `Unmap` does: its own pages freed and
/// credited, a Frame's let go of, pinned pages left.
fn unmap_range(t: &mut Tasks, from: u64, to: u64) {
    // Pinned pages are IPC buffers, which `Map` and `Unmap` never reach.
    let space = t.current_process().space.as_mut().expect("running process without a space");
    let mut freed = 0;
    let mut shared = Vec::new();
    for page in (from..to).step_by(PAGE_SIZE as usize) {
        match space.unmap(page) {
            Unmapped::Freed => freed += 1,
            Unmapped::Shared(phys) => shared.push((page, phys)),
            Unmapped::Nothing | Unmapped::Pinned => {}
        }
    }
    t.credit_pages(freed);
    for (page, phys) in shared {
        frame_page_unmapped(t, page, phys);
    }
}

/// A Frame's page at physical `phys` was unmapped from `page` of the current process: the
/// mapping it belonged to has one page fewer, and when none is left it lets go of its Frame.
/// The mapping is the one whose range holds `page` and whose Frame has `phys` at that place
/// (two mappings can't both: a Frame is mapped only where nothing is).
fn frame_page_unmapped(t: &mut Tasks, page: u64, phys: u64) {
    let pid = t.current().pid;
    let caps = &t.caps;
    let frames = &mut t.processes.get_mut(&pid).expect("running thread without a process").frames;
    let found = frames.iter().position(|m| {
        let Object::Frame { pages, .. } = caps.object(m.frame) else { return false };
        page.checked_sub(m.start).map(|off| off / PAGE_SIZE).and_then(|i| pages.get(i as usize)) == Some(&phys)
    });
    let Some(i) = found else { return };
    frames[i].mapped -= 1;
    if frames[i].mapped == 0 {
        let frame = frames.swap_remove(i).frame;
        t.release(frame);
    }
}

/// `FrameMap`: a Frame's pages at `addr` in the caller's or a target's address space,
/// readable (read right) and writable if asked (write right), never executable.
pub fn frame_map(r: &mut Regs) -> Result<(), Error> {
    let [frame, addr, flags, target, ..] = *r;
    let flags = MapFlags::try_from(flags)?;
    if flags.executable() {
        return Err(Error::InvalidArgument);
    }
    with(|t| {
        let need = if flags.writable() { Rights::READ.union(Rights::WRITE) } else { Rights::READ };
        let cap = t.caps.lookup(t.slot(frame)?, Kind::Frame, need)?;
        let pid = t.target(target)?;
        let Object::Frame { pages, .. } = t.caps.object(cap.obj) else { unreachable!("kind checked") };
        let pages: Vec<u64> = pages.clone();
        let end = page_range(addr, pages.len() as u64 * PAGE_SIZE)?;
        if ipc::layout::touches_ipc_buffers(addr, end - addr) {
            return Err(Error::BadAddress);
        }
        let space = t.processes.get_mut(&pid).and_then(|p| p.space.as_mut()).ok_or(Error::ObjectGone)?;
        if (addr..end).step_by(PAGE_SIZE as usize).any(|page| space.is_mapped(page)) {
            return Err(Error::InvalidArgument);
        }
        // The Frame's pages are paid for; the page tables the mapping makes are charged to
        // the process whose space they are in, as `Map` charges them.
        let (tables, before) = (space.tables_missing(addr, end - addr), space.tables());
        t.charge_process(pid, tables)?;
        let space = t.processes.get_mut(&pid).and_then(|p| p.space.as_mut()).expect("checked");
        for (i, &phys) in pages.iter().enumerate() {
            let page = addr + i as u64 * PAGE_SIZE;
            if space.map_shared(page, phys, flags.writable()).is_err() {
                for done in (addr..page).step_by(PAGE_SIZE as usize) {
                    space.unmap(done);
                }
                let made = space.tables() - before;
                t.credit_process(pid, tables - made);
                return Err(Error::OutOfMemory);
            }
        }
        t.caps.retain(cap.obj);
        let mapping = FrameMapping { frame: cap.obj, start: addr, mapped: pages.len() as u64 };
        t.processes.get_mut(&pid).expect("checked").frames.push(mapping);
        Ok(())
    })
}

/// `IrqBind`: the line signals the notification from now on, and is unmasked.
pub fn irq_bind(r: &mut Regs) -> Result<(), Error> {
    let [irq, ntfn, ..] = *r;
    with(|t| {
        let irq = t.caps.lookup(t.slot(irq)?, Kind::Irq, Rights::WRITE)?;
        let n = t.caps.lookup(t.slot(ntfn)?, Kind::Notification, Rights::WRITE)?;
        t.caps.retain(n.obj);
        let Object::Irq { line, bound } = t.caps.object_mut(irq.obj) else { unreachable!("kind checked") };
        let (line, old) = (*line, bound.replace((n.obj, n.badge)));
        t.irq_bound[line as usize] = Some((n.obj, n.badge));
        if let Some((old, _)) = old {
            t.release(old);
        }
        pic::unmask(line);
        Ok(())
    })
}

/// `IrqAck`: unmasks a bound line after its interrupt was handled.
pub fn irq_ack(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let irq = t.caps.lookup(t.slot(r[0])?, Kind::Irq, Rights::WRITE)?;
        let Object::Irq { line, bound } = t.caps.object(irq.obj) else { unreachable!("kind checked") };
        if bound.is_none() {
            return Err(Error::InvalidArgument);
        }
        pic::unmask(*line);
        Ok(())
    })
}

/// An interrupt on a legacy line: masked until acknowledged, and signalled to the bound
/// notification with its capability's badge, or bit 0 for an unbadged one (as `Signal`
/// does: a signal of no bits would be lost when nobody is waiting). Returns whether that
/// woke a thread that outranks the running one.
pub fn on_irq(line: u8) -> bool {
    with(|t| {
        let Some((ntfn, badge)) = t.irq_bound[line as usize] else { return false };
        pic::mask(line);
        msg::signal_object(t, ntfn, badge.max(1));
        super::table::preempt_pending()
    })
}

/// `IoPortsEnable`: the calling process may use the capability's ports from now on.
pub fn io_ports_enable(r: &mut Regs) -> Result<(), Error> {
    with(|t| {
        let cap = t.caps.lookup(t.slot(r[0])?, Kind::IoPorts, Rights::WRITE)?;
        let Object::IoPorts { first, last, .. } = *t.caps.object(cap.obj) else { unreachable!("kind checked") };
        if u64::from(last) >= IO_PORTS_END {
            return Err(Error::InvalidArgument);
        }
        let bitmap =
            t.current_process().io_bitmap.get_or_insert_with(|| alloc::boxed::Box::new([0xff; gdt::IO_PORTS / 8]));
        for port in first..=last {
            bitmap[port as usize / 8] &= !(1 << (port % 8));
        }
        gdt::set_io_bitmap(Some(bitmap));
        let pid = t.current().pid;
        for tid in t.processes[&pid].threads.clone() {
            t.thread(tid).io = true;
        }
        Ok(())
    })
}

/// `IoPortsDerive`: a capability to part of an IoPorts capability's range, as a new object
/// charged to a Memory capability, with the source's rights.
pub fn io_ports_derive(r: &mut Regs) -> Result<(), Error> {
    let [ioports, first, last, dest, memory, _] = *r;
    with(|t| {
        let cap = t.caps.lookup(t.slot(ioports)?, Kind::IoPorts, Rights::WRITE)?;
        let Object::IoPorts { first: from, last: to, .. } = *t.caps.object(cap.obj) else {
            unreachable!("kind checked")
        };
        if !(u64::from(from) <= first && first <= last && last <= u64::from(to)) {
            return Err(Error::InvalidArgument);
        }
        let mem_cap = t.caps.lookup(t.slot(memory)?, Kind::Memory, Rights::WRITE)?;
        let dest = t.slot(dest)?;
        if t.caps.get(dest).is_ok() {
            return Err(Error::SlotInUse);
        }
        let bytes = Kind::IoPorts.cost(0).expect("IoPorts objects have a cost");
        t.charge(mem_cap.obj, bytes)?;
        t.caps.retain(mem_cap.obj);
        let charge = Some(Charge { memory: mem_cap.obj, bytes });
        let object = Object::IoPorts { first: first as u16, last: last as u16, charge };
        t.caps.create(dest, object, cap.rights).map(drop)
    })
}

/// Makes `init` from the boot archive and gives it every initial capability: all memory,
/// the archive, all I/O ports, every interrupt line (but the cascade).
pub fn start_init(name: &str, args: &str, priority: u8) -> Result<u64, Error> {
    let pid = with(|t| {
        let limit = mem::frame_counts().0 * PAGE_SIZE;
        let boot = t.caps.create_space();
        let root = t.caps.create(At::hidden(boot, 0), Object::Memory { limit, used: 0, parent: None }, Rights::ALL)?;
        let pid = load::create(t, name, root, priority)?;
        let space = t.processes[&pid].cspace;
        t.caps.copy(At::hidden(boot, 0), At::hidden(space, init_slots::MEMORY as u32), Rights::ALL)?;
        let mut freed = Vec::new();
        t.caps.destroy_space(boot, &mut freed);
        debug_assert!(freed.is_empty());
        let at = |slot: u64| At::hidden(space, slot as u32);
        t.caps.create(at(init_slots::ARCHIVE), Object::Archive, Rights::ALL)?;
        t.caps.create(at(init_slots::INTROSPECT), Object::Introspect, Rights::ALL)?;
        let last = (IO_PORTS_END - 1) as u16;
        t.caps.create(at(init_slots::IOPORTS), Object::IoPorts { first: 0, last, charge: None }, Rights::ALL)?;
        for line in (0..IRQ_LINES as u8).filter(|&l| l != 2) {
            t.caps.create(
                at(init_slots::IRQ_FIRST + u64::from(line)),
                Object::Irq { line, bound: None },
                Rights::ALL,
            )?;
        }
        load::start(t, pid, args)?;
        Ok::<_, Error>(pid)
    })?;
    Ok(pid)
}
