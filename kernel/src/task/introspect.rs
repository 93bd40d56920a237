//! Looking at the whole system, for the holder of an Introspect capability (the shell's
//! `ps` and `caps`): every process with its state and the memory it has charged, and the
//! capabilities in any process's slots. Reading only: nothing here changes anything.

use super::table::{with, State};
use ipc::cap::{Kind, Rights};
use ipc::syscall::{ProcessState, RunState, ARG_REGS};
use ipc::Error;

type Regs = [u64; ARG_REGS];

/// Checks that the caller's slot `introspect` holds an Introspect capability with the read
/// right.
pub fn check(introspect: u64) -> Result<(), Error> {
    with(|t| t.caps.lookup(t.slot(introspect)?, Kind::Introspect, Rights::READ).map(drop))
}

/// `ProcessInfo`: the `index`th live process, in process-id order.
pub fn process_info(r: &mut Regs) -> Result<(), Error> {
    let [introspect, index, ..] = *r;
    check(introspect)?;
    with(|t| {
        let i = usize::try_from(index).map_err(|_| Error::NotFound)?;
        let (&pid, p) = t.processes.iter().nth(i).ok_or(Error::NotFound)?;
        // A process is ready if any of its threads is.
        let ready = p.threads.iter().any(|tid| t.threads.get(tid).is_some_and(|th| th.state == State::Ready));
        let state = match (p.status, p.started, p.fault) {
            (Some(_), _, _) => RunState::Ended,
            (None, false, _) => RunState::New,
            (None, true, Some(_)) => RunState::Faulted,
            (None, true, None) if ready => RunState::Ready,
            (None, true, None) => RunState::Blocked,
        };
        let word = ProcessState { state, priority: p.priority }.to_word();
        let [a, b, c] = packed_name(&p.name);
        *r = [pid, p.charged, word, a, b, c];
        Ok(())
    })
}

/// The first 24 bytes of a name (cut at a character), packed in three words.
fn packed_name(name: &str) -> [u64; 3] {
    let mut end = name.len().min(24);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    ipc::proto::pack(&name[..end]).unwrap_or([0; 3])
}

/// `CapRead`: the first capability at or above a slot of another process's space.
pub fn cap_read(r: &mut Regs) -> Result<(), Error> {
    let [introspect, pid, slot, ..] = *r;
    with(|t| {
        t.caps.lookup(t.slot(introspect)?, Kind::Introspect, Rights::READ)?;
        let process = t.processes.get(&pid).filter(|p| p.status.is_none()).ok_or(Error::NotFound)?;
        let from = u32::try_from(slot).unwrap_or(u32::MAX);
        let (at, cap) = t.caps.caps_in(process.cspace).find(|(s, _)| *s >= from).ok_or(Error::NotFound)?;
        [r[0], r[1], r[2], r[3]] = [u64::from(at), cap.kind as u64, cap.rights.bits(), cap.badge];
        Ok(())
    })
}
