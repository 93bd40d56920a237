//! The settings writer: sets fresh keys and deletes each ten sets later.

use crate::{Outcome, GIVEN, LAG};
use alloc::format;
use alloc::vec::Vec;
use ipc::proto::settings::{SettingsError, Value};
use rt::settings::{self as settings, Failed};
use rt::{ipc, println};

pub fn writer(id: usize, writes: usize) -> u64 {
    let key = |i: usize| format!("load.w{id}.k{i}");
    let (mut sets, mut dels) = (Vec::new(), Vec::new());
    let (mut acked, mut errors, mut unexpected) = (0u64, 0u64, 0u64);
    let mut note = |r: Result<(), Failed>| match r {
        Ok(()) => {
            acked += 1;
            Outcome::Acked(())
        }
        Err(Failed::Kernel(ipc::Error::ObjectGone)) => {
            errors += 1;
            Outcome::Lost
        }
        Err(e) => {
            unexpected += 1;
            println!("writer {id}: unexpected answer: {e}");
            Outcome::Lost
        }
    };
    for i in 0..writes {
        if crate::stopped() {
            break;
        }
        sets.push(note(settings::set(GIVEN, &key(i), Value::Int(i as i64))));
        if i >= LAG {
            let deleted = settings::del(GIVEN, &key(i - LAG));
            // A key whose set died unapplied is rightly not there to delete.
            let gone = Err(Failed::Server(SettingsError::NotFound));
            let deleted = if deleted == gone && sets[i - LAG] == Outcome::Lost { Ok(()) } else { deleted };
            dels.push(note(deleted));
        }
    }
    // Every acknowledged change must be there. Reads go on through the restarts they meet.
    let mut lost = 0;
    for (i, &set) in sets.iter().enumerate() {
        let got = crate::read_through(|| settings::get(GIVEN, &key(i)));
        // What the key holds: its value, nothing, or something it must never hold.
        let present = match &got {
            Ok(settings::Setting::Int(v)) if *v == i as i64 => Some(true),
            Err(Failed::Server(SettingsError::NotFound)) => Some(false),
            _ => None,
        };
        let fine = match (present, set, dels.get(i).copied()) {
            (None, ..) => false,
            // An acknowledged delete: gone.
            (Some(there), _, Some(Outcome::Acked(()))) => !there,
            // A delete whose answer died with the server: it may have happened or not.
            (Some(_), _, Some(Outcome::Lost)) => true,
            // Never deleted: an acknowledged set is there; a set whose answer died, either.
            (Some(there), Outcome::Acked(()), None) => there,
            (Some(_), Outcome::Lost, None) => true,
        };
        if !fine {
            lost += 1;
            if lost <= 3 {
                println!("writer {id}: key {} lost: {got:?}", key(i));
            }
        }
    }
    println!("writer {id}: {acked} changes acknowledged, {errors} clean errors, {unexpected} unexpected, {lost} lost");
    unexpected + lost
}
