//! `compat-echo`: a system program (uid 1000) that hosts `seam.test.IEcho` through the
//! `binder` crate alone, registers it with the ServiceManager as `echo`, and serves it.
//! It keeps the callbacks it is given and counts their deaths.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::rc::Rc;
use alloc::vec::Vec;
use binder::client::{Call, Service, SpIBinder};
use binder::service_manager::DUMP_FLAG_PRIORITY_DEFAULT;
use binder::{Android, Parcel, StatusCode};
use compat_echo::*;
use core::cell::{Cell, RefCell};
use rt::println;

rt::main!(main);

#[derive(Default)]
struct Echo {
    /// The oneway numbers: how many, and whether each was one more than the last.
    recorded: Cell<u32>,
    in_order: Cell<bool>,
    kept: RefCell<Vec<SpIBinder>>,
    deaths: Rc<Cell<u32>>,
}

impl Service for Echo {
    fn descriptor(&self) -> &str {
        DESCRIPTOR
    }

    fn on_transact(&self, call: &Call, code: u32, data: &mut Parcel, reply: &mut Parcel) -> Result<(), StatusCode> {
        data.enforce_interface(DESCRIPTOR)?;
        let process = call.process;
        match code {
            ECHO => {
                let text = data.read_string16()?;
                reply.write_i32(process.calling_uid() as i32);
                reply.write_i32(process.calling_pid() as i32);
                reply.write_string16(text.as_deref());
            }
            CALL_BACK => {
                let callback = process.read_strong_binder(data)?.ok_or(StatusCode::UnexpectedNull)?;
                let text = data.read_string16()?;
                let mut p = process.parcel();
                p.write_interface_token(CALLBACK_DESCRIPTOR);
                p.write_string16(text.as_deref());
                let mut answer = callback.transact(1, &p, 0)?;
                reply.write_string16(answer.read_string16()?.as_deref());
            }
            RECORD => {
                let n = data.read_i32()?;
                let seen = self.recorded.get();
                self.in_order.set(self.in_order.get() && n == seen as i32);
                self.recorded.set(seen + 1);
            }
            RECORDED => {
                reply.write_i32(self.recorded.get() as i32);
                reply.write_bool(self.in_order.get());
            }
            KEEP => {
                let callback = process.read_strong_binder(data)?.ok_or(StatusCode::UnexpectedNull)?;
                let deaths = self.deaths.clone();
                callback.link_to_death(Rc::new(move || deaths.set(deaths.get() + 1)))?;
                self.kept.borrow_mut().push(callback);
            }
            DEATHS => reply.write_i32(self.deaths.get() as i32),
            _ => return Err(StatusCode::UnknownTransaction),
        }
        Ok(())
    }
}

fn main(_: rt::Args) -> u64 {
    let process = match binder::seam::connect(Android::V14) {
        Ok(p) => p,
        Err(e) => {
            println!("compat-echo: cannot connect to compat: {e:?}");
            return 1;
        }
    };
    let echo = Rc::new(Echo { in_order: Cell::new(true), ..Echo::default() });
    let binder = process.add_local(echo);
    if let Err(e) = process.service_manager().add_service(NAME, &binder, false, DUMP_FLAG_PRIORITY_DEFAULT) {
        println!("compat-echo: cannot register '{NAME}': {e:?}");
        return 1;
    }
    println!("compat-echo: serving '{NAME}'");
    let e = process.join_thread_pool();
    println!("compat-echo: compat is gone ({e:?})");
    1
}
