//! The compat client of `fire`: a legacy app, written against the `binder` crate alone, that
//! asks compat's `weather` service for a city's conditions again and again. Compat answers
//! it itself or through the native weather server, as its routes say; either may be killed
//! under it, and settings too, which holds the routes.
//!
//! A call refused with `DEAD_OBJECT` is a clean error: compat is gone (the client connects
//! again), or the backend died under the call. One model hour's answers must agree, and
//! anything else is wrong.

use crate::clients::Counts;
use crate::GIVEN;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use binder::client::{Channel, Process, Refused, SpIBinder};
use binder::{Android, StatusCode};
use ipc::proto::Long;
use legacy_aidl::i_weather_service::Proxy;
use rt::{ipc, println, sys};

const CITY: &str = "Bergen";

/// `weather` from compat's ServiceManager, once it is registered; None when compat is gone.
fn find(process: &alloc::rc::Rc<binder::client::Process>) -> Option<SpIBinder> {
    loop {
        match process.service_manager().get_service("weather") {
            Ok(Some(b)) => return Some(b),
            Ok(None) if !crate::stopped() => sys::sleep(1),
            _ => return None,
        }
    }
}

pub fn client(id: usize, calls: usize) -> u64 {
    let mut n = Counts::new();
    let mut seen = BTreeMap::new();
    let mut made = 0;
    let mut connects = 0u64;
    'sessions: while made < calls && !crate::stopped() {
        // A session with compat: ends when compat is gone.
        let Ok(process) = binder::seam::connect_to(GIVEN, Android::V12) else {
            n.errors += 1;
            sys::sleep(1);
            continue;
        };
        connects += 1;
        let Some(weather) = find(&process) else { continue };
        let weather = Proxy(weather);
        while made < calls {
            if crate::stopped() {
                break 'sessions;
            }
            made += 1;
            match weather.get_current(CITY) {
                Ok(c) if c.city != CITY => {
                    n.unexpected += 1;
                    println!("writer {id}: asked for {CITY}, told of {}", c.city);
                }
                Ok(c) => match *seen.entry(c.hour).or_insert_with(|| c.clone()) == c {
                    true => n.answered += 1,
                    false => {
                        n.unexpected += 1;
                        println!("writer {id}: {CITY} at hour {} reads differently", c.hour);
                    }
                },
                Err(Refused::Transport(StatusCode::DeadObject)) => {
                    n.errors += 1;
                    // Compat itself is gone: connect again.
                    if process.poll().is_err() {
                        continue 'sessions;
                    }
                }
                Err(e) => {
                    n.unexpected += 1;
                    println!("writer {id}: unexpected answer from compat: {e:?}");
                }
            }
        }
    }
    leave();
    println!("compat client {id}: connected {connects} times");
    n.report(id, "compat", "answers")
}

/// A channel to compat without a Frame.
struct Bare;

impl Channel for Bare {
    fn call(&mut self, m: &Long) -> Result<Long, ipc::Error> {
        rt::long::call(GIVEN, m)
    }

    fn frame(&mut self) -> Option<&mut [u8]> {
        None
    }
}

/// Lets compat go of this client's Frame. Compat knows a client by its program (the badge of
/// its capability), and learns of its end from init; this client is a process of the
/// program that started it, which lives on, so compat would keep its last session. A new
/// connection without a Frame takes that session's place.
fn leave() {
    let _ = Process::connect(Box::new(Bare), Android::V12);
}
